/* ha_api.c — the verbs `domain.ha` (drover domain ha NAME --enable|--disable [--priority N]
 * [--restart-limit K]: the domain's HA policy, stored with the domain) and `host.ha-plan` (the N+1
 * question: where each HA domain of HOST would restart if HOST died now, which would wait and
 * why), docs/ha.md. */
#include "api_private.h"

#include "events.h"
#include "ha_plan.h"
#include "placement.h"
#include "store_async.h"
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void s_ha_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                        void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "domain '%s': HA policy not stored%s: %s", r->domain,
                      attempted ? " (it may have been)" : "", err->message);
        return;
    }
    if (stored == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    ctl_events_domain(c, stored, "ha");
    ctl_req_ok(r, ctl_view_domain_api(c->model, stored));
}

/* Parses a decimal option in [lo, hi] into *ret; absent → 0 and *ret untouched. */
static int s_int_opt(ctl_req *r, const char *key, long long lo, long long hi, long long *ret)
{
    const char *v = ctl_req_opt(r, key);
    if (v == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        ctl_req_usage(r, "domain.ha: --%s '%s' is not a number in [%lld, %lld]", key, v, lo, hi);
        return -1;
    }
    *ret = n;
    return 1;
}

void ctl_api_domain_ha(ctl_req *r)
{
    g_free(r->domain);
    r->domain = g_strdup(r->args[0]);
    ctl_domain *d = ctl_model_domain(r->c->model, r->args[0]);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' not found", r->args[0]);
        return;
    }
    bool enable = ctl_req_flag(r, "enable"), disable = ctl_req_flag(r, "disable");
    if (enable && disable) {
        ctl_req_usage(r, "domain.ha: --enable and --disable exclude each other");
        return;
    }
    long long prio = d->ha_priority, limit = d->ha_restart_limit;
    int p = s_int_opt(r, "priority", -1000000, 1000000, &prio);
    if (p < 0)
        return;
    int l = s_int_opt(r, "restart_limit", 0, 1000000, &limit);
    if (l < 0)
        return;
    if (d->transient && enable) {
        ctl_req_failf(r, DRV_ERR_INVALID,
                      "domain '%s' is transient: HA restarts need a stored definition", d->name);
        return;
    }
    if (!enable && !disable && p == 0 && l == 0) { /* a query */
        ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    if (enable) {
        copy->ha = true;
        copy->ha_restarts = 0; /* enabling again resets the count the limit is checked against */
    }
    if (disable)
        copy->ha = false;
    copy->ha_priority = (int32_t)prio;
    copy->ha_restart_limit = (uint32_t)limit;
    drv_error *err = NULL;
    if (ctl_async_put_domain(r->c, copy, d->mod_revision, NULL, s_ha_stored, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

void ctl_api_host_ha_plan(ctl_req *r)
{
    ctl *c = r->c;
    const char *host = r->args[0];
    if (ctl_model_host(c->model, host) == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", host);
        return;
    }
    const char *avoid[] = {host, NULL};
    GArray *cands = g_array_new(FALSE, TRUE, sizeof(drv_ha_candidate));
    GPtrArray *doms = ctl_model_domains(c->model);
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        if (!d->ha || d->desired == CTL_DESIRED_SHUTOFF || g_strcmp0(d->host, host) != 0)
            continue;
        drv_ha_candidate cand = {
            .req = {.name = d->name,
                    .vcpus = d->vcpus,
                    .memory_kib = d->memory_kib,
                    .features = (const char *const *)d->cpu_features,
                    .affinity_group = d->affinity_group,
                    .anti_affinity_group = d->anti_affinity_group,
                    .avoid_hosts = avoid},
            .priority = d->ha_priority,
            .restarts = d->ha_restarts,
            .restart_limit = d->ha_restart_limit,
        };
        g_array_append_val(cands, cand);
    }
    drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
    drv_ha_plan *plan = NULL;
    drv_error *err = NULL;
    int rc = drv_ha_plan_host_loss(cl, host, (drv_ha_candidate *)(void *)cands->data, cands->len,
                                   &plan, &err);
    drv_sched_cluster_destroy(&cl);
    g_array_unref(cands);
    g_ptr_array_unref(doms);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "host", json_object_new_string(host));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < plan->n; i++) {
        const drv_ha_decision *dec = &plan->decisions[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(dec->domain));
        json_object_object_add(o, "restarts_on",
                               dec->host ? json_object_new_string(dec->host) : NULL);
        json_object_object_add(o, "waits",
                               dec->reason ? json_object_new_string(dec->reason) : NULL);
        json_object_array_add(arr, o);
    }
    json_object_object_add(doc, "domains", arr);
    json_object_object_add(doc, "waiting", json_object_new_int64((int64_t)plan->n_waiting));
    drv_ha_plan_destroy(&plan);
    ctl_req_ok(r, doc);
}
