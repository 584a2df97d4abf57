/* snapshot_async.h — a domain's snapshot records in etcd (snapshots/<domain>/<name>), read and
 * changed on the etcd worker: the loop never waits on them. Each read-modify-write (the current
 * mark, forgetting one and re-parenting its children) runs as one request, in submission order
 * with every other etcd request of the loop. */
#ifndef DROVER_CTL_SNAPSHOT_ASYNC_H
#define DROVER_CTL_SNAPSHOT_ASYNC_H

#include "ctl.h"
#include "store_async.h"
#include "view.h"

/* snaps: ctl_snapshot* (borrowed), NULL with err. */
typedef void (*ctl_snap_list_fn)(ctl *c, GPtrArray *snaps, const drv_error *err, void *data);

/* Every stored snapshot of domain. On a refusal returns -1 and never calls fn. */
int ctl_snap_async_list(ctl *c, const char *domain, ctl_snap_list_fn fn, void *data,
                        GDestroyNotify data_free, drv_error **err);
/* Stores s as the domain's current snapshot (every other one loses the mark). */
int ctl_snap_async_store(ctl *c, const char *domain, const ctl_snapshot *s, ctl_async_fn fn,
                         void *data, GDestroyNotify data_free, drv_error **err);
/* Marks current (NULL: none) as the current snapshot; logged, nobody waits. */
void ctl_snap_async_mark_current(ctl *c, const char *domain, const char *current);
/* Forgets a snapshot deleted on the host the way libvirt does: its children get its parent, and
 * when it was current its parent becomes current. */
int ctl_snap_async_forget(ctl *c, const char *domain, const char *name, ctl_async_fn fn, void *data,
                          GDestroyNotify data_free, drv_error **err);

#endif
