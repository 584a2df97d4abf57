/* job_drain.c — the drain / restore executor (see job_drain.h). */
#include <string.h>

#include <glib.h>

#include "drain_order.h"
#include "job_drain.h"

/* ------------------------------------------------------------------------------------------------
 * Building jobs. */

static int s_check_opts(const char *id, const drv_job_drain_opts *o, drv_error **err)
{
    if (o->max_parallel == 0 || o->per_source == 0 || o->per_dest == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: max_parallel, per_source and per_dest must be at least 1",
                             id);
    if ((unsigned)o->on_unmovable >= DRV_JOB_UNMOVABLE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: on_unmovable out of range", id);
    return 0;
}

static drv_job *s_job_new(const char *id, drv_job_kind kind, const char *host,
                          const drv_job_drain_opts *opts, const char *owner, uint64_t now_ms,
                          size_t n_max)
{
    drv_job *job = drv_job_new(id, kind, owner, now_ms);
    job->drain.host = g_strdup(host);
    job->drain.opts = *opts;
    job->drain.entries = g_new0(drv_job_entry, n_max ? n_max : 1);
    return job;
}

/* The scheduler's alternates for a step, without the drained host and the planned destination. */
static char **s_alternates(const drv_sched_drain_step *step, const char *host)
{
    GPtrArray *a = g_ptr_array_new();
    const drv_sched_result *r = step->result;
    for (size_t i = 0; r && r->alternates && r->alternates[i]; i++) {
        const char *h = r->alternates[i];
        if (strcmp(h, host) != 0 && (!step->dest || strcmp(h, step->dest) != 0))
            g_ptr_array_add(a, g_strdup(h));
    }
    g_ptr_array_add(a, NULL);
    return (char **)g_ptr_array_free(a, FALSE);
}

int drv_job_drain_new(const char *id, const drv_sched_drain_plan *plan,
                      const drv_job_drain_opts *opts, const char *owner, uint64_t now_ms,
                      drv_job **ret, drv_error **err)
{
    drv_job_drain_opts defaults;
    drv_job_drain_opts_init(&defaults);
    if (!opts)
        opts = &defaults;
    if (!id || !*id || !plan || !plan->host)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "drain job: missing id or plan");
    if (s_check_opts(id, opts, err) < 0)
        return -1;
    if (plan->n_unmovable > 0 && opts->on_unmovable == DRV_JOB_UNMOVABLE_REFUSE) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (size_t i = 0; i < plan->n_steps; i++) {
            const drv_sched_drain_step *st = &plan->steps[i];
            if (st->dest)
                continue;
            g_string_append_printf(s, "%s%s: %s", s->len ? "; " : "", st->domain,
                                   st->reason ? st->reason : "no destination");
        }
        return drv_error_set(err, DRV_ERR_NO_ROOM, 0,
                             "cannot drain %s: %zu domain%s cannot move (%s); nothing was moved "
                             "(choose to leave or shut them down to proceed)",
                             plan->host, plan->n_unmovable, plan->n_unmovable == 1 ? "" : "s",
                             s->str);
    }
    drv_job *job =
        s_job_new(id, DRV_JOB_KIND_DRAIN, plan->host, opts, owner, now_ms, plan->n_steps);
    for (size_t i = 0; i < plan->n_steps; i++) {
        const drv_sched_drain_step *st = &plan->steps[i];
        drv_job_entry *e = &job->drain.entries[job->drain.n_entries++];
        e->domain = g_strdup(st->domain);
        e->origin = g_strdup(plan->host);
        e->planned = g_strdup(st->dest);
        e->alternates = s_alternates(st, plan->host);
        if (st->dest) {
            e->state = DRV_JOB_ENTRY_PLANNED;
            continue;
        }
        e->state = DRV_JOB_ENTRY_SKIPPED;
        e->error = g_strdup_printf(
            "%s on %s: %s",
            opts->on_unmovable == DRV_JOB_UNMOVABLE_SHUTDOWN ? "shut down" : "left running",
            plan->host, st->reason ? st->reason : "no destination");
    }
    if (drv_job_validate(job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    *ret = job;
    return 0;
}

int drv_job_restore_new(const char *id, const drv_job *drain, drv_job_locate_fn where, void *ctx,
                        const char *owner, uint64_t now_ms, drv_job **ret, drv_error **err)
{
    if (!id || !*id || !drain || drain->kind != DRV_JOB_KIND_DRAIN)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "restore job: missing id, or job %s is not a drain",
                             drain && drain->id ? drain->id : "?");
    if (!drv_job_state_is_terminal(drain->state))
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "cannot restore drain %s of %s: it is still %s", drain->id,
                             drain->drain.host, drv_job_state_to_string(drain->state));
    const drv_job_drain *d = &drain->drain;
    drv_job *job =
        s_job_new(id, DRV_JOB_KIND_RESTORE, d->host, &d->opts, owner, now_ms, d->n_entries);
    job->drain.restore_of = g_strdup(drain->id);
    for (size_t i = 0; i < d->n_entries; i++) {
        const drv_job_entry *src = &d->entries[i];
        if (src->state != DRV_JOB_ENTRY_DONE)
            continue;
        const char *now_on = where ? where(ctx, src->domain) : src->destination;
        if (!now_on || strcmp(now_on, d->host) == 0)
            continue; /* gone, or already back */
        drv_job_entry *e = &job->drain.entries[job->drain.n_entries++];
        e->domain = g_strdup(src->domain);
        e->origin = g_strdup(now_on);
        e->planned = g_strdup(d->host);
        e->alternates = g_new0(char *, 1);
        e->state = DRV_JOB_ENTRY_PLANNED;
    }
    if (drv_job_validate(job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    *ret = job;
    return 0;
}

int drv_job_balance_new(const char *id, const drv_sched_balance_plan *plan,
                        const drv_job_drain_opts *opts, const char *owner, uint64_t now_ms,
                        drv_job **ret, drv_error **err)
{
    drv_job_drain_opts defaults;
    drv_job_drain_opts_init(&defaults);
    if (!opts)
        opts = &defaults;
    if (!id || !*id || !plan)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "balance job: missing id or plan");
    if (s_check_opts(id, opts, err) < 0)
        return -1;
    if (plan->n_moves == 0)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0, "nothing to balance: %s",
                             plan->summary ? plan->summary : "the plan has no move");
    drv_job *job = s_job_new(id, DRV_JOB_KIND_BALANCE, NULL, opts, owner, now_ms, plan->n_moves);
    for (size_t i = 0; i < plan->n_moves; i++) {
        const drv_sched_balance_move *mv = &plan->moves[i];
        drv_job_entry *e = &job->drain.entries[job->drain.n_entries++];
        e->domain = g_strdup(mv->domain);
        e->origin = g_strdup(mv->source);
        e->planned = g_strdup(mv->dest);
        e->alternates = g_new0(char *, 1);
        e->state = DRV_JOB_ENTRY_PLANNED;
    }
    if (drv_job_validate(job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    *ret = job;
    return 0;
}

char *drv_job_drain_child_id(const drv_job *job, const drv_job_entry *e, unsigned attempt)
{
    return g_strdup_printf("%s:%s:%u", job->id, e->domain, attempt);
}

bool drv_job_drain_host_empty(const drv_job *job)
{
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        bool gone = e->state == DRV_JOB_ENTRY_DONE ||
                    (e->state == DRV_JOB_ENTRY_SKIPPED && job->kind == DRV_JOB_KIND_DRAIN &&
                     job->drain.opts.on_unmovable == DRV_JOB_UNMOVABLE_SHUTDOWN);
        if (!gone)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------------
 * One step. The actions of a step are gathered in three lists and emitted as
 *   before (idempotent: host state, shutdown, locate) · PERSIST · after (launch, cancel) · PUBLISH
 * so every command that must not run twice is preceded by the write that records it. */

typedef struct {
    drv_job *job;
    const drv_job_drain_facts *facts;
    uint64_t now_ms;
    drv_job_actions *before, *after;
    bool changed;      /* the job changed: PERSIST and PUBLISH */
    bool progress;     /* only progress changed: PUBLISH, PERSIST at most every few seconds */
    bool acted;        /* actions were emitted */
    bool wait_expired; /* waited DRV_JOB_DRAIN_UNKNOWN_WAIT_MS already: give up */
    char *waiting;     /* what this step waits for (owned), NULL = nothing */
} s_step;

/* Why host's inventory cannot be trusted (borrowed), or NULL. */
static const char *s_unknown(const s_step *st, const char *host)
{
    const drv_job_drain_facts *f = st->facts;
    return f && f->host_unknown && host ? f->host_unknown(f->ctx, host) : NULL;
}

/* Records the first thing the step waits for. */
static void s_wait(s_step *st, char *what_owned)
{
    if (st->waiting == NULL)
        st->waiting = what_owned;
    else
        g_free(what_owned);
}

static void s_entry_action(s_step *st, drv_job_actions *list, drv_job_action_kind kind,
                           const drv_job_entry *e)
{
    g_autofree char *child = drv_job_drain_child_id(st->job, e, e->attempts);
    drv_job_action a = {.kind = kind,
                        .job_id = child,
                        .domain = e->domain,
                        .source = e->origin,
                        .destination = e->destination,
                        .attempt = e->attempts};
    drv_job_actions_add(list, &a);
    st->acted = true;
}

static void s_host_state(s_step *st, drv_job_actions *list, drv_sched_host_state state)
{
    drv_job_action a = {.kind = DRV_JOB_ACT_SET_HOST_STATE,
                        .job_id = st->job->id,
                        .host = st->job->drain.host,
                        .host_state = state};
    drv_job_actions_add(list, &a);
    st->acted = true;
}

static void s_set_error(drv_job_entry *e, char *error_owned)
{
    g_free(e->error);
    e->error = error_owned;
}

/* The current attempt failed (domain still on origin): retry later on the next-best destination if
 * attempts remain and the job is not cancelled, else give up. */
static void s_attempt_failed(s_step *st, drv_job_entry *e, const char *why)
{
    s_set_error(e, g_strdup_printf("attempt %u to %s: %s", e->attempts, e->destination, why));
    bool retry = e->attempts < DRV_JOB_DRAIN_MAX_ATTEMPTS && !st->job->cancel_requested;
    e->state = retry || st->job->cancel_requested ? DRV_JOB_ENTRY_PLANNED : DRV_JOB_ENTRY_FAILED;
    st->changed = true;
}

static int s_on_entry_event(s_step *st, const drv_job_event *ev)
{
    drv_job_entry *e = drv_job_find_entry(st->job, ev->domain);
    if (!e || e->state != DRV_JOB_ENTRY_MIGRATING || (ev->attempt && ev->attempt != e->attempts))
        return 0;
    const char *msg = ev->message && *ev->message ? ev->message : NULL;
    switch (ev->kind) {
    case DRV_JOB_EV_PROGRESS:
        e->progress = ev->progress;
        st->progress = true;
        return 1;
    case DRV_JOB_EV_RESULT_OK:
        e->state = DRV_JOB_ENTRY_DONE;
        s_set_error(e, NULL);
        st->changed = true;
        return 1;
    case DRV_JOB_EV_RESULT_FAILED:
        s_attempt_failed(st, e, msg ? msg : "migration failed");
        return 1;
    case DRV_JOB_EV_RESULT_CANCELLED:
        if (st->job->cancel_requested) {
            s_attempt_failed(st, e, "cancelled");
        } else { /* someone cancelled this one migration: respect it, no retry */
            s_set_error(
                e, g_strdup_printf("attempt %u to %s: cancelled", e->attempts, e->destination));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
        }
        return 1;
    case DRV_JOB_EV_DOMAIN_FOUND:
        switch (ev->where) {
        case DRV_JOB_WHERE_DESTINATION:
            e->state = DRV_JOB_ENTRY_DONE;
            s_set_error(e, NULL);
            st->changed = true;
            return 1;
        case DRV_JOB_WHERE_SOURCE:
            s_attempt_failed(st, e, "interrupted by a controller restart (still on the origin)");
            return 1;
        case DRV_JOB_WHERE_NOWHERE:
            s_set_error(e, g_strdup_printf("%s was found neither on %s nor on %s", e->domain,
                                           e->origin, e->destination));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
            return 1;
        case DRV_JOB_WHERE_UNKNOWN: /* its migration gave up locating it: never retried */
            s_set_error(e, g_strdup_printf("attempt %u to %s: %s", e->attempts, e->destination,
                                           msg ? msg : "where it runs is not known"));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
            return 1;
        default: /* still migrating: its result will come */
            return 0;
        }
    default:
        return 0;
    }
}

static int s_on_event(s_step *st, const drv_job_event *ev)
{
    drv_job *job = st->job;
    bool drain = job->kind == DRV_JOB_KIND_DRAIN;
    switch (ev->kind) {
    case DRV_JOB_EV_START:
        if (job->state != DRV_JOB_PENDING)
            return 0;
        job->state = DRV_JOB_RUNNING;
        st->changed = true;
        if (job->drain.host != NULL) /* a balance has no host of its own */
            s_host_state(st, st->before,
                         drain ? DRV_SCHED_HOST_PREPARING_MAINTENANCE : DRV_SCHED_HOST_ACTIVE);
        for (size_t i = 0; drain && i < job->drain.n_entries; i++) {
            const drv_job_entry *e = &job->drain.entries[i];
            if (e->state == DRV_JOB_ENTRY_SKIPPED &&
                job->drain.opts.on_unmovable == DRV_JOB_UNMOVABLE_SHUTDOWN) {
                s_entry_action(st, st->before, DRV_JOB_ACT_SHUTDOWN, e);
                job->drain.shutdown_sent_ms = MAX(st->now_ms, 1);
            }
        }
        return 1;
    case DRV_JOB_EV_CANCEL:
        if (job->cancel_requested)
            return 0;
        job->cancel_requested = true;
        st->changed = true;
        for (size_t i = 0; i < job->drain.n_entries; i++)
            if (job->drain.entries[i].state == DRV_JOB_ENTRY_MIGRATING)
                s_entry_action(st, st->after, DRV_JOB_ACT_CANCEL, &job->drain.entries[i]);
        return 1;
    case DRV_JOB_EV_RESTARTED:
        if (job->state != DRV_JOB_RUNNING)
            return 0;
        if (job->drain.host != NULL)
            s_host_state(st, st->before,
                         drain ? DRV_SCHED_HOST_PREPARING_MAINTENANCE : DRV_SCHED_HOST_ACTIVE);
        for (size_t i = 0; i < job->drain.n_entries; i++)
            if (job->drain.entries[i].state == DRV_JOB_ENTRY_MIGRATING)
                s_entry_action(st, st->before, DRV_JOB_ACT_LOCATE, &job->drain.entries[i]);
        return 1;
    case DRV_JOB_EV_PROGRESS:
    case DRV_JOB_EV_RESULT_OK:
    case DRV_JOB_EV_RESULT_FAILED:
    case DRV_JOB_EV_RESULT_CANCELLED:
    case DRV_JOB_EV_DOMAIN_FOUND:
        if (job->state != DRV_JOB_RUNNING)
            return 0;
        return s_on_entry_event(st, ev);
    default: /* reservation, storage and timeout events belong to the migrations */
        return 0;
    }
}

/* In-flight counts: facts (other jobs) plus this job's migrating entries. */
static unsigned s_load(const s_step *st, const char *host, bool as_source)
{
    unsigned n = 0;
    const drv_job_drain_facts *f = st->facts;
    for (size_t i = 0; f && i < f->n_hosts; i++)
        if (f->hosts[i].host && strcmp(f->hosts[i].host, host) == 0)
            n += as_source ? f->hosts[i].as_source : f->hosts[i].as_dest;
    for (size_t i = 0; i < st->job->drain.n_entries; i++) {
        const drv_job_entry *e = &st->job->drain.entries[i];
        if (e->state == DRV_JOB_ENTRY_MIGRATING &&
            strcmp(as_source ? e->origin : e->destination, host) == 0)
            n++;
    }
    return n;
}

static unsigned s_load_total(const s_step *st)
{
    unsigned n = st->facts ? st->facts->cluster_inflight : 0;
    for (size_t i = 0; i < st->job->drain.n_entries; i++)
        n += st->job->drain.entries[i].state == DRV_JOB_ENTRY_MIGRATING;
    return n;
}

/* The destination for e's next attempt: the plan's, then its alternates in rank order, skipping the
 * origin, the destination that just failed and those the caller says are unusable. */
static const char *s_pick_dest(const s_step *st, const drv_job_entry *e)
{
    const drv_job_drain_facts *f = st->facts;
    size_t n_alt = e->alternates ? g_strv_length(e->alternates) : 0;
    for (size_t i = 0; i <= n_alt; i++) {
        const char *h = i == 0 ? e->planned : e->alternates[i - 1];
        if (!h || strcmp(h, e->origin) == 0)
            continue;
        if (e->attempts > 0 && e->destination && strcmp(h, e->destination) == 0)
            continue;
        if (f && f->dest_usable && !f->dest_usable(f->ctx, e->domain, h))
            continue;
        if (s_unknown(st, h) != NULL)
            continue;
        return h;
    }
    return NULL;
}

/* Fills order[0..n_entries) with the entries in the order they are tried: longest predicted first
 * (drv_drain_priority) when facts predict every planned entry's next move, else plan order. */
static void s_launch_order(const s_step *st, size_t *order)
{
    const drv_job *job = st->job;
    const drv_job_drain_facts *f = st->facts;
    size_t n = job->drain.n_entries;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (!f || !f->predict_ms)
        return;
    drv_drain_move *moves = g_new0(drv_drain_move, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        moves[i].domain = e->domain;
        if (e->state != DRV_JOB_ENTRY_PLANNED)
            continue; /* not launched from here: its place does not matter */
        const char *dest = s_pick_dest(st, e);
        if (dest == NULL)
            continue; /* fails at once whatever its place */
        if (!f->predict_ms(f->ctx, e->domain, e->origin, dest, &moves[i].predicted_ms)) {
            g_free(moves);
            return; /* not every move predicted: keep the plan's order */
        }
    }
    drv_drain_priority(moves, n, order);
    g_free(moves);
}

static void s_launch(s_step *st)
{
    drv_job *job = st->job;
    const drv_job_drain_opts *o = &job->drain.opts;
    if (job->state != DRV_JOB_RUNNING || job->cancel_requested)
        return;
    g_autofree size_t *order = g_new(size_t, job->drain.n_entries ? job->drain.n_entries : 1);
    s_launch_order(st, order);
    for (size_t k = 0; k < job->drain.n_entries; k++) {
        drv_job_entry *e = &job->drain.entries[order[k]];
        if (e->state != DRV_JOB_ENTRY_PLANNED)
            continue;
        if (s_load_total(st) >= o->max_parallel)
            return;
        const char *unknown = s_unknown(st, e->origin);
        if (unknown != NULL) { /* the domain's state there is unknown: wait, then give up */
            if (st->wait_expired) {
                s_set_error(e, g_strdup_printf("not moved: the inventory of %s was not "
                                               "authoritative (%s) for %u s",
                                               e->origin, unknown,
                                               DRV_JOB_DRAIN_UNKNOWN_WAIT_MS / 1000));
                e->state = DRV_JOB_ENTRY_FAILED;
                st->changed = true;
            } else {
                s_wait(st, g_strdup_printf("the inventory of %s is not authoritative (%s)",
                                           e->origin, unknown));
            }
            continue;
        }
        const char *dest = s_pick_dest(st, e);
        if (!dest) {
            s_set_error(e, e->error ? g_strdup_printf("%s; no other usable destination", e->error)
                                    : g_strdup("no usable destination"));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
            continue;
        }
        if (s_load(st, e->origin, true) >= o->per_source || s_load(st, dest, false) >= o->per_dest)
            continue; /* wait for a slot; a later entry may fit */
        const drv_job_drain_facts *f = st->facts;
        char *refused = f && f->move_refused ? f->move_refused(f->ctx, job, e, dest) : NULL;
        if (refused != NULL) {
            s_set_error(e, g_strdup_printf("not moved to %s: %s", dest, refused));
            g_free(refused);
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
            continue;
        }
        g_free(e->destination);
        e->destination = g_strdup(dest);
        e->attempts++;
        e->state = DRV_JOB_ENTRY_MIGRATING;
        memset(&e->progress, 0, sizeof(e->progress));
        s_entry_action(st, st->after, DRV_JOB_ACT_LAUNCH, e);
        st->changed = true;
    }
}

static void s_append_names(GString *s, const drv_job *job, drv_job_entry_state state,
                           const char *label)
{
    bool first = true;
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        if (e->state != state)
            continue;
        g_string_append_printf(s, "%s%s%s (%s)", first ? (s->len ? "; " : "") : ", ",
                               first ? label : "", e->domain, e->error ? e->error : "not moved");
        first = false;
    }
}

/* Whether the skipped entry e (shut down under on_unmovable=shutdown) may still run on its host. */
static bool s_entry_runs(const s_step *st, const drv_job_entry *e)
{
    const drv_job_drain_facts *f = st->facts;
    return f && f->domain_runs && f->domain_runs(f->ctx, e->origin, e->domain);
}

/* on_unmovable=shutdown: the skipped domains still running are waited for (shutdown timeout), then
 * destroyed with force, or failed. Returns true while the job must wait. */
static bool s_shutdowns_pending(s_step *st)
{
    drv_job *job = st->job;
    drv_job_drain *d = &job->drain;
    if (job->kind != DRV_JOB_KIND_DRAIN || d->opts.on_unmovable != DRV_JOB_UNMOVABLE_SHUTDOWN)
        return false;
    GPtrArray *running = g_ptr_array_new();
    for (size_t i = 0; i < d->n_entries; i++) {
        drv_job_entry *e = &d->entries[i];
        if (e->state == DRV_JOB_ENTRY_SKIPPED && s_entry_runs(st, e))
            g_ptr_array_add(running, e);
    }
    bool wait = false, destroyed = false;
    uint64_t timeout_ms = (uint64_t)d->opts.shutdown_timeout_s * 1000;
    uint64_t since = d->shutdown_sent_ms ? d->shutdown_sent_ms : st->now_ms;
    for (guint i = 0; i < running->len; i++) {
        drv_job_entry *e = g_ptr_array_index(running, i);
        if (job->cancel_requested) {
            s_set_error(e, g_strdup_printf("cancelled while %s was shutting down on %s (it may "
                                           "still run there)",
                                           e->domain, e->origin));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
        } else if (d->destroy_sent_ms != 0) {
            if (st->now_ms < d->destroy_sent_ms + DRV_JOB_DRAIN_UNKNOWN_WAIT_MS) {
                wait = true;
                continue;
            }
            s_set_error(e, g_strdup_printf("still running on %s %u s after it was destroyed "
                                           "(--force)",
                                           e->origin, DRV_JOB_DRAIN_UNKNOWN_WAIT_MS / 1000));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
        } else if (st->now_ms < since + timeout_ms) {
            wait = true;
        } else if (d->opts.force) {
            s_set_error(e, g_strdup_printf("did not shut down within %u s: destroyed on %s "
                                           "(--force)",
                                           d->opts.shutdown_timeout_s, e->origin));
            s_entry_action(st, st->before, DRV_JOB_ACT_DESTROY, e);
            st->changed = true;
            destroyed = wait = true;
        } else {
            s_set_error(e, g_strdup_printf("did not shut down within %u s and still runs on %s "
                                           "(does the guest ignore ACPI? --force destroys it)",
                                           d->opts.shutdown_timeout_s, e->origin));
            e->state = DRV_JOB_ENTRY_FAILED;
            st->changed = true;
        }
    }
    if (destroyed)
        d->destroy_sent_ms = MAX(st->now_ms, 1);
    g_ptr_array_free(running, TRUE);
    return wait;
}

/* Ends the job when nothing is in flight and nothing more will be launched. */
static void s_maybe_finish(s_step *st)
{
    drv_job *job = st->job;
    if (job->state != DRV_JOB_RUNNING)
        return;
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        drv_job_entry_state s = job->drain.entries[i].state;
        if (s == DRV_JOB_ENTRY_MIGRATING || (s == DRV_JOB_ENTRY_PLANNED && !job->cancel_requested))
            return;
    }
    bool drain = job->kind == DRV_JOB_KIND_DRAIN;
    const drv_job_drain_facts *f = st->facts;
    if (s_shutdowns_pending(st))
        return;
    if (drain && drv_job_drain_host_empty(job)) {
        /* empty by the entries; maintenance only when the host's own inventory says so too */
        const char *unknown = s_unknown(st, job->drain.host);
        const char *runs =
            unknown == NULL && f && f->host_runs ? f->host_runs(f->ctx, job->drain.host) : NULL;
        if (unknown != NULL || runs != NULL) {
            g_autofree char *what =
                unknown ? g_strdup_printf("cannot tell whether %s is empty: its inventory is not "
                                          "authoritative (%s)",
                                          job->drain.host, unknown)
                        : g_strdup_printf("%s still runs %s", job->drain.host, runs);
            if (!st->wait_expired && !job->cancel_requested) {
                s_wait(st, g_steal_pointer(&what));
                return;
            }
            job->state = job->cancel_requested ? DRV_JOB_CANCELLED : DRV_JOB_FAILED;
            g_free(job->error);
            if (job->cancel_requested)
                job->error = g_strdup_printf("drain of %s cancelled: %s", job->drain.host, what);
            else
                job->error =
                    g_strdup_printf("drain of %s: %s after %u s; the host stays "
                                    "preparing-maintenance",
                                    job->drain.host, what, DRV_JOB_DRAIN_UNKNOWN_WAIT_MS / 1000);
            st->changed = true;
            return;
        }
    }
    if (drv_job_drain_host_empty(job)) {
        if (drain)
            s_host_state(st, st->before, DRV_SCHED_HOST_MAINTENANCE);
        job->state = DRV_JOB_SUCCEEDED;
    } else {
        g_autoptr(GString) who = g_string_new(NULL);
        s_append_names(who, job, DRV_JOB_ENTRY_FAILED, "failed: ");
        s_append_names(who, job, DRV_JOB_ENTRY_SKIPPED,
                       job->drain.opts.on_unmovable == DRV_JOB_UNMOVABLE_SHUTDOWN
                           ? "shut down: "
                           : "left running: ");
        s_append_names(who, job, DRV_JOB_ENTRY_PLANNED, "not moved: ");
        job->state = job->cancel_requested ? DRV_JOB_CANCELLED : DRV_JOB_FAILED;
        g_free(job->error);
        if (job->kind == DRV_JOB_KIND_BALANCE)
            job->error = g_strdup_printf("balance: not every move was made: %s", who->str);
        else
            job->error = g_strdup_printf(
                "%s of %s: %s: %s", drain ? "drain" : "restore", job->drain.host,
                drain ? "the host still holds domains" : "not every domain is back", who->str);
    }
    st->changed = true;
}

static char *s_summary(const drv_job *job)
{
    unsigned n[DRV_JOB_ENTRY_STATE_LAST] = {0};
    for (size_t i = 0; i < job->drain.n_entries; i++)
        n[job->drain.entries[i].state]++;
    return g_strdup_printf(
        "%s of %s %s: %u done, %u migrating, %u planned, %u failed, %u skipped",
        drv_job_kind_to_string(job->kind), job->drain.host ? job->drain.host : "the cluster",
        drv_job_state_to_string(job->state), n[DRV_JOB_ENTRY_DONE], n[DRV_JOB_ENTRY_MIGRATING],
        n[DRV_JOB_ENTRY_PLANNED], n[DRV_JOB_ENTRY_FAILED], n[DRV_JOB_ENTRY_SKIPPED]);
}

static void s_append_all(drv_job_actions *dst, const drv_job_actions *src)
{
    for (size_t i = 0; i < drv_job_actions_len(src); i++)
        drv_job_actions_add(dst, drv_job_actions_get(src, i));
}

int drv_job_drain_step(drv_job *job, const drv_job_event *ev, const drv_job_drain_facts *facts,
                       uint64_t now_ms, drv_job_actions *actions, drv_error **err)
{
    if (!job || !actions || !drv_job_kind_is_batch(job->kind))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: not a drain, restore or balance job",
                             job && job->id ? job->id : "?");
    if (ev && (unsigned)ev->kind >= DRV_JOB_EV_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: event kind %d out of range", job->id,
                             (int)ev->kind);
    if (drv_job_state_is_terminal(job->state))
        return 0;
    uint64_t since = job->drain.waiting_since_ms;
    s_step st = {.job = job,
                 .facts = facts,
                 .now_ms = now_ms,
                 .before = drv_job_actions_new(),
                 .after = drv_job_actions_new(),
                 .wait_expired = since != 0 && now_ms >= since + DRV_JOB_DRAIN_UNKNOWN_WAIT_MS};
    if (ev && ev->kind == DRV_JOB_EV_CANCEL && job->state == DRV_JOB_PENDING) {
        job->cancel_requested = true;
        job->state = DRV_JOB_CANCELLED;
        g_free(job->error);
        job->error = g_strdup("cancelled before it started");
        st.changed = true;
    } else {
        if (ev)
            s_on_event(&st, ev);
        s_launch(&st);
        s_maybe_finish(&st);
    }
    /* a wait starts (announced once), goes on, or ends */
    bool wait_starts = st.waiting != NULL && since == 0;
    job->drain.waiting_since_ms = st.waiting != NULL ? (since ? since : MAX(now_ms, 1)) : 0;
    bool persist =
        st.changed || (st.progress && now_ms >= job->updated_ms + DRV_JOB_PROGRESS_PERSIST_MS);
    if (persist)
        job->updated_ms = MAX(job->updated_ms, now_ms);
    s_append_all(actions, st.before);
    if (persist) {
        drv_job_action p = {.kind = DRV_JOB_ACT_PERSIST, .job_id = job->id};
        drv_job_actions_add(actions, &p);
    }
    s_append_all(actions, st.after);
    if (st.changed || st.progress) {
        g_autofree char *msg = s_summary(job);
        drv_job_action p = {.kind = DRV_JOB_ACT_PUBLISH, .job_id = job->id, .message = msg};
        if (job->error && drv_job_state_is_terminal(job->state)) {
            g_autofree char *full = g_strdup_printf("%s; %s", msg, job->error);
            p.message = full;
            drv_job_actions_add(actions, &p);
        } else {
            drv_job_actions_add(actions, &p);
        }
    }
    if (wait_starts && !st.changed && !st.progress) {
        g_autofree char *msg = g_strdup_printf("waiting up to %u s: %s",
                                               DRV_JOB_DRAIN_UNKNOWN_WAIT_MS / 1000, st.waiting);
        drv_job_action p = {.kind = DRV_JOB_ACT_PUBLISH, .job_id = job->id, .message = msg};
        drv_job_actions_add(actions, &p);
        st.acted = true;
    }
    int r = st.changed || st.progress || st.acted;
    g_free(st.waiting);
    drv_job_actions_destroy(&st.before);
    drv_job_actions_destroy(&st.after);
    return r;
}
