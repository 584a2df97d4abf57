/* drain_run.c — the drain and restore job runner (see drain_run.h). Every drain in flight is a
 * drv_job driven by the pure executor of jobs/job_drain.h. What happens goes in as an event —
 * START, RESTARTED when taken over, each child migration's outcome (the migration runner's end
 * hook), its progress (polled from the live child), where a domain is after a restart (answered
 * from the child job in etcd), CANCEL — and the actions that come out are performed here in order:
 * the host's admin state, jobs/<id>, events on job.<id>, LAUNCH as a child migration job
 * (ctl_migrate_launch), CANCEL of a child, SHUTDOWN of an unmovable domain.
 *
 * Outcomes that arrive while actions are being performed (a launch refused at once, a child that
 * ended synchronously) are queued and fed after the current step: the executor is never entered
 * twice at the same time. */
#include "drain_run.h"
#include "takeover_gate.h"

#include "ctl_io.h"
#include "domstate.h"

#include "broker.h"
#include "events.h"
#include "job_drain.h"
#include "log.h"
#include "store_async.h"
#include "migrate_launch.h"
#include "migrate_private.h"
#include "placement.h"

#include <string.h>

/* How often the children's progress is looked at (and the executor re-evaluated). */
#define S_POLL_MS 500
/* After a take-over, the job waits up to this long for the agents of every host it names to
 * register with this controller, so that destinations are not judged unusable in the meantime. */
#define S_TAKEOVER_GRACE_MS 15000

typedef struct {
    drv_job_event_kind kind;
    char *domain;
    unsigned attempt;
    drv_job_where where;
    char *message;
    drv_job_result result;
    drv_job_progress progress;
} s_qev;

typedef struct ctl_drains s_dmod;

typedef struct {
    s_dmod *mod; /* the runner that drives it */
    drv_job *job;
    GQueue *events; /* s_qev*: fed in order by s_process */
    bool processing;
    int64_t next_poll_ms;
    int64_t restart_ms;    /* a LOCATE could not be answered: feed RESTARTED again then (0 = no) */
    int64_t hold_until_ms; /* taken over: wait (at most until then) for the hosts to register */
} s_drun;

/* The runner's state, reached through the controller context (c->drains). */
struct ctl_drains {
    ctl *c;
    GHashTable *runs;       /* job id → s_drun* */
    ctl_takeover_gate gate; /* leadership and the take-over of stored jobs (takeover_gate.h) */
};

static void s_qev_free(gpointer p)
{
    s_qev *q = p;
    g_free(q->domain);
    g_free(q->message);
    g_free(q);
}

static void s_drun_free(gpointer p)
{
    s_drun *run = p;
    drv_job_destroy(&run->job);
    g_queue_free_full(run->events, s_qev_free);
    g_free(run);
}

static void s_on_child_end(ctl *c, const drv_job *child, void *ctx);

static s_dmod *s_mod_get(ctl *c)
{
    if (c->drains == NULL) {
        c->drains = g_new0(s_dmod, 1);
        c->drains->c = c;
        c->drains->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_drun_free);
        ctl_migrate_set_end_hook(c, s_on_child_end, NULL);
    }
    return c->drains;
}

static s_drun *s_find(const s_dmod *m, const char *id)
{
    return m != NULL && id != NULL ? g_hash_table_lookup(m->runs, id) : NULL;
}

static s_qev *s_queue(s_drun *run, drv_job_event_kind kind, const char *domain, unsigned attempt,
                      const char *message)
{
    s_qev *q = g_new0(s_qev, 1);
    q->kind = kind;
    q->domain = g_strdup(domain);
    q->attempt = attempt;
    q->message = g_strdup(message);
    g_queue_push_tail(run->events, q);
    return q;
}

static void s_queue_found(s_drun *run, const char *domain, unsigned attempt, drv_job_where where)
{
    s_queue(run, DRV_JOB_EV_DOMAIN_FOUND, domain, attempt, NULL)->where = where;
}

/* Queues a terminal child job's outcome for its entry. */
static void s_queue_outcome(s_drun *run, const char *domain, unsigned attempt, const drv_job *child)
{
    if (child->migrate.location_unknown && child->state != DRV_JOB_SUCCEEDED) {
        /* the child gave up locating: no retry from an origin the domain may have left */
        s_queue(run, DRV_JOB_EV_DOMAIN_FOUND, domain, attempt, child->error)->where =
            DRV_JOB_WHERE_UNKNOWN;
        return;
    }
    switch (child->state) {
    case DRV_JOB_SUCCEEDED:
        s_queue(run, DRV_JOB_EV_RESULT_OK, domain, attempt, NULL)->result = child->migrate.result;
        break;
    case DRV_JOB_CANCELLED:
        s_queue(run, DRV_JOB_EV_RESULT_CANCELLED, domain, attempt, child->error);
        break;
    default:
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, domain, attempt,
                child->error ? child->error : "migration failed");
        break;
    }
}

/* Splits "<drain>:<domain>:<attempt>". */
static bool s_child_parse(const char *id, char **ret_drain, char **ret_domain,
                          unsigned *ret_attempt)
{
    const char *a = strchr(id, ':'), *b = strrchr(id, ':');
    guint64 n = 0;
    if (a == NULL || b == NULL || b <= a + 1 ||
        !g_ascii_string_to_unsigned(b + 1, 10, 1, 1000, &n, NULL))
        return false;
    *ret_drain = g_strndup(id, (size_t)(a - id));
    *ret_domain = g_strndup(a + 1, (size_t)(b - a - 1));
    *ret_attempt = (unsigned)n;
    return true;
}

/* The migration runner's end hook: queue the outcome for the drain that launched the job. */
static void s_on_child_end(ctl *c, const drv_job *child, void *ctx)
{
    (void)ctx;
    g_autofree char *drain = NULL, *domain = NULL;
    unsigned attempt = 0;
    if (child->kind != DRV_JOB_KIND_MIGRATE || !s_child_parse(child->id, &drain, &domain, &attempt))
        return;
    s_drun *run = s_find(c->drains, drain);
    if (run == NULL)
        return;
    drv_info("job '%s': move of '%s' (attempt %u) %s", drain, domain, attempt,
             drv_job_state_to_string(child->state));
    s_queue_outcome(run, domain, attempt, child);
}

/* ------------------------------------------------------------------ facts for the executor */

typedef struct {
    s_drun *run;
    GArray *loads;              /* drv_job_host_load */
    drv_sched_cluster *cluster; /* a balance's view for move_refused, built when first needed */
} s_facts_ctx;

static drv_job_host_load *s_load_of(GArray *loads, const char *host)
{
    for (guint i = 0; i < loads->len; i++) {
        drv_job_host_load *l = &g_array_index(loads, drv_job_host_load, i);
        if (strcmp(l->host, host) == 0)
            return l;
    }
    drv_job_host_load l = {.host = host};
    g_array_append_val(loads, l);
    return &g_array_index(loads, drv_job_host_load, loads->len - 1);
}

/* Whether host can take domain now: known, reachable and active (a restore's own host counts as
 * active: the restore sets it so before launching). */
static bool s_dest_usable(void *ctx, const char *domain, const char *host)
{
    s_facts_ctx *fc = ctx;
    ctl *c = fc->run->mod->c;
    (void)domain;
    const ctl_host *h = ctl_model_host(c->model, host);
    if (h == NULL || !ctl_host_up(c, host))
        return false;
    const drv_job *job = fc->run->job;
    if (job->kind == DRV_JOB_KIND_RESTORE && strcmp(host, job->drain.host) == 0)
        return true;
    return h->admin_state == NULL || strcmp(h->admin_state, "active") == 0;
}

/* Why host's inventory is not authoritative (model.h), or NULL. */
static const char *s_host_unknown(void *ctx, const char *host)
{
    const s_facts_ctx *fc = ctx;
    return ctl_host_unknown_reason(ctl_model_host(fc->run->mod->c->model, host));
}

/* Whether a state reported by an agent proves the domain does not run: only "shut off" and
 * "crashed" do; "no state" (libvirt could not tell), "dying" and the active states do not. */
static bool s_state_proves_off(int state)
{
    return state == DRV_DOMSTATE_SHUTOFF || state == DRV_DOMSTATE_CRASHED;
}

/* A domain host's inventory does not prove off (the first by name), or NULL. */
static const char *s_host_runs(void *ctx, const char *host)
{
    const s_facts_ctx *fc = ctx;
    const ctl_host *h = ctl_model_host(fc->run->mod->c->model, host);
    if (h == NULL)
        return NULL;
    const char *first = NULL;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, h->inventory);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const ctl_actual *a = v;
        if (!s_state_proves_off(a->state) && (first == NULL || strcmp(a->name, first) < 0))
            first = a->name;
    }
    return first;
}

/* Whether domain may still run on host: its inventory is not authoritative, or shows it in a
 * state that does not prove it off. */
static bool s_domain_runs(void *ctx, const char *host, const char *domain)
{
    const s_facts_ctx *fc = ctx;
    const ctl_host *h = ctl_model_host(fc->run->mod->c->model, host);
    if (h == NULL)
        return false; /* removed from the cluster: nothing of it is known to run */
    if (ctl_host_unknown_reason(h) != NULL)
        return true;
    const ctl_actual *a = g_hash_table_lookup(h->inventory, domain);
    return a != NULL && !s_state_proves_off(a->state);
}

void ctl_drain_predict(const ctl *c, const char *domain, const char *source,
                       const char *destination, uint64_t memory_kib, drv_predict *ret)
{
    const drv_link_est *link = ctl_migrate_link(c, source, destination);
    uint64_t dirty = 0;
    ctl_migrate_last_dirty_rate(c, domain, &dirty);
    drv_predict_input in = {.memory_bytes = memory_kib * 1024,
                            .dirty_bps = dirty,
                            .bandwidth_bps = link ? link->bandwidth_bps : 0,
                            .fixed_ms = link ? link->fixed_ms : 0};
    drv_predict_policy pol = {0};
    drv_predict_choose(&in, &pol, ret);
}

/* The predicted time of a move (the launch order), false while it cannot be predicted; a domain
 * known to be off moves cold: 0. */
static bool s_predict_ms(void *ctx, const char *domain, const char *source, const char *destination,
                         uint64_t *ret_ms)
{
    const s_facts_ctx *fc = ctx;
    const ctl *c = fc->run->mod->c;
    const ctl_domain *d = ctl_model_domain(c->model, domain);
    if (d == NULL)
        return false;
    if (ctl_model_domain_is_off(c->model, d)) {
        *ret_ms = 0; /* a cold move copies no memory */
        return true;
    }
    drv_predict p;
    ctl_drain_predict(c, domain, source, destination, d->memory_kib, &p);
    *ret_ms = p.time_ms;
    return p.verdict != DRV_PREDICT_UNKNOWN;
}

/* A balance's last look before a move (job_drain.h move_refused): the domain is not taken by
 * another operation, and the scheduler's view now still allows the move
 * (drv_sched_balance_move_check: on its origin, running, the destination fit for it, N+1 kept
 * when the job was planned with it). The view is built once per step, on the first launch. */
static char *s_move_refused(void *ctx, const drv_job *job, const drv_job_entry *e, const char *dest)
{
    s_facts_ctx *fc = ctx;
    ctl *c = fc->run->mod->c;
    if (job->kind != DRV_JOB_KIND_BALANCE)
        return NULL;
    const ctl_domain *d = ctl_model_domain(c->model, e->domain);
    if (d != NULL && d->busy != NULL)
        return g_strdup_printf("%s is busy (%s)", e->domain, d->busy);
    if (fc->cluster == NULL)
        fc->cluster = ctl_placement_cluster(c, NULL);
    char *why = NULL;
    drv_error *err = NULL;
    if (drv_sched_balance_move_check(fc->cluster, e->domain, e->origin, dest,
                                     job->drain.opts.n_plus_one, &why, &err) < 0) {
        why = g_strdup(err->message);
        drv_error_destroy(&err);
    }
    if (why != NULL)
        drv_info("job '%s': move of '%s' %s → %s refused now: %s", job->id, e->domain, e->origin,
                 dest, why);
    /* booked in the view, so the next move of the same step is checked against it */
    else
        drv_sched_cluster_move_domain(fc->cluster, e->domain, dest, NULL);
    return why;
}

/* Migrations in flight that this job did not launch (strings borrowed from the live jobs). */
static void s_facts(s_drun *run, s_facts_ctx *fc, drv_job_drain_facts *f)
{
    fc->run = run;
    fc->loads = g_array_new(FALSE, TRUE, sizeof(drv_job_host_load));
    memset(f, 0, sizeof(*f));
    g_autofree char *prefix = g_strdup_printf("%s:", run->job->id);
    GPtrArray *live = ctl_migrate_live_all(run->mod->c);
    for (guint i = 0; i < live->len; i++) {
        const drv_job *j = g_ptr_array_index(live, i);
        if (g_str_has_prefix(j->id, prefix) || drv_job_state_is_terminal(j->state) ||
            j->migrate.source == NULL || j->migrate.destination == NULL)
            continue;
        f->cluster_inflight++;
        s_load_of(fc->loads, j->migrate.source)->as_source++;
        s_load_of(fc->loads, j->migrate.destination)->as_dest++;
    }
    g_ptr_array_unref(live);
    f->hosts = (const drv_job_host_load *)(void *)fc->loads->data;
    f->n_hosts = fc->loads->len;
    f->dest_usable = s_dest_usable;
    f->host_unknown = s_host_unknown;
    f->host_runs = s_host_runs;
    f->predict_ms = s_predict_ms;
    f->domain_runs = s_domain_runs;
    f->move_refused = s_move_refused;
    fc->cluster = NULL;
    f->ctx = fc;
}

/* ------------------------------------------------------------------ performing actions */

static void s_publish(ctl *c, const drv_job *job, const char *message)
{
    ctl_events_job(c, job, drv_job_state_to_string(job->state), message);
}

static void s_set_host_state(ctl *c, const char *host_id, drv_sched_host_state state)
{
    ctl_host *h = ctl_model_host(c->model, host_id);
    const char *name = drv_sched_host_state_to_string(state);
    if (h == NULL || name == NULL) {
        drv_warn("host '%s': cannot set admin state %s: unknown host", host_id, name ? name : "?");
        return;
    }
    if (g_strcmp0(h->admin_state, name) == 0)
        return;
    g_free(h->admin_state);
    h->admin_state = g_strdup(name);
    ctl_async_put_host(c, h);
    drv_info("host '%s' is now %s", host_id, name);
    ctl_events_host(c, h, "state-changed");
}

static void s_log_reply(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    (void)c;
    if (!rep->ok)
        drv_info("%s on host '%s': %s", (const char *)data, host, rep->message);
}

static void s_process(s_drun *run);

/* A drain's etcd write on its way: which job, domain and step it serves. */
typedef struct {
    char *job_id;
    char *domain;
    char *source;
    char *destination;
    unsigned attempt;
} s_dwrite;

static void s_dwrite_free(gpointer p)
{
    s_dwrite *w = p;
    g_free(w->job_id);
    g_free(w->domain);
    g_free(w->source);
    g_free(w->destination);
    g_free(w);
}

static s_dwrite *s_dwrite_new(const s_drun *run, const drv_job_action *a)
{
    s_dwrite *w = g_new0(s_dwrite, 1);
    w->job_id = g_strdup(run->job->id);
    w->domain = g_strdup(a->domain);
    w->source = g_strdup(a->source);
    w->destination = g_strdup(a->destination);
    w->attempt = a->attempt;
    return w;
}

static void s_cold_moved(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                         void *data)
{
    s_dwrite *w = data;
    s_drun *run = s_find(c->drains, w->job_id);
    if (err != NULL) {
        if (run != NULL) {
            s_queue(run, DRV_JOB_EV_RESULT_FAILED, w->domain, w->attempt, err->message);
            s_process(run);
        }
        return;
    }
    drv_info("job '%s': domain '%s' (not running) placed on host '%s'", w->job_id, w->domain,
             w->destination);
    if (stored != NULL)
        ctl_events_domain(c, stored, "placed");
    /* the placement is stored: only now does the source forget the definition */
    ctl_cmd cmd = {.kind = CTL_CMD_UNDEFINE, .domain = w->domain};
    g_autofree char *what = g_strdup_printf("undefine of '%s' (moved away)", w->domain);
    drv_error *serr = NULL;
    if (ctl_send(c, w->source, &cmd, s_log_reply, g_steal_pointer(&what), g_free, &serr) < 0) {
        drv_info("job '%s': %s", w->job_id, serr->message);
        drv_error_destroy(&serr);
    }
    if (run != NULL) {
        s_queue(run, DRV_JOB_EV_RESULT_OK, w->domain, w->attempt, NULL);
        s_process(run);
    }
}

/* Moves a domain that does not run: its placement changes (in etcd first), then the source
 * forgets the definition (the destination gets it when the domain is started). */
static void s_cold_move(s_drun *run, ctl_domain *d, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    ctl_domain *copy = ctl_domain_copy(d);
    g_free(copy->host);
    copy->host = g_strdup(a->destination);
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_cold_moved, s_dwrite_new(run, a),
                             s_dwrite_free, &err) < 0) {
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, a->domain, a->attempt, err->message);
        drv_error_destroy(&err);
    }
}

static void s_launch(s_drun *run, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    ctl_domain *d = ctl_model_domain(c->model, a->domain);
    if (d == NULL) {
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, a->domain, a->attempt,
                "the domain is no longer defined");
        return;
    }
    if (g_strcmp0(d->host, a->destination) == 0) {
        s_queue(run, DRV_JOB_EV_RESULT_OK, a->domain, a->attempt, NULL);
        return;
    }
    if (g_strcmp0(d->host, a->source) != 0) {
        g_autofree char *why = g_strdup_printf("the domain is now placed on '%s', not on '%s'",
                                               d->host ? d->host : "no host", a->source);
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, a->domain, a->attempt, why);
        return;
    }
    const char *state, *reason;
    ctl_model_domain_state(c->model, d, &state, &reason);
    if (g_strcmp0(reason, CTL_SAVED_MANAGED) == 0) { /* the image is on this host only */
        g_autofree char *why = g_strdup_printf(
            "it has a managed save image on '%s' that cannot move: restore it (drover domain "
            "restore %s) or discard it (drover domain managedsave-remove %s) first",
            a->source, a->domain, a->domain);
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, a->domain, a->attempt, why);
        return;
    }
    if (ctl_model_domain_is_off(c->model, d)) { /* known to be off on its host: no live migration */
        s_cold_move(run, d, a);
        return;
    }
    drv_error *err = NULL;
    if (ctl_migrate_launch(c, a->job_id, a->domain, a->destination, NULL, &err) < 0) {
        drv_info("job '%s': move of '%s' to '%s' refused: %s", run->job->id, a->domain,
                 a->destination, err->message);
        s_queue(run, DRV_JOB_EV_RESULT_FAILED, a->domain, a->attempt, err->message);
        drv_error_destroy(&err);
    }
}

/* A LOCATE's read of the child migration job, on the etcd worker. */
typedef struct {
    char *run_id;
    char *domain;
    char *destination;
    unsigned attempt;
} s_locate_q;

static void s_locate_q_free(gpointer p)
{
    s_locate_q *q = p;
    g_free(q->run_id);
    g_free(q->domain);
    g_free(q->destination);
    g_free(q);
}

static void s_process(s_drun *run);

static void s_located(ctl *c, drv_job *child, const drv_error *err, void *data)
{
    s_locate_q *q = data;
    s_drun *run = s_find(c->drains, q->run_id);
    if (run == NULL)
        return; /* the drain ended or was left to another leader meanwhile */
    if (err != NULL) {
        drv_warn("job '%s': locating '%s': %s; asking again", run->job->id, q->domain,
                 err->message);
        run->restart_ms = ctl_now_ms(c) + 1000;
        return;
    }
    if (child == NULL) {
        const ctl_domain *d = ctl_model_domain(c->model, q->domain);
        bool there = d != NULL && g_strcmp0(d->host, q->destination) == 0;
        drv_info("job '%s': '%s' (attempt %u) has no migration job: %s", run->job->id, q->domain,
                 q->attempt, there ? "placed on the destination" : "never launched");
        s_queue_found(run, q->domain, q->attempt,
                      there ? DRV_JOB_WHERE_DESTINATION : DRV_JOB_WHERE_SOURCE);
    } else if (drv_job_state_is_terminal(child->state)) {
        drv_info("job '%s': '%s' (attempt %u): its migration job '%s' %s", run->job->id, q->domain,
                 q->attempt, child->id, drv_job_state_to_string(child->state));
        s_queue_outcome(run, q->domain, q->attempt, child);
    } else if (ctl_migrate_live(run->mod->c, child->id) == NULL) {
        drv_info("job '%s': '%s' (attempt %u): resuming its migration job '%s' (%s)", run->job->id,
                 q->domain, q->attempt, child->id, drv_job_phase_to_string(child->migrate.phase));
        drv_job *copy = drv_job_copy(child);
        ctl_migrate_resume(c, copy);
        s_queue_found(run, q->domain, q->attempt, DRV_JOB_WHERE_MIGRATING);
    } else {
        s_queue_found(run, q->domain, q->attempt, DRV_JOB_WHERE_MIGRATING);
    }
    s_process(run);
}

/* Answers LOCATE from the child migration job: live → still migrating; stored and terminal → its
 * outcome; stored in flight → resume it (it was left alone by the take-over) and wait; absent →
 * never launched, unless the placement already says the destination (a cold move). */
static void s_locate(s_drun *run, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    const drv_job *live = ctl_migrate_live(c, a->job_id);
    if (live != NULL) {
        if (drv_job_state_is_terminal(live->state))
            s_queue_outcome(run, a->domain, a->attempt, live);
        else
            s_queue_found(run, a->domain, a->attempt, DRV_JOB_WHERE_MIGRATING);
        return;
    }
    s_locate_q *q = g_new0(s_locate_q, 1);
    q->run_id = g_strdup(run->job->id);
    q->domain = g_strdup(a->domain);
    q->destination = g_strdup(a->destination);
    q->attempt = a->attempt;
    drv_error *err = NULL;
    if (ctl_job_store_get_async(c, a->job_id, s_located, q, s_locate_q_free, &err) < 0) {
        drv_warn("job '%s': locating '%s': %s; asking again", run->job->id, a->domain,
                 err->message);
        drv_error_destroy(&err);
        s_locate_q_free(q);
        run->restart_ms = ctl_now_ms(c) + 1000;
    }
}

/* The unmovable domain's desired state is stored as shut off (or already was): now it is told. */
static void s_shutdown_command(ctl *c, const s_dwrite *w)
{
    ctl_cmd cmd = {.kind = CTL_CMD_SHUTDOWN, .domain = w->domain};
    g_autofree char *what = g_strdup_printf("shutdown of unmovable '%s'", w->domain);
    drv_error *err = NULL;
    drv_info("job '%s': shutting unmovable '%s' down on '%s'", w->job_id, w->domain, w->source);
    if (ctl_send(c, w->source, &cmd, s_log_reply, g_steal_pointer(&what), g_free, &err) < 0) {
        drv_warn("job '%s': shutdown of '%s': %s", w->job_id, w->domain, err->message);
        drv_error_destroy(&err);
    }
}

static void s_shutdown_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                              void *data)
{
    s_dwrite *w = data;
    if (err != NULL) {
        drv_warn("job '%s': '%s' not shut down: its desired state was not stored: %s", w->job_id,
                 w->domain, err->message);
        return;
    }
    if (stored != NULL)
        ctl_events_domain(c, stored, "state-changed");
    s_shutdown_command(c, w);
}

/* The force destroy of an unmovable domain that did not shut down in time (desired shut off is
 * stored already: the shutdown stored it). */
static void s_destroy(s_drun *run, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    ctl_cmd cmd = {.kind = CTL_CMD_DESTROY, .domain = a->domain};
    g_autofree char *what = g_strdup_printf("destroy of unmovable '%s'", a->domain);
    drv_error *err = NULL;
    drv_warn("job '%s': '%s' did not shut down within %u s on '%s': destroying it (--force)",
             run->job->id, a->domain, run->job->drain.opts.shutdown_timeout_s, a->source);
    if (ctl_send(c, a->source, &cmd, s_log_reply, g_steal_pointer(&what), g_free, &err) < 0) {
        drv_warn("job '%s': destroy of '%s': %s", run->job->id, a->domain, err->message);
        drv_error_destroy(&err);
    }
}

static void s_shutdown(s_drun *run, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    ctl_domain *d = ctl_model_domain(c->model, a->domain);
    s_dwrite *w = s_dwrite_new(run, a);
    if (d == NULL || d->desired == CTL_DESIRED_SHUTOFF) {
        s_shutdown_command(c, w);
        s_dwrite_free(w);
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = CTL_DESIRED_SHUTOFF;
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_shutdown_stored, w, s_dwrite_free,
                             &err) < 0) {
        drv_warn("job '%s': '%s' not shut down: %s", run->job->id, a->domain, err->message);
        drv_error_destroy(&err);
    }
}

static void s_perform(s_drun *run, const drv_job_action *a)
{
    ctl *c = run->mod->c;
    drv_error *err = NULL;
    switch (a->kind) {
    case DRV_JOB_ACT_SET_HOST_STATE:
        s_set_host_state(c, a->host, a->host_state);
        break;
    case DRV_JOB_ACT_PERSIST:
        if (ctl_job_store_put(c, run->job, &err) < 0) {
            drv_warn("%s", err->message);
            drv_error_destroy(&err);
        }
        break;
    case DRV_JOB_ACT_PUBLISH:
        s_publish(c, run->job, a->message);
        break;
    case DRV_JOB_ACT_LAUNCH:
        drv_info("job '%s': launching '%s' %s → %s (attempt %u) as job '%s'", run->job->id,
                 a->domain, a->source, a->destination, a->attempt, a->job_id);
        s_launch(run, a);
        break;
    case DRV_JOB_ACT_CANCEL:
        if (!ctl_migrate_cancel(c, a->job_id))
            drv_info("job '%s': cancel of '%s': its migration is not running here", run->job->id,
                     a->job_id);
        break;
    case DRV_JOB_ACT_LOCATE:
        s_locate(run, a);
        break;
    case DRV_JOB_ACT_SHUTDOWN:
        s_shutdown(run, a);
        break;
    case DRV_JOB_ACT_DESTROY:
        s_destroy(run, a);
        break;
    default:
        drv_debug("job '%s': action %s does not apply to a drain", run->job->id,
                  drv_job_action_kind_to_string(a->kind));
        break;
    }
}

/* Feeds ev (NULL = re-evaluate) and performs the actions. */
static void s_step(s_drun *run, const drv_job_event *ev)
{
    s_facts_ctx fc;
    drv_job_drain_facts facts;
    s_facts(run, &fc, &facts);
    drv_job_actions *acts = drv_job_actions_new();
    drv_error *err = NULL;
    int rc =
        drv_job_drain_step(run->job, ev, &facts, (uint64_t)ctl_wall_ms(run->mod->c), acts, &err);
    if (rc < 0) {
        drv_warn("job '%s': %s", run->job->id, err->message);
        drv_error_destroy(&err);
    }
    if (rc > 0 && ev != NULL && ev->kind != DRV_JOB_EV_PROGRESS) {
        g_autofree char *what = drv_job_actions_describe(acts);
        drv_debug("job '%s': %s%s%s → %s", run->job->id, drv_job_event_kind_to_string(ev->kind),
                  ev->domain ? " " : "", ev->domain ? ev->domain : "", what);
    }
    for (size_t i = 0; i < drv_job_actions_len(acts); i++)
        s_perform(run, drv_job_actions_get(acts, i));
    drv_job_actions_destroy(&acts);
    g_array_unref(fc.loads);
    drv_sched_cluster_destroy(&fc.cluster);
}

/* True when the agent of every host the job names is connected. */
static bool s_hosts_up(ctl *c, const drv_job *job)
{
    if (job->drain.host != NULL && !ctl_host_up(c, job->drain.host))
        return false;
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        if (e->state != DRV_JOB_ENTRY_PLANNED && e->state != DRV_JOB_ENTRY_MIGRATING)
            continue;
        if (!ctl_host_up(c, e->origin) || (e->planned != NULL && !ctl_host_up(c, e->planned)))
            return false;
        for (size_t k = 0; e->alternates != NULL && e->alternates[k] != NULL; k++)
            if (!ctl_host_up(c, e->alternates[k]))
                return false;
    }
    return true;
}

/* Feeds every queued event (and those queued meanwhile). */
static void s_process(s_drun *run)
{
    if (run->processing)
        return;
    if (run->hold_until_ms != 0) {
        if (!s_hosts_up(run->mod->c, run->job) && ctl_now_ms(run->mod->c) < run->hold_until_ms)
            return;
        run->hold_until_ms = 0;
    }
    run->processing = true;
    s_qev *q;
    while ((q = g_queue_pop_head(run->events)) != NULL) {
        drv_job_event ev = {.kind = q->kind,
                            .domain = q->domain,
                            .attempt = q->attempt,
                            .message = q->message,
                            .where = q->where,
                            .result = q->result,
                            .progress = q->progress};
        s_step(run, &ev);
        s_qev_free(q);
    }
    run->processing = false;
}

/* Feeds the live children's progress to their entries (published; persisted every 5 s). */
static void s_poll_progress(s_drun *run)
{
    drv_job *job = run->job;
    for (size_t i = 0; i < job->drain.n_entries; i++) {
        const drv_job_entry *e = &job->drain.entries[i];
        if (e->state != DRV_JOB_ENTRY_MIGRATING)
            continue;
        g_autofree char *child_id = drv_job_drain_child_id(job, e, e->attempts);
        const drv_job *child = ctl_migrate_live(run->mod->c, child_id);
        if (child == NULL ||
            memcmp(&child->migrate.progress, &e->progress, sizeof(e->progress)) == 0)
            continue;
        s_queue(run, DRV_JOB_EV_PROGRESS, e->domain, e->attempts, NULL)->progress =
            child->migrate.progress;
    }
}

/* ------------------------------------------------------------------ starting and taking over */

static s_drun *s_add(s_dmod *m, drv_job *job)
{
    s_drun *run = g_new0(s_drun, 1);
    run->mod = m;
    run->job = job;
    run->events = g_queue_new();
    g_hash_table_replace(m->runs, job->id, run);
    return run;
}

/* Drains run on the leader once its migrations are taken over (a drain's moves are migrations). */
static bool s_may_lead(ctl *c)
{
    return ctl_is_leader(c) && c->loaded && ctl_migrate_is_leading(c);
}

static guint s_gate_count(ctl *c)
{
    return g_hash_table_size(s_mod_get(c)->runs);
}

static void s_gate_drop(ctl *c)
{
    g_hash_table_remove_all(s_mod_get(c)->runs);
}

static void s_taken_over(ctl *c, GPtrArray *jobs, const drv_error *err, void *data);

static int s_gate_list(ctl *c, drv_error **err)
{
    return ctl_job_store_list_async(c, s_taken_over, NULL, NULL, err);
}

static const ctl_takeover_ops s_gate_ops = {"drain jobs", s_gate_count, s_gate_drop, s_gate_list};

/* The stored jobs, read on the etcd worker: the drains in flight are driven from now on. */
static void s_taken_over(ctl *c, GPtrArray *jobs, const drv_error *err, void *data)
{
    (void)data;
    s_dmod *m = s_mod_get(c);
    if (!ctl_takeover_gate_listed(&m->gate, &s_gate_ops, c, s_may_lead(c), err))
        return;
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *stored = g_ptr_array_index(jobs, i);
        if (!drv_job_kind_is_batch(stored->kind) || drv_job_state_is_terminal(stored->state) ||
            g_hash_table_contains(c->drains->runs, stored->id))
            continue;
        drv_job *j = drv_job_copy(stored);
        drv_job_set_owner(j, c->instance);
        s_drun *run = s_add(m, j);
        run->hold_until_ms = ctl_now_ms(c) + S_TAKEOVER_GRACE_MS;
        g_autofree char *of =
            j->drain.host ? g_strdup_printf("host '%s'", j->drain.host) : g_strdup("the cluster");
        drv_info("job '%s' (%s of %s, %s) taken over", j->id, drv_job_kind_to_string(j->kind), of,
                 drv_job_state_to_string(j->state));
        s_queue(run, j->state == DRV_JOB_PENDING ? DRV_JOB_EV_START : DRV_JOB_EV_RESTARTED, NULL, 0,
                NULL);
    }
    ctl_takeover_gate_open(&m->gate);
}

bool ctl_drain_ready(ctl *c)
{
    return c->drains != NULL && c->drains->gate.leading;
}

int ctl_drain_start(ctl *c, drv_job *job, drv_error **err)
{
    s_dmod *m = s_mod_get(c);
    if (g_hash_table_contains(m->runs, job->id)) {
        drv_error_set(err, DRV_ERR_EXISTS, 0, "job '%s' is already running", job->id);
        drv_job_destroy(&job);
        return -1;
    }
    if (ctl_job_store_put(c, job, err) < 0) {
        drv_job_destroy(&job);
        return -1;
    }
    s_drun *run = s_add(m, job);
    drv_info("job '%s': %s of %s (%zu domains) started", job->id, drv_job_kind_to_string(job->kind),
             job->drain.host ? job->drain.host : "the cluster", job->drain.n_entries);
    s_queue(run, DRV_JOB_EV_START, NULL, 0, NULL);
    s_process(run);
    return 0;
}

const drv_job *ctl_drain_live(const ctl *c, const char *job_id)
{
    s_drun *run = s_find(c->drains, job_id);
    return run ? run->job : NULL;
}

const drv_job *ctl_drain_in_flight(const ctl *c)
{
    if (c->drains == NULL)
        return NULL;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->drains->runs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const drv_job *j = ((s_drun *)v)->job;
        if (!drv_job_state_is_terminal(j->state))
            return j;
    }
    return NULL;
}

const drv_job *ctl_drain_active_for_host(const ctl *c, const char *host_id)
{
    if (c->drains == NULL)
        return NULL;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->drains->runs);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const drv_job *j = ((s_drun *)v)->job;
        if (!drv_job_state_is_terminal(j->state) && g_strcmp0(j->drain.host, host_id) == 0)
            return j;
    }
    return NULL;
}

int ctl_drain_cancel(ctl *c, const char *job_id)
{
    s_drun *run = s_find(c->drains, job_id);
    if (run == NULL)
        return 0;
    drv_info("job '%s': cancel requested", job_id);
    s_queue(run, DRV_JOB_EV_CANCEL, NULL, 0, NULL);
    s_process(run);
    return 1;
}

int64_t ctl_drain_tick(ctl *c, int64_t now_ms)
{
    s_dmod *m = s_mod_get(c);
    int64_t wait = ctl_takeover_gate_tick(&m->gate, &s_gate_ops, c, now_ms, s_may_lead(c));
    if (wait > 0)
        return wait;
    int64_t next = 1000;
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, m->runs);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(ids, g_strdup(k));
    for (guint i = 0; i < ids->len; i++) {
        s_drun *run = s_find(m, g_ptr_array_index(ids, i));
        if (run == NULL)
            continue;
        if (run->restart_ms != 0 && now_ms >= run->restart_ms) {
            run->restart_ms = 0;
            s_queue(run, DRV_JOB_EV_RESTARTED, NULL, 0, NULL);
        }
        bool poll = now_ms >= run->next_poll_ms;
        if (poll)
            run->next_poll_ms = now_ms + S_POLL_MS;
        if (poll && run->job->state == DRV_JOB_RUNNING && run->hold_until_ms == 0)
            s_poll_progress(run);
        s_process(run);
        if (poll && run->job->state == DRV_JOB_RUNNING && run->hold_until_ms == 0)
            s_step(run, NULL); /* slots freed by other jobs' migrations */
        if (drv_job_state_is_terminal(run->job->state) && g_queue_is_empty(run->events)) {
            drv_info("job '%s' %s", run->job->id, drv_job_state_to_string(run->job->state));
            ctl_counters_job_ended(&c->counters, run->job, (uint64_t)ctl_wall_ms(c));
            g_hash_table_remove(m->runs, run->job->id);
            continue;
        }
        int64_t t = g_queue_is_empty(run->events) || run->hold_until_ms != 0
                        ? run->next_poll_ms - now_ms
                        : 0;
        if (t < next)
            next = t;
    }
    g_ptr_array_unref(ids);
    return next < 0 ? 0 : next;
}

void ctl_drain_shutdown(ctl *c)
{
    if (c->drains == NULL)
        return;
    ctl_migrate_set_end_hook(c, NULL, NULL);
    g_hash_table_unref(c->drains->runs);
    g_clear_pointer(&c->drains, g_free);
}
