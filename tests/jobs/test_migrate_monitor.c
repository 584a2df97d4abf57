/* test_migrate_monitor.c — the live-migration policy decisions (jobs/migrate_monitor.h): a
 * converging pre-copy continues; post-copy only when allowed and only after the iteration
 * threshold; the timeout aborts; a stall switches to post-copy or aborts with a reason; nothing is
 * aborted once post-copy has started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "migrate_monitor.h"

#define MIB (1024ULL * 1024ULL)

static drv_migrate_monitor_sample s_at(uint64_t elapsed_ms, uint64_t iteration, uint64_t remaining)
{
    drv_migrate_monitor_sample s = {.elapsed_ms = elapsed_ms,
                                    .have_stats = true,
                                    .iteration = iteration,
                                    .data_remaining = remaining};
    return s;
}

static void test_converging_precopy_continues(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(true, 60);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    /* ten samples, one per second, remaining shrinking every time, iterations climbing past 3 */
    for (uint64_t i = 0; i < 10; i++) {
        drv_migrate_monitor_sample s = s_at(i * 1000, i + 1, (100 - i * 9) * MIB);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
    assert_false(st.postcopy);
    assert_int_equal(st.aborted, DRV_MIGRATE_CONTINUE);
}

static void test_postcopy_after_iteration_threshold(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(true, 0);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    /* not shrinking from the start, but at or below the iteration threshold: continue */
    for (uint64_t it = 1; it <= p.postcopy_after_iterations; it++) {
        drv_migrate_monitor_sample s = s_at(it * 1000, it, 80 * MIB);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
    /* past the threshold, still not shrinking: switch */
    drv_migrate_monitor_sample s = s_at(4000, p.postcopy_after_iterations + 1, 81 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_SWITCH_POSTCOPY);
    assert_non_null(strstr(st.reason, "not converging"));
    /* a refused switch is asked again on the next sample */
    s = s_at(5000, p.postcopy_after_iterations + 2, 82 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_SWITCH_POSTCOPY);
    drv_migrate_monitor_postcopy_started(&st);
    s = s_at(6000, p.postcopy_after_iterations + 3, 83 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
}

static void test_shrinking_past_threshold_continues(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(true, 0);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    drv_migrate_monitor_sample s = s_at(1000, 10, 50 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    s = s_at(2000, 11, 40 * MIB); /* shrinking at iteration 11: no switch */
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    s = s_at(3000, 12, 40 * MIB); /* stopped shrinking: switch */
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_SWITCH_POSTCOPY);
}

static void test_never_postcopy_when_not_allowed(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(false, 0);
    p.stall_after_ms = 0; /* only the iteration rule is under test */
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    for (uint64_t i = 1; i <= 200; i++) {
        drv_migrate_monitor_sample s = s_at(i * 1000, i, 90 * MIB + i);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
    assert_false(st.postcopy);
}

static void test_timeout_aborts_once(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(false, 5);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    for (uint64_t i = 0; i < 5; i++) {
        drv_migrate_monitor_sample s = s_at(i * 1000, i + 1, (100 - i) * MIB);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
    drv_migrate_monitor_sample s = s_at(5000, 6, 90 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_ABORT_TIMEOUT);
    assert_non_null(strstr(st.reason, "5 s timeout"));
    assert_int_equal(st.aborted, DRV_MIGRATE_ABORT_TIMEOUT);
    /* decided once: the caller now waits for libvirt's job to end */
    s = s_at(6000, 7, 80 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    /* the timeout also applies while libvirt gives no stats */
    drv_migrate_monitor_init(&st);
    drv_migrate_monitor_sample none = {.elapsed_ms = 7000, .have_stats = false};
    assert_int_equal(drv_migrate_monitor_decide(&p, &none, &st), DRV_MIGRATE_ABORT_TIMEOUT);
}

static void test_stall_detected(void **state)
{
    /* not allowed: the remaining data hovers without a new low for 30 s → abort with a reason */
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(false, 0);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    drv_migrate_monitor_sample s = s_at(0, 1, 100 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    s = s_at(1000, 2, 60 * MIB); /* the low */
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    drv_migrate_decision d = DRV_MIGRATE_CONTINUE;
    uint64_t t = 2000;
    for (; t < 60000 && d == DRV_MIGRATE_CONTINUE; t += 1000) {
        s = s_at(t, t / 1000 + 1, (t % 2000 ? 70 : 65) * MIB); /* up and down, never below 60 */
        d = drv_migrate_monitor_decide(&p, &s, &st);
    }
    assert_int_equal(d, DRV_MIGRATE_ABORT_STALLED);
    assert_int_equal(t - 1000, 1000 + DRV_MIGRATE_STALL_AFTER_MS_DEFAULT);
    assert_non_null(strstr(st.reason, "stalled"));
    assert_non_null(strstr(st.reason, "post-copy is not allowed"));

    /* allowed: the same stall switches to post-copy (iterations kept at the threshold so only
     * the stall rule can fire) */
    p = drv_migrate_monitor_params_default(true, 0);
    drv_migrate_monitor_init(&st);
    s = s_at(0, 1, 60 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    d = DRV_MIGRATE_CONTINUE;
    for (t = 1000; t < 60000 && d == DRV_MIGRATE_CONTINUE; t += 1000) {
        s = s_at(t, 1, 61 * MIB);
        d = drv_migrate_monitor_decide(&p, &s, &st);
    }
    assert_int_equal(d, DRV_MIGRATE_SWITCH_POSTCOPY);
    assert_int_equal(t - 1000, DRV_MIGRATE_STALL_AFTER_MS_DEFAULT);
    assert_non_null(strstr(st.reason, "stalled"));

    /* progress (a new low) resets the stall clock */
    p = drv_migrate_monitor_params_default(false, 0);
    drv_migrate_monitor_init(&st);
    for (t = 0; t < 120000; t += 1000) {
        s = s_at(t, 1, (200000 - t) * 1024); /* a new low every second */
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
}

/* 84 %, "ETA 998 ms", 129 iterations (issue 17): the remaining data hovers and now and then
 * shaves a page off its low. That is not progress: the stall rule still fires. */
static void test_stall_despite_tiny_new_lows(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(false, 0);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    drv_migrate_decision d = DRV_MIGRATE_CONTINUE;
    uint64_t t = 0, low = 20 * MIB;
    for (; t < 120000 && d == DRV_MIGRATE_CONTINUE; t += 500) {
        low -= 4096; /* a new low by one page every sample */
        drv_migrate_monitor_sample s = s_at(t, t / 500 + 1, t % 1000 ? low : low + 5 * MIB);
        d = drv_migrate_monitor_decide(&p, &s, &st);
    }
    assert_int_equal(d, DRV_MIGRATE_ABORT_STALLED);
    assert_true(t - 500 <= DRV_MIGRATE_STALL_AFTER_MS_DEFAULT + 500);
    assert_non_null(strstr(st.reason, "stalled"));
    /* a real step (over 1/16 of the low) is progress */
    drv_migrate_monitor_init(&st);
    low = 64 * MIB;
    for (t = 0; t < 120000; t += 1000) {
        low -= low / 10;
        drv_migrate_monitor_sample s = s_at(t, 1, low);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
}

static void test_no_abort_after_postcopy(void **state)
{
    drv_migrate_monitor_params p = drv_migrate_monitor_params_default(true, 10);
    drv_migrate_monitor_state st;
    drv_migrate_monitor_init(&st);
    drv_migrate_monitor_sample s = s_at(1000, 5, 50 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    s = s_at(2000, 6, 50 * MIB);
    assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_SWITCH_POSTCOPY);
    drv_migrate_monitor_postcopy_started(&st);
    /* far past the timeout and stalled: still never an abort */
    for (uint64_t t = 3000; t < 100000; t += 1000) {
        s = s_at(t, 7, 50 * MIB);
        assert_int_equal(drv_migrate_monitor_decide(&p, &s, &st), DRV_MIGRATE_CONTINUE);
    }
    assert_int_equal(st.aborted, DRV_MIGRATE_CONTINUE);
}

static void test_names(void **state)
{
    assert_string_equal(drv_migrate_decision_to_string(DRV_MIGRATE_CONTINUE), "continue");
    assert_string_equal(drv_migrate_decision_to_string(DRV_MIGRATE_ABORT_STALLED), "abort-stalled");
    assert_string_equal(drv_migrate_decision_to_string(DRV_MIGRATE_DECISION_LAST), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converging_precopy_continues),
        cmocka_unit_test(test_postcopy_after_iteration_threshold),
        cmocka_unit_test(test_shrinking_past_threshold_continues),
        cmocka_unit_test(test_never_postcopy_when_not_allowed),
        cmocka_unit_test(test_timeout_aborts_once),
        cmocka_unit_test(test_stall_detected),
        cmocka_unit_test(test_stall_despite_tiny_new_lows),
        cmocka_unit_test(test_no_abort_after_postcopy),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("test_migrate_monitor", tests, NULL, NULL);
}
