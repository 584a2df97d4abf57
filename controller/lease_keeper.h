/* lease_keeper.h — keeps the leader's etcd lease alive from its own thread, with its own etcd
 * handle, so that however long one turn of the controller's loop takes (a burst of client work,
 * thousands of agent messages), the keepalive still goes out every ttl/3. At 1,000 simulated hosts
 * under 50 parallel defines the loop sent the keepalive too late, the lease ran out and the
 * controller flapped (docs/scale.md).
 *
 * Each round (on the thread): keep the lease alive, then read the leader key and check the lease
 * still holds it. A confirmed round makes the lease certain to live until the moment the round was
 * sent + ttl (`valid_until`); etcd saying the lease expired, or the key held by another lease (or
 * gone), makes it lost. Anything else (timeout, etcd unreachable) is retried every ttl/6 while
 * `valid_until` runs out. The loop reads the verdict (ctl_lease_keeper_state) without waiting.
 *
 * The etcd calls go through a small table of functions (fakes in the unit test). */
#ifndef DROVER_CTL_LEASE_KEEPER_H
#define DROVER_CTL_LEASE_KEEPER_H

#include "error.h"
#include "etcd.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ctl_lease_keeper ctl_lease_keeper;

typedef struct {
    /* Refreshes the lease: 0, or -1 with *err (DRV_ERR_NOT_FOUND: the lease expired). */
    int (*keepalive)(void *ctx, int64_t lease, drv_error **err);
    /* Reads the leader key: *ret_holder = the lease holding it (0 when the key is absent). */
    int (*holder)(void *ctx, int64_t *ret_holder, drv_error **err);
    void *ctx;
} ctl_lease_keeper_ops;

typedef enum {
    CTL_LEASE_NONE = 0,    /* no lease kept */
    CTL_LEASE_HELD,        /* confirmed: lives at least until valid_until */
    CTL_LEASE_UNCONFIRMED, /* past valid_until with no confirmation: may have expired */
    CTL_LEASE_LOST,        /* etcd said the lease expired, or the key is not (or no longer) ours */
} ctl_lease_state;

/* Starts the thread. ops is copied; ops->ctx must outlive the keeper. ttl_ms is the lease's ttl. */
ctl_lease_keeper *ctl_lease_keeper_new(const ctl_lease_keeper_ops *ops, int64_t ttl_ms);
/* Keeps the lease on its own etcd handle (endpoints, timeout, tls as the store's), reading the key
 * `leader_key` (absolute, prefix included). NULL with *err when the handle cannot be made. */
ctl_lease_keeper *ctl_lease_keeper_new_etcd(char *const *endpoints, long timeout_ms,
                                            const drv_etcd_tls *tls, const char *leader_key,
                                            int64_t ttl_ms, drv_error **err);
/* Stops the thread (waits for a round in progress, bounded by the etcd timeout). NULL-safe. */
void ctl_lease_keeper_destroy(ctl_lease_keeper **self_p);

/* Keeps `lease` from now on, known to live until valid_until_ms (monotonic ms, g_get_monotonic_time
 * / 1000); the first round goes out at once. Replaces any lease kept before. */
void ctl_lease_keeper_keep(ctl_lease_keeper *self, int64_t lease, int64_t valid_until_ms);
/* Stops keeping any lease (a round in flight is ignored when it comes back). */
void ctl_lease_keeper_drop(ctl_lease_keeper *self);
/* The kept lease's state at now_ms; ret_valid_until_ms (optional) gets the time it is certain to
 * live until. ret_why (optional, owned) says why when LOST. */
ctl_lease_state ctl_lease_keeper_state(ctl_lease_keeper *self, int64_t now_ms,
                                       int64_t *ret_valid_until_ms, char **ret_why);
/* Rounds confirmed since the keeper started (for tests and status). */
uint64_t ctl_lease_keeper_confirmed(ctl_lease_keeper *self);

#endif
