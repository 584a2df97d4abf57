/* job.c — the job model: enum string tables, copy/free, consistency checks. */
#include <string.h>

#include <glib.h>

#include "job.h"

/* ------------------------------------------------------------------------------------------------
 * String tables. */

static const char *const s_kind_names[DRV_JOB_KIND_LAST] = {"migrate", "drain",    "restore",
                                                            "start",   "undefine", "balance"};
static const char *const s_state_names[DRV_JOB_STATE_LAST] = {"pending", "running", "succeeded",
                                                              "failed", "cancelled"};
static const char *const s_phase_names[DRV_JOB_PHASE_LAST] = {
    "new", "reserving", "verifying-storage", "migrating", "cancelling", "locating", "done"};
static const char *const s_unmovable_names[DRV_JOB_UNMOVABLE_LAST] = {"refuse", "leave",
                                                                      "shutdown"};
static const char *const s_entry_state_names[DRV_JOB_ENTRY_STATE_LAST] = {
    "planned", "migrating", "done", "failed", "skipped"};

static const char *const s_desired_names[DRV_JOB_DESIRED_LAST] = {"shutoff", "running", "paused"};
static const char *const s_step_names[DRV_JOB_STEP_LAST] = {
    "new", "defining", "starting", "locating", "cleaning", "undefining", "forgetting", "done"};

static const char *s_to_string(const char *const *table, int n, int value)
{
    return value >= 0 && value < n ? table[value] : NULL;
}

static int s_from_string(const char *const *table, int n, const char *name, int *ret)
{
    for (int i = 0; name && i < n; i++)
        if (strcmp(table[i], name) == 0) {
            *ret = i;
            return 0;
        }
    return -1;
}

#define S_ENUM_FUNCS(prefix, type, table, last)                                                    \
    const char *prefix##_to_string(type value)                                                     \
    {                                                                                              \
        return s_to_string(table, last, (int)value);                                               \
    }                                                                                              \
    int prefix##_from_string(const char *name, type *ret)                                          \
    {                                                                                              \
        int v;                                                                                     \
        if (s_from_string(table, last, name, &v) < 0)                                              \
            return -1;                                                                             \
        *ret = (type)v;                                                                            \
        return 0;                                                                                  \
    }

S_ENUM_FUNCS(drv_job_kind, drv_job_kind, s_kind_names, DRV_JOB_KIND_LAST)
S_ENUM_FUNCS(drv_job_state, drv_job_state, s_state_names, DRV_JOB_STATE_LAST)
S_ENUM_FUNCS(drv_job_phase, drv_job_phase, s_phase_names, DRV_JOB_PHASE_LAST)
S_ENUM_FUNCS(drv_job_unmovable, drv_job_unmovable, s_unmovable_names, DRV_JOB_UNMOVABLE_LAST)
S_ENUM_FUNCS(drv_job_entry_state, drv_job_entry_state, s_entry_state_names,
             DRV_JOB_ENTRY_STATE_LAST)
S_ENUM_FUNCS(drv_job_desired, drv_job_desired, s_desired_names, DRV_JOB_DESIRED_LAST)
S_ENUM_FUNCS(drv_job_step, drv_job_step, s_step_names, DRV_JOB_STEP_LAST)

bool drv_job_kind_is_batch(drv_job_kind kind)
{
    return kind == DRV_JOB_KIND_DRAIN || kind == DRV_JOB_KIND_RESTORE ||
           kind == DRV_JOB_KIND_BALANCE;
}

bool drv_job_state_is_terminal(drv_job_state state)
{
    return state == DRV_JOB_SUCCEEDED || state == DRV_JOB_FAILED || state == DRV_JOB_CANCELLED;
}

void drv_job_drain_opts_init(drv_job_drain_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_parallel = DRV_JOB_DRAIN_MAX_PARALLEL_DEFAULT;
    opts->per_source = DRV_JOB_DRAIN_PER_SOURCE_DEFAULT;
    opts->per_dest = DRV_JOB_DRAIN_PER_DEST_DEFAULT;
    opts->on_unmovable = DRV_JOB_UNMOVABLE_REFUSE;
    opts->shutdown_timeout_s = DRV_JOB_DRAIN_SHUTDOWN_TIMEOUT_S_DEFAULT;
}

/* ------------------------------------------------------------------------------------------------
 * Copy / free. */

static void s_entry_clear(drv_job_entry *e)
{
    g_free(e->domain);
    g_free(e->origin);
    g_free(e->planned);
    g_strfreev(e->alternates);
    g_free(e->destination);
    g_free(e->error);
    memset(e, 0, sizeof(*e));
}

void drv_job_destroy(drv_job **job_p)
{
    if (!job_p || !*job_p)
        return;
    drv_job *job = *job_p;
    g_free(job->id);
    g_free(job->owner);
    g_free(job->error);
    g_free(job->migrate.domain);
    g_free(job->migrate.source);
    g_free(job->migrate.destination);
    g_free(job->migrate.reservation_id);
    g_free(job->drain.host);
    g_free(job->drain.restore_of);
    g_free(job->lifecycle.domain);
    g_free(job->lifecycle.host);
    g_free(job->lifecycle.old_host);
    for (size_t i = 0; i < job->drain.n_entries; i++)
        s_entry_clear(&job->drain.entries[i]);
    g_free(job->drain.entries);
    g_free(job);
    *job_p = NULL;
}

drv_job *drv_job_copy(const drv_job *job)
{
    drv_job *c = g_new(drv_job, 1);
    *c = *job;
    c->id = g_strdup(job->id);
    c->owner = g_strdup(job->owner);
    c->error = g_strdup(job->error);
    c->migrate.domain = g_strdup(job->migrate.domain);
    c->migrate.source = g_strdup(job->migrate.source);
    c->migrate.destination = g_strdup(job->migrate.destination);
    c->migrate.reservation_id = g_strdup(job->migrate.reservation_id);
    c->drain.host = g_strdup(job->drain.host);
    c->drain.restore_of = g_strdup(job->drain.restore_of);
    c->lifecycle.domain = g_strdup(job->lifecycle.domain);
    c->lifecycle.host = g_strdup(job->lifecycle.host);
    c->lifecycle.old_host = g_strdup(job->lifecycle.old_host);
    c->drain.entries = g_new0(drv_job_entry, job->drain.n_entries ? job->drain.n_entries : 1);
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        drv_job_entry *d = &c->drain.entries[i];
        *d = *e;
        d->domain = g_strdup(e->domain);
        d->origin = g_strdup(e->origin);
        d->planned = g_strdup(e->planned);
        d->alternates = e->alternates ? g_strdupv(e->alternates) : g_new0(char *, 1);
        d->destination = g_strdup(e->destination);
        d->error = g_strdup(e->error);
    }
    return c;
}

drv_job_entry *drv_job_find_entry(const drv_job *job, const char *domain)
{
    for (size_t i = 0; domain && i < job->drain.n_entries; i++)
        if (strcmp(job->drain.entries[i].domain, domain) == 0)
            return &job->drain.entries[i];
    return NULL;
}

drv_job *drv_job_new(const char *id, drv_job_kind kind, const char *owner, uint64_t now_ms)
{
    drv_job *job = g_new0(drv_job, 1);
    job->id = g_strdup(id);
    job->kind = kind;
    job->state = DRV_JOB_PENDING;
    job->created_ms = job->updated_ms = now_ms;
    job->owner = owner && *owner ? g_strdup(owner) : NULL;
    return job;
}

void drv_job_set_owner(drv_job *job, const char *owner)
{
    g_free(job->owner);
    job->owner = g_strdup(owner);
}

/* ------------------------------------------------------------------------------------------------
 * Validation. */

static bool s_empty(const char *s)
{
    return !s || !*s;
}

static int s_validate_migrate(const drv_job *job, drv_error **err)
{
    const drv_job_migrate *m = &job->migrate;
    if (s_empty(m->domain) || s_empty(m->source) || s_empty(m->destination) ||
        s_empty(m->reservation_id))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: migrate needs domain, source, destination and "
                             "reservation_id",
                             job->id);
    if (strcmp(m->source, m->destination) == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: source and destination are the same host (%s)", job->id,
                             m->source);
    if ((unsigned)m->phase >= DRV_JOB_PHASE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: phase out of range", job->id);
    bool terminal = drv_job_state_is_terminal(job->state);
    if (terminal != (m->phase == DRV_JOB_PHASE_DONE))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: state %s does not go with phase %s",
                             job->id, drv_job_state_to_string(job->state),
                             drv_job_phase_to_string(m->phase));
    if ((job->state == DRV_JOB_PENDING) != (m->phase == DRV_JOB_PHASE_NEW))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: state %s does not go with phase %s",
                             job->id, drv_job_state_to_string(job->state),
                             drv_job_phase_to_string(m->phase));
    if (terminal && m->reserved)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: terminal job still holds reservation %s", job->id,
                             m->reservation_id);
    return 0;
}

static int s_validate_entry(const drv_job *job, const drv_job_entry *e, size_t i, drv_error **err)
{
    if (s_empty(e->domain) || s_empty(e->origin))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: entry %zu needs domain and origin",
                             job->id, i);
    if ((unsigned)e->state >= DRV_JOB_ENTRY_STATE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: entry %s: state out of range",
                             job->id, e->domain);
    if (s_empty(e->planned) && e->state != DRV_JOB_ENTRY_SKIPPED &&
        e->state != DRV_JOB_ENTRY_FAILED)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: entry %s: no planned destination but state %s", job->id,
                             e->domain, drv_job_entry_state_to_string(e->state));
    if ((e->state == DRV_JOB_ENTRY_MIGRATING || e->state == DRV_JOB_ENTRY_DONE) &&
        (s_empty(e->destination) || e->attempts == 0))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: entry %s: state %s needs a destination and an attempt",
                             job->id, e->domain, drv_job_entry_state_to_string(e->state));
    if (!e->alternates)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: entry %s: alternates missing",
                             job->id, e->domain);
    for (size_t k = 0; k < i; k++)
        if (strcmp(job->drain.entries[k].domain, e->domain) == 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: domain %s listed twice", job->id,
                                 e->domain);
    if (e->state == DRV_JOB_ENTRY_MIGRATING && job->state != DRV_JOB_RUNNING)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: entry %s is migrating but the job is %s", job->id, e->domain,
                             drv_job_state_to_string(job->state));
    return 0;
}

static int s_validate_drain(const drv_job *job, drv_error **err)
{
    const drv_job_drain *d = &job->drain;
    if (job->kind == DRV_JOB_KIND_BALANCE && d->host != NULL)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: a balance has no \"host\" (each entry names its own)",
                             job->id);
    if (job->kind != DRV_JOB_KIND_BALANCE && s_empty(d->host))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: %s: missing \"host\"", job->id,
                             drv_job_kind_to_string(job->kind));
    if (d->opts.max_parallel == 0 || d->opts.per_source == 0 || d->opts.per_dest == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: max_parallel, per_source and per_dest must be at least 1",
                             job->id);
    if ((unsigned)d->opts.on_unmovable >= DRV_JOB_UNMOVABLE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: on_unmovable out of range", job->id);
    if ((job->kind == DRV_JOB_KIND_RESTORE) != !s_empty(d->restore_of))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: restore_of is required for a restore and only for it",
                             job->id);
    if (d->n_entries && !d->entries)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: entries missing", job->id);
    for (size_t i = 0; i < d->n_entries; i++)
        if (s_validate_entry(job, &d->entries[i], i, err) < 0)
            return -1;
    return 0;
}

static int s_validate_lifecycle(const drv_job *job, drv_error **err)
{
    const drv_job_lifecycle *l = &job->lifecycle;
    bool start = job->kind == DRV_JOB_KIND_START;
    const char *kind = drv_job_kind_to_string(job->kind);
    if (s_empty(l->domain))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: %s needs a domain", job->id, kind);
    if (start && s_empty(l->host))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: start needs a host", job->id);
    if (l->host != NULL && l->host[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: empty host", job->id);
    if (l->old_host != NULL && (!start || l->old_host[0] == '\0'))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: old_host is for a start job only, and not empty", job->id);
    if (l->old_host != NULL && strcmp(l->old_host, l->host) == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "job %s: old_host and host are the same host (%s)", job->id, l->host);
    if ((unsigned)l->step >= DRV_JOB_STEP_LAST ||
        (unsigned)l->desired_before >= DRV_JOB_DESIRED_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: step or desired_before out of range",
                             job->id);
    bool terminal = drv_job_state_is_terminal(job->state);
    if (terminal != (l->step == DRV_JOB_STEP_DONE) ||
        (job->state == DRV_JOB_PENDING) != (l->step == DRV_JOB_STEP_NEW))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: state %s does not go with step %s",
                             job->id, drv_job_state_to_string(job->state),
                             drv_job_step_to_string(l->step));
    bool ok = true;
    switch (l->step) {
    case DRV_JOB_STEP_DEFINING:
    case DRV_JOB_STEP_STARTING:
    case DRV_JOB_STEP_CLEANING:
        ok = start && (l->step != DRV_JOB_STEP_CLEANING || l->old_host != NULL);
        break;
    case DRV_JOB_STEP_LOCATING:
        ok = l->host != NULL;
        break;
    case DRV_JOB_STEP_UNDEFINING:
        ok = start ? l->old_host != NULL : l->host != NULL;
        break;
    case DRV_JOB_STEP_FORGETTING:
        ok = !start;
        break;
    default:
        break;
    }
    if (!ok)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: a %s job cannot be in step %s%s",
                             job->id, kind, drv_job_step_to_string(l->step),
                             l->step == DRV_JOB_STEP_CLEANING ||
                                     l->step == DRV_JOB_STEP_UNDEFINING ||
                                     l->step == DRV_JOB_STEP_LOCATING
                                 ? " without its host"
                                 : "");
    return 0;
}

int drv_job_validate(const drv_job *job, drv_error **err)
{
    if (!job)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: NULL");
    if (s_empty(job->id))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job: missing id");
    if ((unsigned)job->kind >= DRV_JOB_KIND_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: kind out of range", job->id);
    if ((unsigned)job->state >= DRV_JOB_STATE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: state out of range", job->id);
    if (job->updated_ms < job->created_ms)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "job %s: updated_ms before created_ms",
                             job->id);
    if (job->kind == DRV_JOB_KIND_MIGRATE)
        return s_validate_migrate(job, err);
    if (job->kind == DRV_JOB_KIND_START || job->kind == DRV_JOB_KIND_UNDEFINE)
        return s_validate_lifecycle(job, err);
    return s_validate_drain(job, err);
}
