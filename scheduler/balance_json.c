/* balance_json.c — the rebalancer's JSON: the load document and options in (golden scenarios, the
 * CLI's offline snapshot mode), the plan out (--json, the API reply). Text only. */
#include <math.h>
#include <string.h>

#include <json-c/json.h>

#include "json_get.h"
#include "sched_internal.h"

static int s_number(json_object *o, const char *key, const char *what, double *ret, drv_error **err)
{
    json_object *v = drv_json_get(o, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be a number", what, key);
    double x = json_object_get_double(v);
    if (!isfinite(x) || x < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be a number >= 0", what,
                             key);
    *ret = x;
    return 0;
}

int drv_sched_balance_load_from_json(json_object *obj, drv_sched_host_load **ret_hosts,
                                     size_t *ret_n_hosts, drv_sched_domain_load **ret_domains,
                                     size_t *ret_n_domains, drv_error **err)
{
    json_object *hosts = drv_json_get(obj, "hosts"), *doms = drv_json_get(obj, "domains");
    if ((hosts && !json_object_is_type(hosts, json_type_object)) ||
        (doms && !json_object_is_type(doms, json_type_object)))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "load: \"hosts\" and \"domains\" must be objects keyed by name");
    size_t nh = hosts ? (size_t)json_object_object_length(hosts) : 0;
    size_t nd = doms ? (size_t)json_object_object_length(doms) : 0;
    g_autofree drv_sched_host_load *h = g_new0(drv_sched_host_load, nh + 1);
    g_autofree drv_sched_domain_load *d = g_new0(drv_sched_domain_load, nd + 1);
    size_t i = 0;
    if (hosts) {
        json_object_object_foreach(hosts, k, v)
        {
            g_autofree char *what = g_strdup_printf("load of host %s", k);
            h[i].host = k;
            if (s_number(v, "cpu_busy", what, &h[i].cpu_busy, err) < 0)
                return -1;
            i++;
        }
    }
    i = 0;
    if (doms) {
        json_object_object_foreach(doms, k, v)
        {
            g_autofree char *what = g_strdup_printf("load of domain %s", k);
            d[i].domain = k;
            if (s_number(v, "cpu", what, &d[i].cpu, err) < 0 ||
                s_number(v, "steal", what, &d[i].steal, err) < 0)
                return -1;
            i++;
        }
    }
    *ret_hosts = g_steal_pointer(&h);
    *ret_n_hosts = nh;
    *ret_domains = g_steal_pointer(&d);
    *ret_n_domains = nd;
    return 0;
}

int drv_sched_balance_opts_from_json(json_object *obj, drv_sched_balance_opts *opts,
                                     drv_error **err)
{
    static const char *const keys[] = {"objective", "cpu_threshold", "cpu_weight", "memory_weight",
                                       "min_gain",  "max_moves",     "n_plus_one", NULL};
    if (!obj)
        return 0;
    if (drv_json_read_keys(obj, keys, "balance options", err) < 0)
        return -1;
    const char *objective = drv_json_get_str(obj, "objective", NULL);
    if (objective && drv_sched_balance_objective_from_string(objective, &opts->objective) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "balance options: unknown objective \"%s\" (cpu, memory, cpu+memory)",
                             objective);
    if (s_number(obj, "cpu_threshold", "balance options", &opts->cpu_threshold, err) < 0 ||
        s_number(obj, "cpu_weight", "balance options", &opts->cpu_weight, err) < 0 ||
        s_number(obj, "memory_weight", "balance options", &opts->memory_weight, err) < 0 ||
        s_number(obj, "min_gain", "balance options", &opts->min_gain, err) < 0)
        return -1;
    if (drv_json_get(obj, "max_moves")) {
        uint64_t m = 0;
        if (drv_json_read_u64(obj, "max_moves", DRV_SCHED_BALANCE_MAX_MOVES, "balance options", &m,
                              err) < 0)
            return -1;
        opts->max_moves = (unsigned)m;
    }
    if (drv_json_get(obj, "n_plus_one"))
        opts->n_plus_one = drv_json_get_bool(obj, "n_plus_one", true);
    return 0;
}

static json_object *s_fig(double x)
{
    return json_object_new_double(round(x * 1000.0) / 1000.0);
}

json_object *drv_sched_balance_plan_to_json(const drv_sched_balance_plan *plan)
{
    json_object *o = json_object_new_object();
    json_object_object_add(
        o, "objective",
        json_object_new_string(drv_sched_balance_objective_to_string(plan->objective)));
    json_object_object_add(o, "score_before", s_fig(plan->score_before));
    json_object_object_add(o, "score_after", s_fig(plan->score_after));
    json_object_object_add(o, "cpu_score_before", s_fig(plan->cpu_score_before));
    json_object_object_add(o, "cpu_score_after", s_fig(plan->cpu_score_after));
    json_object_object_add(o, "memory_score_before", s_fig(plan->memory_score_before));
    json_object_object_add(o, "memory_score_after", s_fig(plan->memory_score_after));
    json_object_object_add(o, "scored_hosts", json_object_new_int64((int64_t)plan->n_scored_hosts));
    json_object *moves = json_object_new_array();
    for (size_t i = 0; i < plan->n_moves; i++) {
        const drv_sched_balance_move *m = &plan->moves[i];
        json_object *j = json_object_new_object();
        json_object_object_add(j, "domain", json_object_new_string(m->domain));
        json_object_object_add(j, "source", json_object_new_string(m->source));
        json_object_object_add(j, "dest", json_object_new_string(m->dest));
        json_object_object_add(j, "demand", s_fig(m->demand));
        json_object_object_add(j, "steal", s_fig(m->steal));
        json_object_object_add(j, "vcpus", json_object_new_int64(m->vcpus));
        json_object_object_add(j, "memory_kib", json_object_new_int64((int64_t)m->memory_kib));
        json_object_object_add(j, "gain", s_fig(m->gain));
        json_object_object_add(j, "score_after", s_fig(m->score_after));
        json_object_object_add(j, "source_pressure_before", s_fig(m->source_pressure_before));
        json_object_object_add(j, "source_pressure_after", s_fig(m->source_pressure_after));
        json_object_object_add(j, "dest_pressure_before", s_fig(m->dest_pressure_before));
        json_object_object_add(j, "dest_pressure_after", s_fig(m->dest_pressure_after));
        json_object_object_add(j, "why", json_object_new_string(m->why));
        json_object_array_add(moves, j);
    }
    json_object_object_add(o, "moves", moves);
    json_object *refused = json_object_new_array();
    for (size_t i = 0; i < plan->n_refused; i++)
        json_object_array_add(refused, json_object_new_string(plan->refused[i]));
    json_object_object_add(o, "refused", refused);
    if (plan->n_plus_one_checked)
        json_object_object_add(o, "n_plus_one_now", json_object_new_boolean(plan->n_plus_one_now));
    json_object_object_add(o, "summary", json_object_new_string(plan->summary));
    return o;
}
