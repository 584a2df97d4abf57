/* main.c — drover-controller: configuration, the single-threaded zmq_poll loop over the agent
 * ROUTER, the client ROUTER, the etcd watch and the timers, and a clean shutdown on SIGTERM. */
#include "api.h"
#include "broker.h"
#include "ctl.h"
#include "events.h"
#include "leader.h"
#include "log.h"
#include "drain.h"
#include "job_busy.h"
#include "migrate.h"
#include "view.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

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

/* Reads the whole prefix into the cache and starts the watch after that revision. */
static int s_load(ctl *c, drv_error **err)
{
    int64_t rev = 0;
    ctl_model *fresh = ctl_model_new();
    if (ctl_store_load(c->store, fresh, &rev, err) < 0) {
        ctl_model_destroy(&fresh);
        return -1;
    }
    /* a reload (after a failed watch) keeps what agents told this process */
    ctl_model_adopt_runtime(fresh, c->model);
    ctl_model_destroy(&c->model);
    c->model = fresh;
    drv_etcd_watch_destroy(&c->watch);
    c->watch = ctl_store_watch(c->store, rev + 1, err);
    if (c->watch == NULL || ctl_job_busy_load(c, err) < 0) /* busy before any host registers */
        return -1;
    c->loaded = true;
    drv_info("state loaded from etcd at revision %lld: %u hosts, %u domains", (long long)rev,
             ctl_model_n_hosts(c->model), ctl_model_n_domains(c->model));
    return 0;
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
            drv_error_free(&err);
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
            ctl_events_publish(c->events, topic, "removed", ctl_view_named("id", name));
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

static int s_run(ctl *c)
{
    int64_t next_load_ms = 0;
    while (!s_stop) {
        int64_t now = ctl_now_ms();
        int64_t wait_ms = 500;
        if (!c->loaded && now >= next_load_ms) {
            drv_error *err = NULL;
            if (s_load(c, &err) < 0) {
                drv_warn("loading state from etcd: %s; retrying", err->message);
                drv_error_free(&err);
                next_load_ms = now + 1000;
            }
        }
        if (c->loaded) {
            drv_error *err = NULL;
            int64_t t = ctl_leader_tick(c->leader, now, &err);
            if (t < 0) {
                drv_err("%s", err->message);
                drv_error_free(&err);
                return 1;
            }
            if (t < wait_ms)
                wait_ms = t;
        }
        int64_t t = ctl_broker_tick(c->broker, ctl_now_ms());
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_migrate_tick(c, ctl_now_ms()); /* migration jobs: take-over, deadlines */
        if (t < wait_ms)
            wait_ms = t;
        t = ctl_drain_tick(c, ctl_now_ms()); /* drain and restore jobs (drain.h) */
        if (t < wait_ms)
            wait_ms = t;
        if (wait_ms < 0)
            wait_ms = 0;

        zmq_pollitem_t items[3];
        int n = 0;
        memset(items, 0, sizeof(items));
        items[n].socket = ctl_api_socket(c->api);
        items[n++].events = ZMQ_POLLIN;
        void *agents = ctl_broker_socket(c->broker);
        int agent_idx = -1, watch_idx = -1;
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
        int rc = zmq_poll(items, n, (long)wait_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            drv_err("zmq_poll: %s", zmq_strerror(errno));
            return 1;
        }
        if (watch_idx >= 0 && (items[watch_idx].revents & ZMQ_POLLIN))
            s_watch_drain(c);
        if (agent_idx >= 0 && (items[agent_idx].revents & ZMQ_POLLIN))
            ctl_broker_handle(c->broker);
        if (items[0].revents & ZMQ_POLLIN)
            ctl_api_handle(c->api);
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
        drv_error_free(&err);
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

    ctl c = {0};
    c.cfg = cfg;
    g_autofree char *uuid = g_uuid_string_random();
    c.instance = g_strndup(uuid, 8);
    c.zctx = zmq_ctx_new();
    c.model = ctl_model_new();
    int rc = 1;
    g_autofree char *endpoints = NULL;
    if (cfg->pid_file != NULL && s_write_pid(cfg->pid_file, &err) < 0)
        goto out;
    c.store = ctl_store_new(cfg->etcd_endpoints, cfg->prefix, (long)cfg->etcd_timeout_ms, &err);
    if (c.store == NULL)
        goto out;
    c.events = ctl_events_new(c.zctx, cfg->event_bind, &err);
    if (c.events == NULL)
        goto out;
    c.api = ctl_api_new(&c, &err);
    if (c.api == NULL)
        goto out;
    c.broker = ctl_broker_new(&c);
    c.leader = ctl_leader_new(&c);
    endpoints = g_strjoinv(",", cfg->etcd_endpoints);
    drv_info("controller '%s' (instance %s): etcd %s prefix %s, agents %s, clients %s, events %s",
             cfg->name, c.instance, endpoints, cfg->prefix, cfg->agent_bind, cfg->client_bind,
             cfg->event_bind);
    rc = s_run(&c);
    if (rc == 0)
        drv_info("shutting down");
out:
    if (err != NULL) {
        drv_err("%s", err->message);
        drv_error_free(&err);
    }
    ctl_drain_shutdown(&c);   /* drain jobs too */
    ctl_migrate_shutdown(&c); /* jobs stay in etcd for the next leader */
    ctl_broker_destroy(&c.broker);
    ctl_api_destroy(&c.api);
    ctl_events_destroy(&c.events);
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
