/* ha.h — the runner of high availability (docs/ha.md): tells each agent which of its domains are
 * HA (CMD_HA_SET, what it fences), watches silent hosts (`suspected`), asks etcd whether a silent
 * host's own fencing lease expired (`fenced`: only then has it certainly destroyed its HA guests),
 * and restarts those guests elsewhere through the scheduler (jobs/ha_plan.h), by priority, from a
 * stored recovery record (jobs/ha_record.h, etcd `harecover/<host>`) written before any agent is
 * commanded, so a new leader resumes it. Guests that fit nowhere stay `ha-waiting` with the reason.
 * When the fenced host returns, its stale definitions of restarted guests are undefined (never
 * started) and the record is removed. Everything runs on the loop; etcd through the worker. */
#ifndef DROVER_CTL_HA_H
#define DROVER_CTL_HA_H

#include "ctl.h"

typedef struct ctl_ha ctl_ha;

ctl_ha *ctl_ha_new(ctl *c);
void ctl_ha_destroy(ctl_ha **self_p);
/* Timers (leader only, after the load). Returns ms until the next one. */
int64_t ctl_ha_tick(ctl *c, int64_t now_ms);
/* Stepping down: forgets runtime state (records are re-read when leading again). */
void ctl_ha_stop(ctl *c);
/* Recovery records for `cluster status` / `host show`: a JSON array (owned). */
json_object *ctl_ha_status(ctl *c);

#endif
