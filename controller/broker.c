/* broker.c — see broker.h. The agent edge: protobuf-c types stay in this file. */
#include "broker.h"
#include "stats_window.h"

#include "codec.h"
#include "curve.h"
#include "deadlines.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "store_async.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    char *id;
    char *host;
    ctl_cmd_kind kind;
    char *domain;
    int64_t deadline_ms;   /* monotonic: when this process stops waiting for the answer */
    int64_t expires_at_ms; /* wall clock: after it the agent refuses to start the command */
    ctl_reply_fn fn;
    void *data;
    GDestroyNotify data_free;
} s_pending;

struct ctl_broker {
    ctl *c;
    ctl_broker_handlers on; /* the consumers main.c wired (broker.h) */
    void *router;
    GHashTable *pending;         /* command id → s_pending* */
    GHashTable *inventory_asked; /* host id → last CMD_INVENTORY time (int64 in a pointer) */
    int64_t started_ms;
    int64_t next_heartbeat_ms;
    uint64_t heartbeat_seq;
    int64_t refused_logged_ms; /* last time a refused agent message was logged */
    /* the tick's timers, in time order (deadlines.h): a turn handles only what is due */
    ctl_deadlines *cmd_deadlines;  /* command id → when this process stops waiting */
    ctl_deadlines *host_deadlines; /* reachable host id → last traffic + liveness window */
    int64_t bind_retry_until_ms;   /* start: the endpoint is still being released until then */
};

/* A skew this large is named in the log (once per crossing) and shows in `host show`. */
#define CTL_SKEW_WARN_MS 1000

/* One clock sample from h's agent (its wall ms in Register/Heartbeat; 0 = not sent). */
static void s_clock_sample(ctl_host *h, int64_t agent_wall_ms, int64_t now_wall_ms)
{
    ctl_clock_skew_add(&h->skew, agent_wall_ms, now_wall_ms);
    int64_t skew = 0;
    if (!ctl_clock_skew_get(&h->skew, &skew))
        return;
    bool far = skew >= CTL_SKEW_WARN_MS || skew <= -CTL_SKEW_WARN_MS;
    if (far && !h->skew_warned)
        drv_warn("host '%s': its clock is %.1f s %s the controller's; commands to it carry "
                 "expiries in its own clock (set up NTP on both)",
                 h->id, (double)(skew < 0 ? -skew : skew) / 1000.0,
                 skew > 0 ? "ahead of" : "behind");
    else if (!far && h->skew_warned)
        drv_info("host '%s': its clock is within %.1f s of the controller's again", h->id,
                 CTL_SKEW_WARN_MS / 1000.0);
    h->skew_warned = far;
}

/* The host's liveness deadline follows its last traffic. */
static void s_touch(ctl_broker *self, const ctl_host *h)
{
    int64_t window = self->c->cfg->liveness * self->c->cfg->heartbeat_interval_ms;
    ctl_deadlines_set(self->host_deadlines, h->id, h->last_traffic_ms + window);
}

static void s_pending_free(gpointer p)
{
    s_pending *pd = p;
    if (pd->data_free != NULL && pd->data != NULL)
        pd->data_free(pd->data);
    g_free(pd->id);
    g_free(pd->host);
    g_free(pd->domain);
    g_free(pd);
}

ctl_broker *ctl_broker_new(ctl *c, const ctl_broker_handlers *handlers)
{
    ctl_broker *self = g_new0(ctl_broker, 1);
    self->c = c;
    if (handlers != NULL)
        self->on = *handlers;
    self->pending = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_pending_free);
    self->inventory_asked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    self->cmd_deadlines = ctl_deadlines_new();
    self->host_deadlines = ctl_deadlines_new();
    return self;
}

/* Calls the pending command's callback with a synthesized answer, then frees it. The agent had
 * the command and never answered, so whether it ran is not known: unknown_outcome is set. */
static void s_fail(ctl_broker *self, s_pending *pd, const char *kind, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void s_fail(ctl_broker *self, s_pending *pd, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl_reply r = {.command_id = pd->id,
                   .expires_at_ms = pd->expires_at_ms,
                   .ok = false,
                   .error_kind = kind,
                   .message = msg,
                   .synthesized = true,
                   .unknown_outcome = true};
    drv_debug("command %s (%s on %s) failed: %s", pd->id, ctl_cmd_kind_to_string(pd->kind),
              pd->host, msg);
    self->c->counters.commands_failed[(unsigned)pd->kind < CTL_CMD_KINDS ? pd->kind : 0]++;
    if (pd->fn != NULL)
        pd->fn(self->c, pd->host, &r, pd->data);
    s_pending_free(pd);
}

/* Fails every pending command for host_id (NULL = all). */
static void s_fail_host(ctl_broker *self, const char *host_id, const char *why)
{
    GPtrArray *victims = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->pending);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        s_pending *pd = v;
        if (host_id == NULL || strcmp(pd->host, host_id) == 0) {
            ctl_deadlines_remove(self->cmd_deadlines, pd->id);
            g_hash_table_iter_steal(&it);
            g_ptr_array_add(victims, pd);
        }
    }
    for (guint i = 0; i < victims->len; i++) {
        s_pending *pd = g_ptr_array_index(victims, i);
        s_fail(self, pd, "unknown-outcome",
               "host '%s' %s before answering %s of domain '%s'; whether it ran is not known "
               "(it cannot start after %s)",
               pd->host, why, ctl_cmd_kind_to_string(pd->kind), pd->domain ? pd->domain : "-",
               pd->expires_at_ms > 0 ? "its expiry" : "the host reports again");
    }
    g_ptr_array_unref(victims);
}

void ctl_broker_destroy(ctl_broker **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_broker *self = *self_p;
    s_fail_host(self, NULL, "controller shutting down");
    if (self->router != NULL)
        zmq_close(self->router);
    g_hash_table_unref(self->pending);
    g_hash_table_unref(self->inventory_asked);
    ctl_deadlines_destroy(&self->cmd_deadlines);
    ctl_deadlines_destroy(&self->host_deadlines);
    g_free(self);
    *self_p = NULL;
}

int ctl_broker_start(ctl_broker *self, drv_error **err)
{
    if (self->router != NULL)
        return 0;
    void *r = zmq_socket(self->c->zctx, ZMQ_ROUTER);
    int one = 1, zero = 0, linger = 0;
    int64_t max = self->c->cfg->max_message_bytes;
    /* No handover: a second connection claiming a connected host's routing id is ignored by the
     * ROUTER, so the real agent stays connected. A dead connection is closed by ZeroMQ's own
     * heartbeat within the liveness window, so a restarted agent gets its id back. */
    int hb_ivl = (int)self->c->cfg->heartbeat_interval_ms;
    int hb_timeout = (int)(self->c->cfg->heartbeat_interval_ms * self->c->cfg->liveness);
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(r, ZMQ_ROUTER_HANDOVER, &zero, sizeof(zero));
    zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    zmq_setsockopt(r, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(hb_ivl));
    zmq_setsockopt(r, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
    drv_error *cerr = NULL;
    if (drv_curve_server(r, self->c->curve_secret, DRV_ZAP_DOMAIN_AGENTS, &cerr) < 0) {
        zmq_close(r);
        drv_error_prefix(&cerr, "agent socket");
        if (err != NULL)
            *err = cerr;
        else
            drv_error_destroy(&cerr);
        return -1;
    }
    if (zmq_bind(r, self->c->cfg->agent_bind) < 0) {
        int e = errno;
        zmq_close(r);
        if (e == EADDRINUSE && ctl_now_ms(self->c) < self->bind_retry_until_ms)
            return 1; /* our previous ROUTER's listener is still being closed */
        return drv_error_set(err, DRV_ERR_IO, e, "agent socket: bind %s: %s",
                             self->c->cfg->agent_bind, zmq_strerror(e));
    }
    self->bind_retry_until_ms = 0;
    self->router = r;
    self->started_ms = ctl_now_ms(self->c);
    self->next_heartbeat_ms = self->started_ms;
    /* Nobody is registered with this process yet; hosts that do not come back within twice the
     * liveness window are marked unreachable by the tick. Twice: an agent notices a silent
     * controller only after its own liveness window and then reconnects with ZeroMQ's backoff, so
     * a healthy agent may need a window and a reconnect interval to register with a controller
     * that just started (with one window, every host of a healthy cluster was once marked
     * unreachable 3 s after a controller restart, and registered 100 ms later). */
    int64_t window = self->c->cfg->liveness * self->c->cfg->heartbeat_interval_ms;
    GPtrArray *hosts = ctl_model_hosts(self->c->model);
    for (guint i = 0; i < hosts->len; i++) {
        ctl_host *h = g_ptr_array_index(hosts, i);
        h->registered = false;
        h->last_traffic_ms = self->started_ms;
        if (h->reachable)
            ctl_deadlines_set(self->host_deadlines, h->id, self->started_ms + 2 * window);
        ctl_model_clear_reports(self->c->model, h);
        ctl_host_inventory_stale(h);
    }
    g_ptr_array_unref(hosts);
    return 0;
}

void ctl_broker_stop(ctl_broker *self)
{
    s_fail_host(self, NULL, "controller stepped down");
    if (self->on.stopped != NULL)
        self->on.stopped(self->c); /* a follower learns nothing more of them */
    if (self->router != NULL) {
        zmq_close(self->router);
        self->bind_retry_until_ms = ctl_now_ms(self->c) + CTL_BROKER_REBIND_MS;
    }
    self->router = NULL;
    ctl_deadlines_clear(self->cmd_deadlines); /* every command was failed above */
    ctl_deadlines_clear(self->host_deadlines);
    GPtrArray *hosts = ctl_model_hosts(self->c->model);
    for (guint i = 0; i < hosts->len; i++) {
        ctl_host *h = g_ptr_array_index(hosts, i);
        h->registered = false;
        ctl_model_clear_reports(self->c->model, h);
        ctl_host_inventory_stale(h);
    }
    g_ptr_array_unref(hosts);
}

void *ctl_broker_socket(ctl_broker *self)
{
    return self->router;
}

bool ctl_broker_host_up(ctl_broker *self, const char *host_id)
{
    ctl_host *h = ctl_model_host(self->c->model, host_id);
    return self->router != NULL && h != NULL && h->registered && h->reachable;
}

/* ------------------------------------------------------------------ conversions */

static char *s_dup(const char *s)
{
    return s != NULL && s[0] != '\0' ? g_strdup(s) : NULL;
}

static char **s_strv(char **v, size_t n)
{
    char **out = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = g_strdup(v[i]);
    return out;
}

static ctl_actual *s_actual(const Drover__DomainInfo *di)
{
    ctl_actual *a = g_new0(ctl_actual, 1);
    a->name = g_strdup(di->name);
    a->uuid = s_dup(di->uuid);
    a->state = (int)di->state;
    a->reason = di->reason;
    a->persistent = di->persistent;
    a->vcpus = di->vcpus;
    a->memory_kib = di->memory_kib;
    a->managed_save = di->has_managed_save;
    if (di->live_devices_known && di->n_live_devices <= 4096) /* S_MAX_LIST */
        a->devices = s_strv(di->live_devices, di->n_live_devices);
    return a;
}

static void s_facts(ctl_facts *f, const Drover__HostFacts *hf)
{
    ctl_facts_clear(f);
    f->hostname = s_dup(hf->hostname);
    f->arch = s_dup(hf->arch);
    f->cpus = hf->cpus;
    f->memory_kib = hf->memory_kib;
    f->free_memory_kib = hf->free_memory_kib;
    f->reserved_memory_kib = hf->reserved_memory_kib;
    f->cpu_vendor = s_dup(hf->cpu_vendor);
    f->cpu_model = s_dup(hf->cpu_model);
    f->cpu_features = s_strv(hf->cpu_features, hf->n_cpu_features);
    f->host_uuid = s_dup(hf->host_uuid);
    f->libvirt_version = hf->libvirt_version;
    f->hypervisor_version = hf->hypervisor_version;
    f->hypervisor_type = s_dup(hf->hypervisor_type);
    f->migration_uri = s_dup(hf->migration_uri);
    f->libvirt_uri = s_dup(hf->libvirt_uri);
    f->networks = s_strv(hf->networks, hf->n_networks);
    f->pools = g_ptr_array_new_with_free_func(ctl_pool_free);
    for (size_t i = 0; i < hf->n_pools; i++) {
        ctl_pool *p = g_new0(ctl_pool, 1);
        p->name = g_strdup(hf->pools[i]->name);
        p->type = g_strdup(hf->pools[i]->type);
        p->path = g_strdup(hf->pools[i]->path);
        p->active = hf->pools[i]->active;
        g_ptr_array_add(f->pools, p);
    }
}

static void s_set_inventory(ctl_model *m, ctl_host *h, Drover__DomainInfo **domains, size_t n)
{
    ctl_model_clear_reports(m, h);
    for (size_t i = 0; i < n; i++) {
        if (domains[i]->name == NULL || domains[i]->name[0] == '\0')
            continue;
        ctl_model_report(m, h, s_actual(domains[i]));
    }
}

static void s_snapshot_free(gpointer p)
{
    ctl_snapshot_clear(p);
    g_free(p);
}

/* ------------------------------------------------------------------ sending */

static int s_send(ctl_broker *self, const char *host_id, Drover__Envelope *env, drv_error **err)
{
    if (self->router == NULL)
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "host '%s': this controller is not accepting agents", host_id);
    return drv_wire_send(self->router, host_id, env, ZMQ_DONTWAIT, err);
}

static void s_send_inventory_request(ctl_broker *self, const char *host_id)
{
    int64_t now = ctl_now_ms(self->c);
    gpointer last = g_hash_table_lookup(self->inventory_asked, host_id);
    if (last != NULL && now - (int64_t)(intptr_t)last < 1000)
        return;
    g_hash_table_replace(self->inventory_asked, g_strdup(host_id), (gpointer)(intptr_t)now);
    g_autofree char *id = ctl_new_id(self->c);
    Drover__Command cmd = DROVER__COMMAND__INIT;
    cmd.id = id;
    cmd.kind = DROVER__COMMAND_KIND__CMD_INVENTORY;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_COMMAND;
    env.command = &cmd;
    drv_error *err = NULL;
    if (s_send(self, host_id, &env, &err) < 0) {
        drv_debug("inventory request to '%s': %s", host_id, err->message);
        drv_error_destroy(&err);
    } else {
        drv_info("host '%s' is not registered with this controller; asked it to register", host_id);
    }
}

int ctl_broker_send(ctl_broker *self, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn,
                    void *data, GDestroyNotify data_free, drv_error **err)
{
    ctl_host *h = ctl_model_host(self->c->model, host_id);
    if (h == NULL)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host '%s' is not known", host_id);
    if (!h->registered || !h->reachable)
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "host '%s' is unreachable (its agent is not connected)", host_id);
    g_autofree char *id = cmd->resend_id ? g_strdup(cmd->resend_id) : ctl_new_id(self->c);
    Drover__Command wc = DROVER__COMMAND__INIT;
    wc.id = id;
    wc.kind = (Drover__CommandKind)cmd->kind;
    wc.domain = (char *)(cmd->domain ? cmd->domain : "");
    wc.xml = (char *)(cmd->xml ? cmd->xml : "");
    wc.name = (char *)(cmd->name ? cmd->name : "");
    wc.modify = cmd->modify;
    wc.value = cmd->value;
    wc.timeout_ms = cmd->timeout_ms;
    wc.inactive = cmd->inactive;
    wc.current = cmd->current;
    wc.job_id = (char *)(cmd->job_id ? cmd->job_id : "");
    wc.path = (char *)(cmd->path ? cmd->path : "");
    wc.console_input.data = (uint8_t *)cmd->console_input;
    wc.console_input.len = cmd->console_input_len;
    if (cmd->names != NULL) {
        wc.names = (char **)cmd->names;
        wc.n_names = g_strv_length((char **)cmd->names);
    }
    wc.pool = (char *)(cmd->pool ? cmd->pool : "");
    wc.volume = (char *)(cmd->volume ? cmd->volume : "");
    wc.data.data = (uint8_t *)cmd->data;
    wc.data.len = cmd->data != NULL ? cmd->data_len : 0;
    wc.shrink = cmd->shrink;
    size_t n_files = cmd->file_names != NULL ? g_strv_length((char **)cmd->file_names) : 0;
    g_autofree Drover__KeyValue *files = g_new0(Drover__KeyValue, n_files + 1);
    g_autofree Drover__KeyValue **file_ptrs = g_new0(Drover__KeyValue *, n_files + 1);
    for (size_t i = 0; i < n_files; i++) {
        drover__key_value__init(&files[i]);
        files[i].key = cmd->file_names[i];
        files[i].value = cmd->file_contents[i];
        file_ptrs[i] = &files[i];
    }
    wc.n_files = n_files;
    wc.files = file_ptrs;
    int64_t timeout = self->c->cfg->command_timeout_ms;
    if (cmd->timeout_ms > 0 && (int64_t)cmd->timeout_ms + 5000 > timeout)
        timeout = (int64_t)cmd->timeout_ms + 5000;
    /* The agent must START the command before it expires; after that it refuses it, so when no
     * answer came by then (plus the time a running command may still take) this process knows
     * whether it can still happen. */
    int64_t expires = cmd->resend_id ? cmd->resend_expires_at_ms
                                     : ctl_wall_ms(self->c) + self->c->cfg->command_timeout_ms;
    /* stated in the host's clock (clock_skew.h: never later than meant); this process keeps
     * its own (pd->expires_at_ms, the outcome watch) */
    const ctl_host *dest = ctl_model_host(self->c->model, host_id);
    wc.expires_at_ms = dest != NULL ? ctl_clock_skew_to_host(&dest->skew, expires) : expires;
    Drover__MigrateParams mp = DROVER__MIGRATE_PARAMS__INIT;
    if (cmd->migrate != NULL) {
        mp.dest_uri = (char *)(cmd->migrate->dest_uri ? cmd->migrate->dest_uri : "");
        mp.dest_host = (char *)(cmd->migrate->dest_host ? cmd->migrate->dest_host : "");
        mp.max_downtime_ms = cmd->migrate->max_downtime_ms;
        mp.bandwidth_mibs = cmd->migrate->bandwidth_mibs;
        mp.auto_converge = cmd->migrate->auto_converge;
        mp.postcopy = cmd->migrate->postcopy;
        mp.timeout_s = cmd->migrate->timeout_s;
        mp.unsafe = cmd->migrate->unsafe;
        mp.dirty_rate_calc_s = cmd->migrate->dirty_rate_calc_s;
        mp.choose_policy = cmd->migrate->choose_policy;
        mp.link_bandwidth_bps = cmd->migrate->link_bandwidth_bps;
        mp.link_fixed_ms = cmd->migrate->link_fixed_ms;
        wc.migrate = &mp;
    }
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_COMMAND;
    env.command = &wc;
    if (s_send(self, host_id, &env, err) < 0) {
        drv_error_prefix(err, "host '%s': %s of domain '%s'", host_id,
                         ctl_cmd_kind_to_string(cmd->kind), cmd->domain ? cmd->domain : "-");
        return -1;
    }
    if (cmd->resend_id != NULL) {
        drv_debug("command %s resent to host '%s'", id, host_id);
        return 0;
    }
    self->c->counters.commands_sent[(unsigned)cmd->kind < CTL_CMD_KINDS ? cmd->kind : 0]++;
    s_pending *pd = g_new0(s_pending, 1);
    pd->id = g_steal_pointer(&id);
    pd->host = g_strdup(host_id);
    pd->kind = cmd->kind;
    pd->domain = g_strdup(cmd->domain);
    pd->expires_at_ms = expires;
    pd->deadline_ms = ctl_now_ms(self->c) + timeout;
    pd->fn = fn;
    pd->data = data;
    pd->data_free = data_free;
    g_hash_table_replace(self->pending, pd->id, pd);
    ctl_deadlines_set(self->cmd_deadlines, pd->id, pd->deadline_ms);
    drv_debug("command %s: %s of '%s' → host '%s'", pd->id, ctl_cmd_kind_to_string(cmd->kind),
              cmd->domain ? cmd->domain : "-", host_id);
    return 0;
}

/* ------------------------------------------------------------------ receiving */

static void s_set_reachable(ctl_broker *self, ctl_host *h, bool reachable)
{
    if (h->reachable == reachable)
        return;
    h->reachable = reachable;
    h->last_seen_ms = ctl_wall_ms(self->c);
    drv_info("host '%s' is %s", h->id, reachable ? "reachable" : "unreachable");
    ctl_async_put_host(self->c, h);
    if (!reachable) {
        ctl_host_inventory_stale(h); /* events may be lost meanwhile */
        if (self->c->stats)
            ctl_stats_forget(self->c->stats, h->id); /* its figures are no longer known */
        s_fail_host(self, h->id, "became unreachable");
    } else if (h->registered && !h->inventory_authoritative) {
        s_send_inventory_request(self, h->id); /* a full one makes it authoritative again */
        if (self->on.host_back != NULL)
            self->on.host_back(self->c, h);
    }
    ctl_events_host(self->c, h, reachable ? "reachable" : "unreachable");
    if (self->on.reachability != NULL)
        self->on.reachability(self->c, h);
}

/* Host facts an agent claims, range-checked before the scheduler does arithmetic on them: NULL
 * when plausible, else why not. */
#define S_MAX_CPUS       65536u
#define S_MAX_MEMORY_KIB (1ull << 36) /* 64 TiB */
#define S_MAX_LIST       4096u
#define S_MAX_DOMAINS    100000u
#define S_MAX_STRING     4096u

static bool s_str_ok(const char *s)
{
    return s == NULL || strlen(s) <= S_MAX_STRING;
}

static const char *s_facts_check(const Drover__Register *reg)
{
    const Drover__HostFacts *f = reg->facts;
    if (reg->n_domains > S_MAX_DOMAINS)
        return "more than 100000 domains";
    if (f == NULL)
        return NULL;
    if (f->cpus > S_MAX_CPUS)
        return "more than 65536 CPUs";
    if (f->memory_kib > S_MAX_MEMORY_KIB)
        return "more than 64 TiB of memory";
    if (f->free_memory_kib > S_MAX_MEMORY_KIB || f->reserved_memory_kib > S_MAX_MEMORY_KIB)
        return "more than 64 TiB of free or reserved memory";
    if (f->memory_kib > 0 && f->free_memory_kib > f->memory_kib) /* 0: libvirt not connected */
        return "more free memory than memory";
    if (f->n_cpu_features > S_MAX_LIST || f->n_pools > S_MAX_LIST || f->n_networks > S_MAX_LIST ||
        f->n_labels > S_MAX_LIST)
        return "more than 4096 CPU features, pools, networks or labels";
    if (!s_str_ok(f->hostname) || !s_str_ok(f->arch) || !s_str_ok(f->cpu_model) ||
        !s_str_ok(f->cpu_vendor) || !s_str_ok(f->host_uuid) || !s_str_ok(f->migration_uri) ||
        !s_str_ok(f->libvirt_uri) || !s_str_ok(f->hypervisor_type))
        return "a fact longer than 4096 bytes";
    for (size_t i = 0; i < f->n_labels; i++)
        if (f->labels[i]->key == NULL || drv_name_invalid(f->labels[i]->key) != NULL ||
            !s_str_ok(f->labels[i]->value))
            return "a label key that is not a valid name";
    for (size_t i = 0; i < reg->n_domains; i++)
        if (reg->domains[i]->name != NULL && reg->domains[i]->name[0] != '\0' &&
            strlen(reg->domains[i]->name) > 1024)
            return "a domain name longer than 1024 bytes";
    return NULL;
}

static void s_on_register(ctl_broker *self, const char *host_id, const Drover__Register *reg)
{
    ctl *c = self->c;
    if (reg->facts != NULL && reg->facts->host_id != NULL && reg->facts->host_id[0] != '\0' &&
        strcmp(reg->facts->host_id, host_id) != 0) {
        c->messages_refused++;
        g_autofree char *claimed = drv_log_escape(reg->facts->host_id);
        drv_warn("registration of host '%s' refused: its facts claim host id '%s'", host_id,
                 claimed);
        return;
    }
    const char *why = s_facts_check(reg);
    if (why != NULL) {
        c->messages_refused++;
        drv_warn("registration of host '%s' refused: %s", host_id, why);
        return;
    }
    ctl_host *h = ctl_model_host(c->model, host_id);
    bool is_new = h == NULL;
    if (is_new) {
        h = ctl_model_put_host(c->model, ctl_host_new(host_id));
        h->registered_at_ms = ctl_wall_ms(c);
    }
    const char *instance = reg->agent_instance ? reg->agent_instance : "";
    if (h->registered && h->agent_instance != NULL && strcmp(h->agent_instance, instance) != 0)
        s_fail_host(self, host_id, "agent restarted");
    if (g_strcmp0(h->agent_instance, instance) != 0)
        ctl_clock_skew_reset(&h->skew); /* another agent process: its clock is measured anew */
    s_clock_sample(h, reg->wall_ms, ctl_wall_ms(c));
    g_free(h->agent_instance);
    h->agent_instance = g_strdup(instance);
    if (reg->facts != NULL)
        s_facts(&h->facts, reg->facts);
    for (size_t i = 0; reg->facts != NULL && is_new && i < reg->facts->n_labels; i++)
        g_hash_table_replace(h->labels, g_strdup(reg->facts->labels[i]->key),
                             g_strdup(reg->facts->labels[i]->value));
    if (reg->libvirt_connected) /* else the (empty) list says nothing */
        s_set_inventory(self->c->model, h, reg->domains, reg->n_domains);
    g_strfreev(h->fenced); /* what its agent fenced (controller/ha.c reports it) */
    h->fenced = NULL;
    if (reg->n_fenced > 0) {
        h->fenced = g_new0(char *, reg->n_fenced + 1);
        for (size_t i = 0; i < reg->n_fenced; i++)
            h->fenced[i] = g_strdup(reg->fenced[i]);
    }
    h->fenced_at_ms = reg->fenced_at_ms;
    ctl_host_set_libvirt(h, reg->libvirt_connected);
    bool was_reachable = h->reachable;
    h->registered = true;
    h->reachable = true;
    h->last_traffic_ms = ctl_now_ms(c);
    s_touch(self, h);
    h->last_seen_ms = h->last_heard_ms = ctl_wall_ms(c);
    ctl_async_put_host(c, h);
    drv_error *err = NULL;
    drv_info("host '%s' registered (%s, %zu domains)", host_id, is_new ? "new" : "known",
             reg->n_domains);

    Drover__RegisterAck ack = DROVER__REGISTER_ACK__INIT;
    ack.controller_instance = c->instance;
    ack.heartbeat_interval_ms = (uint32_t)c->cfg->heartbeat_interval_ms;
    ack.liveness = (uint32_t)c->cfg->liveness;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_REGISTER_ACK;
    env.register_ack = &ack;
    if (s_send(self, host_id, &env, &err) < 0) {
        drv_warn("register ack to '%s': %s", host_id, err->message);
        drv_error_destroy(&err);
    }
    ctl_events_host(c, h, is_new ? "added" : "registered");
    if (!was_reachable)
        ctl_events_host(c, h, "reachable");
    if (self->on.host_back != NULL) /* what became of the commands answered "unknown outcome" */
        self->on.host_back(c, h);
    if (self->on.inventory != NULL)
        self->on.inventory(c, h, true);
}

static void s_on_reply(ctl_broker *self, const char *host_id, const Drover__Reply *rep)
{
    s_pending *pd = NULL;
    gpointer key = NULL, value = NULL;
    bool late = false;
    if (rep->command_id == NULL ||
        !g_hash_table_lookup_extended(self->pending, rep->command_id, &key, &value)) {
        /* an answer after the broker declared the outcome unknown: outcome.h resolves it (only
         * from the host the command went to) */
        late = rep->command_id != NULL && self->on.late_watched != NULL &&
               self->on.late_watched(self->c, rep->command_id, host_id);
        if (!late) {
            self->c->replies_dropped++;
            g_autofree char *cid = drv_log_escape(rep->command_id ? rep->command_id : "");
            drv_debug("reply from '%s' to unknown command '%s' dropped (%" G_GUINT64_FORMAT
                      " dropped so far)",
                      host_id, cid, self->c->replies_dropped);
            return;
        }
    } else {
        pd = value;
        if (strcmp(pd->host, host_id) != 0) {
            /* only the host the command went to answers it: anything else is forged or
             * misrouted */
            self->c->replies_dropped++;
            drv_warn("reply to command %s (%s of '%s' on host '%s') came from host '%s'; dropped "
                     "(%" G_GUINT64_FORMAT " dropped so far)",
                     pd->id, ctl_cmd_kind_to_string(pd->kind), pd->domain ? pd->domain : "-",
                     pd->host, host_id, self->c->replies_dropped);
            return;
        }
        ctl_deadlines_remove(self->cmd_deadlines, pd->id);
        g_hash_table_steal(self->pending, key);
    }
    ctl_host *h = ctl_model_host(self->c->model, host_id);
    ctl_actual *a = NULL;
    if (rep->domain != NULL && rep->domain->name != NULL && rep->domain->name[0] != '\0') {
        a = s_actual(rep->domain);
        if (h != NULL)
            ctl_model_report(self->c->model, h, a);
    }
    ctl_reply r = {
        .command_id = rep->command_id,
        .ok = rep->ok,
        .expired = rep->expired,
        .error_kind = rep->error_kind && rep->error_kind[0] ? rep->error_kind : "libvirt",
        .message = rep->message ? rep->message : "",
        .error_code = rep->error_code,
        .timed_out = rep->timed_out,
        .xml = rep->xml && rep->xml[0] ? rep->xml : NULL,
        .console_output = rep->console_output.data,
        .console_output_len = rep->console_output.len,
        .console_closed = rep->console_closed,
        .domain = a,
        .snapshots = g_ptr_array_new_with_free_func(s_snapshot_free),
        .stats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    for (size_t i = 0; i < rep->n_stats; i++)
        if (rep->stats[i]->key != NULL)
            g_hash_table_replace(r.stats, g_strdup(rep->stats[i]->key),
                                 g_strdup(rep->stats[i]->value ? rep->stats[i]->value : ""));
    ctl_migrate_result mres = {0};
    if (rep->migrate != NULL) {
        mres.time_elapsed_ms = rep->migrate->time_elapsed_ms;
        mres.downtime_ms = rep->migrate->downtime_ms;
        mres.data_total = rep->migrate->data_total;
        mres.data_processed = rep->migrate->data_processed;
        mres.memory_bps = rep->migrate->memory_bps;
        mres.postcopy_used = rep->migrate->postcopy_used;
        mres.cancelled = rep->migrate->cancelled;
        mres.dirty_rate_bps = rep->migrate->dirty_rate_bps;
        mres.dirty_rate_source = rep->migrate->dirty_rate_source;
        mres.dirty_calc_ms = rep->migrate->dirty_calc_ms;
        mres.setup_ms = rep->migrate->setup_ms;
        mres.transfer_ms = rep->migrate->transfer_ms;
        mres.dest_stats_ms = rep->migrate->dest_stats_ms;
        mres.predicted_verdict = rep->migrate->predicted_verdict;
        mres.predicted_throttle_pct = rep->migrate->predicted_throttle_pct;
        mres.predicted_time_ms = rep->migrate->predicted_time_ms;
        mres.predicted_downtime_ms = rep->migrate->predicted_downtime_ms;
        mres.predicted_bytes = rep->migrate->predicted_bytes;
        mres.predicted_reason = rep->migrate->predicted_reason;
        mres.applied_auto_converge = rep->migrate->applied_auto_converge;
        mres.applied_postcopy = rep->migrate->applied_postcopy;
        r.migrate = &mres;
    }
    for (size_t i = 0; i < rep->n_snapshots; i++) {
        const Drover__SnapshotInfo *si = rep->snapshots[i];
        ctl_snapshot *s = g_new0(ctl_snapshot, 1);
        s->name = g_strdup(si->name);
        s->parent = s_dup(si->parent);
        s->creation_time = si->creation_time;
        s->state = s_dup(si->state);
        s->current = si->current;
        s->xml = s_dup(si->xml);
        g_ptr_array_add(r.snapshots, s);
    }
    drv_debug("command %s (%s) answered by '%s'%s: %s %s", rep->command_id,
              pd ? ctl_cmd_kind_to_string(pd->kind) : "-", host_id,
              late ? " after its outcome was declared unknown" : "", rep->ok ? "ok" : "failed",
              rep->message ? rep->message : "");
    if (pd != NULL && !rep->ok && !late)
        self->c->counters.commands_failed[(unsigned)pd->kind < CTL_CMD_KINDS ? pd->kind : 0]++;
    /* the agent itself cannot tell (libvirtd's connection broke during the call) */
    r.unknown_outcome = !r.ok && strcmp(r.error_kind, "unknown-outcome") == 0;
    if (late)
        self->on.late(self->c, host_id, rep->command_id, &r);
    else if (pd->fn != NULL)
        pd->fn(self->c, host_id, &r, pd->data);
    g_ptr_array_unref(r.snapshots);
    g_hash_table_unref(r.stats);
    if (pd != NULL)
        s_pending_free(pd);
}

G_STATIC_ASSERT(CTL_EVENT_KIND_DEVICE == DROVER__EVENT_KIND__EVENT_DEVICE);

static void s_on_event(ctl_broker *self, ctl_host *h, const Drover__Event *ev)
{
    const char *name = ev->domain && ev->domain[0]  ? ev->domain
                       : ev->info && ev->info->name ? ev->info->name
                                                    : NULL;
    if (ev->kind == DROVER__EVENT_KIND__EVENT_LIBVIRT_DOWN) {
        drv_warn("host '%s': libvirt disconnected; its domains' state is unknown", h->id);
        ctl_host_set_libvirt(h, false);
        if (self->on.reachability != NULL)
            self->on.reachability(self->c, h);
    }
    if (name == NULL)
        return;
    /* Gone from this host: undefined; a transient domain that stopped; or a domain that stopped or
     * migrated away and could no longer be looked up when the agent handled the event (a source
     * after a migration with UNDEFINE_SOURCE: its earlier SUSPENDED(migrated) event left it
     * recorded as paused). */
    bool gone_unseen = ev->info == NULL && (ev->kind == DROVER__EVENT_KIND__EVENT_STOPPED ||
                                            ev->kind == DROVER__EVENT_KIND__EVENT_MIGRATED);
    if (ev->kind == DROVER__EVENT_KIND__EVENT_UNDEFINED || gone_unseen ||
        (ev->kind == DROVER__EVENT_KIND__EVENT_STOPPED && ev->info != NULL &&
         !ev->info->persistent)) {
        ctl_model_unreport(self->c->model, h, name);
    } else if (ev->info != NULL && ev->info->name != NULL && ev->info->name[0] != '\0') {
        ctl_model_report(self->c->model, h, s_actual(ev->info));
    } else {
        ctl_actual *a = g_hash_table_lookup(h->inventory, name);
        int state = -1;
        switch (ev->kind) {
        case DROVER__EVENT_KIND__EVENT_STARTED:
        case DROVER__EVENT_KIND__EVENT_RESUMED:
            state = CTL_VIR_RUNNING;
            break;
        case DROVER__EVENT_KIND__EVENT_SUSPENDED:
            state = CTL_VIR_PAUSED;
            break;
        case DROVER__EVENT_KIND__EVENT_STOPPED:
            state = CTL_VIR_SHUTOFF;
            break;
        case DROVER__EVENT_KIND__EVENT_CRASHED:
            state = CTL_VIR_CRASHED;
            break;
        case DROVER__EVENT_KIND__EVENT_PMSUSPENDED:
            state = CTL_VIR_PMSUSPENDED;
            break;
        case DROVER__EVENT_KIND__EVENT_DEFINED:
            state = CTL_VIR_SHUTOFF;
            break;
        default:
            break;
        }
        if (state >= 0) {
            if (a == NULL) {
                a = g_new0(ctl_actual, 1);
                a->name = g_strdup(name);
                a->persistent = true;
                a->state = state;
                ctl_model_report(self->c->model, h, a);
            } else if (ev->kind != DROVER__EVENT_KIND__EVENT_DEFINED) {
                a->state = state;
            }
        }
    }
    if (self->on.domain_event != NULL)
        self->on.domain_event(self->c, h, (int)ev->kind, name, ev->detail_text);
}

/* A StatsReport → the statistics window (plain structs: protobuf stays here). */
static void s_on_stats(ctl_broker *self, const char *host_id, const Drover__StatsReport *r)
{
    if (self->c->stats == NULL)
        return;
    ctl_stats_sample *s = g_new0(ctl_stats_sample, 1);
    s->received_ms = ctl_now_ms(self->c);
    s->sampled_at_ms = r->sampled_at_ms;
    s->interval_ms = r->interval_ms;
    s->sample_ms = r->sample_ms;
    if (r->host) {
        s->cpus = r->host->cpus;
        s->cpu_known = r->host->cpu_known;
        s->cpu_busy = r->host->cpu_busy;
        s->cpu_iowait = r->host->cpu_iowait;
        s->cpu_steal = r->host->cpu_steal;
        s->memory_total_kib = r->host->memory_total_kib;
        s->memory_available_kib = r->host->memory_available_kib;
        s->load1 = r->host->load1;
        s->load5 = r->host->load5;
        s->load15 = r->host->load15;
    }
    size_t n = MIN(r->n_domains, (size_t)S_MAX_DOMAINS);
    s->domains = g_array_sized_new(FALSE, TRUE, sizeof(ctl_stats_dom), (guint)n);
    for (size_t i = 0; i < n; i++) {
        const Drover__StatsDomain *d = r->domains[i];
        if (d->name == NULL || d->name[0] == '\0' || strlen(d->name) > S_MAX_STRING)
            continue;
        ctl_stats_dom x = {.name = g_strdup(d->name),
                           .rates_known = d->rates_known,
                           .cpu = d->cpu,
                           .steal = d->steal,
                           .vcpus = d->vcpus,
                           .balloon_current_kib = d->balloon_current_kib,
                           .balloon_rss_kib = d->balloon_rss_kib,
                           .block_read_bps = d->block_read_bps,
                           .block_write_bps = d->block_write_bps,
                           .net_rx_bps = d->net_rx_bps,
                           .net_tx_bps = d->net_tx_bps};
        g_array_append_val(s->domains, x);
    }
    ctl_stats_add(self->c->stats, host_id, &s);
}

static void s_handle_one(ctl_broker *self, const char *host_id, const Drover__Envelope *env)
{
    ctl *c = self->c;
    if (env->body_case == DROVER__ENVELOPE__BODY_REGISTER) {
        s_on_register(self, host_id, env->register_);
        return;
    }
    ctl_host *h = ctl_model_host(c->model, host_id);
    if (h == NULL || !h->registered) {
        if (env->body_case == DROVER__ENVELOPE__BODY_REPLY) {
            c->replies_dropped++; /* a peer that never registered answers nothing */
            drv_debug("reply from unregistered host '%s' dropped", host_id);
        }
        s_send_inventory_request(self, host_id);
        return;
    }
    h->last_traffic_ms = ctl_now_ms(c);
    h->last_heard_ms = ctl_wall_ms(c);
    s_set_reachable(self, h, true);
    s_touch(self, h);
    switch (env->body_case) {
    case DROVER__ENVELOPE__BODY_HEARTBEAT:
        s_clock_sample(h, env->heartbeat->wall_ms, h->last_heard_ms);
        break;
    case DROVER__ENVELOPE__BODY_INVENTORY:
        if (env->inventory->libvirt_connected)
            s_set_inventory(self->c->model, h, env->inventory->domains, env->inventory->n_domains);
        ctl_host_set_libvirt(h, env->inventory->libvirt_connected);
        if (self->on.inventory != NULL)
            self->on.inventory(c, h, false);
        break;
    case DROVER__ENVELOPE__BODY_REPLY:
        s_on_reply(self, host_id, env->reply);
        break;
    case DROVER__ENVELOPE__BODY_STATS_REPORT:
        s_on_stats(self, host_id, env->stats_report);
        break;
    case DROVER__ENVELOPE__BODY_EVENT:
        s_on_event(self, h, env->event);
        break;
    case DROVER__ENVELOPE__BODY_PROGRESS: {
        const Drover__Progress *pg = env->progress;
        drv_debug("progress from '%s' for command %s", host_id,
                  pg->command_id ? pg->command_id : "");
        ctl_migrate_progress mp = {.job_id = pg->job_id,
                                   .domain = pg->domain,
                                   .data_total = pg->data_total,
                                   .data_processed = pg->data_processed,
                                   .data_remaining = pg->data_remaining,
                                   .memory_bps = pg->memory_bps,
                                   .iteration = pg->iteration,
                                   .elapsed_ms = pg->time_elapsed_ms,
                                   .postcopy = pg->postcopy};
        if (self->on.migrate_progress != NULL)
            self->on.migrate_progress(c, host_id, &mp);
        break;
    }
    default:
        drv_warn("host '%s' sent an unexpected %s message; ignored", host_id,
                 drv_codec_body_name(env->body_case));
        break;
    }
}

void ctl_broker_handle(ctl_broker *self)
{
    for (int i = 0; self->router != NULL && i < 1000; i++) {
        char *identity = NULL, *user_id = NULL;
        Drover__Envelope *env = NULL;
        drv_error *err = NULL;
        if (drv_wire_recv_peer(self->router, true, 0, ZMQ_DONTWAIT, &identity, &user_id, &env,
                               &err) < 0) {
            bool empty = err->kind == DRV_ERR_TIMEOUT;
            if (!empty) {
                g_autofree char *who = drv_log_escape(identity ? identity : "?");
                drv_warn("agent message from '%s' refused: %s", who, err->message);
            }
            drv_error_destroy(&err);
            g_free(identity);
            if (empty)
                return;
            continue;
        }
        /* The host is the one the authenticated key is bound to now, never just the routing id
         * the peer chose: both must agree. */
        const char *bound = ctl_model_key_host(self->c->model, user_id);
        if (bound == NULL || strcmp(bound, identity) != 0) {
            self->c->messages_refused++;
            int64_t now = ctl_now_ms(self->c);
            if (now - self->refused_logged_ms >= 10000) {
                self->refused_logged_ms = now;
                g_autofree char *who = drv_log_escape(identity);
                drv_warn("agent message from routing id '%s' refused: its key %s %s%s%s "
                         "(%" G_GUINT64_FORMAT " refused so far)",
                         who, user_id ? user_id : "(none)",
                         bound ? "is enrolled for host '" : "is not enrolled", bound ? bound : "",
                         bound ? "'" : "", self->c->messages_refused);
            }
        } else {
            s_handle_one(self, identity, env);
        }
        drv_codec_destroy(&env);
        g_free(user_id);
        g_free(identity);
    }
}

int64_t ctl_broker_tick(ctl_broker *self, int64_t now_ms)
{
    ctl *c = self->c;
    int64_t interval = c->cfg->heartbeat_interval_ms;
    int64_t window = c->cfg->liveness * interval;
    int64_t next = now_ms + interval;
    if (self->router == NULL)
        return interval;
    /* Read everything the agents sent before judging anyone: after a slow turn of the loop, a
     * heartbeat that is queued is proof of life. */
    for (int i = 0; i < 1000 && self->router != NULL; i++) {
        int events = 0;
        size_t len = sizeof(events);
        if (zmq_getsockopt(self->router, ZMQ_EVENTS, &events, &len) < 0 ||
            (events & ZMQ_POLLIN) == 0)
            break;
        ctl_broker_handle(self);
    }
    now_ms = ctl_now_ms(c);
    next = now_ms + interval;

    /* command deadlines: only those due are looked at */
    GPtrArray *late = g_ptr_array_new();
    char *id;
    while ((id = ctl_deadlines_pop_due(self->cmd_deadlines, now_ms)) != NULL) {
        gpointer key = NULL, v = NULL;
        if (g_hash_table_lookup_extended(self->pending, id, &key, &v)) {
            g_hash_table_steal(self->pending, key);
            g_ptr_array_add(late, v);
        }
        g_free(id);
    }
    for (guint i = 0; i < late->len; i++) {
        s_pending *pd = g_ptr_array_index(late, i);
        int64_t waited = c->cfg->command_timeout_ms;
        s_fail(self, pd, "unknown-outcome",
               "host '%s' did not answer %s of domain '%s' within %lld s; whether it ran is not "
               "known",
               pd->host, ctl_cmd_kind_to_string(pd->kind), pd->domain ? pd->domain : "-",
               (long long)((waited + 999) / 1000));
    }
    g_ptr_array_unref(late);

    /* liveness: only the hosts whose window ran out are looked at */
    while ((id = ctl_deadlines_pop_due(self->host_deadlines, now_ms)) != NULL) {
        ctl_host *h = ctl_model_host(c->model, id);
        g_free(id);
        if (h == NULL || !h->reachable)
            continue;
        if (now_ms - h->last_traffic_ms >= window) {
            if (!h->registered)
                drv_info("host '%s' did not register within %lld ms", h->id,
                         (long long)(now_ms - h->last_traffic_ms));
            s_set_reachable(self, h, false);
        } else {
            s_touch(self, h);
        }
    }
    next = MIN(next, ctl_deadlines_next(self->cmd_deadlines));
    next = MIN(next, ctl_deadlines_next(self->host_deadlines));

    /* heartbeats out */
    if (now_ms >= self->next_heartbeat_ms) {
        self->next_heartbeat_ms = now_ms + interval;
        GPtrArray *hosts = ctl_model_hosts(c->model);
        for (guint i = 0; i < hosts->len; i++) {
            ctl_host *h = g_ptr_array_index(hosts, i);
            /* a reachable host that came into the model without traffic (loaded, enrolled)
             * gets its liveness deadline here, once an interval: the sweep is O(hosts) per
             * interval, like the heartbeats themselves */
            if (h->reachable && ctl_deadlines_get(self->host_deadlines, h->id) == INT64_MAX) {
                s_touch(self, h);
                next = MIN(next, ctl_deadlines_get(self->host_deadlines, h->id));
            }
            if (!h->registered || !h->reachable)
                continue;
            if (!h->inventory_authoritative && !h->libvirt_down)
                s_send_inventory_request(self, h->id); /* at most once a second */
            Drover__Heartbeat hb = DROVER__HEARTBEAT__INIT;
            hb.seq = ++self->heartbeat_seq;
            hb.instance = c->instance;
            Drover__Envelope env = DROVER__ENVELOPE__INIT;
            env.body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
            env.heartbeat = &hb;
            drv_error *err = NULL;
            if (s_send(self, h->id, &env, &err) < 0) {
                drv_debug("heartbeat to '%s': %s", h->id, err->message);
                drv_error_destroy(&err);
            }
        }
        g_ptr_array_unref(hosts);
    }
    if (self->next_heartbeat_ms < next)
        next = self->next_heartbeat_ms;
    return MAX(0, next - now_ms);
}
