/* reconcile.c — see reconcile.h. */
#include "reconcile.h"

#include "ctl_io.h"
#include "broker.h"
#include "events.h"
#include "log.h"
#include "outcome.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

static void s_autostart_started(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    const char *name = data;
    ctl_model_set_busy(c->model, name, NULL);
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (!rep->ok) {
        drv_warn("domain '%s': autostart on host '%s' failed: %s", name, host, rep->message);
        if (d != NULL)
            ctl_events_domain(c, d, "autostart-failed");
        return;
    }
    drv_info("domain '%s' started again on host '%s' (autostart)", name, host);
    if (d != NULL)
        ctl_events_domain(c, d, "autostarted");
}

static void s_autostart_defined(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    const char *name = data;
    if (!rep->ok) {
        s_autostart_started(c, host, rep, data);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_START, .domain = name};
    drv_error *err = NULL;
    if (ctl_send(c, host, &cmd, s_autostart_started, g_strdup(name), g_free, &err) < 0) {
        drv_warn("domain '%s': autostart: %s", name, err->message);
        drv_error_destroy(&err);
        ctl_model_set_busy(c->model, name, NULL);
    }
}

static void s_autostart(ctl *c, ctl_host *h, ctl_domain *d)
{
    drv_info("domain '%s' should run on host '%s' (autostart); starting it", d->name, h->id);
    ctl_cmd cmd = {.kind = CTL_CMD_DEFINE, .domain = d->name, .xml = d->xml};
    drv_error *err = NULL;
    ctl_model_set_busy(c->model, d->name, "autostart");
    if (ctl_send(c, h->id, &cmd, s_autostart_defined, g_strdup(d->name), g_free, &err) < 0) {
        drv_warn("domain '%s': autostart: %s", d->name, err->message);
        drv_error_destroy(&err);
        ctl_model_set_busy(c->model, d->name, NULL);
    }
}

static void s_forgotten(ctl *c, const drv_error *err, bool attempted, void *data)
{
    const char *name = data;
    if (err != NULL) {
        drv_warn("domain '%s': forgetting it: %s", name, err->message);
        return;
    }
    ctl_events_domain_name(c, name, "undefined", NULL);
}

/* A transient domain that is gone from its host is gone for good: forget it (in etcd first). */
static void s_forget_transient(ctl *c, const char *name)
{
    drv_error *err = NULL;
    if (ctl_async_delete_domain(c, name, s_forgotten, g_strdup(name), g_free, &err) < 0) {
        drv_warn("domain '%s': forgetting it: %s", name, err->message);
        drv_error_destroy(&err);
    }
}

static void s_report_foreign(ctl *c, ctl_host *h, const ctl_actual *a)
{
    ctl_domain *d = ctl_model_domain(c->model, a->name);
    if (d != NULL) {
        if (ctl_vir_state_active(a->state) && g_strcmp0(d->host, h->id) != 0) {
            drv_warn("domain '%s' runs on host '%s' but is placed on '%s'; reported, not touched",
                     a->name, h->id, d->host ? d->host : "(none)");
            ctl_events_domain(c, d, "drift");
        }
        return;
    }
    if (!ctl_vir_state_active(a->state))
        return;
    drv_warn("host '%s' runs domain '%s' that the cluster does not know; reported, not touched",
             h->id, a->name);
    ctl_events_domain_name(c, a->name, "unmanaged",
                           ctl_view_unmanaged(a->name, h->id, ctl_vir_state_to_string(a->state)));
}

void ctl_reconcile_inventory(ctl *c, ctl_host *h, bool registered_now)
{
    const char *unknown = ctl_host_unknown_reason(h);
    if (unknown != NULL) {
        /* an empty list that is not the truth: nothing is gone, nothing is to be started */
        drv_info("host '%s': %s; its domains' state is unknown, nothing reconciled", h->id,
                 unknown);
        ctl_reconcile_reachability(c, h);
        return;
    }
    ctl_outcome_host_known(c, h); /* verbs whose outcome was unknown, decided by this inventory */
    GPtrArray *doms = ctl_model_domains_on(c->model, h->id); /* per registration: the index */
    for (guint i = 0; i < doms->len; i++) {
        ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->busy != NULL)
            continue;
        const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
        bool active = a != NULL && ctl_vir_state_active(a->state);
        if (!active)
            d->running_revision = 0; /* the next start runs the stored revision */
        if (d->transient && a == NULL) {
            s_forget_transient(c, d->name);
            continue;
        }
        if (registered_now && d->autostart && d->desired == CTL_DESIRED_RUNNING && !active) {
            s_autostart(c, h, d);
            continue;
        }
        g_autofree char *drift = ctl_model_domain_drift(c->model, d);
        if (drift != NULL) {
            drv_info("domain '%s': %s", d->name, drift);
            ctl_events_domain(c, d, "drift");
        } else {
            ctl_events_domain(c, d, "state-changed");
        }
    }
    g_ptr_array_unref(doms);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, h->inventory);
    while (g_hash_table_iter_next(&it, NULL, &v))
        s_report_foreign(c, h, v);
}

void ctl_reconcile_event(ctl *c, ctl_host *h, int kind, const char *domain, const char *detail_text)
{
    drv_debug("event from '%s': domain '%s' kind %d (%s)", h->id, domain, kind,
              detail_text ? detail_text : "");
    if (ctl_host_unknown_reason(h) == NULL)
        ctl_outcome_host_known(c, h);
    ctl_domain *d = ctl_model_domain(c->model, domain);
    if (d == NULL) {
        const ctl_actual *a = g_hash_table_lookup(h->inventory, domain);
        if (a != NULL)
            s_report_foreign(c, h, a);
        return;
    }
    if (g_strcmp0(d->host, h->id) != 0) {
        const ctl_actual *a = g_hash_table_lookup(h->inventory, domain);
        if (a != NULL)
            s_report_foreign(c, h, a);
        return;
    }
    if (d->transient && d->busy == NULL && !g_hash_table_contains(h->inventory, domain)) {
        s_forget_transient(c, domain);
        return;
    }
    const ctl_actual *now = g_hash_table_lookup(h->inventory, domain);
    if (now == NULL || !ctl_vir_state_active(now->state))
        d->running_revision = 0; /* stopped: the next start runs the stored revision */
    g_autofree char *drift = ctl_model_domain_drift(c->model, d);
    /* a device attached or detached live changes no state: it is told as drift (or as the
     * domain's new sheet when its devices are back in line with the definition) */
    if (kind != CTL_EVENT_KIND_DEVICE || drift == NULL || d->busy != NULL)
        ctl_events_domain(c, d, "state-changed");
    if (drift != NULL && d->busy == NULL) {
        drv_info("domain '%s': %s", d->name, drift);
        ctl_events_domain(c, d, "drift");
    }
}

void ctl_reconcile_reachability(ctl *c, ctl_host *h)
{
    GPtrArray *doms = ctl_model_domains_on(c->model, h->id);
    for (guint i = 0; i < doms->len; i++)
        ctl_events_domain(c, g_ptr_array_index(doms, i), "state-changed");
    g_ptr_array_unref(doms);
}
