/* balance_run.h — the rebalancer run for real (issue 16, docs/observability.md): the plan on the
 * cached snapshot and the stats window's loads (scheduler/balance.h), started as a balance job
 * that the drain runner drives (drain_run.h: each move a child migration
 * "<job>:<domain>:<attempt>", the same caps, resumed after a restart, cancellable) — and the
 * continuous policy that starts one on an interval when the gain is worth it
 * (jobs/balance_policy.h). */
#ifndef DROVER_CTL_BALANCE_RUN_H
#define DROVER_CTL_BALANCE_RUN_H

#include "ctl.h"
#include "job.h"
#include "scheduler.h"

/* The rebalancer's plan now (domains an operation is moving or changing stay where they are).
 * *ret_n_hosts / *ret_n_domains: how many hosts and domains had a load sample (may be NULL).
 * Returns 0 with *ret (drv_sched_balance_plan_destroy), -1 with the planner's error. */
int ctl_balance_plan(ctl *c, const drv_sched_balance_opts *opts, drv_sched_balance_plan **ret,
                     size_t *ret_n_hosts, size_t *ret_n_domains, drv_error **err);

/* Starts plan as a balance job (stored in etcd before any move: ctl_drain_start). Refused with
 * DRV_ERR_UNAVAILABLE while jobs are being taken over, DRV_ERR_CONFLICT while a drain, restore or
 * balance job runs or when the plan has no move. On success *ret_id is the job's id (g_free). */
int ctl_balance_start(ctl *c, const drv_sched_balance_plan *plan, const drv_job_drain_opts *opts,
                      char **ret_id, drv_error **err);

/* The continuous balance ([scheduler] balance_interval_s > 0; jobs/balance_policy.h): when due,
 * the leader plans (default objective and options, N+1 kept) and starts a balance job when the
 * policy says the plan is worth it, cut to the hour's move budget left. The budget is counted in
 * memory: a controller that starts leading counts from zero. Returns ms until it wants to run
 * again. */
int64_t ctl_balance_tick(ctl *c, int64_t now_ms);
/* Frees the policy's state. */
void ctl_balance_shutdown(void);

#endif
