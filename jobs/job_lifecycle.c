/* job_lifecycle.c — the start and undefine jobs' state machine (see job_lifecycle.h). */
#include <string.h>

#include <glib.h>

#include "job_lifecycle.h"

static int s_new(const char *id, drv_job_kind kind, const char *domain, const char *host,
                 const char *old_host, drv_job_desired desired_before, const char *owner,
                 uint64_t now_ms, drv_job **ret, drv_error **err)
{
    drv_job *job = drv_job_new(id, kind, owner, now_ms);
    drv_job_lifecycle *l = &job->lifecycle;
    l->domain = g_strdup(domain);
    l->host = host && *host ? g_strdup(host) : NULL;
    if (old_host && *old_host && g_strcmp0(old_host, host) != 0)
        l->old_host = g_strdup(old_host);
    l->desired_before = desired_before;
    l->step = DRV_JOB_STEP_NEW;
    l->step_ms = now_ms;
    if (drv_job_validate(job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    *ret = job;
    return 0;
}

int drv_job_start_new(const char *id, const char *domain, const char *host, const char *old_host,
                      drv_job_desired desired_before, const char *owner, uint64_t now_ms,
                      drv_job **ret, drv_error **err)
{
    return s_new(id, DRV_JOB_KIND_START, domain, host, old_host, desired_before, owner, now_ms, ret,
                 err);
}

int drv_job_undefine_new(const char *id, const char *domain, const char *host, const char *owner,
                         uint64_t now_ms, drv_job **ret, drv_error **err)
{
    return s_new(id, DRV_JOB_KIND_UNDEFINE, domain, host, NULL, DRV_JOB_DESIRED_SHUTOFF, owner,
                 now_ms, ret, err);
}

/* ------------------------------------------------------------------------------------------------
 * Helpers. */

static bool s_is_start(const drv_job *job)
{
    return job->kind == DRV_JOB_KIND_START;
}

static void s_act(const drv_job *job, drv_job_actions *actions, drv_job_action_kind kind,
                  const char *host)
{
    drv_job_action a = {
        .kind = kind,
        .job_id = job->id,
        .domain = job->lifecycle.domain,
        .host = (char *)host,
        .desired = job->lifecycle.desired_before,
    };
    drv_job_actions_add(actions, &a);
}

static void s_publish(const drv_job *job, drv_job_actions *actions, const char *note)
{
    const drv_job_lifecycle *l = &job->lifecycle;
    g_autofree char *what = s_is_start(job)
                                ? g_strdup_printf("start of %s on %s", l->domain, l->host)
                                : g_strdup_printf("undefine of %s%s%s", l->domain,
                                                  l->host ? " on " : "", l->host ? l->host : "");
    g_autofree char *msg = NULL;
    if (drv_job_state_is_terminal(job->state))
        msg = g_strdup_printf("%s %s%s%s%s%s", what, drv_job_state_to_string(job->state),
                              job->error ? ": " : "", job->error ? job->error : "",
                              note ? "; " : "", note ? note : "");
    else
        msg = g_strdup_printf("%s: %s%s%s", what, drv_job_step_to_string(l->step), note ? "; " : "",
                              note ? note : "");
    drv_job_action a = {
        .kind = DRV_JOB_ACT_PUBLISH, .job_id = job->id, .domain = l->domain, .message = msg};
    drv_job_actions_add(actions, &a);
}

static void s_enter(drv_job *job, drv_job_step step, uint64_t now_ms)
{
    job->lifecycle.step = step;
    job->lifecycle.step_ms = now_ms;
    job->updated_ms = MAX(job->updated_ms, now_ms);
}

static void s_set_error(drv_job *job, const char *error)
{
    if (error == job->error)
        return;
    g_free(job->error);
    job->error = g_strdup(error);
}

/* The one way into a terminal state: a failed start rolls the desired state back first, then
 * PERSIST and PUBLISH. */
static int s_finish(drv_job *job, drv_job_state state, const char *error, const char *note,
                    uint64_t now_ms, drv_job_actions *actions)
{
    s_set_error(job, state == DRV_JOB_SUCCEEDED ? NULL : error);
    if (state != DRV_JOB_SUCCEEDED && s_is_start(job))
        s_act(job, actions, DRV_JOB_ACT_SET_DESIRED, NULL);
    job->state = state;
    s_enter(job, DRV_JOB_STEP_DONE, now_ms);
    s_act(job, actions, DRV_JOB_ACT_PERSIST, NULL);
    s_publish(job, actions, note);
    return 1;
}

/* Ends the job as its error says (set: failed). */
static int s_conclude(drv_job *job, const char *note, uint64_t now_ms, drv_job_actions *actions)
{
    return s_finish(job, job->error ? DRV_JOB_FAILED : DRV_JOB_SUCCEEDED, job->error, note, now_ms,
                    actions);
}

/* Moves to step, PERSIST (write-ahead), then the step's action on host, then PUBLISH. A command
 * beyond the job's budget fails the job instead. */
static int s_advance(drv_job *job, drv_job_step step, drv_job_action_kind action, const char *host,
                     uint64_t now_ms, drv_job_actions *actions)
{
    bool command = action == DRV_JOB_ACT_DEFINE || action == DRV_JOB_ACT_START ||
                   action == DRV_JOB_ACT_UNDEFINE || action == DRV_JOB_ACT_FORGET;
    if (command && job->lifecycle.commands >= DRV_JOB_LIFECYCLE_MAX_COMMANDS) {
        g_autofree char *why =
            g_strdup_printf("gave up after %u commands%s%s", job->lifecycle.commands,
                            job->error ? ": " : "", job->error ? job->error : "");
        return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
    }
    if (command)
        job->lifecycle.commands++;
    s_enter(job, step, now_ms);
    s_act(job, actions, DRV_JOB_ACT_PERSIST, NULL);
    s_act(job, actions, action, host);
    s_publish(job, actions, NULL);
    return 1;
}

/* Start: the domain's fate on the destination is settled (error set: the start did not happen);
 * next, the stale definition on the old host, if any. */
static int s_after_start(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    if (job->lifecycle.old_host != NULL)
        return s_advance(job, DRV_JOB_STEP_CLEANING, DRV_JOB_ACT_LOCATE, job->lifecycle.old_host,
                         now_ms, actions);
    return s_conclude(job, NULL, now_ms, actions);
}

static const char *s_msg(const drv_job_event *ev, const char *dflt)
{
    return ev->message && *ev->message ? ev->message : dflt;
}

/* ------------------------------------------------------------------------------------------------
 * start */

static int s_start_found(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                         drv_job_actions *actions)
{
    drv_job_lifecycle *l = &job->lifecycle;
    g_autofree char *why = NULL;
    if (ev->where == DRV_JOB_WHERE_UNKNOWN)
        return 0; /* never decide on unknown: the caller asks again until the deadline */
    if (l->step == DRV_JOB_STEP_CLEANING) {
        switch (ev->where) {
        case DRV_JOB_WHERE_DEFINED:
            return s_advance(job, DRV_JOB_STEP_UNDEFINING, DRV_JOB_ACT_UNDEFINE, l->old_host,
                             now_ms, actions);
        case DRV_JOB_WHERE_RUNNING:
            why = g_strdup_printf("%s runs on %s too: left alone", l->domain, l->old_host);
            return s_conclude(job, why, now_ms, actions);
        default:
            return s_conclude(job, NULL, now_ms, actions);
        }
    }
    if (l->step != DRV_JOB_STEP_LOCATING)
        return 0;
    switch (ev->where) {
    case DRV_JOB_WHERE_RUNNING: /* it runs where it is placed: whatever was lost, it is started */
        s_set_error(job, NULL);
        return s_after_start(job, now_ms, actions);
    case DRV_JOB_WHERE_DEFINED:
        if (job->error != NULL)
            return s_after_start(job, now_ms, actions);
        if (!ev->desired_running) {
            s_set_error(job, "the desired state changed meanwhile; not started");
            return s_after_start(job, now_ms, actions);
        }
        return s_advance(job, DRV_JOB_STEP_STARTING, DRV_JOB_ACT_START, l->host, now_ms, actions);
    case DRV_JOB_WHERE_NOWHERE:
        if (job->error != NULL)
            return s_after_start(job, now_ms, actions);
        if (!ev->desired_running) {
            s_set_error(job, "the desired state changed meanwhile; not started");
            return s_after_start(job, now_ms, actions);
        }
        return s_advance(job, DRV_JOB_STEP_DEFINING, DRV_JOB_ACT_DEFINE, l->host, now_ms, actions);
    default:
        return 0;
    }
}

static int s_start_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                        drv_job_actions *actions)
{
    drv_job_lifecycle *l = &job->lifecycle;
    g_autofree char *why = NULL;
    switch (ev->kind) {
    case DRV_JOB_EV_START:
        if (l->step != DRV_JOB_STEP_NEW)
            return 0;
        job->state = DRV_JOB_RUNNING;
        return s_advance(job, DRV_JOB_STEP_DEFINING, DRV_JOB_ACT_DEFINE, l->host, now_ms, actions);
    case DRV_JOB_EV_REPLY_OK:
        switch (l->step) {
        case DRV_JOB_STEP_DEFINING:
            return s_advance(job, DRV_JOB_STEP_STARTING, DRV_JOB_ACT_START, l->host, now_ms,
                             actions);
        case DRV_JOB_STEP_STARTING:
            s_set_error(job, NULL);
            return s_after_start(job, now_ms, actions);
        case DRV_JOB_STEP_UNDEFINING:
            return s_conclude(job, NULL, now_ms, actions);
        default:
            return 0;
        }
    case DRV_JOB_EV_REPLY_FAILED:
        switch (l->step) {
        case DRV_JOB_STEP_DEFINING: /* nothing new on the destination */
            why = g_strdup_printf("define on %s failed: %s", l->host, s_msg(ev, "no reason given"));
            s_set_error(job, why);
            return s_after_start(job, now_ms, actions);
        case DRV_JOB_STEP_STARTING: /* this START did nothing; a START lost before may have */
            why = g_strdup_printf("start on %s failed: %s", l->host, s_msg(ev, "no reason given"));
            s_set_error(job, why);
            return s_advance(job, DRV_JOB_STEP_LOCATING, DRV_JOB_ACT_LOCATE, l->host, now_ms,
                             actions);
        case DRV_JOB_STEP_UNDEFINING:
            why = g_strdup_printf("the old definition on %s stays: %s", l->old_host,
                                  s_msg(ev, "undefine failed"));
            return s_conclude(job, why, now_ms, actions);
        default:
            return 0;
        }
    case DRV_JOB_EV_REPLY_UNKNOWN:
        switch (l->step) {
        case DRV_JOB_STEP_DEFINING:
        case DRV_JOB_STEP_STARTING:
            return s_advance(job, DRV_JOB_STEP_LOCATING, DRV_JOB_ACT_LOCATE, l->host, now_ms,
                             actions);
        case DRV_JOB_STEP_UNDEFINING:
            return s_advance(job, DRV_JOB_STEP_CLEANING, DRV_JOB_ACT_LOCATE, l->old_host, now_ms,
                             actions);
        default:
            return 0;
        }
    case DRV_JOB_EV_DOMAIN_FOUND:
        return s_start_found(job, ev, now_ms, actions);
    case DRV_JOB_EV_TIMEOUT:
        if (l->step == DRV_JOB_STEP_LOCATING) {
            why = g_strdup_printf("the state of %s on %s stayed unknown for %u s%s%s", l->domain,
                                  l->host, DRV_JOB_LOCATE_WAIT_MS / 1000, job->error ? "; " : "",
                                  job->error ? job->error : "");
            return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
        }
        if (l->step == DRV_JOB_STEP_CLEANING) {
            why = g_strdup_printf("%s's state on %s is unknown: its old definition is left there",
                                  l->domain, l->old_host);
            return s_conclude(job, why, now_ms, actions);
        }
        return 0;
    case DRV_JOB_EV_RESTARTED:
        switch (l->step) {
        case DRV_JOB_STEP_DEFINING:
        case DRV_JOB_STEP_STARTING:
        case DRV_JOB_STEP_LOCATING:
            return s_advance(job, DRV_JOB_STEP_LOCATING, DRV_JOB_ACT_LOCATE, l->host, now_ms,
                             actions);
        case DRV_JOB_STEP_CLEANING:
        case DRV_JOB_STEP_UNDEFINING:
            return s_advance(job, DRV_JOB_STEP_CLEANING, DRV_JOB_ACT_LOCATE, l->old_host, now_ms,
                             actions);
        default:
            return 0;
        }
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------------------------------
 * undefine */

static int s_forget(drv_job *job, uint64_t now_ms, drv_job_actions *actions)
{
    return s_advance(job, DRV_JOB_STEP_FORGETTING, DRV_JOB_ACT_FORGET, NULL, now_ms, actions);
}

static int s_undefine_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                           drv_job_actions *actions)
{
    drv_job_lifecycle *l = &job->lifecycle;
    g_autofree char *why = NULL;
    switch (ev->kind) {
    case DRV_JOB_EV_START:
        if (l->step != DRV_JOB_STEP_NEW)
            return 0;
        job->state = DRV_JOB_RUNNING;
        if (l->host == NULL)
            return s_forget(job, now_ms, actions);
        return s_advance(job, DRV_JOB_STEP_UNDEFINING, DRV_JOB_ACT_UNDEFINE, l->host, now_ms,
                         actions);
    case DRV_JOB_EV_REPLY_OK:
        if (l->step == DRV_JOB_STEP_UNDEFINING)
            return s_forget(job, now_ms, actions);
        if (l->step == DRV_JOB_STEP_FORGETTING)
            return s_finish(job, DRV_JOB_SUCCEEDED, NULL, NULL, now_ms, actions);
        return 0;
    case DRV_JOB_EV_REPLY_FAILED:
        if (l->step == DRV_JOB_STEP_UNDEFINING) {
            why = g_strdup_printf("undefine on %s failed: %s (still defined there; nothing "
                                  "forgotten)",
                                  l->host, s_msg(ev, "no reason given"));
            return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
        }
        if (l->step == DRV_JOB_STEP_FORGETTING) {
            why = g_strdup_printf("removing it from etcd: %s (its definition is still stored; "
                                  "undefine again)",
                                  s_msg(ev, "failed"));
            return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
        }
        return 0;
    case DRV_JOB_EV_REPLY_UNKNOWN:
        if (l->step == DRV_JOB_STEP_UNDEFINING)
            return s_advance(job, DRV_JOB_STEP_LOCATING, DRV_JOB_ACT_LOCATE, l->host, now_ms,
                             actions);
        if (l->step == DRV_JOB_STEP_FORGETTING) /* a delete is idempotent */
            return s_forget(job, now_ms, actions);
        return 0;
    case DRV_JOB_EV_DOMAIN_FOUND:
        if (l->step != DRV_JOB_STEP_LOCATING)
            return 0;
        switch (ev->where) {
        case DRV_JOB_WHERE_DEFINED:
            return s_advance(job, DRV_JOB_STEP_UNDEFINING, DRV_JOB_ACT_UNDEFINE, l->host, now_ms,
                             actions);
        case DRV_JOB_WHERE_NOWHERE:
            return s_forget(job, now_ms, actions);
        case DRV_JOB_WHERE_RUNNING:
            why = g_strdup_printf("%s runs on %s; not undefined", l->domain, l->host);
            return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
        default:
            return 0; /* unknown: asked again until the deadline */
        }
    case DRV_JOB_EV_TIMEOUT:
        if (l->step != DRV_JOB_STEP_LOCATING)
            return 0;
        why = g_strdup_printf("the state of %s on %s stayed unknown for %u s; nothing forgotten",
                              l->domain, l->host, DRV_JOB_LOCATE_WAIT_MS / 1000);
        return s_finish(job, DRV_JOB_FAILED, why, NULL, now_ms, actions);
    case DRV_JOB_EV_RESTARTED:
        if (l->step == DRV_JOB_STEP_UNDEFINING || l->step == DRV_JOB_STEP_LOCATING)
            return s_advance(job, DRV_JOB_STEP_LOCATING, DRV_JOB_ACT_LOCATE, l->host, now_ms,
                             actions);
        if (l->step == DRV_JOB_STEP_FORGETTING)
            return s_forget(job, now_ms, actions);
        return 0;
    default:
        return 0;
    }
}

int drv_job_lifecycle_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                           drv_job_actions *actions, drv_error **err)
{
    if (!job || !ev || !actions ||
        (job->kind != DRV_JOB_KIND_START && job->kind != DRV_JOB_KIND_UNDEFINE))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: not a start or undefine job",
                             job && job->id ? job->id : "?");
    if ((unsigned)ev->kind >= DRV_JOB_EV_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: event kind %d out of range", job->id,
                             (int)ev->kind);
    if (drv_job_state_is_terminal(job->state))
        return 0;
    return s_is_start(job) ? s_start_step(job, ev, now_ms, actions)
                           : s_undefine_step(job, ev, now_ms, actions);
}

uint64_t drv_job_lifecycle_deadline_ms(const drv_job *job)
{
    if ((job->kind != DRV_JOB_KIND_START && job->kind != DRV_JOB_KIND_UNDEFINE) ||
        job->state != DRV_JOB_RUNNING)
        return 0;
    if (job->lifecycle.step == DRV_JOB_STEP_LOCATING ||
        job->lifecycle.step == DRV_JOB_STEP_CLEANING)
        return job->lifecycle.step_ms + DRV_JOB_LOCATE_WAIT_MS;
    return 0;
}

const char *drv_job_lifecycle_locate_host(const drv_job *job)
{
    if (job->state != DRV_JOB_RUNNING)
        return NULL;
    if (job->lifecycle.step == DRV_JOB_STEP_LOCATING)
        return job->lifecycle.host;
    if (job->lifecycle.step == DRV_JOB_STEP_CLEANING)
        return job->lifecycle.old_host;
    return NULL;
}
