/* balance_run.c — see balance_run.h. */
#include "balance_run.h"

#include "balance_policy.h"
#include "drain_run.h"
#include "job_drain.h"
#include "log.h"
#include "placement.h"
#include "stats_window.h"

#include <string.h>

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
    ctl_stats_loads(c->stats, ctl_now_ms(c), &hl, &nh, &dl, &nd);
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
    const drv_job *busy = ctl_drain_in_flight(c);
    if (busy != NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "job '%s' (%s) is running; one drain, restore or balance at a time",
                             busy->id, drv_job_kind_to_string(busy->kind));
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *id = g_strdup_printf("balance-%.8s", uuid);
    drv_job *job = NULL;
    if (drv_job_balance_new(id, plan, opts, c->instance, (uint64_t)ctl_wall_ms(c), &job, err) < 0)
        return -1;
    drv_info("balance '%s': %s", id, plan->summary ? plan->summary : "");
    if (ctl_drain_start(c, job, err) < 0)
        return -1;
    *ret_id = g_steal_pointer(&id);
    return 0;
}

/* ------------------------------------------------------------------ the continuous policy */

static struct {
    int64_t last_run_ms; /* monotonic; 0 = never */
    GArray *move_ms;     /* uint64_t, monotonic: when the policy's moves were started */
    bool was_leading;
} s_pol;

int64_t ctl_balance_tick(ctl *c, int64_t now_ms)
{
    drv_balance_policy p;
    drv_balance_policy_init(&p);
    p.interval_s = (unsigned)c->cfg->balance_interval_s;
    p.min_gain = c->cfg->balance_min_gain;
    p.min_score = c->cfg->balance_min_score;
    p.max_moves_per_hour = (unsigned)c->cfg->balance_max_moves_per_hour;
    if (p.interval_s == 0)
        return 60000;
    if (s_pol.move_ms == NULL)
        s_pol.move_ms = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    bool leading = ctl_is_leader(c) && c->loaded && ctl_drain_ready(c);
    if (leading != s_pol.was_leading) { /* a new term: the interval starts now, budget from 0 */
        s_pol.was_leading = leading;
        s_pol.last_run_ms = leading ? now_ms : 0;
        g_array_set_size(s_pol.move_ms, 0);
    }
    uint64_t now = (uint64_t)now_ms;
    while (s_pol.move_ms->len > 0 &&
           g_array_index(s_pol.move_ms, uint64_t, 0) + DRV_BALANCE_HOUR_MS <= now)
        g_array_remove_index(s_pol.move_ms, 0);
    unsigned in_hour = drv_balance_moves_last_hour((const uint64_t *)(void *)s_pol.move_ms->data,
                                                   s_pol.move_ms->len, now);
    const char *why = NULL;
    if (drv_balance_policy_due(&p, leading, ctl_drain_in_flight(c) != NULL,
                               (uint64_t)s_pol.last_run_ms, in_hour, now, &why) != DRV_BALANCE_PLAN)
        return 1000;
    s_pol.last_run_ms = now_ms;
    drv_sched_balance_opts opts;
    drv_sched_balance_opts_init(&opts);
    drv_sched_balance_plan *plan = NULL;
    drv_error *err = NULL;
    if (ctl_balance_plan(c, &opts, &plan, NULL, NULL, &err) < 0) {
        drv_warn("continuous balance: %s", err->message);
        drv_error_destroy(&err);
        return 1000;
    }
    size_t k = 0;
    g_autofree char *skip = NULL;
    if (drv_balance_policy_decide(&p, plan, in_hour, &k, &skip) != DRV_BALANCE_START) {
        drv_info("continuous balance: nothing started: %s", skip);
        drv_sched_balance_plan_destroy(&plan);
        return 1000;
    }
    size_t n_all = plan->n_moves;
    plan->n_moves = k; /* the moves that gain most, within the budget */
    drv_job_drain_opts jopts;
    drv_job_drain_opts_init(&jopts);
    jopts.n_plus_one = opts.n_plus_one;
    g_autofree char *id = NULL;
    int rc = ctl_balance_start(c, plan, &jopts, &id, &err);
    plan->n_moves = n_all;
    drv_sched_balance_plan_destroy(&plan);
    if (rc < 0) {
        drv_warn("continuous balance: not started: %s", err->message);
        drv_error_destroy(&err);
        return 1000;
    }
    for (size_t i = 0; i < k; i++)
        g_array_append_val(s_pol.move_ms, now);
    drv_info("continuous balance: started job '%s' (%zu of %zu moves; %u moves in the last hour "
             "before it)",
             id, k, n_all, in_hour);
    return 1000;
}

void ctl_balance_shutdown(void)
{
    if (s_pol.move_ms != NULL)
        g_array_unref(s_pol.move_ms);
    memset(&s_pol, 0, sizeof(s_pol));
}
