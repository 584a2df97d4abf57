/* snapshot.c — the cluster snapshot JSON format (docs/scheduler.md) and JSON renderings of results.
 * Text in, objects out: no files, no I/O. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "sched_internal.h"

/* ------------------------------------------------------------------------------------------------
 * Parsing helpers. Each names the object ("host h1", "domain vm1") and the field on error. */

static int s_get_string(json_object *o, const char *key, bool required, const char *what,
                        const char **ret, drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        if (required)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing \"%s\"", what, key);
        *ret = NULL;
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be a string", what, key);
    *ret = json_object_get_string(v);
    return 0;
}

static int s_get_u64(json_object *o, const char *key, const char *what, uint64_t *ret,
                     drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        *ret = 0;
        return 0;
    }
    if (json_object_is_type(v, json_type_int)) {
        int64_t i = json_object_get_int64(v);
        if (i < 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must not be negative", what,
                                 key);
        *ret = (uint64_t)i;
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) { /* int64 as a string, etcd style */
        const char *s = json_object_get_string(v);
        char *end = NULL;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (errno || !*s || *end || *s == '-')
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" is not a number: %s", what,
                                 key, s);
        *ret = u;
        return 0;
    }
    return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be an integer", what, key);
}

static int s_get_u32(json_object *o, const char *key, const char *what, uint32_t *ret,
                     drv_error **err)
{
    uint64_t v;
    if (s_get_u64(o, key, what, &v, err) < 0)
        return -1;
    if (v > UINT32_MAX)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" is too large", what, key);
    *ret = (uint32_t)v;
    return 0;
}

static int s_get_bool(json_object *o, const char *key, bool dflt, const char *what, bool *ret,
                      drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        *ret = dflt;
        return 0;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be true or false", what,
                             key);
    *ret = json_object_get_boolean(v);
    return 0;
}

/* A string array → NULL-terminated array of borrowed strings (free the array with g_free). */
static int s_get_strv(json_object *o, const char *key, const char *what, const char ***ret,
                      drv_error **err)
{
    json_object *v = NULL;
    *ret = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        *ret = g_new0(const char *, 1);
        return 0;
    }
    if (!json_object_is_type(v, json_type_array))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be an array of strings",
                             what, key);
    size_t n = json_object_array_length(v);
    const char **out = g_new0(const char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string)) {
            g_free(out);
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\"[%zu] must be a string", what,
                                 key, i);
        }
        out[i] = json_object_get_string(e);
    }
    *ret = out;
    return 0;
}

/* Labels: an object {"k":"v"} (or an array of "k=v") → owned "k=v" strings (g_strfreev). */
static int s_get_labels(json_object *o, const char *key, const char *what, char ***ret,
                        drv_error **err)
{
    json_object *v = NULL;
    GPtrArray *out = g_ptr_array_new();
    if (json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null)) {
        if (json_object_is_type(v, json_type_object)) {
            json_object_object_foreach(v, k, val)
            {
                if (!json_object_is_type(val, json_type_string)) {
                    g_ptr_array_set_free_func(out, g_free);
                    g_ptr_array_unref(out);
                    return drv_error_set(err, DRV_ERR_INVALID, 0,
                                         "%s: label \"%s\" must have a string value", what, k);
                }
                g_ptr_array_add(out, g_strdup_printf("%s=%s", k, json_object_get_string(val)));
            }
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) {
                    g_ptr_array_set_free_func(out, g_free);
                    g_ptr_array_unref(out);
                    return drv_error_set(err, DRV_ERR_INVALID, 0,
                                         "%s: \"%s\"[%zu] must be a string", what, key, i);
                }
                g_ptr_array_add(out, g_strdup(json_object_get_string(e)));
            }
        } else {
            g_ptr_array_unref(out);
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be an object of strings",
                                 what, key);
        }
    }
    g_ptr_array_add(out, NULL);
    *ret = (char **)g_ptr_array_free(out, FALSE);
    return 0;
}

static int s_get_size_kib(json_object *o, const char *kib_key, const char *size_key,
                          const char *what, uint64_t *ret, drv_error **err)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(o, size_key, &v) && json_object_is_type(v, json_type_string)) {
        if (drv_sched_parse_size_kib(json_object_get_string(v), ret, err) < 0) {
            drv_error_prefix(err, "%s: \"%s\"", what, size_key);
            return -1;
        }
        return 0;
    }
    return s_get_u64(o, kib_key, what, ret, err);
}

int drv_sched_parse_size_kib(const char *text, uint64_t *ret_kib, drv_error **err)
{
    if (!text || !g_ascii_isdigit(*text))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "invalid size \"%s\"",
                             text ? text : "(null)");
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (errno)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "invalid size \"%s\"", text);
    uint64_t mult; /* bytes per unit */
    if (!*end || g_ascii_strcasecmp(end, "B") == 0)
        mult = 1;
    else if (g_ascii_strcasecmp(end, "K") == 0 || g_ascii_strcasecmp(end, "KiB") == 0)
        mult = 1024;
    else if (g_ascii_strcasecmp(end, "M") == 0 || g_ascii_strcasecmp(end, "MiB") == 0)
        mult = 1024ull * 1024;
    else if (g_ascii_strcasecmp(end, "G") == 0 || g_ascii_strcasecmp(end, "GiB") == 0)
        mult = 1024ull * 1024 * 1024;
    else if (g_ascii_strcasecmp(end, "T") == 0 || g_ascii_strcasecmp(end, "TiB") == 0)
        mult = 1024ull * 1024 * 1024 * 1024;
    else
        return drv_error_set(err, DRV_ERR_INVALID, 0, "invalid size \"%s\" (unknown unit \"%s\")",
                             text, end);
    if (n > UINT64_MAX / mult)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "size \"%s\" is too large", text);
    uint64_t bytes = n * mult;
    *ret_kib = bytes / 1024 + (bytes % 1024 ? 1 : 0);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Snapshot → cluster. */

static int s_config_from_json(json_object *o, drv_sched_config *cfg, drv_error **err)
{
    drv_sched_config_init(cfg);
    if (!o)
        return 0;
    if (!json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: \"config\" must be an object");
    json_object *v;
    if (json_object_object_get_ex(o, "cpu_ratio", &v))
        cfg->cpu_ratio = json_object_get_double(v);
    if (json_object_object_get_ex(o, "memory_ratio", &v))
        cfg->memory_ratio = json_object_get_double(v);
    if (json_object_object_get_ex(o, "weigher", &v) &&
        drv_sched_weigher_from_string(json_object_get_string(v), &cfg->weigher) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: unknown weigher \"%s\"",
                             json_object_get_string(v));
    if (json_object_object_get_ex(o, "alternates", &v))
        cfg->alternates = (unsigned)json_object_get_int(v);
    return 0;
}

static int s_host_from_json(drv_sched_cluster *c, json_object *o, size_t i, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("snapshot host #%zu", i);
    if (!json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: must be an object", what);
    drv_sched_host_spec h = {.reachable = true};
    if (s_get_string(o, "id", true, what, &h.id, err) < 0)
        return -1;
    g_free(what);
    what = g_strdup_printf("snapshot host %s", h.id);
    const char *state = NULL;
    g_autofree const char **features = NULL, **pools = NULL, **networks = NULL;
    g_auto(GStrv) labels = NULL;
    if (s_get_string(o, "arch", false, what, &h.arch, err) < 0 ||
        s_get_string(o, "cpu_model", false, what, &h.cpu_model, err) < 0 ||
        s_get_u32(o, "cpus", what, &h.cpus, err) < 0 ||
        s_get_size_kib(o, "memory_kib", "memory", what, &h.memory_kib, err) < 0 ||
        s_get_size_kib(o, "reserved_memory_kib", "reserved_memory", what, &h.reserved_memory_kib,
                       err) < 0 ||
        s_get_strv(o, "features", what, &features, err) < 0 ||
        s_get_strv(o, "pools", what, &pools, err) < 0 ||
        s_get_strv(o, "networks", what, &networks, err) < 0 ||
        s_get_labels(o, "labels", what, &labels, err) < 0 ||
        s_get_string(o, "state", false, what, &state, err) < 0 ||
        s_get_bool(o, "reachable", true, what, &h.reachable, err) < 0)
        return -1;
    if (state && drv_sched_host_state_from_string(state, &h.state) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unknown state \"%s\"", what, state);
    h.features = features;
    h.pools = pools;
    h.networks = networks;
    h.labels = (const char *const *)labels;
    return drv_sched_cluster_add_host(c, &h, err);
}

static int s_domain_fields(json_object *o, const char *what, drv_sched_domain_spec *d,
                           const char ***features, const char ***pools, const char ***networks,
                           char ***labels, drv_error **err)
{
    if (s_get_string(o, "arch", false, what, &d->arch, err) < 0 ||
        s_get_u32(o, "vcpus", what, &d->vcpus, err) < 0 ||
        s_get_size_kib(o, "memory_kib", "memory", what, &d->memory_kib, err) < 0 ||
        s_get_strv(o, "features", what, features, err) < 0 ||
        s_get_strv(o, "pools", what, pools, err) < 0 ||
        s_get_strv(o, "networks", what, networks, err) < 0 ||
        s_get_labels(o, "labels", what, labels, err) < 0 ||
        s_get_string(o, "affinity_group", false, what, &d->affinity_group, err) < 0 ||
        s_get_string(o, "anti_affinity_group", false, what, &d->anti_affinity_group, err) < 0)
        return -1;
    d->features = *features;
    d->pools = *pools;
    d->networks = *networks;
    d->labels = (const char *const *)*labels;
    return 0;
}

static int s_domain_from_json(drv_sched_cluster *c, json_object *o, size_t i, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("snapshot domain #%zu", i);
    if (!json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: must be an object", what);
    drv_sched_domain_spec d = {0};
    if (s_get_string(o, "name", true, what, &d.name, err) < 0)
        return -1;
    g_free(what);
    what = g_strdup_printf("snapshot domain %s", d.name);
    g_autofree const char **features = NULL, **pools = NULL, **networks = NULL;
    g_auto(GStrv) labels = NULL;
    if (s_get_string(o, "host", false, what, &d.host, err) < 0 ||
        s_get_bool(o, "running", true, what, &d.running, err) < 0 ||
        s_domain_fields(o, what, &d, &features, &pools, &networks, &labels, err) < 0)
        return -1;
    return drv_sched_cluster_add_domain(c, &d, err);
}

static int s_reservation_from_json(drv_sched_cluster *c, json_object *o, size_t i, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("snapshot reservation #%zu", i);
    if (!json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: must be an object", what);
    drv_sched_reservation r = {0};
    if (s_get_string(o, "id", true, what, &r.id, err) < 0 ||
        s_get_string(o, "host", true, what, &r.host, err) < 0 ||
        s_get_u32(o, "vcpus", what, &r.vcpus, err) < 0 ||
        s_get_size_kib(o, "memory_kib", "memory", what, &r.memory_kib, err) < 0)
        return -1;
    return drv_sched_cluster_add_reservation(c, &r, err);
}

static int s_array(json_object *root, const char *key, json_object **ret, drv_error **err)
{
    *ret = NULL;
    if (!json_object_object_get_ex(root, key, ret) || json_object_is_type(*ret, json_type_null)) {
        *ret = NULL;
        return 0;
    }
    if (!json_object_is_type(*ret, json_type_array))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: \"%s\" must be an array", key);
    return 0;
}

int drv_sched_cluster_from_json_object(json_object *root, drv_sched_cluster **ret, drv_error **err)
{
    if (!root || !json_object_is_type(root, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: the document must be an object");
    json_object *v = NULL;
    if (json_object_object_get_ex(root, "version", &v) &&
        json_object_get_int(v) != DRV_SCHED_SNAPSHOT_VERSION)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "snapshot: version %d is not supported (expected %d)",
                             json_object_get_int(v), DRV_SCHED_SNAPSHOT_VERSION);
    drv_sched_config cfg;
    json_object *cfg_o = NULL;
    json_object_object_get_ex(root, "config", &cfg_o);
    if (s_config_from_json(cfg_o, &cfg, err) < 0)
        return -1;
    drv_sched_cluster *c = drv_sched_cluster_new(NULL);
    json_object *hosts, *domains, *res;
    if (drv_sched_cluster_set_config(c, &cfg, err) < 0 || s_array(root, "hosts", &hosts, err) < 0 ||
        s_array(root, "domains", &domains, err) < 0 || s_array(root, "reservations", &res, err) < 0)
        goto fail;
    for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++)
        if (s_host_from_json(c, json_object_array_get_idx(hosts, i), i, err) < 0)
            goto fail;
    for (size_t i = 0; domains && i < json_object_array_length(domains); i++)
        if (s_domain_from_json(c, json_object_array_get_idx(domains, i), i, err) < 0)
            goto fail;
    for (size_t i = 0; res && i < json_object_array_length(res); i++)
        if (s_reservation_from_json(c, json_object_array_get_idx(res, i), i, err) < 0)
            goto fail;
    *ret = c;
    return 0;
fail:
    drv_sched_cluster_destroy(&c);
    return -1;
}

int drv_sched_cluster_from_json(const char *text, drv_sched_cluster **ret, drv_error **err)
{
    if (!text)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: no text");
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, text, (int)strlen(text));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "snapshot: not valid JSON: %s",
                             json_tokener_error_desc(jerr == json_tokener_success
                                                         ? json_tokener_error_parse_eof
                                                         : jerr));
    }
    int r = drv_sched_cluster_from_json_object(root, ret, err);
    json_object_put(root);
    return r;
}

/* ------------------------------------------------------------------------------------------------
 * Cluster → snapshot. */

static json_object *s_strv_json(char *const *v)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; v && v[i]; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

static json_object *s_labels_json(char *const *v)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; v && v[i]; i++) {
        const char *eq = strchr(v[i], '=');
        g_autofree char *k = eq ? g_strndup(v[i], (gsize)(eq - v[i])) : g_strdup(v[i]);
        json_object_object_add(o, k, json_object_new_string(eq ? eq + 1 : ""));
    }
    return o;
}

static void s_add_str(json_object *o, const char *key, const char *val)
{
    if (val)
        json_object_object_add(o, key, json_object_new_string(val));
}

json_object *drv_sched_cluster_to_json_object(const drv_sched_cluster *c)
{
    json_object *root = json_object_new_object();
    json_object_object_add(root, "version", json_object_new_int(DRV_SCHED_SNAPSHOT_VERSION));
    json_object *cfg = json_object_new_object();
    json_object_object_add(cfg, "cpu_ratio", json_object_new_double(c->cfg.cpu_ratio));
    json_object_object_add(cfg, "memory_ratio", json_object_new_double(c->cfg.memory_ratio));
    json_object_object_add(cfg, "weigher",
                           json_object_new_string(drv_sched_weigher_to_string(c->cfg.weigher)));
    json_object_object_add(cfg, "alternates", json_object_new_int((int)c->cfg.alternates));
    json_object_object_add(root, "config", cfg);

    json_object *hosts = json_object_new_array();
    for (guint i = 0; i < c->hosts->len; i++) {
        const sched_host *h = g_ptr_array_index(c->hosts, i);
        json_object *o = json_object_new_object();
        s_add_str(o, "id", h->id);
        s_add_str(o, "arch", h->arch);
        s_add_str(o, "cpu_model", h->cpu_model);
        json_object_object_add(o, "cpus", json_object_new_int64(h->cpus));
        json_object_object_add(o, "memory_kib", json_object_new_int64((int64_t)h->memory_kib));
        json_object_object_add(o, "reserved_memory_kib",
                               json_object_new_int64((int64_t)h->reserved_memory_kib));
        json_object_object_add(o, "features", s_strv_json(h->features));
        json_object_object_add(o, "labels", s_labels_json(h->labels));
        json_object_object_add(o, "pools", s_strv_json(h->pools));
        json_object_object_add(o, "networks", s_strv_json(h->networks));
        s_add_str(o, "state", drv_sched_host_state_to_string(h->state));
        json_object_object_add(o, "reachable", json_object_new_boolean(h->reachable));
        json_object_array_add(hosts, o);
    }
    json_object_object_add(root, "hosts", hosts);

    json_object *domains = json_object_new_array();
    for (guint i = 0; i < c->domains->len; i++) {
        const sched_domain *d = g_ptr_array_index(c->domains, i);
        json_object *o = json_object_new_object();
        s_add_str(o, "name", d->name);
        s_add_str(o, "host", d->host ? d->host->id : NULL);
        json_object_object_add(o, "running", json_object_new_boolean(d->running));
        json_object_object_add(o, "vcpus", json_object_new_int64(d->vcpus));
        json_object_object_add(o, "memory_kib", json_object_new_int64((int64_t)d->memory_kib));
        s_add_str(o, "arch", d->arch);
        json_object_object_add(o, "features", s_strv_json(d->features));
        json_object_object_add(o, "pools", s_strv_json(d->pools));
        json_object_object_add(o, "networks", s_strv_json(d->networks));
        json_object_object_add(o, "labels", s_labels_json(d->labels));
        s_add_str(o, "affinity_group", d->affinity_group);
        s_add_str(o, "anti_affinity_group", d->anti_affinity_group);
        json_object_array_add(domains, o);
    }
    json_object_object_add(root, "domains", domains);

    json_object *res = json_object_new_array();
    for (guint i = 0; i < c->reservations->len; i++) {
        const sched_reservation *r = g_ptr_array_index(c->reservations, i);
        json_object *o = json_object_new_object();
        s_add_str(o, "id", r->id);
        s_add_str(o, "host", r->host->id);
        json_object_object_add(o, "vcpus", json_object_new_int64(r->vcpus));
        json_object_object_add(o, "memory_kib", json_object_new_int64((int64_t)r->memory_kib));
        json_object_array_add(res, o);
    }
    json_object_object_add(root, "reservations", res);
    return root;
}

char *drv_sched_cluster_to_json(const drv_sched_cluster *cluster)
{
    json_object *root = drv_sched_cluster_to_json_object(cluster);
    char *s = g_strconcat(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE),
                          "\n", NULL);
    json_object_put(root);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Requests from JSON. */

typedef struct {
    drv_sched_request req; /* first: the public part */
    char *name, *arch, *aff, *anti;
    char **features, **pools, **networks, **labels, **avoid;
} s_owned_request;

static char **s_dup_strv(const char **v)
{
    return g_strdupv((char **)v);
}

int drv_sched_request_from_json(json_object *o, drv_sched_request **ret, drv_error **err)
{
    const char *what = "request";
    if (!o || !json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "request: must be an object");
    drv_sched_domain_spec d = {0};
    const char *name = NULL;
    g_autofree const char **features = NULL, **pools = NULL, **networks = NULL, **avoid = NULL;
    g_auto(GStrv) labels = NULL;
    if (s_get_string(o, "name", false, what, &name, err) < 0 ||
        s_domain_fields(o, what, &d, &features, &pools, &networks, &labels, err) < 0 ||
        s_get_strv(o, "avoid_hosts", what, &avoid, err) < 0)
        return -1;
    s_owned_request *r = g_new0(s_owned_request, 1);
    r->name = g_strdup(name);
    r->arch = g_strdup(d.arch);
    r->aff = g_strdup(d.affinity_group);
    r->anti = g_strdup(d.anti_affinity_group);
    r->features = s_dup_strv(features);
    r->pools = s_dup_strv(pools);
    r->networks = s_dup_strv(networks);
    r->labels = g_steal_pointer(&labels);
    r->avoid = s_dup_strv(avoid);
    r->req.name = r->name;
    r->req.vcpus = d.vcpus;
    r->req.memory_kib = d.memory_kib;
    r->req.arch = r->arch;
    r->req.features = (const char *const *)r->features;
    r->req.pools = (const char *const *)r->pools;
    r->req.networks = (const char *const *)r->networks;
    r->req.labels = (const char *const *)r->labels;
    r->req.affinity_group = r->aff;
    r->req.anti_affinity_group = r->anti;
    r->req.avoid_hosts = (const char *const *)r->avoid;
    *ret = &r->req;
    return 0;
}

void drv_sched_request_destroy(drv_sched_request **request_p)
{
    if (!request_p || !*request_p)
        return;
    s_owned_request *r = (s_owned_request *)*request_p;
    g_free(r->name);
    g_free(r->arch);
    g_free(r->aff);
    g_free(r->anti);
    g_strfreev(r->features);
    g_strfreev(r->pools);
    g_strfreev(r->networks);
    g_strfreev(r->labels);
    g_strfreev(r->avoid);
    g_free(r);
    *request_p = NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Results → JSON. */

json_object *drv_sched_result_to_json(const drv_sched_result *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "fits", json_object_new_boolean(r->fits));
    if (r->host)
        json_object_object_add(o, "host", json_object_new_string(r->host));
    else
        json_object_object_add(o, "host", NULL);
    json_object_object_add(o, "alternates", s_strv_json(r->alternates));
    json_object_object_add(o, "hosts", json_object_new_int64((int64_t)r->n_hosts));
    json_object_object_add(o, "fitting", json_object_new_int64((int64_t)r->n_fitting));
    json_object *rej = json_object_new_object();
    for (int f = 0; f < DRV_SCHED_FILTER_LAST; f++)
        if (r->rejected[f])
            json_object_object_add(rej, drv_sched_filter_to_string((drv_sched_filter)f),
                                   json_object_new_int64((int64_t)r->rejected[f]));
    json_object_object_add(o, "rejected", rej);
    json_object_object_add(o, "missing_features", s_strv_json(r->missing_features));
    json_object_object_add(o, "missing_pools", s_strv_json(r->missing_pools));
    json_object_object_add(o, "missing_networks", s_strv_json(r->missing_networks));
    json_object_object_add(o, "missing_labels", s_strv_json(r->missing_labels));
    json_object_object_add(o, "memory_short_kib",
                           json_object_new_int64((int64_t)r->memory_short_kib));
    json_object_object_add(o, "vcpus_short", json_object_new_int64((int64_t)r->vcpus_short));
    g_autofree char *why = drv_sched_explain(r);
    json_object_object_add(o, "explanation", json_object_new_string(why));
    return o;
}

json_object *drv_sched_capacity_to_json(const drv_sched_capacity *cap)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "total", json_object_new_int64((int64_t)cap->total));
    json_object *hosts = json_object_new_array();
    for (size_t i = 0; i < cap->n_hosts; i++) {
        const drv_sched_host_capacity *hc = &cap->hosts[i];
        json_object *h = json_object_new_object();
        json_object_object_add(h, "host", json_object_new_string(hc->host));
        json_object_object_add(h, "fits", json_object_new_int64((int64_t)hc->fits));
        json_object_object_add(h, "limit",
                               json_object_new_string(drv_sched_limit_to_string(hc->limit)));
        if (hc->rejected_by != DRV_SCHED_FILTER_LAST)
            json_object_object_add(
                h, "rejected_by",
                json_object_new_string(drv_sched_filter_to_string(hc->rejected_by)));
        json_object_object_add(h, "vcpus_free", json_object_new_int64(hc->vcpus_free));
        json_object_object_add(h, "memory_free_kib", json_object_new_int64(hc->memory_free_kib));
        json_object_array_add(hosts, h);
    }
    json_object_object_add(o, "hosts", hosts);
    if (cap->n_plus_one_computed) {
        json_object_object_add(o, "n_plus_one_now", json_object_new_boolean(cap->n_plus_one_now));
        json_object_object_add(o, "n_plus_one_total",
                               json_object_new_int64((int64_t)cap->n_plus_one_total));
        if (cap->n_plus_one_breaker)
            json_object_object_add(o, "n_plus_one_breaker",
                                   json_object_new_string(cap->n_plus_one_breaker));
    }
    if (cap->hosts_down_computed)
        json_object_object_add(o, "hosts_may_fail", json_object_new_int64(cap->hosts_may_fail));
    return o;
}

json_object *drv_sched_drain_plan_to_json(const drv_sched_drain_plan *plan)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(plan->host));
    json_object *steps = json_object_new_array();
    for (size_t i = 0; i < plan->n_steps; i++) {
        const drv_sched_drain_step *st = &plan->steps[i];
        json_object *s = json_object_new_object();
        json_object_object_add(s, "domain", json_object_new_string(st->domain));
        json_object_object_add(s, "dest", st->dest ? json_object_new_string(st->dest) : NULL);
        json_object_object_add(s, "vcpus", json_object_new_int64(st->vcpus));
        json_object_object_add(s, "memory_kib", json_object_new_int64((int64_t)st->memory_kib));
        json_object_object_add(s, "running", json_object_new_boolean(st->running));
        if (st->reason)
            json_object_object_add(s, "reason", json_object_new_string(st->reason));
        json_object_array_add(steps, s);
    }
    json_object_object_add(o, "steps", steps);
    json_object_object_add(o, "unmovable", json_object_new_int64((int64_t)plan->n_unmovable));
    if (plan->n_plus_one_checked) {
        json_object_object_add(o, "n_plus_one_after",
                               json_object_new_boolean(plan->n_plus_one_after));
        if (plan->n_plus_one_breaker)
            json_object_object_add(o, "n_plus_one_breaker",
                                   json_object_new_string(plan->n_plus_one_breaker));
    }
    return o;
}
