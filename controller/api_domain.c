/* api_domain.c — the domain and snapshot verbs of the client API (docs/api.md). Verbs that need an
 * agent chain broker commands; each step's callback either sends the next command or answers the
 * client, exactly once. */
#include "api_private.h"

#include "domxml.h"
#include "events.h"
#include "log.h"
#include "placement.h"
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

static void s_set_busy(ctl *c, const char *name, const char *verb)
{
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (d == NULL)
        return;
    g_free(d->busy);
    d->busy = g_strdup(verb);
}

/* The domain's placed host when its agent is connected; else fails r and returns NULL. */
static const char *s_up_host(ctl_req *r, const ctl_domain *d)
{
    if (d->host == NULL) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is not placed on any host (start it first)",
                      d->name);
        return NULL;
    }
    if (!ctl_broker_host_up(r->c->broker, d->host)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "domain '%s': host '%s' is unreachable", d->name,
                      d->host);
        return NULL;
    }
    return d->host;
}

/* Stores a new desired state (CAS on the domain key, one re-read and retry on a lost compare). */
static int s_set_desired(ctl *c, const char *name, ctl_desired desired, drv_error **err)
{
    for (int attempt = 0;; attempt++) {
        ctl_domain *d = ctl_model_domain(c->model, name);
        if (d == NULL)
            return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain '%s' not found", name);
        if (d->desired == desired)
            return 0;
        ctl_domain *copy = ctl_domain_copy(d);
        copy->desired = desired;
        drv_error *e = NULL;
        if (ctl_store_put_domain(c->store, copy, d->mod_revision, NULL, &e) == 0) {
            ctl_model_put_domain(c->model, copy);
            return 0;
        }
        ctl_domain_free(copy);
        if (e->kind != DRV_ERR_CONFLICT || attempt > 0) {
            drv_error_propagate(err, e);
            return -1;
        }
        drv_error_free(&e);
        if (ctl_store_refresh_domain(c->store, c->model, name, err) < 0)
            return -1;
    }
}

static void s_delete_domain(ctl *c, const char *name)
{
    drv_error *err = NULL;
    if (ctl_store_delete_domain(c->store, name, &err) < 0) {
        drv_warn("%s", err->message);
        drv_error_free(&err);
        return;
    }
    ctl_model_remove_domain(c->model, name);
    ctl_events_domain_name(c, name, "undefined", NULL);
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
    if (ctl_broker_send(c->broker, host_id, &cmd, s_log_reply, g_steal_pointer(&what), g_free,
                        &err) < 0) {
        drv_debug("%s", err->message);
        drv_error_free(&err);
    }
}

static int s_send(ctl_req *r, const char *host, const ctl_cmd *cmd, ctl_reply_fn fn)
{
    drv_error *err = NULL;
    if (ctl_broker_send(r->c->broker, host, cmd, fn, r, NULL, &err) < 0) {
        s_set_busy(r->c, r->domain, NULL);
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

/* Validates xml and stores it as the next revision of its domain (or revision 1 of a new one).
 * expect_name: the name the XML must carry (edit, rollback) or NULL. expect_revision: 0 or the
 * revision the caller edited. Returns the stored domain (borrowed) or NULL with an error; nothing
 * is stored on error. */
static ctl_domain *s_store_definition(ctl *c, const char *xml, const char *expect_name,
                                      const char *comment, int64_t expect_revision, drv_error **err)
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
    if (strchr(dx->name, '/') != NULL || dx->name[0] == '.') {
        drv_error_set(err, DRV_ERR_INVALID, 0, "invalid domain XML: name '%s' may not contain '/'",
                      dx->name);
        goto out;
    }
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
        result = old; /* unchanged: no new revision */
        goto out;
    }
    ctl_domain *d = old != NULL ? ctl_domain_copy(old) : ctl_domain_new(dx->name);
    g_free(d->uuid);
    d->uuid = g_steal_pointer(&uuid);
    g_free(d->xml);
    d->xml = g_steal_pointer(&final_xml);
    d->revision = old != NULL ? old->revision + 1 : 1;
    d->vcpus = dx->vcpus;
    d->memory_kib = dx->memory_kib;
    g_strfreev(d->cpu_features);
    d->cpu_features = g_strdupv(dx->cpu_features_required);
    g_free(d->affinity_group);
    d->affinity_group = g_strdup(dx->affinity_group);
    g_free(d->anti_affinity_group);
    d->anti_affinity_group = g_strdup(dx->anti_affinity_group);
    if (old == NULL)
        d->created_ms = ctl_wall_ms();
    if (ctl_store_put_domain(c->store, d, old != NULL ? old->mod_revision : 0, comment, err) < 0) {
        ctl_domain_free(d);
        goto out;
    }
    result = ctl_model_put_domain(c->model, d);
    ctl_events_domain(c, result, "defined");
    /* a domain placed on a connected host gets the new definition there too */
    if (result->host != NULL && ctl_broker_host_up(c->broker, result->host))
        s_fire(c, result->host, CTL_CMD_DEFINE, result->name, result->xml);
out:
    drv_domxml_free(&dx);
    return result;
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
    drv_error *err = NULL;
    ctl_domain *d = s_store_definition(r->c, r->body, NULL, "define", 0, &err);
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
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
    drv_error *err = NULL;
    d = s_store_definition(r->c, r->body, r->domain, "edit", expect, &err);
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
}

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
    g_autofree char *json = NULL;
    drv_error *err = NULL;
    int found = ctl_store_history_get(r->c->store, r->domain, rev, &json, &err);
    if (found < 0) {
        ctl_req_fail(r, err);
        return;
    }
    if (found == 0) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' has no revision %lld", r->domain,
                      (long long)rev);
        return;
    }
    g_autofree char *xml = ctl_view_history_xml(json);
    if (xml == NULL) {
        ctl_req_failf(r, DRV_ERR_INTERNAL, "domain '%s': revision %lld has no XML", r->domain,
                      (long long)rev);
        return;
    }
    g_autofree char *comment = g_strdup_printf("rollback to %lld", (long long)rev);
    d = s_store_definition(r->c, xml, r->domain, comment, 0, &err);
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
}

void ctl_api_domain_history(ctl_req *r)
{
    if (s_domain_arg(r) == NULL)
        return;
    drv_etcd_range range = {0};
    drv_error *err = NULL;
    if (ctl_store_history(r->c->store, r->domain, &range, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = ctl_view_history(r->domain, &range);
    drv_etcd_range_clear(&range);
    ctl_req_ok(r, doc);
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
    g_autofree char *json = NULL;
    drv_error *err = NULL;
    int found = ctl_store_history_get(r->c->store, r->domain, rev, &json, &err);
    if (found <= 0) {
        if (found < 0)
            ctl_req_fail(r, err);
        else
            ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' has no revision %lld", r->domain,
                          (long long)rev);
        return;
    }
    json_object *o = ctl_view_history_entry(r->domain, rev, json, &err);
    if (o == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, o);
}

void ctl_api_domain_autostart(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    bool on = !ctl_req_flag(r, "disable");
    if (d->autostart != on) {
        ctl_domain *copy = ctl_domain_copy(d);
        copy->autostart = on;
        drv_error *err = NULL;
        if (ctl_store_put_domain(r->c->store, copy, d->mod_revision, NULL, &err) < 0) {
            ctl_domain_free(copy);
            ctl_req_fail(r, err);
            return;
        }
        ctl_model_put_domain(r->c->model, copy);
    }
    s_ok_domain(r, "autostart");
}

/* ------------------------------------------------------------------ queries */

void ctl_api_domain_list(ctl_req *r)
{
    bool all = ctl_req_flag(r, "all");
    GPtrArray *doms = ctl_model_domains(r->c->model);
    GPtrArray *shown = g_ptr_array_new();
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        const char *state;
        int reason;
        ctl_model_domain_state(r->c->model, d, &state, &reason);
        if (all || strcmp(state, "shut off") != 0 || d->desired != CTL_DESIRED_SHUTOFF)
            g_ptr_array_add(shown, (gpointer)d);
    }
    ctl_req_ok(r, ctl_view_domains(r->c->model, shown));
    g_ptr_array_unref(shown);
    g_ptr_array_unref(doms);
}

void ctl_api_domain_info(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    drv_error *err = NULL;
    int64_t n = ctl_store_history_count(r->c->store, d->name, &err);
    if (n < 0) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, ctl_view_domain_info(r->c->model, d, n));
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
    const char *state;
    int reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    bool active = strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
                  strcmp(state, "blocked") == 0;
    if (ctl_req_flag(r, "inactive") || !active || !ctl_broker_host_up(r->c->broker, d->host)) {
        ctl_req_ok(r, ctl_view_xml(d->name, d->xml, false));
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_DUMPXML, .domain = d->name};
    s_send(r, d->host, &cmd, s_dumpxml_done);
}

/* ------------------------------------------------------------------ start (placement) */

static void s_start_failed(ctl_req *r, const char *what, const char *host, const ctl_reply *rep)
{
    drv_error *err = NULL;
    s_set_busy(r->c, r->domain, NULL);
    if (s_set_desired(r->c, r->domain, r->desired_after, &err) < 0) {
        drv_warn("domain '%s': restoring the desired state: %s", r->domain, err->message);
        drv_error_free(&err);
    }
    ctl_req_fail_reply(r, what, host, rep);
}

static void s_start_started(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        s_start_failed(r, "start", host, rep);
        return;
    }
    s_set_busy(c, r->domain, NULL);
    if (r->old_host != NULL && strcmp(r->old_host, host) != 0 &&
        ctl_broker_host_up(c->broker, r->old_host))
        s_fire(c, r->old_host, CTL_CMD_UNDEFINE, r->domain, NULL);
    s_ok_domain(r, "started");
}

static void s_start_defined(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        s_start_failed(r, "define", host, rep);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_START, .domain = r->domain};
    drv_error *err = NULL;
    if (ctl_broker_send(c->broker, host, &cmd, s_start_started, r, NULL, &err) < 0) {
        ctl_reply fail = {.ok = false, .error_kind = "unavailable", .message = err->message};
        s_start_failed(r, "start", host, &fail);
        drv_error_free(&err);
    }
}

/* Chooses a host and commits the placement (CAS on the domain and the host's alloc key; after a
 * lost compare, re-reads both and chooses again). Returns the placed domain or NULL (r answered).
 */
static ctl_domain *s_place(ctl_req *r, ctl_domain *d, ctl_desired desired)
{
    ctl *c = r->c;
    for (int attempt = 0; attempt < 4; attempt++) {
        g_autofree char *host = NULL;
        drv_error *err = NULL;
        if (ctl_placement_choose(c, d, NULL, &host, &err) < 0) {
            ctl_req_fail(r, err);
            return NULL;
        }
        ctl_host *h = ctl_model_host(c->model, host);
        ctl_domain *copy = ctl_domain_copy(d);
        g_free(copy->host);
        copy->host = g_strdup(host);
        copy->desired = desired;
        g_autofree char *alloc = ctl_placement_alloc_json(c, host);
        int64_t expect = ctl_model_domain(c->model, d->name) ? d->mod_revision : 0;
        if (ctl_store_place(c->store, copy, expect, h, alloc, &err) == 0) {
            drv_info("domain '%s' placed on host '%s'", d->name, host);
            return ctl_model_put_domain(c->model, copy);
        }
        ctl_domain_free(copy);
        if (err->kind != DRV_ERR_CONFLICT) {
            ctl_req_fail(r, err);
            return NULL;
        }
        drv_info("%s; re-reading and trying again", err->message);
        drv_error_free(&err);
        if (ctl_store_refresh_alloc(c->store, c->model, host, &err) < 0 ||
            (expect != 0 && ctl_store_refresh_domain(c->store, c->model, r->domain, &err) < 0)) {
            ctl_req_fail(r, err);
            return NULL;
        }
        if (expect != 0) {
            d = ctl_model_domain(c->model, r->domain);
            if (d == NULL) {
                ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' was undefined meanwhile",
                              r->domain);
                return NULL;
            }
        } else if (ctl_model_domain(c->model, r->domain) != NULL) {
            ctl_req_failf(r, DRV_ERR_EXISTS, "domain '%s' was defined meanwhile", r->domain);
            return NULL;
        }
    }
    ctl_req_failf(r, DRV_ERR_CONFLICT,
                  "domain '%s': placement kept losing races with other placements; try again",
                  r->domain);
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
    const char *state;
    int reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
        strcmp(state, "blocked") == 0) {
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
    r->desired_after = d->desired; /* restored if the start fails */
    r->old_host = g_strdup(d->host);
    d = s_place(r, d, CTL_DESIRED_RUNNING);
    if (d == NULL)
        return;
    g_free(r->host);
    r->host = g_strdup(d->host);
    s_set_busy(r->c, d->name, "start");
    ctl_events_domain(r->c, d, "placed");
    ctl_cmd cmd = {.kind = CTL_CMD_DEFINE, .domain = d->name, .xml = d->xml};
    drv_error *err = NULL;
    if (ctl_broker_send(r->c->broker, d->host, &cmd, s_start_defined, r, NULL, &err) < 0) {
        ctl_reply fail = {.ok = false, .error_kind = "unavailable", .message = err->message};
        s_start_failed(r, "define", r->host, &fail);
        drv_error_free(&err);
    }
}

/* ------------------------------------------------------------------ create (transient) */

static void s_create_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    if (!rep->ok) {
        s_delete_domain(c, r->domain);
        ctl_req_fail_reply(r, "create", host, rep);
        return;
    }
    s_ok_domain(r, "started");
}

void ctl_api_domain_create(ctl_req *r)
{
    if (r->body_len == 0) {
        ctl_req_usage(r, "domain.create: the domain XML is missing");
        return;
    }
    drv_domxml *dx = NULL;
    drv_error *err = NULL;
    if (drv_domxml_parse(r->body, r->body_len, &dx, &err) < 0) {
        drv_error_prefix(&err, "invalid domain XML");
        ctl_req_fail(r, err);
        return;
    }
    r->domain = g_strdup(dx->name);
    if (ctl_model_domain(r->c->model, dx->name) != NULL || strchr(dx->name, '/') != NULL) {
        ctl_req_failf(r, DRV_ERR_EXISTS, "domain '%s' already exists", dx->name);
        drv_domxml_free(&dx);
        return;
    }
    ctl_domain *d = ctl_domain_new(dx->name);
    d->uuid = g_strdup(dx->uuid ? dx->uuid : NULL);
    if (d->uuid == NULL) {
        d->uuid = g_uuid_string_random();
        if (drv_domxml_set_uuid(r->body, d->uuid, &d->xml, &err) < 0) {
            ctl_domain_free(d);
            drv_domxml_free(&dx);
            ctl_req_fail(r, err);
            return;
        }
    } else {
        d->xml = g_strdup(r->body);
    }
    d->revision = 1;
    d->transient = true;
    d->vcpus = dx->vcpus;
    d->memory_kib = dx->memory_kib;
    d->cpu_features = g_strdupv(dx->cpu_features_required);
    d->affinity_group = g_strdup(dx->affinity_group);
    d->anti_affinity_group = g_strdup(dx->anti_affinity_group);
    d->created_ms = ctl_wall_ms();
    drv_domxml_free(&dx);
    ctl_domain *placed = s_place(r, d, CTL_DESIRED_RUNNING);
    ctl_domain_free(d);
    if (placed == NULL)
        return;
    s_set_busy(r->c, placed->name, "create");
    ctl_events_domain(r->c, placed, "defined");
    ctl_cmd cmd = {.kind = CTL_CMD_CREATE, .domain = placed->name, .xml = placed->xml};
    if (ctl_broker_send(r->c->broker, placed->host, &cmd, s_create_done, r, NULL, &err) < 0) {
        s_delete_domain(r->c, r->domain);
        ctl_req_fail(r, err);
    }
}

/* ------------------------------------------------------------------ lifecycle */

static void s_lifecycle_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    const char *what = strchr(r->verb, '.') + 1;
    if (!rep->ok || rep->timed_out) {
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
        d->desired = CTL_DESIRED_SHUTOFF;
        json_object *o = ctl_view_domain_api(c->model, d);
        s_delete_domain(c, r->domain);
        ctl_req_ok(r, o);
        return;
    }
    if (r->set_desired) {
        drv_error *err = NULL;
        if (s_set_desired(c, r->domain, r->desired_after, &err) < 0) {
            ctl_req_fail(r, err);
            return;
        }
    }
    s_ok_domain(r, "state-changed");
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
        ctl_req_usage(r, "%s: timeout_ms '%s' is not a number of milliseconds", r->verb, t);
        return;
    }
    r->set_desired = map[i].set;
    r->desired_after = map[i].desired;
    s_set_busy(r->c, d->name, strchr(r->verb, '.') + 1);
    ctl_cmd cmd = {.kind = map[i].kind, .domain = d->name, .timeout_ms = (uint32_t)timeout_ms};
    s_send(r, host, &cmd, s_lifecycle_done);
}

/* ------------------------------------------------------------------ undefine */

static void s_undefine_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    if (!rep->ok && g_strcmp0(rep->error_kind, "not-found") != 0) {
        ctl_req_fail_reply(r, "undefine", host, rep);
        return;
    }
    ctl_host *h = ctl_model_host(c->model, host);
    if (h != NULL)
        g_hash_table_remove(h->inventory, r->domain);
    s_delete_domain(c, r->domain);
    ctl_req_ok(r, ctl_view_undefined(r->domain));
}

void ctl_api_domain_undefine(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    const char *state;
    int reason;
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
    if (strcmp(state, "shut off") != 0 && strcmp(state, "crashed") != 0 &&
        !(strcmp(state, "unknown") == 0 && d->desired == CTL_DESIRED_SHUTOFF)) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is %s on host '%s'; destroy or shut it down first", d->name,
                      state, d->host ? d->host : "-");
        return;
    }
    ctl_host *h = ctl_model_host(r->c->model, d->host);
    if (h != NULL && ctl_broker_host_up(r->c->broker, d->host) &&
        g_hash_table_contains(h->inventory, d->name)) {
        s_set_busy(r->c, d->name, "undefine");
        ctl_cmd cmd = {.kind = CTL_CMD_UNDEFINE, .domain = d->name};
        s_send(r, d->host, &cmd, s_undefine_done);
        return;
    }
    s_delete_domain(r->c, d->name);
    ctl_req_ok(r, ctl_view_undefined(r->domain));
}

/* ------------------------------------------------------------------ setvcpus setmem devices */

static void s_modify_stored(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    if (!rep->ok || rep->xml == NULL) {
        ctl_req_fail_reply(r, "dumpxml after the change", host, rep);
        return;
    }
    g_autofree char *comment = g_strdup_printf("%s", strchr(r->verb, '.') + 1);
    drv_error *err = NULL;
    ctl_domain *d = s_store_definition(c, rep->xml, r->domain, comment, 0, &err);
    if (d == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    s_ok_domain(r, NULL);
}

static void s_modify_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        s_set_busy(c, r->domain, NULL);
        ctl_req_fail_reply(r, strchr(r->verb, '.') + 1, host, rep);
        return;
    }
    /* the persistent definition changed: store the host's new inactive XML as a new revision */
    if ((r->modify & 2) != 0 || r->modify == 0) {
        ctl_cmd cmd = {.kind = CTL_CMD_DUMPXML, .domain = r->domain, .inactive = true};
        drv_error *err = NULL;
        if (ctl_broker_send(c->broker, host, &cmd, s_modify_stored, r, NULL, &err) < 0) {
            s_set_busy(c, r->domain, NULL);
            ctl_req_fail(r, err);
        }
        return;
    }
    s_set_busy(c, r->domain, NULL);
    s_ok_domain(r, "modified");
}

void ctl_api_domain_modify(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL || !s_idle(r, d))
        return;
    ctl_cmd cmd = {.domain = d->name};
    if (strcmp(r->verb, "domain.setvcpus") == 0 || strcmp(r->verb, "domain.setmem") == 0) {
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
    cmd.modify = r->modify;
    if (d->host == NULL || !ctl_broker_host_up(r->c->broker, d->host)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s' is not defined on a reachable host; change its definition "
                      "with edit instead",
                      d->name);
        return;
    }
    s_set_busy(r->c, d->name, strchr(r->verb, '.') + 1);
    s_send(r, d->host, &cmd, s_modify_done);
}

/* ------------------------------------------------------------------ snapshots */

/* Marks `current` (or none) as the current snapshot among the stored ones. */
static void s_snap_mark_current(ctl *c, const char *domain, const char *current)
{
    GPtrArray *snaps = NULL;
    drv_error *err = NULL;
    if (ctl_store_snapshots(c->store, domain, &snaps, &err) < 0) {
        drv_warn("%s", err->message);
        drv_error_free(&err);
        return;
    }
    for (guint i = 0; i < snaps->len; i++) {
        ctl_snapshot *s = g_ptr_array_index(snaps, i);
        bool want = current != NULL && g_strcmp0(s->name, current) == 0;
        if (s->current == want)
            continue;
        s->current = want;
        if (ctl_store_put_snapshot(c->store, domain, s, &err) < 0) {
            drv_warn("%s", err->message);
            drv_error_free(&err);
        }
    }
    g_ptr_array_unref(snaps);
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
        s.creation_time = ctl_wall_ms() / 1000;
    drv_error *err = NULL;
    s_snap_mark_current(r->c, r->domain, NULL);
    if (ctl_store_put_snapshot(r->c->store, r->domain, &s, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_events_domain_name(r->c, r->domain, "snapshot-created",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
}

static void s_snap_dumped(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
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
        s_set_busy(c, r->domain, NULL);
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
        s_set_busy(c, r->domain, NULL);
        ctl_req_failf(r, DRV_ERR_PROTO, "domain '%s': host '%s' did not name the new snapshot",
                      r->domain, host);
        return;
    }
    const char *xml = info != NULL && info->xml != NULL ? info->xml : NULL;
    if (xml != NULL) {
        s_set_busy(c, r->domain, NULL);
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
        r->name = g_strdup_printf("%lld", (long long)(ctl_wall_ms() / 1000));
    s_set_busy(r->c, d->name, "snapshot create");
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

void ctl_api_snapshot_list(ctl_req *r)
{
    ctl_domain *d = s_domain_arg(r);
    if (d == NULL)
        return;
    if (d->host != NULL && ctl_broker_host_up(r->c->broker, d->host)) {
        ctl_host *h = ctl_model_host(r->c->model, d->host);
        if (h != NULL && g_hash_table_contains(h->inventory, d->name)) {
            ctl_cmd cmd = {.kind = CTL_CMD_SNAPSHOT_LIST, .domain = d->name};
            s_send(r, d->host, &cmd, s_snap_listed);
            return;
        }
    }
    GPtrArray *snaps = NULL;
    drv_error *err = NULL;
    if (ctl_store_snapshots(r->c->store, d->name, &snaps, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_req_ok(r, ctl_view_snapshots(d->name, snaps, "etcd"));
    g_ptr_array_unref(snaps);
}

static void s_snap_reverted(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    if (!rep->ok) {
        ctl_req_fail_reply(r, "snapshot revert", host, rep);
        return;
    }
    /* the domain is now in the snapshot's state: make that the desired state */
    const ctl_actual *a = rep->domain;
    ctl_host *h = ctl_model_host(c->model, host);
    if (a == NULL && h != NULL)
        a = g_hash_table_lookup(h->inventory, r->domain);
    if (a != NULL) {
        ctl_desired want = a->state == CTL_VIR_PAUSED       ? CTL_DESIRED_PAUSED
                           : ctl_vir_state_active(a->state) ? CTL_DESIRED_RUNNING
                                                            : CTL_DESIRED_SHUTOFF;
        drv_error *err = NULL;
        if (s_set_desired(c, r->domain, want, &err) < 0) {
            ctl_req_fail(r, err);
            return;
        }
    }
    s_snap_mark_current(c, r->domain, r->name);
    ctl_events_domain_name(c, r->domain, "snapshot-reverted",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
}

/* Removes a deleted snapshot from etcd the way libvirt removes it from the host: its children
 * get its parent, and when it was current its parent becomes current. */
static int s_snap_forget(ctl *c, const char *domain, const char *name, drv_error **err)
{
    GPtrArray *snaps = NULL;
    if (ctl_store_snapshots(c->store, domain, &snaps, err) < 0)
        return -1;
    const ctl_snapshot *gone = NULL;
    for (guint i = 0; i < snaps->len; i++) {
        const ctl_snapshot *s = g_ptr_array_index(snaps, i);
        if (g_strcmp0(s->name, name) == 0)
            gone = s;
    }
    int rc = 0;
    for (guint i = 0; gone != NULL && rc == 0 && i < snaps->len; i++) {
        ctl_snapshot *s = g_ptr_array_index(snaps, i);
        bool child = g_strcmp0(s->parent, name) == 0;
        bool heir = gone->current && gone->parent != NULL && g_strcmp0(s->name, gone->parent) == 0;
        if (!child && !heir)
            continue;
        if (child) {
            g_free(s->parent);
            s->parent = g_strdup(gone->parent);
        }
        if (heir)
            s->current = true;
        rc = ctl_store_put_snapshot(c->store, domain, s, err);
    }
    if (rc == 0)
        rc = ctl_store_delete_snapshot(c->store, domain, name, err);
    g_ptr_array_unref(snaps);
    return rc;
}

static void s_snap_deleted(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    s_set_busy(c, r->domain, NULL);
    if (!rep->ok) {
        ctl_req_fail_reply(r, "snapshot delete", host, rep);
        return;
    }
    drv_error *err = NULL;
    if (s_snap_forget(c, r->domain, r->name, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    ctl_events_domain_name(c, r->domain, "snapshot-deleted",
                           ctl_view_snapshot_ref(r->domain, r->name));
    ctl_req_ok(r, ctl_view_snapshot_ref(r->domain, r->name));
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
    s_set_busy(r->c, d->name, busy);
    ctl_cmd cmd = {.kind = kind, .domain = d->name, .name = r->name};
    s_send(r, host, &cmd, fn);
}

void ctl_api_snapshot_revert(ctl_req *r)
{
    s_snap_verb(r, CTL_CMD_SNAPSHOT_REVERT, s_snap_reverted, "snapshot revert");
}

void ctl_api_snapshot_delete(ctl_req *r)
{
    s_snap_verb(r, CTL_CMD_SNAPSHOT_DELETE, s_snap_deleted, "snapshot delete");
}
