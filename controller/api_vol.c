/* api_vol.c — the volume verbs that copy, fill or change a volume (docs/provisioning.md):
 * vol.clone, vol.upload (new volumes, through prov_vol.c: record first, removed again when the
 * host failed) and vol.resize, vol.wipe (an existing volume: its record says "resizing"/"wiping"
 * before the host is told, and "ready" again afterwards, whatever the outcome). */
#include "api_private.h"
#include "ctl_io.h"
#include "api_prov.h"

#include "log.h"
#include "prov_store.h"
#include "provision.h"

#include <string.h>

typedef struct {
    ctl_req *r;
    char *pool;
    char *vol;
    char *key;
    json_object *doc; /* owned: the volume record (or the new one) */
    char *host;       /* where the change runs */
    drv_error *failure;
    json_object *answer;
} s_vv;

static s_vv *s_vv_new(ctl_req *r, const char *pool, const char *vol)
{
    s_vv *v = g_new0(s_vv, 1);
    v->r = r;
    v->pool = g_strdup(pool);
    v->vol = g_strdup(vol);
    v->key = g_strdup_printf("volumes/%s/%s", pool, vol);
    return v;
}

static void s_vv_free(s_vv *v)
{
    g_free(v->pool);
    g_free(v->vol);
    g_free(v->key);
    g_free(v->host);
    if (v->doc != NULL)
        json_object_put(v->doc);
    if (v->answer != NULL)
        json_object_put(v->answer);
    drv_error_destroy(&v->failure);
    g_free(v);
}

static void s_failf(s_vv *v, drv_err_kind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void s_failf(s_vv *v, drv_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl_req_failf(v->r, kind, "%s", msg);
    s_vv_free(v);
}

static void s_fail(s_vv *v, drv_error *err)
{
    ctl_req_fail(v->r, err);
    s_vv_free(v);
}

/* ------------------------------------------------------------------ new volumes: clone, upload */

static void s_new_done(ctl *c, const char *host, const char *path, const drv_error *err, void *data)
{
    s_vv *v = data;
    (void)c;
    if (err != NULL) {
        s_failf(v, err->kind, "%s (nothing was created)", err->message);
        return;
    }
    json_object *doc = json_object_get(v->doc);
    json_object_object_add(doc, "state", json_object_new_string("ready"));
    json_object_object_add(doc, "host", json_object_new_string(host));
    json_object_object_add(doc, "path", json_object_new_string(path));
    ctl_req_ok(v->r, doc);
    s_vv_free(v);
}

/* vol.clone: the source's record gives its format; the copy gets the source's capacity. */
static void s_clone_src_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_vv *v = data;
    const char *src = v->r->args[1];
    if (err != NULL) {
        s_failf(v, err->kind, "volume '%s/%s': %s", v->pool, src, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(v, DRV_ERR_NOT_FOUND, "volume '%s/%s' not found", v->pool, src);
        return;
    }
    if (g_strcmp0(ctl_prov_str(doc, "state"), "ready") != 0) {
        s_failf(v, DRV_ERR_CONFLICT, "volume '%s/%s' is %s, not ready; not cloned", v->pool, src,
                ctl_prov_str(doc, "state") ? ctl_prov_str(doc, "state") : "?");
        return;
    }
    const char *user = ctl_prov_vol_user(c, doc);
    ctl_domain *d = user != NULL ? ctl_model_domain(c->model, user) : NULL;
    if (d != NULL && !ctl_model_domain_is_off(c->model, d)) {
        s_failf(v, DRV_ERR_CONFLICT,
                "volume '%s/%s' is in use by domain '%s', which is not shut off; a copy of a disk "
                "being written is not consistent: shut it down first",
                v->pool, src, user);
        return;
    }
    ctl_prov_vol_spec spec = {.pool = v->pool,
                              .name = v->vol,
                              .capacity_bytes = (uint64_t)ctl_prov_int(doc, "capacity_bytes"),
                              .format = ctl_prov_str(doc, "format") ? ctl_prov_str(doc, "format")
                                                                    : "qcow2",
                              .clone_from = src,
                              .host = ctl_prov_str(doc, "host")};
    drv_error *e = NULL;
    if (ctl_prov_vol_create(c, &spec, s_new_done, v, &v->doc, &e) < 0)
        s_fail(v, e);
}

void ctl_api_vol_clone(ctl_req *r)
{
    if (!drv_prov_name_ok(r->args[2])) {
        ctl_req_usage(r, "vol.clone: '%s' is not a volume name", r->args[2]);
        return;
    }
    if (strcmp(r->args[1], r->args[2]) == 0) {
        ctl_req_usage(r, "vol.clone: the copy needs a name of its own");
        return;
    }
    s_vv *v = s_vv_new(r, r->args[0], r->args[2]);
    g_autofree char *key = g_strdup_printf("volumes/%s/%s", v->pool, r->args[1]);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_clone_src_got, v, &err) < 0)
        s_fail(v, err);
}

/* vol.upload: the pool must exist; the content is in the request body. */
static void s_upload_pool_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_vv *v = data;
    if (err != NULL) {
        s_failf(v, err->kind, "pool '%s': %s", v->pool, err->message);
        return;
    }
    if (doc == NULL) {
        s_failf(v, DRV_ERR_NOT_FOUND, "pool '%s' not found", v->pool);
        return;
    }
    const char *format = ctl_req_opt(v->r, "format");
    if (format == NULL)
        format = drv_prov_image_format(v->r->body, v->r->body_len);
    ctl_prov_vol_spec spec = {.pool = v->pool,
                              .name = v->vol,
                              .capacity_bytes = v->r->body_len,
                              .format = format,
                              .data = v->r->body,
                              .data_len = v->r->body_len};
    drv_error *e = NULL;
    if (ctl_prov_vol_create(c, &spec, s_new_done, v, &v->doc, &e) < 0)
        s_fail(v, e);
}

void ctl_api_vol_upload(ctl_req *r)
{
    const char *format = ctl_req_opt(r, "format");
    if (format != NULL && strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0) {
        ctl_req_failf(r, DRV_ERR_INVALID, "volume '%s/%s': format '%s' (qcow2 or raw)", r->args[0],
                      r->args[1], format);
        return;
    }
    if (!drv_prov_name_ok(r->args[1])) {
        ctl_req_usage(r, "vol.upload: '%s' is not a volume name", r->args[1]);
        return;
    }
    if (r->body == NULL || r->body_len == 0) {
        ctl_req_failf(r, DRV_ERR_INVALID, "volume '%s/%s': the image is empty; nothing uploaded",
                      r->args[0], r->args[1]);
        return;
    }
    if (r->body_len > DRV_PROV_UPLOAD_MAX_BYTES) {
        ctl_req_failf(r, DRV_ERR_INVALID,
                      "volume '%s/%s': the image is %zu bytes; an upload is at most %u bytes",
                      r->args[0], r->args[1], r->body_len, (unsigned)DRV_PROV_UPLOAD_MAX_BYTES);
        return;
    }
    if (format != NULL && strcmp(format, "qcow2") == 0 &&
        strcmp(drv_prov_image_format(r->body, r->body_len), "qcow2") != 0) {
        ctl_req_failf(r, DRV_ERR_INVALID,
                      "volume '%s/%s': --format qcow2, but the image has no qcow2 header",
                      r->args[0], r->args[1]);
        return;
    }
    s_vv *v = s_vv_new(r, r->args[0], r->args[1]);
    g_autofree char *key = g_strdup_printf("pools/%s", v->pool);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_upload_pool_got, v, &err) < 0)
        s_fail(v, err);
}

/* ------------------------------------------------------------------ changes: resize, wipe */

static void s_change_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vv *v = data;
    (void)c;
    (void)attempted;
    if (err != NULL)
        drv_warn("%s: storing the outcome of a change: %s", v->key, err->message);
    if (v->failure != NULL) {
        ctl_req_failf(v->r, v->failure->kind, "%s", v->failure->message);
        s_vv_free(v);
        return;
    }
    ctl_req_ok(v->r, json_object_get(v->doc));
    s_vv_free(v);
}

/* The host answered: the record is "ready" again, with the capacity the host reports. */
static void s_changed(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_vv *v = data;
    const char *verb = strchr(v->r->verb, '.') + 1;
    json_object_object_add(v->doc, "state", json_object_new_string("ready"));
    json_object_object_del(v->doc, "resize_to");
    if (!rep->ok) {
        drv_err_kind kind = drv_err_kind_from_string(rep->error_kind);
        drv_error_set(&v->failure, kind == DRV_ERR_INTERNAL ? DRV_ERR_LIBVIRT : kind, 0,
                      "volume '%s/%s': %s on host '%s': %s", v->pool, v->vol, verb, host,
                      rep->message ? rep->message : "failed");
    } else {
        const char *cap = rep->stats ? g_hash_table_lookup(rep->stats, "capacity") : NULL;
        if (cap != NULL)
            json_object_object_add(v->doc, "capacity_bytes",
                                   json_object_new_int64(g_ascii_strtoll(cap, NULL, 10)));
        if (strcmp(verb, "wipe") == 0) {
            const char *alg = ctl_req_opt(v->r, "algorithm");
            json_object_object_add(v->doc, "wiped_with",
                                   json_object_new_string(alg ? alg : "zero"));
            json_object_object_add(v->doc, "wiped_ms", json_object_new_int64(ctl_wall_ms(c)));
        }
    }
    drv_error *err = NULL;
    if (ctl_prov_put(c, v->key, v->doc, false, s_change_stored, v, &err) < 0) {
        drv_warn("%s: %s", v->key, err->message);
        drv_error_destroy(&err);
        s_change_stored(c, NULL, false, v);
    }
}

/* The intent ("resizing"/"wiping") is stored: command the host. */
static void s_intent_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vv *v = data;
    const char *verb = strchr(v->r->verb, '.') + 1;
    if (err != NULL) {
        s_failf(v, err->kind, "volume '%s/%s': %s%s; not changed", v->pool, v->vol,
                attempted ? "the intent may not be stored: " : "", err->message);
        return;
    }
    bool resize = strcmp(verb, "resize") == 0;
    const char *alg = ctl_req_opt(v->r, "algorithm");
    ctl_cmd cmd = {.kind = resize ? CTL_CMD_VOL_RESIZE : CTL_CMD_VOL_WIPE,
                   .pool = v->pool,
                   .volume = v->vol,
                   .value = v->r->value,
                   .shrink = ctl_req_flag(v->r, "shrink"),
                   .domain = v->r->domain, /* a running domain's disk: grown live */
                   .path = v->r->domain ? ctl_prov_str(v->doc, "path") : NULL,
                   .name = resize ? NULL : (alg ? alg : "zero"),
                   .timeout_ms = CTL_PROV_SLOW_MS};
    drv_error *e = NULL;
    if (ctl_send(c, v->host, &cmd, s_changed, v, NULL, &e) < 0) {
        ctl_reply rep = {
            .ok = false, .error_kind = drv_err_kind_to_string(e->kind), .message = e->message};
        s_changed(c, v->host, &rep, v);
        drv_error_destroy(&e);
    }
}

static void s_store_intent(ctl *c, s_vv *v, const char *state)
{
    json_object_object_add(v->doc, "state", json_object_new_string(state));
    if (strcmp(state, "resizing") == 0)
        json_object_object_add(v->doc, "resize_to", json_object_new_int64((int64_t)v->r->value));
    drv_error *err = NULL;
    if (ctl_prov_put(c, v->key, v->doc, false, s_intent_stored, v, &err) < 0)
        s_fail(v, err);
}

/* The host that carries out a change of an existing volume: its own, else any up host (the
 * pool is the same directory everywhere only when shared; the host that created it has it). */
static bool s_pick_host(ctl *c, s_vv *v)
{
    const char *host = ctl_prov_str(v->doc, "host");
    if (host == NULL || !ctl_host_up(c, host)) {
        s_failf(v, DRV_ERR_UNAVAILABLE, "volume '%s/%s': its host '%s' is not up; not changed",
                v->pool, v->vol, host ? host : "-");
        return false;
    }
    v->host = g_strdup(host);
    return true;
}

static void s_resize_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_vv *v = data;
    if (err != NULL || doc == NULL) {
        s_failf(v, err ? err->kind : DRV_ERR_NOT_FOUND, "volume '%s/%s' %s", v->pool, v->vol,
                err ? err->message : "not found");
        return;
    }
    v->doc = json_object_get(doc);
    if (g_strcmp0(ctl_prov_str(doc, "state"), "ready") != 0) {
        s_failf(v, DRV_ERR_CONFLICT, "volume '%s/%s' is %s, not ready; not resized", v->pool,
                v->vol, ctl_prov_str(doc, "state") ? ctl_prov_str(doc, "state") : "?");
        return;
    }
    uint64_t now = (uint64_t)ctl_prov_int(doc, "capacity_bytes"), want = v->r->value;
    bool shrink = ctl_req_flag(v->r, "shrink");
    if (want == now) {
        ctl_req_ok(v->r, json_object_get(v->doc));
        s_vv_free(v);
        return;
    }
    if (want < now && !shrink) {
        s_failf(v, DRV_ERR_INVALID,
                "volume '%s/%s': %" G_GUINT64_FORMAT " bytes is smaller than its %" G_GUINT64_FORMAT
                " bytes; shrinking loses data: pass --shrink",
                v->pool, v->vol, want, now);
        return;
    }
    const char *user = ctl_prov_vol_user(c, doc);
    ctl_domain *d = user != NULL ? ctl_model_domain(c->model, user) : NULL;
    if (d != NULL && !ctl_model_domain_is_off(c->model, d)) {
        const char *state, *reason;
        ctl_model_domain_state(c->model, d, &state, &reason);
        if (want < now || strcmp(state, "running") != 0 || d->host == NULL ||
            !ctl_host_up(c, d->host)) {
            s_failf(v, DRV_ERR_CONFLICT, "volume '%s/%s' is in use by domain '%s' (%s%s%s); %s",
                    v->pool, v->vol, user, state, d->host ? " on " : "", d->host ? d->host : "",
                    want < now ? "a running domain's disk is never shrunk"
                               : "only a running domain's disk is grown live: shut it down or "
                                 "wait until its state is known");
            return;
        }
        /* live: QEMU grows the image it holds open (virDomainBlockResize on its host) */
        g_free(v->r->domain);
        v->r->domain = g_strdup(d->name);
        v->host = g_strdup(d->host);
        s_store_intent(c, v, "resizing");
        return;
    }
    if (!s_pick_host(c, v))
        return;
    s_store_intent(c, v, "resizing");
}

void ctl_api_vol_resize(ctl_req *r)
{
    uint64_t kib = g_ascii_strtoull(r->args[2], NULL, 10);
    if (kib == 0 || kib > G_MAXUINT64 / 1024) {
        ctl_req_usage(r, "vol.resize: '%s' is not a size", r->args[2]);
        return;
    }
    r->value = kib * 1024;
    s_vv *v = s_vv_new(r, r->args[0], r->args[1]);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, v->key, s_resize_got, v, &err) < 0)
        s_fail(v, err);
}

static void s_wipe_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_vv *v = data;
    if (err != NULL || doc == NULL) {
        s_failf(v, err ? err->kind : DRV_ERR_NOT_FOUND, "volume '%s/%s' %s", v->pool, v->vol,
                err ? err->message : "not found");
        return;
    }
    v->doc = json_object_get(doc);
    if (g_strcmp0(ctl_prov_str(doc, "state"), "ready") != 0) {
        s_failf(v, DRV_ERR_CONFLICT, "volume '%s/%s' is %s, not ready; not wiped", v->pool, v->vol,
                ctl_prov_str(doc, "state") ? ctl_prov_str(doc, "state") : "?");
        return;
    }
    const char *user = ctl_prov_vol_user(c, doc);
    if (user != NULL) {
        s_failf(v, DRV_ERR_CONFLICT, "volume '%s/%s' is in use by domain '%s'; not wiped", v->pool,
                v->vol, user);
        return;
    }
    if (!s_pick_host(c, v))
        return;
    s_store_intent(c, v, "wiping");
}

void ctl_api_vol_wipe(ctl_req *r)
{
    const char *alg = ctl_req_opt(r, "algorithm");
    drv_error *err = NULL;
    if (alg != NULL && drv_prov_wipe_algorithm_check(alg, &err) < 0) {
        drv_error_prefix(&err, "volume '%s/%s'", r->args[0], r->args[1]);
        ctl_req_fail(r, err);
        return;
    }
    s_vv *v = s_vv_new(r, r->args[0], r->args[1]);
    if (ctl_prov_get(r->c, v->key, s_wipe_got, v, &err) < 0)
        s_fail(v, err);
}
