/* store.c — see store.h. */
#include "store.h"

#include "curve.h"
#include "log.h"
#include "names.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <string.h>

struct ctl_store {
    drv_etcd *etcd;
    char *prefix;
    char **endpoints;
    char *ca_file, *cert_file, *key_file; /* TLS, for the watches */
    drv_etcd_tls tls;
    GHashTable *held_hosts;  /* host id → writes of ours not yet answered (count in a pointer) */
    GHashTable *dirty_hosts; /* host ids to write again once their held write is answered */
};

ctl_store *ctl_store_new(char *const *endpoints, const char *prefix, long timeout_ms,
                         const drv_etcd_tls *tls, drv_error **err)
{
    size_t n = endpoints ? g_strv_length((char **)endpoints) : 0;
    drv_etcd *etcd = drv_etcd_new((const char *const *)endpoints, n, timeout_ms, tls, err);
    if (etcd == NULL)
        return NULL;
    ctl_store *self = g_new0(ctl_store, 1);
    self->etcd = etcd;
    self->prefix = g_strdup(prefix);
    self->endpoints = g_strdupv((char **)endpoints);
    if (tls != NULL) {
        self->ca_file = g_strdup(tls->ca_file);
        self->cert_file = g_strdup(tls->cert_file);
        self->key_file = g_strdup(tls->key_file);
    }
    self->tls = (drv_etcd_tls){self->ca_file, self->cert_file, self->key_file};
    self->held_hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    self->dirty_hosts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return self;
}

void ctl_store_destroy(ctl_store **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_etcd_destroy(&(*self_p)->etcd);
    g_free((*self_p)->prefix);
    g_strfreev((*self_p)->endpoints);
    g_free((*self_p)->ca_file);
    g_free((*self_p)->cert_file);
    g_free((*self_p)->key_file);
    g_hash_table_unref((*self_p)->held_hosts);
    g_hash_table_unref((*self_p)->dirty_hosts);
    g_free(*self_p);
    *self_p = NULL;
}

drv_etcd *ctl_store_etcd(ctl_store *self)
{
    return self->etcd;
}

const char *ctl_store_prefix(const ctl_store *self)
{
    return self->prefix;
}

char *ctl_store_key(const ctl_store *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *rest = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return g_strconcat(self->prefix, rest, NULL);
}

/* The first bytes of an etcd key with every byte that is not printable ASCII (NUL included) as
 * \xNN, for a warning. */
static char *s_key_printable(const char *key, size_t key_len)
{
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < key_len && i < 200; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            g_string_append_printf(out, "\\x%02x", ch);
        else
            g_string_append_c(out, (char)ch);
    }
    if (key_len > 200)
        g_string_append(out, "...");
    return g_string_free(out, FALSE);
}

static void s_bad_key(const char *key, size_t key_len, const char *why)
{
    g_autofree char *text = s_key_printable(key, key_len);
    drv_warn("ignoring etcd key \"%s\" (%zu bytes): %s", text, key_len, why);
}

/* Splits a key into its kind ("hosts", "domains", "alloc", ...) and name; NULL when not ours. A key
 * that is not under the prefix or holds a NUL (it would read as another, shorter one) is logged; a
 * host, domain or host key whose name is not a valid name (names.h) too. */
static const char *s_split(const ctl_store *self, const char *key, size_t key_len, char **ret_kind)
{
    size_t plen = strlen(self->prefix);
    if (key == NULL || key_len <= plen || memcmp(key, self->prefix, plen) != 0) {
        s_bad_key(key != NULL ? key : "", key != NULL ? key_len : 0, "not under the prefix");
        return NULL;
    }
    if (memchr(key, '\0', key_len) != NULL) {
        s_bad_key(key, key_len, "it holds a NUL byte");
        return NULL;
    }
    const char *rest = key + plen;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash[1] == '\0')
        return NULL;
    g_autofree char *kind = g_strndup(rest, (size_t)(slash - rest));
    const char *name = slash + 1;
    if ((strcmp(kind, "hosts") == 0 || strcmp(kind, "domains") == 0 ||
         strcmp(kind, "hostkeys") == 0 || strcmp(kind, "alloc") == 0) &&
        strchr(name, '/') == NULL) {
        const char *why = drv_name_invalid(name);
        if (why != NULL) {
            g_autofree char *msg = g_strdup_printf("not a valid %s name: %s", kind, why);
            s_bad_key(key, key_len, msg);
            return NULL;
        }
    }
    *ret_kind = g_steal_pointer(&kind);
    return name;
}

/* Whether kv is the key kind/name asked for (etcd answered the key it was asked about). */
static bool s_kv_is(const ctl_store *self, const drv_etcd_kv *kv, const char *kind,
                    const char *name)
{
    g_autofree char *want = ctl_store_key(self, "%s/%s", kind, name);
    if (kv->key != NULL && kv->key_len == strlen(want) && memcmp(kv->key, want, kv->key_len) == 0)
        return true;
    s_bad_key(kv->key != NULL ? kv->key : "", kv->key != NULL ? kv->key_len : 0,
              "etcd answered it for another key");
    return false;
}

static int s_load_kv(ctl_store *self, ctl_model *m, const drv_etcd_kv *kv, drv_error **err)
{
    g_autofree char *kind = NULL;
    const char *name = s_split(self, kv->key, kv->key_len, &kind);
    if (name == NULL)
        return 0;
    if (strcmp(kind, "hosts") == 0 && strchr(name, '/') == NULL) {
        ctl_host *h = NULL;
        if (ctl_view_host_parse(name, kv->value, &h, err) < 0)
            return -1;
        h->mod_revision = kv->mod_revision;
        ctl_host *old = ctl_model_host(m, name);
        if (old != NULL)
            h->alloc_mod_revision = old->alloc_mod_revision;
        ctl_model_put_host(m, h);
    } else if (strcmp(kind, "domains") == 0 && strchr(name, '/') == NULL) {
        ctl_domain *d = NULL;
        if (ctl_view_domain_parse(name, kv->value, &d, err) < 0)
            return -1;
        d->mod_revision = kv->mod_revision;
        ctl_model_put_domain(m, d);
    } else if (strcmp(kind, "hostkeys") == 0 && strchr(name, '/') == NULL) {
        g_autofree char *key = g_strndup(kv->value, kv->value_len);
        g_strstrip(key);
        if (!drv_curve_key_valid(key))
            return drv_error_set(err, DRV_ERR_INVALID, 0, "not a z85 CURVE public key");
        ctl_model_bind_key(m, name, key);
    } else if (strcmp(kind, "alloc") == 0) {
        ctl_host *h = ctl_model_host(m, name);
        if (h != NULL)
            h->alloc_mod_revision = kv->mod_revision;
    }
    return 0;
}

/* Keys per range request of the load: a whole kind in one answer (20,000 domains, 30 MB) took
 * etcd 2 s on a loaded machine and the answer ran past the request timeout, so the controller
 * never finished loading (docs/scale.md); pages at one revision keep every request small. */
#define S_LOAD_PAGE 2000

/* Loads every key of one kind at revision (0: the latest, then *ret_revision is set) into m, in
 * pages of S_LOAD_PAGE keys. */
static int s_load_kind(ctl_store *self, ctl_model *m, const char *kind, int64_t *revision,
                       drv_error **err)
{
    g_autofree char *prefix = ctl_store_key(self, "%s/", kind);
    size_t end_len = 0;
    g_autofree char *end = drv_etcd_prefix_end(prefix, strlen(prefix), &end_len);
    GByteArray *from = g_byte_array_new();
    g_byte_array_append(from, (const guint8 *)prefix, (guint)strlen(prefix));
    int rc = 0;
    for (;;) {
        drv_etcd_range_opts opts = {.limit = S_LOAD_PAGE,
                                    .revision = *revision,
                                    .range_end = end,
                                    .range_end_len = end_len};
        drv_etcd_range r = {0};
        if (drv_etcd_range_get(self->etcd, from->data, from->len, &opts, &r, err) < 0) {
            rc = -1;
            break;
        }
        if (*revision == 0)
            *revision = r.revision;
        for (size_t i = 0; i < r.n_kvs; i++) {
            drv_error *e = NULL;
            if (s_load_kv(self, m, &r.kvs[i], &e) < 0) {
                drv_warn("ignoring %.*s: %s", (int)r.kvs[i].key_len, r.kvs[i].key, e->message);
                drv_error_destroy(&e);
            }
        }
        bool more = r.more && r.n_kvs > 0;
        if (more) { /* the next page starts just after the last key */
            const drv_etcd_kv *last = &r.kvs[r.n_kvs - 1];
            g_byte_array_set_size(from, 0);
            g_byte_array_append(from, (const guint8 *)last->key, (guint)last->key_len);
            g_byte_array_append(from, (const guint8 *)"", 1);
        }
        drv_etcd_range_clear(&r);
        if (!more)
            break;
    }
    g_byte_array_unref(from);
    return rc;
}

int ctl_store_load(ctl_store *self, ctl_model *m, int64_t *ret_revision, drv_error **err)
{
    /* hosts first, then alloc (needs hosts), then domains; all at one revision. */
    const char *kinds[] = {"hostkeys", "hosts", "alloc", "domains"};
    int64_t revision = 0;
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
        if (s_load_kind(self, m, kinds[k], &revision, err) < 0)
            return -1;
    *ret_revision = revision;
    return 0;
}

drv_etcd_watch *ctl_store_watch(ctl_store *self, int64_t from_rev, drv_error **err)
{
    return drv_etcd_watch_new((const char *const *)self->endpoints, g_strv_length(self->endpoints),
                              self->prefix, strlen(self->prefix), true, from_rev, false, &self->tls,
                              err);
}

void ctl_store_hold_host(ctl_store *self, const char *id, int delta)
{
    gint n = GPOINTER_TO_INT(g_hash_table_lookup(self->held_hosts, id)) + delta;
    if (n <= 0)
        g_hash_table_remove(self->held_hosts, id);
    else
        g_hash_table_replace(self->held_hosts, g_strdup(id), GINT_TO_POINTER(n));
}

bool ctl_store_host_held(ctl_store *self, const char *id)
{
    return g_hash_table_contains(self->held_hosts, id);
}

void ctl_store_host_mark_dirty(ctl_store *self, const char *id)
{
    g_hash_table_add(self->dirty_hosts, g_strdup(id));
}

bool ctl_store_host_take_dirty(ctl_store *self, const char *id)
{
    return g_hash_table_remove(self->dirty_hosts, id);
}

ctl_change ctl_store_apply(ctl_store *self, ctl_model *m, const drv_etcd_event *ev, char **ret_name)
{
    g_autofree char *kind = NULL;
    const char *name = s_split(self, ev->kv.key, ev->kv.key_len, &kind);
    if (name == NULL || strchr(name, '/') != NULL)
        return CTL_CHANGE_NONE;
    bool del = ev->type == DRV_ETCD_EVENT_DELETE;
    if (strcmp(kind, "hosts") == 0) {
        ctl_host *old = ctl_model_host(m, name);
        if (del) {
            if (old == NULL)
                return CTL_CHANGE_NONE;
            ctl_model_remove_host(m, name);
            *ret_name = g_strdup(name);
            return CTL_CHANGE_HOST_DELETED;
        }
        if (old != NULL && old->mod_revision >= ev->kv.mod_revision)
            return CTL_CHANGE_NONE;
        /* the cache is ahead of etcd while writes of ours are on their way: an event for an
         * earlier one must not take it back */
        if (old != NULL && g_hash_table_contains(self->held_hosts, name))
            return CTL_CHANGE_NONE;
        drv_error *e = NULL;
        if (s_load_kv(self, m, &ev->kv, &e) < 0) {
            drv_warn("watch: ignoring host '%s': %s", name, e->message);
            drv_error_destroy(&e);
            return CTL_CHANGE_NONE;
        }
        *ret_name = g_strdup(name);
        return CTL_CHANGE_HOST;
    }
    if (strcmp(kind, "domains") == 0) {
        ctl_domain *old = ctl_model_domain(m, name);
        if (del) {
            if (old == NULL)
                return CTL_CHANGE_NONE;
            ctl_model_remove_domain(m, name);
            *ret_name = g_strdup(name);
            return CTL_CHANGE_DOMAIN_DELETED;
        }
        if (old != NULL && old->mod_revision >= ev->kv.mod_revision)
            return CTL_CHANGE_NONE;
        drv_error *e = NULL;
        if (s_load_kv(self, m, &ev->kv, &e) < 0) {
            drv_warn("watch: ignoring domain '%s': %s", name, e->message);
            drv_error_destroy(&e);
            return CTL_CHANGE_NONE;
        }
        *ret_name = g_strdup(name);
        return CTL_CHANGE_DOMAIN;
    }
    if (strcmp(kind, "hostkeys") == 0) {
        if (del) {
            ctl_model_unbind_key(m, name);
        } else {
            drv_error *e = NULL;
            if (s_load_kv(self, m, &ev->kv, &e) < 0) {
                drv_warn("watch: ignoring the key of host '%s': %s", name, e->message);
                drv_error_destroy(&e);
            }
        }
        return CTL_CHANGE_NONE;
    }
    if (strcmp(kind, "alloc") == 0 && !del) {
        ctl_host *h = ctl_model_host(m, name);
        if (h != NULL && h->alloc_mod_revision < ev->kv.mod_revision)
            h->alloc_mod_revision = ev->kv.mod_revision;
        /* the write a lost placement read is here, after the domains of its txn */
        if (h != NULL && h->alloc_floor_revision != 0 &&
            ev->kv.mod_revision >= h->alloc_floor_revision)
            h->alloc_floor_revision = 0;
    }
    return CTL_CHANGE_NONE;
}

int ctl_store_refresh_domain(ctl_store *self, ctl_model *m, const char *name, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "domains/%s", name);
    drv_etcd_range r = {0};
    if (drv_etcd_get(self->etcd, key, strlen(key), &r, err) < 0)
        return -1;
    int rc = 0;
    if (r.n_kvs == 0)
        ctl_model_remove_domain(m, name);
    else if (!s_kv_is(self, &r.kvs[0], "domains", name))
        rc = drv_error_set(err, DRV_ERR_PROTO, 0, "domain '%s': etcd answered another key", name);
    else
        rc = s_load_kv(self, m, &r.kvs[0], err);
    drv_etcd_range_clear(&r);
    return rc;
}

int ctl_store_refresh_alloc(ctl_store *self, ctl_model *m, const char *host_id, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "alloc/%s", host_id);
    drv_etcd_range r = {0};
    if (drv_etcd_get(self->etcd, key, strlen(key), &r, err) < 0)
        return -1;
    ctl_host *h = ctl_model_host(m, host_id);
    if (h != NULL)
        h->alloc_mod_revision = r.n_kvs > 0 ? r.kvs[0].mod_revision : 0;
    drv_etcd_range_clear(&r);
    return 0;
}

int ctl_store_get_domain_kv(ctl_store *self, const char *name, drv_etcd_range *ret, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "domains/%s", name);
    return drv_etcd_get(self->etcd, key, strlen(key), ret, err);
}

int ctl_store_get_alloc_kv(ctl_store *self, const char *host_id, drv_etcd_range *ret,
                           drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "alloc/%s", host_id);
    return drv_etcd_get(self->etcd, key, strlen(key), ret, err);
}

void ctl_store_apply_domain_kv(ctl_store *self, ctl_model *m, const char *name,
                               const drv_etcd_range *r)
{
    ctl_domain *old = ctl_model_domain(m, name);
    if (r->n_kvs == 0) {
        if (old != NULL)
            ctl_model_remove_domain(m, name);
        return;
    }
    if (old != NULL && old->mod_revision >= r->kvs[0].mod_revision)
        return;
    if (!s_kv_is(self, &r->kvs[0], "domains", name))
        return;
    drv_error *e = NULL;
    if (s_load_kv(self, m, &r->kvs[0], &e) < 0) {
        drv_warn("domain '%s': ignoring what etcd holds: %s", name, e->message);
        drv_error_destroy(&e);
    }
}

void ctl_store_apply_alloc_kv(ctl_model *m, const char *host_id, const drv_etcd_range *r)
{
    ctl_host *h = ctl_model_host(m, host_id);
    if (h == NULL)
        return;
    h->alloc_mod_revision = r->n_kvs > 0 ? r->kvs[0].mod_revision : 0;
    if (r->n_kvs == 0)
        return;
    /* what the other writer booked there: a floor until the watch brings its domains */
    json_object *o = json_tokener_parse(r->kvs[0].value);
    json_object *v;
    if (o != NULL && json_object_is_type(o, json_type_object)) {
        h->alloc_floor_vcpus =
            json_object_object_get_ex(o, "vcpus", &v) ? (uint32_t)json_object_get_int64(v) : 0;
        h->alloc_floor_memory_kib =
            json_object_object_get_ex(o, "memory_kib", &v) ? (uint64_t)json_object_get_int64(v) : 0;
        h->alloc_floor_revision = r->kvs[0].mod_revision;
    }
    json_object_put(o);
}

int ctl_store_put_host_json(ctl_store *self, const char *id, const char *json,
                            int64_t *ret_revision, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "hosts/%s", id);
    int64_t rev = 0;
    if (drv_etcd_put(self->etcd, key, strlen(key), json, strlen(json), 0, &rev, err) < 0) {
        drv_error_prefix(err, "host '%s': store", id);
        return -1;
    }
    if (ret_revision != NULL)
        *ret_revision = rev;
    return 0;
}

int ctl_store_put_host(ctl_store *self, ctl_host *h, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "hosts/%s", h->id);
    g_autofree char *value = ctl_view_host_store(h);
    int64_t rev = 0;
    if (drv_etcd_put(self->etcd, key, strlen(key), value, strlen(value), 0, &rev, err) < 0) {
        drv_error_prefix(err, "host '%s': store", h->id);
        return -1;
    }
    h->mod_revision = rev;
    return 0;
}

int ctl_store_put_domain(ctl_store *self, ctl_domain *d, int64_t expect_mod,
                         const char *history_comment, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "domains/%s", d->name);
    g_autofree char *value = ctl_view_domain_store(d);
    g_autofree char *hkey =
        ctl_store_key(self, "history/%s/%010lld", d->name, (long long)d->revision);
    g_autofree char *hvalue =
        history_comment ? ctl_view_history_store(d->xml, g_get_real_time() / 1000, history_comment)
                        : NULL;
    drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_MOD,
                        .result = DRV_ETCD_EQUAL,
                        .key = key,
                        .key_len = strlen(key),
                        .number = expect_mod};
    drv_etcd_op ops[2] = {
        {.kind = DRV_ETCD_OP_PUT,
         .key = key,
         .key_len = strlen(key),
         .value = value,
         .value_len = strlen(value)},
        {.kind = DRV_ETCD_OP_PUT,
         .key = hkey,
         .key_len = strlen(hkey),
         .value = hvalue,
         .value_len = hvalue ? strlen(hvalue) : 0},
    };
    drv_etcd_txn_result r = {0};
    if (drv_etcd_txn(self->etcd, &cmp, 1, ops, hvalue ? 2 : 1, NULL, 0, &r, err) < 0) {
        drv_error_prefix(err, "domain '%s': store", d->name);
        return -1;
    }
    bool ok = r.succeeded;
    int64_t rev = r.revision;
    drv_etcd_txn_result_clear(&r);
    if (!ok)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s' was changed concurrently (by another request or "
                             "controller); retry",
                             d->name);
    d->mod_revision = rev;
    return 0;
}

int ctl_store_place(ctl_store *self, ctl_domain *d, int64_t expect_mod, ctl_host *h,
                    const char *alloc_json, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "domains/%s", d->name);
    g_autofree char *value = ctl_view_domain_store(d);
    g_autofree char *akey = ctl_store_key(self, "alloc/%s", h->id);
    drv_etcd_cmp cmps[2] = {
        {.target = DRV_ETCD_CMP_MOD,
         .result = DRV_ETCD_EQUAL,
         .key = key,
         .key_len = strlen(key),
         .number = expect_mod},
        {.target = DRV_ETCD_CMP_MOD,
         .result = DRV_ETCD_EQUAL,
         .key = akey,
         .key_len = strlen(akey),
         .number = h->alloc_mod_revision},
    };
    drv_etcd_op ops[2] = {
        {.kind = DRV_ETCD_OP_PUT,
         .key = key,
         .key_len = strlen(key),
         .value = value,
         .value_len = strlen(value)},
        {.kind = DRV_ETCD_OP_PUT,
         .key = akey,
         .key_len = strlen(akey),
         .value = alloc_json,
         .value_len = strlen(alloc_json)},
    };
    drv_etcd_txn_result r = {0};
    if (drv_etcd_txn(self->etcd, cmps, 2, ops, 2, NULL, 0, &r, err) < 0) {
        drv_error_prefix(err, "domain '%s': place on host '%s'", d->name, h->id);
        return -1;
    }
    bool ok = r.succeeded;
    int64_t rev = r.revision;
    drv_etcd_txn_result_clear(&r);
    if (!ok)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s': placement on host '%s' lost a race (the domain or the "
                             "host's allocations changed)",
                             d->name, h->id);
    d->mod_revision = rev;
    h->alloc_mod_revision = rev;
    return 0;
}

int ctl_store_delete_domain(ctl_store *self, const char *name, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "domains/%s", name);
    g_autofree char *hkey = ctl_store_key(self, "history/%s/", name);
    g_autofree char *skey = ctl_store_key(self, "snapshots/%s/", name);
    drv_etcd_op ops[3] = {
        {.kind = DRV_ETCD_OP_DELETE, .key = key, .key_len = strlen(key)},
        {.kind = DRV_ETCD_OP_DELETE, .key = hkey, .key_len = strlen(hkey), .prefix = true},
        {.kind = DRV_ETCD_OP_DELETE, .key = skey, .key_len = strlen(skey), .prefix = true},
    };
    drv_etcd_txn_result r = {0};
    if (drv_etcd_txn(self->etcd, NULL, 0, ops, 3, NULL, 0, &r, err) < 0) {
        drv_error_prefix(err, "domain '%s': delete", name);
        return -1;
    }
    drv_etcd_txn_result_clear(&r);
    return 0;
}

int ctl_store_history(ctl_store *self, const char *name, drv_etcd_range *ret, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "history/%s/", name);
    drv_etcd_range_opts opts = {.prefix = true};
    return drv_etcd_range_get(self->etcd, key, strlen(key), &opts, ret, err);
}

int ctl_store_history_get(ctl_store *self, const char *name, int64_t revision, char **ret_json,
                          drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "history/%s/%010lld", name, (long long)revision);
    return drv_etcd_get_str(self->etcd, key, ret_json, NULL, err);
}

int64_t ctl_store_history_count(ctl_store *self, const char *name, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "history/%s/", name);
    drv_etcd_range_opts opts = {.prefix = true, .count_only = true};
    drv_etcd_range r = {0};
    if (drv_etcd_range_get(self->etcd, key, strlen(key), &opts, &r, err) < 0)
        return -1;
    int64_t n = r.count;
    drv_etcd_range_clear(&r);
    return n;
}

int ctl_store_put_snapshot(ctl_store *self, const char *domain, const ctl_snapshot *s,
                           drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "snapshots/%s/%s", domain, s->name);
    g_autofree char *value = ctl_view_snapshot_store(s);
    if (drv_etcd_put(self->etcd, key, strlen(key), value, strlen(value), 0, NULL, err) < 0) {
        drv_error_prefix(err, "snapshot '%s' of domain '%s': store", s->name, domain);
        return -1;
    }
    return 0;
}

int ctl_store_delete_snapshot(ctl_store *self, const char *domain, const char *name,
                              drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "snapshots/%s/%s", domain, name);
    return drv_etcd_delete(self->etcd, key, strlen(key), false, NULL, NULL, err);
}

static void s_snapshot_free(gpointer p)
{
    ctl_snapshot_clear(p);
    g_free(p);
}

int ctl_store_snapshots(ctl_store *self, const char *domain, GPtrArray **ret, drv_error **err)
{
    g_autofree char *key = ctl_store_key(self, "snapshots/%s/", domain);
    drv_etcd_range_opts opts = {.prefix = true};
    drv_etcd_range r = {0};
    if (drv_etcd_range_get(self->etcd, key, strlen(key), &opts, &r, err) < 0)
        return -1;
    GPtrArray *out = g_ptr_array_new_with_free_func(s_snapshot_free);
    for (size_t i = 0; i < r.n_kvs; i++) {
        ctl_snapshot *s = g_new0(ctl_snapshot, 1);
        if (ctl_view_snapshot_parse(r.kvs[i].value, s, NULL) < 0) {
            g_free(s);
            continue;
        }
        g_ptr_array_add(out, s);
    }
    drv_etcd_range_clear(&r);
    *ret = out;
    return 0;
}
