/* prov_store.h — the provisioning objects' records in etcd (pools/<name>, volumes/<pool>/<name>,
 * networks/<name>: JSON documents, docs/provisioning.md) read and written through the controller's
 * etcd worker (store_async.h), so the loop never waits on etcd. Each call takes copies of what it
 * needs; its callback runs later on the loop. key is relative to the prefix ("pools/p1"). */
#ifndef DROVER_CTL_PROV_STORE_H
#define DROVER_CTL_PROV_STORE_H

#include "ctl.h"

#include <json-c/json.h>

/* The outcome of a get: doc is the record (borrowed, NULL when absent or on error). */
typedef void (*ctl_prov_get_fn)(ctl *c, json_object *doc, const drv_error *err, void *data);
/* The outcome of a list: docs are the records (json_object*, borrowed), sorted by key. */
typedef void (*ctl_prov_list_fn)(ctl *c, GPtrArray *docs, const drv_error *err, void *data);
/* The outcome of a write (put or delete). A create-only put that finds the key → DRV_ERR_EXISTS. */
typedef void (*ctl_prov_put_fn)(ctl *c, const drv_error *err, bool attempted, void *data);

/* Each returns -1 with *err when refused at once (then fn is never called), else 0. */
int ctl_prov_get(ctl *c, const char *key, ctl_prov_get_fn fn, void *data, drv_error **err);
int ctl_prov_list(ctl *c, const char *key_prefix, ctl_prov_list_fn fn, void *data, drv_error **err);
/* key := doc (serialised now; doc stays the caller's). create_only: only if absent. */
int ctl_prov_put(ctl *c, const char *key, json_object *doc, bool create_only, ctl_prov_put_fn fn,
                 void *data, drv_error **err);
int ctl_prov_delete(ctl *c, const char *key, ctl_prov_put_fn fn, void *data, drv_error **err);

/* Members of a record: borrowed string or NULL; integer or 0; boolean or false. */
const char *ctl_prov_str(json_object *doc, const char *key);
int64_t ctl_prov_int(json_object *doc, const char *key);
bool ctl_prov_bool(json_object *doc, const char *key);

#endif
