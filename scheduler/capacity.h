/* capacity.h — "how many more domains of this size fit?", per host and in total, optionally keeping
 * N+1 (room to restart every domain of any single failed host elsewhere), and "how many hosts may
 * be down at once with everything still placed". Pure: works the same on a live cluster and on one
 * loaded from a snapshot file. */
#include "scheduler.h" /* first: the umbrella includes this header after its core types */

#ifndef DROVER_SCHED_CAPACITY_H
#define DROVER_SCHED_CAPACITY_H

/* What stops a host from taking one more domain of the shape. */
typedef enum {
    DRV_SCHED_LIMIT_MEMORY = 0, /* "memory": memory runs out first */
    DRV_SCHED_LIMIT_VCPUS,      /* "vcpus": vCPUs run out first */
    DRV_SCHED_LIMIT_BOTH,       /* "memory+vcpus": both run out at the same count */
    DRV_SCHED_LIMIT_FILTER,     /* "filter": refused by a non-capacity filter, see rejected_by */
    DRV_SCHED_LIMIT_GROUP,      /* "anti-affinity": the shape's anti-affinity group allows one */
    DRV_SCHED_LIMIT_LAST
} drv_sched_limit;

const char *drv_sched_limit_to_string(drv_sched_limit limit);

typedef struct {
    char *host;
    uint64_t fits;                /* more domains of the shape this host alone takes */
    drv_sched_limit limit;        /* what stops the (fits+1)-th */
    drv_sched_filter rejected_by; /* for LIMIT_FILTER: the first refusing filter, else _LAST */
    int64_t vcpus_free;           /* now, after ratios */
    int64_t memory_free_kib;
} drv_sched_host_capacity;

typedef struct {
    bool n_plus_one; /* compute the N+1 figures (costs more) */
    bool hosts_down; /* compute hosts_may_fail */
} drv_sched_capacity_opts;

typedef struct {
    /* Domains of the shape that successive drv_sched_place() calls would place, booking each. For a
     * shape without groups this is the sum of the per-host figures. */
    uint64_t total;
    drv_sched_host_capacity *hosts; /* one per host, in cluster order */
    size_t n_hosts;

    /* With opts.n_plus_one: */
    bool n_plus_one_computed;
    /* Whether the cluster as it is (before adding anything) survives the loss of any one host. */
    bool n_plus_one_now;
    /* The largest k (0 <= k <= total) such that after placing k domains of the shape with
     * drv_sched_place() semantics, the loss of any single host still leaves room to restart every
     * running domain it held on the other active, reachable hosts. 0 when !n_plus_one_now. */
    uint64_t n_plus_one_total;
    /* When k < total: the host whose loss breaks N+1 at k+1 (owned by the result), else NULL. */
    char *n_plus_one_breaker;

    /* With opts.hosts_down: the largest f such that, when the f hosts holding the most running
     * memory fail together, every running domain they held can be restarted elsewhere (a documented
     * worst-case heuristic: see docs/scheduler.md). 0 when the cluster does not survive the loss
     * of one host; at most the number of hosts. */
    bool hosts_down_computed;
    int64_t hosts_may_fail;
} drv_sched_capacity;

/* Computes capacity for domains shaped like `shape` (vcpus, memory, arch, features, pools, labels,
 * groups and avoid_hosts all apply; shape->name is ignored). opts NULL = neither N+1 nor
 * hosts-down. Returns 0 with *ret set, or -1 (DRV_ERR_INVALID) for a shape with vcpus and memory
 * both 0 (infinitely many would fit). Costs: O(hosts) without options; with N+1 about
 * O(total × hosts + log(total) × running domains × hosts scanned) — see docs/scheduler.md. */
int drv_sched_capacity_compute(const drv_sched_cluster *cluster, const drv_sched_request *shape,
                               const drv_sched_capacity_opts *opts, drv_sched_capacity **ret,
                               drv_error **err);
void drv_sched_capacity_destroy(drv_sched_capacity **capacity_p);

/* Whether the cluster survives the loss of any single active host: every running domain of that
 * host can be restarted on the remaining active, reachable hosts (honouring all filters). On false
 * and ret_breaker != NULL, stores the first host whose loss cannot be absorbed (borrowed from the
 * cluster). */
bool drv_sched_cluster_survives_one_loss(const drv_sched_cluster *cluster,
                                         const char **ret_breaker);

#endif
