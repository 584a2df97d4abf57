/* job_json.c — the job document stored at etcd `jobs/<id>` (docs/jobs.md): struct → JSON in a
 * fixed key order, JSON → struct with strict checks. Text in, objects out: no I/O. */
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include <glib.h>

#include "job.h"
#include "migrate_predict.h"
#include "json_get.h"

/* ------------------------------------------------------------------------------------------------
 * Writing. */

static void s_add_str(json_object *o, const char *key, const char *value, bool always)
{
    if (value)
        json_object_object_add(o, key, json_object_new_string(value));
    else if (always)
        json_object_object_add(o, key, json_object_new_string(""));
}

static void s_add_u64(json_object *o, const char *key, uint64_t value)
{
    json_object_object_add(o, key, json_object_new_int64((int64_t)value));
}

static void s_add_bool(json_object *o, const char *key, bool value)
{
    json_object_object_add(o, key, json_object_new_boolean(value));
}

static json_object *s_progress_to_json(const drv_job_progress *p)
{
    json_object *o = json_object_new_object();
    s_add_u64(o, "data_total", p->data_total);
    s_add_u64(o, "data_processed", p->data_processed);
    s_add_u64(o, "data_remaining", p->data_remaining);
    s_add_u64(o, "memory_bps", p->memory_bps);
    s_add_u64(o, "iteration", p->iteration);
    s_add_u64(o, "elapsed_ms", p->elapsed_ms);
    return o;
}

static json_object *s_migrate_to_json(const drv_job_migrate *m)
{
    json_object *o = json_object_new_object();
    s_add_str(o, "domain", m->domain, true);
    s_add_str(o, "source", m->source, true);
    s_add_str(o, "destination", m->destination, true);
    s_add_str(o, "reservation_id", m->reservation_id, true);
    json_object *p = json_object_new_object();
    s_add_u64(p, "max_downtime_ms", m->policy.max_downtime_ms);
    s_add_u64(p, "bandwidth_mibs", m->policy.bandwidth_mibs);
    s_add_bool(p, "auto_converge", m->policy.auto_converge);
    s_add_bool(p, "postcopy", m->policy.postcopy);
    s_add_u64(p, "timeout_s", m->policy.timeout_s);
    json_object_object_add(o, "policy", p);
    s_add_str(o, "phase", drv_job_phase_to_string(m->phase), true);
    s_add_u64(o, "phase_ms", m->phase_ms);
    s_add_bool(o, "reserved", m->reserved);
    if (m->locating_since_ms != 0) /* only when set: older documents stay byte-identical */
        s_add_u64(o, "locating_since_ms", m->locating_since_ms);
    if (m->location_unknown)
        s_add_bool(o, "location_unknown", true);
    json_object_object_add(o, "progress", s_progress_to_json(&m->progress));
    json_object *r = json_object_new_object();
    s_add_u64(r, "downtime_ms", m->result.downtime_ms);
    s_add_u64(r, "time_ms", m->result.time_ms);
    s_add_u64(r, "bytes", m->result.bytes);
    if (m->result.postcopy_used) /* only when true: older documents stay byte-identical */
        s_add_bool(r, "postcopy_used", true);
    /* issue 15, only when reported: older documents stay byte-identical */
    if (m->result.setup_ms || m->result.transfer_ms || m->result.dirty_rate_bps) {
        json_object *st = json_object_new_object();
        s_add_u64(st, "dirty_rate_bps", m->result.dirty_rate_bps);
        s_add_u64(st, "setup_ms", m->result.setup_ms);
        s_add_u64(st, "transfer_ms", m->result.transfer_ms);
        json_object_object_add(r, "stages", st);
    }
    if (m->result.predicted) {
        json_object *pr = json_object_new_object();
        s_add_str(pr, "verdict",
                  drv_predict_verdict_to_string((drv_predict_verdict)m->result.verdict), true);
        s_add_u64(pr, "throttle_pct", m->result.throttle_pct);
        s_add_bool(pr, "applied_auto_converge", m->result.applied_auto_converge);
        s_add_bool(pr, "applied_postcopy", m->result.applied_postcopy);
        s_add_u64(pr, "time_ms", m->result.predicted_time_ms);
        s_add_u64(pr, "downtime_ms", m->result.predicted_downtime_ms);
        s_add_u64(pr, "bytes", m->result.predicted_bytes);
        s_add_u64(pr, "time_error_permille", m->result.time_error_permille);
        s_add_u64(pr, "downtime_error_permille", m->result.downtime_error_permille);
        json_object_object_add(r, "prediction", pr);
    }
    json_object_object_add(o, "result", r);
    return o;
}

static json_object *s_entry_to_json(const drv_job_entry *e)
{
    json_object *o = json_object_new_object();
    s_add_str(o, "domain", e->domain, true);
    s_add_str(o, "origin", e->origin, true);
    s_add_str(o, "planned", e->planned, false);
    json_object *alts = json_object_new_array();
    for (size_t i = 0; e->alternates && e->alternates[i]; i++)
        json_object_array_add(alts, json_object_new_string(e->alternates[i]));
    json_object_object_add(o, "alternates", alts);
    s_add_u64(o, "attempts", e->attempts);
    s_add_str(o, "destination", e->destination, false);
    s_add_str(o, "state", drv_job_entry_state_to_string(e->state), true);
    s_add_str(o, "error", e->error, false);
    json_object_object_add(o, "progress", s_progress_to_json(&e->progress));
    return o;
}

static json_object *s_drain_to_json(const drv_job_drain *d)
{
    json_object *o = json_object_new_object();
    s_add_str(o, "host", d->host, false);
    s_add_str(o, "restore_of", d->restore_of, false);
    json_object *opts = json_object_new_object();
    s_add_u64(opts, "max_parallel", d->opts.max_parallel);
    s_add_u64(opts, "per_source", d->opts.per_source);
    s_add_u64(opts, "per_dest", d->opts.per_dest);
    s_add_str(opts, "on_unmovable", drv_job_unmovable_to_string(d->opts.on_unmovable), true);
    s_add_bool(opts, "n_plus_one", d->opts.n_plus_one);
    if (d->opts.on_unmovable == DRV_JOB_UNMOVABLE_SHUTDOWN) {
        s_add_u64(opts, "shutdown_timeout_s", d->opts.shutdown_timeout_s);
        s_add_bool(opts, "force", d->opts.force);
    }
    json_object_object_add(o, "options", opts);
    if (d->shutdown_sent_ms != 0)
        s_add_u64(o, "shutdown_sent_ms", d->shutdown_sent_ms);
    if (d->destroy_sent_ms != 0)
        s_add_u64(o, "destroy_sent_ms", d->destroy_sent_ms);
    json_object *entries = json_object_new_array();
    for (size_t i = 0; i < d->n_entries; i++)
        json_object_array_add(entries, s_entry_to_json(&d->entries[i]));
    json_object_object_add(o, "entries", entries);
    return o;
}

static json_object *s_lifecycle_to_json(const drv_job_lifecycle *l)
{
    json_object *o = json_object_new_object();
    s_add_str(o, "domain", l->domain, true);
    s_add_str(o, "host", l->host, false);
    s_add_str(o, "old_host", l->old_host, false);
    s_add_str(o, "desired_before", drv_job_desired_to_string(l->desired_before), true);
    s_add_str(o, "step", drv_job_step_to_string(l->step), true);
    s_add_u64(o, "step_ms", l->step_ms);
    s_add_u64(o, "commands", l->commands);
    return o;
}

/* The key of a kind's own part of the document. */
static const char *s_body_key(drv_job_kind kind)
{
    switch (kind) {
    case DRV_JOB_KIND_MIGRATE:
        return "migrate";
    case DRV_JOB_KIND_START:
    case DRV_JOB_KIND_UNDEFINE:
        return "lifecycle";
    default:
        return "drain";
    }
}

json_object *drv_job_to_json(const drv_job *job)
{
    json_object *o = json_object_new_object();
    s_add_u64(o, "version", DRV_JOB_FORMAT_VERSION);
    s_add_str(o, "id", job->id, true);
    s_add_str(o, "kind", drv_job_kind_to_string(job->kind), true);
    s_add_str(o, "state", drv_job_state_to_string(job->state), true);
    s_add_u64(o, "created_ms", job->created_ms);
    s_add_u64(o, "updated_ms", job->updated_ms);
    s_add_str(o, "owner", job->owner, false);
    s_add_bool(o, "cancel_requested", job->cancel_requested);
    s_add_str(o, "error", job->error, false);
    if (job->kind == DRV_JOB_KIND_MIGRATE)
        json_object_object_add(o, "migrate", s_migrate_to_json(&job->migrate));
    else if (job->kind == DRV_JOB_KIND_START || job->kind == DRV_JOB_KIND_UNDEFINE)
        json_object_object_add(o, "lifecycle", s_lifecycle_to_json(&job->lifecycle));
    else
        json_object_object_add(o, "drain", s_drain_to_json(&job->drain));
    return o;
}

char *drv_job_to_json_string(const drv_job *job)
{
    json_object *o = drv_job_to_json(job);
    char *s = g_strconcat(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
        "\n", NULL);
    json_object_put(o);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Reading, with common/json_get.h's strict readers: every error names the object (`what`) and the
 * key. */

static int s_uint(json_object *o, const char *key, const char *what, unsigned *ret, drv_error **err)
{
    uint64_t v = 0;
    if (drv_json_read_u64(o, key, UINT_MAX, what, &v, err) < 0)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

/* Reads a required enum name through from_string (int-typed wrapper below). */
static int s_enum(json_object *o, const char *key, const char *what,
                  int (*parse)(const char *, int *), int *ret, drv_error **err)
{
    g_autofree char *name = NULL;
    if (drv_json_read_str(o, key, true, what, &name, err) < 0)
        return -1;
    if (parse(name, ret) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unknown %s \"%s\"", what, key, name);
    return 0;
}

#define S_PARSE_WRAPPER(name, type)                                                                \
    static int s_parse_##name(const char *s, int *ret)                                             \
    {                                                                                              \
        type v;                                                                                    \
        if (drv_job_##name##_from_string(s, &v) < 0)                                               \
            return -1;                                                                             \
        *ret = (int)v;                                                                             \
        return 0;                                                                                  \
    }
S_PARSE_WRAPPER(kind, drv_job_kind)
S_PARSE_WRAPPER(state, drv_job_state)
S_PARSE_WRAPPER(phase, drv_job_phase)
S_PARSE_WRAPPER(unmovable, drv_job_unmovable)
S_PARSE_WRAPPER(entry_state, drv_job_entry_state)
S_PARSE_WRAPPER(desired, drv_job_desired)
S_PARSE_WRAPPER(step, drv_job_step)

static int s_progress_from_json(json_object *parent, const char *what, drv_job_progress *p,
                                drv_error **err)
{
    static const char *const keys[] = {"data_total", "data_processed", "data_remaining",
                                       "memory_bps", "iteration",      "elapsed_ms",
                                       NULL};
    json_object *o = NULL;
    g_autofree char *w = g_strdup_printf("%s progress", what);
    if (drv_json_read_object(parent, "progress", false, what, &o, err) < 0)
        return -1;
    if (!o)
        return 0;
    if (drv_json_read_keys(o, keys, w, err) < 0 ||
        drv_json_read_u64(o, "data_total", UINT64_MAX, w, &p->data_total, err) < 0 ||
        drv_json_read_u64(o, "data_processed", UINT64_MAX, w, &p->data_processed, err) < 0 ||
        drv_json_read_u64(o, "data_remaining", UINT64_MAX, w, &p->data_remaining, err) < 0 ||
        drv_json_read_u64(o, "memory_bps", UINT64_MAX, w, &p->memory_bps, err) < 0 ||
        drv_json_read_u64(o, "iteration", UINT64_MAX, w, &p->iteration, err) < 0 ||
        drv_json_read_u64(o, "elapsed_ms", UINT64_MAX, w, &p->elapsed_ms, err) < 0)
        return -1;
    return 0;
}

/* The result's "stages" and "prediction" (issue 15), both optional. */
static int s_result_extra_from_json(json_object *r, const char *wr, const char *const *stage_keys,
                                    const char *const *pred_keys, drv_job_result *res,
                                    drv_error **err)
{
    json_object *st = NULL, *pr = NULL;
    if (drv_json_read_object(r, "stages", false, wr, &st, err) < 0 ||
        drv_json_read_object(r, "prediction", false, wr, &pr, err) < 0)
        return -1;
    if (st &&
        (drv_json_read_keys(st, stage_keys, wr, err) < 0 ||
         drv_json_read_u64(st, "dirty_rate_bps", UINT64_MAX, wr, &res->dirty_rate_bps, err) < 0 ||
         drv_json_read_u64(st, "setup_ms", UINT64_MAX, wr, &res->setup_ms, err) < 0 ||
         drv_json_read_u64(st, "transfer_ms", UINT64_MAX, wr, &res->transfer_ms, err) < 0))
        return -1;
    if (pr == NULL)
        return 0;
    g_autofree char *verdict = NULL;
    uint64_t throttle = 0, terr = 0, derr = 0;
    drv_predict_verdict v;
    if (drv_json_read_keys(pr, pred_keys, wr, err) < 0 ||
        drv_json_read_str(pr, "verdict", true, wr, &verdict, err) < 0 ||
        drv_json_read_u64(pr, "throttle_pct", 100, wr, &throttle, err) < 0 ||
        drv_json_read_bool(pr, "applied_auto_converge", wr, &res->applied_auto_converge, err) < 0 ||
        drv_json_read_bool(pr, "applied_postcopy", wr, &res->applied_postcopy, err) < 0 ||
        drv_json_read_u64(pr, "time_ms", UINT64_MAX, wr, &res->predicted_time_ms, err) < 0 ||
        drv_json_read_u64(pr, "downtime_ms", UINT64_MAX, wr, &res->predicted_downtime_ms, err) <
            0 ||
        drv_json_read_u64(pr, "bytes", UINT64_MAX, wr, &res->predicted_bytes, err) < 0 ||
        drv_json_read_u64(pr, "time_error_permille", UINT32_MAX, wr, &terr, err) < 0 ||
        drv_json_read_u64(pr, "downtime_error_permille", UINT32_MAX, wr, &derr, err) < 0)
        return -1;
    if (drv_predict_verdict_from_string(verdict, &v) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unknown prediction verdict '%s'", wr,
                             verdict);
    res->predicted = true;
    res->verdict = (uint8_t)v;
    res->throttle_pct = (uint32_t)throttle;
    res->time_error_permille = (uint32_t)terr;
    res->downtime_error_permille = (uint32_t)derr;
    return 0;
}

static int s_migrate_from_json(json_object *o, const char *what, drv_job_migrate *m,
                               drv_error **err)
{
    static const char *const keys[] = {
        "domain",   "source", "destination",       "reservation_id",
        "policy",   "phase",  "phase_ms",          "reserved",
        "progress", "result", "locating_since_ms", "location_unknown",
        NULL};
    static const char *const policy_keys[] = {"max_downtime_ms", "bandwidth_mibs", "auto_converge",
                                              "postcopy",        "timeout_s",      NULL};
    static const char *const result_keys[] = {"downtime_ms", "time_ms",    "bytes", "postcopy_used",
                                              "stages",      "prediction", NULL};
    static const char *const stage_keys[] = {"dirty_rate_bps", "setup_ms", "transfer_ms", NULL};
    static const char *const pred_keys[] = {"verdict",
                                            "throttle_pct",
                                            "applied_auto_converge",
                                            "applied_postcopy",
                                            "time_ms",
                                            "downtime_ms",
                                            "bytes",
                                            "time_error_permille",
                                            "downtime_error_permille",
                                            NULL};
    g_autofree char *w = g_strdup_printf("%s migrate", what);
    g_autofree char *wp = g_strdup_printf("%s policy", what);
    g_autofree char *wr = g_strdup_printf("%s result", what);
    json_object *p = NULL, *r = NULL;
    int phase = 0;
    uint64_t timeout_s = 0;
    if (drv_json_read_keys(o, keys, w, err) < 0 ||
        drv_json_read_str(o, "domain", true, w, &m->domain, err) < 0 ||
        drv_json_read_str(o, "source", true, w, &m->source, err) < 0 ||
        drv_json_read_str(o, "destination", true, w, &m->destination, err) < 0 ||
        drv_json_read_str(o, "reservation_id", true, w, &m->reservation_id, err) < 0 ||
        s_enum(o, "phase", w, s_parse_phase, &phase, err) < 0 ||
        drv_json_read_u64(o, "phase_ms", UINT64_MAX, w, &m->phase_ms, err) < 0 ||
        drv_json_read_bool(o, "reserved", w, &m->reserved, err) < 0 ||
        drv_json_read_u64(o, "locating_since_ms", UINT64_MAX, w, &m->locating_since_ms, err) < 0 ||
        drv_json_read_bool(o, "location_unknown", w, &m->location_unknown, err) < 0 ||
        s_progress_from_json(o, w, &m->progress, err) < 0 ||
        drv_json_read_object(o, "policy", false, w, &p, err) < 0 ||
        drv_json_read_object(o, "result", false, w, &r, err) < 0)
        return -1;
    m->phase = (drv_job_phase)phase;
    if (p && (drv_json_read_keys(p, policy_keys, wp, err) < 0 ||
              drv_json_read_u64(p, "max_downtime_ms", UINT64_MAX, wp, &m->policy.max_downtime_ms,
                                err) < 0 ||
              drv_json_read_u64(p, "bandwidth_mibs", UINT64_MAX, wp, &m->policy.bandwidth_mibs,
                                err) < 0 ||
              drv_json_read_bool(p, "auto_converge", wp, &m->policy.auto_converge, err) < 0 ||
              drv_json_read_bool(p, "postcopy", wp, &m->policy.postcopy, err) < 0 ||
              drv_json_read_u64(p, "timeout_s", UINT32_MAX, wp, &timeout_s, err) < 0))
        return -1;
    m->policy.timeout_s = (uint32_t)timeout_s;
    if (r &&
        (drv_json_read_keys(r, result_keys, wr, err) < 0 ||
         drv_json_read_u64(r, "downtime_ms", UINT64_MAX, wr, &m->result.downtime_ms, err) < 0 ||
         drv_json_read_u64(r, "time_ms", UINT64_MAX, wr, &m->result.time_ms, err) < 0 ||
         drv_json_read_u64(r, "bytes", UINT64_MAX, wr, &m->result.bytes, err) < 0 ||
         drv_json_read_bool(r, "postcopy_used", wr, &m->result.postcopy_used, err) < 0))
        return -1;
    return r ? s_result_extra_from_json(r, wr, stage_keys, pred_keys, &m->result, err) : 0;
}

static int s_alternates_from_json(json_object *o, const char *what, char ***ret, drv_error **err)
{
    json_object *v = NULL;
    g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func(g_free);
    if (json_object_object_get_ex(o, "alternates", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"alternates\" must be an array",
                                 what);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *s = json_object_array_get_idx(v, i);
            if (!s || !json_object_is_type(s, json_type_string) || !*json_object_get_string(s))
                return drv_error_set(err, DRV_ERR_INVALID, 0,
                                     "%s: alternates[%zu] must be a non-empty string", what, i);
            g_ptr_array_add(a, g_strdup(json_object_get_string(s)));
        }
    }
    g_ptr_array_add(a, NULL);
    *ret = (char **)g_ptr_array_steal(a, NULL);
    return 0;
}

static int s_entry_from_json(json_object *o, const char *what, size_t i, drv_job_entry *e,
                             drv_error **err)
{
    static const char *const keys[] = {"domain",      "origin", "planned", "alternates", "attempts",
                                       "destination", "state",  "error",   "progress",   NULL};
    g_autofree char *w = g_strdup_printf("%s entry %zu", what, i);
    int state = 0;
    if (!json_object_is_type(o, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: must be an object", w);
    /* Alternates first: the entry always owns a (possibly empty) array, even on error. */
    if (s_alternates_from_json(o, w, &e->alternates, err) < 0 ||
        drv_json_read_keys(o, keys, w, err) < 0 ||
        drv_json_read_str(o, "domain", true, w, &e->domain, err) < 0)
        return -1;
    g_free(w);
    w = g_strdup_printf("%s entry %s", what, e->domain);
    if (drv_json_read_str(o, "origin", true, w, &e->origin, err) < 0 ||
        drv_json_read_str(o, "planned", false, w, &e->planned, err) < 0 ||
        s_uint(o, "attempts", w, &e->attempts, err) < 0 ||
        drv_json_read_str(o, "destination", false, w, &e->destination, err) < 0 ||
        s_enum(o, "state", w, s_parse_entry_state, &state, err) < 0 ||
        drv_json_read_str(o, "error", false, w, &e->error, err) < 0 ||
        s_progress_from_json(o, w, &e->progress, err) < 0)
        return -1;
    e->state = (drv_job_entry_state)state;
    return 0;
}

static int s_drain_from_json(json_object *o, const char *what, drv_job_drain *d, drv_error **err)
{
    static const char *const keys[] = {
        "host", "restore_of", "options", "entries", "shutdown_sent_ms", "destroy_sent_ms", NULL};
    static const char *const opt_keys[] = {"max_parallel", "per_source", "per_dest",
                                           "on_unmovable", "n_plus_one", "shutdown_timeout_s",
                                           "force",        NULL};
    g_autofree char *w = g_strdup_printf("%s drain", what);
    g_autofree char *wo = g_strdup_printf("%s options", what);
    json_object *opts = NULL, *entries = NULL;
    if (drv_json_read_keys(o, keys, w, err) < 0 ||
        drv_json_read_str(o, "host", false, w, &d->host, err) < 0 ||
        drv_json_read_str(o, "restore_of", false, w, &d->restore_of, err) < 0 ||
        drv_json_read_object(o, "options", true, w, &opts, err) < 0)
        return -1;
    int how = 0;
    if (drv_json_read_keys(opts, opt_keys, wo, err) < 0 ||
        s_uint(opts, "max_parallel", wo, &d->opts.max_parallel, err) < 0 ||
        s_uint(opts, "per_source", wo, &d->opts.per_source, err) < 0 ||
        s_uint(opts, "per_dest", wo, &d->opts.per_dest, err) < 0 ||
        s_enum(opts, "on_unmovable", wo, s_parse_unmovable, &how, err) < 0 ||
        drv_json_read_bool(opts, "n_plus_one", wo, &d->opts.n_plus_one, err) < 0 ||
        s_uint(opts, "shutdown_timeout_s", wo, &d->opts.shutdown_timeout_s, err) < 0 ||
        drv_json_read_bool(opts, "force", wo, &d->opts.force, err) < 0 ||
        drv_json_read_u64(o, "shutdown_sent_ms", UINT64_MAX, w, &d->shutdown_sent_ms, err) < 0 ||
        drv_json_read_u64(o, "destroy_sent_ms", UINT64_MAX, w, &d->destroy_sent_ms, err) < 0)
        return -1;
    d->opts.on_unmovable = (drv_job_unmovable)how;
    if (d->opts.shutdown_timeout_s == 0) /* written before the option existed */
        d->opts.shutdown_timeout_s = DRV_JOB_DRAIN_SHUTDOWN_TIMEOUT_S_DEFAULT;
    if (!json_object_object_get_ex(o, "entries", &entries) || !entries ||
        !json_object_is_type(entries, json_type_array))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"entries\" must be an array", w);
    size_t n = json_object_array_length(entries);
    d->entries = g_new0(drv_job_entry, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        d->n_entries = i + 1; /* counted before parsing so a half-read entry is freed */
        if (s_entry_from_json(json_object_array_get_idx(entries, i), what, i, &d->entries[i], err) <
            0)
            return -1;
    }
    return 0;
}

static int s_lifecycle_from_json(json_object *o, const char *what, drv_job_lifecycle *l,
                                 drv_error **err)
{
    static const char *const keys[] = {"domain", "host",    "old_host", "desired_before",
                                       "step",   "step_ms", "commands", NULL};
    g_autofree char *w = g_strdup_printf("%s lifecycle", what);
    int desired = 0, step = 0;
    if (drv_json_read_keys(o, keys, w, err) < 0 ||
        drv_json_read_str(o, "domain", true, w, &l->domain, err) < 0 ||
        drv_json_read_str(o, "host", false, w, &l->host, err) < 0 ||
        drv_json_read_str(o, "old_host", false, w, &l->old_host, err) < 0 ||
        s_enum(o, "desired_before", w, s_parse_desired, &desired, err) < 0 ||
        s_enum(o, "step", w, s_parse_step, &step, err) < 0 ||
        drv_json_read_u64(o, "step_ms", UINT64_MAX, w, &l->step_ms, err) < 0 ||
        s_uint(o, "commands", w, &l->commands, err) < 0)
        return -1;
    l->desired_before = (drv_job_desired)desired;
    l->step = (drv_job_step)step;
    return 0;
}

int drv_job_from_json(json_object *obj, drv_job **ret, drv_error **err)
{
    static const char *const keys[] = {
        "version",          "id",    "kind",    "state", "created_ms", "updated_ms", "owner",
        "cancel_requested", "error", "migrate", "drain", "lifecycle",  NULL};
    if (!obj || !json_object_is_type(obj, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: the document must be a JSON object");
    g_autoptr(GString) what = g_string_new("job");
    drv_job *job = g_new0(drv_job, 1);
    int kind = 0, state = 0;
    uint64_t version = 0;
    json_object *sub = NULL;
    if (drv_json_read_str(obj, "id", true, "job", &job->id, err) < 0)
        goto fail;
    g_string_append_printf(what, " %s", job->id);
    if (drv_json_read_keys(obj, keys, what->str, err) < 0 ||
        drv_json_read_u64(obj, "version", UINT64_MAX, what->str, &version, err) < 0)
        goto fail;
    if (version != DRV_JOB_FORMAT_VERSION) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unsupported version %" PRIu64 " (expected %d)",
                      what->str, version, DRV_JOB_FORMAT_VERSION);
        goto fail;
    }
    if (s_enum(obj, "kind", what->str, s_parse_kind, &kind, err) < 0 ||
        s_enum(obj, "state", what->str, s_parse_state, &state, err) < 0 ||
        drv_json_read_u64(obj, "created_ms", UINT64_MAX, what->str, &job->created_ms, err) < 0 ||
        drv_json_read_u64(obj, "updated_ms", UINT64_MAX, what->str, &job->updated_ms, err) < 0 ||
        drv_json_read_str(obj, "owner", false, what->str, &job->owner, err) < 0 ||
        drv_json_read_bool(obj, "cancel_requested", what->str, &job->cancel_requested, err) < 0 ||
        drv_json_read_str(obj, "error", false, what->str, &job->error, err) < 0)
        goto fail;
    job->kind = (drv_job_kind)kind;
    job->state = (drv_job_state)state;
    const char *body = s_body_key(job->kind);
    static const char *const bodies[] = {"migrate", "drain", "lifecycle"};
    for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
        if (strcmp(bodies[i], body) != 0 && json_object_object_get_ex(obj, bodies[i], NULL)) {
            drv_error_set(err, DRV_ERR_INVALID, 0, "%s: a %s job has no \"%s\"", what->str,
                          drv_job_kind_to_string(job->kind), bodies[i]);
            goto fail;
        }
    if (drv_json_read_object(obj, body, true, what->str, &sub, err) < 0)
        goto fail;
    int brc;
    if (job->kind == DRV_JOB_KIND_MIGRATE)
        brc = s_migrate_from_json(sub, what->str, &job->migrate, err);
    else if (job->kind == DRV_JOB_KIND_START || job->kind == DRV_JOB_KIND_UNDEFINE)
        brc = s_lifecycle_from_json(sub, what->str, &job->lifecycle, err);
    else
        brc = s_drain_from_json(sub, what->str, &job->drain, err);
    if (brc < 0)
        goto fail;
    if (drv_job_validate(job, err) < 0)
        goto fail;
    *ret = job;
    return 0;
fail:
    drv_job_destroy(&job);
    return -1;
}

int drv_job_from_json_string(const char *text, ssize_t len, drv_job **ret, drv_error **err)
{
    if (!text)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: no document");
    size_t n = len < 0 ? strlen(text) : (size_t)len;
    if (n > INT_MAX)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: document too large");
    json_tokener *tok = json_tokener_new();
    json_object *obj = json_tokener_parse_ex(tok, text, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    bool at_end = false;
    if (!obj && jerr == json_tokener_continue && n > 0) {
        at_end = true;
        /* a bare top-level literal ("null", "5") is only complete at the end of input */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        used = n;
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success) { /* (a "null" document parses to NULL with success) */
        json_object_put(obj);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: not valid JSON: %s",
                             jerr == json_tokener_continue || at_end
                                 ? "truncated document"
                                 : json_tokener_error_desc(jerr));
    }
    for (size_t i = used; i < n; i++)
        if (!g_ascii_isspace(text[i])) {
            json_object_put(obj);
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "job: trailing data after the JSON document (offset %zu)", i);
        }
    int r = drv_job_from_json(obj, ret, err);
    json_object_put(obj);
    return r;
}

uint64_t drv_job_elapsed_ms(const drv_job *job, uint64_t now_ms)
{
    uint64_t end = drv_job_state_is_terminal(job->state) ? job->updated_ms : now_ms;
    return end > job->created_ms ? end - job->created_ms : 0;
}

json_object *drv_job_to_api_json(const drv_job *job, uint64_t now_ms)
{
    json_object *o = drv_job_to_json(job);
    json_object_object_add(o, "elapsed_ms",
                           json_object_new_int64((int64_t)drv_job_elapsed_ms(job, now_ms)));
    return o;
}
