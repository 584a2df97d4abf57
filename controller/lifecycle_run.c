/* lifecycle_run.c — the start / undefine job runner (see lifecycle_run.h). Every job in flight is a
 * drv_job driven by jobs/job_lifecycle.h: events go in (queued, fed in order), actions come out and
 * are performed in order here. PERSIST and SET_DESIRED wait for etcd's answer before the next
 * action (a command is never sent before its step is stored); a write that failed is tried again
 * every second. Callbacks name their job by id (and command generation), so a job that ended
 * meanwhile is simply not found. */
#include "lifecycle_run.h"
#include "takeover_gate.h"

#include "ctl_io.h"
#include "broker.h"
#include "events.h"
#include "job_lifecycle.h"
#include "log.h"
#include "migrate_private.h"
#include "api_prov.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

#define S_RETRY_MS 1000

typedef struct {
    drv_job_event ev;
    char *message;
} s_qev;

typedef struct {
    drv_job *job;
    ctl_req *req;   /* the client waiting, NULL once answered (or none: taken over) */
    GQueue *events; /* s_qev* */
    drv_job_actions *acts;
    size_t act_i;
    bool blocked;        /* the current action waits for etcd */
    int64_t retry_ms;    /* blocked action failed: perform it again then (0 = no) */
    int64_t relocate_ms; /* a LOCATE found the host unknown: ask again then (0 = no) */
    unsigned gen;        /* of the command in flight; older answers are ignored */
    int attempts;        /* SET_DESIRED after a lost compare */
    /* the last refusal by an agent, for the client's answer */
    char *fail_what, *fail_host, *fail_kind, *fail_msg;
} s_run;

struct ctl_lifecycle {
    ctl *c;
    GHashTable *runs;       /* job id → s_run* */
    ctl_takeover_gate gate; /* leadership and the take-over of stored jobs (takeover_gate.h) */
};

typedef struct {
    char *job_id;
    unsigned gen;
} s_cb;

static s_cb *s_cb_new(const s_run *run)
{
    s_cb *cb = g_new0(s_cb, 1);
    cb->job_id = g_strdup(run->job->id);
    cb->gen = run->gen;
    return cb;
}

static void s_cb_free(gpointer p)
{
    s_cb *cb = p;
    g_free(cb->job_id);
    g_free(cb);
}

static void s_qev_free(gpointer p)
{
    s_qev *q = p;
    g_free(q->message);
    g_free(q);
}

static void s_run_free(gpointer p)
{
    s_run *run = p;
    /* The job stays in etcd and the next leader (maybe this controller again, once it has its
     * lease back) finishes or rolls it back: whether the verb takes effect is not known here, so
     * never "failed" (the fault soak saw such a start reported failed, then carried out). */
    if (run->req != NULL)
        ctl_req_failf(run->req, DRV_ERR_UNKNOWN_OUTCOME,
                      "domain '%s': this controller stopped leading while job '%s' ran; the job "
                      "stays in etcd and the next leader finishes or rolls it back (drover job "
                      "show %s)",
                      run->job->lifecycle.domain, run->job->id, run->job->id);
    drv_job_destroy(&run->job);
    g_queue_free_full(run->events, s_qev_free);
    drv_job_actions_destroy(&run->acts);
    g_free(run->fail_what);
    g_free(run->fail_host);
    g_free(run->fail_kind);
    g_free(run->fail_msg);
    g_free(run);
}

ctl_lifecycle *ctl_lifecycle_new(ctl *c)
{
    ctl_lifecycle *self = g_new0(ctl_lifecycle, 1);
    self->c = c;
    self->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_run_free);
    return self;
}

void ctl_lifecycle_destroy(ctl_lifecycle **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_hash_table_unref((*self_p)->runs);
    g_free(*self_p);
    *self_p = NULL;
}

static s_run *s_find(ctl *c, const char *job_id)
{
    return c->lifecycle != NULL && job_id != NULL ? g_hash_table_lookup(c->lifecycle->runs, job_id)
                                                  : NULL;
}

static const char *s_verb(const drv_job *job)
{
    return job->kind == DRV_JOB_KIND_START ? "start" : "undefine";
}

/* ------------------------------------------------------------------ feeding */

static void s_process(ctl *c, s_run *run);

static void s_queue(s_run *run, drv_job_event_kind kind, const char *message)
{
    s_qev *q = g_new0(s_qev, 1);
    q->ev.kind = kind;
    q->message = g_strdup(message);
    g_queue_push_tail(run->events, q);
}

/* The client learns now that nobody knows what happened; the job goes on finding out. */
static void s_answer_unknown(s_run *run, const char *what, const char *host, const ctl_reply *rep)
{
    if (run->req == NULL)
        return;
    ctl_req_fail_reply(run->req, what, host, rep);
    run->req = NULL;
}

static void s_remember_refusal(s_run *run, const char *what, const char *host, const ctl_reply *rep)
{
    g_free(run->fail_what);
    g_free(run->fail_host);
    g_free(run->fail_kind);
    g_free(run->fail_msg);
    run->fail_what = g_strdup(what);
    run->fail_host = g_strdup(host);
    run->fail_kind = g_strdup(rep->error_kind);
    run->fail_msg = g_strdup(rep->message);
}

static void s_replied(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c, cb->job_id);
    if (run == NULL || cb->gen != run->gen)
        return;
    const char *what = run->job->lifecycle.step == DRV_JOB_STEP_DEFINING   ? "define"
                       : run->job->lifecycle.step == DRV_JOB_STEP_STARTING ? "start"
                                                                           : "undefine";
    bool undefine = strcmp(what, "undefine") == 0;
    if (rep->ok || (undefine && g_strcmp0(rep->error_kind, "not-found") == 0)) {
        if (undefine) {
            ctl_host *h = ctl_model_host(c->model, host);
            if (h != NULL)
                ctl_model_unreport(c->model, h, run->job->lifecycle.domain);
        }
        drv_info("job '%s': %s of '%s' on host '%s' done", run->job->id, what,
                 run->job->lifecycle.domain, host);
        s_queue(run, DRV_JOB_EV_REPLY_OK, NULL);
    } else if (rep->unknown_outcome) {
        drv_warn("job '%s': %s of '%s' on host '%s': %s; finding out", run->job->id, what,
                 run->job->lifecycle.domain, host, rep->message);
        s_answer_unknown(run, what, host, rep);
        s_queue(run, DRV_JOB_EV_REPLY_UNKNOWN, rep->message);
    } else {
        drv_info("job '%s': %s of '%s' on host '%s' refused: %s", run->job->id, what,
                 run->job->lifecycle.domain, host, rep->message);
        s_remember_refusal(run, what, host, rep);
        s_queue(run, DRV_JOB_EV_REPLY_FAILED, rep->message);
    }
    s_process(c, run);
}

/* ------------------------------------------------------------------ actions */

static void s_command(ctl *c, s_run *run, const drv_job_action *a)
{
    const drv_job_lifecycle *l = &run->job->lifecycle;
    ctl_domain *d = ctl_model_domain(c->model, l->domain);
    ctl_cmd cmd = {.domain = l->domain};
    switch (a->kind) {
    case DRV_JOB_ACT_DEFINE:
        cmd.kind = CTL_CMD_DEFINE;
        cmd.xml = d != NULL ? d->xml : NULL;
        break;
    case DRV_JOB_ACT_START:
        /* a `domain save` image: the start is a restore of it (domain restore); the record keeps
         * the path until the job succeeded, so a resumed job restores the same file */
        cmd.kind = d != NULL && d->saved_path != NULL ? CTL_CMD_RESTORE : CTL_CMD_START;
        cmd.path = d != NULL ? d->saved_path : NULL;
        break;
    default:
        cmd.kind = CTL_CMD_UNDEFINE;
        break;
    }
    run->gen++;
    if (cmd.kind == CTL_CMD_DEFINE && cmd.xml == NULL) {
        s_queue(run, DRV_JOB_EV_REPLY_FAILED, "the domain is no longer defined in the cluster");
        return;
    }
    s_cb *cb = s_cb_new(run);
    drv_error *err = NULL;
    if (ctl_send(c, a->host, &cmd, s_replied, cb, s_cb_free, &err) < 0) {
        /* never sent: certainly not run */
        ctl_reply fail = {.ok = false, .error_kind = "unavailable", .message = err->message};
        s_remember_refusal(run, ctl_cmd_kind_to_string(cmd.kind), a->host, &fail);
        s_queue(run, DRV_JOB_EV_REPLY_FAILED, err->message);
        s_cb_free(cb);
        drv_error_destroy(&err);
        return;
    }
    drv_info("job '%s': sent %s of '%s' to host '%s'", run->job->id,
             ctl_cmd_kind_to_string(cmd.kind), l->domain, a->host);
}

/* What host's inventory says of the domain (LOCATE). */
static void s_locate(ctl *c, s_run *run, const char *host)
{
    const drv_job_lifecycle *l = &run->job->lifecycle;
    const ctl_host *h = ctl_model_host(c->model, host);
    const char *unknown = ctl_host_unknown_reason(h);
    s_qev *q = g_new0(s_qev, 1);
    q->ev.kind = DRV_JOB_EV_DOMAIN_FOUND;
    if (unknown != NULL) {
        q->ev.where = DRV_JOB_WHERE_UNKNOWN;
        run->relocate_ms = ctl_now_ms(c) + S_RETRY_MS;
    } else {
        const ctl_actual *a = g_hash_table_lookup(h->inventory, l->domain);
        q->ev.where = a == NULL                        ? DRV_JOB_WHERE_NOWHERE
                      : ctl_vir_state_active(a->state) ? DRV_JOB_WHERE_RUNNING
                                                       : DRV_JOB_WHERE_DEFINED;
        run->relocate_ms = 0;
    }
    const ctl_domain *d = ctl_model_domain(c->model, l->domain);
    q->ev.desired_running = d != NULL && d->desired == CTL_DESIRED_RUNNING;
    if (unknown == NULL || run->relocate_ms == 0)
        drv_info("job '%s': domain '%s' on host '%s': %s", run->job->id, l->domain, host,
                 drv_job_where_to_string(q->ev.where));
    else
        drv_debug("job '%s': host '%s': %s; asking again", run->job->id, host, unknown);
    g_queue_push_tail(run->events, q);
}

/* An etcd write this run waits for is answered. */
static void s_unblock(ctl *c, const char *job_id, const drv_error *err, const char *what)
{
    s_run *run = s_find(c, job_id);
    if (run == NULL)
        return;
    if (err != NULL) {
        drv_warn("job '%s': %s: %s; trying again", job_id, what, err->message);
        run->retry_ms = ctl_now_ms(c) + S_RETRY_MS;
        return;
    }
    run->blocked = false;
    run->act_i++;
    s_process(c, run);
}

static void s_persisted(ctl *c, const drv_error *err, bool attempted, void *data)
{
    (void)attempted;
    s_unblock(c, data, err, "storing the job");
}

static void s_persist(ctl *c, s_run *run)
{
    g_autofree char *key = ctl_store_key(c->store, "jobs/%s", run->job->id);
    g_autofree char *text = drv_job_to_json_string(run->job);
    g_autofree char *what = g_strdup_printf("job '%s': storing it", run->job->id);
    drv_error *err = NULL;
    run->blocked = true;
    if (ctl_async_put_kv_then(c, key, text, what, s_persisted, g_strdup(run->job->id), g_free,
                              &err) < 0) {
        drv_warn("%s; trying again", err->message);
        drv_error_destroy(&err);
        run->retry_ms = ctl_now_ms(c) + S_RETRY_MS;
    }
}

static void s_desired_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data);

static void s_set_desired(ctl *c, s_run *run, drv_job_desired desired)
{
    ctl_desired want = (ctl_desired)CTL_DESIRED_SHUTOFF;
    if (ctl_desired_from_string(drv_job_desired_to_string(desired), &want) < 0)
        want = CTL_DESIRED_SHUTOFF;
    ctl_domain *d = ctl_model_domain(c->model, run->job->lifecycle.domain);
    if (d == NULL || d->desired == want) {
        run->act_i++;
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = want;
    run->blocked = true;
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_desired_stored,
                             g_strdup(run->job->id), g_free, &err) < 0) {
        drv_warn("job '%s': putting the desired state back: %s; trying again", run->job->id,
                 err->message);
        drv_error_destroy(&err);
        run->retry_ms = ctl_now_ms(c) + S_RETRY_MS;
    }
}

static void s_desired_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                             void *data)
{
    (void)stored;
    (void)attempted;
    s_run *run = s_find(c, data);
    if (run == NULL)
        return;
    if (err != NULL && err->kind == DRV_ERR_CONFLICT && ++run->attempts < 5) {
        /* the cache holds etcd's copy now: perform the action again on it */
        run->blocked = false;
        s_process(c, run);
        return;
    }
    if (err != NULL)
        drv_warn("job '%s': the desired state of '%s' was not put back: %s", run->job->id,
                 run->job->lifecycle.domain, err->message);
    s_unblock(c, data, NULL, NULL); /* given up or done: the job goes on */
}

static void s_forgotten(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_cb *cb = data;
    s_run *run = s_find(c, cb->job_id);
    if (run == NULL || cb->gen != run->gen)
        return;
    if (err == NULL) {
        ctl_events_domain_name(c, run->job->lifecycle.domain, "undefined", NULL);
        s_queue(run, DRV_JOB_EV_REPLY_OK, NULL);
    } else {
        s_queue(run, attempted ? DRV_JOB_EV_REPLY_UNKNOWN : DRV_JOB_EV_REPLY_FAILED, err->message);
    }
    s_process(c, run);
}

static void s_forget(ctl *c, s_run *run)
{
    run->gen++;
    s_cb *cb = s_cb_new(run);
    drv_error *err = NULL;
    if (ctl_async_delete_domain(c, run->job->lifecycle.domain, s_forgotten, cb, s_cb_free, &err) <
        0) {
        s_queue(run, DRV_JOB_EV_REPLY_FAILED, err->message);
        drv_error_destroy(&err);
    }
}

static void s_publish(ctl *c, const drv_job *job, const char *message)
{
    ctl_events_job(c, job,
                   drv_job_state_is_terminal(job->state)
                       ? drv_job_state_to_string(job->state)
                       : drv_job_step_to_string(job->lifecycle.step),
                   message);
}

/* Performs the current action; false when it must wait (blocked). */
static bool s_perform(ctl *c, s_run *run, const drv_job_action *a)
{
    switch (a->kind) {
    case DRV_JOB_ACT_PERSIST:
        s_persist(c, run);
        return false;
    case DRV_JOB_ACT_SET_DESIRED:
        s_set_desired(c, run, a->desired);
        return !run->blocked;
    case DRV_JOB_ACT_DEFINE:
    case DRV_JOB_ACT_START:
    case DRV_JOB_ACT_UNDEFINE:
        s_command(c, run, a);
        break;
    case DRV_JOB_ACT_LOCATE:
        s_locate(c, run, a->host);
        break;
    case DRV_JOB_ACT_FORGET:
        s_forget(c, run);
        break;
    case DRV_JOB_ACT_PUBLISH:
        s_publish(c, run->job, a->message);
        if (a->message != NULL && drv_job_state_is_terminal(run->job->state))
            drv_info("job '%s': %s", run->job->id, a->message);
        break;
    default:
        drv_debug("job '%s': action %s does not apply", run->job->id,
                  drv_job_action_kind_to_string(a->kind));
        break;
    }
    run->act_i++;
    return true;
}

static void s_saved_forgotten(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                              void *data)
{
    if (err != NULL)
        drv_warn("domain '%s': restored, but its save record was not cleared: %s",
                 (const char *)data, err->message);
}

/* Clears the domain's saved_path in etcd once its image has been restored. */
static void s_forget_saved(ctl *c, const ctl_domain *d)
{
    ctl_domain *copy = ctl_domain_copy(d);
    g_clear_pointer(&copy->saved_path, g_free);
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_saved_forgotten, g_strdup(d->name),
                             g_free, &err) < 0) {
        drv_warn("domain '%s': save record not cleared: %s", d->name, err->message);
        drv_error_destroy(&err);
    }
}

/* The job is over: the domain is free again, the client gets its answer. */
static void s_end(ctl *c, s_run *run)
{
    const drv_job *job = run->job;
    const char *name = job->lifecycle.domain;
    ctl_model_set_busy(c->model, name, NULL);
    ctl_req *r = g_steal_pointer(&run->req);
    bool ok = job->state == DRV_JOB_SUCCEEDED;
    bool undefine = job->kind == DRV_JOB_KIND_UNDEFINE;
    /* --remove-storage (prov_undefine.c); a job taken over may carry that intent in etcd too */
    bool storage = undefine && (r == NULL || ctl_req_flag(r, "remove_storage"));
    if (r != NULL) {
        ctl_domain *d = ctl_model_domain(c->model, name);
        if (ok && storage) {
            ctl_prov_undefine_finish(c, r, name); /* answers r once the volumes are gone */
        } else if (ok && job->kind == DRV_JOB_KIND_UNDEFINE) {
            ctl_req_ok(r, ctl_view_undefined(name));
        } else if (ok && d != NULL) {
            ctl_events_domain(c, d, d->saved_path != NULL ? "restored" : "started");
            ctl_req_ok(r, ctl_view_domain_api(c->model, d));
        } else if (ok) {
            ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", name);
        } else if (run->fail_msg != NULL) {
            ctl_reply rep = {.ok = false, .error_kind = run->fail_kind, .message = run->fail_msg};
            ctl_req_fail_reply(r, run->fail_what, run->fail_host, &rep);
        } else {
            ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "domain '%s': %s (job '%s')", name,
                          job->error ? job->error : "failed", job->id);
        }
    } else if (ok && storage) {
        ctl_prov_undefine_finish(c, NULL, name);
    }
    if (!ok && storage)
        ctl_prov_undefine_unmark(c, name); /* the domain stays: so do its volumes */
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (ok && job->kind != DRV_JOB_KIND_UNDEFINE && d != NULL && d->saved_path != NULL)
        s_forget_saved(c, d); /* restored: the image is gone (the agent removed it) */
    g_hash_table_remove(c->lifecycle->runs, job->id);
}

/* Performs actions and feeds queued events until the job waits (or ends). */
static void s_process(ctl *c, s_run *run)
{
    for (;;) {
        if (run->blocked)
            return;
        if (run->acts != NULL && run->act_i < drv_job_actions_len(run->acts)) {
            if (!s_perform(c, run, drv_job_actions_get(run->acts, run->act_i)))
                return;
            continue;
        }
        s_qev *q = g_queue_pop_head(run->events);
        if (q == NULL)
            break;
        q->ev.message = q->message;
        drv_job_actions *acts = drv_job_actions_new();
        drv_error *err = NULL;
        int rc = drv_job_lifecycle_step(run->job, &q->ev, (uint64_t)ctl_wall_ms(c), acts, &err);
        if (rc < 0) {
            drv_warn("job '%s': %s", run->job->id, err->message);
            drv_error_destroy(&err);
        } else if (rc > 0) {
            g_autofree char *what = drv_job_actions_describe(acts);
            drv_debug("job '%s': %s → %s", run->job->id, drv_job_event_kind_to_string(q->ev.kind),
                      what);
            drv_job_actions_destroy(&run->acts);
            run->acts = acts;
            run->act_i = 0;
            run->attempts = 0;
            acts = NULL;
        }
        drv_job_actions_destroy(&acts);
        s_qev_free(q);
    }
    if (drv_job_state_is_terminal(run->job->state))
        s_end(c, run);
}

/* ------------------------------------------------------------------ starting jobs */

static s_run *s_add(ctl *c, drv_job *job, ctl_req *r)
{
    s_run *run = g_new0(s_run, 1);
    run->job = job;
    run->req = r;
    run->events = g_queue_new();
    g_hash_table_replace(c->lifecycle->runs, job->id, run);
    ctl_model_set_busy(c->model, job->lifecycle.domain, s_verb(job));
    return run;
}

static void s_begin(ctl *c, ctl_req *r, drv_job *job, drv_error *err)
{
    if (job == NULL) {
        ctl_model_set_busy(c->model, r->domain, NULL);
        ctl_req_fail(r, err);
        return;
    }
    s_run *run = s_add(c, job, r);
    drv_info("job '%s': %s '%s'%s%s", job->id, s_verb(job), job->lifecycle.domain,
             job->lifecycle.host ? " on host " : "",
             job->lifecycle.host ? job->lifecycle.host : "");
    s_queue(run, DRV_JOB_EV_START, NULL);
    s_process(c, run);
}

static char *s_new_id(const char *verb)
{
    g_autofree char *uuid = g_uuid_string_random();
    return g_strdup_printf("%s-%.8s", verb, uuid);
}

void ctl_lifecycle_start(ctl *c, ctl_req *r, const char *domain, const char *host,
                         const char *old_host, ctl_desired desired_before)
{
    g_autofree char *id = s_new_id("start");
    drv_job_desired before = DRV_JOB_DESIRED_SHUTOFF;
    if (drv_job_desired_from_string(ctl_desired_to_string(desired_before), &before) < 0)
        before = DRV_JOB_DESIRED_SHUTOFF;
    drv_job *job = NULL;
    drv_error *err = NULL;
    if (drv_job_start_new(id, domain, host, old_host, before, c->instance, (uint64_t)ctl_wall_ms(c),
                          &job, &err) < 0)
        job = NULL;
    s_begin(c, r, job, err);
}

void ctl_lifecycle_undefine(ctl *c, ctl_req *r, const char *domain, const char *host)
{
    g_autofree char *id = s_new_id("undefine");
    drv_job *job = NULL;
    drv_error *err = NULL;
    if (drv_job_undefine_new(id, domain, host, c->instance, (uint64_t)ctl_wall_ms(c), &job, &err) <
        0)
        job = NULL;
    s_begin(c, r, job, err);
}

/* ------------------------------------------------------------------ taking over */

typedef struct {
    GPtrArray *jobs;
} s_list_req;

static void s_list_req_free(gpointer p)
{
    s_list_req *q = p;
    if (q->jobs != NULL)
        g_ptr_array_unref(q->jobs);
    g_free(q);
}

static int s_list_work(ctl_store *store, void *data, drv_error **err)
{
    s_list_req *q = data;
    return ctl_job_store_list_from(store, &q->jobs, err);
}

static bool s_may_lead(ctl *c)
{
    return ctl_is_leader(c) && c->loaded && ctl_agents_bound(c);
}

static guint s_gate_count(ctl *c)
{
    return c->lifecycle != NULL ? g_hash_table_size(c->lifecycle->runs) : 0;
}

static void s_gate_drop(ctl *c)
{
    g_hash_table_remove_all(c->lifecycle->runs);
}

static int s_gate_list(ctl *c, drv_error **err);

static const ctl_takeover_ops s_gate_ops = {"start/undefine jobs", s_gate_count, s_gate_drop,
                                            s_gate_list};

static void s_list_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    s_list_req *q = data;
    ctl_lifecycle *self = c->lifecycle;
    if (self == NULL)
        return;
    if (!ctl_takeover_gate_listed(&self->gate, &s_gate_ops, c, s_may_lead(c), err))
        return;
    for (guint i = 0; i < q->jobs->len; i++) {
        drv_job *j = g_ptr_array_index(q->jobs, i);
        if ((j->kind != DRV_JOB_KIND_START && j->kind != DRV_JOB_KIND_UNDEFINE) ||
            drv_job_state_is_terminal(j->state) || g_hash_table_contains(self->runs, j->id))
            continue;
        g_ptr_array_index(q->jobs, i) = NULL;
        drv_job_set_owner(j, c->instance);
        s_run *run = s_add(c, j, NULL);
        drv_info("job '%s' (%s '%s' on host '%s', %s) taken over", j->id, s_verb(j),
                 j->lifecycle.domain, j->lifecycle.host ? j->lifecycle.host : "-",
                 drv_job_step_to_string(j->lifecycle.step));
        s_queue(run, j->state == DRV_JOB_PENDING ? DRV_JOB_EV_START : DRV_JOB_EV_RESTARTED, NULL);
        s_process(c, run);
    }
    ctl_takeover_gate_open(&self->gate);
}

static int s_gate_list(ctl *c, drv_error **err)
{
    s_list_req *q = g_new0(s_list_req, 1);
    if (ctl_async_submit(c, s_list_work, s_list_done, q, s_list_req_free, err) < 0) {
        s_list_req_free(q);
        return -1;
    }
    return 0;
}

int64_t ctl_lifecycle_tick(ctl *c, int64_t now_ms)
{
    ctl_lifecycle *self = c->lifecycle;
    if (self == NULL)
        return 1000;
    int64_t wait = ctl_takeover_gate_tick(&self->gate, &s_gate_ops, c, now_ms, s_may_lead(c));
    if (wait > 0)
        return wait;
    int64_t next = 1000;
    uint64_t wall = (uint64_t)ctl_wall_ms(c);
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, self->runs);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(ids, g_strdup(k));
    for (guint i = 0; i < ids->len; i++) {
        s_run *run = s_find(c, g_ptr_array_index(ids, i));
        if (run == NULL)
            continue;
        if (run->blocked && run->retry_ms != 0 && now_ms >= run->retry_ms) {
            run->retry_ms = 0;
            run->blocked = false; /* perform the same action again */
            s_process(c, run);
            continue;
        }
        if (run->blocked)
            continue;
        uint64_t dl = drv_job_lifecycle_deadline_ms(run->job);
        const char *locate = drv_job_lifecycle_locate_host(run->job);
        if (dl != 0 && wall >= dl) {
            drv_info("job '%s': waited %d s for host '%s'", run->job->id,
                     DRV_JOB_LOCATE_WAIT_MS / 1000, locate ? locate : "-");
            s_queue(run, DRV_JOB_EV_TIMEOUT, NULL);
            s_process(c, run);
            continue;
        }
        if (locate != NULL && run->relocate_ms != 0 && now_ms >= run->relocate_ms &&
            g_queue_is_empty(run->events)) {
            s_locate(c, run, locate);
            s_process(c, run);
            continue;
        }
    }
    g_ptr_array_unref(ids);
    return next;
}

const drv_job *ctl_lifecycle_live(ctl *c, const char *job_id)
{
    s_run *run = s_find(c, job_id);
    return run != NULL ? run->job : NULL;
}

GPtrArray *ctl_lifecycle_live_all(ctl *c)
{
    GPtrArray *out = g_ptr_array_new();
    if (c->lifecycle == NULL)
        return out;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->lifecycle->runs);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(out, ((s_run *)v)->job);
    return out;
}
