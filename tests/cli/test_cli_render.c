/* test_cli_render.c — the people's view of result documents against golden files:
 * tests/cli/data/<doc>.json rendered for a command line must equal tests/cli/golden/<case>.txt.
 * Set DROVER_UPDATE_GOLDEN=1 to rewrite the golden files (then review the diff). Also: --json
 * prints the same document, tables are aligned without trailing blanks (sizes: tests/common).
 * A migration as `domain migrate` / `job watch` draw it (cli/jobs.h): the progress bar at a fixed
 * width through a job's life (percent, MiB/s, remaining, ETA, phase, iteration) and the final
 * sentence (result, total time, downtime, migration time, bytes; or why it failed), against
 * golden/job-progress.txt. */
#include "jobs.h"
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
    const char *name; /* golden/<name>.txt */
    const char *line; /* the command line after "drover" */
    const char *data; /* data/<data>.json */
} s_case;

static const s_case s_cases[] = {
    {"host-list", "host list", "host-list"},
    {"host-show", "host show h1", "host-show"},
    {"host-label", "host label h1 rack=r1 zone=a", "host-show"},
    {"domain-list", "domain list --all", "domain-list"},
    {"domain-info", "domain info web1", "domain-info"},
    {"domain-state", "domain state web1", "domain-state"},
    {"domain-state-unknown", "domain state lost", "domain-state-unknown"},
    {"host-show-unknown", "host show h3", "host-show-unknown"},
    {"domain-start", "domain start web1", "domain-start"},
    {"domain-define", "domain define web1.xml", "domain-start"},
    {"domain-destroy", "domain destroy web1", "domain-start"},
    {"domain-rollback", "domain rollback web1 1", "domain-start"},
    {"domain-setmem", "domain setmem web1 1.5G --config", "domain-start"},
    {"domain-autostart", "domain autostart web1", "autostart"},
    {"domain-ha", "domain ha web1 --enable --priority 5 --restart-limit 3", "domain-info"},
    {"domain-dumpxml", "domain dumpxml web1", "domain-dumpxml"},
    {"domain-history", "domain history web1", "domain-history"},
    {"snapshot-create", "snapshot create web1", "snapshot-create"},
    {"snapshot-list", "snapshot list web1", "snapshot-list"},
    {"snapshot-revert", "snapshot revert web1 before-upgrade", "snapshot-create"},
    {"cpu-baseline", "cluster cpu-baseline", "cpu-baseline"},
    {"cpu-baseline-xml", "cluster cpu-baseline --xml", "cpu-baseline"},
    {"cluster-status", "cluster status", "cluster-status"},
    {"capacity", "capacity --vcpus 2 --memory 4G --flags avx2 --n-plus-one", "capacity"},
    {"drain-plan", "host drain-plan h1 --n-plus-one", "drain-plan"},
    {"host-stats", "host stats h1", "host-stats"},
    {"domain-stats", "domain stats web1", "domain-stats"},
    {"domain-stats-unknown", "domain stats lost", "domain-stats-unknown"},
    {"balance-plan", "cluster balance --dry-run --objective cpu", "balance-plan"},
    {"top", "top --once", "cluster-stats"},
    /* issue 17: under --n-plus-one the real filters come first (the reason of
     * tests/scheduler/scenarios/16_drain_n_plus_one_reasons.json) */
    {"drain-plan-n1", "host drain-plan h1 --n-plus-one", "drain-plan-n1"},
    {"job-show", "job show mig-a00686cb", "job-succeeded"},
    {"job-show-running", "job show m-0001", "job-running"},
    {"job-list", "job list", "job-list"},
    {"job-cancel", "job cancel m-0001", "job-running"},
};

static char *s_path(const char *dir, const char *name, const char *ext)
{
    g_autofree char *file = g_strdup_printf("%s.%s", name, ext);
    return g_build_filename(g_getenv("DROVER_SOURCE_DIR"), "tests", "cli", dir, file, NULL);
}

static drv_cli_invocation *s_parse(const char *line)
{
    g_autofree char *full = g_strdup_printf("drover %s", line);
    char **argv = g_strsplit(full, " ", -1);
    drv_cli_invocation *inv = NULL;
    drv_error *e = NULL;
    if (drv_cli_invocation_parse((int)g_strv_length(argv), argv, &inv, &e) < 0)
        fail_msg("'%s' refused: %s", line, e->message);
    g_strfreev(argv);
    return inv;
}

static char *s_read(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    return text;
}

/* Compares out with the golden file, or rewrites it when asked. */
static void s_check_golden(const char *name, const char *out)
{
    g_autofree char *golden = s_path("golden", name, "txt");
    if (g_getenv("DROVER_UPDATE_GOLDEN") != NULL) {
        assert_true(g_file_set_contents(golden, out, -1, NULL));
        return;
    }
    g_autofree char *want = s_read(golden);
    if (strcmp(want, out) != 0)
        fail_msg("%s differs from %s:\n--- got ---\n%s--- want ---\n%s", name, golden, out, want);
}

static void test_golden(void **state)
{
    (void)state;
    assert_non_null(g_getenv("DROVER_SOURCE_DIR"));
    for (size_t i = 0; i < G_N_ELEMENTS(s_cases); i++) {
        const s_case *c = &s_cases[i];
        drv_cli_invocation *inv = s_parse(c->line);
        g_autofree char *data_path = s_path("data", c->data, "json");
        g_autofree char *data = s_read(data_path);
        GString *out = g_string_new(NULL);
        drv_cli_render_result(inv, data, out);
        /* no line ends in a blank */
        assert_null(strstr(out->str, " \n"));
        s_check_golden(c->name, out->str);
        g_string_free(out, TRUE);

        /* --json: the same document, pretty */
        inv->json = true;
        out = g_string_new(NULL);
        drv_cli_render_result(inv, data, out);
        json_object *a = json_tokener_parse(out->str), *b = json_tokener_parse(data);
        assert_non_null(a);
        assert_true(json_object_equal(a, b));
        assert_non_null(strchr(out->str, '\n'));
        json_object_put(a);
        json_object_put(b);
        g_string_free(out, TRUE);
        drv_cli_invocation_destroy(&inv);
    }
}

static void test_events(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    const char *docs[] = {"event-domain", "event-host"};
    const char *topics[] = {"domain.web1", "host.h2"};
    for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autofree char *path = s_path("data", docs[i], "json");
        g_autofree char *text = s_read(path);
        json_object *doc = json_tokener_parse(text);
        drv_cli_render_event(topics[i], doc, 1700000000123ull + i, out);
        json_object_put(doc);
    }
    s_check_golden("events", out->str);
    g_string_free(out, TRUE);
}

static void test_empty_and_odd_documents(void **state)
{
    (void)state;
    drv_cli_invocation *inv = s_parse("domain list");
    GString *out = g_string_new(NULL);
    drv_cli_render_result(inv, "{\"domains\":[]}", out);
    assert_string_equal(out->str, "NAME  STATE  HOST  VCPUS  MEMORY  DESIRED  HA\n");
    g_string_truncate(out, 0);
    drv_cli_render_result(inv, "this is not json", out); /* shown as it came */
    assert_string_equal(out->str, "this is not json\n");
    g_string_truncate(out, 0);
    inv->json = true;
    drv_cli_render_result(inv, "", out);
    assert_string_equal(out->str, "{}\n");
    g_string_free(out, TRUE);
    drv_cli_invocation_destroy(&inv);

    /* a message whose document lacks the name falls back on the argument */
    inv = s_parse("domain destroy web7");
    out = g_string_new(NULL);
    drv_cli_render_result(inv, "{}", out);
    assert_string_equal(out->str, "Domain 'web7' destroyed\n");
    g_string_free(out, TRUE);
    drv_cli_invocation_destroy(&inv);
}

static void test_table(void **state)
{
    (void)state;
    const char *h[] = {"A", "LONG HEADER", "C"};
    drv_cli_table *t = drv_cli_table_new(h, 3);
    const char *r1[] = {"wide value", NULL, "x"};
    const char *r2[] = {"é", "2", ""};
    drv_cli_table_add(t, r1);
    drv_cli_table_add(t, r2);
    GString *out = g_string_new(NULL);
    drv_cli_table_render(t, out);
    assert_string_equal(out->str, "A           LONG HEADER  C\n"
                                  "wide value  -            x\n"
                                  "é           2\n");
    g_string_free(out, TRUE);
    drv_cli_table_destroy(&t);
    assert_null(t);
}

/* Sets key in the object at path (dot-separated, "" = the document itself). */
static void s_set(json_object *doc, const char *path, const char *key, json_object *value)
{
    json_object *o = doc;
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);
    for (size_t i = 0; *path != '\0' && parts[i] != NULL; i++)
        assert_true(json_object_object_get_ex(o, parts[i], &o));
    json_object_object_add(o, key, value);
}

static void s_set_u64(json_object *doc, const char *path, const char *key, uint64_t v)
{
    s_set(doc, path, key, json_object_new_int64((int64_t)v));
}

static json_object *s_job_doc(const char *name)
{
    g_autofree char *path = s_path("data", name, "json");
    g_autofree char *text = s_read(path);
    json_object *doc = json_tokener_parse(text);
    assert_non_null(doc);
    return doc;
}

/* "label: " + one progress line at bar width 30, then the same without a bar. */
static void s_progress(GString *out, const char *label, json_object *job)
{
    g_string_append_printf(out, "%s\n", label);
    drv_cli_render_job_progress(job, 30, out);
    g_string_append_c(out, '\n');
    drv_cli_render_job_progress(job, 0, out);
    g_string_append_c(out, '\n');
}

static void test_job_progress_and_outcome(void **state)
{
    (void)state;
    const uint64_t mib = 1024 * 1024;
    GString *out = g_string_new(NULL);
    json_object *job = s_job_doc("job-running");

    /* before the data moves: the phase only, an empty bar */
    s_set(job, "migrate", "phase", json_object_new_string("verifying-storage"));
    s_progress(out, "verifying storage", job);
    /* migrating, libvirt has not counted the data yet */
    s_set(job, "migrate", "phase", json_object_new_string("migrating"));
    s_set_u64(job, "migrate.progress", "data_total", 0);
    s_progress(out, "migrating, no statistics yet", job);
    /* the first pass: nothing sent, no rate measured yet (no ETA) */
    s_set_u64(job, "migrate.progress", "data_total", 128 * mib);
    s_set_u64(job, "migrate.progress", "data_remaining", 128 * mib);
    s_set_u64(job, "migrate.progress", "memory_bps", 0);
    s_set_u64(job, "migrate.progress", "iteration", 1);
    s_progress(out, "started", job);
    /* 75 % at 50 MiB/s: 32 MiB left, 640 ms */
    s_set_u64(job, "migrate.progress", "data_remaining", 32 * mib);
    s_set_u64(job, "migrate.progress", "memory_bps", 50 * mib);
    s_set_u64(job, "migrate.progress", "iteration", 2);
    s_progress(out, "three quarters", job);
    /* a big guest: 1 of 4 GiB sent at 61.3 MiB/s, 3 GiB left, 50.1 s */
    s_set_u64(job, "migrate.progress", "data_total", 4096 * mib);
    s_set_u64(job, "migrate.progress", "data_remaining", 3072 * mib);
    s_set_u64(job, "migrate.progress", "memory_bps", 64277709); /* 61.3 MiB/s */
    s_set_u64(job, "migrate.progress", "iteration", 1);
    s_progress(out, "a big guest", job);
    /* dirtied pages: remaining grew past the total counted so far (never a negative percent) */
    s_set_u64(job, "migrate.progress", "data_remaining", 5000 * mib);
    s_progress(out, "remaining above the total", job);
    /* the last pages: 1 KiB left, the bar full */
    s_set_u64(job, "migrate.progress", "data_remaining", 1536);
    s_set_u64(job, "migrate.progress", "iteration", 7);
    s_progress(out, "almost done", job);
    s_set_u64(job, "migrate.progress", "data_remaining", 0);
    s_progress(out, "all sent", job);
    /* cancelling: the bar stays drawn */
    s_set(job, "migrate", "phase", json_object_new_string("cancelling"));
    s_set_u64(job, "migrate.progress", "data_remaining", 2048 * mib);
    s_progress(out, "cancelling", job);
    json_object_put(job);

    /* the final sentences */
    g_string_append(out, "outcomes\n");
    job = s_job_doc("job-succeeded"); /* 2.3 s, downtime 117 ms, migration 647 ms, 161.9 MiB */
    drv_cli_render_job_outcome(job, out);
    s_set_u64(job, "", "updated_ms", 1700000000850); /* under a second */
    s_set_u64(job, "migrate.result", "downtime_ms", 1250);
    s_set_u64(job, "migrate.result", "time_ms", 12500);
    s_set_u64(job, "migrate.result", "bytes", 3ull * 1024 * mib);
    s_set(job, "migrate.policy", "postcopy", json_object_new_boolean(true));
    s_set(job, "migrate.result", "postcopy_used", json_object_new_boolean(true));
    drv_cli_render_job_outcome(job, out);
    drv_cli_render_job(job, out); /* job show of it: the sheet says post-copy was used */
    s_set(job, "", "state", json_object_new_string("failed"));
    s_set(job, "", "error",
          json_object_new_string("migration failed: domain 'vm1': migration to "
                                 "'qemu+tcp://10.77.7.2/system' aborted after the 3 s timeout: "
                                 "operation aborted: migration out job: canceled by client"));
    s_set_u64(job, "", "updated_ms", 1700000004200);
    drv_cli_render_job_outcome(job, out);
    s_set(job, "", "state", json_object_new_string("cancelled"));
    json_object_object_del(job, "error");
    drv_cli_render_job_outcome(job, out);
    json_object_put(job);

    assert_null(strstr(out->str, " \n"));
    s_check_golden("job-progress", out->str);
    g_string_free(out, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_empty_and_odd_documents),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_job_progress_and_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
