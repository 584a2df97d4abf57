/* test_balance_policy.c — the continuous balance's decisions (jobs/balance_policy.h): when the
 * planner is due (off by default, leader only, never beside a drain/restore/balance job, the
 * interval, the hourly move budget over a sliding hour) and whether a plan is started (a move, the
 * score and gain thresholds, the plan cut to the budget left, the gain of the moves that would
 * run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "balance_policy.h"

#define T0 1700000000000ULL

static drv_balance_policy s_on(void)
{
    drv_balance_policy p;
    drv_balance_policy_init(&p);
    p.interval_s = 300;
    return p;
}

static void test_defaults_off(void **state)
{
    (void)state;
    drv_balance_policy p;
    drv_balance_policy_init(&p);
    assert_int_equal(p.interval_s, 0);
    assert_int_equal(p.max_moves_per_hour, DRV_BALANCE_MAX_MOVES_PER_HOUR_DEFAULT);
    const char *why = NULL;
    assert_int_equal(drv_balance_policy_due(&p, true, false, 0, 0, T0, &why), DRV_BALANCE_WAIT);
    assert_string_equal(why, "continuous balance is off (balance_interval_s = 0)");
    assert_string_equal(drv_balance_verdict_to_string(DRV_BALANCE_START), "start");
    assert_null(drv_balance_verdict_to_string((drv_balance_verdict)9));
}

static void test_due(void **state)
{
    (void)state;
    drv_balance_policy p = s_on();
    const char *why = NULL;
    /* never ran: due at once */
    assert_int_equal(drv_balance_policy_due(&p, true, false, 0, 0, T0, &why), DRV_BALANCE_PLAN);
    assert_null(why);
    /* the interval */
    assert_int_equal(drv_balance_policy_due(&p, true, false, T0, 0, T0 + 299999, &why),
                     DRV_BALANCE_WAIT);
    assert_string_equal(why, "not due yet");
    assert_int_equal(drv_balance_policy_due(&p, true, false, T0, 0, T0 + 300000, &why),
                     DRV_BALANCE_PLAN);
    /* a follower, a job running, the budget spent */
    assert_int_equal(drv_balance_policy_due(&p, false, false, 0, 0, T0, &why), DRV_BALANCE_WAIT);
    assert_string_equal(why, "not the leader");
    assert_int_equal(drv_balance_policy_due(&p, true, true, 0, 0, T0, &why), DRV_BALANCE_WAIT);
    assert_string_equal(why, "a drain, restore or balance job runs");
    assert_int_equal(drv_balance_policy_due(&p, true, false, 0, 6, T0, &why), DRV_BALANCE_WAIT);
    assert_string_equal(why, "the moves per hour are spent");
    assert_int_equal(drv_balance_policy_due(&p, true, false, 0, 5, T0, NULL), DRV_BALANCE_PLAN);
}

static void test_moves_last_hour(void **state)
{
    (void)state;
    const uint64_t at[] = {T0 - DRV_BALANCE_HOUR_MS, T0 - DRV_BALANCE_HOUR_MS + 1, T0 - 1, T0,
                           T0 + 1};
    /* the sliding hour (now − 1 h, now]: the move exactly an hour ago and a future one left out */
    assert_int_equal(drv_balance_moves_last_hour(at, 5, T0), 3);
    assert_int_equal(drv_balance_moves_last_hour(at, 5, T0 + DRV_BALANCE_HOUR_MS), 1); /* T0 + 1 */
    assert_int_equal(drv_balance_moves_last_hour(NULL, 0, T0), 0);
}

/* A plan of n moves from score 1.0, each taking `step` off the score. */
static drv_sched_balance_plan *s_plan(size_t n, double before, double step)
{
    drv_sched_balance_plan *p = g_new0(drv_sched_balance_plan, 1);
    p->moves = g_new0(drv_sched_balance_move, n + 1);
    p->n_moves = n;
    p->score_before = before;
    double s = before;
    for (size_t i = 0; i < n; i++) {
        s -= step;
        p->moves[i].domain = g_strdup_printf("vm%zu", i);
        p->moves[i].score_after = s;
    }
    p->score_after = s;
    p->refused = g_new0(char *, 1);
    p->summary = g_strdup(n ? "moves" : "nothing worth moving: score 0.000");
    return p;
}

static void test_decide(void **state)
{
    (void)state;
    drv_balance_policy p = s_on();
    size_t k = 99;
    char *why = NULL;
    /* worth it: every move */
    drv_sched_balance_plan *plan = s_plan(3, 1.0, 0.2);
    assert_int_equal(drv_balance_policy_decide(&p, plan, 0, &k, &why), DRV_BALANCE_START);
    assert_int_equal(k, 3);
    assert_null(why);
    /* the budget left cuts it: 4 moves this hour, 2 left */
    assert_int_equal(drv_balance_policy_decide(&p, plan, 4, &k, &why), DRV_BALANCE_START);
    assert_int_equal(k, 2);
    /* spent */
    assert_int_equal(drv_balance_policy_decide(&p, plan, 6, &k, &why), DRV_BALANCE_SKIP);
    assert_int_equal(k, 0);
    assert_string_equal(why, "6 moves in the last hour: balance_max_moves_per_hour (6) spent");
    g_free(why);
    drv_sched_balance_plan_destroy(&plan);

    /* the gain of the moves that would run: 3 moves gain 0.06 in all, the first alone 0.02 */
    p.min_gain = 0.05;
    plan = s_plan(3, 1.0, 0.02);
    assert_int_equal(drv_balance_policy_decide(&p, plan, 0, &k, &why), DRV_BALANCE_START);
    assert_int_equal(k, 3);
    assert_int_equal(drv_balance_policy_decide(&p, plan, 5, &k, &why), DRV_BALANCE_SKIP);
    assert_string_equal(why, "1 move would gain 0.020, under balance_min_gain 0.050");
    g_free(why);
    drv_sched_balance_plan_destroy(&plan);

    /* too little pressure to bother */
    plan = s_plan(1, 0.04, 0.04);
    assert_int_equal(drv_balance_policy_decide(&p, plan, 0, &k, &why), DRV_BALANCE_SKIP);
    assert_string_equal(why, "score 0.040 is under balance_min_score 0.050");
    g_free(why);
    drv_sched_balance_plan_destroy(&plan);

    /* nothing to move */
    plan = s_plan(0, 0, 0);
    assert_int_equal(drv_balance_policy_decide(&p, plan, 0, &k, &why), DRV_BALANCE_SKIP);
    assert_string_equal(why, "no move: nothing worth moving: score 0.000");
    g_free(why);
    drv_sched_balance_plan_destroy(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_off),
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_moves_last_hour),
        cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
