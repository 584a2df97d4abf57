/* api_domain.c — the domain and snapshot verbs of the client API (docs/api.md). Verbs that need an
 * agent chain broker commands; each step's callback either sends the next command or answers the
 * client, exactly once. */
#include "api_private.h"
#include "ctl_io.h"
#include "api_prov.h"

#include "domxml.h"
#include "events.h"
#include "lifecycle_run.h"
#include "log.h"
#include "names.h"
#include "outcome.h"
#include "place_batch.h"
#include "placement.h"
#include "snapshot_async.h"
#include "store_async.h"
#include "store_doubt.h"
#include "view.h"

#include <string.h>

/* ------------------------------------------------------------------ helpers */

static ctl_domain *s_domain_arg(ctl_req *r)
{
    g_free(r->domain);
    r->domain = g_strdup(r->args[0]);
    ctl_domain *d = ctl_model_domain(r->c->model, r->args[0]);
    if (d == NULL)
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' not found", r->args[0]);
    return d;
}

static bool s_idle(ctl_req *r, const ctl_domain *d)
{
    if (d->busy == NULL)
        return true;
    ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s': a %s is already in progress; try again",
                  d->name, d->busy);
    return false;
}

/* The domain's placed host when its agent is connected; else fails r and returns NULL. */
static const char *s_up_host(ctl_req *r, const ctl_domain *d)
{
    if (d->host == NULL) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is not placed on any host (start it first)",
                      d->name);
        return NULL;
    }
    if (!ctl_host_up(r->c, d->host)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "domain '%s': host '%s' is unreachable", d->name,
                      d->host);
        return NULL;
    }
    return d->host;
}

ctl_domain *ctl_api_domain_arg(ctl_req *r)
{
    return s_domain_arg(r);
}

bool ctl_api_domain_idle(ctl_req *r, const ctl_domain *d)
{
    return s_idle(r, d);
}

const char *ctl_api_domain_up_host(ctl_req *r, const ctl_domain *d)
{
    return s_up_host(r, d);
}

/* ------------------------------------------------------------------ intent in etcd */

static void s_desired_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data);

/* Stores a new desired state for r->domain (CAS on the domain key; after a lost compare the cache
 * holds etcd's copy and it is tried again, up to 3 times), then calls then(r, err, attempted).
 * Nothing is commanded before then runs with err == NULL. */
static void s_set_desired_then(ctl_req *r, ctl_desired desired, ctl_req_then_fn then)
{
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    r->then = then;
    r->desired_after = desired;
    if (d == NULL) {
        drv_error *e = NULL;
        drv_error_set(&e, DRV_ERR_NOT_FOUND, 0, "domain '%s' not found", r->domain);
        then(r, e, false);
        drv_error_destroy(&e);
        return;
    }
    if (d->desired == desired) {
        then(r, NULL, false);
        return;
    }
    ctl_doubt_superseded(r->c, r->domain); /* this intent replaces one etcd may still store */
    r->store_mod = d->mod_revision;
    r->store_before = d->desired;
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = desired;
    drv_error *err = NULL;
    if (ctl_async_put_domain(r->c, copy, d->mod_revision, NULL, s_desired_stored, r, NULL, &err) <
        0) {
        then(r, err, false);
        drv_error_destroy(&err);
    }
}

/* An etcd write that was sent and got no answer (etcd refused neither the compare nor the
 * request): it may still be applied. */
static bool s_store_outcome_unknown(const drv_error *err)
{
    return err->kind != DRV_ERR_CONFLICT && err->kind != DRV_ERR_ETCD;
}

static void s_desired_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data)
{
    ctl_req *r = data;
    if (err != NULL && err->kind == DRV_ERR_CONFLICT && ++r->attempts < 3) {
        s_set_desired_then(r, r->desired_after, r->then);
        return;
    }
    r->attempts = 0;
    if (err != NULL && attempted && s_store_outcome_unknown(err))
        ctl_doubt_desired(c, r->domain, r->store_mod, r->desired_after, r->store_before);
    r->then(r, err, attempted);
}

static void s_restore_desired(ctl *c, const char *name, ctl_desired desired)
{
    ctl_async_put_desired(c, name, desired, -1);
}

/* Fails r after an etcd write that did not go through: when it was never attempted nothing
 * changed; otherwise etcd may have applied it. */
static void s_fail_store(ctl_req *r, const char *what, const drv_error *err, bool attempted)
{
    if (attempted && s_store_outcome_unknown(err))
        ctl_req_failf(r, err->kind,
                      "domain '%s': %s: %s (etcd may or may not have stored it; nothing was "
                      "commanded)",
                      r->domain, what, err->message);
    else
        ctl_req_failf(r, err->kind, "domain '%s': %s: %s (nothing was changed)", r->domain, what,
                      err->message);
}

static void s_deleted_log(ctl *c, const drv_error *err, bool attempted, void *data)
{
    const char *name = data;
    if (err != NULL) {
        drv_warn("%s", err->message);
        return;
    }
    ctl_events_domain_name(c, name, "undefined", NULL);
}

static void s_delete_domain(ctl *c, const char *name)
{
    drv_error *err = NULL;
    if (ctl_async_delete_domain(c, name, s_deleted_log, g_strdup(name), g_free, &err) < 0) {
        drv_warn("domain '%s': delete: %s", name, err->message);
        drv_error_destroy(&err);
    }
}

/* Fire-and-forget commands (pushing a new definition, cleaning up an old host). */
static void s_log_reply(ctl *c, const char *host_id, const ctl_reply *rep, void *data)
{
    if (!rep->ok)
        drv_warn("host '%s': %s: %s", host_id, (const char *)data, rep->message);
}

static void s_fire(ctl *c, const char *host_id, ctl_cmd_kind kind, const char *domain,
                   const char *xml)
{
    ctl_cmd cmd = {.kind = kind, .domain = domain, .xml = xml};
    g_autofree char *what =
        g_strdup_printf("%s of domain '%s'", ctl_cmd_kind_to_string(kind), domain);
    drv_error *err = NULL;
    if (ctl_send(c, host_id, &cmd, s_log_reply, g_steal_pointer(&what), g_free, &err) < 0) {
        drv_debug("%s", err->message);
        drv_error_destroy(&err);
    }
}

static int s_send(ctl_req *r, const char *host, const ctl_cmd *cmd, ctl_reply_fn fn)
{
    drv_error *err = NULL;
    if (ctl_send(r->c, host, cmd, fn, r, NULL, &err) < 0) {
        ctl_model_set_busy(r->c->model, r->domain, NULL);
        ctl_req_fail(r, err);
        return -1;
    }
    return 0;
}

static void s_ok_domain(ctl_req *r, const char *event)
{
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    if (event != NULL)
        ctl_events_domain(r->c, d, event);
    ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
}

/* ------------------------------------------------------------------ definitions */

/* True when path is absolute, without "." or ".." components, and inside dir. */
static bool s_path_inside(const char *path, const char *dir)
{
    if (path[0] != '/' || dir == NULL || dir[0] != '/')
        return false;
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    for (size_t i = 1; parts[i] != NULL; i++)
        if (strcmp(parts[i], ".") == 0 || strcmp(parts[i], "..") == 0 || parts[i][0] == '\0')
            return false;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || n == 1);
}

static bool s_path_allowed(ctl *c, const char *path, bool pools_too)
{
    for (char **p = c->cfg->disk_allow_prefixes; p != NULL && *p != NULL; p++)
        if (s_path_inside(path, *p))
            return true;
    if (!pools_too)
        return false;
    GPtrArray *hosts = ctl_model_hosts(c->model);
    bool ok = false;
    for (guint i = 0; i < hosts->len && !ok; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        for (guint j = 0; h->facts.pools != NULL && j < h->facts.pools->len && !ok; j++) {
            const ctl_pool *pl = g_ptr_array_index(h->facts.pools, j);
            ok = pl->path != NULL && s_path_inside(path, pl->path);
        }
    }
    g_ptr_array_unref(hosts);
    return ok;
}

/* What define and create both check before anything is stored: the name (names.h) and the disk
 * source policy — a file or dir disk inside a storage pool some host reports, or under one of
 * [security] disk_allow_prefixes; a block device only under disk_allow_prefixes. */
static int s_check_definition(ctl *c, const drv_domxml *dx, drv_error **err)
{
    const char *why =
        dx->name_untrimmed ? "it has leading or trailing whitespace" : drv_name_invalid(dx->name);
    if (why != NULL)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "invalid domain XML: name '%s' is refused: %s", dx->name, why);
    for (size_t i = 0; i < dx->n_disks; i++) {
        const drv_domxml_disk *k = &dx->disks[i];
        const char *type = drv_domxml_disk_type_to_string(k->type);
        switch (k->type) {
        case DRV_DOMXML_DISK_FILE:
        case DRV_DOMXML_DISK_DIR:
        case DRV_DOMXML_DISK_BLOCK:
            if (k->source_path == NULL)
                break;
            if (!s_path_allowed(c, k->source_path, k->type != DRV_DOMXML_DISK_BLOCK))
                return drv_error_set(
                    err, DRV_ERR_INVALID, 0,
                    "domain '%s': %s disk '%s' is refused: it is outside every storage pool the "
                    "hosts report%s and [security] disk_allow_prefixes",
                    dx->name, type ? type : "a", k->source_path,
                    k->type == DRV_DOMXML_DISK_BLOCK ? " (block devices: only)" : "");
            break;
        case DRV_DOMXML_DISK_OTHER:
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "domain '%s': disk %zu has a type drover does not allow", dx->name,
                                 i);
        default:
            break;
        }
    }
    return 0;
}

/* Validates xml and stores it as the next revision of its domain (or revision 1 of a new one).
 * expect_name: the name the XML must carry (edit, rollback) or NULL. expect_revision: 0 or the
 * revision the caller edited. Returns the stored domain (borrowed) or NULL with an error; nothing
 * is stored on error. */
static ctl_domain *s_prepare_definition(ctl *c, const char *xml, const char *expect_name,
                                        int64_t expect_revision, int64_t *ret_expect_mod,
                                        bool *ret_unchanged, char **ret_name, drv_error **err)
{
    drv_domxml *dx = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &dx, err) < 0) {
        drv_error_prefix(err, "invalid domain XML%s%s%s", expect_name ? " for '" : "",
                         expect_name ? expect_name : "", expect_name ? "'" : "");
        return NULL;
    }
    ctl_domain *result = NULL;
    g_autofree char *final_xml = NULL;
    g_autofree char *uuid = NULL;
    if (s_check_definition(c, dx, err) < 0)
        goto out;
    if (expect_name != NULL && strcmp(expect_name, dx->name) != 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "domain '%s': the new XML names it '%s' (renaming is not supported)",
                      expect_name, dx->name);
        goto out;
    }
    ctl_domain *old = ctl_model_domain(c->model, dx->name);
    if (expect_name != NULL && old == NULL) {
        drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain '%s' not found", expect_name);
        goto out;
    }
    if (old != NULL && old->busy != NULL) {
        drv_error_set(err, DRV_ERR_CONFLICT, 0, "domain '%s': a %s is in progress; try again",
                      old->name, old->busy);
        goto out;
    }
    if (old != NULL && old->transient) {
        drv_error_set(err, DRV_ERR_CONFLICT, 0,
                      "domain '%s' is transient (created, not defined); it cannot be redefined",
                      old->name);
        goto out;
    }
    if (expect_revision > 0 && old != NULL && old->revision != expect_revision) {
        drv_error_set(err, DRV_ERR_CONFLICT, 0,
                      "domain '%s' changed meanwhile (now revision %lld, edited %lld); edit again",
                      old->name, (long long)old->revision, (long long)expect_revision);
        goto out;
    }
    if (dx->uuid != NULL) {
        if (old != NULL && old->uuid != NULL && strcmp(old->uuid, dx->uuid) != 0) {
            drv_error_set(err, DRV_ERR_CONFLICT, 0,
                          "domain '%s' already exists with UUID %s (the XML has %s)", old->name,
                          old->uuid, dx->uuid);
            goto out;
        }
        uuid = g_strdup(dx->uuid);
        final_xml = g_strdup(xml);
    } else {
        uuid = g_strdup(old != NULL && old->uuid != NULL ? old->uuid : NULL);
        if (uuid == NULL)
            uuid = g_uuid_string_random();
        if (drv_domxml_set_uuid(xml, uuid, &final_xml, err) < 0) {
            drv_error_prefix(err, "domain '%s'", dx->name);
            goto out;
        }
    }
    GPtrArray *all = ctl_model_domains(c->model);
    for (guint i = 0; i < all->len; i++) {
        const ctl_domain *o = g_ptr_array_index(all, i);
        if (strcmp(o->name, dx->name) != 0 && g_strcmp0(o->uuid, uuid) == 0) {
            drv_error_set(err, DRV_ERR_EXISTS, 0, "domain '%s': UUID %s is already used by '%s'",
                          dx->name, uuid, o->name);
            g_ptr_array_unref(all);
            goto out;
        }
    }
    g_ptr_array_unref(all);
    if (old != NULL && strcmp(old->xml, final_xml) == 0) {
        *ret_unchanged = true; /* no new revision */
        *ret_name = g_strdup(old->name);
        goto out;
    }
    ctl_domain *d = old != NULL ? ctl_domain_copy(old) : ctl_domain_new(dx->name);
    g_free(d->uuid);
    d->uuid = g_steal_pointer(&uuid);
    g_free(d->xml);
    d->xml = g_steal_pointer(&final_xml);
    d->revision = old != NULL ? old->revision + 1 : 1;
    d->vcpus = dx->vcpus;
    d->vcpus_current = dx->vcpus_current;
    d->memory_kib = dx->memory_kib;
    g_strfreev(d->cpu_features);
    d->cpu_features = g_strdupv(dx->cpu_features_required);
    g_strfreev(d->devices);
    d->devices = g_strdupv(dx->devices);
    g_free(d->affinity_group);
    d->affinity_group = g_strdup(dx->affinity_group);
    g_free(d->anti_affinity_group);
    d->anti_affinity_group = g_strdup(dx->anti_affinity_group);
    if (old == NULL)
        d->created_ms = ctl_wall_ms(c);
    *ret_expect_mod = old != NULL ? old->mod_revision : 0;
    result = d;
out:
    drv_domxml_destroy(&dx);
    return result;
}

static void s_define_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                            void *data);

/* Validates xml against the cache and stores it as the next revision of its domain (or revision
 * 1 of a new one), then answers r with the domain. expect_name: the name the XML must carry
 * (edit, rollback) or NULL. expect_revision: 0 or the revision the caller edited. Nothing is
 * stored when the XML is refused. */
static void s_store_definition(ctl_req *r, const char *xml, const char *expect_name,
                               const char *comment, int64_t expect_revision)
{
    ctl *c = r->c;
    drv_error *err = NULL;
    int64_t expect_mod = 0;
    bool unchanged = false;
    g_autofree char *same = NULL;
    ctl_domain *d = s_prepare_definition(c, xml, expect_name, expect_revision, &expect_mod,
                                         &unchanged, &same, &err);
    if (unchanged) {
        ctl_domain *cur = ctl_model_domain(c->model, same);
        ctl_req_ok(r, ctl_view_domain_api(c->model, cur));
        return;
    }
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    g_free(r->domain);
    r->domain = g_strdup(d->name);
    g_free(r->xml);
    r->xml = g_strdup(xml);
    g_free(r->comment);
    r->comment = g_strdup(comment);
    r->expect_revision = expect_revision;
    r->name = g_strdup(expect_name);
    if (ctl_async_put_domain(c, d, expect_mod, comment, s_define_stored, r, NULL, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
}

static void s_define_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                            void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        if (err->kind == DRV_ERR_CONFLICT && ++r->attempts < 3) {
            /* the cache now holds etcd's copy: validate again against it */
            g_autofree char *xml = g_steal_pointer(&r->xml);
            g_autofree char *comment = g_steal_pointer(&r->comment);
            g_autofree char *name = g_steal_pointer(&r->name);
            s_store_definition(r, xml, name, comment, r->expect_revision);
            return;
        }
        s_fail_store(r, "definition not stored", err, attempted);
        return;
    }
    if (stored == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    ctl_events_domain(c, stored, "defined");
    /* a domain placed on a connected host gets the new definition there too */
    if (stored->host != NULL && ctl_host_up(c, stored->host))
        s_fire(c, stored->host, CTL_CMD_DEFINE, stored->name, stored->xml);
    ctl_req_ok(r, ctl_view_domain_api(c->model, stored));
}

void ctl_api_domain_define(ctl_req *r)
{
    if (r->body_len == 0) {
        ctl_req_usage(r, "domain.define: the domain XML is missing");
        return;
    }
    if (memchr(r->body, '\0', r->body_len) != NULL) {
        ctl_req_failf(r, DRV_ERR_INVALID, "invalid domain XML: it contains a NUL byte");
        return;
    }
    s_store_definition(r, r->body, NULL, "define", 0);
}

void ctl_api_domain_edit(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    if (r->body_len == 0) {
        ctl_req_usage(r, "domain.edit: the new XML is missing");
        return;
    }
    int64_t expect = 0;
    const char *e = ctl_req_opt(r, "expect_revision");
    if (e != NULL && !g_ascii_string_to_signed(e, 10, 0, G_MAXINT64, &expect, NULL)) {
        ctl_req_usage(r, "domain.edit: expect_revision '%s' is not a number", e);
        return;
    }
    g_autofree char *name = g_strdup(r->domain);
    s_store_definition(r, r->body, name, "edit", expect);
}

typedef struct s_hist s_hist;
static void s_rollback_read(ctl_req *r, s_hist *h);
static void s_hist_read(ctl_req *r, int64_t revision, bool count_only,
                        void (*then)(ctl_req *r, s_hist *h));

void ctl_api_domain_rollback(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    int64_t rev = 0;
    if (!g_ascii_string_to_signed(r->args[1], 10, 1, G_MAXINT64, &rev, NULL)) {
        ctl_req_usage(r, "domain.rollback: revision '%s' is not a positive number", r->args[1]);
        return;
    }
    r->expect_revision = rev;
    s_hist_read(r, rev, false, s_rollback_read);
}

/* A read of a domain's history on the etcd worker. */
struct s_hist {
    char *name;
    int64_t revision; /* history-show, rollback: the one asked for; 0 = all (count, list) */
    bool count_only;
    drv_etcd_range range;
    char *json; /* the one entry */
    int found;
    ctl_req *r;
    void (*then)(ctl_req *r, s_hist *h);
};

static void s_hist_free(gpointer p)
{
    s_hist *h = p;
    g_free(h->name);
    drv_etcd_range_clear(&h->range);
    g_free(h->json);
    g_free(h);
}

static int s_hist_work(ctl_store *store, void *data, drv_error **err)
{
    s_hist *h = data;
    if (h->revision > 0) {
        h->found = ctl_store_history_get(store, h->name, h->revision, &h->json, err);
        return h->found < 0 ? -1 : 0;
    }
    if (h->count_only) {
        int64_t n = ctl_store_history_count(store, h->name, err);
        if (n < 0)
            return -1;
        h->range.count = n;
        return 0;
    }
    return ctl_store_history(store, h->name, &h->range, err);
}

static void s_hist_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    s_hist *h = data;
    if (err != NULL) {
        ctl_req_failf(h->r, err->kind, "domain '%s': history: %s", h->name, err->message);
        return;
    }
    h->then(h->r, h);
}

static void s_hist_read(ctl_req *r, int64_t revision, bool count_only,
                        void (*then)(ctl_req *r, s_hist *h))
{
    s_hist *h = g_new0(s_hist, 1);
    h->name = g_strdup(r->domain);
    h->revision = revision;
    h->count_only = count_only;
    h->r = r;
    h->then = then;
    drv_error *err = NULL;
    if (ctl_async_submit(r->c, s_hist_work, s_hist_done, h, s_hist_free, &err) < 0) {
        s_hist_free(h);
        ctl_req_fail(r, err);
    }
}

static void s_rollback_read(ctl_req *r, s_hist *h)
{
    int64_t rev = h->revision;
    if (h->found == 0) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' has no revision %lld", r->domain,
                      (long long)rev);
        return;
    }
    g_autofree char *xml = ctl_view_history_xml(h->json);
    if (xml == NULL) {
        ctl_req_failf(r, DRV_ERR_INTERNAL, "domain '%s': revision %lld has no XML", r->domain,
                      (long long)rev);
        return;
    }
    g_autofree char *comment = g_strdup_printf("rollback to %lld", (long long)rev);
    g_autofree char *name = g_strdup(r->domain);
    s_store_definition(r, xml, name, comment, 0);
}

static void s_history_listed(ctl_req *r, s_hist *h)
{
    ctl_req_ok(r, ctl_view_history(r->domain, &h->range));
}

void ctl_api_domain_history(ctl_req *r)
{
    if (s_domain_arg(r) != NULL)
        s_hist_read(r, 0, false, s_history_listed);
}

static void s_history_shown(ctl_req *r, s_hist *h)
{
    if (h->found == 0) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' has no revision %lld", r->domain,
                      (long long)h->revision);
        return;
    }
    drv_error *err = NULL;
    json_object *o = ctl_view_history_entry(r->domain, h->revision, h->json, &err);
    if (o == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, o);
}

void ctl_api_domain_history_show(ctl_req *r)
{
    if (s_domain_arg(r) == NULL)
        return;
    int64_t rev = 0;
    if (!g_ascii_string_to_signed(r->args[1], 10, 1, G_MAXINT64, &rev, NULL)) {
        ctl_req_usage(r, "domain.history-show: revision '%s' is not a positive number", r->args[1]);
        return;
    }
    s_hist_read(r, rev, false, s_history_shown);
}

static void s_autostart_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                               void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        s_fail_store(r, "autostart not stored", err, attempted);
        return;
    }
    s_ok_domain(r, "autostart");
}

void ctl_api_domain_autostart(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    bool on = !ctl_req_flag(r, "disable");
    if (d->autostart == on) {
        s_ok_domain(r, "autostart");
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    copy->autostart = on;
    drv_error *err = NULL;
    if (ctl_async_put_domain(r->c, copy, d->mod_revision, NULL, s_autostart_stored, r, NULL, &err) <
        0)
        ctl_req_fail(r, err);
}

/* ------------------------------------------------------------------ queries */

static void s_info_counted(ctl_req *r, s_hist *h)
{
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    ctl_req_ok(r, ctl_view_domain_info(r->c->model, d, h->range.count));
}

void ctl_api_domain_info(ctl_req *r)
{
    if (s_domain_arg(r) != NULL)
        s_hist_read(r, 0, true, s_info_counted);
}

void ctl_api_domain_state(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d != NULL)
        ctl_req_ok(r, ctl_view_domain_state_api(r->c->model, d));
}

static void s_dumpxml_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok || rep->xml == NULL) {
        ctl_domain *d = ctl_model_domain(c->model, r->domain);
        if (d != NULL) { /* fall back to the stored definition */
            ctl_req_ok(r, ctl_view_xml(d->name, d->xml, false));
            return;
        }
        ctl_req_fail_reply(r, "dumpxml", host, rep);
        return;
    }
    ctl_req_ok(r, ctl_view_xml(r->domain, rep->xml, true));
}

void ctl_api_domain_dumpxml(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    bool active = strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
                  strcmp(state, "blocked") == 0;
    if (ctl_req_flag(r, "inactive") || !active || !ctl_host_up(r->c, d->host)) {
        ctl_req_ok(r, ctl_view_xml(d->name, d->xml, false));
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_DUMPXML, .domain = d->name};
    s_send(r, d->host, &cmd, s_dumpxml_done);
}

/* ------------------------------------------------------------------ start (placement) */

static void s_place_next(ctl_req *r);

/* A transient domain from `domain create`'s XML (not in the model). */
static ctl_domain *s_transient_domain(ctl *c, const char *xml, size_t len, drv_error **err)
{
    drv_domxml *dx = NULL;
    if (drv_domxml_parse(xml, len, &dx, err) < 0) {
        drv_error_prefix(err, "invalid domain XML");
        return NULL;
    }
    if (s_check_definition(c, dx, err) < 0) {
        drv_domxml_destroy(&dx);
        return NULL;
    }
    /* the same UUID check as define: a UUID belongs to one domain */
    if (dx->uuid != NULL) {
        GPtrArray *all = ctl_model_domains(c->model);
        for (guint i = 0; i < all->len; i++) {
            const ctl_domain *o = g_ptr_array_index(all, i);
            if (g_strcmp0(o->uuid, dx->uuid) == 0) {
                drv_error_set(err, DRV_ERR_EXISTS, 0,
                              "domain '%s': UUID %s is already used by '%s'", dx->name, dx->uuid,
                              o->name);
                g_ptr_array_unref(all);
                drv_domxml_destroy(&dx);
                return NULL;
            }
        }
        g_ptr_array_unref(all);
    }
    ctl_domain *d = ctl_domain_new(dx->name);
    d->uuid = g_strdup(dx->uuid ? dx->uuid : NULL);
    if (d->uuid == NULL) {
        d->uuid = g_uuid_string_random();
        if (drv_domxml_set_uuid(xml, d->uuid, &d->xml, err) < 0) {
            ctl_domain_free(d);
            drv_domxml_destroy(&dx);
            return NULL;
        }
    } else {
        d->xml = g_strdup(xml);
    }
    d->revision = 1;
    d->transient = true;
    d->vcpus = dx->vcpus;
    d->vcpus_current = dx->vcpus_current;
    d->memory_kib = dx->memory_kib;
    d->cpu_features = g_strdupv(dx->cpu_features_required);
    d->devices = g_strdupv(dx->devices);
    d->affinity_group = g_strdup(dx->affinity_group);
    d->anti_affinity_group = g_strdup(dx->anti_affinity_group);
    d->created_ms = g_get_real_time() / 1000;
    drv_domxml_destroy(&dx);
    return d;
}

/* The placement is stored (domain → host, desired running, the host's allocations): only now is
 * the host commanded, by a start job (lifecycle_run.h) that is in etcd before the first command. */
static void s_start_placed(ctl_req *r, ctl_domain *d)
{
    ctl_events_domain(r->c, d, "placed");
    ctl_lifecycle_start(r->c, r, d->name, d->host, r->old_host, r->desired_before);
}

static void s_create_placed(ctl_req *r, ctl_domain *placed);

static void s_place_stored_1(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data);

/* A waiter that may share a txn with others: a start of a stored domain, not pinned to a host,
 * not retrying after a lost race (that one goes alone, on the state etcd gave back). */
static bool s_batchable(const ctl_req *r)
{
    return r->step == 0 && r->pin_host == NULL && r->attempts == 0;
}

/* The batchable waiters at the head of the queue (up to CTL_PLACE_BATCH_MAX), chosen on one
 * snapshot and stored in one txn (place_batch.h: each compares its own domain key and its host's
 * alloc key; one lost compare fails them all and each retries alone). */
static void s_place_batch(ctl *c)
{
    ctl_place_item items[CTL_PLACE_BATCH_MAX];
    ctl_req *reqs[CTL_PLACE_BATCH_MAX];
    size_t n = 0;
    ctl_placement_batch *pb = NULL;
    ctl_req *r;
    while (n < CTL_PLACE_BATCH_MAX && (r = g_queue_peek_head(&c->placement_waiters)) != NULL &&
           s_batchable(r)) {
        g_queue_pop_head(&c->placement_waiters);
        ctl_domain *d = ctl_model_domain(c->model, r->domain);
        if (d == NULL) {
            ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' was undefined meanwhile", r->domain);
            continue;
        }
        if (pb == NULL)
            pb = ctl_placement_batch_new(c);
        g_autofree char *host = NULL;
        drv_error *err = NULL;
        if (ctl_placement_batch_choose(pb, d, &host, &err) < 0) {
            ctl_model_set_busy(c->model, r->domain, NULL);
            ctl_req_fail(r, err);
            continue;
        }
        ctl_domain *copy = ctl_domain_copy(d);
        g_free(copy->host);
        copy->host = g_strdup(host);
        copy->desired = CTL_DESIRED_RUNNING;
        ctl_model_set_busy(c->model, r->domain, "start");
        items[n] = (ctl_place_item){.copy = copy, .expect_mod = d->mod_revision, .data = r};
        reqs[n++] = r;
    }
    ctl_placement_batch_free(pb);
    if (n == 0)
        return;
    drv_error *err = NULL;
    if (ctl_place_batch_submit(c, items, n, s_place_stored_1, ctl_api_placement_release, &err) <
        0) {
        for (size_t i = 0; i < n; i++) {
            ctl_model_set_busy(c->model, reqs[i]->domain, NULL);
            ctl_req_failf(reqs[i], err->kind, "%s", err->message);
        }
        drv_error_destroy(&err);
        return;
    }
    drv_info("%zu placements in one txn", n);
    c->placing = true;
}

/* The placement on its way is answered: the next waiting ones may choose now — several starts
 * together (s_place_batch) when more than one waits, else one by one. */
void ctl_api_placement_release(ctl *c)
{
    c->placing = false;
    ctl_req *next;
    /* a waiter may be answered at once (no room, gone): then the one after it goes */
    while (!c->placing && (next = g_queue_peek_head(&c->placement_waiters)) != NULL) {
        if (s_batchable(next) && g_queue_get_length(&c->placement_waiters) > 1) {
            s_place_batch(c);
            continue;
        }
        g_queue_pop_head(&c->placement_waiters);
        s_place_next(next);
    }
}

static void s_place_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                           void *data)
{
    s_place_stored_1(c, stored, err, attempted, data);
    ctl_api_placement_release(c);
}

static void s_place_stored_1(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        if (err->kind == DRV_ERR_CONFLICT && ++r->attempts < 4) {
            drv_info("%s; trying again on fresh state", err->message);
            if (r->step == 1 && ctl_model_domain(c->model, r->domain) != NULL) {
                ctl_req_failf(r, DRV_ERR_EXISTS, "domain '%s' was defined meanwhile", r->domain);
                return;
            }
            if (r->step == 0 && ctl_model_domain(c->model, r->domain) == NULL) {
                ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' was undefined meanwhile",
                              r->domain);
                return;
            }
            s_place_next(r);
            return;
        }
        if (err->kind == DRV_ERR_CONFLICT) {
            ctl_req_failf(r, DRV_ERR_CONFLICT,
                          "domain '%s': placement kept losing races with other placements; try "
                          "again",
                          r->domain);
            return;
        }
        s_fail_store(r, "placement not stored", err, attempted);
        return;
    }
    if (stored == NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    drv_info("domain '%s' placed on host '%s'", stored->name, stored->host);
    if (r->step == 1)
        s_create_placed(r, stored);
    else
        s_start_placed(r, stored);
}

/* Chooses a host on the cache and submits the placement txn (CAS on the domain and the host's
 * alloc key). step 0: r->domain exists (start); step 1: it is new (create, r->xml holds the copy's
 * JSON-free parts in r->body). The domain is busy while the placement is on its way. */
static void s_place_next(ctl_req *r)
{
    ctl *c = r->c;
    if (c->placing) {
        if (r->step == 0)
            ctl_model_set_busy(c->model, r->domain, "start");
        g_queue_push_tail(&c->placement_waiters, r);
        return;
    }
    ctl_domain *d = ctl_model_domain(c->model, r->domain);
    ctl_domain *fresh = NULL;
    if (r->step == 0 && d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' was undefined meanwhile", r->domain);
        return;
    }
    if (r->step == 1) {
        drv_error *perr = NULL;
        fresh = s_transient_domain(c, r->body, r->body_len, &perr);
        if (fresh == NULL) {
            ctl_req_fail(r, perr);
            return;
        }
        d = fresh;
    }
    g_autofree char *host = NULL;
    drv_error *err = NULL;
    /* pinned (a managed save lives on one host): every other host is avoided */
    GPtrArray *avoid = NULL;
    if (r->pin_host != NULL) {
        avoid = g_ptr_array_new();
        GPtrArray *hosts = ctl_model_hosts(c->model);
        for (guint i = 0; i < hosts->len; i++) {
            const ctl_host *h = g_ptr_array_index(hosts, i);
            if (strcmp(h->id, r->pin_host) != 0)
                g_ptr_array_add(avoid, h->id);
        }
        g_ptr_array_unref(hosts);
        g_ptr_array_add(avoid, NULL);
    }
    int rc = ctl_placement_choose(c, d, avoid ? (char *const *)avoid->pdata : NULL, &host, &err);
    if (avoid != NULL)
        g_ptr_array_unref(avoid);
    if (rc == 0 && r->pin_host != NULL && strcmp(host, r->pin_host) != 0) {
        drv_error_set(&err, DRV_ERR_NO_ROOM, 0,
                      "domain '%s': its saved state is on host '%s', which cannot take it now",
                      d->name, r->pin_host);
        rc = -1;
    }
    if (rc < 0) {
        ctl_domain_free(fresh);
        ctl_req_fail(r, err);
        return;
    }
    ctl_domain *copy = fresh != NULL ? fresh : ctl_domain_copy(d);
    g_free(copy->host);
    copy->host = g_strdup(host);
    copy->desired = CTL_DESIRED_RUNNING;
    g_autofree char *alloc = ctl_placement_alloc_json(c, host);
    int64_t expect = fresh == NULL ? d->mod_revision : 0;
    if (fresh == NULL)
        ctl_model_set_busy(c->model, r->domain, "start");
    if (ctl_async_place(c, copy, expect, host, alloc, s_place_stored, r, NULL, &err) < 0) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_fail(r, err);
        return;
    }
    c->placing = true;
}

char *ctl_api_domain_saved_refusal(ctl *c, const ctl_domain *d)
{
    const char *state, *reason;
    ctl_model_domain_state(c->model, d, &state, &reason);
    if (g_strcmp0(reason, CTL_SAVED_MANAGED) == 0)
        return g_strdup_printf(
            "domain '%s' has a managed save image on host '%s': `drover domain restore %s` resumes "
            "it there; `drover domain managedsave-remove %s` discards it (then start boots afresh)",
            d->name, d->host, d->name, d->name);
    if (d->saved_path != NULL && ctl_model_domain_is_off(c->model, d))
        return g_strdup_printf(
            "domain '%s' was saved to '%s': `drover domain restore %s` resumes it; `drover domain "
            "managedsave-remove %s` discards the image (then start boots afresh)",
            d->name, d->saved_path, d->name, d->name);
    return NULL;
}

void ctl_api_domain_start(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    if (d->transient) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is transient and already created", d->name);
        return;
    }
    g_autofree char *saved = ctl_api_domain_saved_refusal(r->c, d);
    if (saved != NULL) { /* never a silent restore, never a silent loss of the image */
        ctl_req_failf(r, DRV_ERR_CONFLICT, "%s", saved);
        return;
    }
    ctl_api_domain_place_and_start(r, d);
}

void ctl_api_domain_place_and_start(ctl_req *r, const ctl_domain *d)
{
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (strcmp(state, "unknown") != 0 && !ctl_model_domain_is_off(r->c->model, d)) {
        /* running, paused, blocked, in shutdown, pmsuspended: it is there already */
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is already %s on host '%s'", d->name, state,
                      d->host);
        return;
    }
    const char *unknown = ctl_model_domain_unknown_reason(r->c->model, d);
    if (unknown != NULL) { /* never start a second copy of what may run there */
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': its state on host '%s' is unknown (%s) and it may still run "
                      "there; not started",
                      d->name, d->host, unknown);
        return;
    }
    r->desired_before = d->desired; /* restored if the start certainly did not happen */
    r->old_host = g_strdup(d->host);
    r->step = 0;
    s_place_next(r);
}

/* ------------------------------------------------------------------ create (transient) */

static void s_create_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok) {
        if (!rep->unknown_outcome)
            s_delete_domain(c, r->domain);
        ctl_req_fail_reply(r, "create", host, rep);
        return;
    }
    s_ok_domain(r, "started");
}

static void s_create_placed(ctl_req *r, ctl_domain *placed)
{
    ctl_model_set_busy(r->c->model, placed->name, "create");
    ctl_events_domain(r->c, placed, "defined");
    ctl_cmd cmd = {.kind = CTL_CMD_CREATE, .domain = placed->name, .xml = placed->xml};
    drv_error *err = NULL;
    if (ctl_send(r->c, placed->host, &cmd, s_create_done, r, NULL, &err) < 0) {
        ctl_model_set_busy(r->c->model, placed->name, NULL);
        s_delete_domain(r->c, r->domain);
        ctl_req_fail(r, err);
    }
}

void ctl_api_domain_create(ctl_req *r)
{
    if (r->body_len == 0) {
        ctl_req_usage(r, "domain.create: the domain XML is missing");
        return;
    }
    drv_error *err = NULL;
    ctl_domain *d = s_transient_domain(r->c, r->body, r->body_len, &err);
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    r->domain = g_strdup(d->name);
    bool exists = ctl_model_domain(r->c->model, d->name) != NULL;
    ctl_domain_free(d);
    if (exists) {
        ctl_req_failf(r, DRV_ERR_EXISTS, "domain '%s' already exists", r->domain);
        return;
    }
    r->step = 1;
    s_place_next(r);
}

/* ------------------------------------------------------------------ lifecycle */

/* A lifecycle command (or a revert) that did not succeed: when the agent answered that it did not
 * happen (or it expired unrun) the stored intent goes back; when nobody knows, the intent stays
 * until what happened is learnt (outcome.h). */
static void s_intent_after_failure(ctl *c, ctl_req *r, const char *host, const ctl_reply *rep,
                                   const char *what)
{
    if (r->set_desired && !rep->unknown_outcome)
        s_restore_desired(c, r->domain, r->desired_before);
    if (r->set_desired && rep->unknown_outcome)
        ctl_outcome_watch(c, host, rep, what, r->domain, (ctl_cmd_kind)r->step, (uint32_t)r->value,
                          r->desired_before, r->desired_after);
}

static void s_snap_reverted(ctl *c, const char *host, const ctl_reply *rep, void *data);

static void s_lifecycle_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    const char *what = strchr(r->verb, '.') + 1;
    if (!rep->ok || rep->timed_out) {
        s_intent_after_failure(c, r, host, rep, what);
        if (rep->ok && rep->timed_out) {
            ctl_reply t = *rep;
            t.ok = false;
            t.error_kind = "timeout";
            g_autofree char *msg = g_strdup_printf(
                "host '%s': the guest did not shut down in time%s%s", host,
                rep->message && rep->message[0] ? ": " : "", rep->message ? rep->message : "");
            t.message = msg;
            ctl_req_fail_reply(r, what, host, &t);
            return;
        }
        ctl_req_fail_reply(r, what, host, rep);
        return;
    }
    ctl_domain *d = ctl_model_domain(c->model, r->domain);
    if (d != NULL && d->transient && r->set_desired && r->desired_after == CTL_DESIRED_SHUTOFF) {
        /* a stopped transient domain no longer exists on its host, nor in the cluster */
        ctl_host *h = ctl_model_host(c->model, host);
        if (h != NULL)
            g_hash_table_remove(h->inventory, r->domain);
        json_object *o = ctl_view_domain_api(c->model, d);
        s_delete_domain(c, r->domain);
        ctl_req_ok(r, o);
        return;
    }
    s_ok_domain(r, "state-changed");
}

/* The intent is stored (or there is none to store): now the host is commanded. */
static void s_lifecycle_command(ctl_req *r, const drv_error *err, bool attempted)
{
    if (err != NULL) {
        ctl_model_set_busy(r->c->model, r->domain, NULL);
        if (attempted && s_store_outcome_unknown(err)) {
            ctl_req_failf(r, err->kind,
                          "domain '%s': desired state not stored: %s (nothing was commanded; "
                          "should etcd still store it, the controller puts the previous desired "
                          "state back)",
                          r->domain, err->message);
            return;
        }
        s_fail_store(r, "desired state not stored", err, attempted);
        return;
    }
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL || d->host == NULL || !ctl_host_up(r->c, d->host)) {
        ctl_model_set_busy(r->c->model, r->domain, NULL);
        if (r->set_desired)
            s_restore_desired(r->c, r->domain, r->desired_before);
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': its host became unreachable before it was commanded; nothing "
                      "was done",
                      r->domain);
        return;
    }
    g_free(r->host);
    r->host = g_strdup(d->host);
    ctl_cmd cmd = {.kind = (ctl_cmd_kind)r->step,
                   .domain = d->name,
                   .name = r->name, /* the snapshot of a revert; NULL otherwise */
                   .timeout_ms = (uint32_t)r->value};
    ctl_reply_fn done = cmd.kind == CTL_CMD_SNAPSHOT_REVERT ? s_snap_reverted : s_lifecycle_done;
    drv_error *serr = NULL;
    if (ctl_send(r->c, d->host, &cmd, done, r, NULL, &serr) < 0) {
        ctl_reply fail = {.ok = false, .error_kind = "unavailable", .message = serr->message};
        done(r->c, r->host, &fail, r);
        drv_error_destroy(&serr);
    }
}

void ctl_api_domain_lifecycle(ctl_req *r)
{
    static const struct {
        const char *verb;
        ctl_cmd_kind kind;
        bool set;
        ctl_desired desired;
    } map[] = {
        {"domain.shutdown", CTL_CMD_SHUTDOWN, true, CTL_DESIRED_SHUTOFF},
        {"domain.reboot", CTL_CMD_REBOOT, false, CTL_DESIRED_RUNNING},
        {"domain.destroy", CTL_CMD_DESTROY, true, CTL_DESIRED_SHUTOFF},
        {"domain.suspend", CTL_CMD_SUSPEND, true, CTL_DESIRED_PAUSED},
        {"domain.resume", CTL_CMD_RESUME, true, CTL_DESIRED_RUNNING},
        {"domain.managedsave", CTL_CMD_MANAGEDSAVE, true, CTL_DESIRED_SHUTOFF},
    };
    size_t i = 0;
    while (i < G_N_ELEMENTS(map) && strcmp(map[i].verb, r->verb) != 0)
        i++;
    g_assert(i < G_N_ELEMENTS(map));
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    const char *host = s_up_host(r, d);
    if (host == NULL)
        return;
    uint64_t timeout_ms = 0;
    const char *t = ctl_req_opt(r, "timeout_ms");
    if (t != NULL && !g_ascii_string_to_unsigned(t, 10, 0, 24u * 3600 * 1000, &timeout_ms, NULL)) {
        ctl_req_usage(r, "%s: option timeout_ms '%s' is not a number of milliseconds", r->verb, t);
        return;
    }
    r->set_desired = map[i].set;
    r->desired_before = d->desired;
    r->step = (int)map[i].kind;
    r->value = timeout_ms;
    ctl_model_set_busy(r->c->model, d->name, strchr(r->verb, '.') + 1);
    /* intent first: the desired state is in etcd before the host is told anything */
    if (r->set_desired)
        s_set_desired_then(r, map[i].desired, s_lifecycle_command);
    else
        s_lifecycle_command(r, NULL, false);
}

/* ------------------------------------------------------------------ undefine */

void ctl_api_domain_undefine(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    const char *unknown = ctl_model_domain_unknown_reason(r->c->model, d);
    if (unknown != NULL && strcmp(unknown, CTL_UNKNOWN_UNREACHABLE) != 0) {
        /* its agent is there but cannot tell yet: wait for it rather than forget a guest */
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': its state on host '%s' is unknown (%s); not undefined (try "
                      "again once the host reports)",
                      d->name, d->host, unknown);
        return;
    }
    if (!ctl_model_domain_is_off(r->c->model, d) &&
        !(strcmp(state, "unknown") == 0 && d->desired == CTL_DESIRED_SHUTOFF)) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is %s on host '%s'; destroy or shut it down first", d->name,
                      state, d->host ? d->host : "-");
        return;
    }
    /* a job (lifecycle_run.h): UNDEFINE where the host has it, then forget it in etcd */
    ctl_host *h = ctl_model_host(r->c->model, d->host);
    bool on_host =
        h != NULL && ctl_host_up(r->c, d->host) && g_hash_table_contains(h->inventory, d->name);
    if (ctl_req_flag(r, "remove_storage")) {
        /* its disks go too: only once the host proved it off, never on an unknown state */
        if (unknown != NULL || !ctl_model_domain_is_off(r->c->model, d)) {
            ctl_req_failf(r, DRV_ERR_CONFLICT,
                          "domain '%s' is %s on host '%s'%s; its storage is not removed while it "
                          "may run",
                          d->name, state, d->host ? d->host : "-",
                          unknown ? " (the host is unreachable)" : "");
            return;
        }
        ctl_prov_undefine_begin(r->c, r, d, on_host ? d->host : NULL);
        return;
    }
    ctl_lifecycle_undefine(r->c, r, d->name, on_host ? d->host : NULL);
}

/* ------------------------------------------------------------------ setvcpus setmem devices */

static void s_modify_stored(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok || rep->xml == NULL) {
        ctl_req_fail_reply(r, "dumpxml after the change", host, rep);
        return;
    }
    g_autofree char *comment = g_strdup_printf("%s", strchr(r->verb, '.') + 1);
    g_autofree char *name = g_strdup(r->domain);
    s_store_definition(r, rep->xml, name, comment, 0);
}

static void s_modify_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_fail_reply(r, strchr(r->verb, '.') + 1, host, rep);
        return;
    }
    /* the persistent definition changed: store the host's new inactive XML as a new revision */
    if ((r->modify & 2) != 0 || r->modify == 0) {
        ctl_cmd cmd = {.kind = CTL_CMD_DUMPXML, .domain = r->domain, .inactive = true};
        drv_error *err = NULL;
        if (ctl_send(c, host, &cmd, s_modify_stored, r, NULL, &err) < 0) {
            ctl_model_set_busy(c->model, r->domain, NULL);
            ctl_req_fail(r, err);
        }
        return;
    }
    ctl_model_set_busy(c->model, r->domain, NULL);
    s_ok_domain(r, "modified");
}

void ctl_api_domain_modify(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    ctl_cmd cmd = {.domain = d->name};
    bool maxmem = strcmp(r->verb, "domain.setmaxmem") == 0;
    if (strcmp(r->verb, "domain.setvcpus") == 0 || strcmp(r->verb, "domain.setmem") == 0 ||
        maxmem) {
        bool vcpus = strcmp(r->verb, "domain.setvcpus") == 0;
        if (!g_ascii_string_to_unsigned(r->args[1], 10, 1, vcpus ? 4096 : G_MAXUINT64, &r->value,
                                        NULL)) {
            ctl_req_usage(r, "%s: '%s' is not a positive %s", r->verb, r->args[1],
                          vcpus ? "vCPU count" : "size in KiB");
            return;
        }
        cmd.kind = vcpus ? CTL_CMD_SETVCPUS : CTL_CMD_SETMEM;
        cmd.value = r->value;
    } else {
        if (r->body_len == 0) {
            ctl_req_usage(r, "%s: the device XML is missing", r->verb);
            return;
        }
        cmd.kind = strcmp(r->verb, "domain.attach-device") == 0 ? CTL_CMD_ATTACH_DEVICE
                                                                : CTL_CMD_DETACH_DEVICE;
        cmd.xml = r->body;
    }
    r->modify = (ctl_req_flag(r, "live") ? 1u : 0u) | (ctl_req_flag(r, "config") ? 2u : 0u);
    if (maxmem || (cmd.kind == CTL_CMD_SETVCPUS && ctl_req_flag(r, "maximum"))) {
        if ((r->modify & 1u) != 0) { /* libvirt changes a maximum in the definition only */
            ctl_req_usage(r,
                          "%s: the maximum changes the definition (--config), not the running "
                          "guest (--live)",
                          r->verb);
            return;
        }
        r->modify |= 2u | 4u; /* as virsh: setmaxmem and setvcpus --maximum change the config */
    }
    cmd.modify = r->modify;
    if (d->host == NULL || !ctl_host_up(r->c, d->host)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s' is not defined on a reachable host; change its definition "
                      "with edit instead",
                      d->name);
        return;
    }
    ctl_model_set_busy(r->c->model, d->name, strchr(r->verb, '.') + 1);
    s_send(r, d->host, &cmd, s_modify_done);
}

/* ------------------------------------------------------------------ snapshots */

static void s_snap_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind,
                      "domain '%s': snapshot '%s' was taken on the host but its record %s in etcd: "
                      "%s",
                      r->domain, r->name, attempted ? "may not be stored" : "was not stored",
                      err->message);
        return;
    }
    ctl_events_domain_name(c, r->domain, "snapshot-created",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
}

static void s_snap_store(ctl_req *r, const char *xml, const ctl_snapshot *info)
{
    ctl_snapshot s = {.name = r->name, .xml = (char *)xml, .current = true};
    if (info != NULL) {
        s.parent = info->parent;
        s.creation_time = info->creation_time;
        s.state = info->state;
    }
    if (s.creation_time == 0)
        s.creation_time = ctl_wall_ms(r->c) / 1000;
    drv_error *err = NULL;
    if (ctl_snap_async_store(r->c, r->domain, &s, s_snap_stored, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

static void s_snap_dumped(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok || rep->xml == NULL) {
        ctl_req_fail_reply(r, "snapshot dumpxml", host, rep);
        return;
    }
    s_snap_store(r, rep->xml,
                 rep->snapshots->len > 0 ? g_ptr_array_index(rep->snapshots, 0) : NULL);
}

static void s_snap_created(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_fail_reply(r, "snapshot create", host, rep);
        return;
    }
    const ctl_snapshot *info =
        rep->snapshots->len > 0 ? g_ptr_array_index(rep->snapshots, 0) : NULL;
    if (info != NULL && info->name != NULL) {
        g_free(r->name);
        r->name = g_strdup(info->name);
    }
    if (r->name == NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_failf(r, DRV_ERR_PROTO, "domain '%s': host '%s' did not name the new snapshot",
                      r->domain, host);
        return;
    }
    const char *xml = info != NULL && info->xml != NULL ? info->xml : NULL;
    if (xml != NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        s_snap_store(r, xml, info);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_SNAPSHOT_DUMPXML, .domain = r->domain, .name = r->name};
    s_send(r, host, &cmd, s_snap_dumped);
}

void ctl_api_snapshot_create(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    const char *host = s_up_host(r, d);
    if (host == NULL)
        return;
    if (r->n_args > 1)
        r->name = g_strdup(r->args[1]);
    else if (r->body_len == 0)
        r->name = g_strdup_printf("%lld", (long long)(ctl_wall_ms(r->c) / 1000));
    ctl_model_set_busy(r->c->model, d->name, "snapshot create");
    ctl_cmd cmd = {.kind = CTL_CMD_SNAPSHOT_CREATE,
                   .domain = d->name,
                   .name = r->name,
                   .xml = r->body_len ? r->body : NULL};
    s_send(r, host, &cmd, s_snap_created);
}

static void s_snap_listed(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        ctl_req_fail_reply(r, "snapshot list", host, rep);
        return;
    }
    ctl_req_ok(r, ctl_view_snapshots(r->domain, rep->snapshots, "host"));
}

static void s_snap_stored_listed(ctl *c, GPtrArray *snaps, const drv_error *err, void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "domain '%s': its snapshots in etcd: %s", r->domain,
                      err->message);
        return;
    }
    ctl_req_ok(r, ctl_view_snapshots(r->domain, snaps, "etcd"));
}

void ctl_api_snapshot_list(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    if (d->host != NULL && ctl_host_up(r->c, d->host)) {
        ctl_host *h = ctl_model_host(r->c->model, d->host);
        if (h != NULL && g_hash_table_contains(h->inventory, d->name)) {
            ctl_cmd cmd = {.kind = CTL_CMD_SNAPSHOT_LIST, .domain = d->name};
            s_send(r, d->host, &cmd, s_snap_listed);
            return;
        }
    }
    drv_error *err = NULL;
    g_free(r->domain);
    r->domain = g_strdup(d->name);
    if (ctl_snap_async_list(r->c, d->name, s_snap_stored_listed, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

/* The revert's answer; the desired state (the snapshot's) was stored before it was sent. */
static void s_snap_reverted(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok) {
        s_intent_after_failure(c, r, host, rep, "snapshot revert");
        ctl_req_fail_reply(r, "snapshot revert", host, rep);
        return;
    }
    ctl_snap_async_mark_current(c, r->domain, r->name);
    ctl_events_domain_name(c, r->domain, "snapshot-reverted",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
}

/* What the domain is after a revert to a snapshot taken in state (libvirt's snapshot states;
 * reverting without flags restores it): -1 for a state drover does not know. */
static int s_desired_after_revert(const char *state, ctl_desired *ret)
{
    if (state == NULL)
        return -1;
    if (strcmp(state, "running") == 0)
        *ret = CTL_DESIRED_RUNNING;
    else if (strcmp(state, "paused") == 0)
        *ret = CTL_DESIRED_PAUSED;
    else if (strcmp(state, "shutoff") == 0 || strcmp(state, "shutdown") == 0 ||
             strcmp(state, "crashed") == 0 || strcmp(state, "disk-snapshot") == 0)
        *ret = CTL_DESIRED_SHUTOFF;
    else
        return -1;
    return 0;
}

/* The snapshot records are read: the snapshot's state becomes the desired state, stored before
 * the host is told to revert (intent first, as the lifecycle verbs). */
static void s_revert_listed(ctl *c, GPtrArray *snaps, const drv_error *err, void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_failf(r, err->kind,
                      "domain '%s': its snapshot records in etcd: %s (nothing was commanded)",
                      r->domain, err->message);
        return;
    }
    const ctl_snapshot *snap = NULL;
    for (guint i = 0; snaps != NULL && i < snaps->len && snap == NULL; i++) {
        const ctl_snapshot *s = g_ptr_array_index(snaps, i);
        if (g_strcmp0(s->name, r->name) == 0)
            snap = s;
    }
    ctl_desired want = CTL_DESIRED_SHUTOFF;
    if (snap == NULL || s_desired_after_revert(snap->state, &want) < 0) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_failf(r, snap == NULL ? DRV_ERR_NOT_FOUND : DRV_ERR_INVALID,
                      "domain '%s': snapshot '%s' %s, so the state after the revert cannot be "
                      "stored before it (nothing was commanded)",
                      r->domain, r->name,
                      snap == NULL ? "has no record in etcd (it was not taken by drover)"
                                   : "has no known state in its record");
        return;
    }
    ctl_domain *d = ctl_model_domain(c->model, r->domain);
    if (d == NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' was removed meanwhile", r->domain);
        return;
    }
    r->set_desired = true;
    r->desired_before = d->desired;
    r->step = (int)CTL_CMD_SNAPSHOT_REVERT;
    r->value = 0;
    s_set_desired_then(r, want, s_lifecycle_command);
}

static void s_snap_forgotten(ctl *c, const drv_error *err, bool attempted, void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind,
                      "domain '%s': snapshot '%s' was deleted on the host but its record %s from "
                      "etcd: %s",
                      r->domain, r->name, attempted ? "may not be removed" : "was not removed",
                      err->message);
        return;
    }
    ctl_events_domain_name(c, r->domain, "snapshot-deleted",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
}

static void s_snap_deleted(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok) {
        ctl_req_fail_reply(r, "snapshot delete", host, rep);
        return;
    }
    drv_error *err = NULL;
    if (ctl_snap_async_forget(c, r->domain, r->name, s_snap_forgotten, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

static void s_snap_verb(ctl_req *r, ctl_cmd_kind kind, ctl_reply_fn fn, const char *busy)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    const char *host = s_up_host(r, d);
    if (host == NULL)
        return;
    r->name = g_strdup(r->args[1]);
    ctl_model_set_busy(r->c->model, d->name, busy);
    ctl_cmd cmd = {.kind = kind, .domain = d->name, .name = r->name};
    s_send(r, host, &cmd, fn);
}

void ctl_api_snapshot_revert(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    if (s_up_host(r, d) == NULL)
        return;
    r->name = g_strdup(r->args[1]);
    g_free(r->domain);
    r->domain = g_strdup(d->name);
    ctl_model_set_busy(r->c->model, d->name, "snapshot revert");
    drv_error *err = NULL;
    if (ctl_snap_async_list(r->c, d->name, s_revert_listed, r, NULL, &err) < 0) {
        ctl_model_set_busy(r->c->model, d->name, NULL);
        ctl_req_fail(r, err);
    }
}

void ctl_api_snapshot_delete(ctl_req *r)
{
    s_snap_verb(r, CTL_CMD_SNAPSHOT_DELETE, s_snap_deleted, "snapshot delete");
}

void ctl_api_fail_waiting(ctl *c)
{
    ctl_req *r;
    while ((r = g_queue_pop_head(&c->placement_waiters)) != NULL)
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': the controller is shutting down; it was not placed",
                      r->domain ? r->domain : "-");
}
