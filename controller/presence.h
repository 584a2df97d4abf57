/* presence.h — every controller, leading or standing by, announces itself in etcd
 * (`controllers/<name>` = {"name", "instance", "client_bind", "agent_bind", "seen_ms"}, attached to
 * a lease of its own that it renews every 2 s, TTL 10 s, so a dead controller's entry goes by
 * itself) and reads the others' entries back, so `cluster status` on any of them lists every live
 * controller and which one leads (the holder of the `leader` key). Through the etcd worker; the
 * loop never waits. */
#ifndef DROVER_CTL_PRESENCE_H
#define DROVER_CTL_PRESENCE_H

#include "ctl.h"

typedef struct ctl_presence ctl_presence;

ctl_presence *ctl_presence_new(ctl *c);
void ctl_presence_destroy(ctl_presence **self_p);
/* Announces and reads back (at most every 2 s). Returns ms until the next round. */
int64_t ctl_presence_tick(ctl *c, int64_t now_ms);
/* The controllers last read, by name, each with "leading" (its name holds the leader key) and
 * "self"; this controller is always listed (owned array). */
json_object *ctl_presence_list(ctl *c);

#endif
