/* ha_plan.h — high availability's pure decisions (docs/ha.md): whether a silent host has certainly
 * fenced itself, and where the HA domains of a fenced host restart. No I/O, no clock: the caller
 * passes what etcd and the broker said, and a scheduler snapshot.
 *
 * Ownership as in scheduler.h: inputs are borrowed, results are owned by the caller and freed with
 * drv_ha_plan_destroy(). */
#ifndef DROVER_HA_PLAN_H
#define DROVER_HA_PLAN_H

#include "scheduler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What etcd said about a host's fencing lease (the agent's own lease, docs/ha.md). */
typedef enum {
    DRV_HA_LEASE_UNKNOWN = 0, /* not asked yet, or etcd did not answer */
    DRV_HA_LEASE_NONE,        /* the host never published a fencing lease (fence/<host> absent) */
    DRV_HA_LEASE_ALIVE,       /* TTL > 0: the agent renews it, or may still */
    DRV_HA_LEASE_EXPIRED,     /* etcd says the lease is gone: the agent has fenced (or is dead) */
    DRV_HA_LEASE_LAST
} drv_ha_lease;

/* The controller's verdict on one host. */
typedef enum {
    DRV_HA_HOST_HEALTHY = 0, /* its agent talks to the leader: nothing to do */
    DRV_HA_HOST_SUSPECTED,   /* silent, but its lease may still be renewed: wait, restart nothing */
    DRV_HA_HOST_FENCED,      /* silent and its lease expired: its HA guests may restart elsewhere */
    DRV_HA_HOST_UNFENCEABLE, /* silent and it has no fencing lease: nothing proves it stopped */
    DRV_HA_HOST_LAST
} drv_ha_host;

const char *drv_ha_lease_to_string(drv_ha_lease lease);
const char *drv_ha_host_to_string(drv_ha_host verdict);

/* The verdict. An expired lease fences even a host that talks to the controller (its agent could
 * not reach etcd and destroyed its HA guests itself); a silent host is fenced only on an expired
 * lease, never on silence alone, on an unanswered etcd or on a missing record. */
drv_ha_host drv_ha_host_verdict(bool reachable, drv_ha_lease lease);

/* One HA domain to restart: the scheduler request that describes it (req.name required) and its
 * policy. */
typedef struct {
    drv_sched_request req;
    int32_t priority;       /* higher first */
    uint32_t restarts;      /* HA restarts so far */
    uint32_t restart_limit; /* 0 = no limit */
} drv_ha_candidate;

typedef struct {
    char *domain;
    char *host;   /* where it restarts; NULL when it waits */
    char *reason; /* why it waits (the scheduler's explanation, or the restart limit); else NULL */
} drv_ha_decision;

typedef struct {
    drv_ha_decision *decisions; /* in restart order: priority (high first), then name */
    size_t n;
    size_t n_waiting;
} drv_ha_plan;

/* Plans the restart of cands on cluster (not modified): in priority order, each placed by the
 * scheduler on a copy of the cluster that books the ones before it, so when room is short the
 * lower priorities wait. A candidate over its restart limit waits without being placed. Returns 0
 * and *ret, or -1 (DRV_ERR_INVALID: a candidate without a name, or a malformed request). */
int drv_ha_plan_restarts(const drv_sched_cluster *cluster, const drv_ha_candidate *cands,
                         size_t n_cands, drv_ha_plan **ret, drv_error **err);
/* What-if (the N+1 question): the plan if host_id were lost now — the same, on a copy of the
 * cluster where host_id is unreachable. DRV_ERR_NOT_FOUND for an unknown host. */
int drv_ha_plan_host_loss(const drv_sched_cluster *cluster, const char *host_id,
                          const drv_ha_candidate *cands, size_t n_cands, drv_ha_plan **ret,
                          drv_error **err);
void drv_ha_plan_destroy(drv_ha_plan **plan_p);

#endif
