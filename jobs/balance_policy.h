/* balance_policy.h — the continuous balance's decisions (issue 16, docs/observability.md): when the
 * leader runs the rebalancer, and whether the plan it got is worth a balance job. Pure: no I/O, no
 * clock (times are passed in). The controller (controller/balance_run.c) feeds it the config
 * ([balance]), what runs, the moves it launched in the last hour and the plan.
 *
 * A plan is started only when
 *   - the policy is on (interval_s > 0) and this controller leads;
 *   - no drain, restore or balance job runs (never two batch jobs at once);
 *   - the plan has a move, its score before is at least min_score (there is pressure at all) and
 *     the moves that would run gain at least min_gain (score before − the score after the last of
 *     them);
 *   - the move budget is not spent: at most max_moves_per_hour moves launched by the policy in any
 *     sliding hour; a plan with more moves than the budget left is cut to the budget (the first
 *     moves, the ones that gain most). */
#ifndef DROVER_BALANCE_POLICY_H
#define DROVER_BALANCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"

#define DRV_BALANCE_HOUR_MS (3600ULL * 1000ULL)

typedef struct {
    unsigned interval_s;         /* 0 = off (the default) */
    double min_gain;             /* the plan's total gain must reach this; default 0.05 */
    double min_score;            /* the score before must reach this; default 0.05 */
    unsigned max_moves_per_hour; /* default 6; 0 = no move ever */
} drv_balance_policy;

#define DRV_BALANCE_MIN_GAIN_DEFAULT           0.05
#define DRV_BALANCE_MIN_SCORE_DEFAULT          0.05
#define DRV_BALANCE_MAX_MOVES_PER_HOUR_DEFAULT 6

void drv_balance_policy_init(drv_balance_policy *p);

typedef enum {
    DRV_BALANCE_WAIT = 0, /* nothing to do now (off, not due, a job runs, budget spent, ...) */
    DRV_BALANCE_PLAN,     /* due: run the planner */
    DRV_BALANCE_START,    /* start the plan (cut to *ret_moves moves) */
    DRV_BALANCE_SKIP,     /* the plan is not worth it (why says) */
} drv_balance_verdict;

const char *drv_balance_verdict_to_string(drv_balance_verdict v);

/* Moves launched by the policy in the hour up to now_ms (times in ms; others ignored). */
unsigned drv_balance_moves_last_hour(const uint64_t *move_ms, size_t n, uint64_t now_ms);

/* Whether the planner is due at now_ms: the policy is on, leading, no batch job runs,
 * interval_s since last_run_ms (0 = never ran: due at once), and budget left. Returns PLAN or
 * WAIT; *ret_why (may be NULL) gets a static sentence for WAIT, NULL for PLAN. */
drv_balance_verdict drv_balance_policy_due(const drv_balance_policy *p, bool leading,
                                           bool batch_job_running, uint64_t last_run_ms,
                                           unsigned moves_last_hour, uint64_t now_ms,
                                           const char **ret_why);

/* Whether plan is worth starting: START with *ret_moves (≥ 1, ≤ plan->n_moves, ≤ budget left) or
 * SKIP with *ret_why (owned sentence, g_free) naming the threshold that was not reached. */
drv_balance_verdict drv_balance_policy_decide(const drv_balance_policy *p,
                                              const drv_sched_balance_plan *plan,
                                              unsigned moves_last_hour, size_t *ret_moves,
                                              char **ret_why);

#endif
