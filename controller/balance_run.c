/* balance_run.c — see balance_run.h. */
#include "balance_run.h"

#include "drain.h"
#include "job_drain.h"
#include "log.h"
#include "placement.h"
#include "stats.h"

int ctl_balance_plan(ctl *c, const drv_sched_balance_opts *opts, drv_sched_balance_plan **ret,
                     size_t *ret_n_hosts, size_t *ret_n_domains, drv_error **err)
{
    drv_sched_balance_opts o = *opts;
    GPtrArray *skip = g_ptr_array_new();
    for (size_t i = 0; opts->skip_domains != NULL && opts->skip_domains[i] != NULL; i++)
        g_ptr_array_add(skip, (gpointer)opts->skip_domains[i]);
    GPtrArray *doms = ctl_model_domains(c->model);
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->busy != NULL)
            g_ptr_array_add(skip, d->name);
    }
    g_ptr_array_add(skip, NULL);
    o.skip_domains = (const char *const *)skip->pdata;
    drv_sched_host_load *hl = NULL;
    drv_sched_domain_load *dl = NULL;
    size_t nh = 0, nd = 0;
    ctl_stats_loads(c->stats, ctl_now_ms(), &hl, &nh, &dl, &nd);
    drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
    int rc = drv_sched_balance_plan_compute(cl, hl, nh, dl, nd, &o, ret, err);
    drv_sched_cluster_destroy(&cl);
    g_free(hl);
    g_free(dl);
    g_ptr_array_unref(skip);
    g_ptr_array_unref(doms);
    if (ret_n_hosts != NULL)
        *ret_n_hosts = nh;
    if (ret_n_domains != NULL)
        *ret_n_domains = nd;
    return rc;
}

int ctl_balance_start(ctl *c, const drv_sched_balance_plan *plan, const drv_job_drain_opts *opts,
                      char **ret_id, drv_error **err)
{
    if (!ctl_drain_ready(c))
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "the controller is still taking jobs over from etcd; try again");
    const drv_job *busy = ctl_drain_in_flight();
    if (busy != NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "job '%s' (%s) is running; one drain, restore or balance at a time",
                             busy->id, drv_job_kind_to_string(busy->kind));
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *id = g_strdup_printf("balance-%.8s", uuid);
    drv_job *job = NULL;
    if (drv_job_balance_new(id, plan, opts, c->instance, (uint64_t)ctl_wall_ms(), &job, err) < 0)
        return -1;
    drv_info("balance '%s': %s", id, plan->summary ? plan->summary : "");
    if (ctl_drain_start(c, job, err) < 0)
        return -1;
    *ret_id = g_steal_pointer(&id);
    return 0;
}
