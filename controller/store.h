/* store.h — the controller's etcd I/O: key names under the prefix, loading the cache, and every
 * write as a compare-and-swap transaction on revisions. Blocking (bounded by the etcd client's
 * timeout). */
#ifndef DROVER_CTL_STORE_H
#define DROVER_CTL_STORE_H

#include "error.h"
#include "etcd.h"
#include "model.h"
#include "view.h"

typedef struct ctl_store ctl_store;

/* tls: NULL for plain http endpoints; copied. */
ctl_store *ctl_store_new(char *const *endpoints, const char *prefix, long timeout_ms,
                         const drv_etcd_tls *tls, drv_error **err);
void ctl_store_destroy(ctl_store **self_p);
drv_etcd *ctl_store_etcd(ctl_store *self);
const char *ctl_store_prefix(const ctl_store *self);
/* prefix + printf(fmt, ...); owned. */
char *ctl_store_key(const ctl_store *self, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Reads hosts/, domains/ and alloc/ into an empty model; *ret_revision = the store revision read.
 */
int ctl_store_load(ctl_store *self, ctl_model *m, int64_t *ret_revision, drv_error **err);
/* Starts a watch over the whole prefix from revision from_rev. */
drv_etcd_watch *ctl_store_watch(ctl_store *self, int64_t from_rev, drv_error **err);

typedef enum {
    CTL_CHANGE_NONE = 0,
    CTL_CHANGE_HOST,
    CTL_CHANGE_HOST_DELETED,
    CTL_CHANGE_DOMAIN,
    CTL_CHANGE_DOMAIN_DELETED,
} ctl_change;
/* Marks a write of hosts/<id> as on its way (+1) or answered (-1). While any is on its way the
 * cached host is newer than etcd, and watch events for it are not applied. */
void ctl_store_hold_host(ctl_store *self, const char *id, int delta);
/* Host writes coalesced (docs/scale.md, "Registration waves"): whether a write of hosts/<id> of
 * ours is on its way; marking the host to be written again once it is answered; and taking that
 * mark (true once per mark). */
bool ctl_store_host_held(ctl_store *self, const char *id);
void ctl_store_host_mark_dirty(ctl_store *self, const char *id);
bool ctl_store_host_take_dirty(ctl_store *self, const char *id);
/* Applies one watch event to the model unless it is older than the cached object (our own write).
 * *ret_name (owned) names the changed object. */
ctl_change ctl_store_apply(ctl_store *self, ctl_model *m, const drv_etcd_event *ev,
                           char **ret_name);

/* Re-reads domains/<name> (removing it from the model when gone) or alloc/<host> from etcd: what a
 * writer does after losing a compare. */
int ctl_store_refresh_domain(ctl_store *self, ctl_model *m, const char *name, drv_error **err);
int ctl_store_refresh_alloc(ctl_store *self, ctl_model *m, const char *host_id, drv_error **err);

/* The raw current value of domains/<name> / alloc/<host> (for a writer that lost a compare; runs
 * anywhere, touches no model), and applying such a read to the model on the loop: a missing domain
 * is removed, a newer one replaces the cached one, an older one is ignored. */
int ctl_store_get_domain_kv(ctl_store *self, const char *name, drv_etcd_range *ret,
                            drv_error **err);
int ctl_store_get_alloc_kv(ctl_store *self, const char *host_id, drv_etcd_range *ret,
                           drv_error **err);
void ctl_store_apply_domain_kv(ctl_store *self, ctl_model *m, const char *name,
                               const drv_etcd_range *r);
void ctl_store_apply_alloc_kv(ctl_model *m, const char *host_id, const drv_etcd_range *r);
/* Writes a host document serialised on the loop (ctl_view_host_store). *ret_revision its revision.
 */
int ctl_store_put_host_json(ctl_store *self, const char *id, const char *json,
                            int64_t *ret_revision, drv_error **err);

/* Writes hosts/<id> (unconditionally: the leader owns hosts) and updates h->mod_revision. */
int ctl_store_put_host(ctl_store *self, ctl_host *h, drv_error **err);
/* Writes domains/<name> if its mod_revision is still expect_mod (0 = must not exist), plus, when
 * history_xml != NULL, history/<name>/<d->revision>. A lost compare → DRV_ERR_CONFLICT. Updates
 * d->mod_revision on success. */
int ctl_store_put_domain(ctl_store *self, ctl_domain *d, int64_t expect_mod,
                         const char *history_comment, drv_error **err);
/* Places d on host h: writes domains/<name> (compare expect_mod) and bumps alloc/<host> (compare
 * h->alloc_mod_revision) in one txn, so two placements racing for the same host cannot both win.
 * A lost compare → DRV_ERR_CONFLICT. */
int ctl_store_place(ctl_store *self, ctl_domain *d, int64_t expect_mod, ctl_host *h,
                    const char *alloc_json, drv_error **err);
/* Deletes domains/<name>, its history and its snapshots. */
int ctl_store_delete_domain(ctl_store *self, const char *name, drv_error **err);

/* History entries of a domain, oldest first (range result; clear with drv_etcd_range_clear). */
int ctl_store_history(ctl_store *self, const char *name, drv_etcd_range *ret, drv_error **err);
/* 1 and the entry's JSON (owned), 0 if there is no such revision, -1 on error. */
int ctl_store_history_get(ctl_store *self, const char *name, int64_t revision, char **ret_json,
                          drv_error **err);
int64_t ctl_store_history_count(ctl_store *self, const char *name, drv_error **err);

int ctl_store_put_snapshot(ctl_store *self, const char *domain, const ctl_snapshot *s,
                           drv_error **err);
int ctl_store_delete_snapshot(ctl_store *self, const char *domain, const char *name,
                              drv_error **err);
/* Stored snapshots of a domain: a GPtrArray of ctl_snapshot* (free with g_ptr_array_unref). */
int ctl_store_snapshots(ctl_store *self, const char *domain, GPtrArray **ret, drv_error **err);

#endif
