/* store_async.h — the controller's etcd writes and reads as requests to its etcd worker
 * (etcd_worker.h), so the loop never waits on etcd. Each takes copies of what it writes; its
 * callback runs later on the loop with the outcome, after the model was updated with it:
 *  - success: the written object is in the model (unless a newer revision already was);
 *  - a lost compare (DRV_ERR_CONFLICT): the model holds what etcd holds now, ready for a retry;
 *  - any other error: `attempted` tells whether etcd may have applied it (the request was sent
 *    and no answer came) or certainly did not (refused up front, or never sent).
 * A submit that is refused at once (queue full, etcd down past the limit) returns -1 with the
 * error and never calls the callback; the data is then freed with data_free. */
#ifndef DROVER_CTL_STORE_ASYNC_H
#define DROVER_CTL_STORE_ASYNC_H

#include "ctl.h"
#include "etcd_worker.h"

/* The outcome of a domain write. stored: the model's entry after it (borrowed; NULL when the
 * write failed or the domain is gone). */
typedef void (*ctl_async_domain_fn)(ctl *c, ctl_domain *stored, const drv_error *err,
                                    bool attempted, void *data);
/* The outcome of a write with nothing to hand back. */
typedef void (*ctl_async_fn)(ctl *c, const drv_error *err, bool attempted, void *data);

/* Any request (reads of history, snapshots, jobs). done's loop_ctx is the ctl. */
int ctl_async_submit(ctl *c, ctl_etcd_work_fn work, ctl_etcd_done_fn done, void *data,
                     GDestroyNotify data_free, drv_error **err);

/* domains/<name> := copy (owned), if its mod_revision is still expect_mod (0 = must not exist);
 * with a history entry when comment != NULL. */
int ctl_async_put_domain(ctl *c, ctl_domain *copy, int64_t expect_mod, const char *comment,
                         ctl_async_domain_fn fn, void *data, GDestroyNotify data_free,
                         drv_error **err);
/* domains/<name>'s desired state := desired, without a client waiting (putting back the desired
 * state after an action that did not happen): only while the cached desired state is only_if (-1:
 * whatever it is); retried on a conflict, logged on failure. */
void ctl_async_put_desired(ctl *c, const char *name, ctl_desired desired, int only_if);
/* The placement txn (domain CAS + the host's alloc key CAS), see ctl_store_place. */
int ctl_async_place(ctl *c, ctl_domain *copy, int64_t expect_mod, const char *host_id,
                    const char *alloc_json, ctl_async_domain_fn fn, void *data,
                    GDestroyNotify data_free, drv_error **err);
/* Deletes domains/<name>, its history and snapshots; on success removes it from the model. */
int ctl_async_delete_domain(ctl *c, const char *name, ctl_async_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err);
/* key := value / delete key, fire and forget, in submission order (job records, reservations):
 * a refusal or a failure is logged with `what`. Returns -1 (logged too, and in *err) only when
 * refused at once. */
int ctl_async_put_kv(ctl *c, const char *key, const char *value, const char *what, drv_error **err);
int ctl_async_delete_kv(ctl *c, const char *key, const char *what, drv_error **err);
/* key := value with a callback (in the same order as the others): a job that must be in etcd
 * before its next command is sent waits for fn with err == NULL. */
int ctl_async_put_kv_then(ctl *c, const char *key, const char *value, const char *what,
                          ctl_async_fn fn, void *data, GDestroyNotify data_free, drv_error **err);

/* hosts/<id> := the host as it is now (fire and forget, in order; failures are logged). */
void ctl_async_put_host(ctl *c, const ctl_host *h);
/* The same with a callback. */
int ctl_async_put_host_then(ctl *c, const ctl_host *h, ctl_async_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err);

#endif
