/* prov_vol.c — see api_prov.h: a volume's life as record + libvirt volume, intent first. */
#include "api_prov.h"

#include "ctl_io.h"
#include "prov_fanout.h"
#include "log.h"
#include "prov_store.h"
#include "provision.h"

#include <string.h>

typedef struct {
    json_object *doc; /* the record */
    char *key;
    char *xml;
    char **seed_names;
    char **seed_contents;
    char *host;
    char *path;
    char *clone_from;
    uint8_t *content; /* to upload, data_len bytes, data_off sent */
    size_t data_len;
    size_t data_off;
    drv_error *failure;
    ctl_prov_vol_fn fn;
    ctl_prov_done_fn done_fn;
    void *data;
} s_vc;

static void s_vc_free(s_vc *v)
{
    json_object_put(v->doc);
    g_free(v->key);
    g_free(v->xml);
    g_strfreev(v->seed_names);
    g_strfreev(v->seed_contents);
    g_free(v->host);
    g_free(v->path);
    g_free(v->clone_from);
    g_free(v->content);
    drv_error_destroy(&v->failure);
    g_free(v);
}

static void s_vc_finish(ctl *c, s_vc *v, const drv_error *err)
{
    v->fn(c, v->host, v->path, err, v->data);
    s_vc_free(v);
}

static void s_removed(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vc *v = data;
    (void)attempted;
    if (err != NULL)
        drv_warn("%s: removing the record of a volume that was not created: %s", v->key,
                 err->message);
    s_vc_finish(c, v, v->failure);
}

/* The volume was not created: drop its record, then report failure. */
static void s_undo(ctl *c, s_vc *v, drv_error *failure)
{
    v->failure = failure;
    drv_error *err = NULL;
    if (ctl_prov_delete(c, v->key, s_removed, v, &err) < 0) {
        drv_warn("%s: %s", v->key, err->message);
        drv_error_destroy(&err);
        s_vc_finish(c, v, v->failure);
    }
}

static void s_undo_volume_gone(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_vc *v = data;
    if (!rep->ok && g_strcmp0(rep->error_kind, "not-found") != 0)
        drv_warn("%s: the half-uploaded volume on host '%s' was not deleted: %s", v->key, host,
                 rep->message ? rep->message : "");
    drv_error *f = g_steal_pointer(&v->failure);
    s_undo(c, v, f);
}

/* The volume exists on v->host but its content failed: delete it there, then its record. */
static void s_undo_created(ctl *c, s_vc *v, drv_error *failure)
{
    v->failure = failure;
    ctl_cmd cmd = {.kind = CTL_CMD_VOL_DELETE,
                   .pool = ctl_prov_str(v->doc, "pool"),
                   .volume = ctl_prov_str(v->doc, "name")};
    drv_error *err = NULL;
    if (ctl_send(c, v->host, &cmd, s_undo_volume_gone, v, NULL, &err) < 0) {
        drv_warn("%s: the half-uploaded volume was not deleted: %s", v->key, err->message);
        drv_error_destroy(&err);
        drv_error *f = g_steal_pointer(&v->failure);
        s_undo(c, v, f);
    }
}

static void s_ready_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vc *v = data;
    (void)attempted;
    if (err != NULL)
        drv_warn("%s: storing it ready: %s", v->key, err->message);
    s_vc_finish(c, v, NULL);
}

static void s_store_ready(ctl *c, s_vc *v, const char *host, const ctl_reply *rep);
static void s_send_chunk(ctl *c, s_vc *v);

static void s_chunk_sent(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_vc *v = data;
    if (!rep->ok) {
        drv_error *e = NULL;
        drv_error_set(&e, DRV_ERR_LIBVIRT, 0, "volume '%s' on host '%s': upload at byte %zu: %s",
                      v->key + strlen("volumes/"), host, v->data_off,
                      rep->message ? rep->message : "failed");
        s_undo_created(c, v, e);
        return;
    }
    v->data_off += MIN(v->data_len - v->data_off, (size_t)CTL_PROV_CHUNK);
    if (v->data_off < v->data_len) {
        s_send_chunk(c, v);
        return;
    }
    s_store_ready(c, v, host, rep);
}

/* The next CMD_VOL_UPLOAD chunk of the content, to the host that created the volume. */
static void s_send_chunk(ctl *c, s_vc *v)
{
    ctl_cmd cmd = {.kind = CTL_CMD_VOL_UPLOAD,
                   .pool = ctl_prov_str(v->doc, "pool"),
                   .volume = ctl_prov_str(v->doc, "name"),
                   .value = v->data_off,
                   .data = v->content + v->data_off,
                   .data_len = MIN(v->data_len - v->data_off, (size_t)CTL_PROV_CHUNK),
                   .timeout_ms = CTL_PROV_SLOW_MS};
    drv_error *e = NULL;
    if (ctl_send(c, v->host, &cmd, s_chunk_sent, v, NULL, &e) < 0)
        s_undo_created(c, v, e);
}

static void s_created(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_vc *v = data;
    if (!rep->ok) {
        drv_error *e = NULL;
        drv_err_kind kind = drv_err_kind_from_string(rep->error_kind);
        drv_error_set(&e, kind == DRV_ERR_INTERNAL ? DRV_ERR_LIBVIRT : kind, 0,
                      "volume '%s' on host '%s': %s", v->key + strlen("volumes/"), host,
                      rep->message ? rep->message : "failed");
        s_undo(c, v, e);
        return;
    }
    if (v->content != NULL && v->data_len > 0) {
        const char *path = rep->stats ? g_hash_table_lookup(rep->stats, "path") : NULL;
        v->path = g_strdup(path ? path : "");
        s_send_chunk(c, v);
        return;
    }
    s_store_ready(c, v, host, rep);
}

/* Created (and filled): the record says ready, with the host, path and capacity the host saw. */
static void s_store_ready(ctl *c, s_vc *v, const char *host, const ctl_reply *rep)
{
    const char *path = rep->stats ? g_hash_table_lookup(rep->stats, "path") : NULL;
    g_free(v->path);
    v->path = g_strdup(path ? path : "");
    json_object_object_add(v->doc, "state", json_object_new_string("ready"));
    json_object_object_add(v->doc, "host", json_object_new_string(host));
    json_object_object_add(v->doc, "path", json_object_new_string(v->path));
    const char *cap = rep->stats ? g_hash_table_lookup(rep->stats, "capacity") : NULL;
    if (cap != NULL)
        json_object_object_add(v->doc, "capacity_bytes",
                               json_object_new_int64(g_ascii_strtoll(cap, NULL, 10)));
    drv_error *err = NULL;
    if (ctl_prov_put(c, v->key, v->doc, false, s_ready_stored, v, &err) < 0) {
        drv_warn("%s: %s", v->key, err->message);
        drv_error_destroy(&err);
        s_vc_finish(c, v, NULL);
    }
}

static void s_intent_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vc *v = data;
    (void)attempted;
    if (err != NULL) {
        drv_error *e = NULL;
        if (err->kind == DRV_ERR_EXISTS)
            drv_error_set(&e, DRV_ERR_EXISTS, 0, "volume '%s' already exists",
                          v->key + strlen("volumes/"));
        else
            drv_error_set(&e, err->kind, 0, "%s: %s", v->key, err->message);
        s_vc_finish(c, v, e);
        drv_error_destroy(&e);
        return;
    }
    const char *host = v->host != NULL && ctl_host_up(c, v->host) ? v->host
                       : v->clone_from != NULL ? NULL /* only the source's host has it */
                                               : ctl_fanout_first_up(c);
    if (host == NULL) {
        drv_error *e = NULL;
        drv_error_set(&e, DRV_ERR_UNAVAILABLE, 0, "volume '%s': no host is up to create it",
                      v->key + strlen("volumes/"));
        s_undo(c, v, e);
        return;
    }
    if (host != v->host) {
        g_free(v->host);
        v->host = g_strdup(host);
    }
    bool seed = v->seed_names != NULL;
    ctl_cmd cmd = {.kind = seed            ? CTL_CMD_SEED_CREATE
                           : v->clone_from ? CTL_CMD_VOL_CLONE
                                           : CTL_CMD_VOL_CREATE,
                   .pool = ctl_prov_str(v->doc, "pool"),
                   .name = v->clone_from,
                   .timeout_ms = v->clone_from ? CTL_PROV_SLOW_MS : 0,
                   .volume = ctl_prov_str(v->doc, "name"),
                   .xml = v->xml,
                   .value = (uint64_t)ctl_prov_int(v->doc, "capacity_bytes"),
                   .file_names = v->seed_names,
                   .file_contents = v->seed_contents};
    drv_error *e = NULL;
    if (ctl_send(c, host, &cmd, s_created, v, NULL, &e) < 0)
        s_undo(c, v, e);
}

int ctl_prov_vol_create(ctl *c, const ctl_prov_vol_spec *spec, ctl_prov_vol_fn fn, void *data,
                        json_object **ret_doc, drv_error **err)
{
    s_vc *v = g_new0(s_vc, 1);
    v->fn = fn;
    v->data = data;
    v->key = g_strdup_printf("volumes/%s/%s", spec->pool, spec->name);
    v->doc = json_object_new_object();
    json_object_object_add(v->doc, "pool", json_object_new_string(spec->pool));
    json_object_object_add(v->doc, "name", json_object_new_string(spec->name));
    json_object_object_add(v->doc, "capacity_bytes",
                           json_object_new_int64((int64_t)spec->capacity_bytes));
    json_object_object_add(v->doc, "format",
                           json_object_new_string(spec->seed_names ? "raw" : spec->format));
    json_object_object_add(v->doc, "kind",
                           json_object_new_string(spec->seed_names ? "seed" : "disk"));
    if (spec->backing != NULL)
        json_object_object_add(v->doc, "backing", json_object_new_string(spec->backing));
    if (spec->domain != NULL)
        json_object_object_add(v->doc, "domain", json_object_new_string(spec->domain));
    v->host = g_strdup(spec->host);
    if (spec->clone_from != NULL) {
        json_object_object_add(v->doc, "cloned_from", json_object_new_string(spec->clone_from));
        v->clone_from = g_strdup(spec->clone_from);
    }
    if (spec->data != NULL && spec->data_len > 0) {
        json_object_object_add(v->doc, "uploaded_bytes",
                               json_object_new_int64((int64_t)spec->data_len));
        v->content = g_memdup2(spec->data, spec->data_len);
        v->data_len = spec->data_len;
    }
    json_object_object_add(v->doc, "state", json_object_new_string("creating"));
    json_object_object_add(v->doc, "created_ms", json_object_new_int64(ctl_wall_ms(c)));
    g_autofree char *backing_path = NULL;
    if (spec->backing != NULL && spec->pool_path != NULL)
        backing_path = g_build_filename(spec->pool_path, spec->backing, NULL);
    v->xml = drv_prov_vol_xml(
        spec->name, spec->capacity_bytes, v->content ? "raw" : spec->format, backing_path,
        backing_path && g_str_has_suffix(backing_path, ".qcow2") ? "qcow2" : "raw");
    if (spec->seed_names != NULL) {
        v->seed_names = g_strdupv((char **)spec->seed_names);
        v->seed_contents = g_strdupv((char **)spec->seed_contents);
    }
    if (ret_doc != NULL)
        *ret_doc = json_object_get(v->doc);
    if (ctl_prov_put(c, v->key, v->doc, true, s_intent_stored, v, err) < 0) {
        if (ret_doc != NULL) {
            json_object_put(*ret_doc);
            *ret_doc = NULL;
        }
        s_vc_free(v);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ delete */

static void s_record_deleted(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_vc *v = data;
    (void)attempted;
    v->done_fn(c, err, v->data);
    s_vc_free(v);
}

static void s_vol_gone(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_vc *v = data;
    if (!rep->ok && g_strcmp0(rep->error_kind, "not-found") != 0) {
        drv_error *e = NULL;
        drv_error_set(&e, DRV_ERR_LIBVIRT, 0, "volume '%s' on host '%s': %s",
                      v->key + strlen("volumes/"), host, rep->message ? rep->message : "");
        v->done_fn(c, e, v->data);
        drv_error_destroy(&e);
        s_vc_free(v);
        return;
    }
    drv_error *err = NULL;
    if (ctl_prov_delete(c, v->key, s_record_deleted, v, &err) < 0) {
        v->done_fn(c, err, v->data);
        drv_error_destroy(&err);
        s_vc_free(v);
    }
}

int ctl_prov_vol_delete(ctl *c, json_object *record, ctl_prov_done_fn fn, void *data,
                        drv_error **err)
{
    const char *pool = ctl_prov_str(record, "pool"), *name = ctl_prov_str(record, "name");
    const char *host = ctl_prov_str(record, "host");
    if (host == NULL || !ctl_host_up(c, host))
        host = ctl_fanout_first_up(c);
    if (host == NULL)
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "volume '%s/%s': no host is up to delete it", pool, name);
    s_vc *v = g_new0(s_vc, 1);
    v->doc = json_object_get(record);
    v->key = g_strdup_printf("volumes/%s/%s", pool, name);
    v->done_fn = fn;
    v->data = data;
    ctl_cmd cmd = {.kind = CTL_CMD_VOL_DELETE, .pool = pool, .volume = name};
    if (ctl_send(c, host, &cmd, s_vol_gone, v, NULL, err) < 0) {
        s_vc_free(v);
        return -1;
    }
    return 0;
}

const char *ctl_prov_vol_user(ctl *c, json_object *record)
{
    const char *dom = ctl_prov_str(record, "domain");
    ctl_domain *d = dom != NULL ? ctl_model_domain(c->model, dom) : NULL;
    if (d != NULL)
        return d->name;
    const char *path = ctl_prov_str(record, "path");
    if (path == NULL || path[0] == '\0')
        return NULL;
    g_autofree char *needle = g_strdup_printf("'%s'", path);
    g_autofree char *needle2 = g_strdup_printf("\"%s\"", path);
    GPtrArray *all = ctl_model_domains(c->model);
    const char *user = NULL;
    for (guint i = 0; i < all->len && user == NULL; i++) {
        ctl_domain *o = g_ptr_array_index(all, i);
        if (o->xml != NULL && (strstr(o->xml, needle) || strstr(o->xml, needle2)))
            user = o->name;
    }
    g_ptr_array_unref(all);
    return user;
}

const char *ctl_prov_dir_user(ctl *c, const char *dir)
{
    if (dir == NULL || dir[0] == '\0')
        return NULL;
    g_autofree char *trimmed = g_strdup(dir);
    while (strlen(trimmed) > 1 && g_str_has_suffix(trimmed, "/"))
        trimmed[strlen(trimmed) - 1] = '\0';
    g_autofree char *needle = g_strdup_printf("'%s/", trimmed);
    g_autofree char *needle2 = g_strdup_printf("\"%s/", trimmed);
    GPtrArray *all = ctl_model_domains(c->model);
    const char *user = NULL;
    for (guint i = 0; i < all->len && user == NULL; i++) {
        ctl_domain *o = g_ptr_array_index(all, i);
        if (o->xml != NULL && (strstr(o->xml, needle) || strstr(o->xml, needle2)))
            user = o->name;
    }
    g_ptr_array_unref(all);
    return user;
}
