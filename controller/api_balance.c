/* api_balance.c — `cluster.balance`: the rebalancer's plan (scheduler/balance.h) on the cached
 * snapshot and the stats window's loads, with its score before and after
 * (docs/observability.md). Only the dry run exists: running the plan as a job is refused. */
#include "api_private.h"

#include "placement.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>

/* Copies a numeric option into the options document; false (and the request answered) when the
 * value is not a number. */
static bool s_num_opt(ctl_req *r, json_object *o, const char *key, bool integer)
{
    const char *v = ctl_req_opt(r, key);
    if (v == NULL)
        return true;
    char *end = NULL;
    errno = 0;
    double d = g_ascii_strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || (integer && (d < 0 || d != (double)(int64_t)d))) {
        ctl_req_failf(r, DRV_ERR_INVALID, "option %s: '%s' is not %s", key, v,
                      integer ? "a non-negative integer" : "a number");
        return false;
    }
    json_object_object_add(o, key,
                           integer ? json_object_new_int64((int64_t)d) : json_object_new_double(d));
    return true;
}

void ctl_api_cluster_balance(ctl_req *r)
{
    ctl *c = r->c;
    if (!ctl_req_flag(r, "dry_run")) {
        ctl_req_failf(r, DRV_ERR_INVALID,
                      "running the balance plan is not implemented yet; see the plan with "
                      "option dry_run");
        return;
    }
    json_object *oj = json_object_new_object();
    if (ctl_req_opt(r, "objective") != NULL)
        json_object_object_add(oj, "objective",
                               json_object_new_string(ctl_req_opt(r, "objective")));
    if (ctl_req_flag(r, "no_n_plus_one"))
        json_object_object_add(oj, "n_plus_one", json_object_new_boolean(false));
    if (!s_num_opt(r, oj, "max_moves", true) || !s_num_opt(r, oj, "cpu_threshold", false) ||
        !s_num_opt(r, oj, "min_gain", false)) {
        json_object_put(oj);
        return;
    }
    drv_sched_balance_opts opts;
    drv_sched_balance_opts_init(&opts);
    drv_error *err = NULL;
    if (drv_sched_balance_opts_from_json(oj, &opts, &err) < 0) {
        json_object_put(oj);
        ctl_req_fail(r, err);
        return;
    }
    /* domains an operation is moving or changing stay where they are */
    GPtrArray *skip = g_ptr_array_new();
    GPtrArray *doms = ctl_model_domains(c->model);
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->busy != NULL)
            g_ptr_array_add(skip, d->name);
    }
    g_ptr_array_add(skip, NULL);
    opts.skip_domains = (const char *const *)skip->pdata;

    drv_sched_host_load *hl = NULL;
    drv_sched_domain_load *dl = NULL;
    size_t nh = 0, nd = 0;
    ctl_stats_loads(c->stats, ctl_now_ms(c), &hl, &nh, &dl, &nd);
    drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
    drv_sched_balance_plan *plan = NULL;
    int rc = drv_sched_balance_plan_compute(cl, hl, nh, dl, nd, &opts, &plan, &err);
    drv_sched_cluster_destroy(&cl);
    g_free(hl);
    g_free(dl);
    g_ptr_array_unref(skip);
    g_ptr_array_unref(doms);
    json_object_put(oj);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = drv_sched_balance_plan_to_json(plan);
    drv_sched_balance_plan_free(&plan);
    json_object_object_add(doc, "dry_run", json_object_new_boolean(true));
    json_object_object_add(doc, "hosts_with_load", json_object_new_int64((int64_t)nh));
    json_object_object_add(doc, "domains_with_load", json_object_new_int64((int64_t)nd));
    ctl_req_ok(r, doc);
}
