/* test_job_lifecycle.c — the start and undefine jobs' state machine: every path (success with and
 * without an old host, define / start refused, a lost reply, a controller crash at each step with
 * the domain then found running / defined / absent / unknown on its host, the bounded wait on an
 * unknown host, the command budget), and a property over random event sequences (seeded): at most
 * one terminal state; every command follows a PERSIST; SET_DESIRED only on a failed start; the
 * job survives a JSON round trip (a controller restart) at every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "job_lifecycle.h"

#define T0 1700000000000ULL

typedef struct {
    drv_job *job;
    drv_job_actions *acts;
    uint64_t now;
} fx;

static fx *s_fx_start(const char *old_host)
{
    fx *f = g_new0(fx, 1);
    drv_error *err = NULL;
    assert_int_equal(drv_job_start_new("s1", "vm1", "h2", old_host, DRV_JOB_DESIRED_SHUTOFF,
                                       "ctl-a", T0, &f->job, &err),
                     0);
    f->acts = drv_job_actions_new();
    f->now = T0;
    return f;
}

static fx *s_fx_undefine(const char *host)
{
    fx *f = g_new0(fx, 1);
    assert_int_equal(drv_job_undefine_new("u1", "vm1", host, "ctl-a", T0, &f->job, NULL), 0);
    f->acts = drv_job_actions_new();
    f->now = T0;
    return f;
}

static void s_fx_free(fx *f)
{
    drv_job_destroy(&f->job);
    drv_job_actions_destroy(&f->acts);
    g_free(f);
}

/* The job as a new leader reads it back from etcd. */
static void s_reload(fx *f)
{
    g_autofree char *text = drv_job_to_json_string(f->job);
    drv_job *again = NULL;
    drv_error *err = NULL;
    if (drv_job_from_json_string(text, -1, &again, &err) < 0)
        fail_msg("round trip refused: %s\n%s", err->message, text);
    g_autofree char *text2 = drv_job_to_json_string(again);
    assert_string_equal(text, text2);
    drv_job_destroy(&f->job);
    f->job = again;
}

/* Feeds an event 1 s after the previous one; returns the actions as "persist,define@h2,publish"
 * (static buffer). Every job is reloaded from its JSON afterwards. */
static const char *s_feed(fx *f, drv_job_event_kind kind, drv_job_where where, int expect_rc)
{
    static char buf[512];
    drv_job_event ev = {.kind = kind, .where = where, .desired_running = true, .message = "boom"};
    f->now += 1000;
    drv_job_actions_clear(f->acts);
    drv_error *err = NULL;
    int rc = drv_job_lifecycle_step(f->job, &ev, f->now, f->acts, &err);
    assert_null(err);
    assert_int_equal(rc, expect_rc);
    buf[0] = 0;
    for (size_t i = 0; i < drv_job_actions_len(f->acts); i++) {
        const drv_job_action *a = drv_job_actions_get(f->acts, i);
        if (i)
            g_strlcat(buf, ",", sizeof(buf));
        g_strlcat(buf, drv_job_action_kind_to_string(a->kind), sizeof(buf));
        if (a->kind != DRV_JOB_ACT_PUBLISH && a->host) {
            g_strlcat(buf, "@", sizeof(buf));
            g_strlcat(buf, a->host, sizeof(buf));
        }
        if (a->kind == DRV_JOB_ACT_SET_DESIRED) {
            g_strlcat(buf, "=", sizeof(buf));
            g_strlcat(buf, drv_job_desired_to_string(a->desired), sizeof(buf));
        }
    }
    s_reload(f);
    return buf;
}

#define EV(k)       DRV_JOB_EV_##k, DRV_JOB_WHERE_LAST
#define FOUND(w)    DRV_JOB_EV_DOMAIN_FOUND, DRV_JOB_WHERE_##w
#define STEP(f, s)  assert_int_equal((f)->job->lifecycle.step, DRV_JOB_STEP_##s)
#define STATE(f, s) assert_int_equal((f)->job->state, DRV_JOB_##s)

static void test_start_with_old_host(void **state)
{
    (void)state;
    fx *f = s_fx_start("h1");
    assert_string_equal(s_feed(f, EV(START), 1), "persist,define@h2,publish");
    STATE(f, RUNNING);
    STEP(f, DEFINING);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,start@h2,publish");
    STEP(f, STARTING);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,locate@h1,publish");
    STEP(f, CLEANING);
    assert_string_equal(drv_job_lifecycle_locate_host(f->job), "h1");
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,undefine@h1,publish");
    STEP(f, UNDEFINING);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    STEP(f, DONE);
    assert_null(f->job->error);
    assert_int_equal(f->job->lifecycle.commands, 3);
    /* terminal: nothing applies any more */
    assert_string_equal(s_feed(f, EV(RESTARTED), 0), "");
    assert_string_equal(s_feed(f, EV(REPLY_OK), 0), "");
    s_fx_free(f);
}

static void test_start_without_old_host(void **state)
{
    (void)state;
    fx *f = s_fx_start("h2"); /* the same host: no old host */
    assert_null(f->job->lifecycle.old_host);
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);
}

static void test_define_refused(void **state)
{
    (void)state;
    fx *f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    assert_string_equal(s_feed(f, EV(REPLY_FAILED), 1), "set-desired=shutoff,persist,publish");
    STATE(f, FAILED);
    assert_string_equal(f->job->error, "define on h2 failed: boom");
    s_fx_free(f);
}

/* A refused START is looked into: it may run after all (a START lost before this one). */
static void test_start_refused(void **state)
{
    (void)state;
    fx *f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    assert_string_equal(s_feed(f, EV(REPLY_FAILED), 1), "persist,locate@h2,publish");
    STEP(f, LOCATING);
    assert_string_equal(f->job->error, "start on h2 failed: boom");
    /* defined, not running: the start did not happen; the stale old definition still goes */
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,locate@h1,publish");
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,undefine@h1,publish");
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "set-desired=shutoff,persist,publish");
    STATE(f, FAILED);
    assert_string_equal(f->job->error, "start on h2 failed: boom");
    s_fx_free(f);

    f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(REPLY_FAILED), 1);
    assert_string_equal(s_feed(f, FOUND(RUNNING), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    assert_null(f->job->error);
    s_fx_free(f);
}

/* The agent never answered the START: find out; never send it blindly again. */
static void test_start_reply_unknown(void **state)
{
    (void)state;
    fx *f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    assert_string_equal(s_feed(f, EV(REPLY_UNKNOWN), 1), "persist,locate@h2,publish");
    assert_string_equal(s_feed(f, FOUND(UNKNOWN), 0), "");
    assert_string_equal(s_feed(f, FOUND(RUNNING), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);
}

/* The controller crashed after the define reached the host, before the start: the new leader
 * locates and rolls forward. */
static void test_crash_after_define(void **state)
{
    (void)state;
    fx *f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1); /* START persisted, its reply lost with the controller */
    assert_string_equal(s_feed(f, EV(RESTARTED), 1), "persist,locate@h2,publish");
    assert_int_equal(drv_job_lifecycle_deadline_ms(f->job), f->now + DRV_JOB_LOCATE_WAIT_MS);
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,start@h2,publish");
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,locate@h1,publish");
    assert_string_equal(s_feed(f, FOUND(NOWHERE), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);

    /* crashed while defining: the domain is absent → DEFINE again */
    f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    assert_string_equal(s_feed(f, EV(RESTARTED), 1), "persist,locate@h2,publish");
    assert_string_equal(s_feed(f, FOUND(NOWHERE), 1), "persist,define@h2,publish");
    s_feed(f, EV(REPLY_OK), 1);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);

    /* crashed while starting: it runs already → finish */
    f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(RESTARTED), 1);
    assert_string_equal(s_feed(f, FOUND(RUNNING), 1), "persist,locate@h1,publish");
    /* the old host runs a copy too: never touched */
    assert_string_equal(s_feed(f, FOUND(RUNNING), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);
}

/* Defined on the destination but the desired state is no longer running: not started. */
static void test_restart_desired_changed(void **state)
{
    (void)state;
    fx *f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(RESTARTED), 1);
    drv_job_event ev = {.kind = DRV_JOB_EV_DOMAIN_FOUND, .where = DRV_JOB_WHERE_DEFINED};
    drv_job_actions_clear(f->acts);
    assert_int_equal(drv_job_lifecycle_step(f->job, &ev, f->now + 1, f->acts, NULL), 1);
    assert_int_equal(drv_job_actions_count(f->acts, DRV_JOB_ACT_START), 0);
    assert_int_equal(drv_job_actions_count(f->acts, DRV_JOB_ACT_SET_DESIRED), 1);
    STATE(f, FAILED);
    assert_non_null(strstr(f->job->error, "desired state changed"));
    s_fx_free(f);
}

/* The destination stays unknown: wait (no action), then fail and roll the desired state back. */
static void test_restart_destination_unknown(void **state)
{
    (void)state;
    fx *f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(RESTARTED), 1);
    for (int i = 0; i < 5; i++)
        assert_string_equal(s_feed(f, FOUND(UNKNOWN), 0), "");
    STEP(f, LOCATING);
    assert_string_equal(s_feed(f, EV(TIMEOUT), 1), "set-desired=shutoff,persist,publish");
    STATE(f, FAILED);
    assert_non_null(strstr(f->job->error, "stayed unknown for 60 s"));
    assert_int_equal(drv_job_lifecycle_deadline_ms(f->job), 0);
    s_fx_free(f);
}

/* Crash while cleaning the old host: look at it again; unknown there → end without touching it. */
static void test_crash_while_cleaning(void **state)
{
    (void)state;
    fx *f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, FOUND(DEFINED), 1); /* UNDEFINE@h1 sent, then the crash */
    assert_string_equal(s_feed(f, EV(RESTARTED), 1), "persist,locate@h1,publish");
    STEP(f, CLEANING);
    assert_string_equal(s_feed(f, FOUND(UNKNOWN), 0), "");
    assert_string_equal(s_feed(f, EV(TIMEOUT), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);

    f = s_fx_start("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, EV(REPLY_OK), 1);
    s_feed(f, FOUND(DEFINED), 1);
    assert_string_equal(s_feed(f, EV(REPLY_UNKNOWN), 1), "persist,locate@h1,publish");
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,undefine@h1,publish");
    assert_string_equal(s_feed(f, EV(REPLY_FAILED), 1), "persist,publish");
    STATE(f, SUCCEEDED); /* started; only the clean-up failed */
    s_fx_free(f);
}

/* A job that keeps finding the domain absent gives up after its command budget. */
static void test_command_budget(void **state)
{
    (void)state;
    fx *f = s_fx_start(NULL);
    s_feed(f, EV(START), 1);
    for (int i = 0; i < 20 && f->job->state == DRV_JOB_RUNNING; i++) {
        s_feed(f, EV(RESTARTED), 1);
        s_feed(f, FOUND(NOWHERE), 1);
    }
    STATE(f, FAILED);
    assert_int_equal(f->job->lifecycle.commands, DRV_JOB_LIFECYCLE_MAX_COMMANDS);
    assert_non_null(strstr(f->job->error, "gave up after"));
    s_fx_free(f);
}

static void test_undefine_paths(void **state)
{
    (void)state;
    fx *f = s_fx_undefine("h1");
    assert_string_equal(s_feed(f, EV(START), 1), "persist,undefine@h1,publish");
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,forget,publish");
    STEP(f, FORGETTING);
    assert_string_equal(s_feed(f, EV(REPLY_OK), 1), "persist,publish");
    STATE(f, SUCCEEDED);
    s_fx_free(f);

    f = s_fx_undefine(NULL); /* no reachable host has it */
    assert_string_equal(s_feed(f, EV(START), 1), "persist,forget,publish");
    assert_string_equal(s_feed(f, EV(REPLY_FAILED), 1), "persist,publish");
    STATE(f, FAILED);
    assert_non_null(strstr(f->job->error, "its definition is still stored"));
    s_fx_free(f);

    f = s_fx_undefine("h1");
    s_feed(f, EV(START), 1);
    assert_string_equal(s_feed(f, EV(REPLY_FAILED), 1), "persist,publish");
    STATE(f, FAILED);
    assert_non_null(strstr(f->job->error, "nothing forgotten"));
    s_fx_free(f);

    /* lost reply: locate; defined → again; unknown → wait; absent → forget */
    f = s_fx_undefine("h1");
    s_feed(f, EV(START), 1);
    assert_string_equal(s_feed(f, EV(REPLY_UNKNOWN), 1), "persist,locate@h1,publish");
    assert_string_equal(s_feed(f, FOUND(DEFINED), 1), "persist,undefine@h1,publish");
    s_feed(f, EV(REPLY_UNKNOWN), 1);
    assert_string_equal(s_feed(f, FOUND(UNKNOWN), 0), "");
    assert_string_equal(s_feed(f, FOUND(NOWHERE), 1), "persist,forget,publish");
    /* crash while forgetting: forget again (idempotent) */
    assert_string_equal(s_feed(f, EV(RESTARTED), 1), "persist,forget,publish");
    assert_string_equal(s_feed(f, EV(REPLY_UNKNOWN), 1), "persist,forget,publish");
    s_feed(f, EV(REPLY_OK), 1);
    STATE(f, SUCCEEDED);
    assert_int_equal(drv_job_actions_count(f->acts, DRV_JOB_ACT_SET_DESIRED), 0);
    s_fx_free(f);

    /* crash after the UNDEFINE was sent: it runs there now → failed, nothing forgotten */
    f = s_fx_undefine("h1");
    s_feed(f, EV(START), 1);
    assert_string_equal(s_feed(f, EV(RESTARTED), 1), "persist,locate@h1,publish");
    assert_string_equal(s_feed(f, FOUND(RUNNING), 1), "persist,publish");
    STATE(f, FAILED);
    s_fx_free(f);

    f = s_fx_undefine("h1");
    s_feed(f, EV(START), 1);
    s_feed(f, EV(RESTARTED), 1);
    assert_string_equal(s_feed(f, EV(TIMEOUT), 1), "persist,publish");
    STATE(f, FAILED);
    assert_non_null(strstr(f->job->error, "nothing forgotten"));
    s_fx_free(f);
}

static void test_refusals(void **state)
{
    (void)state;
    drv_job *job = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_start_new("s", "vm", NULL, NULL, 0, NULL, T0, &job, &err), -1);
    assert_non_null(strstr(err->message, "start needs a host"));
    drv_error_destroy(&err);
    assert_int_equal(drv_job_undefine_new("u", "", "h1", NULL, T0, &job, &err), -1);
    drv_error_destroy(&err);
    fx *f = s_fx_start(NULL);
    /* events that do not apply */
    assert_string_equal(s_feed(f, EV(REPLY_OK), 0), "");
    assert_string_equal(s_feed(f, EV(RESTARTED), 0), "");
    assert_string_equal(s_feed(f, FOUND(RUNNING), 0), "");
    drv_job_event ev = {.kind = DRV_JOB_EV_LAST};
    assert_int_equal(drv_job_lifecycle_step(f->job, &ev, T0, f->acts, &err), -1);
    drv_error_destroy(&err);
    f->job->kind = DRV_JOB_KIND_MIGRATE;
    ev.kind = DRV_JOB_EV_START;
    assert_int_equal(drv_job_lifecycle_step(f->job, &ev, T0, f->acts, &err), -1);
    assert_non_null(strstr(err->message, "not a start or undefine job"));
    drv_error_destroy(&err);
    f->job->kind = DRV_JOB_KIND_START;
    s_fx_free(f);
}

/* Random event sequences: at most one terminal state, never left; every command follows a PERSIST
 * in the same list; SET_DESIRED only on the way to a failed start; JSON round trip at every step
 * (s_feed reloads). */
static void test_property_random(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 800; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        bool start = seed % 3 != 0;
        fx *f = start ? s_fx_start(seed % 2 ? "h1" : NULL) : s_fx_undefine(seed % 5 ? "h1" : NULL);
        int terminals = 0;
        for (int k = 0; k < 40; k++) {
            drv_job_event ev = {
                .kind = k == 0 ? DRV_JOB_EV_START
                               : (drv_job_event_kind)g_rand_int_range(r, 0, DRV_JOB_EV_LAST),
                .where = (drv_job_where)g_rand_int_range(r, 0, DRV_JOB_WHERE_LAST),
                .desired_running = g_rand_boolean(r),
            };
            bool was_terminal = drv_job_state_is_terminal(f->job->state);
            drv_job_actions_clear(f->acts);
            int rc = drv_job_lifecycle_step(f->job, &ev, f->now += 10, f->acts, NULL);
            assert_true(rc == 0 || rc == 1);
            if (was_terminal)
                assert_int_equal(rc, 0);
            bool persisted = false;
            for (size_t i = 0; i < drv_job_actions_len(f->acts); i++) {
                const drv_job_action *a = drv_job_actions_get(f->acts, i);
                if (a->kind == DRV_JOB_ACT_PERSIST)
                    persisted = true;
                if (a->kind == DRV_JOB_ACT_DEFINE || a->kind == DRV_JOB_ACT_START ||
                    a->kind == DRV_JOB_ACT_UNDEFINE || a->kind == DRV_JOB_ACT_FORGET)
                    assert_true(persisted);
                if (a->kind == DRV_JOB_ACT_SET_DESIRED) {
                    assert_true(start);
                    assert_int_equal(f->job->state, DRV_JOB_FAILED);
                }
            }
            if (!was_terminal && drv_job_state_is_terminal(f->job->state))
                terminals++;
            assert_true(f->job->lifecycle.commands <= DRV_JOB_LIFECYCLE_MAX_COMMANDS);
            s_reload(f);
        }
        assert_true(terminals <= 1);
        s_fx_free(f);
        g_rand_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_with_old_host),
        cmocka_unit_test(test_start_without_old_host),
        cmocka_unit_test(test_define_refused),
        cmocka_unit_test(test_start_refused),
        cmocka_unit_test(test_start_reply_unknown),
        cmocka_unit_test(test_crash_after_define),
        cmocka_unit_test(test_restart_desired_changed),
        cmocka_unit_test(test_restart_destination_unknown),
        cmocka_unit_test(test_crash_while_cleaning),
        cmocka_unit_test(test_command_budget),
        cmocka_unit_test(test_undefine_paths),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_property_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
