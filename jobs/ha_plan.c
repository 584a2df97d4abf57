/* ha_plan.c — see ha_plan.h. */
#include "ha_plan.h"

#include <glib.h>
#include <string.h>

static const char *const s_lease_names[DRV_HA_LEASE_LAST] = {"unknown", "none", "alive", "expired"};
static const char *const s_host_names[DRV_HA_HOST_LAST] = {"healthy", "suspected", "fenced",
                                                           "unfenceable"};

const char *drv_ha_lease_to_string(drv_ha_lease lease)
{
    return (unsigned)lease < DRV_HA_LEASE_LAST ? s_lease_names[lease] : NULL;
}

const char *drv_ha_host_to_string(drv_ha_host verdict)
{
    return (unsigned)verdict < DRV_HA_HOST_LAST ? s_host_names[verdict] : NULL;
}

drv_ha_host drv_ha_host_verdict(bool reachable, drv_ha_lease lease)
{
    if (lease == DRV_HA_LEASE_EXPIRED)
        return DRV_HA_HOST_FENCED;
    if (reachable)
        return DRV_HA_HOST_HEALTHY;
    if (lease == DRV_HA_LEASE_NONE)
        return DRV_HA_HOST_UNFENCEABLE;
    return DRV_HA_HOST_SUSPECTED;
}

static int s_cmp(gconstpointer a, gconstpointer b)
{
    const drv_ha_candidate *x = *(const drv_ha_candidate *const *)a;
    const drv_ha_candidate *y = *(const drv_ha_candidate *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->req.name, y->req.name);
}

void drv_ha_plan_destroy(drv_ha_plan **plan_p)
{
    if (plan_p == NULL || *plan_p == NULL)
        return;
    drv_ha_plan *p = *plan_p;
    for (size_t i = 0; i < p->n; i++) {
        g_free(p->decisions[i].domain);
        g_free(p->decisions[i].host);
        g_free(p->decisions[i].reason);
    }
    g_free(p->decisions);
    g_free(p);
    *plan_p = NULL;
}

int drv_ha_plan_restarts(const drv_sched_cluster *cluster, const drv_ha_candidate *cands,
                         size_t n_cands, drv_ha_plan **ret, drv_error **err)
{
    GPtrArray *order = g_ptr_array_sized_new((guint)n_cands);
    for (size_t i = 0; i < n_cands; i++) {
        if (cands[i].req.name == NULL || cands[i].req.name[0] == '\0') {
            g_ptr_array_unref(order);
            return drv_error_set(err, DRV_ERR_INVALID, 0, "HA candidate %zu has no name", i);
        }
        g_ptr_array_add(order, (gpointer)&cands[i]);
    }
    g_ptr_array_sort(order, s_cmp);
    drv_sched_cluster *work = drv_sched_cluster_copy(cluster);
    drv_ha_plan *plan = g_new0(drv_ha_plan, 1);
    plan->decisions = g_new0(drv_ha_decision, n_cands ? n_cands : 1);
    int rc = 0;
    for (guint i = 0; i < order->len; i++) {
        const drv_ha_candidate *c = g_ptr_array_index(order, i);
        drv_ha_decision *d = &plan->decisions[plan->n++];
        d->domain = g_strdup(c->req.name);
        if (c->restart_limit > 0 && c->restarts >= c->restart_limit) {
            d->reason =
                g_strdup_printf("restart limit reached (%u of %u)", c->restarts, c->restart_limit);
            plan->n_waiting++;
            continue;
        }
        drv_sched_result *res = NULL;
        if (drv_sched_place(work, &c->req, &res, err) < 0) {
            drv_error_prefix(err, "HA restart of '%s'", c->req.name);
            rc = -1;
            break;
        }
        if (!res->fits) {
            d->reason = drv_sched_explain(res);
            plan->n_waiting++;
        } else {
            d->host = g_strdup(res->host);
            /* book the room so the next (lower priority) candidate sees it taken */
            if (drv_sched_cluster_has_domain(work, c->req.name)) {
                drv_sched_cluster_move_domain(work, c->req.name, res->host, NULL);
                drv_sched_cluster_set_domain_running(work, c->req.name, true, NULL);
            } else {
                drv_sched_domain_spec ds = {
                    .name = c->req.name,
                    .host = res->host,
                    .vcpus = c->req.vcpus,
                    .memory_kib = c->req.memory_kib,
                    .features = c->req.features,
                    .affinity_group = c->req.affinity_group,
                    .anti_affinity_group = c->req.anti_affinity_group,
                    .running = true,
                };
                drv_sched_cluster_add_domain(work, &ds, NULL);
            }
        }
        drv_sched_result_destroy(&res);
    }
    drv_sched_cluster_destroy(&work);
    g_ptr_array_unref(order);
    if (rc < 0) {
        drv_ha_plan_destroy(&plan);
        return -1;
    }
    *ret = plan;
    return 0;
}

int drv_ha_plan_host_loss(const drv_sched_cluster *cluster, const char *host_id,
                          const drv_ha_candidate *cands, size_t n_cands, drv_ha_plan **ret,
                          drv_error **err)
{
    drv_sched_cluster *lost = drv_sched_cluster_copy(cluster);
    int rc = drv_sched_cluster_set_host_reachable(lost, host_id, false, err);
    if (rc == 0)
        rc = drv_ha_plan_restarts(lost, cands, n_cands, ret, err);
    drv_sched_cluster_destroy(&lost);
    return rc;
}
