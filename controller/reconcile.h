/* reconcile.h — desired vs actual: what the controller does when an agent (re)registers, sends an
 * inventory or a libvirt event, or when a host's reachability changes. Drift is reported (events
 * and the domain object's "drift"), autostart domains that should run are started again when their
 * host returns, and a domain found running where the cluster did not place it is reported — never
 * destroyed. */
#ifndef DROVER_CTL_RECONCILE_H
#define DROVER_CTL_RECONCILE_H

#include "agent_cmd.h"
#include "ctl.h"

/* After a Register or Inventory replaced h's inventory. An inventory that is not authoritative
 * (libvirt disconnected, ctl_host_unknown_reason) decides nothing: only state events go out. */
void ctl_reconcile_inventory(ctl *c, ctl_host *h, bool registered_now);
/* After a libvirt event for `domain` on h (inventory already updated). kind = wire EventKind. */
void ctl_reconcile_event(ctl *c, ctl_host *h, int kind, const char *domain,
                         const char *detail_text);
/* After h became reachable or unreachable (already stored). */
void ctl_reconcile_reachability(ctl *c, ctl_host *h);

#endif
