/* prov_undefine.c — `drover domain undefine NAME --remove-storage` (docs/provisioning.md): the
 * domain's volumes in cluster pools — the records made for it ("domain": NAME) and any volume
 * record whose path its XML names — are marked "deleting" ("removing_with": NAME) in etcd first
 * (the intent), then the ordinary undefine job runs (lifecycle_run.h), and once it succeeded each
 * marked volume is deleted on its host and its record removed. A failed undefine puts the marks
 * back to "ready". Disks outside cluster pools are never touched; the answer lists them as kept. */
#include "api_prov.h"

#include "domxml.h"
#include "lifecycle_run.h"
#include "log.h"
#include "prov_store.h"

#include <string.h>

typedef struct {
    ctl_req *r; /* NULL when unmarking after a failure (nobody waits) */
    char *domain;
    char *host;      /* where the undefine runs, or NULL */
    char **paths;    /* the domain's disk paths (NULL-terminated) */
    GPtrArray *todo; /* json_object* records still to mark / delete */
    json_object *removed;
    json_object *kept;
    json_object *failed;
    bool finishing;
} s_ud;

static void s_ud_free(s_ud *u)
{
    g_free(u->domain);
    g_free(u->host);
    g_strfreev(u->paths);
    if (u->todo != NULL)
        g_ptr_array_unref(u->todo);
    if (u->removed != NULL)
        json_object_put(u->removed);
    if (u->kept != NULL)
        json_object_put(u->kept);
    if (u->failed != NULL)
        json_object_put(u->failed);
    g_free(u);
}

static void s_json_unref(gpointer p)
{
    json_object_put(p);
}

static s_ud *s_ud_new(ctl_req *r, const char *domain)
{
    s_ud *u = g_new0(s_ud, 1);
    u->r = r;
    u->domain = g_strdup(domain);
    u->todo = g_ptr_array_new_with_free_func(s_json_unref);
    u->removed = json_object_new_array();
    u->kept = json_object_new_array();
    u->failed = json_object_new_array();
    return u;
}

static bool s_has_path(char **paths, const char *path)
{
    for (size_t i = 0; paths != NULL && path != NULL && paths[i] != NULL; i++)
        if (strcmp(paths[i], path) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ marking, then the job */

static void s_unmarked(ctl *c, const drv_error *err, bool attempted, void *data);

static void s_mark_next(ctl *c, s_ud *u);

static void s_marked(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_ud *u = data;
    if (err != NULL) {
        /* nothing was commanded yet: put the marks made so far back */
        ctl_req *r = u->r;
        u->r = NULL;
        ctl_model_set_busy(c->model, u->domain, NULL);
        ctl_req_failf(r, err->kind,
                      "domain '%s': marking its volumes for removal: %s%s; not undefined",
                      u->domain, attempted ? "(may be stored) " : "", err->message);
        ctl_prov_undefine_unmark(c, u->domain);
        s_ud_free(u);
        return;
    }
    g_ptr_array_remove_index(u->todo, 0);
    s_mark_next(c, u);
}

static void s_mark_next(ctl *c, s_ud *u)
{
    if (u->todo->len == 0) {
        ctl_req *r = u->r;
        u->r = NULL;
        g_autofree char *domain = g_strdup(u->domain), *host = g_strdup(u->host);
        s_ud_free(u);
        ctl_lifecycle_undefine(c, r, domain, host);
        return;
    }
    json_object *rec = g_ptr_array_index(u->todo, 0);
    json_object_object_add(rec, "state", json_object_new_string("deleting"));
    json_object_object_add(rec, "removing_with", json_object_new_string(u->domain));
    g_autofree char *key =
        g_strdup_printf("volumes/%s/%s", ctl_prov_str(rec, "pool"), ctl_prov_str(rec, "name"));
    drv_error *err = NULL;
    if (ctl_prov_put(c, key, rec, false, s_marked, u, &err) < 0) {
        s_marked(c, err, false, u);
        drv_error_destroy(&err);
    }
}

static void s_listed_for_mark(ctl *c, GPtrArray *docs, const drv_error *err, void *data)
{
    s_ud *u = data;
    if (err != NULL) {
        ctl_model_set_busy(c->model, u->domain, NULL);
        ctl_req_failf(u->r, err->kind, "domain '%s': listing volumes: %s; not undefined", u->domain,
                      err->message);
        s_ud_free(u);
        return;
    }
    GHashTable *recorded = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; docs != NULL && i < docs->len; i++) {
        json_object *rec = g_ptr_array_index(docs, i);
        if (ctl_prov_str(rec, "path") != NULL)
            g_hash_table_add(recorded, (gpointer)ctl_prov_str(rec, "path"));
        if (g_strcmp0(ctl_prov_str(rec, "domain"), u->domain) == 0 ||
            s_has_path(u->paths, ctl_prov_str(rec, "path")))
            g_ptr_array_add(u->todo, json_object_get(rec));
    }
    /* disks outside cluster pools: never removed, named in the answer */
    GPtrArray *kept = g_ptr_array_new();
    for (size_t i = 0; u->paths[i] != NULL; i++)
        if (!g_hash_table_contains(recorded, u->paths[i]))
            g_ptr_array_add(kept, g_strdup(u->paths[i]));
    g_ptr_array_add(kept, NULL);
    g_strfreev(u->r->kept_disks);
    u->r->kept_disks = (char **)g_ptr_array_free(kept, FALSE);
    g_hash_table_unref(recorded);
    s_mark_next(c, u);
}

void ctl_prov_undefine_begin(ctl *c, ctl_req *r, const ctl_domain *d, const char *host)
{
    s_ud *u = s_ud_new(r, d->name);
    u->host = g_strdup(host);
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    drv_domxml *dx = NULL;
    drv_error *err = NULL;
    if (d->xml != NULL && drv_domxml_parse(d->xml, strlen(d->xml), &dx, &err) == 0) {
        for (size_t i = 0; i < dx->n_disks; i++)
            if (dx->disks[i].source_path != NULL)
                g_ptr_array_add(paths, g_strdup(dx->disks[i].source_path));
        drv_domxml_destroy(&dx);
    }
    drv_error_destroy(&err);
    g_ptr_array_add(paths, NULL);
    u->paths = (char **)g_ptr_array_free(paths, FALSE);
    ctl_model_set_busy(c->model, d->name, "undefine");
    if (ctl_prov_list(c, "volumes/", s_listed_for_mark, u, &err) < 0) {
        ctl_model_set_busy(c->model, d->name, NULL);
        ctl_req_fail(r, err);
        s_ud_free(u);
    }
}

/* ------------------------------------------------------------------ after the job */

static void s_delete_next(ctl *c, s_ud *u);

static void s_deleted(ctl *c, const drv_error *err, void *data)
{
    s_ud *u = data;
    json_object *rec = g_ptr_array_index(u->todo, 0);
    g_autofree char *id =
        g_strdup_printf("%s/%s", ctl_prov_str(rec, "pool"), ctl_prov_str(rec, "name"));
    if (err != NULL) {
        drv_warn("domain '%s' undefined, but volume '%s' was not removed: %s", u->domain, id,
                 err->message);
        json_object *f = json_object_new_object();
        json_object_object_add(f, "volume", json_object_new_string(id));
        json_object_object_add(f, "error", json_object_new_string(err->message));
        json_object_array_add(u->failed, f);
    } else {
        json_object_array_add(u->removed, json_object_new_string(id));
    }
    g_ptr_array_remove_index(u->todo, 0);
    s_delete_next(c, u);
}

static void s_answer(s_ud *u)
{
    ctl_req *r = u->r;
    u->r = NULL;
    if (r == NULL)
        return;
    if (json_object_array_length(u->failed) > 0) {
        g_autofree char *failed =
            g_strdup(json_object_to_json_string_ext(u->failed, JSON_C_TO_STRING_PLAIN));
        ctl_req_failf(r, DRV_ERR_LIBVIRT,
                      "domain '%s' undefined, but %zu volume%s not removed (still marked "
                      "deleting; retry with vol delete): %s",
                      u->domain, json_object_array_length(u->failed),
                      json_object_array_length(u->failed) == 1 ? " was" : "s were", failed);
        return;
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "name", json_object_new_string(u->domain));
    json_object_object_add(doc, "undefined", json_object_new_boolean(true));
    json_object_object_add(doc, "removed_volumes", json_object_get(u->removed));
    json_object_object_add(doc, "kept_disks", json_object_get(u->kept));
    ctl_req_ok(r, doc);
}

static void s_delete_next(ctl *c, s_ud *u)
{
    while (u->todo->len > 0) {
        json_object *rec = g_ptr_array_index(u->todo, 0);
        drv_error *err = NULL;
        if (ctl_prov_vol_delete(c, rec, s_deleted, u, &err) == 0)
            return;
        s_deleted(c, err, u); /* removes it from todo, loops through s_delete_next */
        drv_error_destroy(&err);
        return;
    }
    s_answer(u);
    s_ud_free(u);
}

static void s_unmarked(ctl *c, const drv_error *err, bool attempted, void *data)
{
    (void)c;
    (void)attempted;
    if (err != NULL)
        drv_warn("%s: not unmarked after a failed undefine: %s", (char *)data, err->message);
    g_free(data);
}

static void s_listed_for_delete(ctl *c, GPtrArray *docs, const drv_error *err, void *data)
{
    s_ud *u = data;
    if (err != NULL) {
        if (u->r != NULL)
            ctl_req_failf(u->r, err->kind,
                          "domain '%s' undefined, but its volumes were not listed (%s); they stay "
                          "marked deleting: remove them with vol delete",
                          u->domain, err->message);
        u->r = NULL;
        s_ud_free(u);
        return;
    }
    for (guint i = 0; docs != NULL && i < docs->len; i++) {
        json_object *rec = g_ptr_array_index(docs, i);
        if (g_strcmp0(ctl_prov_str(rec, "removing_with"), u->domain) != 0)
            continue;
        if (u->finishing) {
            g_ptr_array_add(u->todo, json_object_get(rec));
        } else { /* unmark: the undefine failed, the domain still uses them */
            json_object *copy = NULL;
            json_object_deep_copy(rec, &copy, NULL);
            json_object_object_add(copy, "state", json_object_new_string("ready"));
            json_object_object_del(copy, "removing_with");
            g_autofree char *key = g_strdup_printf("volumes/%s/%s", ctl_prov_str(rec, "pool"),
                                                   ctl_prov_str(rec, "name"));
            drv_error *e = NULL;
            if (ctl_prov_put(c, key, copy, false, s_unmarked, g_strdup(key), &e) < 0) {
                drv_warn("%s: not unmarked: %s", key, e->message);
                drv_error_destroy(&e);
            }
            json_object_put(copy);
        }
    }
    if (!u->finishing) {
        s_ud_free(u);
        return;
    }
    s_delete_next(c, u);
}

void ctl_prov_undefine_finish(ctl *c, ctl_req *r, const char *domain)
{
    s_ud *u = s_ud_new(r, domain);
    u->finishing = true;
    for (size_t i = 0; r != NULL && r->kept_disks != NULL && r->kept_disks[i] != NULL; i++)
        json_object_array_add(u->kept, json_object_new_string(r->kept_disks[i]));
    drv_error *err = NULL;
    if (ctl_prov_list(c, "volumes/", s_listed_for_delete, u, &err) < 0) {
        if (r != NULL)
            ctl_req_failf(r, err->kind,
                          "domain '%s' undefined, but its volumes were not listed (%s); they stay "
                          "marked deleting: remove them with vol delete",
                          domain, err->message);
        drv_error_destroy(&err);
        u->r = NULL;
        s_ud_free(u);
    }
}

void ctl_prov_undefine_unmark(ctl *c, const char *domain)
{
    s_ud *u = s_ud_new(NULL, domain);
    drv_error *err = NULL;
    if (ctl_prov_list(c, "volumes/", s_listed_for_delete, u, &err) < 0) {
        drv_warn("domain '%s': its volumes stay marked deleting: %s", domain, err->message);
        drv_error_destroy(&err);
        s_ud_free(u);
    }
}
