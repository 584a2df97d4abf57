/* api_balance.c — `cluster.balance`: the rebalancer's plan (scheduler/balance.h) on the cached
 * snapshot and the stats window's loads, with its score before and after
 * (docs/observability.md); without dry_run the plan is started as a balance job (balance_run.h)
 * and the answer is the job, with the plan under "plan". */
#include "api_private.h"

#include "balance_run.h"
#include "drain_run.h"

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

/* The drain caps of a balance job from the request; false (answered) on a bad value. */
static bool s_cap_opt(ctl_req *r, const char *key, unsigned *ret)
{
    const char *v = ctl_req_opt(r, key);
    guint64 n = 0;
    if (v == NULL || v[0] == '\0')
        return true;
    if (!g_ascii_string_to_unsigned(v, 10, 1, 1000, &n, NULL)) {
        ctl_req_usage(r, "%s: option %s '%s' is not a whole number from 1 to 1000", r->verb, key,
                      v);
        return false;
    }
    *ret = (unsigned)n;
    return true;
}

void ctl_api_cluster_balance(ctl_req *r)
{
    ctl *c = r->c;
    bool dry_run = ctl_req_flag(r, "dry_run");
    drv_job_drain_opts jopts;
    drv_job_drain_opts_init(&jopts);
    if (!s_cap_opt(r, "max_parallel", &jopts.max_parallel) ||
        !s_cap_opt(r, "per_source", &jopts.per_source) ||
        !s_cap_opt(r, "per_dest", &jopts.per_dest))
        return;
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
    int rc = drv_sched_balance_opts_from_json(oj, &opts, &err);
    json_object_put(oj);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    jopts.n_plus_one = opts.n_plus_one;
    drv_sched_balance_plan *plan = NULL;
    size_t nh = 0, nd = 0;
    if (ctl_balance_plan(c, &opts, &plan, &nh, &nd, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = drv_sched_balance_plan_to_json(plan);
    json_object_object_add(doc, "dry_run", json_object_new_boolean(dry_run));
    json_object_object_add(doc, "hosts_with_load", json_object_new_int64((int64_t)nh));
    json_object_object_add(doc, "domains_with_load", json_object_new_int64((int64_t)nd));
    if (dry_run || plan->n_moves == 0) { /* nothing to run: the plan says why */
        drv_sched_balance_plan_destroy(&plan);
        ctl_req_ok(r, doc);
        return;
    }
    g_autofree char *id = NULL;
    rc = ctl_balance_start(c, plan, &jopts, &id, &err);
    drv_sched_balance_plan_destroy(&plan);
    if (rc < 0) {
        json_object_put(doc);
        drv_error_prefix(&err, "balance refused, nothing moved");
        ctl_req_fail(r, err);
        return;
    }
    const drv_job *live = ctl_drain_live(c, id);
    if (live == NULL) { /* ended at once: the plan, naming the job */
        json_object_object_add(doc, "job", json_object_new_string(id));
        ctl_req_ok(r, doc);
        return;
    }
    json_object *answer = drv_job_to_api_json(live, (uint64_t)ctl_wall_ms(c));
    json_object_object_add(answer, "plan", doc);
    ctl_req_ok(r, answer);
}
