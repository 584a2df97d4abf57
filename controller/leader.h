/* leader.h — leader election on a lease-backed `leader` key: create-if-absent txn with a lease, on
 * its own etcd worker (the loop never waits); while leading, the lease is refreshed every ttl/3 by
 * the lease keeper's own thread and etcd handle (lease_keeper.h), so no turn of the loop, however
 * long, delays it. It reports its transitions (ctl_leader_transitions, wired by main.c: the
 * agents' ROUTER is bound while leading); the leader serves every verb; a standby serves reads from
 * its cache (marked stale) and tries again every second, so it takes over when the leader's lease
 * expires. A leader that cannot confirm its lease within the ttl (measured from when the keepalive
 * was sent) steps down locally but keeps the lease id: when etcd answers again and the lease is
 * still alive and still holds the key, it is the leader again at once instead of waiting for its
 * own key to expire. */
#ifndef DROVER_CTL_LEADER_H
#define DROVER_CTL_LEADER_H

#include "ctl.h"

/* What leading means to the rest of the controller, wired by main.c (the leader module only
 * reports its transitions). */
typedef struct {
    /* won (or regained) the leadership: start serving agents. 0 = serving; 1 = not yet (try again
     * on a later tick: the endpoint is still being released); -1 = cannot serve (err set): the
     * leadership is given back and tried again later. */
    int (*lead)(ctl *c, drv_error **err);
    /* lost it (or gave it back): stop serving agents. */
    void (*follow)(ctl *c);
} ctl_leader_transitions;

/* transitions is borrowed and must outlive the leader (main.c's static table). */
ctl_leader *ctl_leader_new(ctl *c, const ctl_leader_transitions *transitions);
/* Revokes the lease when leading (a standby takes over at once). */
void ctl_leader_destroy(ctl_leader **self_p);
/* Acquires / refreshes / steps down. Returns ms until it wants to run again (never negative); err
 * is kept for future fatal conditions. When the agent socket cannot be bound after winning, the
 * leadership is given back (lease revoked) and retried later. */
int64_t ctl_leader_tick(ctl_leader *self, int64_t now_ms, drv_error **err);
/* Leading, and the lease is still certain to be alive now (checked at each call, not only at the
 * last tick). */
bool ctl_leader_is(const ctl_leader *self);
/* The leader worker's completion fd (for the loop's poll) and its dispatch. */
int ctl_leader_fd(const ctl_leader *self);
void ctl_leader_dispatch(ctl_leader *self);
/* The leader's name as last read (borrowed; "unknown" when not known). */
const char *ctl_leader_name(const ctl_leader *self);

#endif
