/* job_migrate.c — the live-migration job's state machine (see job_migrate.h for the diagram). */
#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "job_migrate.h"

int drv_job_migrate_new(const char *id, const char *domain, const char *source,
                        const char *destination, const drv_job_policy *policy, const char *owner,
                        uint64_t now_ms, drv_job **ret, drv_error **err)
{
    drv_job *job = drv_job_new(id, DRV_JOB_KIND_MIGRATE, owner, now_ms);
    job->migrate.domain = g_strdup(domain);
    job->migrate.source = g_strdup(source);
    job->migrate.destination = g_strdup(destination);
    job->migrate.reservation_id = g_strdup(id);
    if (policy)
        job->migrate.policy = *policy;
    job->migrate.phase = DRV_JOB_PHASE_NEW;
    job->migrate.phase_ms = now_ms;
    if (drv_job_validate(job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    *ret = job;
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Helpers. */

/* Appends an action of kind carrying the migration's identity. */
static drv_job_action *s_act(const drv_job *job, drv_job_actions *actions, drv_job_action_kind kind)
{
    const drv_job_migrate *m = &job->migrate;
    drv_job_action a = {
        .kind = kind,
        .job_id = job->id,
        .domain = m->domain,
        .source = m->source,
        .destination = m->destination,
        .reservation_id =
            kind == DRV_JOB_ACT_RESERVE || kind == DRV_JOB_ACT_RELEASE ? m->reservation_id : NULL,
    };
    return drv_job_actions_add(actions, &a);
}

static void s_publish(const drv_job *job, drv_job_actions *actions)
{
    const drv_job_migrate *m = &job->migrate;
    g_autofree char *msg = NULL;
    if (drv_job_state_is_terminal(job->state))
        msg = g_strdup_printf("migration of %s from %s to %s %s%s%s", m->domain, m->source,
                              m->destination, drv_job_state_to_string(job->state),
                              job->error ? ": " : "", job->error ? job->error : "");
    else
        msg = g_strdup_printf("migration of %s from %s to %s: %s", m->domain, m->source,
                              m->destination, drv_job_phase_to_string(m->phase));
    drv_job_action a = {
        .kind = DRV_JOB_ACT_PUBLISH, .job_id = job->id, .domain = m->domain, .message = msg};
    drv_job_actions_add(actions, &a);
}

static void s_enter(drv_job *job, drv_job_phase phase, uint64_t now_ms)
{
    job->migrate.phase = phase;
    job->migrate.phase_ms = now_ms;
    job->updated_ms = MAX(job->updated_ms, now_ms);
    if (phase == DRV_JOB_PHASE_LOCATING && job->migrate.locating_since_ms == 0)
        job->migrate.locating_since_ms = MAX(now_ms, 1);
}

/* A job is being aborted when the operator cancelled it or a timeout set its error. */
static bool s_aborting(const drv_job *job)
{
    return job->cancel_requested || job->error;
}

/* The one way into a terminal state: clean-up actions, then PERSIST and PUBLISH. */
static int s_finish(drv_job *job, drv_job_state state, const char *error, uint64_t now_ms,
                    drv_job_actions *actions)
{
    drv_job_migrate *m = &job->migrate;
    if (state == DRV_JOB_SUCCEEDED) {
        s_act(job, actions, DRV_JOB_ACT_SET_PLACEMENT);
        s_act(job, actions, DRV_JOB_ACT_REDEFINE_SNAPSHOTS);
    }
    if (m->reserved) {
        s_act(job, actions, DRV_JOB_ACT_RELEASE);
        m->reserved = false;
    }
    if (error != job->error) {
        g_free(job->error);
        job->error = g_strdup(error);
    }
    job->state = state;
    s_enter(job, DRV_JOB_PHASE_DONE, now_ms);
    s_act(job, actions, DRV_JOB_ACT_PERSIST);
    s_publish(job, actions);
    return 1;
}

/* Ends a job whose domain is known to be still on the source (nothing moved). */
static int s_finish_on_source(drv_job *job, const char *why, uint64_t now_ms,
                              drv_job_actions *actions)
{
    if (job->cancel_requested)
        return s_finish(job, DRV_JOB_CANCELLED, job->error ? job->error : why, now_ms, actions);
    if (job->error) { /* a timeout set it: keep it, add the detail */
        g_autofree char *e = why ? g_strdup_printf("%s (%s)", job->error, why) : NULL;
        return s_finish(job, DRV_JOB_FAILED, e ? e : job->error, now_ms, actions);
    }
    return s_finish(job, DRV_JOB_FAILED, why, now_ms, actions);
}

/* Whether the job has been locating for DRV_JOB_LOCATE_LIMIT_MS. */
static bool s_locate_expired(const drv_job *job, uint64_t now_ms)
{
    uint64_t since = job->migrate.locating_since_ms;
    return since != 0 && now_ms >= since + DRV_JOB_LOCATE_LIMIT_MS;
}

/* Gives up locating: the job ends (cancelled when the operator asked, else failed) saying that
 * where the domain runs is not known; the placement is not changed. */
static int s_give_up_locating(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    drv_job_migrate *m = &job->migrate;
    m->location_unknown = true;
    g_autofree char *why = g_strdup_printf(
        "gave up locating %s after %" PRIu64 " s: neither %s nor %s said the migration ended "
        "(they answered \"still migrating\" or nothing); it runs on one of them: see `drover "
        "domain info %s`",
        m->domain, (now_ms - m->locating_since_ms) / 1000, m->source, m->destination, m->domain);
    g_autofree char *e = job->error && !job->cancel_requested
                             ? g_strdup_printf("%s; %s", job->error, why)
                             : g_strdup(why);
    return s_finish(job, job->cancel_requested ? DRV_JOB_CANCELLED : DRV_JOB_FAILED, e, now_ms,
                    actions);
}

/* Moves to phase, then PERSIST (write-ahead), then the phase's command, then PUBLISH. */
static int s_advance(drv_job *job, drv_job_phase phase, drv_job_action_kind command,
                     uint64_t now_ms, drv_job_actions *actions)
{
    s_enter(job, phase, now_ms);
    s_act(job, actions, DRV_JOB_ACT_PERSIST);
    if (command != DRV_JOB_ACT_LAST)
        s_act(job, actions, command);
    s_publish(job, actions);
    return 1;
}

static int s_result_ok(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                       drv_job_actions *actions)
{
    job->migrate.result = ev->result;
    g_free(job->error); /* a timeout that lost the race against completion is no error */
    job->error = NULL;
    return s_finish(job, DRV_JOB_SUCCEEDED, NULL, now_ms, actions);
}

/* ------------------------------------------------------------------------------------------------
 * Events. Each returns 1 (applied) or 0 (does not apply in this phase). */

static int s_on_cancel(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    if (job->cancel_requested)
        return 0;
    job->cancel_requested = true;
    switch (job->migrate.phase) {
    case DRV_JOB_PHASE_NEW:
        return s_finish(job, DRV_JOB_CANCELLED, "cancelled before it started", now_ms, actions);
    case DRV_JOB_PHASE_MIGRATING:
        return s_advance(job, DRV_JOB_PHASE_CANCELLING, DRV_JOB_ACT_CANCEL, now_ms, actions);
    default: /* the step in flight answers first; cancelling / locating decide on their answer */
        job->updated_ms = MAX(job->updated_ms, now_ms);
        s_act(job, actions, DRV_JOB_ACT_PERSIST);
        s_publish(job, actions);
        return 1;
    }
}

static int s_on_timeout(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    drv_job_migrate *m = &job->migrate;
    g_autofree char *why = NULL;
    switch (m->phase) {
    case DRV_JOB_PHASE_NEW:
        return s_finish(job, DRV_JOB_FAILED, "timed out before it started", now_ms, actions);
    case DRV_JOB_PHASE_RESERVING:
        why = g_strdup_printf("timed out reserving room on %s", m->destination);
        return s_finish_on_source(job, why, now_ms, actions);
    case DRV_JOB_PHASE_VERIFYING:
        why = g_strdup_printf("timed out verifying that %s and %s share the storage", m->source,
                              m->destination);
        return s_finish_on_source(job, why, now_ms, actions);
    case DRV_JOB_PHASE_MIGRATING:
        g_free(job->error);
        job->error = g_strdup_printf("migration timed out after %" PRIu64 " ms",
                                     now_ms > m->phase_ms ? now_ms - m->phase_ms : 0);
        return s_advance(job, DRV_JOB_PHASE_CANCELLING, DRV_JOB_ACT_CANCEL, now_ms, actions);
    case DRV_JOB_PHASE_CANCELLING: /* the source agent did not answer the cancel: ask where */
    case DRV_JOB_PHASE_LOCATING:   /* nobody answered: ask again */
        if (s_locate_expired(job, now_ms))
            return s_give_up_locating(job, now_ms, actions);
        return s_advance(job, DRV_JOB_PHASE_LOCATING, DRV_JOB_ACT_LOCATE, now_ms, actions);
    default:
        return 0;
    }
}

static int s_on_restarted(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    switch (job->migrate.phase) {
    case DRV_JOB_PHASE_RESERVING: /* reserving is idempotent (same id) */
        return s_advance(job, DRV_JOB_PHASE_RESERVING, DRV_JOB_ACT_RESERVE, now_ms, actions);
    case DRV_JOB_PHASE_VERIFYING:
        return s_advance(job, DRV_JOB_PHASE_VERIFYING, DRV_JOB_ACT_VERIFY_STORAGE, now_ms, actions);
    case DRV_JOB_PHASE_MIGRATING: /* a MIGRATE may be running, done, or lost: never resend it */
    case DRV_JOB_PHASE_CANCELLING:
    case DRV_JOB_PHASE_LOCATING:
        return s_advance(job, DRV_JOB_PHASE_LOCATING, DRV_JOB_ACT_LOCATE, now_ms, actions);
    default:
        return 0;
    }
}

static int s_on_found(drv_job *job, drv_job_where where, uint64_t now_ms, drv_job_actions *actions)
{
    drv_job_migrate *m = &job->migrate;
    g_autofree char *why = NULL;
    if (m->phase != DRV_JOB_PHASE_LOCATING)
        return 0;
    switch (where) {
    case DRV_JOB_WHERE_DESTINATION: {
        drv_job_event ok = {.kind = DRV_JOB_EV_RESULT_OK};
        ok.result.time_ms = m->progress.elapsed_ms;
        ok.result.bytes = m->progress.data_processed;
        return s_result_ok(job, &ok, now_ms, actions);
    }
    case DRV_JOB_WHERE_SOURCE:
        why = g_strdup_printf("migration interrupted; %s is still on %s", m->domain, m->source);
        return s_finish_on_source(job, why, now_ms, actions);
    case DRV_JOB_WHERE_NOWHERE:
        why = g_strdup_printf("%s was found neither on %s nor on %s", m->domain, m->source,
                              m->destination);
        return s_finish(job, DRV_JOB_FAILED, why, now_ms, actions);
    case DRV_JOB_WHERE_MIGRATING: /* still under way: wait for its one result */
        if (s_aborting(job)) {
            if (s_locate_expired(job, now_ms))
                return s_give_up_locating(job, now_ms, actions);
            return s_advance(job, DRV_JOB_PHASE_CANCELLING, DRV_JOB_ACT_CANCEL, now_ms, actions);
        }
        m->locating_since_ms = 0; /* proven under way: the migration's own timeout applies */
        return s_advance(job, DRV_JOB_PHASE_MIGRATING, DRV_JOB_ACT_LAST, now_ms, actions);
    default:
        return 0;
    }
}

static int s_on_progress(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                         drv_job_actions *actions)
{
    drv_job_phase p = job->migrate.phase;
    if (p != DRV_JOB_PHASE_MIGRATING && p != DRV_JOB_PHASE_CANCELLING &&
        p != DRV_JOB_PHASE_LOCATING)
        return 0;
    job->migrate.progress = ev->progress;
    if (now_ms >= job->updated_ms + DRV_JOB_PROGRESS_PERSIST_MS) {
        job->updated_ms = now_ms;
        s_act(job, actions, DRV_JOB_ACT_PERSIST);
    }
    s_publish(job, actions);
    return 1;
}

/* RESULT_FAILED and RESULT_CANCELLED: the agent says the domain stayed on the source. */
static int s_on_result_not_ok(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                              drv_job_actions *actions)
{
    g_autofree char *why = NULL;
    if (ev->kind == DRV_JOB_EV_RESULT_CANCELLED)
        why = g_strdup(ev->message && *ev->message ? ev->message : "migration aborted");
    else
        why = g_strdup_printf("migration failed: %s",
                              ev->message && *ev->message ? ev->message : "unknown error");
    return s_finish_on_source(job, why, now_ms, actions);
}

int drv_job_migrate_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                         drv_job_actions *actions, drv_error **err)
{
    if (!job || !ev || !actions || job->kind != DRV_JOB_KIND_MIGRATE)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: not a migration job",
                             job && job->id ? job->id : "?");
    if ((unsigned)ev->kind >= DRV_JOB_EV_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: event kind %d out of range", job->id,
                             (int)ev->kind);
    if (drv_job_state_is_terminal(job->state))
        return 0;
    drv_job_migrate *m = &job->migrate;
    g_autofree char *why = NULL;
    switch (ev->kind) {
    case DRV_JOB_EV_START:
        if (m->phase != DRV_JOB_PHASE_NEW)
            return 0;
        job->state = DRV_JOB_RUNNING;
        m->reserved = true; /* from here on a reservation may exist */
        return s_advance(job, DRV_JOB_PHASE_RESERVING, DRV_JOB_ACT_RESERVE, now_ms, actions);
    case DRV_JOB_EV_RESERVED_OK:
        if (m->phase != DRV_JOB_PHASE_RESERVING)
            return 0;
        if (job->cancel_requested)
            return s_finish(job, DRV_JOB_CANCELLED, NULL, now_ms, actions);
        return s_advance(job, DRV_JOB_PHASE_VERIFYING, DRV_JOB_ACT_VERIFY_STORAGE, now_ms, actions);
    case DRV_JOB_EV_RESERVED_FAILED:
        if (m->phase != DRV_JOB_PHASE_RESERVING)
            return 0;
        why = g_strdup_printf("cannot reserve room on %s: %s", m->destination,
                              ev->message && *ev->message ? ev->message : "refused");
        return s_finish_on_source(job, why, now_ms, actions);
    case DRV_JOB_EV_STORAGE_VERIFIED:
        if (m->phase != DRV_JOB_PHASE_VERIFYING)
            return 0;
        if (job->cancel_requested)
            return s_finish(job, DRV_JOB_CANCELLED, NULL, now_ms, actions);
        return s_advance(job, DRV_JOB_PHASE_MIGRATING, DRV_JOB_ACT_MIGRATE, now_ms, actions);
    case DRV_JOB_EV_STORAGE_REFUSED:
        if (m->phase != DRV_JOB_PHASE_VERIFYING)
            return 0;
        why = g_strdup_printf("shared storage check failed between %s and %s: %s", m->source,
                              m->destination,
                              ev->message && *ev->message ? ev->message : "marker not found");
        return s_finish_on_source(job, why, now_ms, actions);
    case DRV_JOB_EV_PROGRESS:
        return s_on_progress(job, ev, now_ms, actions);
    case DRV_JOB_EV_RESULT_OK:
    case DRV_JOB_EV_RESULT_FAILED:
    case DRV_JOB_EV_RESULT_CANCELLED:
        if (m->phase != DRV_JOB_PHASE_MIGRATING && m->phase != DRV_JOB_PHASE_CANCELLING &&
            m->phase != DRV_JOB_PHASE_LOCATING)
            return 0;
        if (ev->kind == DRV_JOB_EV_RESULT_OK)
            return s_result_ok(job, ev, now_ms, actions);
        return s_on_result_not_ok(job, ev, now_ms, actions);
    case DRV_JOB_EV_CANCEL:
        return s_on_cancel(job, now_ms, actions);
    case DRV_JOB_EV_TIMEOUT:
        return s_on_timeout(job, now_ms, actions);
    case DRV_JOB_EV_RESTARTED:
        return s_on_restarted(job, now_ms, actions);
    case DRV_JOB_EV_DOMAIN_FOUND:
        return s_on_found(job, ev->where, now_ms, actions);
    default:
        return 0;
    }
}

uint64_t drv_job_migrate_deadline_ms(const drv_job *job)
{
    const drv_job_migrate *m = &job->migrate;
    if (job->kind != DRV_JOB_KIND_MIGRATE || job->state != DRV_JOB_RUNNING)
        return 0;
    switch (m->phase) {
    case DRV_JOB_PHASE_RESERVING:
    case DRV_JOB_PHASE_VERIFYING:
        return m->phase_ms + DRV_JOB_STEP_TIMEOUT_MS;
    case DRV_JOB_PHASE_MIGRATING:
        return m->policy.timeout_s
                   ? m->phase_ms + (uint64_t)m->policy.timeout_s * 1000 + DRV_JOB_GRACE_MS
                   : 0;
    case DRV_JOB_PHASE_CANCELLING:
    case DRV_JOB_PHASE_LOCATING:
        if (m->locating_since_ms != 0)
            return MIN(m->phase_ms + DRV_JOB_GRACE_MS,
                       MAX(m->locating_since_ms + DRV_JOB_LOCATE_LIMIT_MS, m->phase_ms));
        return m->phase_ms + DRV_JOB_GRACE_MS;
    default:
        return 0;
    }
}

uint32_t drv_job_migrate_default_timeout_s(uint64_t memory_kib, uint64_t bandwidth_mibs)
{
    uint64_t gib = (memory_kib + (1ull << 20) - 1) >> 20;
    uint64_t t = DRV_JOB_MIGRATE_TIMEOUT_BASE_S + gib * DRV_JOB_MIGRATE_TIMEOUT_PER_GIB_S;
    if (bandwidth_mibs > 0) {
        uint64_t mib = (memory_kib + 1023) / 1024;
        uint64_t copies = (4 * mib + bandwidth_mibs - 1) / bandwidth_mibs;
        t = MAX(t, copies);
    }
    return (uint32_t)MIN(t, (uint64_t)UINT32_MAX);
}

drv_job_policy drv_job_migrate_policy_with_default(const drv_job_policy *policy,
                                                   uint64_t memory_kib)
{
    drv_job_policy p = {0};
    if (policy != NULL)
        p = *policy;
    if (p.timeout_s == 0)
        p.timeout_s = drv_job_migrate_default_timeout_s(memory_kib, p.bandwidth_mibs);
    return p;
}
