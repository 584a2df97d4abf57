/* test_job_balance.c — the balance job (issue 16): built from the rebalancer's plan (one entry per
 * move, each from its own origin, no host of its own, no alternates), driven by the drain executor
 * under the same caps; no host state ever touched; each move re-checked just before its launch
 * (move_refused: the entry fails with the reason, nothing is launched), destinations that became
 * unusable or not authoritative never launched to; cancel; resume after a controller restart
 * (LOCATE per entry in flight, no host state); the stored document round-trips; a balance with a
 * host or a drain without one is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "job_drain.h"

#define T0 1700000000000ULL

typedef struct {
    const char *domain, *source, *dest;
} move_spec;

static drv_sched_balance_plan *s_plan(const move_spec *specs, size_t n)
{
    drv_sched_balance_plan *p = g_new0(drv_sched_balance_plan, 1);
    p->moves = g_new0(drv_sched_balance_move, n ? n : 1);
    p->n_moves = n;
    for (size_t i = 0; i < n; i++) {
        p->moves[i].domain = g_strdup(specs[i].domain);
        p->moves[i].source = g_strdup(specs[i].source);
        p->moves[i].dest = g_strdup(specs[i].dest);
    }
    p->refused = g_new0(char *, 1);
    p->summary = g_strdup(n ? "some moves" : "nothing worth moving: score 0.000");
    return p;
}

static drv_job *s_make(const move_spec *specs, size_t n, const drv_job_drain_opts *opts)
{
    drv_sched_balance_plan *p = s_plan(specs, n);
    drv_job *job = NULL;
    drv_error *err = NULL;
    if (drv_job_balance_new("b1", p, opts, "ctl-a", T0, &job, &err) < 0)
        fail_msg("balance_new: %s", err->message);
    drv_sched_balance_plan_destroy(&p);
    return job;
}

/* ------------------------------------------------------------------ the executor's fixture */

typedef struct {
    drv_job *job;
    drv_job_actions *acts;
    drv_job_drain_facts facts;
    uint64_t now;
    char buf[2048];
    /* what the facts say */
    const char *refuse_domain; /* move_refused refuses this domain's move */
    unsigned refused_calls;
    const char *unusable; /* dest_usable false for this host */
    const char *unknown;  /* host_unknown says this host is not authoritative */
} fx;

static char *s_refused(void *ctx, const drv_job *job, const drv_job_entry *e, const char *dest)
{
    fx *f = ctx;
    assert_ptr_equal(job, f->job);
    f->refused_calls++;
    if (f->refuse_domain && strcmp(e->domain, f->refuse_domain) == 0)
        return g_strdup_printf("moving %s to %s now breaks N+1 (loss of h9)", e->domain, dest);
    return NULL;
}

static bool s_usable(void *ctx, const char *domain, const char *host)
{
    fx *f = ctx;
    (void)domain;
    return !f->unusable || strcmp(host, f->unusable) != 0;
}

static const char *s_unknown(void *ctx, const char *host)
{
    fx *f = ctx;
    return f->unknown && strcmp(host, f->unknown) == 0 ? "host unreachable" : NULL;
}

static fx *s_fx(drv_job *job)
{
    fx *f = g_new0(fx, 1);
    f->job = job;
    f->acts = drv_job_actions_new();
    f->now = T0;
    f->facts.move_refused = s_refused;
    f->facts.dest_usable = s_usable;
    f->facts.host_unknown = s_unknown;
    f->facts.ctx = f;
    return f;
}

static void s_fx_free(fx *f)
{
    drv_job_destroy(&f->job);
    drv_job_actions_destroy(&f->acts);
    g_free(f);
}

/* "launch:vm1>h2#1", "persist", ...; a host-state action fails the test (a balance has none). */
static const char *s_describe(fx *f)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < drv_job_actions_len(f->acts); i++) {
        const drv_job_action *a = drv_job_actions_get(f->acts, i);
        if (i)
            g_string_append_c(s, ',');
        switch (a->kind) {
        case DRV_JOB_ACT_LAUNCH:
            g_string_append_printf(s, "launch:%s:%s>%s#%u", a->domain, a->source, a->destination,
                                   a->attempt);
            break;
        case DRV_JOB_ACT_SET_HOST_STATE:
            fail_msg("a balance set host %s's state", a->host);
            break;
        case DRV_JOB_ACT_CANCEL:
        case DRV_JOB_ACT_LOCATE:
            g_string_append_printf(s, "%s:%s", drv_job_action_kind_to_string(a->kind), a->domain);
            break;
        default:
            g_string_append(s, drv_job_action_kind_to_string(a->kind));
        }
    }
    g_strlcpy(f->buf, s->str, sizeof(f->buf));
    g_string_free(s, TRUE);
    return f->buf;
}

static const char *s_step_ev(fx *f, const drv_job_event *ev, int expect_rc)
{
    f->now += 1000;
    drv_job_actions_clear(f->acts);
    drv_error *err = NULL;
    int rc = drv_job_drain_step(f->job, ev, &f->facts, f->now, f->acts, &err);
    if (err)
        fail_msg("step failed: %s", err->message);
    assert_int_equal(rc, expect_rc);
    drv_error *verr = NULL;
    if (drv_job_validate(f->job, &verr) < 0)
        fail_msg("invalid job after step: %s", verr->message);
    return s_describe(f);
}

static const char *s_step(fx *f, drv_job_event_kind kind, const char *domain, unsigned attempt)
{
    drv_job_event ev = {.kind = kind, .domain = domain, .attempt = attempt, .message = "boom"};
    return s_step_ev(f, &ev, 1);
}

static drv_job_entry *s_entry(fx *f, const char *domain)
{
    drv_job_entry *e = drv_job_find_entry(f->job, domain);
    assert_non_null(e);
    return e;
}

static void s_reload(fx *f)
{
    g_autofree char *text = drv_job_to_json_string(f->job);
    drv_job *again = NULL;
    drv_error *err = NULL;
    if (drv_job_from_json_string(text, -1, &again, &err) < 0)
        fail_msg("reload: %s", err->message);
    g_autofree char *text2 = drv_job_to_json_string(again);
    assert_string_equal(text, text2);
    drv_job_destroy(&f->job);
    f->job = again;
}

/* ------------------------------------------------------------------ tests */

static const move_spec s_three[] = {{"a", "h1", "h2"}, {"b", "h1", "h3"}, {"c", "h4", "h3"}};

static void test_build(void **state)
{
    (void)state;
    drv_job *job = s_make(s_three, 3, NULL);
    assert_int_equal(job->kind, DRV_JOB_KIND_BALANCE);
    assert_string_equal(drv_job_kind_to_string(job->kind), "balance");
    assert_true(drv_job_kind_is_batch(job->kind));
    assert_int_equal(job->state, DRV_JOB_PENDING);
    assert_null(job->drain.host);
    assert_int_equal(job->drain.n_entries, 3);
    assert_string_equal(job->drain.entries[2].domain, "c");
    assert_string_equal(job->drain.entries[2].origin, "h4");
    assert_string_equal(job->drain.entries[2].planned, "h3");
    assert_null(job->drain.entries[2].alternates[0]);
    assert_int_equal(job->drain.opts.max_parallel, DRV_JOB_DRAIN_MAX_PARALLEL_DEFAULT);
    /* stored and loaded back: the same document, no "host" in it */
    g_autofree char *text = drv_job_to_json_string(job);
    assert_null(strstr(text, "\"host\""));
    assert_non_null(strstr(text, "\"kind\":\"balance\""));
    drv_job *again = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_from_json_string(text, -1, &again, &err), 0);
    g_autofree char *text2 = drv_job_to_json_string(again);
    assert_string_equal(text, text2);
    /* a balance with a host, a drain without one: refused */
    again->drain.host = g_strdup("h1");
    assert_int_equal(drv_job_validate(again, &err), -1);
    assert_non_null(strstr(err->message, "a balance has no \"host\""));
    drv_error_destroy(&err);
    again->kind = DRV_JOB_KIND_DRAIN;
    assert_int_equal(drv_job_validate(again, &err), 0);
    g_clear_pointer(&again->drain.host, g_free);
    assert_int_equal(drv_job_validate(again, &err), -1);
    assert_non_null(strstr(err->message, "missing \"host\""));
    drv_error_destroy(&err);
    drv_job_destroy(&again);
    drv_job_destroy(&job);
}

static void test_build_refused(void **state)
{
    (void)state;
    drv_sched_balance_plan *p = s_plan(NULL, 0);
    drv_job *job = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_balance_new("b1", p, NULL, NULL, T0, &job, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    assert_string_equal(err->message, "nothing to balance: nothing worth moving: score 0.000");
    assert_null(job);
    drv_error_destroy(&err);
    drv_sched_balance_plan_destroy(&p);
    p = s_plan(s_three, 1);
    assert_int_equal(drv_job_balance_new("", p, NULL, NULL, T0, &job, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_job_drain_opts o;
    drv_job_drain_opts_init(&o);
    o.per_dest = 0;
    assert_int_equal(drv_job_balance_new("b1", p, &o, NULL, T0, &job, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_sched_balance_plan_destroy(&p);
}

/* Runs under the drain caps; no host state at start or end; succeeds when every move is done. */
static void test_runs_under_caps(void **state)
{
    (void)state;
    drv_job_drain_opts o;
    drv_job_drain_opts_init(&o);
    o.per_source = 1;
    o.per_dest = 1;
    fx *f = s_fx(s_make(s_three, 3, &o));
    /* a and b both leave h1 (per source 1); c goes to h3 (free) */
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0),
                        "persist,launch:a:h1>h2#1,launch:c:h4>h3#1,publish");
    assert_string_equal(drv_job_actions_get(f->acts, 1)->job_id, "b1:a:1");
    assert_int_equal(f->refused_calls, 2); /* each launch re-checked, once */
    /* a done frees h1, but b's destination h3 is still taken by c */
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "a", 1), "persist,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "c", 1),
                        "persist,launch:b:h1>h3#1,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "b", 1), "persist,publish");
    assert_int_equal(f->job->state, DRV_JOB_SUCCEEDED);
    assert_null(f->job->error);
    assert_int_equal(f->refused_calls, 3);
    s_fx_free(f);

    /* max_parallel 1: one move at a time */
    drv_job_drain_opts_init(&o);
    o.max_parallel = 1;
    f = s_fx(s_make(s_three, 3, &o));
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0), "persist,launch:a:h1>h2#1,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "a", 1),
                        "persist,launch:b:h1>h3#1,publish");
    s_fx_free(f);
}

/* The last look refuses a move: the entry fails with the reason, never launched; the others go on;
 * the job fails naming it. A destination now unusable or not authoritative is never launched to
 * and, with no alternates, not retried elsewhere. */
static void test_recheck_before_launch(void **state)
{
    (void)state;
    fx *f = s_fx(s_make(s_three, 3, NULL));
    f->refuse_domain = "b";
    f->unknown = "h2"; /* a's destination became unreachable */
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0), "persist,launch:c:h4>h3#1,publish");
    assert_int_equal(s_entry(f, "a")->state, DRV_JOB_ENTRY_FAILED);
    assert_int_equal(s_entry(f, "a")->attempts, 0);
    assert_string_equal(s_entry(f, "a")->error, "no usable destination");
    assert_int_equal(s_entry(f, "b")->state, DRV_JOB_ENTRY_FAILED);
    assert_int_equal(s_entry(f, "b")->attempts, 0);
    assert_string_equal(s_entry(f, "b")->error,
                        "not moved to h3: moving b to h3 now breaks N+1 (loss of h9)");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "c", 1), "persist,publish");
    assert_int_equal(f->job->state, DRV_JOB_FAILED);
    assert_non_null(strstr(f->job->error, "balance: not every move was made"));
    assert_non_null(strstr(f->job->error, "b (not moved to h3: moving b to h3 now breaks N+1"));
    s_fx_free(f);

    /* destination in maintenance (dest_usable false): not launched; a failed move not retried */
    f = s_fx(s_make(s_three, 2, NULL));
    f->unusable = "h3";
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0), "persist,launch:a:h1>h2#1,publish");
    assert_int_equal(s_entry(f, "b")->state, DRV_JOB_ENTRY_FAILED);
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_FAILED, "a", 1), "persist,publish");
    assert_int_equal(s_entry(f, "a")->state, DRV_JOB_ENTRY_FAILED);
    assert_int_equal(s_entry(f, "a")->attempts, 1);
    assert_string_equal(s_entry(f, "a")->error,
                        "attempt 1 to h2: boom; no other usable destination");
    assert_int_equal(f->job->state, DRV_JOB_FAILED);
    s_fx_free(f);
}

/* An origin whose inventory is not authoritative: the move waits (the domain's state there is
 * unknown), and goes once it is authoritative again. */
static void test_unknown_origin_waits(void **state)
{
    (void)state;
    fx *f = s_fx(s_make(s_three, 1, NULL));
    f->unknown = "h1";
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0), "persist,publish");
    assert_int_equal(s_entry(f, "a")->state, DRV_JOB_ENTRY_PLANNED);
    assert_int_equal(f->refused_calls, 0);
    f->unknown = NULL;
    f->now += 500;
    drv_job_actions_clear(f->acts);
    assert_int_equal(drv_job_drain_step(f->job, NULL, &f->facts, f->now, f->acts, NULL), 1);
    assert_string_equal(s_describe(f), "persist,launch:a:h1>h2#1,publish");
    s_fx_free(f);
}

static void test_cancel(void **state)
{
    (void)state;
    fx *f = s_fx(s_make(s_three, 3, NULL));
    s_step(f, DRV_JOB_EV_START, NULL, 0);
    assert_string_equal(s_step(f, DRV_JOB_EV_CANCEL, NULL, 0),
                        "persist,cancel:a,cancel:b,cancel:c,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "a", 1), "persist,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_CANCELLED, "b", 1), "persist,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_CANCELLED, "c", 1), "persist,publish");
    assert_int_equal(f->job->state, DRV_JOB_CANCELLED);
    assert_int_equal(s_entry(f, "a")->state, DRV_JOB_ENTRY_DONE);
    assert_non_null(strstr(f->job->error, "not moved: b"));
    s_fx_free(f);
}

/* The controller dies with moves in flight: the next one loads the job, locates them (no host
 * state, nothing launched twice), and goes on. */
static void test_resume_after_restart(void **state)
{
    (void)state;
    drv_job_drain_opts o;
    drv_job_drain_opts_init(&o);
    o.max_parallel = 2;
    fx *f = s_fx(s_make(s_three, 3, &o));
    assert_string_equal(s_step(f, DRV_JOB_EV_START, NULL, 0),
                        "persist,launch:a:h1>h2#1,launch:b:h1>h3#1,publish");
    s_reload(f);
    drv_job_set_owner(f->job, "ctl-b");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESTARTED, NULL, 0), "locate:a,locate:b");
    const drv_job_action *loc = drv_job_actions_get(f->acts, 0);
    assert_string_equal(loc->job_id, "b1:a:1");
    drv_job_event found = {
        .kind = DRV_JOB_EV_DOMAIN_FOUND, .domain = "a", .where = DRV_JOB_WHERE_DESTINATION};
    assert_string_equal(s_step_ev(f, &found, 1), "persist,launch:c:h4>h3#1,publish");
    drv_job_event still = {
        .kind = DRV_JOB_EV_DOMAIN_FOUND, .domain = "b", .where = DRV_JOB_WHERE_MIGRATING};
    assert_string_equal(s_step_ev(f, &still, 0), "");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "b", 1), "persist,publish");
    assert_string_equal(s_step(f, DRV_JOB_EV_RESULT_OK, "c", 1), "persist,publish");
    assert_int_equal(f->job->state, DRV_JOB_SUCCEEDED);
    assert_int_equal(s_entry(f, "a")->attempts, 1);
    assert_int_equal(s_entry(f, "b")->attempts, 1);
    s_fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_refused),
        cmocka_unit_test(test_runs_under_caps),
        cmocka_unit_test(test_recheck_before_launch),
        cmocka_unit_test(test_unknown_origin_waits),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_resume_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
