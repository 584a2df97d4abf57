/* drain_api.c — the client verbs of host maintenance (docs/maintenance.md): host.maintenance (plan
 * with the scheduler; a dry run answers the plan; a refusal names every domain that cannot move
 * before anything moves; else a drain job) and host.activate (the host back to active, or with
 * `restore` a restore job moving the last drain's domains back). */
#include "drain_run.h"

#include "domxml.h"
#include "drain_order.h"
#include "events.h"
#include "job_drain.h"
#include "log.h"
#include "store_async.h"
#include "migrate_private.h"
#include "placement.h"
#include "view.h"
#include "scheduler.h"

#include <string.h>

/* Parses an optional cap (1..1000); false (r answered) when it is not such a number. */
static bool s_opt_cap(ctl_req *r, const char *key, unsigned *ret)
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

static bool s_has(char *const *v, const char *s)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* The scheduler's view for planning host_id's drain: the placement snapshot, with the drained
 * host's domains re-added carrying what their XML requires (arch, the storage pools their disks
 * are in — a local disk in none, which no destination has —, the libvirt networks their
 * interfaces use, host labels) and the CPU features the running guest uses (a host-model guest:
 * its host's flags), so the plan honours what the migration checks will demand. */
drv_sched_cluster *ctl_drain_plan_cluster(ctl *c, const ctl_host *h)
{
    drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
    GPtrArray *doms = ctl_model_domains_on(c->model, h->id);
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->xml == NULL)
            continue;
        drv_domxml *dx = NULL;
        drv_error *err = NULL;
        if (drv_domxml_parse(d->xml, strlen(d->xml), &dx, &err) < 0) {
            drv_debug("domain '%s': stored XML: %s", d->name, err->message);
            drv_error_destroy(&err);
            continue;
        }
        GPtrArray *feats = g_ptr_array_new();
        for (size_t k = 0; d->cpu_features != NULL && d->cpu_features[k] != NULL; k++)
            g_ptr_array_add(feats, d->cpu_features[k]);
        if (g_strcmp0(dx->cpu_mode, "host-model") == 0)
            for (size_t k = 0; h->facts.cpu_features && h->facts.cpu_features[k]; k++)
                if (!s_has(d->cpu_features, h->facts.cpu_features[k]))
                    g_ptr_array_add(feats, h->facts.cpu_features[k]);
        g_ptr_array_add(feats, NULL);
        /* anything but known-off may run (unknown, in shutdown, pmsuspended…): plan room for it */
        bool running = d->desired != CTL_DESIRED_SHUTOFF || !ctl_model_domain_is_off(c->model, d);
        g_auto(GStrv) pools = ctl_mig_disk_pools(dx, h);
        drv_sched_domain_spec ds = {
            .name = d->name,
            .host = d->host,
            .vcpus = d->vcpus,
            .memory_kib = d->memory_kib,
            .arch = dx->arch,
            .features = (const char *const *)feats->pdata,
            .pools = (const char *const *)pools,
            .networks = (const char *const *)dx->networks,
            .labels = (const char *const *)dx->labels,
            .affinity_group = d->affinity_group,
            .anti_affinity_group = d->anti_affinity_group,
            .running = running,
        };
        if (drv_sched_cluster_remove_domain(cl, d->name, &err) < 0 ||
            drv_sched_cluster_add_domain(cl, &ds, &err) < 0) {
            drv_warn("drain plan: domain '%s': %s", d->name, err->message);
            drv_error_destroy(&err);
        }
        g_ptr_array_unref(feats);
        drv_domxml_destroy(&dx);
    }
    g_ptr_array_unref(doms);
    return cl;
}

/* Number of domains placed on h. */
static guint s_n_placed(ctl *c, const ctl_host *h)
{
    GPtrArray *doms = ctl_model_domains_on(c->model, h->id);
    guint n = doms->len;
    g_ptr_array_unref(doms);
    return n;
}

static char *s_new_id(const char *kind)
{
    g_autofree char *uuid = g_uuid_string_random();
    return g_strdup_printf("%s-%.8s", kind, uuid);
}

static bool s_ready(ctl_req *r)
{
    if (ctl_drain_ready(r->c))
        return true;
    ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                  "the controller is still taking jobs over from etcd; try again");
    return false;
}

static bool s_not_busy(ctl_req *r, const ctl_host *h)
{
    const drv_job *busy = ctl_drain_active_for_host(r->c, h->id);
    if (busy == NULL)
        return true;
    ctl_req_failf(r, DRV_ERR_CONFLICT,
                  "host '%s': %s job '%s' is in progress (watch it with `drover job watch %s` or "
                  "cancel it)",
                  h->id, drv_job_kind_to_string(busy->kind), busy->id, busy->id);
    return false;
}

/* A drain needs the host's agent: refused up front when it is unreachable. (A connected host
 * whose libvirt is disconnected is drained: the job waits, bounded, for its inventory.) */
static bool s_reachable(ctl_req *r, const ctl_host *h)
{
    const char *why = ctl_host_unknown_reason(h);
    if (why == NULL || strcmp(why, CTL_UNKNOWN_UNREACHABLE) != 0)
        return true;
    ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                  "host '%s' is unreachable: drover cannot tell what runs there nor move anything "
                  "off it; maintenance refused, nothing moved (bring its agent back first)",
                  h->id);
    return false;
}

/* The stored job read back (not driven here: it ended at once, or another took it). */
static void s_job_read_back(ctl *c, drv_job *job, const drv_error *err, void *data)
{
    ctl_req *r = data;
    const drv_job *live = ctl_drain_live(c, r->name);
    if (live != NULL)
        ctl_req_ok(r, drv_job_to_api_json(live, (uint64_t)ctl_wall_ms(c)));
    else if (err != NULL)
        ctl_req_failf(r, err->kind, "job '%s': %s", r->name, err->message);
    else if (job == NULL)
        ctl_req_failf(r, DRV_ERR_INTERNAL, "job '%s' vanished", r->name);
    else
        ctl_req_ok(r, drv_job_to_api_json(job, (uint64_t)ctl_wall_ms(c)));
}

/* Answers r with job id: as this process drives it, else as stored (read on the etcd worker,
 * after the job's own write). */
static void s_answer_job(ctl_req *r, const char *id)
{
    const drv_job *live = ctl_drain_live(r->c, id);
    if (live != NULL) {
        ctl_req_ok(r, drv_job_to_api_json(live, (uint64_t)ctl_wall_ms(r->c)));
        return;
    }
    drv_error *err = NULL;
    g_free(r->name);
    r->name = g_strdup(id);
    if (ctl_job_store_get_async(r->c, id, s_job_read_back, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

static void s_restore_listed(ctl *c, GPtrArray *jobs, const drv_error *lerr, void *data);

/* The plan's prediction (issue 15): each running domain's migration predicted (ctl_drain_predict),
 * ordered longest first across the slots (jobs/drain_order.h) for the predicted drain time. The
 * drain executor launches in that priority once every move is predicted (job_drain.h). */
static json_object *s_plan_prediction(ctl *c, const drv_sched_drain_plan *plan,
                                      const drv_job_drain_opts *opts)
{
    (void)c;
    GArray *moves = g_array_new(FALSE, TRUE, sizeof(drv_drain_move));
    GPtrArray *preds = g_ptr_array_new_with_free_func(g_free);
    bool all_known = true;
    for (size_t i = 0; i < plan->n_steps; i++) {
        const drv_sched_drain_step *st = &plan->steps[i];
        if (st->dest == NULL || !st->running)
            continue;
        drv_predict *p = g_new(drv_predict, 1);
        ctl_drain_predict(c, st->domain, plan->host, st->dest, st->memory_kib, p);
        if (p->verdict == DRV_PREDICT_UNKNOWN)
            all_known = false;
        drv_drain_move m = {.domain = st->domain,
                            .source = plan->host,
                            .destination = st->dest,
                            .predicted_ms = p->time_ms,
                            .memory_kib = st->memory_kib};
        g_array_append_val(moves, m);
        g_ptr_array_add(preds, p);
    }
    drv_drain_caps caps = {
        .slots = opts->max_parallel ? opts->max_parallel : DRV_JOB_DRAIN_MAX_PARALLEL_DEFAULT,
        .per_source = opts->per_source ? opts->per_source : DRV_JOB_DRAIN_PER_SOURCE_DEFAULT,
        .per_dest = opts->per_dest ? opts->per_dest : DRV_JOB_DRAIN_PER_DEST_DEFAULT};
    drv_drain_slot *slots = g_new0(drv_drain_slot, moves->len ? moves->len : 1);
    uint64_t total = 0;
    size_t n = drv_drain_order((const drv_drain_move *)moves->data, moves->len, &caps, NULL, 0,
                               slots, &total);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "drain_ms", all_known ? json_object_new_int64((int64_t)total) : NULL);
    json_object *arr = json_object_new_array();
    for (size_t k = 0; k < n; k++) {
        const drv_drain_move *m = &g_array_index(moves, drv_drain_move, slots[k].index);
        const drv_predict *p = g_ptr_array_index(preds, slots[k].index);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "domain", json_object_new_string(m->domain));
        json_object_object_add(e, "destination", json_object_new_string(m->destination));
        json_object_object_add(e, "verdict",
                               json_object_new_string(drv_predict_verdict_to_string(p->verdict)));
        json_object_object_add(e, "time_ms", json_object_new_int64((int64_t)p->time_ms));
        json_object_object_add(e, "start_ms", json_object_new_int64((int64_t)slots[k].start_ms));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "moves", arr);
    g_free(slots);
    g_ptr_array_unref(preds);
    g_array_unref(moves);
    return o;
}

void ctl_api_host_maintenance(ctl_req *r)
{
    ctl *c = r->c;
    ctl_host *h = ctl_model_host(c->model, r->args[0]);
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", r->args[0]);
        return;
    }
    drv_job_drain_opts opts;
    drv_job_drain_opts_init(&opts);
    if (!s_opt_cap(r, "max_parallel", &opts.max_parallel) ||
        !s_opt_cap(r, "per_source", &opts.per_source) || !s_opt_cap(r, "per_dest", &opts.per_dest))
        return;
    const char *how = ctl_req_opt(r, "on_unmovable");
    if (how != NULL && how[0] != '\0' &&
        drv_job_unmovable_from_string(how, &opts.on_unmovable) < 0) {
        ctl_req_usage(r, "%s: option on_unmovable '%s' is not refuse, leave or shutdown", r->verb,
                      how);
        return;
    }
    opts.n_plus_one = ctl_req_flag(r, "n_plus_one");
    const char *st = ctl_req_opt(r, "shutdown_timeout");
    guint64 st_s = 0;
    if (st != NULL && st[0] != '\0') {
        if (!g_ascii_string_to_unsigned(st, 10, 1, 86400, &st_s, NULL)) {
            ctl_req_usage(r,
                          "%s: option shutdown_timeout '%s' is not a number of seconds from 1 "
                          "to 86400",
                          r->verb, st);
            return;
        }
        opts.shutdown_timeout_s = (unsigned)st_s;
    }
    opts.force = ctl_req_flag(r, "force");
    if ((st_s != 0 || opts.force) && opts.on_unmovable != DRV_JOB_UNMOVABLE_SHUTDOWN) {
        ctl_req_usage(r,
                      "%s: option shutdown_timeout and option force apply only with option "
                      "on_unmovable shutdown",
                      r->verb);
        return;
    }
    bool dry_run = ctl_req_flag(r, "dry_run");
    if (!dry_run && (!s_ready(r) || !s_not_busy(r, h) || !s_reachable(r, h)))
        return;

    drv_sched_cluster *cl = ctl_drain_plan_cluster(c, h);
    drv_sched_drain_opts sopts = {.n_plus_one = opts.n_plus_one};
    drv_sched_drain_plan *plan = NULL;
    drv_error *err = NULL;
    int rc = 0;
    if (s_n_placed(c, h) > 0) {
        rc = drv_sched_drain_plan_compute(cl, h->id, &sopts, &plan, &err);
    } else { /* nothing to move (the planner is not asked about an empty host) */
        plan = g_new0(drv_sched_drain_plan, 1);
        plan->host = g_strdup(h->id);
    }
    drv_sched_cluster_destroy(&cl);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    g_autofree char *id = s_new_id("drain");
    drv_job *job = NULL;
    rc = drv_job_drain_new(id, plan, &opts, c->instance, (uint64_t)ctl_wall_ms(c), &job, &err);
    if (dry_run) {
        /* the plan, and what the real run would do with it */
        json_object *doc = drv_sched_drain_plan_to_json(plan);
        json_object_object_add(doc, "dry_run", json_object_new_boolean(true));
        json_object_object_add(
            doc, "on_unmovable",
            json_object_new_string(drv_job_unmovable_to_string(opts.on_unmovable)));
        json_object_object_add(doc, "refused",
                               rc < 0 ? json_object_new_string(err->message) : NULL);
        json_object_object_add(doc, "prediction", s_plan_prediction(c, plan, &opts));
        drv_error_destroy(&err);
        drv_job_destroy(&job);
        drv_sched_drain_plan_destroy(&plan);
        ctl_req_ok(r, doc);
        return;
    }
    drv_sched_drain_plan_destroy(&plan);
    if (rc < 0) {
        drv_error_prefix(&err, "host '%s': maintenance refused, nothing moved", h->id);
        ctl_req_fail(r, err);
        return;
    }
    if (ctl_drain_start(c, job, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    s_answer_job(r, id);
}

/* drv_job_locate_fn: where the model places a domain now. */
static const char *s_where(void *ctx, const char *domain)
{
    ctl *c = ctx;
    const ctl_domain *d = ctl_model_domain(c->model, domain);
    return d ? d->host : NULL;
}

static void s_activated(ctl *c, const drv_error *err, bool attempted, void *data)
{
    ctl_req *r = data;
    ctl_host *h = ctl_model_host(c->model, r->host);
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "host '%s': the active state %s: %s", r->host,
                      attempted ? "may not be stored" : "was not stored", err->message);
        return;
    }
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' was removed meanwhile", r->host);
        return;
    }
    drv_info("host '%s' is now active", h->id);
    ctl_events_host(c, h, "state-changed");
    ctl_req_ok(r, ctl_view_host_api(c->model, h, false));
}

void ctl_api_host_activate(ctl_req *r)
{
    ctl *c = r->c;
    ctl_host *h = ctl_model_host(c->model, r->args[0]);
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", r->args[0]);
        return;
    }
    if (!s_ready(r) || !s_not_busy(r, h))
        return;
    drv_error *err = NULL;
    if (!ctl_req_flag(r, "restore")) {
        if (g_strcmp0(h->admin_state, "active") != 0) {
            g_free(h->admin_state);
            h->admin_state = g_strdup("active");
            g_free(r->host);
            r->host = g_strdup(h->id);
            if (ctl_async_put_host_then(c, h, s_activated, r, NULL, &err) < 0)
                ctl_req_fail(r, err);
            return;
        }
        ctl_req_ok(r, ctl_view_host_api(c->model, h, false));
        return;
    }
    /* the newest finished drain of this host, read on the etcd worker */
    g_free(r->host);
    r->host = g_strdup(h->id);
    if (ctl_job_store_list_async(c, s_restore_listed, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

static void s_restore_listed(ctl *c, GPtrArray *jobs, const drv_error *lerr, void *data)
{
    ctl_req *r = data;
    drv_error *err = NULL;
    if (lerr != NULL) {
        ctl_req_failf(r, lerr->kind, "host '%s': reading its drains: %s", r->host, lerr->message);
        return;
    }
    ctl_host *h = ctl_model_host(c->model, r->host);
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' was removed meanwhile", r->host);
        return;
    }
    if (!s_ready(r) || !s_not_busy(r, h))
        return;
    const drv_job *drain = NULL;
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *j = g_ptr_array_index(jobs, i);
        if (j->kind == DRV_JOB_KIND_DRAIN && g_strcmp0(j->drain.host, h->id) == 0 &&
            drv_job_state_is_terminal(j->state))
            drain = j; /* oldest first: the last one wins */
    }
    if (drain == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s': no finished drain to restore", h->id);
        return;
    }
    g_autofree char *id = s_new_id("restore");
    drv_job *job = NULL;
    int rc = drv_job_restore_new(id, drain, s_where, c, c->instance, (uint64_t)ctl_wall_ms(c), &job,
                                 &err);
    if (rc < 0 || ctl_drain_start(c, job, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    s_answer_job(r, id);
}
