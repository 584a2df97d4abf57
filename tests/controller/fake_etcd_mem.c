/* fake_etcd_mem.c — see fake_etcd_mem.h. */
#include "fake_etcd_mem.h"

#include <glib.h>
#include <json-c/json.h>
#include <string.h>

typedef struct {
    char *value;
    int64_t create_revision, mod_revision, version;
} s_kv;

struct fake_etcd {
    GTree *kvs; /* char* key → s_kv*, sorted as etcd sorts (bytewise) */
    int64_t revision;
    unsigned fail_next;
    bool conflict_next_txn;
    unsigned txns, txns_lost;
};

static void s_kv_free(gpointer p)
{
    s_kv *kv = p;
    g_free(kv->value);
    g_free(kv);
}

static int s_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void)unused;
    return strcmp(a, b);
}

fake_etcd *fake_etcd_new(void)
{
    fake_etcd *f = g_new0(fake_etcd, 1);
    f->kvs = g_tree_new_full(s_cmp, NULL, g_free, s_kv_free);
    f->revision = 1;
    return f;
}

void fake_etcd_destroy(fake_etcd **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_tree_destroy((*self_p)->kvs);
    g_free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ the key space */

static void s_put(fake_etcd *f, const char *key, const char *value, int64_t rev)
{
    s_kv *kv = g_tree_lookup(f->kvs, key);
    if (kv == NULL) {
        kv = g_new0(s_kv, 1);
        kv->create_revision = rev;
        g_tree_insert(f->kvs, g_strdup(key), kv);
    }
    char *copy = g_strdup(value); /* value may be kv->value itself (a rewrite) */
    g_free(kv->value);
    kv->value = copy;
    kv->mod_revision = rev;
    kv->version++;
}

int64_t fake_etcd_put(fake_etcd *f, const char *key, const char *value)
{
    s_put(f, key, value, ++f->revision);
    return f->revision;
}

const char *fake_etcd_get(fake_etcd *f, const char *key, int64_t *ret_mod)
{
    s_kv *kv = g_tree_lookup(f->kvs, key);
    if (ret_mod != NULL)
        *ret_mod = kv ? kv->mod_revision : 0;
    return kv ? kv->value : NULL;
}

unsigned fake_etcd_count_prefix(fake_etcd *f, const char *prefix)
{
    unsigned n = 0;
    GTreeNode *node = g_tree_node_first(f->kvs);
    for (; node != NULL; node = g_tree_node_next(node))
        if (g_str_has_prefix(g_tree_node_key(node), prefix))
            n++;
    return n;
}

int64_t fake_etcd_revision(const fake_etcd *f)
{
    return f->revision;
}

void fake_etcd_fail_next(fake_etcd *f, unsigned n)
{
    f->fail_next = n;
}

void fake_etcd_conflict_next_txn(fake_etcd *f)
{
    f->conflict_next_txn = true;
}

unsigned fake_etcd_txns(const fake_etcd *f)
{
    return f->txns;
}

unsigned fake_etcd_txns_lost(const fake_etcd *f)
{
    return f->txns_lost;
}

/* ------------------------------------------------------------------ JSON helpers */

static char *s_bytes(json_object *o, const char *field)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v))
        return NULL;
    gsize n = 0;
    guchar *raw = g_base64_decode(json_object_get_string(v), &n);
    char *out = g_strndup((const char *)raw, n);
    g_free(raw);
    return out;
}

static int64_t s_int(json_object *o, const char *field)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    return g_ascii_strtoll(json_object_get_string(v), NULL, 10);
}

static bool s_bool(json_object *o, const char *field)
{
    json_object *v;
    return json_object_object_get_ex(o, field, &v) && json_object_get_boolean(v);
}

static void s_set_bytes(json_object *o, const char *field, const char *s)
{
    char *b64 = g_base64_encode((const guchar *)s, strlen(s));
    json_object_object_add(o, field, json_object_new_string(b64));
    g_free(b64);
}

static void s_set_int(json_object *o, const char *field, int64_t v)
{
    char buf[32];
    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, (gint64)v);
    json_object_object_add(o, field, json_object_new_string(buf));
}

static json_object *s_header(const fake_etcd *f)
{
    json_object *h = json_object_new_object();
    s_set_int(h, "revision", f->revision);
    return h;
}

/* The keys a request's key / range_end select. An empty string end (range_end "\0") means every
 * key >= key; a NULL end only key itself. */
static GPtrArray *s_select(fake_etcd *f, json_object *req)
{
    g_autofree char *key = s_bytes(req, "key");
    g_autofree char *end = s_bytes(req, "range_end");
    GPtrArray *keys = g_ptr_array_new();
    if (key == NULL)
        return keys;
    if (end == NULL) {
        gpointer k;
        if (g_tree_lookup_extended(f->kvs, key, &k, NULL))
            g_ptr_array_add(keys, k);
        return keys;
    }
    for (GTreeNode *n = g_tree_node_first(f->kvs); n != NULL; n = g_tree_node_next(n)) {
        const char *k = g_tree_node_key(n);
        if (strcmp(k, key) < 0)
            continue;
        if (end[0] != '\0' && strcmp(k, end) >= 0)
            break;
        g_ptr_array_add(keys, (gpointer)k);
    }
    return keys;
}

static json_object *s_kv_json(const char *key, const s_kv *kv, bool keys_only)
{
    json_object *o = json_object_new_object();
    s_set_bytes(o, "key", key);
    if (!keys_only)
        s_set_bytes(o, "value", kv->value);
    s_set_int(o, "create_revision", kv->create_revision);
    s_set_int(o, "mod_revision", kv->mod_revision);
    s_set_int(o, "version", kv->version);
    return o;
}

static json_object *s_range(fake_etcd *f, json_object *req)
{
    GPtrArray *keys = s_select(f, req);
    int64_t limit = s_int(req, "limit");
    bool keys_only = s_bool(req, "keys_only"), count_only = s_bool(req, "count_only");
    json_object *reply = json_object_new_object();
    json_object_object_add(reply, "header", s_header(f));
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < keys->len && !count_only; i++) {
        if (limit > 0 && (int64_t)i >= limit)
            break;
        const char *k = keys->pdata[i];
        json_object_array_add(arr, s_kv_json(k, g_tree_lookup(f->kvs, k), keys_only));
    }
    json_object_object_add(reply, "kvs", arr);
    s_set_int(reply, "count", keys->len);
    if (limit > 0 && (int64_t)keys->len > limit)
        json_object_object_add(reply, "more", json_object_new_boolean(1));
    g_ptr_array_unref(keys);
    return reply;
}

static json_object *s_delete(fake_etcd *f, json_object *req, int64_t rev)
{
    GPtrArray *keys = s_select(f, req);
    json_object *reply = json_object_new_object();
    json_object *prev = json_object_new_array();
    bool want_prev = s_bool(req, "prev_kv");
    guint n = keys->len;
    char **copy = g_new0(char *, n + 1);
    for (guint i = 0; i < n; i++)
        copy[i] = g_strdup(keys->pdata[i]);
    g_ptr_array_unref(keys);
    for (guint i = 0; i < n; i++) {
        if (want_prev)
            json_object_array_add(prev, s_kv_json(copy[i], g_tree_lookup(f->kvs, copy[i]), false));
        g_tree_remove(f->kvs, copy[i]);
    }
    g_strfreev(copy);
    (void)rev;
    json_object_object_add(reply, "header", s_header(f));
    json_object_object_add(reply, "prev_kvs", prev);
    s_set_int(reply, "deleted", n);
    return reply;
}

static bool s_compare_one(fake_etcd *f, json_object *cmp)
{
    g_autofree char *key = s_bytes(cmp, "key");
    const char *target = json_object_get_string(json_object_object_get(cmp, "target"));
    const char *result = json_object_get_string(json_object_object_get(cmp, "result"));
    s_kv *kv = key ? g_tree_lookup(f->kvs, key) : NULL;
    int c;
    if (g_strcmp0(target, "VALUE") == 0) {
        g_autofree char *want = s_bytes(cmp, "value");
        if (kv == NULL)
            return false; /* etcd: a value compare on a missing key fails */
        c = strcmp(kv->value, want ? want : "");
    } else {
        int64_t have = 0, want = 0;
        if (g_strcmp0(target, "MOD") == 0) {
            have = kv ? kv->mod_revision : 0;
            want = s_int(cmp, "mod_revision");
        } else if (g_strcmp0(target, "CREATE") == 0) {
            have = kv ? kv->create_revision : 0;
            want = s_int(cmp, "create_revision");
        } else {
            have = kv ? kv->version : 0;
            want = s_int(cmp, "version");
        }
        c = have < want ? -1 : have > want ? 1 : 0;
    }
    if (g_strcmp0(result, "NOT_EQUAL") == 0)
        return c != 0;
    if (g_strcmp0(result, "LESS") == 0)
        return c < 0;
    if (g_strcmp0(result, "GREATER") == 0)
        return c > 0;
    return c == 0;
}

/* Another writer: every key the txn compares is written again (same value) or created. */
static void s_interfere(fake_etcd *f, json_object *cmps)
{
    int64_t rev = ++f->revision;
    for (size_t i = 0; cmps != NULL && i < json_object_array_length(cmps); i++) {
        g_autofree char *key = s_bytes(json_object_array_get_idx(cmps, i), "key");
        s_kv *kv = g_tree_lookup(f->kvs, key);
        s_put(f, key, kv ? kv->value : "{}", rev);
    }
}

static bool s_writes(json_object *ops)
{
    for (size_t i = 0; ops != NULL && i < json_object_array_length(ops); i++) {
        json_object *op = json_object_array_get_idx(ops, i), *b;
        if (json_object_object_get_ex(op, "request_put", &b) ||
            json_object_object_get_ex(op, "request_delete_range", &b))
            return true;
    }
    return false;
}

static json_object *s_txn(fake_etcd *f, json_object *req)
{
    json_object *cmps = json_object_object_get(req, "compare");
    f->txns++;
    if (f->conflict_next_txn) {
        f->conflict_next_txn = false;
        s_interfere(f, cmps);
    }
    bool ok = true;
    for (size_t i = 0; cmps != NULL && i < json_object_array_length(cmps); i++)
        ok = ok && s_compare_one(f, json_object_array_get_idx(cmps, i));
    if (!ok)
        f->txns_lost++;
    json_object *ops = json_object_object_get(req, ok ? "success" : "failure");
    int64_t rev = s_writes(ops) ? ++f->revision : f->revision;
    json_object *responses = json_object_new_array();
    for (size_t i = 0; ops != NULL && i < json_object_array_length(ops); i++) {
        json_object *op = json_object_array_get_idx(ops, i), *b, *item = json_object_new_object();
        if (json_object_object_get_ex(op, "request_put", &b)) {
            g_autofree char *key = s_bytes(b, "key");
            g_autofree char *value = s_bytes(b, "value");
            s_put(f, key, value ? value : "", rev);
            json_object *r = json_object_new_object();
            json_object_object_add(r, "header", s_header(f));
            json_object_object_add(item, "response_put", r);
        } else if (json_object_object_get_ex(op, "request_range", &b)) {
            json_object_object_add(item, "response_range", s_range(f, b));
        } else if (json_object_object_get_ex(op, "request_delete_range", &b)) {
            json_object_object_add(item, "response_delete_range", s_delete(f, b, rev));
        }
        json_object_array_add(responses, item);
    }
    json_object *reply = json_object_new_object();
    json_object_object_add(reply, "header", s_header(f));
    json_object_object_add(reply, "succeeded", json_object_new_boolean(ok));
    json_object_object_add(reply, "responses", responses);
    return reply;
}

static int s_transport(void *ctx, const char *path, struct json_object *req,
                       struct json_object **ret_reply, drv_error **err)
{
    fake_etcd *f = ctx;
    if (f->fail_next > 0) {
        f->fail_next--;
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "etcd %s: connection lost after the request was sent, its outcome "
                             "is unknown (fake)",
                             path);
    }
    if (strcmp(path, "/v3/kv/range") == 0) {
        *ret_reply = s_range(f, req);
    } else if (strcmp(path, "/v3/kv/put") == 0) {
        g_autofree char *key = s_bytes(req, "key");
        g_autofree char *value = s_bytes(req, "value");
        s_put(f, key, value ? value : "", ++f->revision);
        json_object *reply = json_object_new_object();
        json_object_object_add(reply, "header", s_header(f));
        *ret_reply = reply;
    } else if (strcmp(path, "/v3/kv/deleterange") == 0) {
        *ret_reply = s_delete(f, req, ++f->revision);
    } else if (strcmp(path, "/v3/kv/txn") == 0) {
        *ret_reply = s_txn(f, req);
    } else {
        return drv_error_set(err, DRV_ERR_INVALID, 0, "fake etcd: %s is not served", path);
    }
    return 0;
}

ctl_store *fake_etcd_store(fake_etcd *f, const char *prefix)
{
    char *endpoints[] = {(char *)"http://fake-etcd.invalid:1", NULL};
    drv_error *err = NULL;
    ctl_store *s = ctl_store_new(endpoints, prefix, 1000, NULL, &err);
    if (s == NULL)
        g_error("fake etcd: %s", err->message);
    drv_etcd_set_transport(ctl_store_etcd(s), s_transport, f);
    return s;
}
