/* store_async.c — see store_async.h. */
#include "store_async.h"

#include "ctl_io.h"

#include "log.h"
#include "view.h"

#include <string.h>

typedef enum { S_PUT_DOMAIN, S_PLACE, S_DELETE_DOMAIN, S_PUT_HOST, S_PUT_KV, S_DELETE_KV } s_kind;

typedef struct {
    s_kind kind;
    ctl *c;
    ctl_domain *copy; /* PUT_DOMAIN, PLACE: written (owned until the model takes it) */
    int64_t expect_mod;
    char *comment;
    char *name;        /* DELETE_DOMAIN, PUT_HOST: the object's name */
    char *host_id;     /* PLACE */
    char *json;        /* PLACE: alloc document; PUT_HOST: host document */
    int64_t alloc_mod; /* PLACE: in: expected; out: new */
    int64_t revision;  /* PUT_HOST: out */
    /* after a lost compare: what etcd holds now */
    bool conflict;
    drv_etcd_range now_domain;
    drv_etcd_range now_alloc;
    ctl_async_domain_fn domain_fn;
    ctl_async_fn fn;
    void *data;
    GDestroyNotify data_free;
} s_req;

static void s_req_free(gpointer p)
{
    s_req *q = p;
    ctl_domain_free(q->copy);
    g_free(q->comment);
    g_free(q->name);
    g_free(q->host_id);
    g_free(q->json);
    drv_etcd_range_clear(&q->now_domain);
    drv_etcd_range_clear(&q->now_alloc);
    if (q->data_free != NULL && q->data != NULL)
        q->data_free(q->data);
    g_free(q);
}

int ctl_async_submit(ctl *c, ctl_etcd_work_fn work, ctl_etcd_done_fn done, void *data,
                     GDestroyNotify data_free, drv_error **err)
{
    return c->io->etcd_submit(c->io_ctx, work, done, data, data_free, err);
}

/* ------------------------------------------------------------------ on the worker */

/* After a lost compare: what etcd holds now for the domain (and the host's alloc key). */
static void s_read_now(ctl_store *store, s_req *q)
{
    drv_error *e = NULL;
    const char *name = q->copy != NULL ? q->copy->name : q->name;
    if (ctl_store_get_domain_kv(store, name, &q->now_domain, &e) < 0) {
        drv_debug("re-reading domain '%s': %s", name, e->message);
        drv_error_destroy(&e);
    }
    if (q->host_id != NULL && ctl_store_get_alloc_kv(store, q->host_id, &q->now_alloc, &e) < 0) {
        drv_debug("re-reading alloc of host '%s': %s", q->host_id, e->message);
        drv_error_destroy(&e);
    }
    q->conflict = true;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_req *q = data;
    int rc = 0;
    switch (q->kind) {
    case S_PUT_DOMAIN:
        rc = ctl_store_put_domain(store, q->copy, q->expect_mod, q->comment, err);
        break;
    case S_PLACE: {
        ctl_host *scratch = ctl_host_new(q->host_id);
        scratch->alloc_mod_revision = q->alloc_mod;
        rc = ctl_store_place(store, q->copy, q->expect_mod, scratch, q->json, err);
        q->alloc_mod = scratch->alloc_mod_revision;
        ctl_host_free(scratch);
        break;
    }
    case S_DELETE_DOMAIN:
        rc = ctl_store_delete_domain(store, q->name, err);
        break;
    case S_PUT_HOST:
        rc = ctl_store_put_host_json(store, q->name, q->json, &q->revision, err);
        break;
    case S_PUT_KV:
        rc = drv_etcd_put_str(ctl_store_etcd(store), q->host_id, q->json, 0, NULL, err);
        break;
    case S_DELETE_KV:
        rc = drv_etcd_delete(ctl_store_etcd(store), q->host_id, strlen(q->host_id), false, NULL,
                             NULL, err);
        break;
    }
    if (rc < 0 && (q->kind == S_PUT_KV || q->kind == S_DELETE_KV))
        drv_error_prefix(err, "%s", q->name);
    if (rc < 0 && *err != NULL && (*err)->kind == DRV_ERR_CONFLICT)
        s_read_now(store, q);
    return rc;
}

/* ------------------------------------------------------------------ on the loop */

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl *c = loop_ctx;
    s_req *q = data;
    ctl_domain *stored = NULL;
    if (q->kind == S_PUT_HOST)
        ctl_store_hold_host(c->store, q->name, -1);
    if (err == NULL) {
        switch (q->kind) {
        case S_PUT_DOMAIN:
        case S_PLACE: {
            ctl_domain *cur = ctl_model_domain(c->model, q->copy->name);
            if (cur != NULL && cur->mod_revision > q->copy->mod_revision) {
                stored = cur; /* the watch already brought something newer */
            } else {
                stored = ctl_model_put_domain(c->model, q->copy);
                q->copy = NULL;
            }
            if (q->kind == S_PLACE) {
                ctl_host *h = ctl_model_host(c->model, q->host_id);
                if (h != NULL && h->alloc_mod_revision < q->alloc_mod)
                    h->alloc_mod_revision = q->alloc_mod;
            }
            break;
        }
        case S_DELETE_DOMAIN:
            ctl_model_remove_domain(c->model, q->name);
            break;
        case S_PUT_HOST: {
            ctl_host *h = ctl_model_host(c->model, q->name);
            if (h != NULL && h->mod_revision < q->revision)
                h->mod_revision = q->revision;
            break;
        }
        case S_PUT_KV:
        case S_DELETE_KV:
            break;
        }
    } else if (q->conflict) {
        const char *name = q->copy != NULL ? q->copy->name : q->name;
        ctl_store_apply_domain_kv(c->store, c->model, name, &q->now_domain);
        if (q->host_id != NULL)
            ctl_store_apply_alloc_kv(c->model, q->host_id, &q->now_alloc);
    } else if ((q->kind == S_PUT_HOST || q->kind == S_PUT_KV || q->kind == S_DELETE_KV) &&
               q->fn == NULL) {
        drv_warn("%s%s", err->message, attempted ? "" : " (not sent)");
    }
    if (q->domain_fn != NULL)
        q->domain_fn(c, stored, err, attempted, q->data);
    if (q->fn != NULL)
        q->fn(c, err, attempted, q->data);
    if (q->kind == S_PUT_HOST && !ctl_store_host_held(c->store, q->name) &&
        ctl_store_host_take_dirty(c->store, q->name)) {
        const ctl_host *h = ctl_model_host(c->model, q->name);
        if (h != NULL)
            ctl_async_put_host(c, h); /* the write that waited for this one */
    }
}

static int s_submit(ctl *c, s_req *q, drv_error **err)
{
    q->c = c;
    bool host = q->kind == S_PUT_HOST;
    g_autofree char *id = host ? g_strdup(q->name) : NULL;
    if (ctl_async_submit(c, s_work, s_done, q, s_req_free, err) < 0) {
        s_req_free(q);
        return -1;
    }
    if (host)
        ctl_store_hold_host(c->store, id, +1);
    return 0;
}

int ctl_async_put_domain(ctl *c, ctl_domain *copy, int64_t expect_mod, const char *comment,
                         ctl_async_domain_fn fn, void *data, GDestroyNotify data_free,
                         drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->kind = S_PUT_DOMAIN;
    q->copy = copy;
    q->expect_mod = expect_mod;
    q->comment = g_strdup(comment);
    q->domain_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

int ctl_async_place(ctl *c, ctl_domain *copy, int64_t expect_mod, const char *host_id,
                    const char *alloc_json, ctl_async_domain_fn fn, void *data,
                    GDestroyNotify data_free, drv_error **err)
{
    ctl_host *h = ctl_model_host(c->model, host_id);
    s_req *q = g_new0(s_req, 1);
    q->kind = S_PLACE;
    q->copy = copy;
    q->expect_mod = expect_mod;
    q->host_id = g_strdup(host_id);
    q->json = g_strdup(alloc_json);
    q->alloc_mod = h != NULL ? h->alloc_mod_revision : 0;
    q->domain_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

int ctl_async_delete_domain(ctl *c, const char *name, ctl_async_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->kind = S_DELETE_DOMAIN;
    q->name = g_strdup(name);
    q->fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

int ctl_async_put_host_then(ctl *c, const ctl_host *h, ctl_async_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->kind = S_PUT_HOST;
    q->name = g_strdup(h->id);
    q->json = ctl_view_host_store(h);
    q->fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

void ctl_async_put_host(ctl *c, const ctl_host *h)
{
    if (ctl_store_host_held(c->store, h->id)) {
        /* one of ours is on its way: this one waits for it and goes once, with the model's
         * state then (a wave of re-registrations queued tens of thousands; docs/scale.md) */
        ctl_store_host_mark_dirty(c->store, h->id);
        return;
    }
    s_req *q = g_new0(s_req, 1);
    q->kind = S_PUT_HOST;
    q->name = g_strdup(h->id);
    q->json = ctl_view_host_store(h);
    drv_error *err = NULL;
    if (s_submit(c, q, &err) < 0) {
        drv_warn("host '%s': not stored: %s", h->id, err->message);
        drv_error_destroy(&err);
    }
}

static int s_kv(ctl *c, s_kind kind, const char *key, const char *value, const char *what,
                drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->kind = kind;
    q->host_id = g_strdup(key); /* the key */
    q->json = g_strdup(value);
    q->name = g_strdup(what);
    drv_error *e = NULL;
    if (s_submit(c, q, &e) < 0) {
        drv_warn("%s: not stored: %s", what, e->message);
        drv_error_propagate(err, e);
        return -1;
    }
    return 0;
}

int ctl_async_put_kv(ctl *c, const char *key, const char *value, const char *what, drv_error **err)
{
    return s_kv(c, S_PUT_KV, key, value, what, err);
}

int ctl_async_put_kv_then(ctl *c, const char *key, const char *value, const char *what,
                          ctl_async_fn fn, void *data, GDestroyNotify data_free, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->kind = S_PUT_KV;
    q->host_id = g_strdup(key); /* the key */
    q->json = g_strdup(value);
    q->name = g_strdup(what);
    q->fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

int ctl_async_delete_kv(ctl *c, const char *key, const char *what, drv_error **err)
{
    return s_kv(c, S_DELETE_KV, key, NULL, what, err);
}

/* ------------------------------------------------------------------ desired state, no client */

typedef struct {
    char *name;
    ctl_desired desired;
    int only_if;
    int attempts;
} s_bg_desired;

static void s_bg_desired_free(gpointer p)
{
    s_bg_desired *b = p;
    g_free(b->name);
    g_free(b);
}

static void s_bg_desired_submit(ctl *c, s_bg_desired *b);

static void s_bg_desired_done(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                              void *data)
{
    s_bg_desired *b = data;
    if (err == NULL)
        return;
    if (err->kind == DRV_ERR_CONFLICT && b->attempts < 3) {
        s_bg_desired *again = g_new0(s_bg_desired, 1);
        *again = *b;
        again->name = g_strdup(b->name);
        s_bg_desired_submit(c, again);
        return;
    }
    drv_warn("domain '%s': storing the desired state %s: %s", b->name,
             ctl_desired_to_string(b->desired), err->message);
}

static void s_bg_desired_submit(ctl *c, s_bg_desired *b)
{
    ctl_domain *d = ctl_model_domain(c->model, b->name);
    if (d == NULL || d->desired == b->desired ||
        (b->only_if >= 0 && (int)d->desired != b->only_if)) {
        s_bg_desired_free(b);
        return;
    }
    b->attempts++;
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = b->desired;
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_bg_desired_done, b,
                             s_bg_desired_free, &err) < 0) {
        drv_warn("domain '%s': storing the desired state %s: %s", b->name,
                 ctl_desired_to_string(b->desired), err->message);
        drv_error_destroy(&err);
    }
}

void ctl_async_put_desired(ctl *c, const char *name, ctl_desired desired, int only_if)
{
    s_bg_desired *b = g_new0(s_bg_desired, 1);
    b->name = g_strdup(name);
    b->desired = desired;
    b->only_if = only_if;
    s_bg_desired_submit(c, b);
}
