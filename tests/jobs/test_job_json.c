/* test_job_json.c — the etcd job document: golden round trips (file → job → text == file, with the
 * fields checked), strict refusal of garbled documents with a message naming the cause, and random
 * byte mutations of the golden files that must never crash (ASan) and, when accepted, round-trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "job.h"

static const char *const s_goldens[] = {"migrate-running.json",
                                        "migrate-failed.json",
                                        "drain-running.json",
                                        "restore-pending.json",
                                        "start-running.json",
                                        "undefine-failed.json",
                                        "migrate-succeeded-predicted.json",
                                        "balance-failed.json"};

static char *s_read_golden(const char *name)
{
    g_autofree char *path = g_build_filename(GOLDEN_DIR, name, NULL);
    char *text = NULL;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, NULL, &gerr))
        fail_msg("cannot read %s: %s", path, gerr->message);
    return text;
}

static drv_job *s_parse_ok(const char *text)
{
    drv_job *job = NULL;
    drv_error *err = NULL;
    if (drv_job_from_json_string(text, -1, &job, &err) < 0)
        fail_msg("parse failed: %s", err->message);
    return job;
}

static void test_golden_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(s_goldens); i++) {
        g_autofree char *text = s_read_golden(s_goldens[i]);
        drv_job *job = s_parse_ok(text);
        g_autofree char *out = drv_job_to_json_string(job);
        if (strcmp(text, out) != 0)
            fail_msg("%s does not round-trip; got:\n%s", s_goldens[i], out);
        drv_job *copy = drv_job_copy(job);
        g_autofree char *out2 = drv_job_to_json_string(copy);
        assert_string_equal(text, out2);
        drv_job_destroy(&copy);
        drv_job_destroy(&job);
        assert_null(job);
    }
}

static void test_golden_fields_migrate(void **state)
{
    (void)state;
    g_autofree char *text = s_read_golden("migrate-running.json");
    drv_job *job = s_parse_ok(text);
    assert_string_equal(job->id, "m-0001");
    assert_int_equal(job->kind, DRV_JOB_KIND_MIGRATE);
    assert_int_equal(job->state, DRV_JOB_RUNNING);
    assert_int_equal(job->created_ms, 1700000000000ULL);
    assert_int_equal(job->updated_ms, 1700000004500ULL);
    assert_string_equal(job->owner, "ctl-a");
    assert_false(job->cancel_requested);
    assert_null(job->error);
    const drv_job_migrate *m = &job->migrate;
    assert_string_equal(m->domain, "vm1");
    assert_string_equal(m->source, "h1");
    assert_string_equal(m->destination, "h2");
    assert_string_equal(m->reservation_id, "m-0001");
    assert_int_equal(m->policy.max_downtime_ms, 300);
    assert_int_equal(m->policy.bandwidth_mibs, 512);
    assert_true(m->policy.auto_converge);
    assert_false(m->policy.postcopy);
    assert_int_equal(m->policy.timeout_s, 600);
    assert_int_equal(m->phase, DRV_JOB_PHASE_MIGRATING);
    assert_int_equal(m->phase_ms, 1700000001000ULL);
    assert_true(m->reserved);
    assert_int_equal(m->progress.data_total, 134217728);
    assert_int_equal(m->progress.data_processed, 100663296);
    assert_int_equal(m->progress.data_remaining, 33554432);
    assert_int_equal(m->progress.memory_bps, 52428800);
    assert_int_equal(m->progress.iteration, 2);
    assert_int_equal(m->progress.elapsed_ms, 3500);
    assert_int_equal(job->drain.n_entries, 0);
    drv_job_destroy(&job);

    text = (g_free(text), s_read_golden("migrate-failed.json"));
    job = s_parse_ok(text);
    assert_int_equal(job->state, DRV_JOB_FAILED);
    assert_null(job->owner);
    assert_true(job->cancel_requested);
    assert_string_equal(job->error,
                        "migration failed: operation failed: domain is not running \"vm/2\"");
    assert_string_equal(job->migrate.domain, "vm/2");
    assert_true(job->migrate.policy.postcopy);
    assert_int_equal(job->migrate.phase, DRV_JOB_PHASE_DONE);
    drv_job_destroy(&job);
}

static void test_golden_fields_drain(void **state)
{
    (void)state;
    g_autofree char *text = s_read_golden("drain-running.json");
    drv_job *job = s_parse_ok(text);
    assert_int_equal(job->kind, DRV_JOB_KIND_DRAIN);
    const drv_job_drain *d = &job->drain;
    assert_string_equal(d->host, "h1");
    assert_null(d->restore_of);
    assert_int_equal(d->opts.max_parallel, 8);
    assert_int_equal(d->opts.per_source, 2);
    assert_int_equal(d->opts.per_dest, 2);
    assert_int_equal(d->opts.on_unmovable, DRV_JOB_UNMOVABLE_LEAVE);
    assert_true(d->opts.n_plus_one);
    assert_int_equal(d->n_entries, 4);
    const drv_job_entry *big = drv_job_find_entry(job, "big");
    assert_ptr_equal(big, &d->entries[0]);
    assert_string_equal(big->planned, "h2");
    assert_int_equal(g_strv_length(big->alternates), 2);
    assert_string_equal(big->alternates[0], "h3");
    assert_string_equal(big->alternates[1], "h4");
    assert_int_equal(big->state, DRV_JOB_ENTRY_DONE);
    assert_int_equal(big->progress.iteration, 3);
    const drv_job_entry *mid = drv_job_find_entry(job, "mid");
    assert_int_equal(mid->attempts, 2);
    assert_string_equal(mid->destination, "h2");
    assert_int_equal(mid->state, DRV_JOB_ENTRY_MIGRATING);
    assert_string_equal(mid->error, "attempt 1 to h3: migration failed: connection refused");
    const drv_job_entry *small = drv_job_find_entry(job, "small");
    assert_null(small->destination);
    assert_non_null(small->alternates);
    assert_null(small->alternates[0]);
    const drv_job_entry *pinned = drv_job_find_entry(job, "pinned");
    assert_null(pinned->planned);
    assert_int_equal(pinned->state, DRV_JOB_ENTRY_SKIPPED);
    assert_null(drv_job_find_entry(job, "nope"));
    drv_job_destroy(&job);

    text = (g_free(text), s_read_golden("restore-pending.json"));
    job = s_parse_ok(text);
    assert_int_equal(job->kind, DRV_JOB_KIND_RESTORE);
    assert_string_equal(job->drain.restore_of, "d-0001");
    assert_int_equal(job->drain.opts.per_source, 1);
    assert_int_equal(job->drain.opts.on_unmovable, DRV_JOB_UNMOVABLE_REFUSE);
    drv_job_destroy(&job);
}

static char *s_edit(const char *text, const char *from, const char *to);

static void test_golden_fields_lifecycle(void **state)
{
    (void)state;
    g_autofree char *text = s_read_golden("start-running.json");
    drv_job *job = s_parse_ok(text);
    assert_int_equal(job->kind, DRV_JOB_KIND_START);
    assert_int_equal(job->state, DRV_JOB_RUNNING);
    const drv_job_lifecycle *l = &job->lifecycle;
    assert_string_equal(l->domain, "vm1");
    assert_string_equal(l->host, "h2");
    assert_string_equal(l->old_host, "h1");
    assert_int_equal(l->desired_before, DRV_JOB_DESIRED_SHUTOFF);
    assert_int_equal(l->step, DRV_JOB_STEP_STARTING);
    assert_int_equal(l->step_ms, 1700000002000ULL);
    assert_int_equal(l->commands, 2);
    assert_null(job->migrate.domain);
    drv_job_destroy(&job);
    text = (g_free(text), s_read_golden("undefine-failed.json"));
    job = s_parse_ok(text);
    assert_int_equal(job->kind, DRV_JOB_KIND_UNDEFINE);
    assert_int_equal(job->state, DRV_JOB_FAILED);
    assert_null(job->lifecycle.old_host);
    assert_string_equal(job->lifecycle.domain, "vm/2");
    assert_int_equal(job->lifecycle.step, DRV_JOB_STEP_DONE);
    drv_job_destroy(&job);
    for (int i = 0; i < DRV_JOB_STEP_LAST; i++) {
        drv_job_step st;
        assert_int_equal(drv_job_step_from_string(drv_job_step_to_string(i), &st), 0);
        assert_int_equal(st, i);
    }
    for (int i = 0; i < DRV_JOB_DESIRED_LAST; i++) {
        drv_job_desired d;
        assert_int_equal(drv_job_desired_from_string(drv_job_desired_to_string(i), &d), 0);
        assert_int_equal(d, i);
    }
}

/* result.postcopy_used (the agent switched to post-copy) is written only when true, so documents
 * of migrations without it stay as they were; when present it round-trips and must be a bool. */
static void test_postcopy_used(void **state)
{
    (void)state;
    g_autofree char *text = s_read_golden("migrate-running.json");
    drv_job *job = s_parse_ok(text);
    assert_false(job->migrate.result.postcopy_used);
    g_autofree char *plain = drv_job_to_json_string(job);
    assert_null(strstr(plain, "postcopy_used"));
    job->migrate.result.postcopy_used = true;
    g_autofree char *with = drv_job_to_json_string(job);
    drv_job_destroy(&job);
    g_autofree char *want =
        s_edit(text, "\"bytes\":0\n", "\"bytes\":0,\n      \"postcopy_used\":true\n");
    assert_string_equal(with, want);
    job = s_parse_ok(with);
    assert_true(job->migrate.result.postcopy_used);
    drv_job *copy = drv_job_copy(job);
    assert_true(copy->migrate.result.postcopy_used);
    drv_job_destroy(&copy);
    drv_job_destroy(&job);
    g_autofree char *bad = s_edit(with, "\"postcopy_used\":true", "\"postcopy_used\":1");
    drv_error *err = NULL;
    assert_int_equal(drv_job_from_json_string(bad, -1, &job, &err), -1);
    assert_non_null(strstr(err->message, "result: \"postcopy_used\" must be true or false"));
    drv_error_destroy(&err);
}

/* The run time the API shows: now − created while the job runs (a drain running for 12 minutes is
 * not "2 ms" because nothing was persisted meanwhile), updated − created once it ended. */
static void test_elapsed(void **state)
{
    (void)state;
    g_autofree char *text = s_read_golden("migrate-running.json");
    drv_job *job = s_parse_ok(text);
    job->created_ms = 1000000;
    job->updated_ms = 1000002; /* last persisted 2 ms after it was created */
    uint64_t now = 1000000 + 12 * 60 * 1000;
    assert_false(drv_job_state_is_terminal(job->state));
    assert_int_equal(drv_job_elapsed_ms(job, now), 12 * 60 * 1000);
    json_object *o = drv_job_to_api_json(job, now);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "elapsed_ms", &v));
    assert_int_equal(json_object_get_int64(v), 12 * 60 * 1000);
    json_object_put(o);
    assert_int_equal(drv_job_elapsed_ms(job, 999999), 0); /* a clock behind: never negative */
    job->state = DRV_JOB_SUCCEEDED;
    job->updated_ms = 1000000 + 5000;
    assert_int_equal(drv_job_elapsed_ms(job, now), 5000);
    drv_job_destroy(&job);
}

/* Replaces the first occurrence of from (which must occur) with to. */
static char *s_edit(const char *text, const char *from, const char *to)
{
    char **parts = g_strsplit(text, from, 2); /* split at the first occurrence only */
    if (parts[0] == NULL || parts[1] == NULL)
        fail_msg("golden text lacks %s", from);
    char *out = g_strconcat(parts[0], to, parts[1], NULL);
    g_strfreev(parts);
    return out;
}

typedef struct {
    const char *golden, *from, *to; /* from NULL: to is the whole document */
    const char *expect;             /* substring of the error message */
} bad_doc;

static void test_garbled_documents(void **state)
{
    (void)state;
    static const bad_doc cases[] = {
        {NULL, NULL, "", "not valid JSON"},
        {NULL, NULL, "[1,2]", "must be a JSON object"},
        {NULL, NULL, "{\"version\":1,\"id\":\"x\"", "truncated"},
        {NULL, NULL, "null", "must be a JSON object"},
        {"migrate-running.json", "\n}\n", "\n}\n}", "trailing data"},
        {"migrate-running.json", "\"id\":\"m-0001\",", "", "missing \"id\""},
        {"migrate-running.json", "\"id\":\"m-0001\"", "\"id\":\"\"", "non-empty"},
        {"migrate-running.json", "\"version\":1", "\"version\":2", "unsupported version 2"},
        {"migrate-running.json", "\"version\":1,", "", "unsupported version 0"},
        {"migrate-running.json", "\"migrate\":{", "\"teleport\":{", "unknown key \"teleport\""},
        {"migrate-running.json", "\"kind\":\"migrate\"", "\"kind\":\"teleport\"",
         "unknown kind \"teleport\""},
        {"migrate-running.json", "\"state\":\"running\"", "\"state\":\"done\"",
         "unknown state \"done\""},
        {"migrate-running.json", "\"phase\":\"migrating\"", "\"phase\":\"done\"",
         "does not go with phase done"},
        {"migrate-running.json", "\"created_ms\":1700000000000", "\"created_ms\":-5",
         "\"created_ms\" must not be negative"},
        {"migrate-running.json", "\"created_ms\":1700000000000", "\"created_ms\":1.5",
         "\"created_ms\" must be an integer"},
        {"migrate-running.json", "\"created_ms\":1700000000000", "\"created_ms\":1800000000000",
         "updated_ms before created_ms"},
        {"migrate-running.json", "\"timeout_s\":600", "\"timeout_s\":4294967296",
         "\"timeout_s\" is too large"},
        {"migrate-running.json", "\"auto_converge\":true", "\"auto_converge\":\"yes\"",
         "must be true or false"},
        {"migrate-running.json", "\"destination\":\"h2\"", "\"destination\":\"h1\"",
         "same host (h1)"},
        {"migrate-running.json", "\"source\":\"h1\",", "", "missing \"source\""},
        {"migrate-running.json", "\"source\":\"h1\"", "\"source\":7", "must be a string"},
        {"migrate-running.json", "\"policy\":{", "\"policy\":{\"colour\":1,",
         "policy: unknown key \"colour\""},
        {"migrate-running.json",
         "\"result\":{\n      \"downtime_ms\":0,\n      \"time_ms\":0,\n      \"bytes\":0\n    }",
         "\"result\":[]", "\"result\" must be an object"},
        {"migrate-running.json", "\"kind\":\"migrate\"", "\"kind\":\"drain\"",
         "a drain job has no \"migrate\""},
        {"migrate-failed.json", "\"reserved\":false", "\"reserved\":true",
         "still holds reservation m-0002"},
        {"drain-running.json", "\"max_parallel\":8", "\"max_parallel\":0", "must be at least 1"},
        {"drain-running.json", "\"on_unmovable\":\"leave\"", "\"on_unmovable\":\"ignore\"",
         "unknown on_unmovable \"ignore\""},
        {"drain-running.json", "\"domain\":\"mid\"", "\"domain\":\"big\"",
         "domain big listed twice"},
        {"drain-running.json", "\"state\":\"planned\"", "\"state\":\"moving\"",
         "unknown state \"moving\""},
        {"drain-running.json", "\"state\":\"planned\"", "\"state\":\"migrating\"",
         "entry small: state migrating needs a destination"},
        {"drain-running.json", "\"state\":\"skipped\"", "\"state\":\"planned\"",
         "entry pinned: no planned destination"},
        {"drain-running.json", "\"h3\",", "3,", "alternates[0] must be a non-empty string"},
        {"drain-running.json", "\"attempts\":2", "\"attempts\":\"2\"",
         "\"attempts\" must be an integer"},
        {NULL, NULL,
         "{\"version\":1,\"id\":\"d\",\"kind\":\"drain\",\"state\":\"pending\",\"drain\":{"
         "\"host\":\"h1\",\"options\":{\"on_unmovable\":\"refuse\"},\"entries\":{}}}",
         "\"entries\" must be an array"},
        {NULL, NULL,
         "{\"version\":1,\"id\":\"d\",\"kind\":\"drain\",\"state\":\"pending\",\"drain\":{"
         "\"host\":\"h1\",\"options\":{\"on_unmovable\":\"refuse\"},\"entries\":[]}}",
         "must be at least 1"},
        {NULL, NULL, "{\"version\":1,\"id\":\"d\",\"kind\":\"drain\",\"state\":\"pending\"}",
         "missing \"drain\""},
        {"drain-running.json", "\"state\":\"running\"", "\"state\":\"succeeded\"",
         "entry mid is migrating but the job is succeeded"},
        {"drain-running.json", "\"host\":\"h1\",", "", "missing \"host\""},
        {"drain-running.json", "\"host\":\"h1\",", "\"host\":\"h1\",\"restore_of\":\"d-0\",",
         "restore_of is required for a restore and only for it"},
        {"restore-pending.json", "\"restore_of\":\"d-0001\",", "",
         "restore_of is required for a restore"},
        {"restore-pending.json", "\"domain\":\"big\",", "", "entry 0: missing \"domain\""},
        {"start-running.json", "\"step\":\"starting\"", "\"step\":\"flying\"",
         "unknown step \"flying\""},
        {"start-running.json", "\"step\":\"starting\"", "\"step\":\"done\"",
         "does not go with step done"},
        {"start-running.json", "\"step\":\"starting\"", "\"step\":\"forgetting\"",
         "a start job cannot be in step forgetting"},
        {"start-running.json", "\"host\":\"h2\",", "", "start needs a host"},
        {"start-running.json", "\"old_host\":\"h1\"", "\"old_host\":\"h2\"",
         "old_host and host are the same host (h2)"},
        {"start-running.json", "\"desired_before\":\"shutoff\"", "\"desired_before\":\"off\"",
         "unknown desired_before \"off\""},
        {"start-running.json", "\"commands\":2", "\"commands\":-2",
         "\"commands\" must not be negative"},
        {"start-running.json", "\"lifecycle\":{", "\"migrate\":{},\"lifecycle\":{",
         "a start job has no \"migrate\""},
        {"start-running.json", "\"domain\":\"vm1\",", "\"domain\":\"vm1\",\"colour\":1,",
         "lifecycle: unknown key \"colour\""},
        {"undefine-failed.json", "\"host\":\"h3\",", "\"host\":\"h3\",\"old_host\":\"h1\",",
         "old_host is for a start job only"},
        {"undefine-failed.json", "\"kind\":\"undefine\"", "\"kind\":\"migrate\"",
         "a migrate job has no \"lifecycle\""},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const bad_doc *c = &cases[i];
        g_autofree char *golden = c->golden ? s_read_golden(c->golden) : NULL;
        g_autofree char *doc = c->from ? s_edit(golden, c->from, c->to) : g_strdup(c->to);
        drv_job *job = NULL;
        drv_error *err = NULL;
        if (drv_job_from_json_string(doc, -1, &job, &err) == 0)
            fail_msg("case %zu accepted (expected \"%s\")", i, c->expect);
        assert_null(job);
        assert_non_null(err);
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        if (!strstr(err->message, c->expect))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err->message, c->expect);
        drv_error_destroy(&err);
    }
    /* an explicit length stops before the trailing garbage */
    g_autofree char *golden = s_read_golden("restore-pending.json");
    g_autofree char *doc = g_strconcat(golden, "garbage", NULL);
    drv_job *job = NULL;
    assert_int_equal(drv_job_from_json_string(doc, (ssize_t)strlen(golden), &job, NULL), 0);
    drv_job_destroy(&job);
    assert_int_equal(drv_job_from_json_string(NULL, -1, &job, NULL), -1);
}

/* Random mutations of the goldens: never a crash; an accepted document round-trips. */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\",:0123456789-.etrufalsn \\xyz";
    unsigned accepted = 0, refused = 0;
    for (unsigned seed = 1; seed <= 4000; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        g_autofree char *golden = s_read_golden(s_goldens[seed % G_N_ELEMENTS(s_goldens)]);
        GString *s = g_string_new(golden);
        int n = g_rand_int_range(r, 1, 4);
        for (int k = 0; k < n; k++) {
            gint32 at = g_rand_int_range(r, 0, (gint32)s->len);
            switch (g_rand_int_range(r, 0, 4)) {
            case 0:
                s->str[at] = alphabet[g_rand_int_range(r, 0, sizeof(alphabet) - 1)];
                break;
            case 1: {
                gssize cut = g_rand_int_range(r, 1, 12);
                g_string_erase(s, at, MIN(cut, (gssize)s->len - at));
                break;
            }
            case 2:
                g_string_truncate(s, (gsize)at);
                break;
            default:
                g_string_insert_c(s, at, alphabet[g_rand_int_range(r, 0, sizeof(alphabet) - 1)]);
                break;
            }
            if (s->len == 0)
                break;
        }
        drv_job *job = NULL;
        drv_error *err = NULL;
        if (drv_job_from_json_string(s->str, (ssize_t)s->len, &job, &err) == 0) {
            accepted++;
            g_autofree char *out = drv_job_to_json_string(job);
            drv_job *again = s_parse_ok(out);
            g_autofree char *out2 = drv_job_to_json_string(again);
            assert_string_equal(out, out2);
            drv_job_destroy(&again);
            drv_job_destroy(&job);
        } else {
            refused++;
            assert_non_null(err);
            assert_true(strlen(err->message) > 5);
            drv_error_destroy(&err);
        }
        g_string_free(s, TRUE);
        g_rand_free(r);
    }
    assert_true(refused > 0);
    assert_true(accepted > 0); /* e.g. a changed digit in a counter */
}

static void test_enum_tables(void **state)
{
    (void)state;
    for (int i = 0; i < DRV_JOB_STATE_LAST; i++) {
        drv_job_state s;
        assert_int_equal(drv_job_state_from_string(drv_job_state_to_string(i), &s), 0);
        assert_int_equal(s, i);
    }
    for (int i = 0; i < DRV_JOB_PHASE_LAST; i++) {
        drv_job_phase p;
        assert_int_equal(drv_job_phase_from_string(drv_job_phase_to_string(i), &p), 0);
        assert_int_equal(p, i);
    }
    for (int i = 0; i < DRV_JOB_ENTRY_STATE_LAST; i++) {
        drv_job_entry_state e;
        assert_int_equal(drv_job_entry_state_from_string(drv_job_entry_state_to_string(i), &e), 0);
        assert_int_equal(e, i);
    }
    assert_null(drv_job_kind_to_string(DRV_JOB_KIND_LAST));
    assert_null(drv_job_state_to_string((drv_job_state)-1));
    drv_job_kind k = DRV_JOB_KIND_RESTORE;
    assert_int_equal(drv_job_kind_from_string("Migrate", &k), -1);
    assert_int_equal(k, DRV_JOB_KIND_RESTORE);
    assert_int_equal(drv_job_kind_from_string(NULL, &k), -1);
    assert_true(drv_job_state_is_terminal(DRV_JOB_CANCELLED));
    assert_false(drv_job_state_is_terminal(DRV_JOB_RUNNING));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_round_trip),
        cmocka_unit_test(test_elapsed),
        cmocka_unit_test(test_golden_fields_migrate),
        cmocka_unit_test(test_golden_fields_drain),
        cmocka_unit_test(test_garbled_documents),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_enum_tables),
        cmocka_unit_test(test_postcopy_used),
        cmocka_unit_test(test_golden_fields_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
