/* test_job_migrate.c — the migration job's state machine: every path (success, reservation failure,
 * storage refused, agent failure, cancel before/while/after, timeout, controller restart with the
 * domain found on the source / destination / nowhere / still migrating), and a property over random
 * event sequences (seeded, reproducible): at most one terminal state, reached by a fixed resolving
 * sequence from anywhere; every RESERVE is followed by exactly one RELEASE on the terminal path;
 * SET_PLACEMENT only on success; MIGRATE never sent twice; the job survives a JSON round trip at
 * every step (a controller restart). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "job_migrate.h"

#define T0 1700000000000ULL

typedef struct {
    drv_job *job;
    drv_job_actions *acts;
    uint64_t now;
} fx;

static int s_setup(void **state)
{
    fx *f = g_new0(fx, 1);
    drv_job_policy p = {.max_downtime_ms = 300, .bandwidth_mibs = 256, .timeout_s = 60};
    drv_error *err = NULL;
    assert_int_equal(drv_job_migrate_new("m1", "vm1", "h1", "h2", &p, "ctl-a", T0, &f->job, &err),
                     0);
    f->acts = drv_job_actions_new();
    f->now = T0;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx *f = *state;
    drv_job_destroy(&f->job);
    drv_job_actions_destroy(&f->acts);
    g_free(f);
    return 0;
}

/* Feeds one event 1 s after the previous; returns the comma-separated action kinds (static buf). */
static const char *s_feed_ev(fx *f, const drv_job_event *ev, int expect_rc)
{
    static char buf[512];
    f->now += 1000;
    drv_job_actions_clear(f->acts);
    drv_error *err = NULL;
    int rc = drv_job_migrate_step(f->job, ev, f->now, f->acts, &err);
    assert_null(err);
    assert_int_equal(rc, expect_rc);
    buf[0] = 0;
    for (size_t i = 0; i < drv_job_actions_len(f->acts); i++) {
        const drv_job_action *a = drv_job_actions_get(f->acts, i);
        g_strlcat(buf, i ? "," : "", sizeof(buf));
        g_strlcat(buf, drv_job_action_kind_to_string(a->kind), sizeof(buf));
        assert_string_equal(a->job_id, "m1");
    }
    assert_int_equal(drv_job_validate(f->job, NULL), 0);
    return buf;
}

static const char *s_feed(fx *f, drv_job_event_kind kind, const char *message)
{
    drv_job_event ev = {.kind = kind, .message = message};
    return s_feed_ev(f, &ev, 1);
}

static const char *s_found(fx *f, drv_job_where where)
{
    drv_job_event ev = {.kind = DRV_JOB_EV_DOMAIN_FOUND, .where = where};
    return s_feed_ev(f, &ev, 1);
}

static void s_to_migrating(fx *f)
{
    assert_string_equal(s_feed(f, DRV_JOB_EV_START, NULL), "persist,reserve,publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL), "persist,verify-storage,publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_STORAGE_VERIFIED, NULL), "persist,migrate,publish");
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_MIGRATING);
}

/* A new controller takes over: the job goes through JSON as it would through etcd. */
static void s_reload(fx *f)
{
    g_autofree char *text = drv_job_to_json_string(f->job);
    drv_job *again = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_from_json_string(text, -1, &again, &err), 0);
    g_autofree char *text2 = drv_job_to_json_string(again);
    assert_string_equal(text, text2);
    drv_job_destroy(&f->job);
    f->job = again;
}

static void s_assert_terminal(fx *f, drv_job_state state)
{
    assert_int_equal(f->job->state, state);
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_DONE);
    assert_false(f->job->migrate.reserved);
    /* terminal is final: every event is now ignored */
    for (int k = 0; k < DRV_JOB_EV_LAST; k++) {
        drv_job_event ev = {.kind = (drv_job_event_kind)k, .where = DRV_JOB_WHERE_DESTINATION};
        assert_string_equal(s_feed_ev(f, &ev, 0), "");
        assert_int_equal(f->job->state, state);
    }
}

static void test_success(void **state)
{
    fx *f = *state;
    assert_int_equal(f->job->state, DRV_JOB_PENDING);
    assert_string_equal(f->job->migrate.reservation_id, "m1");
    s_to_migrating(f);
    assert_int_equal(f->job->state, DRV_JOB_RUNNING);
    assert_true(f->job->migrate.reserved);

    /* the MIGRATE action names source and destination */
    drv_job_event ev = {
        .kind = DRV_JOB_EV_PROGRESS,
        .progress = {
            .data_total = 1000, .data_processed = 400, .data_remaining = 600, .iteration = 1}};
    assert_string_equal(s_feed_ev(f, &ev, 1), "publish"); /* 1 s after the last persist */
    assert_int_equal(f->job->migrate.progress.data_processed, 400);
    f->now += DRV_JOB_PROGRESS_PERSIST_MS;
    ev.progress.data_processed = 900;
    assert_string_equal(s_feed_ev(f, &ev, 1), "persist,publish");
    assert_int_equal(f->job->migrate.progress.data_processed, 900);

    drv_job_event ok = {.kind = DRV_JOB_EV_RESULT_OK,
                        .result = {.downtime_ms = 120, .time_ms = 2100, .bytes = 1000}};
    assert_string_equal(s_feed_ev(f, &ok, 1),
                        "set-placement,redefine-snapshots,release,persist,publish");
    const drv_job_action *place = drv_job_actions_get(f->acts, 0);
    assert_string_equal(place->domain, "vm1");
    assert_string_equal(place->destination, "h2");
    assert_string_equal(drv_job_actions_get(f->acts, 2)->reservation_id, "m1");
    assert_non_null(strstr(drv_job_actions_get(f->acts, 4)->message, "succeeded"));
    assert_int_equal(f->job->migrate.result.downtime_ms, 120);
    assert_int_equal(f->job->migrate.result.time_ms, 2100);
    assert_null(f->job->error);
    s_assert_terminal(f, DRV_JOB_SUCCEEDED);
}

static void test_reservation_failed(void **state)
{
    fx *f = *state;
    assert_string_equal(s_feed(f, DRV_JOB_EV_START, NULL), "persist,reserve,publish");
    assert_string_equal(drv_job_actions_get(f->acts, 1)->destination, "h2");
    /* events of later phases do not apply yet */
    drv_job_event early = {.kind = DRV_JOB_EV_STORAGE_VERIFIED};
    assert_string_equal(s_feed_ev(f, &early, 0), "");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESERVED_FAILED, "2 GiB short"),
                        "release,persist,publish");
    assert_string_equal(f->job->error, "cannot reserve room on h2: 2 GiB short");
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_storage_refused(void **state)
{
    fx *f = *state;
    s_feed(f, DRV_JOB_EV_START, NULL);
    s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL);
    assert_string_equal(s_feed(f, DRV_JOB_EV_STORAGE_REFUSED, "marker not readable on h2"),
                        "release,persist,publish");
    assert_non_null(strstr(f->job->error, "shared storage check failed between h1 and h2"));
    assert_non_null(strstr(f->job->error, "marker not readable on h2"));
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_agent_failed(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    assert_string_equal(
        s_feed(f, DRV_JOB_EV_RESULT_FAILED, "internal error: qemu unexpectedly closed"),
        "release,persist,publish");
    assert_string_equal(f->job->error,
                        "migration failed: internal error: qemu unexpectedly closed");
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_cancel_before_start(void **state)
{
    fx *f = *state;
    assert_string_equal(s_feed(f, DRV_JOB_EV_CANCEL, NULL), "persist,publish");
    assert_true(f->job->cancel_requested);
    s_assert_terminal(f, DRV_JOB_CANCELLED);
}

static void test_cancel_while_reserving(void **state)
{
    fx *f = *state;
    s_feed(f, DRV_JOB_EV_START, NULL);
    /* the reservation in flight answers first; the cancel is recorded */
    assert_string_equal(s_feed(f, DRV_JOB_EV_CANCEL, NULL), "persist,publish");
    assert_int_equal(f->job->state, DRV_JOB_RUNNING);
    drv_job_event again = {.kind = DRV_JOB_EV_CANCEL};
    assert_string_equal(s_feed_ev(f, &again, 0), "");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL), "release,persist,publish");
    s_assert_terminal(f, DRV_JOB_CANCELLED);
}

static void test_cancel_mid_flight(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_CANCEL, NULL), "persist,cancel,publish");
    const drv_job_action *c = drv_job_actions_get(f->acts, 1);
    assert_string_equal(c->source, "h1");
    assert_string_equal(c->domain, "vm1");
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_CANCELLING);
    /* progress still flows until the agent answers */
    drv_job_event p = {.kind = DRV_JOB_EV_PROGRESS, .progress = {.data_processed = 5}};
    assert_string_equal(s_feed_ev(f, &p, 1), "publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESULT_CANCELLED, NULL), "release,persist,publish");
    s_assert_terminal(f, DRV_JOB_CANCELLED);
}

static void test_cancel_too_late(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_feed(f, DRV_JOB_EV_CANCEL, NULL);
    /* the migration completed before the abort reached it: the truth wins */
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESULT_OK, NULL),
                        "set-placement,redefine-snapshots,release,persist,publish");
    s_assert_terminal(f, DRV_JOB_SUCCEEDED);
}

static void test_timeout(void **state)
{
    fx *f = *state;
    assert_int_equal(drv_job_migrate_deadline_ms(f->job), 0); /* pending */
    s_feed(f, DRV_JOB_EV_START, NULL);
    assert_int_equal(drv_job_migrate_deadline_ms(f->job), f->now + DRV_JOB_STEP_TIMEOUT_MS);
    s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL);
    s_feed(f, DRV_JOB_EV_STORAGE_VERIFIED, NULL);
    assert_int_equal(drv_job_migrate_deadline_ms(f->job), f->now + 60 * 1000 + DRV_JOB_GRACE_MS);
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,cancel,publish");
    assert_non_null(strstr(f->job->error, "timed out"));
    assert_int_equal(drv_job_migrate_deadline_ms(f->job), f->now + DRV_JOB_GRACE_MS);
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESULT_CANCELLED, NULL), "release,persist,publish");
    assert_non_null(strstr(f->job->error, "timed out"));
    s_assert_terminal(f, DRV_JOB_FAILED); /* a timeout is a failure, not an operator's cancel */
}

static void test_timeout_agent_silent(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,cancel,publish");
    /* the source agent does not answer the cancel either: find the domain */
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,locate,publish");
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_LOCATING);
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,locate,publish");
    assert_string_equal(s_found(f, DRV_JOB_WHERE_SOURCE), "release,persist,publish");
    assert_non_null(strstr(f->job->error, "timed out"));
    assert_non_null(strstr(f->job->error, "still on h1"));
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_timeout_early_phases(void **state)
{
    fx *f = *state;
    s_feed(f, DRV_JOB_EV_START, NULL);
    s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL);
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "release,persist,publish");
    assert_non_null(strstr(f->job->error, "timed out verifying"));
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_restart_found_on_destination(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_reload(f);
    drv_job_set_owner(f->job, "ctl-b");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,locate,publish");
    const drv_job_action *l = drv_job_actions_get(f->acts, 1);
    assert_string_equal(l->source, "h1");
    assert_string_equal(l->destination, "h2");
    /* a MIGRATE is never resent blindly */
    assert_int_equal(drv_job_actions_count(f->acts, DRV_JOB_ACT_MIGRATE), 0);
    s_reload(f); /* and a second crash while locating changes nothing */
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,locate,publish");
    assert_string_equal(s_found(f, DRV_JOB_WHERE_DESTINATION),
                        "set-placement,redefine-snapshots,release,persist,publish");
    assert_string_equal(f->job->owner, "ctl-b");
    s_assert_terminal(f, DRV_JOB_SUCCEEDED);
}

static void test_restart_found_on_source(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_reload(f);
    s_feed(f, DRV_JOB_EV_RESTARTED, NULL);
    assert_string_equal(s_found(f, DRV_JOB_WHERE_SOURCE), "release,persist,publish");
    assert_non_null(strstr(f->job->error, "vm1 is still on h1"));
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_restart_found_nowhere(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_reload(f);
    s_feed(f, DRV_JOB_EV_RESTARTED, NULL);
    assert_string_equal(s_found(f, DRV_JOB_WHERE_NOWHERE), "release,persist,publish");
    assert_non_null(strstr(f->job->error, "neither on h1 nor on h2"));
    s_assert_terminal(f, DRV_JOB_FAILED);
}

static void test_restart_still_migrating(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_reload(f);
    s_feed(f, DRV_JOB_EV_RESTARTED, NULL);
    /* found only while locating */
    assert_string_equal(s_found(f, DRV_JOB_WHERE_MIGRATING), "persist,publish");
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_MIGRATING);
    drv_job_event stale = {.kind = DRV_JOB_EV_DOMAIN_FOUND, .where = DRV_JOB_WHERE_SOURCE};
    assert_string_equal(s_feed_ev(f, &stale, 0), "");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESULT_OK, NULL),
                        "set-placement,redefine-snapshots,release,persist,publish");
    s_assert_terminal(f, DRV_JOB_SUCCEEDED);
}

static void test_restart_cancelling(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_feed(f, DRV_JOB_EV_CANCEL, NULL);
    s_reload(f);
    s_feed(f, DRV_JOB_EV_RESTARTED, NULL);
    /* still migrating after the restart: the cancel is sent again */
    assert_string_equal(s_found(f, DRV_JOB_WHERE_MIGRATING), "persist,cancel,publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESULT_FAILED, "operation aborted"),
                        "release,persist,publish");
    s_assert_terminal(f, DRV_JOB_CANCELLED);
}

static void test_restart_early_phases(void **state)
{
    fx *f = *state;
    s_feed(f, DRV_JOB_EV_START, NULL);
    s_reload(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,reserve,publish");
    s_feed(f, DRV_JOB_EV_RESERVED_OK, NULL);
    s_reload(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,verify-storage,publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_STORAGE_VERIFIED, NULL), "persist,migrate,publish");
}

static void test_bad_input(void **state)
{
    fx *f = *state;
    drv_error *err = NULL;
    drv_job_event ev = {.kind = DRV_JOB_EV_LAST};
    assert_int_equal(drv_job_migrate_step(f->job, &ev, T0, f->acts, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_job *bad = NULL;
    assert_int_equal(drv_job_migrate_new("m2", "vm1", "h1", "h1", NULL, NULL, T0, &bad, &err), -1);
    assert_null(bad);
    assert_non_null(strstr(err->message, "same host"));
    drv_error_destroy(&err);
    assert_int_equal(drv_job_migrate_new("m2", NULL, "h1", "h2", NULL, NULL, T0, &bad, &err), -1);
    drv_error_destroy(&err);
}

/* ------------------------------------------------------------------------------------------------
 * Property. */

typedef struct {
    unsigned reserve, release, migrate, placement, persist_after_release;
    bool release_after_last_reserve;
    drv_job_state terminal; /* DRV_JOB_STATE_LAST while none */
} ledger;

static void s_account(fx *f, ledger *l)
{
    for (size_t i = 0; i < drv_job_actions_len(f->acts); i++) {
        switch (drv_job_actions_get(f->acts, i)->kind) {
        case DRV_JOB_ACT_RESERVE:
            l->reserve++;
            l->release_after_last_reserve = false;
            break;
        case DRV_JOB_ACT_RELEASE:
            l->release++;
            l->release_after_last_reserve = true;
            break;
        case DRV_JOB_ACT_MIGRATE:
            l->migrate++;
            break;
        case DRV_JOB_ACT_SET_PLACEMENT:
            l->placement++;
            break;
        default:
            break;
        }
    }
}

static void s_check(fx *f, ledger *l, unsigned seed)
{
    drv_job *j = f->job;
    bool terminal = drv_job_state_is_terminal(j->state);
    if (l->terminal != DRV_JOB_STATE_LAST) { /* once terminal, always the same terminal */
        if (j->state != l->terminal)
            fail_msg("seed %u: terminal state changed from %s to %s", seed,
                     drv_job_state_to_string(l->terminal), drv_job_state_to_string(j->state));
    } else if (terminal) {
        l->terminal = j->state;
    }
    if (l->migrate > 1)
        fail_msg("seed %u: MIGRATE sent %u times", seed, l->migrate);
    if (l->placement > (j->state == DRV_JOB_SUCCEEDED ? 1u : 0u))
        fail_msg("seed %u: placement set %u times in state %s", seed, l->placement,
                 drv_job_state_to_string(j->state));
    if (!terminal && l->release)
        fail_msg("seed %u: reservation released before the end", seed);
    if (terminal) {
        if (l->reserve && (l->release != 1 || !l->release_after_last_reserve))
            fail_msg("seed %u: %u reserves, %u releases (last after: %d)", seed, l->reserve,
                     l->release, l->release_after_last_reserve);
        if (!l->reserve && l->release)
            fail_msg("seed %u: released a reservation never made", seed);
        if (j->state == DRV_JOB_SUCCEEDED && (l->placement != 1 || l->migrate != 1))
            fail_msg("seed %u: succeeded with %u placements, %u migrates", seed, l->placement,
                     l->migrate);
        assert_false(j->migrate.reserved);
    } else {
        assert_int_equal(j->migrate.reserved, l->reserve > 0);
    }
    assert_int_equal(drv_job_validate(j, NULL), 0);
}

static void s_step_random(fx *f, ledger *l, GRand *r, unsigned seed)
{
    drv_job_event ev = {0};
    ev.kind = (drv_job_event_kind)g_rand_int_range(r, 0, DRV_JOB_EV_LAST);
    ev.where = (drv_job_where)g_rand_int_range(r, 0, DRV_JOB_WHERE_LAST);
    ev.message = g_rand_boolean(r) ? "boom" : NULL;
    ev.progress.data_processed = g_rand_int(r);
    ev.result.downtime_ms = g_rand_int_range(r, 0, 500);
    if (ev.kind == DRV_JOB_EV_RESTARTED)
        s_reload(f);
    f->now += (uint64_t)g_rand_int_range(r, 0, 20000);
    drv_job_actions_clear(f->acts);
    drv_error *err = NULL;
    int rc = drv_job_migrate_step(f->job, &ev, f->now, f->acts, &err);
    assert_null(err);
    assert_true(rc == 0 || rc == 1);
    if (rc == 0)
        assert_int_equal(drv_job_actions_len(f->acts), 0);
    s_account(f, l);
    s_check(f, l, seed);
}

static void test_property_random_sequences(void **state)
{
    (void)state;
    unsigned outcomes[DRV_JOB_STATE_LAST] = {0};
    for (unsigned seed = 1; seed <= 3000; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        fx fs = {0}, *f = &fs;
        drv_job_policy p = {.timeout_s = (uint32_t)g_rand_int_range(r, 0, 3)};
        assert_int_equal(drv_job_migrate_new("m1", "vm1", "h1", "h2", &p, NULL, T0, &f->job, NULL),
                         0);
        f->acts = drv_job_actions_new();
        f->now = T0;
        ledger l = {.terminal = DRV_JOB_STATE_LAST};
        int n = g_rand_int_range(r, 0, 40);
        for (int i = 0; i < n; i++)
            s_step_random(f, &l, r, seed);
        /* resolve: TIMEOUT until locating, then an answer that is not "migrating" */
        for (int i = 0; i < 6 && !drv_job_state_is_terminal(f->job->state); i++) {
            drv_job_event ev = {.kind = DRV_JOB_EV_TIMEOUT};
            if (f->job->migrate.phase == DRV_JOB_PHASE_LOCATING) {
                ev.kind = DRV_JOB_EV_DOMAIN_FOUND;
                ev.where = (drv_job_where)g_rand_int_range(r, 0, DRV_JOB_WHERE_MIGRATING);
            }
            f->now += 1000;
            drv_job_actions_clear(f->acts);
            assert_int_equal(drv_job_migrate_step(f->job, &ev, f->now, f->acts, NULL), 1);
            s_account(f, &l);
            s_check(f, &l, seed);
        }
        if (!drv_job_state_is_terminal(f->job->state))
            fail_msg("seed %u: not terminal after the resolving sequence (phase %s)", seed,
                     drv_job_phase_to_string(f->job->migrate.phase));
        outcomes[f->job->state]++;
        drv_job_destroy(&f->job);
        drv_job_actions_destroy(&f->acts);
        g_rand_free(r);
    }
    /* the generator reaches every terminal state */
    assert_true(outcomes[DRV_JOB_SUCCEEDED] > 0);
    assert_true(outcomes[DRV_JOB_FAILED] > 0);
    assert_true(outcomes[DRV_JOB_CANCELLED] > 0);
}

/* No --timeout: a timeout that grows with the guest's memory, longer under a bandwidth cap; an
 * asked-for timeout is kept. */
static void test_default_timeout(void **state)
{
    (void)state;
    assert_int_equal(drv_job_migrate_default_timeout_s(128 * 1024, 0), 60 + 120);
    assert_int_equal(drv_job_migrate_default_timeout_s(4ull << 20, 0), 60 + 4 * 120);
    assert_int_equal(drv_job_migrate_default_timeout_s((4ull << 20) + 1, 0), 60 + 5 * 120);
    assert_int_equal(drv_job_migrate_default_timeout_s(0, 0), 60);
    /* 16 GiB at 20 MiB/s: 4 copies take 3277 s, more than 60 + 16 × 120 */
    assert_int_equal(drv_job_migrate_default_timeout_s(16ull << 20, 20), 3277);
    /* a generous bandwidth changes nothing */
    assert_int_equal(drv_job_migrate_default_timeout_s(1ull << 20, 10000), 180);
    drv_job_policy asked = {.timeout_s = 30, .bandwidth_mibs = 20};
    assert_int_equal(drv_job_migrate_policy_with_default(&asked, 16ull << 20).timeout_s, 30);
    drv_job_policy none = {.bandwidth_mibs = 20};
    drv_job_policy got = drv_job_migrate_policy_with_default(&none, 1ull << 20);
    assert_int_equal(got.timeout_s, 205); /* 4 × 1024 MiB / 20 MiB/s, rounded up */
    assert_int_equal(got.bandwidth_mibs, 20);
    assert_int_equal(drv_job_migrate_policy_with_default(NULL, 1ull << 20).timeout_s, 180);
}

/* Issue 17: a cancelled job whose source keeps answering "still migrating" (and never answers the
 * CANCEL) ends cancelled after DRV_JOB_LOCATE_LIMIT_MS of locating, saying where it may run; the
 * limit survives a controller restart; the placement is not changed. */
static void test_locate_limit_on_cancel(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    s_reload(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,locate,publish");
    uint64_t since = f->now;
    assert_int_equal(f->job->migrate.locating_since_ms, since);
    assert_string_equal(s_feed(f, DRV_JOB_EV_CANCEL, NULL), "persist,publish");
    int rounds = 0;
    for (;;) {
        assert_string_equal(s_found(f, DRV_JOB_WHERE_MIGRATING), "persist,cancel,publish");
        assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_CANCELLING);
        assert_int_equal(f->job->migrate.locating_since_ms, since); /* not reset while aborting */
        uint64_t deadline = drv_job_migrate_deadline_ms(f->job);
        assert_true(deadline <= since + DRV_JOB_LOCATE_LIMIT_MS || deadline == f->now);
        s_reload(f);
        f->now = MAX(deadline, f->now + 1) - 1000; /* s_feed adds 1 s */
        const char *acts = s_feed(f, DRV_JOB_EV_TIMEOUT, NULL);
        rounds++;
        assert_true(rounds < 10);
        if (f->job->state != DRV_JOB_RUNNING) {
            assert_string_equal(acts, "release,persist,publish");
            break;
        }
        assert_string_equal(acts, "persist,locate,publish");
    }
    assert_true(f->now >= since + DRV_JOB_LOCATE_LIMIT_MS);
    assert_true(f->now < since + DRV_JOB_LOCATE_LIMIT_MS + DRV_JOB_GRACE_MS);
    assert_true(f->job->migrate.location_unknown);
    assert_non_null(strstr(f->job->error,
                           "gave up locating vm1 after 120 s: neither h1 nor h2 said "
                           "the migration ended"));
    assert_non_null(strstr(f->job->error, "drover domain info vm1"));
    s_reload(f); /* location_unknown is stored */
    assert_true(f->job->migrate.location_unknown);
    s_assert_terminal(f, DRV_JOB_CANCELLED);
}

/* Agents that never answer: a timed-out migration gives up locating after the limit and fails,
 * keeping the timeout's reason first. */
static void test_locate_limit_silent(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,cancel,publish");
    assert_string_equal(s_feed(f, DRV_JOB_EV_TIMEOUT, NULL), "persist,locate,publish");
    uint64_t since = f->now;
    while (f->job->state == DRV_JOB_RUNNING) {
        f->now = drv_job_migrate_deadline_ms(f->job) - 1000;
        s_feed(f, DRV_JOB_EV_TIMEOUT, NULL);
    }
    assert_int_equal(f->now, since + DRV_JOB_LOCATE_LIMIT_MS);
    assert_true(f->job->migrate.location_unknown);
    assert_non_null(strstr(f->job->error, "migration timed out after"));
    assert_non_null(strstr(f->job->error, "; gave up locating vm1 after 120 s"));
    assert_int_equal(drv_job_actions_count(f->acts, DRV_JOB_ACT_SET_PLACEMENT), 0);
    s_assert_terminal(f, DRV_JOB_FAILED);
}

/* A "still migrating" answer while not aborting goes back to waiting for the result, and the next
 * locating round counts from its own start. */
static void test_locate_limit_reset(void **state)
{
    fx *f = *state;
    s_to_migrating(f);
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,locate,publish");
    assert_int_not_equal(f->job->migrate.locating_since_ms, 0);
    assert_string_equal(s_found(f, DRV_JOB_WHERE_MIGRATING), "persist,publish");
    assert_int_equal(f->job->migrate.phase, DRV_JOB_PHASE_MIGRATING);
    assert_int_equal(f->job->migrate.locating_since_ms, 0);
    f->now += DRV_JOB_LOCATE_LIMIT_MS;
    assert_string_equal(s_feed(f, DRV_JOB_EV_RESTARTED, NULL), "persist,locate,publish");
    assert_int_equal(f->job->migrate.locating_since_ms, f->now);
    assert_string_equal(s_found(f, DRV_JOB_WHERE_DESTINATION),
                        "set-placement,redefine-snapshots,release,persist,publish");
    s_assert_terminal(f, DRV_JOB_SUCCEEDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_success, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_locate_limit_on_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_locate_limit_silent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_locate_limit_reset, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reservation_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_storage_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_agent_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_start, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_reserving, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mid_flight, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_too_late, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_agent_silent, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_early_phases, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_found_on_destination, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_found_on_source, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_found_nowhere, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_still_migrating, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_cancelling, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_early_phases, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, s_setup, s_teardown),
        cmocka_unit_test(test_property_random_sequences),
        cmocka_unit_test(test_default_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
