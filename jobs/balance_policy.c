/* balance_policy.c — see balance_policy.h. */
#include "balance_policy.h"

#include <glib.h>

void drv_balance_policy_init(drv_balance_policy *p)
{
    p->interval_s = 0;
    p->min_gain = DRV_BALANCE_MIN_GAIN_DEFAULT;
    p->min_score = DRV_BALANCE_MIN_SCORE_DEFAULT;
    p->max_moves_per_hour = DRV_BALANCE_MAX_MOVES_PER_HOUR_DEFAULT;
}

const char *drv_balance_verdict_to_string(drv_balance_verdict v)
{
    static const char *const names[] = {"wait", "plan", "start", "skip"};
    return (unsigned)v < G_N_ELEMENTS(names) ? names[v] : NULL;
}

unsigned drv_balance_moves_last_hour(const uint64_t *move_ms, size_t n, uint64_t now_ms)
{
    unsigned k = 0;
    for (size_t i = 0; move_ms != NULL && i < n; i++)
        k += move_ms[i] <= now_ms && move_ms[i] + DRV_BALANCE_HOUR_MS > now_ms;
    return k;
}

drv_balance_verdict drv_balance_policy_due(const drv_balance_policy *p, bool leading,
                                           bool batch_job_running, uint64_t last_run_ms,
                                           unsigned moves_last_hour, uint64_t now_ms,
                                           const char **ret_why)
{
    const char *why = NULL;
    if (p->interval_s == 0)
        why = "continuous balance is off (balance_interval_s = 0)";
    else if (!leading)
        why = "not the leader";
    else if (batch_job_running)
        why = "a drain, restore or balance job runs";
    else if (moves_last_hour >= p->max_moves_per_hour)
        why = "the moves per hour are spent";
    else if (last_run_ms != 0 && now_ms < last_run_ms + (uint64_t)p->interval_s * 1000)
        why = "not due yet";
    if (ret_why != NULL)
        *ret_why = why;
    return why != NULL ? DRV_BALANCE_WAIT : DRV_BALANCE_PLAN;
}

drv_balance_verdict drv_balance_policy_decide(const drv_balance_policy *p,
                                              const drv_sched_balance_plan *plan,
                                              unsigned moves_last_hour, size_t *ret_moves,
                                              char **ret_why)
{
    *ret_moves = 0;
    *ret_why = NULL;
    unsigned left =
        moves_last_hour < p->max_moves_per_hour ? p->max_moves_per_hour - moves_last_hour : 0;
    size_t k = plan->n_moves < left ? plan->n_moves : left;
    /* what the moves that would run gain: the plan's score after its k-th move */
    double gain = k > 0 ? plan->score_before - plan->moves[k - 1].score_after : 0;
    if (plan->n_moves == 0)
        *ret_why = g_strdup_printf("no move: %s", plan->summary ? plan->summary : "empty plan");
    else if (plan->score_before < p->min_score)
        *ret_why = g_strdup_printf("score %.3f is under balance_min_score %.3f", plan->score_before,
                                   p->min_score);
    else if (left == 0)
        *ret_why = g_strdup_printf("%u moves in the last hour: balance_max_moves_per_hour (%u) "
                                   "spent",
                                   moves_last_hour, p->max_moves_per_hour);
    else if (gain < p->min_gain)
        *ret_why = g_strdup_printf("%zu move%s would gain %.3f, under balance_min_gain %.3f", k,
                                   k == 1 ? "" : "s", gain, p->min_gain);
    if (*ret_why != NULL)
        return DRV_BALANCE_SKIP;
    *ret_moves = k;
    return DRV_BALANCE_START;
}
