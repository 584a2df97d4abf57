/* api_hostkeys.c — `host.enroll ID KEY` and `host.remove ID` (admin): the agents' allow-list.
 * etcd hostkeys/<id> holds the z85 CURVE public key bound to the host id; the ZAP handler and the
 * broker read the model's copy of it (zap.h). Both verbs write through the etcd worker and answer
 * once etcd did; the model follows at once (and from the watch on every other controller). */
#include "api_private.h"

#include "ctl_io.h"
#include "curve.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

typedef struct {
    ctl_req *r;
    char *key_path;   /* hostkeys/<id> */
    char *host_path;  /* remove: hosts/<id> */
    char *alloc_path; /* remove: alloc/<id> */
    char *value;      /* enroll: the z85 key */
} s_keyreq;

static void s_keyreq_free(s_keyreq *q)
{
    g_free(q->key_path);
    g_free(q->host_path);
    g_free(q->alloc_path);
    g_free(q->value);
    g_free(q);
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_keyreq *q = data;
    drv_etcd *etcd = ctl_store_etcd(store);
    if (q->value != NULL)
        return drv_etcd_put(etcd, q->key_path, strlen(q->key_path), q->value, strlen(q->value), 0,
                            NULL, err);
    if (drv_etcd_delete(etcd, q->key_path, strlen(q->key_path), false, NULL, NULL, err) < 0 ||
        drv_etcd_delete(etcd, q->alloc_path, strlen(q->alloc_path), false, NULL, NULL, err) < 0 ||
        drv_etcd_delete(etcd, q->host_path, strlen(q->host_path), false, NULL, NULL, err) < 0)
        return -1;
    return 0;
}

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl *c = loop_ctx;
    s_keyreq *q = data;
    ctl_req *r = q->r;
    const char *id = r->host;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "host '%s': %s %s: %s", id,
                      q->value != NULL ? "enrolment" : "removal",
                      attempted ? "may not be stored" : "not stored", err->message);
    } else if (q->value != NULL) {
        ctl_model_bind_key(c->model, id, q->value);
        drv_info("host '%s' enrolled with key %s", id, q->value);
        json_object *doc = ctl_view_named("id", id);
        json_object_object_add(doc, "key", json_object_new_string(q->value));
        ctl_req_ok(r, doc);
    } else {
        ctl_model_unbind_key(c->model, id);
        if (ctl_model_host(c->model, id) != NULL)
            ctl_model_remove_host(c->model, id);
        drv_info("host '%s' removed: its key is revoked", id);
        g_autofree char *topic = g_strdup_printf("host.%s", id);
        ctl_publish(c, topic, "removed", ctl_view_named("id", id));
        ctl_req_ok(r, ctl_view_named("id", id));
    }
    s_keyreq_free(q);
}

static void s_submit(ctl_req *r, s_keyreq *q)
{
    q->r = r;
    drv_error *err = NULL;
    if (ctl_async_submit(r->c, s_work, s_done, q, NULL, &err) < 0) {
        s_keyreq_free(q);
        ctl_req_fail(r, err);
    }
}

void ctl_api_host_enroll(ctl_req *r)
{
    const char *id = r->args[0], *key = r->args[1];
    const char *why = drv_name_invalid(id);
    if (why != NULL) {
        ctl_req_usage(r, "host.enroll: '%s' is not a valid host id: %s", id, why);
        return;
    }
    if (!drv_curve_key_valid(key)) {
        ctl_req_usage(r, "host.enroll: '%s' is not a z85 CURVE public key (40 characters)", key);
        return;
    }
    const char *other = ctl_model_key_host(r->c->model, key);
    if (other != NULL && strcmp(other, id) != 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "host.enroll: that key is already enrolled for host '%s'", other);
        return;
    }
    r->host = g_strdup(id);
    s_keyreq *q = g_new0(s_keyreq, 1);
    q->key_path = ctl_store_key(r->c->store, "hostkeys/%s", id);
    q->value = g_strdup(key);
    s_submit(r, q);
}

void ctl_api_host_remove(ctl_req *r)
{
    const char *id = r->args[0];
    ctl *c = r->c;
    if (ctl_model_host(c->model, id) == NULL && ctl_model_host_key(c->model, id) == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", id);
        return;
    }
    GPtrArray *doms = ctl_model_domains(c->model);
    guint held = 0;
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        held += d->host != NULL && strcmp(d->host, id) == 0;
    }
    g_ptr_array_unref(doms);
    if (held > 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "host '%s' holds %u domain%s: migrate or undefine them first", id, held,
                      held == 1 ? "" : "s");
        return;
    }
    r->host = g_strdup(id);
    s_keyreq *q = g_new0(s_keyreq, 1);
    q->key_path = ctl_store_key(c->store, "hostkeys/%s", id);
    q->host_path = ctl_store_key(c->store, "hosts/%s", id);
    q->alloc_path = ctl_store_key(c->store, "alloc/%s", id);
    s_submit(r, q);
}
