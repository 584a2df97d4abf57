/* place_batch.c — see place_batch.h. */
#include "place_batch.h"

#include "log.h"
#include "placement.h"
#include "store.h"
#include "view.h"

#include <string.h>

typedef struct {
    char *id;
    char *alloc_json;   /* alloc/<host> written with the batch */
    int64_t alloc_mod;  /* in: expected; out: the txn's revision */
    drv_etcd_range now; /* after a lost compare: what etcd holds */
} s_host;

typedef struct {
    ctl *c;
    ctl_place_item items[CTL_PLACE_BATCH_MAX];
    drv_etcd_range now[CTL_PLACE_BATCH_MAX]; /* after a lost compare */
    size_t n;
    s_host hosts[CTL_PLACE_BATCH_MAX];
    size_t n_hosts;
    bool conflict;
    ctl_async_domain_fn fn;
    void (*done)(ctl *c);
} s_batch;

static void s_batch_free(gpointer p)
{
    s_batch *b = p;
    for (size_t i = 0; i < b->n; i++) {
        ctl_domain_free(b->items[i].copy);
        drv_etcd_range_clear(&b->now[i]);
    }
    for (size_t i = 0; i < b->n_hosts; i++) {
        g_free(b->hosts[i].id);
        g_free(b->hosts[i].alloc_json);
        drv_etcd_range_clear(&b->hosts[i].now);
    }
    g_free(b);
}

/* ------------------------------------------------------------------ on the etcd worker */

static void s_read_now(ctl_store *store, s_batch *b)
{
    drv_error *e = NULL;
    for (size_t i = 0; i < b->n; i++)
        if (ctl_store_get_domain_kv(store, b->items[i].copy->name, &b->now[i], &e) < 0) {
            drv_debug("re-reading domain '%s': %s", b->items[i].copy->name, e->message);
            drv_error_destroy(&e);
        }
    for (size_t i = 0; i < b->n_hosts; i++)
        if (ctl_store_get_alloc_kv(store, b->hosts[i].id, &b->hosts[i].now, &e) < 0) {
            drv_debug("re-reading alloc of host '%s': %s", b->hosts[i].id, e->message);
            drv_error_destroy(&e);
        }
    b->conflict = true;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_batch *b = data;
    size_t n = b->n + b->n_hosts;
    drv_etcd_cmp *cmps = g_new0(drv_etcd_cmp, n);
    drv_etcd_op *ops = g_new0(drv_etcd_op, n);
    char **keys = g_new0(char *, n);
    char **values = g_new0(char *, b->n);
    for (size_t i = 0; i < b->n; i++) {
        keys[i] = ctl_store_key(store, "domains/%s", b->items[i].copy->name);
        values[i] = ctl_view_domain_store(b->items[i].copy);
        ops[i] = (drv_etcd_op){.kind = DRV_ETCD_OP_PUT,
                               .key = keys[i],
                               .key_len = strlen(keys[i]),
                               .value = values[i],
                               .value_len = strlen(values[i])};
        cmps[i] = (drv_etcd_cmp){.target = DRV_ETCD_CMP_MOD,
                                 .result = DRV_ETCD_EQUAL,
                                 .key = keys[i],
                                 .key_len = strlen(keys[i]),
                                 .number = b->items[i].expect_mod};
    }
    for (size_t k = 0; k < b->n_hosts; k++) {
        size_t i = b->n + k;
        keys[i] = ctl_store_key(store, "alloc/%s", b->hosts[k].id);
        ops[i] = (drv_etcd_op){.kind = DRV_ETCD_OP_PUT,
                               .key = keys[i],
                               .key_len = strlen(keys[i]),
                               .value = b->hosts[k].alloc_json,
                               .value_len = strlen(b->hosts[k].alloc_json)};
        cmps[i] = (drv_etcd_cmp){.target = DRV_ETCD_CMP_MOD,
                                 .result = DRV_ETCD_EQUAL,
                                 .key = keys[i],
                                 .key_len = strlen(keys[i]),
                                 .number = b->hosts[k].alloc_mod};
    }
    drv_etcd_txn_result r = {0};
    int rc = drv_etcd_txn(ctl_store_etcd(store), cmps, n, ops, n, NULL, 0, &r, err);
    if (rc < 0) {
        drv_error_prefix(err, "%zu placements", b->n);
    } else if (!r.succeeded) {
        rc = drv_error_set(err, DRV_ERR_CONFLICT, 0,
                           "a batch of %zu placements lost a race (a domain or a host's "
                           "allocations changed)",
                           b->n);
        s_read_now(store, b);
    } else {
        for (size_t i = 0; i < b->n; i++)
            b->items[i].copy->mod_revision = r.revision;
        for (size_t k = 0; k < b->n_hosts; k++)
            b->hosts[k].alloc_mod = r.revision;
    }
    drv_etcd_txn_result_clear(&r);
    for (size_t i = 0; i < n; i++)
        g_free(keys[i]);
    for (size_t i = 0; i < b->n; i++)
        g_free(values[i]);
    g_free(keys);
    g_free(values);
    g_free(cmps);
    g_free(ops);
    return rc;
}

/* ------------------------------------------------------------------ on the loop */

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl *c = loop_ctx;
    s_batch *b = data;
    if (err == NULL) {
        for (size_t k = 0; k < b->n_hosts; k++) {
            ctl_host *h = ctl_model_host(c->model, b->hosts[k].id);
            if (h != NULL && h->alloc_mod_revision < b->hosts[k].alloc_mod)
                h->alloc_mod_revision = b->hosts[k].alloc_mod;
        }
    } else if (b->conflict) {
        for (size_t i = 0; i < b->n; i++)
            ctl_store_apply_domain_kv(c->store, c->model, b->items[i].copy->name, &b->now[i]);
        for (size_t k = 0; k < b->n_hosts; k++)
            ctl_store_apply_alloc_kv(c->model, b->hosts[k].id, &b->hosts[k].now);
    }
    for (size_t i = 0; i < b->n; i++) {
        ctl_domain *stored = NULL;
        if (err == NULL) {
            ctl_domain *copy = b->items[i].copy;
            ctl_domain *cur = ctl_model_domain(c->model, copy->name);
            if (cur != NULL && cur->mod_revision > copy->mod_revision) {
                stored = cur; /* the watch already brought something newer */
            } else {
                stored = ctl_model_put_domain(c->model, copy);
                b->items[i].copy = NULL;
            }
        }
        b->fn(c, stored, err, attempted, b->items[i].data);
    }
    b->done(c);
}

int ctl_place_batch_submit(ctl *c, ctl_place_item *items, size_t n, ctl_async_domain_fn fn,
                           void (*done)(ctl *c), drv_error **err)
{
    g_assert(n > 0 && n <= CTL_PLACE_BATCH_MAX);
    s_batch *b = g_new0(s_batch, 1);
    b->c = c;
    b->fn = fn;
    b->done = done;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        b->items[i] = items[i];
        const char *host = items[i].copy->host;
        size_t k = 0;
        while (k < b->n_hosts && strcmp(b->hosts[k].id, host) != 0)
            k++;
        if (k < b->n_hosts)
            continue;
        ctl_host *h = ctl_model_host(c->model, host);
        b->hosts[k].id = g_strdup(host);
        b->hosts[k].alloc_json = ctl_placement_alloc_json(c, host);
        b->hosts[k].alloc_mod = h != NULL ? h->alloc_mod_revision : 0;
        b->n_hosts++;
    }
    if (ctl_async_submit(c, s_work, s_done, b, s_batch_free, err) < 0) {
        s_batch_free(b);
        return -1;
    }
    return 0;
}
