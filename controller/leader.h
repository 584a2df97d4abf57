/* leader.h — leader election on a lease-backed `leader` key: create-if-absent txn with a lease,
 * refreshed every ttl/3. The leader accepts agents (starts the broker) and serves clients; a
 * standby answers "not the leader (leader is X)" and tries again every second, so it takes over
 * when the leader's lease expires. */
#ifndef DROVER_CTL_LEADER_H
#define DROVER_CTL_LEADER_H

#include "ctl.h"

ctl_leader *ctl_leader_new(ctl *c);
/* Revokes the lease when leading (a standby takes over at once). */
void ctl_leader_destroy(ctl_leader **self_p);
/* Acquires / refreshes / steps down. Returns ms until it wants to run again (never negative); err
 * is kept for future fatal conditions. When the agent socket cannot be bound after winning, the
 * leadership is given back (lease revoked) and retried later. */
int64_t ctl_leader_tick(ctl_leader *self, int64_t now_ms, drv_error **err);
bool ctl_leader_is(const ctl_leader *self);
/* The leader's name as last read (borrowed; "unknown" when not known). */
const char *ctl_leader_name(const ctl_leader *self);

#endif
