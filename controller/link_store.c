/* link_store.c — etcd I/O of the link estimates, links/<source>/<destination> (jobs/link_bw.h's
 * JSON, one key per ordered host pair, at most DRV_LINK_TABLE_MAX of them): the load when a
 * controller starts leading, a write after each completed migration, the delete of a pair the
 * bounded table evicted. Only the leader writes them. */
#include "migrate_private.h"

#include "log.h"
#include "names.h"
#include "store_async.h"

#include <string.h>

int ctl_link_store_put(ctl *c, const char *source, const char *destination, const drv_link_est *est,
                       drv_error **err)
{
    g_autofree char *key = ctl_store_key(c->store, "links/%s/%s", source, destination);
    json_object *o = drv_link_to_json(est);
    g_autofree char *what =
        g_strdup_printf("link estimate '%s' → '%s': storing it", source, destination);
    int rc = ctl_async_put_kv(c, key, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                              what, err);
    json_object_put(o);
    return rc;
}

int ctl_link_store_delete(ctl *c, const char *pair, drv_error **err)
{
    g_autofree char *key = ctl_store_key(c->store, "links/%s", pair);
    g_autofree char *what = g_strdup_printf("link estimate '%s': evicting it", pair);
    return ctl_async_delete_kv(c, key, what, err);
}

int ctl_link_store_load_from(ctl_store *store, drv_link_table **ret, drv_error **err)
{
    drv_etcd_range r = {0};
    g_autofree char *prefix = ctl_store_key(store, "links/");
    size_t plen = strlen(prefix);
    drv_etcd_range_opts opts = {.prefix = true};
    if (drv_etcd_range_get(ctl_store_etcd(store), prefix, plen, &opts, &r, err) < 0)
        return -1;
    drv_link_table *t = drv_link_table_new(DRV_LINK_TABLE_MAX);
    for (size_t i = 0; i < r.n_kvs; i++) {
        if (r.kvs[i].key_len <= plen || memcmp(r.kvs[i].key, prefix, plen) != 0 ||
            memchr(r.kvs[i].key, '\0', r.kvs[i].key_len) != NULL) {
            drv_warn("ignoring a link key that is not ours (%zu bytes)", r.kvs[i].key_len);
            continue;
        }
        g_autofree char *tail = g_strndup(r.kvs[i].key + plen, r.kvs[i].key_len - plen);
        g_autofree char *src = NULL, *dst = NULL;
        if (!drv_link_key_split(tail, &src, &dst) || drv_name_invalid(src) != NULL ||
            drv_name_invalid(dst) != NULL) {
            drv_warn("ignoring link key 'links/%s': not links/<source>/<destination>", tail);
            continue;
        }
        g_autofree char *text = g_strndup(r.kvs[i].value, r.kvs[i].value_len);
        json_object *o = json_tokener_parse(text);
        drv_link_est est;
        if (drv_link_from_json(o, &est) < 0) {
            drv_warn("ignoring link estimate 'links/%s': not a link estimate", tail);
        } else {
            g_autofree char *evicted = drv_link_table_set(t, src, dst, &est);
            if (evicted != NULL)
                drv_info("link estimate '%s' left out: over %d pairs", evicted, DRV_LINK_TABLE_MAX);
        }
        json_object_put(o);
    }
    drv_etcd_range_clear(&r);
    *ret = t;
    return 0;
}

typedef struct {
    ctl *c;
    drv_link_table *links;
    ctl_link_load_fn fn;
} s_load;

static void s_load_free(gpointer p)
{
    s_load *q = p;
    drv_link_table_destroy(&q->links);
    g_free(q);
}

static int s_load_work(ctl_store *store, void *data, drv_error **err)
{
    s_load *q = data;
    return ctl_link_store_load_from(store, &q->links, err);
}

static void s_load_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    s_load *q = data;
    (void)loop_ctx;
    (void)attempted;
    q->fn(q->c, err == NULL ? &q->links : NULL, err);
}

int ctl_link_store_load_async(ctl *c, ctl_link_load_fn fn, drv_error **err)
{
    s_load *q = g_new0(s_load, 1);
    q->c = c;
    q->fn = fn;
    if (ctl_async_submit(c, s_load_work, s_load_done, q, s_load_free, err) < 0) {
        s_load_free(q);
        return -1;
    }
    return 0;
}
