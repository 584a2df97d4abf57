/* migrate_api.c — the client verbs of live migration and jobs (docs/api.md, docs/migration.md):
 * domain.migrate (the checks, then a job; answered at once with the job), job.list, job.show,
 * job.cancel. */
#include "migrate_private.h"

#include "ctl_io.h"
#include "drain_run.h"
#include "lifecycle_run.h"

#include "log.h"

#include <string.h>

/* Parses an optional unsigned option; false (r answered) when it is not a number. */
static bool s_opt_u64(ctl_req *r, const char *key, uint64_t max, uint64_t *ret)
{
    const char *v = ctl_req_opt(r, key);
    *ret = 0;
    if (v == NULL || v[0] == '\0')
        return true;
    if (!g_ascii_string_to_unsigned(v, 10, 0, max, ret, NULL)) {
        ctl_req_usage(r, "%s: option %s '%s' is not a whole number up to %llu", r->verb, key, v,
                      (unsigned long long)max);
        return false;
    }
    return true;
}

static void s_job_read(ctl_req *r);

/* A dry run (issue 15): the checks passed; the destination and the prediction for the policy
 * asked, with the pair's link estimate and the dirty rate the domain's last migration measured
 * (none known: predicted as idle, and said so). Nothing is booked, nothing moves. */
static json_object *s_dry_run(const ctl *c, const ctl_domain *d, const ctl_mig_plan *plan,
                              const drv_job_policy *policy)
{
    const drv_link_est *link = ctl_migrate_link(c, d->host, plan->destination);
    uint64_t dirty = 0;
    bool dirty_known = ctl_migrate_last_dirty_rate(c, d->name, &dirty);
    drv_predict_input in = {
        .memory_bytes = plan->memory_kib * 1024,
        .dirty_bps = dirty,
        .bandwidth_bps = link ? link->bandwidth_bps : 0,
        .fixed_ms = link ? link->fixed_ms : 0,
    };
    drv_predict_policy pol = {
        .max_downtime_ms = policy->max_downtime_ms,
        .bandwidth_bps = policy->bandwidth_mibs * 1024ULL * 1024ULL,
        .allow_auto_converge = policy->auto_converge,
        .allow_postcopy = policy->postcopy,
        .timeout_s = policy->timeout_s,
    };
    drv_predict p;
    drv_predict_choose(&in, &pol, &p);
    bool ac = false, pc = false;
    drv_predict_apply(p.verdict, policy->auto_converge, policy->postcopy, &ac, &pc);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "dry_run", json_object_new_boolean(true));
    json_object_object_add(doc, "domain", json_object_new_string(d->name));
    json_object_object_add(doc, "source", json_object_new_string(d->host));
    json_object_object_add(doc, "destination", json_object_new_string(plan->destination));
    json_object_object_add(doc, "memory_bytes", json_object_new_int64((int64_t)in.memory_bytes));
    json_object_object_add(doc, "dirty_rate_bps", json_object_new_int64((int64_t)dirty));
    json_object_object_add(doc, "dirty_rate_known", json_object_new_boolean(dirty_known));
    json_object_object_add(doc, "link", link ? drv_link_to_json(link) : NULL);
    json_object *pr = json_object_new_object();
    json_object_object_add(pr, "verdict",
                           json_object_new_string(drv_predict_verdict_to_string(p.verdict)));
    json_object_object_add(pr, "throttle_pct", json_object_new_int64(p.throttle_pct));
    json_object_object_add(pr, "passes", json_object_new_int64(p.passes));
    json_object_object_add(pr, "time_ms", json_object_new_int64((int64_t)p.time_ms));
    json_object_object_add(pr, "downtime_ms", json_object_new_int64((int64_t)p.downtime_ms));
    json_object_object_add(pr, "bytes", json_object_new_int64((int64_t)p.bytes));
    json_object_object_add(pr, "bandwidth_bps", json_object_new_int64((int64_t)p.bandwidth_bps));
    json_object_object_add(pr, "reason", json_object_new_string(p.reason));
    json_object_object_add(pr, "applied_auto_converge", json_object_new_boolean(ac));
    json_object_object_add(pr, "applied_postcopy", json_object_new_boolean(pc));
    json_object_object_add(doc, "prediction", pr);
    return doc;
}

void ctl_api_domain_migrate(ctl_req *r)
{
    ctl *c = r->c;
    ctl_domain *d = ctl_model_domain(c->model, r->args[0]);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' not found", r->args[0]);
        return;
    }
    if (d->busy != NULL) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s': a %s is already in progress; try again",
                      d->name, d->busy);
        return;
    }
    drv_job_policy policy = {0};
    uint64_t timeout_ms = 0;
    if (!s_opt_u64(r, "max_downtime_ms", UINT32_MAX, &policy.max_downtime_ms) ||
        !s_opt_u64(r, "bandwidth_mibs", UINT32_MAX, &policy.bandwidth_mibs) ||
        !s_opt_u64(r, "timeout_ms", (uint64_t)UINT32_MAX * 1000, &timeout_ms))
        return;
    policy.timeout_s = (uint32_t)((timeout_ms + 999) / 1000);
    policy.auto_converge = ctl_req_flag(r, "auto_converge");
    policy.postcopy = ctl_req_flag(r, "postcopy");
    const char *to = ctl_req_opt(r, "to");
    if (to != NULL && to[0] == '\0')
        to = NULL;

    const char *state, *reason;
    ctl_model_domain_state(c->model, d, &state, &reason);
    const char *unknown = ctl_model_domain_unknown_reason(c->model, d);
    if (unknown != NULL) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': its state on host '%s' is unknown (%s); nothing migrated",
                      d->name, d->host, unknown);
        return;
    }
    if (d->host == NULL || (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0)) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is %s%s%s; only a running or paused domain migrates live",
                      d->name, d->host ? state : "not placed", d->host ? " on host " : "",
                      d->host ? d->host : "");
        return;
    }
    if (!ctl_host_up(c, d->host)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "domain '%s': its host '%s' is unreachable", d->name,
                      d->host);
        return;
    }
    ctl_mig_plan plan = {0};
    drv_error *err = NULL;
    if (ctl_mig_check(c, d, to, &plan, &err) < 0) {
        ctl_req_fail(r, err);
        return;
    }
    if (ctl_req_flag(r, "dry_run")) {
        json_object *doc = s_dry_run(c, d, &plan, &policy);
        ctl_mig_plan_clear(&plan);
        ctl_req_ok(r, doc);
        return;
    }
    g_autofree char *id = ctl_migrate_start(c, d, &plan, &policy, &err);
    ctl_mig_plan_clear(&plan);
    if (id == NULL) {
        ctl_req_fail(r, err);
        return;
    }
    const drv_job *live = ctl_migrate_live(c, id);
    if (live == NULL) { /* it ended at once: its record is on its way to etcd */
        g_free(r->name);
        r->name = g_strdup(id);
        r->step = 0;
        s_job_read(r);
        return;
    }
    ctl_req_ok(r, drv_job_to_api_json(live, (uint64_t)ctl_wall_ms(c)));
}

static void s_job_listed(ctl *c, GPtrArray *jobs, const drv_error *err, void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "jobs: %s", err->message);
        return;
    }
    json_object *arr = json_object_new_array();
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *j = g_ptr_array_index(jobs, i);
        const drv_job *live = ctl_migrate_live(c, j->id);
        if (live == NULL)
            live = ctl_drain_live(c, j->id); /* drain_run.h */
        if (live == NULL)
            live = ctl_lifecycle_live(r->c, j->id); /* lifecycle_run.h */
        g_hash_table_add(seen, j->id);
        json_object_array_add(arr, drv_job_to_api_json(live ? live : j, (uint64_t)ctl_wall_ms(c)));
    }
    GPtrArray *all = ctl_migrate_live_all(c);
    for (guint i = 0; i < all->len; i++) {
        const drv_job *j = g_ptr_array_index(all, i);
        if (!g_hash_table_contains(seen, j->id))
            json_object_array_add(arr, drv_job_to_api_json(j, (uint64_t)ctl_wall_ms(c)));
    }
    g_ptr_array_unref(all);
    all = ctl_lifecycle_live_all(r->c); /* not stored yet */
    for (guint i = 0; i < all->len; i++) {
        const drv_job *j = g_ptr_array_index(all, i);
        if (!g_hash_table_contains(seen, j->id))
            json_object_array_add(arr, drv_job_to_api_json(j, (uint64_t)ctl_wall_ms(c)));
    }
    g_ptr_array_unref(all);
    g_hash_table_unref(seen);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "jobs", arr);
    ctl_req_ok(r, doc);
}

void ctl_api_job_list(ctl_req *r)
{
    drv_error *err = NULL;
    if (ctl_job_store_list_async(r->c, s_job_listed, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

/* The live job named by id (this process drives it), or NULL. */
static const drv_job *s_live(ctl *c, const char *id)
{
    const drv_job *live = ctl_migrate_live(c, id);
    if (live == NULL)
        live = ctl_drain_live(c, id); /* drain_run.h: drain and restore jobs */
    if (live == NULL)
        live = ctl_lifecycle_live(c, id); /* lifecycle_run.h: start and undefine jobs */
    return live;
}

/* A stored job read for r->name (not driven by this process): shown as it is in etcd; for a
 * cancel (step 1), refused. */
static void s_job_got(ctl *c, drv_job *job, const drv_error *err, void *data)
{
    ctl_req *r = data;
    const drv_job *live = s_live(c, r->name); /* it may have become live meanwhile */
    if (live != NULL && r->step == 0) {
        ctl_req_ok(r, drv_job_to_api_json(live, (uint64_t)ctl_wall_ms(c)));
        return;
    }
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "job '%s': %s", r->name, err->message);
        return;
    }
    if (job == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "job '%s' not found", r->name);
        return;
    }
    if (r->step == 1 && drv_job_state_is_terminal(job->state)) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "job '%s' has already %s", job->id,
                      drv_job_state_to_string(job->state));
        return;
    }
    if (r->step == 1) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "job '%s' is not driven by this controller yet (it is being taken over); "
                      "try again",
                      job->id);
        return;
    }
    ctl_req_ok(r, drv_job_to_api_json(job, (uint64_t)ctl_wall_ms(c)));
}

static void s_job_read(ctl_req *r)
{
    drv_error *err = NULL;
    if (ctl_job_store_get_async(r->c, r->name, s_job_got, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}

void ctl_api_job_show(ctl_req *r)
{
    const drv_job *j = s_live(r->c, r->args[0]);
    if (j != NULL) {
        ctl_req_ok(r, drv_job_to_api_json(j, (uint64_t)ctl_wall_ms(r->c)));
        return;
    }
    r->name = g_strdup(r->args[0]);
    r->step = 0;
    s_job_read(r);
}

void ctl_api_job_cancel(ctl_req *r)
{
    const drv_job *j = s_live(r->c, r->args[0]);
    if (j == NULL) { /* stored only: ended, or not taken over yet */
        r->name = g_strdup(r->args[0]);
        r->step = 1;
        s_job_read(r);
        return;
    }
    if (drv_job_state_is_terminal(j->state)) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "job '%s' has already %s", j->id,
                      drv_job_state_to_string(j->state));
        return;
    }
    if (j->kind == DRV_JOB_KIND_START || j->kind == DRV_JOB_KIND_UNDEFINE) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "job '%s': a %s job cannot be cancelled", j->id,
                      drv_job_kind_to_string(j->kind));
        return;
    }
    g_autofree char *id = g_strdup(j->id);
    if (ctl_drain_cancel(r->c, id) == 0) /* drain_run.h: drain and restore jobs */
        ctl_migrate_cancel(r->c, id);
    j = s_live(r->c, id);
    if (j != NULL) {
        ctl_req_ok(r, drv_job_to_api_json(j, (uint64_t)ctl_wall_ms(r->c)));
        return;
    }
    r->name = g_strdup(id);
    r->step = 0; /* it ended with the cancel: show what was stored */
    s_job_read(r);
}
