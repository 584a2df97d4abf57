/* main.c — drover-controller: configuration, the single-threaded zmq_poll loop over the agent
 * ROUTER, the client ROUTER, the etcd watch and the timers, and a clean shutdown on SIGTERM. */
#include "api.h"
#include "ctl_io.h"
#include "io_production.h"
#include "broker.h"
#include "ctl.h"
#include "stats_window.h"
#include "metrics.h"
#include "events.h"
#include "leader.h"
#include "log.h"
#include "drain_run.h"
#include "balance_run.h"
#include "etcd_worker.h"
#include "ha.h"
#include "hygiene.h"
#include "presence.h"
#include "job_busy.h"
#include "lifecycle_run.h"
#include "outcome.h"
#include "reconcile.h"
#include "store_doubt.h"
#include "migrate_private.h"
#include "migrate_run.h"
#include "view.h"
#include "zap.h"
#include "curve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

/* What leading means here (leader.h): the leader only reports its transitions; the agents' ROUTER
 * is bound while leading. */
static int s_lead(ctl *c, drv_error **err)
{
    return ctl_broker_start(c->broker, err);
}

static void s_follow(ctl *c)
{
    ctl_broker_stop(c->broker);
}

static const ctl_leader_transitions s_leader_transitions = {.lead = s_lead, .follow = s_follow};

/* Who hears what the agents say (broker.h): the broker does not know its consumers. */
static const ctl_broker_handlers s_broker_handlers = {
    .host_back = ctl_outcome_host_back,
    .reachability = ctl_reconcile_reachability,
    .inventory = ctl_reconcile_inventory,
    .domain_event = ctl_reconcile_event,
    .late_watched = ctl_outcome_watched,
    .late = ctl_outcome_late,
    .stopped = ctl_outcome_forget_all,
    .migrate_progress = ctl_migrate_on_progress,
};

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int s_write_pid(const char *path, drv_error **err)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    GError *gerr = NULL;
    if (!g_file_set_contents(path, text, -1, &gerr)) {
        drv_error_set(err, DRV_ERR_IO, gerr->code, "pid file '%s': %s", path, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    return 0;
}

/* A load of the whole prefix, built on the etcd worker into a model nobody else sees yet. */
typedef struct {
    ctl_model *fresh;
    int64_t revision;
    GPtrArray *jobs; /* drv_job*: the stored jobs, to mark their domains busy at once */
} s_load_req;

static void s_load_req_free(gpointer p)
{
    s_load_req *q = p;
    ctl_model_destroy(&q->fresh);
    if (q->jobs != NULL)
        g_ptr_array_unref(q->jobs);
    g_free(q);
}

static int s_load_work(ctl_store *store, void *data, drv_error **err)
{
    s_load_req *q = data;
    if (ctl_store_load(store, q->fresh, &q->revision, err) < 0)
        return -1;
    if (ctl_job_store_list_from(store, &q->jobs, err) < 0) {
        drv_error_prefix(err, "listing the stored jobs");
        return -1;
    }
    return 0;
}

/* On the loop: the fresh model replaces the cache (keeping what agents told this process) and
 * the watch starts after the revision read. */
static void s_load_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl *c = loop_ctx;
    s_load_req *q = data;
    c->loading = false;
    if (err != NULL) {
        drv_warn("loading state from etcd: %s; retrying", err->message);
        return;
    }
    ctl_model_adopt_runtime(q->fresh, c->model);
    ctl_model_destroy(&c->model);
    c->model = g_steal_pointer(&q->fresh);
    drv_etcd_watch_destroy(&c->watch);
    drv_error *werr = NULL;
    c->watch = ctl_store_watch(c->store, q->revision + 1, &werr);
    if (c->watch == NULL) {
        drv_warn("starting the etcd watch: %s; reloading", werr->message);
        drv_error_destroy(&werr);
        return;
    }
    /* busy before any host registers (job_busy.h) */
    guint busy = ctl_job_busy_mark(c->model, q->jobs);
    if (busy > 0)
        drv_info("%u domain%s busy from the start: stored jobs are moving them", busy,
                 busy == 1 ? "" : "s");
    c->loaded = true;
    drv_info("state loaded from etcd at revision %lld: %u hosts, %u domains",
             (long long)q->revision, ctl_model_n_hosts(c->model), ctl_model_n_domains(c->model));
}

/* Starts a load on the etcd worker unless one is under way. */
static void s_load(ctl *c)
{
    if (c->loading)
        return;
    s_load_req *q = g_new0(s_load_req, 1);
    q->fresh = ctl_model_new();
    drv_error *err = NULL;
    if (ctl_etcd_worker_submit(c->etcdq, s_load_work, s_load_done, q, s_load_req_free, &err) < 0) {
        drv_warn("loading state from etcd: %s", err->message);
        drv_error_destroy(&err);
        s_load_req_free(q);
        return;
    }
    c->loading = true;
}

static void s_watch_drain(ctl *c)
{
    for (int i = 0; c->watch != NULL && i < 1000; i++) {
        drv_etcd_event ev;
        memset(&ev, 0, sizeof(ev));
        drv_error *err = NULL;
        int rc = drv_etcd_watch_next(c->watch, 0, &ev, &err);
        if (rc == 0)
            return;
        if (rc < 0) {
            drv_warn("etcd watch failed (%s); reloading the state", err->message);
            drv_error_destroy(&err);
            drv_etcd_watch_destroy(&c->watch);
            c->loaded = false;
            return;
        }
        char *name = NULL;
        ctl_change ch = ctl_store_apply(c->store, c->model, &ev, &name);
        switch (ch) {
        case CTL_CHANGE_HOST: {
            ctl_host *h = ctl_model_host(c->model, name);
            if (h != NULL)
                ctl_events_host(c, h, "changed");
            break;
        }
        case CTL_CHANGE_DOMAIN: {
            ctl_domain *d = ctl_model_domain(c->model, name);
            if (d != NULL)
                ctl_events_domain(c, d, "changed");
            break;
        }
        case CTL_CHANGE_DOMAIN_DELETED:
            ctl_events_domain_name(c, name, "undefined", NULL);
            break;
        case CTL_CHANGE_HOST_DELETED: {
            g_autofree char *topic = g_strdup_printf("host.%s", name);
            ctl_publish(c, topic, "removed", ctl_view_named("id", name));
            break;
        }
        default:
            break;
        }
        if (ch != CTL_CHANGE_NONE)
            drv_debug("etcd watch: %s changed", name);
        g_free(name);
        drv_etcd_event_clear(&ev);
    }
}

/* CPU time of the calling thread: a turn's own work, apart from the time the machine did not
 * run it (drover_loop_turn_cpu_seconds). */
static int64_t s_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One turn of the loop: wait for traffic or the next timer, handle everything that is queued
 * (agents first, then etcd answers, the watch, clients), then run the timers. Liveness is judged
 * by the broker's tick, which reads the agents' queued traffic first. Nothing here waits on etcd,
 * libvirt or a peer. */
static int s_run(ctl *c)
{
    int64_t next_load_ms = 0;
    int64_t wait_ms = 0;
    while (!s_stop) {
        zmq_pollitem_t items[7];
        int n = 0;
        memset(items, 0, sizeof(items));
        items[n].socket = ctl_api_socket(c->api);
        items[n++].events = ZMQ_POLLIN;
        items[n].fd = ctl_etcd_worker_fd(c->etcdq);
        items[n++].events = ZMQ_POLLIN;
        items[n].socket = ctl_zap_socket(c->zap); /* handshakes wait on it: first */
        items[n++].events = ZMQ_POLLIN;
        int leader_idx = -1, agent_idx = -1, watch_idx = -1;
        if (ctl_leader_fd(c->leader) >= 0) {
            leader_idx = n;
            items[n].fd = ctl_leader_fd(c->leader);
            items[n++].events = ZMQ_POLLIN;
        }
        void *agents = ctl_broker_socket(c->broker);
        if (agents != NULL) {
            agent_idx = n;
            items[n].socket = agents;
            items[n++].events = ZMQ_POLLIN;
        }
        if (c->watch != NULL) {
            watch_idx = n;
            items[n].fd = drv_etcd_watch_fd(c->watch);
            items[n++].events = ZMQ_POLLIN;
        }
        if (c->metrics != NULL) {
            items[n].fd = ctl_metrics_fd(c->metrics);
            items[n++].events = ZMQ_POLLIN;
        }
        int rc = zmq_poll(items, n, (long)wait_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            drv_err("zmq_poll: %s", zmq_strerror(errno));
            return 1;
        }
        int64_t turn_us = g_get_monotonic_time();
        int64_t turn_cpu_ns = s_thread_cpu_ns();
        if (items[2].revents & ZMQ_POLLIN)
            ctl_zap_handle(c->zap);
        if (agent_idx >= 0 && (items[agent_idx].revents & ZMQ_POLLIN))
            ctl_broker_handle(c->broker);
        if (leader_idx >= 0 && (items[leader_idx].revents & ZMQ_POLLIN))
            ctl_leader_dispatch(c->leader);
        if (items[1].revents & ZMQ_POLLIN)
            ctl_etcd_worker_dispatch(c->etcdq);
        if (watch_idx >= 0 && (items[watch_idx].revents & ZMQ_POLLIN))
            s_watch_drain(c);
        if (items[0].revents & ZMQ_POLLIN)
            ctl_api_handle(c->api);
        /* /metrics (metrics.h): on the loop, each turn (MHD_run polls its epoll set without
         * waiting; it also runs MHD's timeouts) */
        int64_t metrics_wait = INT64_MAX;
        if (c->metrics != NULL)
            metrics_wait = ctl_metrics_run(c->metrics);

        int64_t now = ctl_now_ms(c);
        wait_ms = 500;
        if (!c->loaded && !c->loading && now >= next_load_ms) {
            s_load(c);
            next_load_ms = now + 1000;
        }
        if (c->loaded) {
            drv_error *err = NULL;
            int64_t t = ctl_leader_tick(c->leader, now, &err);
            if (t < 0) {
                drv_err("%s", err->message);
                drv_error_destroy(&err);
                return 1;
            }
            if (t < wait_ms)
                wait_ms = t;
        }
        int64_t t = ctl_broker_tick(c->broker, ctl_now_ms(c));
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_migrate_tick(c, ctl_now_ms(c)); /* migration jobs: take-over, deadlines */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_drain_tick(c, ctl_now_ms(c)); /* drain and restore jobs (drain_run.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_balance_tick(c, ctl_now_ms(c)); /* continuous balance (balance_run.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_lifecycle_tick(c, ctl_now_ms(c)); /* start and undefine jobs (lifecycle_run.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_outcome_tick(c, ctl_now_ms(c)); /* unknown outcomes resolved (outcome.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_doubt_tick(c, ctl_now_ms(c)); /* writes etcd may still apply (store_doubt.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_ha_tick(c, ctl_now_ms(c)); /* fencing verdicts, HA restarts (ha.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_presence_tick(c, ctl_now_ms(c)); /* every controller, in etcd (presence.h) */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_hygiene_tick(c, ctl_now_ms(c)); /* etcd status, compaction, retention */
        if (t < wait_ms)
            wait_ms = t;
        if (metrics_wait < wait_ms)
            wait_ms = metrics_wait;
        if (!c->loaded && !c->loading)
            wait_ms = MIN(wait_ms, MAX(0, next_load_ms - ctl_now_ms(c)));
        ctl_hist_observe(&c->counters.loop_turn, (double)(g_get_monotonic_time() - turn_us) / 1e6);
        ctl_hist_observe(&c->counters.loop_turn_cpu,
                         (double)(s_thread_cpu_ns() - turn_cpu_ns) / 1e9);
        if (wait_ms < 0)
            wait_ms = 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    ctl_config *cfg = NULL;
    drv_error *err = NULL;
    drv_log_init("drover-controller", DRV_LOG_INFO);
    if (ctl_config_load(argc, argv, &cfg, &err) < 0) {
        fprintf(stderr, "drover-controller: %s\n", err->message);
        drv_error_destroy(&err);
        return 2;
    }
    drv_log_level level = DRV_LOG_INFO;
    if (drv_log_level_from_string(cfg->log_level, &level) < 0) {
        fprintf(stderr, "drover-controller: log level '%s' is not debug, info, warn or error\n",
                cfg->log_level);
        ctl_config_destroy(&cfg);
        return 2;
    }
    drv_log_init("drover-controller", level);
    s_signals();
    drv_etcd_set_default_limits((size_t)cfg->etcd_max_reply_bytes,
                                (size_t)cfg->etcd_max_watch_line_bytes);

    ctl c = {0};
    ctl_io_use_production(&c);
    c.cfg = cfg;
    g_autofree char *uuid = g_uuid_string_random();
    c.instance = g_strndup(uuid, 8);
    c.zctx = zmq_ctx_new();
    c.model = ctl_model_new();
    g_queue_init(&c.placement_waiters);
    c.placement_released = ctl_api_placement_release;
    int rc = 1;
    g_autofree char *endpoints = NULL;
    if (cfg->pid_file != NULL && s_write_pid(cfg->pid_file, &err) < 0)
        goto out;
    c.store = ctl_store_new(cfg->etcd_endpoints, cfg->prefix, (long)cfg->etcd_timeout_ms,
                            &cfg->etcd_tls, &err);
    if (c.store == NULL)
        goto out;
    ctl_etcd_worker_opts wopts = {.name = "etcd",
                                  .max_queue = (size_t)cfg->etcd_queue_max,
                                  .refuse_after_ms = cfg->etcd_refuse_after_ms,
                                  .queue_deadline_ms = cfg->etcd_refuse_after_ms};
    c.etcdq = ctl_etcd_worker_new(cfg->etcd_endpoints, cfg->prefix, (long)cfg->etcd_timeout_ms,
                                  &cfg->etcd_tls, &wopts, &c, &err);
    if (c.etcdq == NULL)
        goto out;
    /* every socket is a CURVE server; the ZAP handler is bound before any of them */
    if (drv_curve_read_secret(cfg->secret_key_file, c.curve_secret, c.curve_public, &err) < 0) {
        drv_error_prefix(&err, "[security] secret_key_file (the controller's CURVE key; make one "
                               "with `drover keygen`)");
        goto out;
    }
    if (cfg->clients->len == 0)
        drv_warn("no client keys in [clients]: no client can connect");
    c.zap = ctl_zap_new(&c, &err);
    if (c.zap == NULL)
        goto out;
    c.events = ctl_events_new(c.zctx, cfg->event_bind, c.curve_secret, &err);
    if (c.events == NULL)
        goto out;
    c.api = ctl_api_new(&c, &err);
    if (c.api == NULL)
        goto out;
    c.outcomes = ctl_outcomes_new();
    c.stats = ctl_stats_new(6, 60000);
    c.doubts = ctl_doubts_new();
    c.broker = ctl_broker_new(&c, &s_broker_handlers);
    c.leader = ctl_leader_new(&c, &s_leader_transitions);
    c.lifecycle = ctl_lifecycle_new(&c);
    c.ha = ctl_ha_new(&c);
    c.presence = ctl_presence_new(&c);
    c.hygiene = ctl_hygiene_new(&c);
    c.metrics = ctl_metrics_new(&c, &err);
    if (c.metrics == NULL && err != NULL)
        goto out;
    endpoints = g_strjoinv(",", cfg->etcd_endpoints);
    drv_info("controller '%s' (instance %s): etcd %s prefix %s, agents %s, clients %s, events %s "
             "(CURVE, public key %s, %u client keys)",
             cfg->name, c.instance, endpoints, cfg->prefix, cfg->agent_bind, cfg->client_bind,
             cfg->event_bind, c.curve_public, cfg->clients->len);
    rc = s_run(&c);
    if (rc == 0)
        drv_info("shutting down");
out:
    if (err != NULL) {
        drv_err("%s", err->message);
        drv_error_destroy(&err);
    }
    ctl_etcd_worker_destroy(&c.etcdq); /* answers what waits for etcd, before its owners go */
    ctl_api_fail_waiting(&c);
    ctl_lifecycle_destroy(&c.lifecycle); /* answers its clients; jobs stay in etcd */
    ctl_drain_shutdown(&c);              /* drain jobs too */
    ctl_balance_shutdown();
    ctl_migrate_shutdown(&c); /* jobs stay in etcd for the next leader */
    ctl_metrics_destroy(&c.metrics);
    ctl_broker_destroy(&c.broker);
    ctl_doubts_destroy(&c.doubts);
    ctl_outcomes_destroy(&c.outcomes); /* after the broker: its last answers may add to it */
    ctl_stats_destroy(&c.stats);
    ctl_ha_destroy(&c.ha); /* after the broker: its failed commands call back into ha.c */
    ctl_presence_destroy(&c.presence);
    ctl_hygiene_destroy(&c.hygiene);
    ctl_api_destroy(&c.api);
    ctl_events_destroy(&c.events);
    ctl_zap_destroy(&c.zap);
    explicit_bzero(c.curve_secret, sizeof(c.curve_secret));
    ctl_leader_destroy(&c.leader);
    drv_etcd_watch_destroy(&c.watch);
    ctl_store_destroy(&c.store);
    ctl_model_destroy(&c.model);
    zmq_ctx_shutdown(c.zctx);
    zmq_ctx_term(c.zctx);
    if (cfg->pid_file != NULL)
        unlink(cfg->pid_file);
    g_free(c.instance);
    ctl_config_destroy(&cfg);
    return rc;
}
