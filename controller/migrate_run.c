/* migrate_run.c — the migration job runner (see migrate_run.h). Every job in flight is a drv_job
 * driven by the pure state machine of jobs/job_migrate.h: what happens (the client's start and
 * cancel, agents' replies and progress, deadlines, a controller taking over) goes in as an event;
 * the actions that come out are performed here in order: etcd writes (jobs/, reservations/,
 * domains/), agent commands (storage markers, CMD_MIGRATE, CMD_MIGRATE_CANCEL, DOMSTATS to locate
 * the domain, CMD_SNAPSHOT_REDEFINE) and events on topic job.<id>.
 *
 * Agent commands answer later through broker callbacks; their data names the job by id, so a job
 * that ended (or a module that was shut down) meanwhile is simply not found. */
#include "migrate_private.h"
#include "ctl_io.h"
#include "snapshot_async.h"
#include "takeover_gate.h"
#include "migrate_launch.h" /* drains launch child migrations (additive hook) */

#include "broker.h"
#include "job_busy.h"
#include "events.h"
#include "log.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

/* How long a pool verified as shared between two hosts is trusted without a new marker. */
#define S_VERIFIED_TTL_MS (10 * 60 * 1000)
/* Broker deadline of CMD_MIGRATE without a policy timeout. */
#define S_MIGRATE_NO_TIMEOUT_MS (6u * 3600u * 1000u)
#define S_LOCATE_RETRY_MS       1000
#define S_RELOCATE_MS           2000

typedef enum { S_ABSENT = 0, S_PRESENT, S_UNKNOWN } s_where;

typedef struct ctl_migrations s_mod;

typedef struct {
    s_mod *mod; /* the runner that drives it */
    drv_job *job;
    GPtrArray *pools; /* ctl_mig_pool*: to verify; NULL when unknown */
    guint verify_i;
    bool unsafe; /* every pool verified as shared */
    /* actions still to perform, in order (performing stops at an asynchronous blocking one) */
    drv_job_actions *acts;
    size_t act_i;
    unsigned waiting;    /* answers the blocked action waits for */
    GPtrArray *redefine; /* ctl_snapshot* still to redefine on the destination */
    /* locating */
    unsigned loc_gen;
    int loc_answers;
    s_where loc_src, loc_dst;
    int64_t loc_retry_ms; /* 0 = no retry scheduled */
    /* CMD_MIGRATE sent by this process and not answered yet; when a job is migrating without it
     * (taken over from another controller), the domain is located again every S_RELOCATE_MS */
    bool migrate_pending;
    int64_t relocate_ms;
    /* a follow-up event produced while performing (reservation, cached storage) */
    bool has_follow;
    drv_job_event follow;
    char *follow_msg;
} s_run;

/* The runner's state, reached through the controller context (c->migrations). */
struct ctl_migrations {
    ctl *c;
    GHashTable *runs;       /* job id → s_run* (jobs this controller drives) */
    GHashTable *resv;       /* reservation id → ctl_mig_resv* (mirror of reservations/) */
    GHashTable *verified;   /* "src dst path" → expiry (wall ms, boxed) */
    GHashTable *placing;    /* domain names whose new placement is on its way to etcd */
    ctl_takeover_gate gate; /* leadership and the take-over of jobs and reservations */
    bool stopping;
    drv_link_table *links; /* links/: per host pair bandwidth and fixed cost; NULL until loaded */
    GHashTable *dirty;     /* domain → its last measured dirty rate (boxed uint64, B/s) */
    bool loading_links;
    ctl_migrate_end_fn end_hook; /* migrate_launch.h: told of every job's end */
    void *end_ctx;
};

/* What a broker callback needs to find its job again. */
typedef struct {
    char *job_id;
    char *pool_path; /* storage markers */
    unsigned gen;    /* locate generation */
    bool is_dest;    /* locate: the answer is the destination's */
} s_cb;

static void s_cb_free(gpointer p)
{
    s_cb *cb = p;
    g_free(cb->job_id);
    g_free(cb->pool_path);
    g_free(cb);
}

static s_cb *s_cb_new(const s_run *run)
{
    s_cb *cb = g_new0(s_cb, 1);
    cb->job_id = g_strdup(run->job->id);
    return cb;
}

static void s_run_free(gpointer p)
{
    s_run *run = p;
    drv_job_destroy(&run->job);
    if (run->pools)
        g_ptr_array_unref(run->pools);
    drv_job_actions_destroy(&run->acts);
    if (run->redefine)
        g_ptr_array_unref(run->redefine);
    g_free(run->follow_msg);
    g_free(run);
}

static s_mod *s_mod_get(ctl *c)
{
    if (c->migrations == NULL) {
        c->migrations = g_new0(s_mod, 1);
        c->migrations->c = c;
        c->migrations->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_run_free);
        c->migrations->resv =
            g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ctl_mig_resv_free);
        c->migrations->verified = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->migrations->placing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->migrations->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    }
    return c->migrations;
}

static s_run *s_find(const s_mod *m, const char *job_id)
{
    return m != NULL && job_id != NULL ? g_hash_table_lookup(m->runs, job_id) : NULL;
}

/* ------------------------------------------------------------------ the job as the API shows it */

static void s_publish(ctl *c, const drv_job *job, const char *message)
{
    ctl_events_job(c, job,
                   drv_job_state_is_terminal(job->state)
                       ? drv_job_state_to_string(job->state)
                       : drv_job_phase_to_string(job->migrate.phase),
                   message);
}

/* ------------------------------------------------------------------ feeding the machine */

static void s_continue(s_run *run);
static void s_feed(s_run *run, const drv_job_event *ev);

/* Frees a run that has nothing left to do. */
static void s_maybe_done(s_run *run)
{
    if (!drv_job_state_is_terminal(run->job->state) || run->waiting > 0 ||
        (run->acts != NULL && run->act_i < drv_job_actions_len(run->acts)))
        return;
    drv_info("job '%s' %s", run->job->id, drv_job_state_to_string(run->job->state));
    ctl_counters_job_ended(&run->mod->c->counters, run->job, (uint64_t)ctl_wall_ms(run->mod->c));
    ctl_migrate_ended_hook(run->mod->c, run->job); /* migrate_launch.h */
    g_hash_table_remove(run->mod->runs, run->job->id);
}

/* Schedules ev to be fed right after the current actions (synchronous answers). */
static void s_follow(s_run *run, drv_job_event_kind kind, const char *message)
{
    memset(&run->follow, 0, sizeof(run->follow));
    run->follow.kind = kind;
    g_free(run->follow_msg);
    run->follow_msg = g_strdup(message);
    run->has_follow = true;
}

static void s_feed(s_run *run, const drv_job_event *ev0)
{
    drv_job_event ev = *ev0;
    g_autofree char *msg = g_strdup(ev0->message);
    ev.message = msg;
    s_mod *m = run->mod; /* run may end below; the module stays */
    g_autofree char *id = g_strdup(run->job->id);
    for (;;) {
        drv_job_actions *acts = drv_job_actions_new();
        drv_error *err = NULL;
        int rc =
            drv_job_migrate_step(run->job, &ev, (uint64_t)ctl_wall_ms(run->mod->c), acts, &err);
        if (rc < 0) {
            drv_warn("job '%s': %s", run->job->id, err->message);
            drv_error_destroy(&err);
        }
        if (rc > 0) {
            g_autofree char *what = drv_job_actions_describe(acts);
            drv_debug("job '%s': %s → %s", run->job->id, drv_job_event_kind_to_string(ev.kind),
                      what);
            if (run->acts == NULL || run->act_i >= drv_job_actions_len(run->acts)) {
                drv_job_actions_destroy(&run->acts);
                run->acts = acts;
                run->act_i = 0;
                acts = NULL;
            } else {
                for (size_t i = 0; i < drv_job_actions_len(acts); i++)
                    drv_job_actions_add(run->acts, drv_job_actions_get(acts, i));
            }
            if (run->waiting == 0)
                s_continue(run);
        }
        drv_job_actions_destroy(&acts);
        /* s_continue may have ended the run */
        run = s_find(m, id);
        if (run == NULL || !run->has_follow)
            break;
        run->has_follow = false;
        ev = run->follow;
        g_free(msg);
        msg = g_steal_pointer(&run->follow_msg);
        ev.message = msg;
    }
    if (run != NULL)
        s_maybe_done(run);
}

/* Goes on performing after an asynchronous action completed (outside s_feed). */
static void s_resume(s_run *run)
{
    s_mod *m = run->mod;
    g_autofree char *id = g_strdup(run->job->id);
    s_continue(run);
    run = s_find(m, id);
    if (run == NULL)
        return;
    if (run->has_follow) {
        run->has_follow = false;
        drv_job_event ev = run->follow;
        g_autofree char *msg = g_steal_pointer(&run->follow_msg);
        ev.message = msg;
        s_feed(run, &ev);
        return;
    }
    s_maybe_done(run);
}

static void s_feed_kind(s_run *run, drv_job_event_kind kind, const char *message)
{
    drv_job_event ev = {.kind = kind, .message = message};
    s_feed(run, &ev);
}

/* ------------------------------------------------------------------ reservations */

static void s_reserve(s_run *run)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    if (g_hash_table_contains(run->mod->resv, m->reservation_id)) {
        s_follow(run, DRV_JOB_EV_RESERVED_OK, NULL);
        return;
    }
    ctl_domain *d = ctl_model_domain(c->model, m->domain);
    if (d == NULL) {
        s_follow(run, DRV_JOB_EV_RESERVED_FAILED, "the domain is no longer defined");
        return;
    }
    ctl_mig_resv *r = g_new0(ctl_mig_resv, 1);
    r->id = g_strdup(m->reservation_id);
    r->job_id = g_strdup(run->job->id);
    r->host = g_strdup(m->destination);
    r->domain = g_strdup(m->domain);
    r->vcpus = d->vcpus;
    r->memory_kib = d->memory_kib;
    r->created_ms = ctl_wall_ms(c);
    drv_error *err = NULL;
    if (ctl_job_store_put_resv(c, r, &err) < 0) {
        s_follow(run, DRV_JOB_EV_RESERVED_FAILED, err->message);
        drv_error_destroy(&err);
        ctl_mig_resv_free(r);
        return;
    }
    drv_info("job '%s': reserved %u vCPUs and %llu KiB on host '%s'", run->job->id, r->vcpus,
             (unsigned long long)r->memory_kib, r->host);
    g_hash_table_replace(run->mod->resv, r->id, r);
    s_follow(run, DRV_JOB_EV_RESERVED_OK, NULL);
}

static void s_release(ctl *c, const char *id)
{
    drv_error *err = NULL;
    if (ctl_job_store_delete_resv(c, id, &err) < 0) {
        drv_warn("%s (reaped at the next controller start)", err->message);
        drv_error_destroy(&err);
    }
    g_hash_table_remove(c->migrations->resv, id);
}

void ctl_migrate_add_reservations(ctl *c, drv_sched_cluster *cl)
{
    if (c->migrations == NULL)
        return;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->migrations->resv);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const ctl_mig_resv *r = v;
        if (r->host == NULL || !drv_sched_cluster_has_host(cl, r->host))
            continue;
        drv_sched_reservation sr = {
            .id = r->id, .host = r->host, .vcpus = r->vcpus, .memory_kib = r->memory_kib};
        drv_error *err = NULL;
        if (drv_sched_cluster_add_reservation(cl, &sr, &err) < 0) {
            drv_warn("scheduler: reservation '%s' left out: %s", r->id, err->message);
            drv_error_destroy(&err);
        }
    }
}

/* ------------------------------------------------------------------ shared storage */

static char *s_verified_key(const drv_job *job, const char *path)
{
    return g_strdup_printf("%s %s %s", job->migrate.source, job->migrate.destination, path);
}

static void s_verify_next(s_run *run, bool sync);

static void s_storage_refused(s_run *run, bool sync, const char *why)
{
    if (sync)
        s_follow(run, DRV_JOB_EV_STORAGE_REFUSED, why);
    else
        s_feed_kind(run, DRV_JOB_EV_STORAGE_REFUSED, why);
}

static void s_mark_checked(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c->migrations, cb->job_id);
    if (run == NULL || c->migrations->stopping)
        return;
    if (!rep->ok) {
        g_autofree char *why =
            g_strdup_printf("host '%s' does not see the marker written by '%s' in %s: %s", host,
                            run->job->migrate.source, cb->pool_path, rep->message);
        s_storage_refused(run, false, why);
        return;
    }
    char *key = s_verified_key(run->job, cb->pool_path);
    int64_t *until = g_new(int64_t, 1);
    *until = ctl_wall_ms(c) + S_VERIFIED_TTL_MS;
    g_hash_table_replace(c->migrations->verified, key, until);
    drv_info("job '%s': %s is shared between '%s' and '%s' (marker read back)", run->job->id,
             cb->pool_path, run->job->migrate.source, host);
    run->verify_i++;
    s_verify_next(run, false);
}

static void s_mark_written(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c->migrations, cb->job_id);
    if (run == NULL || c->migrations->stopping)
        return;
    if (!rep->ok) {
        g_autofree char *why = g_strdup_printf("host '%s' cannot write a marker in %s: %s", host,
                                               cb->pool_path, rep->message);
        s_storage_refused(run, false, why);
        return;
    }
    s_cb *next = s_cb_new(run);
    next->pool_path = g_strdup(cb->pool_path);
    ctl_cmd cmd = {.kind = CTL_CMD_STORAGE_MARK_CHECK,
                   .domain = run->job->migrate.domain,
                   .path = cb->pool_path,
                   .name = run->job->id,
                   .xml = rep->message};
    drv_error *err = NULL;
    if (ctl_send(c, run->job->migrate.destination, &cmd, s_mark_checked, next, s_cb_free, &err) <
        0) {
        s_cb_free(next);
        s_storage_refused(run, false, err->message);
        drv_error_destroy(&err);
    }
}

/* Verifies the pools from verify_i on; answers STORAGE_VERIFIED or STORAGE_REFUSED (as a follow-up
 * when sync, i.e. called while performing actions, else fed at once). */
static void s_verify_next(s_run *run, bool sync)
{
    ctl *c = run->mod->c;
    if (run->pools == NULL) {
        s_storage_refused(run, sync, "the domain's storage pools are not known on both hosts");
        return;
    }
    while (run->verify_i < run->pools->len) {
        const ctl_mig_pool *p = g_ptr_array_index(run->pools, run->verify_i);
        g_autofree char *key = s_verified_key(run->job, p->path);
        const int64_t *until = g_hash_table_lookup(run->mod->verified, key);
        if (until == NULL || *until < ctl_wall_ms(c))
            break;
        drv_debug("job '%s': %s verified as shared recently", run->job->id, p->path);
        run->verify_i++;
    }
    if (run->verify_i >= run->pools->len) {
        run->unsafe = run->pools->len > 0;
        if (sync)
            s_follow(run, DRV_JOB_EV_STORAGE_VERIFIED, NULL);
        else
            s_feed_kind(run, DRV_JOB_EV_STORAGE_VERIFIED, NULL);
        return;
    }
    const ctl_mig_pool *p = g_ptr_array_index(run->pools, run->verify_i);
    s_cb *cb = s_cb_new(run);
    cb->pool_path = g_strdup(p->path);
    ctl_cmd cmd = {.kind = CTL_CMD_STORAGE_MARK_WRITE,
                   .domain = run->job->migrate.domain,
                   .path = p->path,
                   .name = run->job->id};
    drv_error *err = NULL;
    if (ctl_send(c, run->job->migrate.source, &cmd, s_mark_written, cb, s_cb_free, &err) < 0) {
        s_cb_free(cb);
        s_storage_refused(run, sync, err->message);
        drv_error_destroy(&err);
    }
}

/* ------------------------------------------------------------------ link estimates */

/* links/ read on the etcd worker when this controller started leading. */
static void s_links_loaded(ctl *c, drv_link_table **links, const drv_error *err)
{
    s_mod *m = s_mod_get(c);
    m->loading_links = false;
    if (m->stopping || !m->gate.leading)
        return; /* stepped down meanwhile: loaded again when leading */
    if (err != NULL) {
        drv_warn("loading the link estimates: %s; retrying", err->message);
        return;
    }
    drv_link_table_destroy(&m->links);
    m->links = g_steal_pointer(links);
    drv_info("link estimates loaded: %zu host pairs", drv_link_table_size(m->links));
}

/* A completed migration is a sample of its host pair's link (jobs/link_bw.h): smoothed into the
 * estimate, which goes to etcd. */
static void s_link_record(s_run *run, const ctl_migrate_result *r)
{
    const drv_job_migrate *jm = &run->job->migrate;
    if (run->mod->links == NULL) {
        drv_info("job '%s': link estimates not loaded yet; this migration is not a sample",
                 run->job->id);
        return;
    }
    /* the whole migration as the agent's call took it (set-up + transfer); libvirt's own elapsed
     * time when an older agent sent no stage times */
    uint64_t whole = r->setup_ms + r->transfer_ms;
    drv_link_sample smp = {
        .bytes = r->data_processed,
        .transfer_ms = r->transfer_ms,
        .time_ms = whole > 0 ? whole : r->time_elapsed_ms,
        .downtime_ms = r->downtime_ms,
        .cap_bps = jm->policy.bandwidth_mibs * 1024ULL * 1024ULL,
    };
    drv_link_use use;
    drv_link_est est;
    g_autofree char *evicted =
        drv_link_table_update(run->mod->links, jm->source, jm->destination, &smp,
                              (uint64_t)ctl_wall_ms(run->mod->c), &use, &est);
    static const char *const uses[] = {"a bandwidth sample", "a lower bound (at the cap)",
                                       "too small to time (fixed cost only)"};
    drv_info("job '%s': link '%s' → '%s': %s; now %" PRIu64 " B/s (%u samples), fixed cost %" PRIu64
             " ms",
             run->job->id, jm->source, jm->destination, uses[use], est.bandwidth_bps, est.samples,
             est.fixed_ms);
    drv_error *err = NULL;
    if (ctl_link_store_put(run->mod->c, jm->source, jm->destination, &est, &err) < 0)
        drv_error_destroy(&err);
    if (evicted != NULL && ctl_link_store_delete(run->mod->c, evicted, &err) < 0)
        drv_error_destroy(&err);
}

bool ctl_migrate_last_dirty_rate(const ctl *c, const char *domain, uint64_t *ret_bps)
{
    const s_mod *m = c->migrations;
    const uint64_t *box = m != NULL ? g_hash_table_lookup(m->dirty, domain) : NULL;
    *ret_bps = box ? *box : 0;
    return box != NULL;
}

const drv_link_est *ctl_migrate_link(const ctl *c, const char *source, const char *destination)
{
    const s_mod *m = c->migrations;
    return m != NULL && m->links != NULL ? drv_link_table_get(m->links, source, destination) : NULL;
}

/* The stage times and the agent's prediction into the job's result, with its error against
 * the measured call (set-up + transfer). */
static void s_result_prediction(s_run *run, const ctl_migrate_result *r, drv_job_result *res)
{
    res->dirty_rate_bps = r->dirty_rate_bps;
    if (r->dirty_rate_source != NULL && *r->dirty_rate_source != '\0') {
        uint64_t *box = g_new(uint64_t, 1);
        *box = r->dirty_rate_bps;
        g_hash_table_replace(run->mod->dirty, g_strdup(run->job->migrate.domain), box);
    }
    res->setup_ms = r->setup_ms;
    res->transfer_ms = r->transfer_ms;
    drv_predict_verdict v;
    if (r->predicted_verdict == NULL || *r->predicted_verdict == '\0' ||
        drv_predict_verdict_from_string(r->predicted_verdict, &v) < 0)
        return;
    res->predicted = true;
    res->verdict = (uint8_t)v;
    res->throttle_pct = r->predicted_throttle_pct;
    res->applied_auto_converge = r->applied_auto_converge;
    res->applied_postcopy = r->applied_postcopy;
    res->predicted_time_ms = r->predicted_time_ms;
    res->predicted_downtime_ms = r->predicted_downtime_ms;
    res->predicted_bytes = r->predicted_bytes;
    uint64_t measured = r->setup_ms + r->transfer_ms;
    res->time_error_permille = drv_predict_error_permille(r->predicted_time_ms, measured);
    res->downtime_error_permille =
        drv_predict_error_permille(r->predicted_downtime_ms, r->downtime_ms);
    drv_info("job '%s': predicted %s%s in %" PRIu64 " ms (pause %" PRIu64 " ms), measured %" PRIu64
             " ms (pause %" PRIu64 " ms): time error %u.%u %%; applied%s%s (%s)",
             run->job->id, r->predicted_verdict, r->predicted_throttle_pct ? " (throttled)" : "",
             r->predicted_time_ms, r->predicted_downtime_ms, measured, r->downtime_ms,
             res->time_error_permille / 10, res->time_error_permille % 10,
             r->applied_auto_converge ? " auto-converge" : "",
             r->applied_postcopy ? " post-copy allowed" : " pre-copy only",
             r->predicted_reason ? r->predicted_reason : "");
}

/* ------------------------------------------------------------------ migrate, cancel */

static void s_migrated(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c->migrations, cb->job_id);
    if (run == NULL || c->migrations->stopping)
        return;
    run->migrate_pending = false;
    drv_job_event ev = {.message = rep->message};
    if (rep->synthesized) {
        /* the agent never answered (unreachable, restarted): find out where the domain is */
        drv_warn("job '%s': %s; locating the domain", run->job->id, rep->message);
        ev.kind = DRV_JOB_EV_RESTARTED;
    } else if (rep->ok) {
        ev.kind = DRV_JOB_EV_RESULT_OK;
        if (rep->migrate != NULL) {
            ev.result.downtime_ms = rep->migrate->downtime_ms;
            ev.result.time_ms = rep->migrate->time_elapsed_ms;
            ev.result.bytes = rep->migrate->data_processed;
            ev.result.postcopy_used = rep->migrate->postcopy_used;
            s_result_prediction(run, rep->migrate, &ev.result);
            drv_info("job '%s': stages: dirty rate %" PRIu64 " B/s (%s, %" PRIu64
                     " ms), set-up %" PRIu64 " ms, transfer %" PRIu64
                     " ms, destination stats %" PRIu64 " ms; %" PRIu64 " bytes at %" PRIu64
                     " B/s, pause %" PRIu64 " ms",
                     run->job->id, rep->migrate->dirty_rate_bps,
                     rep->migrate->dirty_rate_source && *rep->migrate->dirty_rate_source
                         ? rep->migrate->dirty_rate_source
                         : "none",
                     rep->migrate->dirty_calc_ms, rep->migrate->setup_ms, rep->migrate->transfer_ms,
                     rep->migrate->dest_stats_ms, rep->migrate->data_processed,
                     rep->migrate->memory_bps, rep->migrate->downtime_ms);
            s_link_record(run, rep->migrate);
        }
    } else if (rep->migrate != NULL && rep->migrate->cancelled && !rep->timed_out) {
        ev.kind = DRV_JOB_EV_RESULT_CANCELLED;
    } else {
        ev.kind = DRV_JOB_EV_RESULT_FAILED;
    }
    drv_info("job '%s': migration on host '%s' answered: %s%s%s", run->job->id, host,
             rep->ok ? "ok" : "failed", rep->ok ? "" : ": ", rep->ok ? "" : rep->message);
    s_feed(run, &ev);
}

static void s_migrate(s_run *run)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    const ctl_host *dst = ctl_model_host(c->model, m->destination);
    ctl_migrate_params mp = {
        .dest_uri = dst ? dst->facts.migration_uri : NULL,
        .dest_host = m->destination,
        .max_downtime_ms = m->policy.max_downtime_ms,
        .bandwidth_mibs = m->policy.bandwidth_mibs,
        .auto_converge = m->policy.auto_converge,
        .postcopy = m->policy.postcopy,
        .timeout_s = m->policy.timeout_s,
        .unsafe = run->unsafe,
        /* issue 15: measure the guest's dirty rate first when the policy leaves a choice (the
         * prediction's input; ~1 s, so not for a plain pre-copy) */
        .dirty_rate_calc_s = m->policy.auto_converge || m->policy.postcopy ? 1 : 0,
        /* and predict with it and the pair's link estimate, keeping the allowed policy the
         * prediction picks (the agent runs jobs/migrate_predict.c once it has measured) */
        .choose_policy = m->policy.auto_converge || m->policy.postcopy,
    };
    const drv_link_est *link = ctl_migrate_link(c, m->source, m->destination);
    if (link != NULL) {
        mp.link_bandwidth_bps = link->bandwidth_bps;
        mp.link_fixed_ms = link->fixed_ms;
    }
    if (mp.dest_uri == NULL) {
        s_follow(run, DRV_JOB_EV_RESULT_FAILED, "the destination reported no migration URI");
        return;
    }
    uint32_t wait_ms = m->policy.timeout_s > 0 && m->policy.timeout_s < 3600u * 24u
                           ? m->policy.timeout_s * 1000u + DRV_JOB_GRACE_MS / 2
                           : S_MIGRATE_NO_TIMEOUT_MS;
    ctl_cmd cmd = {.kind = CTL_CMD_MIGRATE,
                   .domain = m->domain,
                   .migrate = &mp,
                   .job_id = run->job->id,
                   .timeout_ms = wait_ms};
    s_cb *cb = s_cb_new(run);
    drv_error *err = NULL;
    if (ctl_send(c, m->source, &cmd, s_migrated, cb, s_cb_free, &err) < 0) {
        s_cb_free(cb);
        s_follow(run, DRV_JOB_EV_RESULT_FAILED, err->message);
        drv_error_destroy(&err);
        return;
    }
    run->migrate_pending = true;
    drv_info("job '%s': migrating '%s' from '%s' to '%s' (%s%s)", run->job->id, m->domain,
             m->source, m->destination, mp.dest_uri, mp.unsafe ? ", storage verified shared" : "");
}

static void s_log_reply(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    if (!rep->ok)
        drv_info("%s on host '%s': %s", (const char *)data, host, rep->message);
}

static void s_cancel(s_run *run)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    ctl_cmd cmd = {.kind = CTL_CMD_MIGRATE_CANCEL, .domain = m->domain, .job_id = run->job->id};
    g_autofree char *what = g_strdup_printf("job '%s': cancel", run->job->id);
    drv_error *err = NULL;
    if (ctl_send(c, m->source, &cmd, s_log_reply, g_steal_pointer(&what), g_free, &err) < 0) {
        drv_warn("job '%s': cancel: %s", run->job->id, err->message);
        drv_error_destroy(&err);
    }
}

/* ------------------------------------------------------------------ locate */

static void s_locate(s_run *run);

static void s_located(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c->migrations, cb->job_id);
    (void)host;
    if (run == NULL || c->migrations->stopping || cb->gen != run->loc_gen)
        return;
    s_where w = rep->ok                                        ? S_PRESENT
                : g_strcmp0(rep->error_kind, "not-found") == 0 ? S_ABSENT
                                                               : S_UNKNOWN;
    if (cb->is_dest)
        run->loc_dst = w;
    else
        run->loc_src = w;
    if (++run->loc_answers < 2)
        return;
    if (run->loc_src == S_UNKNOWN || run->loc_dst == S_UNKNOWN) {
        run->loc_retry_ms = ctl_now_ms(c) + S_LOCATE_RETRY_MS;
        return;
    }
    drv_job_event ev = {.kind = DRV_JOB_EV_DOMAIN_FOUND};
    if (run->loc_src == S_PRESENT && run->loc_dst == S_PRESENT)
        ev.where = DRV_JOB_WHERE_MIGRATING;
    else if (run->loc_dst == S_PRESENT)
        ev.where = DRV_JOB_WHERE_DESTINATION;
    else if (run->loc_src == S_PRESENT)
        ev.where = DRV_JOB_WHERE_SOURCE;
    else
        ev.where = DRV_JOB_WHERE_NOWHERE;
    drv_info("job '%s': domain '%s' located: %s", run->job->id, run->job->migrate.domain,
             drv_job_where_to_string(ev.where));
    s_feed(run, &ev);
}

static void s_locate(s_run *run)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    run->loc_gen++;
    run->loc_answers = 0;
    run->loc_src = run->loc_dst = S_UNKNOWN;
    run->loc_retry_ms = 0;
    for (int i = 0; i < 2; i++) {
        const char *host = i == 0 ? m->source : m->destination;
        s_cb *cb = s_cb_new(run);
        cb->gen = run->loc_gen;
        cb->is_dest = i == 1;
        ctl_cmd cmd = {.kind = CTL_CMD_DOMSTATS, .domain = m->domain};
        drv_error *err = NULL;
        if (ctl_send(c, host, &cmd, s_located, cb, s_cb_free, &err) < 0) {
            drv_debug("job '%s': locate on '%s': %s", run->job->id, host, err->message);
            drv_error_destroy(&err);
            s_cb_free(cb);
            run->loc_gen++; /* answers of this round no longer count */
            run->loc_retry_ms = ctl_now_ms(c) + S_LOCATE_RETRY_MS;
            return;
        }
    }
}

/* ------------------------------------------------------------------ placement, snapshots */

/* Recording where a migrated domain now runs: on the etcd worker, retried after a lost compare or
 * while etcd is away (the domain stays busy until it is recorded, so nothing acts on the old
 * placement meanwhile). */
typedef struct {
    char *job_id;
    char *domain;
    char *destination;
    int attempts;
} s_place_req;

static void s_place_req_free(gpointer p)
{
    s_place_req *q = p;
    g_free(q->job_id);
    g_free(q->domain);
    g_free(q->destination);
    g_free(q);
}

static void s_place_submit(ctl *c, s_place_req *q);

static void s_placing_done(ctl *c, const char *domain)
{
    if (c->migrations != NULL)
        g_hash_table_remove(c->migrations->placing, domain);
    ctl_model_set_busy(c->model, domain, NULL);
}

static void s_placed(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted, void *data)
{
    s_place_req *q = data;
    if (err == NULL) {
        drv_info("domain '%s' placed on host '%s' (migrated by job '%s')", q->domain,
                 q->destination, q->job_id);
        if (stored != NULL)
            ctl_events_domain(c, stored, "placed");
        s_placing_done(c, q->domain);
        return;
    }
    drv_warn("job '%s': placing '%s' on '%s': %s", q->job_id, q->domain, q->destination,
             err->message);
    s_place_req *again = g_new0(s_place_req, 1);
    again->job_id = g_strdup(q->job_id);
    again->domain = g_strdup(q->domain);
    again->destination = g_strdup(q->destination);
    again->attempts = q->attempts;
    s_place_submit(c, again);
}

static void s_place_submit(ctl *c, s_place_req *q)
{
    ctl_domain *d = ctl_model_domain(c->model, q->domain);
    if (d == NULL) {
        drv_warn("job '%s': domain '%s' was undefined meanwhile", q->job_id, q->domain);
        s_placing_done(c, q->domain);
        s_place_req_free(q);
        return;
    }
    if (g_strcmp0(d->host, q->destination) == 0 || ++q->attempts > 20) {
        if (q->attempts > 20)
            drv_warn("job '%s': gave up recording '%s' on '%s'; it shows as drift until edited",
                     q->job_id, q->domain, q->destination);
        s_placing_done(c, q->domain);
        s_place_req_free(q);
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    g_free(copy->host);
    copy->host = g_strdup(q->destination);
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_placed, q, s_place_req_free, &err) <
        0) {
        drv_warn("job '%s': placing '%s' on '%s': %s", q->job_id, q->domain, q->destination,
                 err->message);
        drv_error_destroy(&err);
        s_placing_done(c, q->domain);
    }
}

static void s_set_placement(s_run *run)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    s_place_req *q = g_new0(s_place_req, 1);
    q->job_id = g_strdup(run->job->id);
    q->domain = g_strdup(m->domain);
    q->destination = g_strdup(m->destination);
    ctl_model_set_busy(c->model, m->domain, "migrate");
    g_hash_table_add(run->mod->placing, g_strdup(m->domain));
    s_place_submit(c, q);
}

static void s_redefine_next(s_run *run, bool from_callback);

static void s_redefined(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c->migrations, cb->job_id);
    if (run == NULL || c->migrations->stopping)
        return;
    if (!rep->ok)
        drv_warn("job '%s': redefining snapshot %s on host '%s': %s", run->job->id, cb->pool_path,
                 host, rep->message);
    s_redefine_next(run, true);
}

/* Redefines the next snapshot on the destination; when none is left, performing goes on (from a
 * callback; when called while performing, the caller goes on). */
static void s_redefine_next(s_run *run, bool from_callback)
{
    ctl *c = run->mod->c;
    const drv_job_migrate *m = &run->job->migrate;
    while (run->redefine != NULL && run->redefine->len > 0) {
        ctl_snapshot *s = g_ptr_array_index(run->redefine, 0);
        if (s->xml == NULL) {
            g_ptr_array_remove_index(run->redefine, 0);
            continue;
        }
        s_cb *cb = s_cb_new(run);
        cb->pool_path = g_strdup(s->name);
        ctl_cmd cmd = {.kind = CTL_CMD_SNAPSHOT_REDEFINE,
                       .domain = m->domain,
                       .name = s->name,
                       .xml = s->xml,
                       .current = s->current};
        drv_error *err = NULL;
        int rc = ctl_send(c, m->destination, &cmd, s_redefined, cb, s_cb_free, &err);
        g_ptr_array_remove_index(run->redefine, 0);
        if (rc == 0)
            return;
        s_cb_free(cb);
        drv_warn("job '%s': redefining snapshot: %s", run->job->id, err->message);
        drv_error_destroy(&err);
    }
    run->waiting = 0;
    if (from_callback)
        s_resume(run);
}

static gint s_snap_order(gconstpointer a, gconstpointer b)
{
    const ctl_snapshot *x = *(ctl_snapshot *const *)a, *y = *(ctl_snapshot *const *)b;
    if (x->creation_time != y->creation_time)
        return x->creation_time < y->creation_time ? -1 : 1;
    return g_strcmp0(x->name, y->name);
}

/* The stored snapshots, read on the etcd worker: redefined on the destination, parents (older)
 * first; then performing goes on. */
static void s_redefine_listed(ctl *c, GPtrArray *snaps, const drv_error *err, void *data)
{
    s_run *run = s_find(c->migrations, data);
    if (run == NULL || c->migrations->stopping)
        return;
    if (err != NULL) {
        drv_warn("job '%s': snapshots of '%s': %s", run->job->id, run->job->migrate.domain,
                 err->message);
        snaps = NULL;
    }
    if (snaps == NULL || snaps->len == 0) {
        run->waiting = 0;
        s_resume(run);
        return;
    }
    g_ptr_array_sort(snaps, s_snap_order);
    if (run->redefine)
        g_ptr_array_unref(run->redefine);
    run->redefine = g_ptr_array_ref(snaps);
    drv_info("job '%s': redefining %u snapshots of '%s' on host '%s'", run->job->id, snaps->len,
             run->job->migrate.domain, run->job->migrate.destination);
    s_redefine_next(run, true);
}

/* Starts redefining every stored snapshot on the destination. Returns true when performing must
 * wait (the snapshots are read, then redefined). */
static bool s_redefine(s_run *run)
{
    ctl *c = run->mod->c;
    drv_error *err = NULL;
    run->waiting = 1;
    if (ctl_snap_async_list(c, run->job->migrate.domain, s_redefine_listed, g_strdup(run->job->id),
                            g_free, &err) < 0) {
        drv_warn("job '%s': snapshots of '%s': %s", run->job->id, run->job->migrate.domain,
                 err->message);
        drv_error_destroy(&err);
        run->waiting = 0;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ performing actions */

/* Performs run's pending actions in order until one must wait for agents (REDEFINE_SNAPSHOTS). */
static void s_continue(s_run *run)
{
    ctl *c = run->mod->c;
    while (run->acts != NULL && run->act_i < drv_job_actions_len(run->acts) && run->waiting == 0) {
        const drv_job_action *a = drv_job_actions_get(run->acts, run->act_i++);
        drv_error *err = NULL;
        switch (a->kind) {
        case DRV_JOB_ACT_RESERVE:
            s_reserve(run);
            break;
        case DRV_JOB_ACT_VERIFY_STORAGE:
            run->verify_i = 0;
            s_verify_next(run, true);
            break;
        case DRV_JOB_ACT_MIGRATE:
            s_migrate(run);
            break;
        case DRV_JOB_ACT_CANCEL:
            s_cancel(run);
            break;
        case DRV_JOB_ACT_LOCATE:
            s_locate(run);
            break;
        case DRV_JOB_ACT_RELEASE:
            s_release(c, a->reservation_id);
            break;
        case DRV_JOB_ACT_SET_PLACEMENT:
            s_set_placement(run);
            break;
        case DRV_JOB_ACT_REDEFINE_SNAPSHOTS:
            if (s_redefine(run))
                return;
            break;
        case DRV_JOB_ACT_PUBLISH:
            s_publish(c, run->job, a->message);
            break;
        case DRV_JOB_ACT_PERSIST:
            if (ctl_job_store_put(c, run->job, &err) < 0) {
                drv_warn("%s", err->message);
                drv_error_destroy(&err);
            }
            break;
        default:
            drv_debug("job '%s': action %s does not apply to a migration", run->job->id,
                      drv_job_action_kind_to_string(a->kind));
            break;
        }
    }
    /* a placement still on its way to etcd keeps the domain busy until it is recorded */
    if (drv_job_state_is_terminal(run->job->state) &&
        !g_hash_table_contains(run->mod->placing, run->job->migrate.domain))
        ctl_model_set_busy(c->model, run->job->migrate.domain, NULL);
}

/* ------------------------------------------------------------------ starting and taking over */

char *ctl_migrate_start(ctl *c, const ctl_domain *d, const ctl_mig_plan *plan,
                        const drv_job_policy *policy, drv_error **err)
{
    s_mod *m = s_mod_get(c);
    g_autofree char *uuid = g_uuid_string_random();
    g_autofree char *id = g_strdup_printf("mig-%.8s", uuid);
    drv_job *job = NULL;
    /* no --timeout: one that grows with the guest's memory (never a migration without an end) */
    drv_job_policy pol = drv_job_migrate_policy_with_default(policy, d->memory_kib);
    if (drv_job_migrate_new(id, d->name, d->host, plan->destination, &pol, c->instance,
                            (uint64_t)ctl_wall_ms(c), &job, err) < 0)
        return NULL;
    s_run *run = g_new0(s_run, 1);
    run->mod = m;
    run->job = job;
    run->pools = g_ptr_array_ref(plan->pools);
    g_hash_table_replace(m->runs, job->id, run);
    ctl_model_set_busy(c->model, d->name, "migrate");
    drv_info("job '%s': migrate '%s' from '%s' to '%s'", job->id, d->name, d->host,
             plan->destination);
    s_feed_kind(run, DRV_JOB_EV_START, NULL);
    return g_steal_pointer(&id);
}

/* A stored job this controller drives from now on (take-over or resume; takes j): owned, its
 * domain marked busy, the storage pools it uses known. */
static s_run *s_adopt(ctl *c, s_mod *m, drv_job *j)
{
    s_run *run = g_new0(s_run, 1);
    run->mod = m;
    run->job = j;
    drv_job_set_owner(j, c->instance);
    ctl_domain *d = ctl_model_domain(c->model, j->migrate.domain);
    if (d != NULL) {
        drv_error *e = NULL;
        run->pools = ctl_mig_pools(c, d, j->migrate.source, j->migrate.destination, &e);
        if (e != NULL) {
            drv_info("job '%s': %s", j->id, e->message);
            drv_error_destroy(&e);
        }
        ctl_model_set_busy(c->model, d->name, "migrate");
    }
    g_hash_table_replace(m->runs, j->id, run);
    return run;
}

static bool s_may_lead(ctl *c)
{
    return !s_mod_get(c)->stopping && ctl_is_leader(c) && c->loaded && ctl_agents_bound(c);
}

static guint s_gate_count(ctl *c)
{
    return g_hash_table_size(s_mod_get(c)->runs);
}

static void s_gate_drop(ctl *c)
{
    s_mod *m = s_mod_get(c);
    g_hash_table_remove_all(m->runs);
    g_hash_table_remove_all(m->resv);
    drv_link_table_destroy(&m->links); /* the next leader writes them */
}

static void s_taken_over(ctl *c, GPtrArray *jobs, GPtrArray *resv, const drv_error *err,
                         void *data);

static int s_gate_list(ctl *c, drv_error **err)
{
    return ctl_job_store_list_with_resv_async(c, s_taken_over, NULL, NULL, err);
}

static const ctl_takeover_ops s_gate_ops = {"migration jobs", s_gate_count, s_gate_drop,
                                            s_gate_list};

/* Reservations and jobs read from etcd (on the etcd worker): reaps reservations whose job is
 * terminal or missing, resumes every migration job still in flight. */
static void s_taken_over(ctl *c, GPtrArray *jobs, GPtrArray *resv, const drv_error *err, void *data)
{
    (void)data;
    s_mod *m = s_mod_get(c);
    if (!ctl_takeover_gate_listed(&m->gate, &s_gate_ops, c, s_may_lead(c), err))
        return;
    /* marks left from before match the stored jobs and this process's live migrations */
    GPtrArray *live = ctl_migrate_live_all(c);
    guint cleared = ctl_job_busy_refresh(c->model, jobs, live);
    g_ptr_array_unref(live);
    if (cleared > 0)
        drv_info("%u domain%s no longer busy: no stored job moves them any more", cleared,
                 cleared == 1 ? "" : "s");
    GHashTable *by_id = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < jobs->len; i++) {
        drv_job *j = g_ptr_array_index(jobs, i);
        g_hash_table_replace(by_id, j->id, j);
    }
    g_hash_table_remove_all(m->resv);
    for (guint i = 0; i < resv->len; i++) {
        ctl_mig_resv *r = g_ptr_array_index(resv, i);
        drv_job *j = r->job_id ? g_hash_table_lookup(by_id, r->job_id) : NULL;
        if (j == NULL || drv_job_state_is_terminal(j->state) || r->host == NULL) {
            drv_info("reservation '%s' on host '%s' reaped: its job %s", r->id,
                     r->host ? r->host : "?", j == NULL ? "is gone" : "has ended");
            drv_error *e = NULL;
            if (ctl_job_store_delete_resv(c, r->id, &e) < 0) {
                drv_warn("%s", e->message);
                drv_error_destroy(&e);
            }
            continue;
        }
        g_ptr_array_index(resv, i) = NULL;
        g_hash_table_replace(m->resv, r->id, r);
    }
    for (guint i = 0; i < jobs->len; i++) {
        drv_job *j = g_ptr_array_index(jobs, i);
        if (j->kind != DRV_JOB_KIND_MIGRATE || drv_job_state_is_terminal(j->state) ||
            g_hash_table_contains(m->runs, j->id))
            continue;
        /* a drain's migrations are driven by the drain executor */
        if (strchr(j->id, ':') != NULL)
            continue;
        g_ptr_array_index(jobs, i) = NULL;
        s_run *run = s_adopt(c, m, j);
        drv_info("job '%s' (migrate '%s' %s → %s, %s) taken over", j->id, j->migrate.domain,
                 j->migrate.source, j->migrate.destination,
                 drv_job_phase_to_string(j->migrate.phase));
        s_feed_kind(run,
                    j->migrate.phase == DRV_JOB_PHASE_NEW ? DRV_JOB_EV_START : DRV_JOB_EV_RESTARTED,
                    NULL);
    }
    g_hash_table_unref(by_id);
    ctl_takeover_gate_open(&m->gate);
}

int64_t ctl_migrate_tick(ctl *c, int64_t now_ms)
{
    s_mod *m = s_mod_get(c);
    if (m->stopping)
        return 1000;
    int64_t wait = ctl_takeover_gate_tick(&m->gate, &s_gate_ops, c, now_ms, s_may_lead(c));
    if (wait > 0)
        return wait;
    if (m->links == NULL && !m->loading_links) {
        drv_error *err = NULL;
        if (ctl_link_store_load_async(c, s_links_loaded, &err) < 0) {
            drv_warn("loading the link estimates: %s; retrying", err->message);
            drv_error_destroy(&err);
        } else {
            m->loading_links = true;
        }
    }
    int64_t next = 1000;
    uint64_t wall = (uint64_t)ctl_wall_ms(c);
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, m->runs);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(ids, g_strdup(k));
    for (guint i = 0; i < ids->len; i++) {
        s_run *run = s_find(m, g_ptr_array_index(ids, i));
        if (run == NULL)
            continue;
        if (run->loc_retry_ms != 0 && now_ms >= run->loc_retry_ms &&
            run->job->migrate.phase == DRV_JOB_PHASE_LOCATING) {
            s_locate(run);
            continue;
        }
        if (run->job->migrate.phase == DRV_JOB_PHASE_MIGRATING && !run->migrate_pending) {
            /* the agent's result goes to the controller that sent the command: follow the
             * domain instead */
            if (run->relocate_ms == 0)
                run->relocate_ms = now_ms + S_RELOCATE_MS;
            if (now_ms >= run->relocate_ms) {
                run->relocate_ms = 0;
                s_feed_kind(run, DRV_JOB_EV_RESTARTED, NULL);
                continue;
            }
        }
        uint64_t dl = drv_job_migrate_deadline_ms(run->job);
        if (dl != 0 && wall >= dl) {
            drv_info("job '%s': deadline of phase %s passed", run->job->id,
                     drv_job_phase_to_string(run->job->migrate.phase));
            s_feed_kind(run, DRV_JOB_EV_TIMEOUT, NULL);
        } else if (dl != 0 && (int64_t)(dl - wall) < next) {
            next = (int64_t)(dl - wall);
        }
    }
    g_ptr_array_unref(ids);
    return next < 10 ? 10 : next;
}

void ctl_migrate_on_progress(ctl *c, const char *host_id, const ctl_migrate_progress *p)
{
    s_run *run = s_find(c->migrations, p->job_id);
    if (run == NULL || g_strcmp0(run->job->migrate.source, host_id) != 0)
        return;
    drv_job_event ev = {.kind = DRV_JOB_EV_PROGRESS};
    ev.progress.data_total = p->data_total;
    ev.progress.data_processed = p->data_processed;
    ev.progress.data_remaining = p->data_remaining;
    ev.progress.memory_bps = p->memory_bps;
    ev.progress.iteration = p->iteration;
    ev.progress.elapsed_ms = p->elapsed_ms;
    s_feed(run, &ev);
}

int ctl_migrate_cancel(ctl *c, const char *job_id)
{
    s_run *run = s_find(c->migrations, job_id);
    if (run == NULL)
        return 0;
    drv_info("job '%s': cancel requested", job_id);
    s_feed_kind(run, DRV_JOB_EV_CANCEL, NULL);
    return 1;
}

const drv_job *ctl_migrate_live(const ctl *c, const char *job_id)
{
    s_run *run = s_find(c->migrations, job_id);
    return run ? run->job : NULL;
}

GPtrArray *ctl_migrate_live_all(const ctl *c)
{
    GPtrArray *out = g_ptr_array_new();
    if (c->migrations == NULL)
        return out;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->migrations->runs);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(out, ((s_run *)v)->job);
    return out;
}

void ctl_migrate_shutdown(ctl *c)
{
    s_mod *m = c->migrations;
    if (m == NULL)
        return;
    m->stopping = true;
    g_hash_table_unref(m->runs);
    g_hash_table_unref(m->resv);
    g_hash_table_unref(m->verified);
    g_hash_table_unref(m->placing);
    drv_link_table_destroy(&m->links);
    g_hash_table_unref(m->dirty);
    g_clear_pointer(&c->migrations, g_free);
}

/* ------------------------------------------------------------------ launching from other runners
 * (migrate_launch.h: drains run their moves as child migration jobs) */

void ctl_migrate_set_end_hook(ctl *c, ctl_migrate_end_fn fn, void *ctx)
{
    if (fn == NULL && c->migrations == NULL)
        return; /* nothing to clear (and no runner to create for it) */
    s_mod *m = s_mod_get(c);
    m->end_hook = fn;
    m->end_ctx = ctx;
}

void ctl_migrate_ended_hook(ctl *c, const drv_job *job)
{
    const s_mod *m = c->migrations;
    if (m != NULL && m->end_hook != NULL)
        m->end_hook(c, job, m->end_ctx);
}

int ctl_migrate_launch(ctl *c, const char *job_id, const char *domain, const char *destination,
                       const drv_job_policy *policy, drv_error **err)
{
    s_mod *m = s_mod_get(c);
    if (g_hash_table_contains(m->runs, job_id))
        return drv_error_set(err, DRV_ERR_EXISTS, 0, "job '%s' is already running", job_id);
    ctl_domain *d = ctl_model_domain(c->model, domain);
    if (d == NULL)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain '%s' not found", domain);
    if (d->busy != NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0, "domain '%s': a %s is already in progress",
                             d->name, d->busy);
    const char *state, *reason;
    ctl_model_domain_state(c->model, d, &state, &reason);
    if (d->host == NULL || (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0))
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s' is %s; only a running or paused domain migrates live",
                             d->name, d->host ? state : "not placed");
    if (!ctl_host_up(c, d->host))
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "domain '%s': its host '%s' is unreachable", d->name, d->host);
    ctl_mig_plan plan = {0};
    if (ctl_mig_check(c, d, destination, &plan, err) < 0)
        return -1;
    drv_job_policy pol = drv_job_migrate_policy_with_default(policy, d->memory_kib);
    drv_job *job = NULL;
    if (drv_job_migrate_new(job_id, d->name, d->host, plan.destination, &pol, c->instance,
                            (uint64_t)ctl_wall_ms(c), &job, err) < 0) {
        ctl_mig_plan_clear(&plan);
        return -1;
    }
    s_run *run = g_new0(s_run, 1);
    run->mod = m;
    run->job = job;
    run->pools = g_ptr_array_ref(plan.pools);
    ctl_mig_plan_clear(&plan);
    g_hash_table_replace(m->runs, job->id, run);
    ctl_model_set_busy(c->model, d->name, "migrate");
    drv_info("job '%s': migrate '%s' from '%s' to '%s'", job->id, job->migrate.domain,
             job->migrate.source, job->migrate.destination);
    s_feed_kind(run, DRV_JOB_EV_START, NULL);
    return 0;
}

int ctl_migrate_resume(ctl *c, drv_job *j)
{
    s_mod *m = s_mod_get(c);
    if (j == NULL)
        return 0;
    if (j->kind != DRV_JOB_KIND_MIGRATE || drv_job_state_is_terminal(j->state) ||
        g_hash_table_contains(m->runs, j->id)) {
        drv_job_destroy(&j);
        return 0;
    }
    s_run *run = s_adopt(c, m, j);
    drv_info("job '%s' (migrate '%s' %s → %s, %s) resumed", j->id, j->migrate.domain,
             j->migrate.source, j->migrate.destination, drv_job_phase_to_string(j->migrate.phase));
    s_feed_kind(
        run, j->migrate.phase == DRV_JOB_PHASE_NEW ? DRV_JOB_EV_START : DRV_JOB_EV_RESTARTED, NULL);
    return 1;
}

bool ctl_migrate_is_leading(const ctl *c)
{
    const s_mod *m = c->migrations;
    return m != NULL && m->gate.leading && !m->stopping;
}
