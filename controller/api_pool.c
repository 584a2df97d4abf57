/* api_pool.c — the client verbs of storage pools and volumes (docs/provisioning.md): pool.define,
 * pool.undefine, pool.list, pool.info, vol.create, vol.list, vol.info, vol.delete. Records live in
 * etcd (prov_store.h), the data in libvirt pools on the hosts (agent commands, prov_fanout.h).
 * Intent first: a record is stored before any host is commanded, and removed again when the command
 * surely failed. */
#include "api_private.h"
#include "ctl_io.h"
#include "api_prov.h"

#include "prov_fanout.h"
#include "log.h"
#include "prov_store.h"
#include "provision.h"

#include <string.h>

/* The state of one pool/volume verb between its steps. */
typedef struct {
    ctl_req *r;
    char *pool;
    char *vol;
    json_object *pool_doc; /* owned copy of pools/<pool> */
    json_object *vol_doc;  /* owned: the volume record being written */
    json_object *hosts;    /* owned: per-host results */
    char *host;            /* the host carrying out a volume command */
    int marker_next;       /* shared check: index of the next host to check */
    bool shared_ok;
    char *shared_error;
} s_pv;

static s_pv *s_pv_new(ctl_req *r, const char *pool, const char *vol)
{
    s_pv *p = g_new0(s_pv, 1);
    p->r = r;
    p->pool = g_strdup(pool);
    p->vol = g_strdup(vol);
    return p;
}

static void s_pv_free(s_pv *p)
{
    g_free(p->pool);
    g_free(p->vol);
    g_free(p->host);
    g_free(p->shared_error);
    if (p->pool_doc != NULL)
        json_object_put(p->pool_doc);
    if (p->vol_doc != NULL)
        json_object_put(p->vol_doc);
    if (p->hosts != NULL)
        json_object_put(p->hosts);
    g_free(p);
}

static void s_ok(s_pv *p, json_object *doc)
{
    ctl_req_ok(p->r, doc);
    s_pv_free(p);
}

static void s_failf(s_pv *p, drv_err_kind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void s_failf(s_pv *p, drv_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl_req_failf(p->r, kind, "%s", msg);
    s_pv_free(p);
}

static void s_fail(s_pv *p, drv_error *err)
{
    ctl_req_fail(p->r, err);
    s_pv_free(p);
}

/* ------------------------------------------------------------------ pool.define */

static void s_pool_answer(s_pv *p)
{
    json_object *doc = json_object_get(p->pool_doc);
    json_object_object_add(doc, "hosts", json_object_get(p->hosts));
    s_ok(p, doc);
}

static void s_pool_verified_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_pv *p = data;
    (void)c;
    (void)attempted;
    if (err != NULL)
        drv_warn("pool '%s': storing the shared check: %s", p->pool, err->message);
    s_pool_answer(p);
}

/* The marker check is over (every host checked, or one failed): store what it found. */
static void s_pool_shared_done(ctl *c, s_pv *p)
{
    json_object_object_add(p->pool_doc, "shared_verified", json_object_new_boolean(p->shared_ok));
    if (p->shared_error != NULL)
        json_object_object_add(p->pool_doc, "shared_error",
                               json_object_new_string(p->shared_error));
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_put(c, key, p->pool_doc, false, s_pool_verified_stored, p, &err) < 0) {
        drv_warn("pool '%s': %s", p->pool, err->message);
        drv_error_destroy(&err);
        s_pool_answer(p);
    }
}

static void s_marker_next(ctl *c, s_pv *p);

static void s_marker_checked(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_pv *p = data;
    if (!rep->ok) {
        p->shared_ok = false;
        g_free(p->shared_error);
        p->shared_error =
            g_strdup_printf("host '%s' does not see what host '%s' wrote in %s: %s", host, p->host,
                            ctl_prov_str(p->pool_doc, "path"), rep->message ? rep->message : "");
        s_pool_shared_done(c, p);
        return;
    }
    s_marker_next(c, p);
}

static void s_marker_written(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_pv *p = data;
    (void)host;
    json_object *entry = json_object_array_get_idx(p->hosts, (size_t)p->marker_next);
    const char *target = ctl_prov_str(entry, "host");
    if (!rep->ok || rep->message == NULL) {
        p->shared_ok = false;
        p->shared_error = g_strdup_printf("marker not written on '%s': %s", p->host,
                                          rep->message ? rep->message : "");
        s_pool_shared_done(c, p);
        return;
    }
    p->marker_next++;
    ctl_cmd cmd = {.kind = CTL_CMD_STORAGE_MARK_CHECK,
                   .path = ctl_prov_str(p->pool_doc, "path"),
                   .name = p->pool,
                   .xml = rep->message};
    drv_error *err = NULL;
    if (ctl_send(c, target, &cmd, s_marker_checked, p, NULL, &err) < 0) {
        p->shared_ok = false;
        p->shared_error = g_strdup(err->message);
        drv_error_destroy(&err);
        s_pool_shared_done(c, p);
    }
}

/* Writes a marker on the first host and checks it on the next one, host after host (a check
 * removes the marker, so each host gets a fresh one). */
static void s_marker_next(ctl *c, s_pv *p)
{
    if ((size_t)p->marker_next >= json_object_array_length(p->hosts)) {
        s_pool_shared_done(c, p);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_STORAGE_MARK_WRITE,
                   .path = ctl_prov_str(p->pool_doc, "path"),
                   .name = p->pool};
    drv_error *err = NULL;
    if (ctl_send(c, p->host, &cmd, s_marker_written, p, NULL, &err) < 0) {
        p->shared_ok = false;
        p->shared_error = g_strdup(err->message);
        drv_error_destroy(&err);
        s_pool_shared_done(c, p);
    }
}

static void s_pool_defined(ctl *c, json_object *hosts, int n_ok, void *data)
{
    s_pv *p = data;
    p->hosts = hosts;
    size_t n = json_object_array_length(hosts);
    if (!ctl_prov_bool(p->pool_doc, "shared") || n_ok < 2 || (size_t)n_ok != n) {
        if (ctl_prov_bool(p->pool_doc, "shared")) {
            p->shared_ok = false;
            p->shared_error =
                g_strdup_printf("only %d of %zu hosts have the pool: not verified", n_ok, n);
            s_pool_shared_done(c, p);
            return;
        }
        s_pool_answer(p);
        return;
    }
    p->shared_ok = true;
    p->host = g_strdup(ctl_prov_str(json_object_array_get_idx(hosts, 0), "host"));
    p->marker_next = 1;
    s_marker_next(c, p);
}

static void s_pool_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': %s%s", p->pool, attempted ? "may not be stored: " : "",
                err->message);
        return;
    }
    g_autofree char *xml = drv_prov_pool_xml(p->pool, ctl_prov_str(p->pool_doc, "path"));
    ctl_cmd cmd = {.kind = CTL_CMD_POOL_DEFINE, .pool = p->pool, .xml = xml};
    ctl_fanout(c, &cmd, s_pool_defined, p);
}

void ctl_api_pool_define(ctl_req *r)
{
    const char *type = ctl_req_opt(r, "type");
    const char *path = ctl_req_opt(r, "path");
    if (type != NULL && strcmp(type, "dir") != 0) {
        ctl_req_failf(r, DRV_ERR_INVALID, "pool '%s': type '%s' is not supported (dir)", r->args[0],
                      type);
        return;
    }
    if (path == NULL || path[0] != '/') {
        ctl_req_usage(r, "pool.define: --path must be an absolute directory");
        return;
    }
    s_pv *p = s_pv_new(r, r->args[0], NULL);
    p->pool_doc = json_object_new_object();
    json_object_object_add(p->pool_doc, "name", json_object_new_string(p->pool));
    json_object_object_add(p->pool_doc, "type", json_object_new_string("dir"));
    json_object_object_add(p->pool_doc, "path", json_object_new_string(path));
    json_object_object_add(p->pool_doc, "shared",
                           json_object_new_boolean(ctl_req_flag(r, "shared")));
    json_object_object_add(p->pool_doc, "created_ms", json_object_new_int64(ctl_wall_ms(r->c)));
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_put(r->c, key, p->pool_doc, true, s_pool_stored, p, &err) < 0)
        s_fail(p, err);
}

/* ------------------------------------------------------------------ pool.undefine */

static void s_pool_record_gone(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_pv *p = data;
    (void)c;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': undefined on the hosts, but its record %s: %s", p->pool,
                attempted ? "may not be deleted" : "was not deleted", err->message);
        return;
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "name", json_object_new_string(p->pool));
    json_object_object_add(doc, "undefined", json_object_new_boolean(true));
    json_object_object_add(doc, "hosts", json_object_get(p->hosts));
    s_ok(p, doc);
}

static void s_pool_restored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_pv *p = data;
    (void)c;
    (void)attempted;
    if (err != NULL)
        drv_warn("pool '%s': restoring its record after a failed undefine: %s", p->pool,
                 err->message);
    s_failf(p, DRV_ERR_CONFLICT, "pool '%s' not undefined: %s", p->pool, p->shared_error);
}

static void s_pool_undefined(ctl *c, json_object *hosts, int n_ok, void *data)
{
    s_pv *p = data;
    (void)n_ok;
    p->hosts = hosts;
    GString *failed = g_string_new(NULL);
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i);
        if (ctl_prov_bool(h, "ok") || g_strcmp0(ctl_prov_str(h, "error_kind"), "not-found") == 0)
            continue;
        g_string_append_printf(failed, "%shost '%s': %s", failed->len ? "; " : "",
                               ctl_prov_str(h, "host"), ctl_prov_str(h, "error"));
    }
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (failed->len > 0) {
        /* some host still has it: the record stays, as it was */
        p->shared_error = g_string_free(failed, FALSE);
        json_object_object_del(p->pool_doc, "state");
        if (ctl_prov_put(c, key, p->pool_doc, false, s_pool_restored, p, &err) < 0) {
            drv_error_destroy(&err);
            s_failf(p, DRV_ERR_CONFLICT, "pool '%s' not undefined: %s", p->pool, p->shared_error);
        }
        return;
    }
    g_string_free(failed, TRUE);
    if (ctl_prov_delete(c, key, s_pool_record_gone, p, &err) < 0)
        s_fail(p, err);
}

static void s_pool_undefining_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': %s%s; not undefined", p->pool,
                attempted ? "the intent may not be stored: " : "", err->message);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_POOL_UNDEFINE, .pool = p->pool};
    ctl_fanout(c, &cmd, s_pool_undefined, p);
}

static void s_pool_undef_vols(ctl *c, GPtrArray *docs, const drv_error *err, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': listing its volumes: %s", p->pool, err->message);
        return;
    }
    if (docs != NULL && docs->len > 0) {
        GString *names = g_string_new(NULL);
        for (guint i = 0; i < docs->len && i < 5; i++)
            g_string_append_printf(names, "%s%s", i ? ", " : "",
                                   ctl_prov_str(g_ptr_array_index(docs, i), "name"));
        s_failf(p, DRV_ERR_CONFLICT, "pool '%s' holds %u volume%s (%s%s); delete them first",
                p->pool, docs->len, docs->len == 1 ? "" : "s", names->str,
                docs->len > 5 ? ", ..." : "");
        g_string_free(names, TRUE);
        return;
    }
    const char *user = ctl_prov_dir_user(c, ctl_prov_str(p->pool_doc, "path"));
    if (user != NULL) {
        s_failf(p, DRV_ERR_CONFLICT,
                "pool '%s' is used by domain '%s' (its XML names a file in %s)", p->pool, user,
                ctl_prov_str(p->pool_doc, "path"));
        return;
    }
    /* intent first: the record says it is going before any host is told */
    json_object_object_add(p->pool_doc, "state", json_object_new_string("undefining"));
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *e = NULL;
    if (ctl_prov_put(c, key, p->pool_doc, false, s_pool_undefining_stored, p, &e) < 0)
        s_fail(p, e);
}

static void s_pool_undef_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': %s", p->pool, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(p, DRV_ERR_NOT_FOUND, "pool '%s' not found", p->pool);
        return;
    }
    p->pool_doc = json_object_get(doc);
    g_autofree char *key = g_strdup_printf("volumes/%s/", p->pool);
    drv_error *e = NULL;
    if (ctl_prov_list(c, key, s_pool_undef_vols, p, &e) < 0)
        s_fail(p, e);
}

void ctl_api_pool_undefine(ctl_req *r)
{
    s_pv *p = s_pv_new(r, r->args[0], NULL);
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_pool_undef_got, p, &err) < 0)
        s_fail(p, err);
}

/* ------------------------------------------------------------------ pool.list / pool.info */

static json_object *s_array_of(GPtrArray *docs)
{
    json_object *a = json_object_new_array();
    for (guint i = 0; docs != NULL && i < docs->len; i++)
        json_object_array_add(a, json_object_get(g_ptr_array_index(docs, i)));
    return a;
}

static void s_listed(ctl *c, GPtrArray *docs, const drv_error *err, void *data)
{
    s_pv *p = data;
    (void)c;
    if (err != NULL) {
        s_failf(p, err->kind, "%s", err->message);
        return;
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc,
                           p->vol != NULL    ? "volumes"
                           : p->pool != NULL ? "volumes"
                                             : "pools",
                           s_array_of(docs));
    s_ok(p, doc);
}

void ctl_api_pool_list(ctl_req *r)
{
    s_pv *p = s_pv_new(r, NULL, NULL);
    drv_error *err = NULL;
    if (ctl_prov_list(r->c, "pools/", s_listed, p, &err) < 0)
        s_fail(p, err);
}

static void s_pool_info_hosts(ctl *c, json_object *hosts, int n_ok, void *data)
{
    s_pv *p = data;
    (void)c;
    (void)n_ok;
    p->hosts = hosts;
    s_pool_answer(p);
}

static void s_pool_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': %s", p->pool, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(p, DRV_ERR_NOT_FOUND, "pool '%s' not found", p->pool);
        return;
    }
    p->pool_doc = json_object_get(doc);
    ctl_cmd cmd = {.kind = CTL_CMD_POOL_INFO, .pool = p->pool};
    ctl_fanout(c, &cmd, s_pool_info_hosts, p);
}

void ctl_api_pool_info(ctl_req *r)
{
    s_pv *p = s_pv_new(r, r->args[0], NULL);
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_pool_got, p, &err) < 0)
        s_fail(p, err);
}

/* ------------------------------------------------------------------ vol.create */

static void s_vol_created(ctl *c, const char *host, const char *path, const drv_error *err,
                          void *data)
{
    s_pv *p = data;
    (void)c;
    if (err != NULL) {
        s_failf(p, err->kind, "%s", err->message);
        return;
    }
    json_object *doc = json_object_get(p->vol_doc);
    json_object_object_add(doc, "host", json_object_new_string(host));
    json_object_object_add(doc, "path", json_object_new_string(path));
    s_ok(p, doc);
}

static void s_vol_pool_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "pool '%s': %s", p->pool, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(p, DRV_ERR_NOT_FOUND, "pool '%s' not found", p->pool);
        return;
    }
    const char *size = ctl_req_opt(p->r, "size_kib");
    const char *format = ctl_req_opt(p->r, "format");
    uint64_t kib = size ? g_ascii_strtoull(size, NULL, 10) : 0;
    if (kib == 0) {
        s_failf(p, DRV_ERR_INVALID, "volume '%s/%s': --size is needed", p->pool, p->vol);
        return;
    }
    ctl_prov_vol_spec spec = {.pool = p->pool,
                              .name = p->vol,
                              .capacity_bytes = kib * 1024,
                              .format = format ? format : "qcow2",
                              .backing = ctl_req_opt(p->r, "backing"),
                              .domain = NULL};
    drv_error *e = NULL;
    if (ctl_prov_vol_create(c, &spec, s_vol_created, p, &p->vol_doc, &e) < 0)
        s_fail(p, e);
}

void ctl_api_vol_create(ctl_req *r)
{
    const char *format = ctl_req_opt(r, "format");
    if (format != NULL && strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0) {
        ctl_req_failf(r, DRV_ERR_INVALID, "volume '%s/%s': format '%s' (qcow2 or raw)", r->args[0],
                      r->args[1], format);
        return;
    }
    if (!drv_prov_name_ok(r->args[1])) {
        ctl_req_usage(r, "vol.create: '%s' is not a volume name", r->args[1]);
        return;
    }
    s_pv *p = s_pv_new(r, r->args[0], r->args[1]);
    g_autofree char *key = g_strdup_printf("pools/%s", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_vol_pool_got, p, &err) < 0)
        s_fail(p, err);
}

/* ------------------------------------------------------------------ vol.list / vol.info */

void ctl_api_vol_list(ctl_req *r)
{
    s_pv *p = s_pv_new(r, r->args[0], NULL);
    g_autofree char *key = g_strdup_printf("volumes/%s/", p->pool);
    drv_error *err = NULL;
    if (ctl_prov_list(r->c, key, s_listed, p, &err) < 0)
        s_fail(p, err);
}

static void s_vol_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pv *p = data;
    (void)c;
    if (err != NULL) {
        s_failf(p, err->kind, "volume '%s/%s': %s", p->pool, p->vol, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(p, DRV_ERR_NOT_FOUND, "volume '%s/%s' not found", p->pool, p->vol);
        return;
    }
    json_object *out = json_object_get(doc);
    const char *user = ctl_prov_vol_user(c, doc);
    json_object_object_add(out, "used_by", user ? json_object_new_string(user) : NULL);
    s_ok(p, out);
}

void ctl_api_vol_info(ctl_req *r)
{
    s_pv *p = s_pv_new(r, r->args[0], r->args[1]);
    g_autofree char *key = g_strdup_printf("volumes/%s/%s", p->pool, p->vol);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_vol_got, p, &err) < 0)
        s_fail(p, err);
}

/* ------------------------------------------------------------------ vol.delete */

static void s_vol_deleted(ctl *c, const drv_error *err, void *data)
{
    s_pv *p = data;
    (void)c;
    if (err != NULL) {
        s_failf(p, err->kind, "%s", err->message);
        return;
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "pool", json_object_new_string(p->pool));
    json_object_object_add(doc, "name", json_object_new_string(p->vol));
    json_object_object_add(doc, "deleted", json_object_new_boolean(true));
    s_ok(p, doc);
}

static void s_vol_del_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pv *p = data;
    if (err != NULL) {
        s_failf(p, err->kind, "volume '%s/%s': %s", p->pool, p->vol, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(p, DRV_ERR_NOT_FOUND, "volume '%s/%s' not found", p->pool, p->vol);
        return;
    }
    const char *user = ctl_prov_vol_user(c, doc);
    if (user != NULL) {
        s_failf(p, DRV_ERR_CONFLICT, "volume '%s/%s' is in use by domain '%s'; not deleted",
                p->pool, p->vol, user);
        return;
    }
    drv_error *e = NULL;
    if (ctl_prov_vol_delete(c, doc, s_vol_deleted, p, &e) < 0)
        s_fail(p, e);
}

void ctl_api_vol_delete(ctl_req *r)
{
    s_pv *p = s_pv_new(r, r->args[0], r->args[1]);
    g_autofree char *key = g_strdup_printf("volumes/%s/%s", p->pool, p->vol);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_vol_del_got, p, &err) < 0)
        s_fail(p, err);
}
