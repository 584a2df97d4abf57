/* placement.h — glue between the cache and the pure scheduler: builds a scheduler snapshot from the
 * model (hosts' capacity, placed domains' allocations) and answers placement, capacity, drain-plan
 * and CPU-baseline questions. No I/O. */
#ifndef DROVER_CTL_PLACEMENT_H
#define DROVER_CTL_PLACEMENT_H

#include "ctl.h"
#include "scheduler.h"

/* A scheduler cluster mirroring the model. `starting` (may be NULL) is counted as not running, so
 * its own old allocation does not stand in its way. Never NULL. */
drv_sched_cluster *ctl_placement_cluster(ctl *c, const char *starting);
/* Chooses a host for d: its current host when that host can take it, else the scheduler's choice.
 * Hosts in `avoid` (NULL-terminated, may be NULL) are skipped. Returns 0 and *ret_host (owned), or
 * -1 with DRV_ERR_NO_ROOM and the scheduler's explanation ("domain 'x': no host has ..."). */
int ctl_placement_choose(ctl *c, const ctl_domain *d, char *const *avoid, char **ret_host,
                         drv_error **err);
/* Several placements chosen on one snapshot (docs/scale.md, "Placement batching"): each choice
 * is ctl_placement_choose's (no hosts avoided) and books the domain, running, on its host in the
 * snapshot, so the choices after it see it; a domain that does not fit keeps what it booked. */
typedef struct ctl_placement_batch ctl_placement_batch;
ctl_placement_batch *ctl_placement_batch_new(ctl *c);
int ctl_placement_batch_choose(ctl_placement_batch *b, const ctl_domain *d, char **ret_host,
                               drv_error **err);
void ctl_placement_batch_free(ctl_placement_batch *b);
/* The alloc/<host> value written with a placement: {"vcpus":N,"memory_kib":N,"domains":N} (owned).
 */
char *ctl_placement_alloc_json(ctl *c, const char *host_id);
/* The placement txn of a runner (HA) was answered: ends c->placing and lets the next waiting
 * placement choose (c->placement_released). */
void ctl_placement_turn_over(ctl *c);

#endif
