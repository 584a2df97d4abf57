/* drain.h — the plan for emptying one host before maintenance: a destination for each domain placed
 * on it (largest first), honouring every filter and the moves planned before it; the domains that
 * cannot move, with the reason. Pure: the maintenance job executes the plan. */
#include "scheduler.h" /* first: the umbrella includes this header after its core types */

#ifndef DROVER_SCHED_DRAIN_H
#define DROVER_SCHED_DRAIN_H

typedef struct {
    char *domain;
    char *dest; /* destination host id, NULL when the domain cannot move */
    uint32_t vcpus;
    uint64_t memory_kib;
    bool running;             /* shut-off domains only need a host that passes the non-capacity
                                 filters; they book no room */
    char *reason;             /* when dest is NULL: drv_sched_explain() of the refusal, or
                                 "no destination keeps N+1 (loss of HOST)"; else NULL */
    drv_sched_result *result; /* the placement decision behind this step (owned) */
} drv_sched_drain_step;

typedef struct {
    bool n_plus_one; /* only choose destinations after which the cluster minus the drained
                        host still survives the loss of any one host */
} drv_sched_drain_opts;

typedef struct {
    char *host;                  /* the drained host */
    drv_sched_drain_step *steps; /* largest first (memory, then vCPUs, then name) */
    size_t n_steps;
    size_t n_unmovable; /* steps with dest == NULL */
    /* Only with opts.n_plus_one (n_plus_one_checked true): whether, with every movable domain
     * moved, the cluster minus the drained host survives the loss of any one host; breaker = the
     * first host whose loss cannot be absorbed, else NULL. */
    bool n_plus_one_checked;
    bool n_plus_one_after;
    char *n_plus_one_breaker;
} drv_sched_drain_plan;

/* Plans the drain of host_id. The host may be in any state (draining a preparing-maintenance host
 * is the normal case); destinations are always other hosts. Returns 0 with *ret set (also when some
 * domains cannot move), -1 with DRV_ERR_NOT_FOUND for an unknown host. opts NULL = defaults. Cost:
 * O(domains on the host × hosts × feature words), plus N+1 checks when asked. */
int drv_sched_drain_plan_compute(const drv_sched_cluster *cluster, const char *host_id,
                                 const drv_sched_drain_opts *opts, drv_sched_drain_plan **ret,
                                 drv_error **err);
void drv_sched_drain_plan_destroy(drv_sched_drain_plan **plan_p);

#endif
