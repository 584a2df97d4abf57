/* agent.c — see agent.h. */
#include "agent.h"

#include "backoff.h"
#include "curve.h"
#include "codec.h"
#include "commands.h"
#include "console.h"
#include "facts.h"
#include "fence.h"
#include "lease.h"
#include "caps.h"
#include "log.h"
#include "migrate.h"
#include "pb.h"
#include "replycache.h"
#include "stats.h"
#include "virt.h"

#include <libvirt/virterror.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#define S_REPLY_CACHE          1024
#define S_BACKOFF_START        250
#define S_BACKOFF_CAP          5000
#define S_RECONNECT_IVL_MAX_MS 1000
#define S_WORKER_WAIT_MS       30000
/* How long Register waits for libvirt (connect + facts, or the inventory) before it goes out
 * without it (libvirt_connected = false: not authoritative); the real one follows when it comes. */
#define S_LIBVIRT_WAIT_MS 5000

typedef enum { S_LINK_DOWN, S_LINK_REGISTERING, S_LINK_UP } s_link;

typedef enum {
    S_OUT_REPLY,
    S_OUT_PROGRESS,
    S_OUT_EVENT,
    S_OUT_LIBVIRT_DOWN,
    S_OUT_CONNECTED, /* a connect attempt ended: with the host facts, or an error */
    S_OUT_INVENTORY, /* the domains and free memory for a Register */
    S_OUT_FENCED,    /* a self-fence ended: the HA guests it destroyed (names) */
    S_OUT_STATS,     /* a stats sample ended: buf = the packed StatsReport envelope, or NULL */
} s_out_kind;

/* A completion handed to the main thread. */
typedef struct {
    s_out_kind kind;
    char *command_id; /* S_OUT_REPLY */
    uint8_t *buf;
    size_t len;
    bool cache;               /* S_OUT_REPLY: remember it for resends (false: a resend may run) */
    drv_host_facts *facts;    /* S_OUT_CONNECTED on success */
    char *error;              /* S_OUT_CONNECTED on failure */
    guint generation;         /* S_OUT_CONNECTED/INVENTORY: the libvirt connection they describe */
    guint seq;                /* S_OUT_INVENTORY: the request */
    GPtrArray *doms;          /* S_OUT_INVENTORY: drv_dom_info *, NULL when it failed */
    uint64_t free_memory_kib; /* S_OUT_INVENTORY, 0 = unknown */
    char **names;             /* S_OUT_FENCED */
} s_out;

/* Work for a pool thread. */
typedef enum {
    S_TASK_COMMAND,    /* command pool */
    S_TASK_INVENTORY,  /* command pool */
    S_TASK_CONNECT,    /* connection pool (one thread: connects and disconnects stay in order) */
    S_TASK_DISCONNECT, /* connection pool */
    S_TASK_FENCE,      /* fence pool (one thread, never behind commands): destroy the HA guests */
    S_TASK_STATS,      /* stats pool (one thread, owns the sampler): one statistics sample */
} s_task_kind;

typedef struct {
    s_task_kind kind;
    Drover__Envelope *env; /* S_TASK_COMMAND, owned; env->command is the command */
    guint generation;
    guint seq;
    char **names; /* S_TASK_FENCE */
} s_task;

struct drv_agent {
    const drv_agent_options *opts;
    char curve_secret[DRV_Z85_KEY_LEN + 1]; /* own key pair and the pinned controller key */
    char curve_public[DRV_Z85_KEY_LEN + 1];
    char controller_key[DRV_Z85_KEY_LEN + 1];
    char instance[33];
    void *zctx;
    void *sock;
    size_t endpoint;
    s_link link;
    drv_backoff register_backoff;
    drv_backoff link_backoff;
    drv_backoff virt_backoff;
    int64_t next_register_ms;
    int64_t link_open_at_ms;
    int64_t last_recv_ms;
    int64_t last_send_ms;
    char *controller_instance;
    uint32_t interval_ms;
    uint32_t liveness;
    uint64_t hb_seq;
    drv_virt *virt;
    bool virt_up;
    bool virt_was_down;
    bool virt_connecting; /* a connect task is queued or running */
    int64_t connect_started_ms;
    int64_t virt_retry_at_ms;
    drv_host_facts *facts; /* of the current libvirt connection; NULL while not connected */
    guint generation;      /* counts libvirt connections */
    bool inv_pending;      /* an inventory task for a Register is queued or running */
    guint inv_seq;
    int64_t inv_asked_ms;
    drv_reply_cache *cache;
    GAsyncQueue *outq; /* s_out * */
    int efd;
    GThreadPool *pool;      /* every command and inventory: opts->worker_threads threads */
    GThreadPool *conn_pool; /* libvirt connect/disconnect: one thread */
    gint workers;           /* atomic: tasks queued or running in both pools */
    gint stopping;          /* atomic: drv_agent_destroy began; queued tasks are dropped */
    drv_cmd_env env;
    /* HA self-fence (fence.h, lease.h, docs/ha.md); lease NULL when no etcd is configured */
    drv_lease *lease;
    GThreadPool *fence_pool;
    drv_fence_cfg fence_cfg;
    drv_fence_state fence;
    uint64_t lease_lost_seen;
    uint64_t lease_renewals_seen;
    char **ha;         /* the HA domains on this host (CMD_HA_SET), NULL-terminated */
    GPtrArray *fenced; /* char*: HA guests this process destroyed by fencing */
    int64_t fenced_at_wall_ms;
    /* statistics (stats.h, docs/observability.md): sampled on their own thread */
    GThreadPool *stats_pool;
    drv_stats_sampler *sampler; /* used only on the stats thread */
    bool stats_pending;         /* a sample is queued or running */
    int64_t next_stats_ms;
};

static int64_t s_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void s_out_free(s_out *o)
{
    if (o == NULL)
        return;
    g_free(o->command_id);
    g_free(o->buf);
    g_free(o->error);
    g_strfreev(o->names);
    drv_host_facts_destroy(&o->facts);
    if (o->doms != NULL)
        g_ptr_array_unref(o->doms);
    g_free(o);
}

/* Any thread: hands a completion to the main thread. Takes o. */
static void s_push_out(drv_agent *self, s_out *o)
{
    g_async_queue_push(self->outq, o);
    uint64_t one = 1;
    if (write(self->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        drv_debug("eventfd write: %s", g_strerror(errno));
}

/* Any thread: queue a packed envelope for the main thread. Takes buf. */
static void s_push(drv_agent *self, s_out_kind kind, const char *command_id, uint8_t *buf,
                   size_t len)
{
    s_out *o = g_new0(s_out, 1);
    o->kind = kind;
    o->command_id = g_strdup(command_id);
    o->buf = buf;
    o->len = len;
    o->cache = true;
    s_push_out(self, o);
}

/* ------------------------------------------------------------------ callbacks (other threads) */

static void s_on_event(const drv_virt_event *ev, void *user_data)
{
    drv_agent *self = user_data;
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Event e = DROVER__EVENT__INIT;
    e.kind = (Drover__EventKind)ev->kind;
    e.domain = (char *)(ev->domain ? ev->domain : "");
    e.uuid = (char *)(ev->uuid ? ev->uuid : "");
    e.detail = ev->detail;
    e.detail_text = (char *)(ev->detail_text ? ev->detail_text : "");
    e.timestamp_ms = ev->timestamp_ms;
    if (ev->info != NULL)
        e.info = drv_pb_dom_info(arena, ev->info);
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_EVENT;
    env.event = &e;
    uint8_t *buf = NULL;
    size_t len = 0;
    drv_error *err = NULL;
    if (drv_codec_pack(&env, 0, &buf, &len, &err) == 0)
        s_push(self, ev->kind == DRV_EV_LIBVIRT_DOWN ? S_OUT_LIBVIRT_DOWN : S_OUT_EVENT, NULL, buf,
               len);
    else
        drv_warn("event %s of '%s' not sent: %s", drv_event_kind_to_string(ev->kind), e.domain,
                 err->message);
    drv_error_destroy(&err);
    g_ptr_array_unref(arena);
    drv_debug("event %s %s (%s)", drv_event_kind_to_string(ev->kind), e.domain, e.detail_text);
}

static void s_on_progress(void *user_data, Drover__Progress *p)
{
    drv_agent *self = user_data;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_PROGRESS;
    env.progress = p;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (drv_codec_pack(&env, 0, &buf, &len, NULL) == 0)
        s_push(self, S_OUT_PROGRESS, p->command_id, buf, len);
}

static drv_host_facts *s_facts(drv_agent *self, virConnectPtr conn);

/* This host's wall clock (Unix ms) as commands' expiries and the controller's skew estimate see it
 * ([test] clock_offset_ms pretends it is off: tests/controller/clock_skew.sh). */
static int64_t s_wall_ms(const drv_agent *self)
{
    return g_get_real_time() / 1000 + self->opts->test_clock_offset_ms;
}

/* Runs one command on a pool thread and hands its reply to the main thread. */
static void s_task_command(drv_agent *self, const Drover__Command *cmd)
{
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Reply reply = DROVER__REPLY__INIT;
    reply.command_id = cmd->id;
    int64_t ago_ms = drv_cmdreply_expired_ms(cmd, s_wall_ms(self));
    if (ago_ms > 0) {
        /* it waited in the queue past its expiry: refused now, still unrun */
        drv_cmdreply_fill_expired(&reply, arena, cmd, ago_ms);
    } else {
        drv_commands_execute(&self->env, cmd, &reply, arena);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    drv_cmdreply_pack(&reply, &buf, &len);
    s_push(self, S_OUT_REPLY, cmd->id, buf, len);
    g_ptr_array_unref(arena);
}

/* Gathers the domains and free memory for a Register on a pool thread. */
static void s_task_inventory(drv_agent *self, guint generation, guint seq)
{
    s_out *o = g_new0(s_out, 1);
    o->kind = S_OUT_INVENTORY;
    o->generation = generation;
    o->seq = seq;
    virConnectPtr conn = drv_virt_conn(self->virt);
    if (conn != NULL) {
        unsigned long long free_bytes = virNodeGetFreeMemory(conn);
        if (free_bytes > 0)
            o->free_memory_kib = free_bytes / 1024;
        drv_error *err = NULL;
        if (drv_virt_inventory(conn, &o->doms, &err) < 0) {
            drv_warn("inventory: %s", err->message);
            drv_error_destroy(&err);
        }
        virConnectClose(conn);
    }
    s_push_out(self, o);
}

/* Connects to libvirt and gathers the host facts on the connection thread: the first
 * domain-capabilities call after libvirtd starts probes QEMU and can take many seconds, and a
 * hung libvirtd can hold virConnectOpen; heartbeats must wait for neither. */
static void s_task_connect(drv_agent *self, guint generation)
{
    s_out *o = g_new0(s_out, 1);
    o->kind = S_OUT_CONNECTED;
    o->generation = generation;
    drv_error *err = NULL;
    if (drv_virt_connect(self->virt, &err) < 0) {
        o->error = g_strdup(err->message);
        drv_error_destroy(&err);
    } else {
        virConnectPtr conn = drv_virt_conn(self->virt);
        o->facts = s_facts(self, conn);
        if (conn != NULL)
            virConnectClose(conn);
    }
    s_push_out(self, o);
}

typedef struct {
    virConnectPtr conn;
    const char *name;
    bool destroyed;
} s_fence_one;

/* One guest's destroy, on a thread of its own: all of them run at once, so the fence takes as
 * long as the slowest guest, not their sum. */
static gpointer s_fence_one_run(gpointer data)
{
    s_fence_one *f = data;
    virDomainPtr dom = virDomainLookupByName(f->conn, f->name);
    if (dom == NULL)
        return NULL;
    if (virDomainIsActive(dom) == 1) {
        if (virDomainDestroy(dom) == 0) {
            f->destroyed = true;
        } else {
            const char *msg = virGetLastErrorMessage();
            drv_err("fence: destroying '%s' failed: %s", f->name, msg ? msg : "?");
        }
    }
    virDomainFree(dom);
    return NULL;
}

/* Destroys every HA guest in names that libvirt shows active, on the fence thread. */
static void s_task_fence(drv_agent *self, char **names)
{
    s_out *o = g_new0(s_out, 1);
    o->kind = S_OUT_FENCED;
    GPtrArray *done = g_ptr_array_new();
    virConnectPtr conn = drv_virt_conn(self->virt);
    if (conn == NULL) {
        o->error = g_strdup("libvirtd is not connected: the HA guests could not be destroyed");
    } else {
        guint n = names != NULL ? g_strv_length(names) : 0;
        s_fence_one *each = g_new0(s_fence_one, n ? n : 1);
        GThread **threads = g_new0(GThread *, n ? n : 1);
        for (guint i = 0; i < n; i++) {
            each[i].conn = conn;
            each[i].name = names[i];
            threads[i] = g_thread_try_new("fence", s_fence_one_run, &each[i], NULL);
            if (threads[i] == NULL) /* no thread: destroy it here */
                s_fence_one_run(&each[i]);
        }
        for (guint i = 0; i < n; i++) {
            if (threads[i] != NULL)
                g_thread_join(threads[i]);
            if (each[i].destroyed)
                g_ptr_array_add(done, g_strdup(names[i]));
        }
        g_free(threads);
        g_free(each);
        virConnectClose(conn);
    }
    g_ptr_array_add(done, NULL);
    o->names = (char **)g_ptr_array_free(done, FALSE);
    s_push_out(self, o);
}

/* Takes one statistics sample on the stats thread and hands the packed report to the main
 * thread. Without libvirt the report has the host's figures only. */
static void s_task_stats(drv_agent *self)
{
    s_out *o = g_new0(s_out, 1);
    o->kind = S_OUT_STATS;
    int64_t t0 = s_now_ms();
    virConnectPtr conn = drv_virt_conn(self->virt);
    drv_stats_report *r = NULL;
    drv_error *err = NULL;
    if (drv_stats_sampler_sample(self->sampler, conn, t0, g_get_real_time() / 1000, &r, &err) < 0) {
        drv_warn("stats: %s", err->message);
        drv_error_destroy(&err);
    }
    if (conn != NULL)
        virConnectClose(conn);
    if (r != NULL && self->opts->stats_host_cpu_from_guests)
        drv_stats_host_cpu_from_guests(r);
    if (r != NULL) {
        r->sample_ms = (uint32_t)(s_now_ms() - t0);
        drv_pb_stats_pack(r, &o->buf, &o->len);
        drv_stats_report_destroy(&r);
    }
    s_push_out(self, o);
}

static void s_pool_free_now(GThreadPool *pool)
{
    g_thread_pool_free(pool, TRUE, TRUE);
}

/* Pool thread entry for both pools. */
static void s_task_run(gpointer data, gpointer user_data)
{
    s_task *t = data;
    drv_agent *self = user_data;
    if (!g_atomic_int_get(&self->stopping)) {
        switch (t->kind) {
        case S_TASK_COMMAND:
            s_task_command(self, t->env->command);
            break;
        case S_TASK_INVENTORY:
            s_task_inventory(self, t->generation, t->seq);
            break;
        case S_TASK_CONNECT:
            s_task_connect(self, t->generation);
            break;
        case S_TASK_DISCONNECT:
            drv_virt_disconnect(self->virt);
            break;
        case S_TASK_FENCE:
            s_task_fence(self, t->names);
            break;
        case S_TASK_STATS:
            s_task_stats(self);
            break;
        }
    }
    drv_codec_destroy(&t->env);
    g_strfreev(t->names);
    g_free(t);
    g_atomic_int_dec_and_test(&self->workers);
}

/* Main thread: queues a task on pool. Takes env. Returns -1 (nothing queued, env freed) only when
 * GLib cannot start a thread. */
static int s_queue(drv_agent *self, GThreadPool *pool, s_task_kind kind, Drover__Envelope **env,
                   guint generation, guint seq)
{
    s_task *t = g_new0(s_task, 1);
    t->kind = kind;
    t->env = env ? *env : NULL;
    if (env)
        *env = NULL;
    t->generation = generation;
    t->seq = seq;
    g_atomic_int_inc(&self->workers);
    GError *gerr = NULL;
    if (!g_thread_pool_push(pool, t, &gerr)) {
        drv_err("worker pool: %s", gerr->message);
        g_error_free(gerr);
        drv_codec_destroy(&t->env);
        g_free(t);
        g_atomic_int_dec_and_test(&self->workers);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ sending */

static void s_send_bytes(drv_agent *self, const uint8_t *buf, size_t len)
{
    if (self->sock == NULL || buf == NULL)
        return;
    if (zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        drv_debug("send to controller dropped: %s", zmq_strerror(errno));
        return;
    }
    self->last_send_ms = s_now_ms();
}

static void s_send_env(drv_agent *self, Drover__Envelope *env)
{
    if (self->sock == NULL)
        return;
    drv_error *err = NULL;
    if (drv_wire_send(self->sock, NULL, env, ZMQ_DONTWAIT, &err) < 0) {
        drv_debug("send %s dropped: %s", drv_codec_body_name(env->body_case), err->message);
        drv_error_destroy(&err);
        return;
    }
    self->last_send_ms = s_now_ms();
}

/* Builds the host facts: what the agent knows itself, plus libvirt's view when connected. */
static drv_host_facts *s_facts(drv_agent *self, virConnectPtr conn)
{
    const drv_agent_options *o = self->opts;
    drv_host_facts *f = drv_host_facts_new();
    f->host_id = g_strdup(o->host_id);
    f->hostname = g_strdup(g_get_host_name());
    f->reserved_memory_kib = o->reserved_memory_kib;
    f->migration_uri = g_strdup(o->migration_uri);
    f->libvirt_uri = g_strdup(o->libvirt_uri);
    for (size_t i = 0; o->label_keys[i] != NULL; i++) {
        g_ptr_array_add(f->label_keys, g_strdup(o->label_keys[i]));
        g_ptr_array_add(f->label_values, g_strdup(o->label_values[i]));
    }
    if (conn != NULL) {
        drv_error *err = NULL;
        if (drv_virt_host_facts(conn, f, &err) < 0) {
            drv_warn("host facts incomplete: %s", err->message);
            drv_error_destroy(&err);
        }
    }
    drv_caps_apply_overrides(f, o->test_arch, o->test_cpu_model,
                             (const char *const *)o->test_cpu_features, o->test_host_uuid);
    /* [agent] mask_cpu_features: flags this host never advertises (a migration pool whose
     * oldest hardware lacks them, or a test of the controller's CPU check) */
    for (size_t i = 0; o->mask_cpu_features != NULL && o->mask_cpu_features[i] != NULL; i++)
        for (guint k = f->cpu_features->len; k > 0; k--)
            if (strcmp(g_ptr_array_index(f->cpu_features, k - 1), o->mask_cpu_features[i]) == 0)
                g_ptr_array_remove_index(f->cpu_features, k - 1);
    return f;
}

/* Sends Register with the given domains (borrowed; NULL = none). connected = libvirt answered and
 * the domain list is authoritative. Uses the facts of the current connection when there is one,
 * else what the agent knows itself. No libvirt call. */
static void s_send_register(drv_agent *self, GPtrArray *doms, bool connected,
                            uint64_t free_memory_kib)
{
    drv_host_facts *own = self->facts == NULL ? s_facts(self, NULL) : NULL;
    drv_host_facts *facts = own ? own : self->facts;
    if (free_memory_kib > 0)
        facts->free_memory_kib = free_memory_kib;
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Register reg = DROVER__REGISTER__INIT;
    reg.facts = drv_pb_facts(arena, facts);
    reg.domains = drv_pb_dom_infos(arena, connected ? doms : NULL, &reg.n_domains);
    reg.agent_instance = self->instance;
    reg.wall_ms = s_wall_ms(self);
    reg.libvirt_connected = connected;
    if (self->fenced != NULL && self->fenced->len > 0) {
        reg.fenced = (char **)self->fenced->pdata;
        reg.n_fenced = self->fenced->len;
        reg.fenced_at_ms = self->fenced_at_wall_ms;
    }
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
    s_send_env(self, &env);
    drv_debug("register sent (%zu domains, libvirt %s): %u cpus, %" G_GUINT64_FORMAT
              " KiB, %s %s %s, %u features, uuid %s",
              reg.n_domains, connected ? "connected" : "down", facts->cpus, facts->memory_kib,
              facts->arch ? facts->arch : "?", facts->cpu_vendor ? facts->cpu_vendor : "?",
              facts->cpu_model ? facts->cpu_model : "?", facts->cpu_features->len,
              facts->host_uuid ? facts->host_uuid : "?");
    g_ptr_array_unref(arena);
    drv_host_facts_destroy(&own);
}

/* Starts a Register: with libvirt up, queues the inventory (the Register goes out when it
 * completes, s_inventory_ready); with libvirt down, sends one without domains at once. While
 * libvirt is being connected, or an inventory is on its way, it waits — up to S_LIBVIRT_WAIT_MS,
 * then registers without libvirt (not authoritative) and the real one follows. */
static void s_register_start(drv_agent *self)
{
    int64_t now = s_now_ms();
    if (self->virt_up) {
        if (!self->inv_pending) {
            self->inv_pending = true;
            self->inv_asked_ms = now;
            if (s_queue(self, self->pool, S_TASK_INVENTORY, NULL, self->generation,
                        ++self->inv_seq) < 0)
                self->inv_pending = false;
            else
                return;
        } else if (now - self->inv_asked_ms < S_LIBVIRT_WAIT_MS) {
            return; /* its completion sends the Register */
        } else {
            drv_warn("no inventory from libvirt after %" G_GINT64_FORMAT
                     " ms: registering without it (the domain list is not authoritative)",
                     now - self->inv_asked_ms);
        }
    } else if (self->virt_connecting && now - self->connect_started_ms < S_LIBVIRT_WAIT_MS) {
        return; /* the connect's completion re-registers */
    }
    s_send_register(self, NULL, false, 0);
}

/* Re-registers (a new controller instance, CMD_INVENTORY, libvirt back). */
static void s_reregister(drv_agent *self)
{
    if (self->sock == NULL)
        return;
    self->link = S_LINK_REGISTERING;
    drv_backoff_reset(&self->register_backoff);
    s_register_start(self);
    self->next_register_ms = s_now_ms() + drv_backoff_next(&self->register_backoff);
}

/* The inventory asked for a Register arrived (main thread). */
static void s_inventory_ready(drv_agent *self, s_out *o)
{
    if (o->seq != self->inv_seq)
        return; /* asked before libvirt reconnected: dropped with o */
    self->inv_pending = false;
    if (o->generation != self->generation || !self->virt_up || self->sock == NULL)
        return; /* the connection it describes is gone; the next register tick asks again */
    s_send_register(self, o->doms, o->doms != NULL, o->free_memory_kib);
    if (self->link == S_LINK_REGISTERING)
        self->next_register_ms = s_now_ms() + drv_backoff_next(&self->register_backoff);
}

static void s_send_heartbeat(drv_agent *self)
{
    Drover__Heartbeat hb = DROVER__HEARTBEAT__INIT;
    hb.seq = ++self->hb_seq;
    hb.instance = self->instance;
    hb.wall_ms = s_wall_ms(self);
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_send_env(self, &env);
}

static void s_send_inventory_down(drv_agent *self)
{
    Drover__Inventory inv = DROVER__INVENTORY__INIT;
    inv.libvirt_connected = false;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_INVENTORY;
    env.inventory = &inv;
    s_send_env(self, &env);
}

/* ------------------------------------------------------------------ the link */

static int64_t s_dead_ms(drv_agent *self)
{
    return (int64_t)self->interval_ms * self->liveness;
}

static void s_link_close(drv_agent *self)
{
    if (self->sock != NULL) {
        zmq_close(self->sock);
        self->sock = NULL;
    }
    self->link = S_LINK_DOWN;
}

static void s_link_open(drv_agent *self)
{
    const char *ep = self->opts->controllers[self->endpoint];
    void *s = zmq_socket(self->zctx, ZMQ_DEALER);
    int zero = 0;
    int64_t max = DRV_PROTO_MAX_FRAME_DEFAULT;
    int hwm = 10000;
    /* ZeroMQ's reconnect backoff capped at 1 s: a controller that comes back (a restart, a new
     * leader) hears from every agent within about a second, well inside its registration grace
     * (broker.c: twice the liveness window); with a 5 s cap an agent reconnected up to 5 s late. */
    int ivl = 100, ivl_max = S_RECONNECT_IVL_MAX_MS;
    zmq_setsockopt(s, ZMQ_ROUTING_ID, self->opts->host_id, strlen(self->opts->host_id));
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    drv_error *cerr = NULL;
    if (drv_curve_client(s, self->curve_secret, self->curve_public, self->controller_key, &cerr) <
        0) {
        drv_err("controller endpoint '%s': %s", ep, cerr->message);
        drv_error_destroy(&cerr);
        zmq_close(s);
        self->link_open_at_ms = s_now_ms() + drv_backoff_next(&self->link_backoff);
        return;
    }
    if (zmq_connect(s, ep) < 0) {
        drv_err("controller endpoint '%s': %s", ep, zmq_strerror(errno));
        zmq_close(s);
        self->endpoint = (self->endpoint + 1) % g_strv_length(self->opts->controllers);
        self->link_open_at_ms = s_now_ms() + drv_backoff_next(&self->link_backoff);
        return;
    }
    self->sock = s;
    self->last_recv_ms = s_now_ms();
    drv_info("connecting to controller %s as '%s' (CURVE key %s)", ep, self->opts->host_id,
             self->curve_public);
    s_reregister(self);
    /* the register backoff keeps growing across reopen attempts until an ack */
}

/* The controller stopped answering: drop the socket, move to the next endpoint, retry later. */
static void s_link_lost(drv_agent *self, const char *why)
{
    drv_warn("controller %s: %s; reconnecting", self->opts->controllers[self->endpoint], why);
    s_link_close(self);
    self->endpoint = (self->endpoint + 1) % g_strv_length(self->opts->controllers);
    self->link_open_at_ms = s_now_ms() + drv_backoff_next(&self->link_backoff);
}

/* ------------------------------------------------------------------ libvirt up/down */

static void s_libvirt_down(drv_agent *self, s_out *ev)
{
    if (!self->virt_up)
        return;
    drv_warn("libvirt '%s' connection lost; reconnecting", self->opts->libvirt_uri);
    self->virt_up = false;
    self->virt_was_down = true;
    drv_host_facts_destroy(&self->facts);
    self->generation++;
    self->inv_pending = false;
    self->inv_seq++; /* an inventory still on its way describes the old connection */
    /* deregistering and closing talk to libvirtd: on the connection thread, before any reconnect */
    s_queue(self, self->conn_pool, S_TASK_DISCONNECT, NULL, 0, 0);
    if (ev != NULL) {
        s_send_bytes(self, ev->buf, ev->len);
    } else {
        drv_virt_event e = {.kind = DRV_EV_LIBVIRT_DOWN,
                            .detail_text = "not alive",
                            .timestamp_ms = (uint64_t)(g_get_real_time() / 1000)};
        s_on_event(&e, self); /* queued; sent on the next drain */
    }
    s_send_inventory_down(self);
    drv_backoff_reset(&self->virt_backoff);
    self->virt_retry_at_ms = s_now_ms() + drv_backoff_next(&self->virt_backoff);
}

/* Queues a connect (and facts) attempt on the connection thread. */
static void s_libvirt_try(drv_agent *self)
{
    if (self->virt_connecting)
        return;
    self->virt_connecting = true;
    self->connect_started_ms = s_now_ms();
    if (s_queue(self, self->conn_pool, S_TASK_CONNECT, NULL, ++self->generation, 0) < 0) {
        self->virt_connecting = false;
        self->virt_retry_at_ms = s_now_ms() + drv_backoff_next(&self->virt_backoff);
    }
}

/* A connect attempt ended. On success the facts of the new connection came with it: now the host
 * can be (re-)registered. */
static void s_connected(drv_agent *self, s_out *o)
{
    if (o->generation != self->generation)
        return; /* superseded: dropped with o */
    self->virt_connecting = false;
    if (o->error != NULL) {
        int64_t delay = drv_backoff_next(&self->virt_backoff);
        drv_warn("%s (retry in %" G_GINT64_FORMAT " ms)", o->error, delay);
        self->virt_retry_at_ms = s_now_ms() + delay;
        if (self->link == S_LINK_REGISTERING)
            s_register_start(self); /* registers without libvirt, if a Register was waiting */
        return;
    }
    self->virt_up = true;
    drv_backoff_reset(&self->virt_backoff);
    drv_host_facts_destroy(&self->facts);
    self->facts = o->facts;
    o->facts = NULL;
    drv_info("libvirt '%s' connected; host facts: %u cpus, %" G_GUINT64_FORMAT " KiB, %s %s",
             self->opts->libvirt_uri, self->facts->cpus, self->facts->memory_kib,
             self->facts->arch ? self->facts->arch : "?",
             self->facts->cpu_model ? self->facts->cpu_model : "?");
    if (self->virt_was_down) {
        drv_virt_event e = {.kind = DRV_EV_LIBVIRT_UP,
                            .detail_text = "reconnected",
                            .timestamp_ms = (uint64_t)(g_get_real_time() / 1000)};
        s_on_event(&e, self);
        self->virt_was_down = false;
    }
    s_reregister(self);
}

/* ------------------------------------------------------------------ receiving */

/* Sends a reply built on the main thread; cache = remember it for resends of its id. */
static void s_reply_now(drv_agent *self, Drover__Reply *reply, bool cache)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    drv_cmdreply_pack(reply, &buf, &len);
    s_send_bytes(self, buf, len);
    if (cache && reply->command_id != NULL && *reply->command_id != '\0')
        drv_reply_cache_finish(self->cache, reply->command_id, buf, len);
    else
        g_free(buf);
}

/* Takes ownership of env. Nothing here calls libvirt: every command runs on the pool. */
/* While fenced (no renewal since the fence), an HA guest must not start here: the controller may
 * be restarting it elsewhere. */
static bool s_fenced_refuses(const drv_agent *self, const Drover__Command *cmd)
{
    if (self->lease == NULL || !self->fence.fenced || self->ha == NULL || cmd->domain == NULL)
        return false;
    if (cmd->kind != DROVER__COMMAND_KIND__CMD_START &&
        cmd->kind != DROVER__COMMAND_KIND__CMD_CREATE &&
        cmd->kind != DROVER__COMMAND_KIND__CMD_RESUME)
        return false;
    return g_strv_contains((const char *const *)self->ha, cmd->domain);
}

static void s_handle_command(drv_agent *self, Drover__Envelope *env)
{
    Drover__Command *cmd = env->command;
    const char *id = cmd->id ? cmd->id : "";
    drv_debug("command %s %s '%s'", id, drv_commands_kind_name(cmd->kind), cmd->domain);
    if (*id == '\0') {
        if (cmd->kind == DROVER__COMMAND_KIND__CMD_INVENTORY) {
            s_reregister(self);
        } else {
            GPtrArray *arena = drv_pb_arena_new();
            Drover__Reply reply = DROVER__REPLY__INIT;
            drv_error e = {.kind = DRV_ERR_INVALID, .message = "command without an id refused"};
            drv_commands_fail(&reply, arena, &e);
            s_reply_now(self, &reply, false);
            g_ptr_array_unref(arena);
        }
        drv_codec_destroy(&env);
        return;
    }
    const uint8_t *buf = NULL;
    size_t len = 0;
    switch (drv_reply_cache_lookup(self->cache, id, &buf, &len)) {
    case DRV_REPLY_DONE:
        drv_debug("command %s resent: same reply again", id);
        s_send_bytes(self, buf, len);
        drv_codec_destroy(&env);
        return;
    case DRV_REPLY_RUNNING:
        drv_debug("command %s resent while running: its reply will come", id);
        drv_codec_destroy(&env);
        return;
    case DRV_REPLY_UNKNOWN:
        break;
    }

    GPtrArray *arena = drv_pb_arena_new();
    Drover__Reply reply = DROVER__REPLY__INIT;
    reply.command_id = (char *)id;
    int64_t ago_ms = drv_cmdreply_expired_ms(cmd, s_wall_ms(self));
    guint waiting = g_thread_pool_unprocessed(self->pool);
    if (ago_ms > 0) {
        /* cached: a resend of this id gets the same refusal, never a late run */
        drv_cmdreply_fill_expired(&reply, arena, cmd, ago_ms);
        s_reply_now(self, &reply, true);
    } else if (cmd->kind == DROVER__COMMAND_KIND__CMD_INVENTORY) {
        reply.ok = true;
        s_reply_now(self, &reply, true);
        s_reregister(self);
    } else if (cmd->kind == DROVER__COMMAND_KIND__CMD_HA_SET) {
        /* no libvirt: the set the fence destroys, kept in memory and in the state file */
        GPtrArray *names = g_ptr_array_new();
        for (size_t i = 0; i < cmd->n_names; i++)
            g_ptr_array_add(names, g_strdup(cmd->names[i]));
        g_ptr_array_add(names, NULL);
        g_strfreev(self->ha);
        self->ha = (char **)g_ptr_array_free(names, FALSE);
        if (self->lease != NULL)
            drv_lease_set_ha(self->lease, self->ha);
        drv_info("HA domains on this host: %zu", cmd->n_names);
        reply.ok = true;
        s_reply_now(self, &reply, true);
    } else if (s_fenced_refuses(self, cmd)) {
        g_autofree char *msg = g_strdup_printf(
            "start of HA domain '%s' refused: this host's fencing lease is not renewed (it fenced "
            "its HA guests; they may be restarted elsewhere): the command was not run",
            cmd->domain);
        drv_error e = {.kind = DRV_ERR_UNAVAILABLE, .message = msg};
        drv_commands_fail(&reply, arena, &e);
        drv_warn("command %s: %s", id, msg);
        s_reply_now(self, &reply, false); /* not cached: it may run once the lease is back */
    } else if (cmd->kind == DROVER__COMMAND_KIND__CMD_MIGRATE_CANCEL) {
        /* only flags the migration (its monitor aborts it): never queued behind other work */
        drv_error *err = NULL;
        if (drv_migrate_cancel(cmd->domain, cmd->job_id, &err) == 0) {
            reply.ok = true;
        } else {
            drv_commands_fail(&reply, arena, err);
            drv_error_destroy(&err);
        }
        s_reply_now(self, &reply, true);
    } else if (waiting >= self->opts->command_queue_limit) {
        g_autofree char *what = drv_cmdreply_what(cmd);
        g_autofree char *msg = g_strdup_printf(
            "%s refused: %u commands are already waiting for a worker (worker_threads = %u; "
            "libvirt is slow or hung): the command was not run",
            what, waiting, self->opts->worker_threads);
        drv_error e = {.kind = DRV_ERR_UNAVAILABLE, .message = msg};
        drv_commands_fail(&reply, arena, &e);
        drv_warn("command %s: %s", id, msg);
        s_reply_now(self, &reply, false); /* not cached: the same id may be sent again later */
    } else {
        drv_reply_cache_start(self->cache, id);
        if (s_queue(self, self->pool, S_TASK_COMMAND, &env, 0, 0) < 0) {
            drv_error e = {.kind = DRV_ERR_INTERNAL,
                           .message =
                               "the agent could not start a worker (the command was not run)"};
            drv_commands_fail(&reply, arena, &e);
            s_reply_now(self, &reply, true);
        }
    }
    g_ptr_array_unref(arena);
    drv_codec_destroy(&env);
}

static void s_handle(drv_agent *self, Drover__Envelope *env)
{
    self->last_recv_ms = s_now_ms();
    switch (env->body_case) {
    case DROVER__ENVELOPE__BODY_REGISTER_ACK: {
        Drover__RegisterAck *ack = env->register_ack;
        bool changed = self->controller_instance != NULL &&
                       g_strcmp0(self->controller_instance, ack->controller_instance) != 0;
        if (ack->heartbeat_interval_ms > 0)
            self->interval_ms = ack->heartbeat_interval_ms;
        if (ack->liveness > 0)
            self->liveness = ack->liveness;
        g_free(self->controller_instance);
        self->controller_instance = g_strdup(ack->controller_instance);
        if (self->link == S_LINK_UP && changed) {
            drv_info("controller instance changed to %s: registering again",
                     ack->controller_instance);
            s_reregister(self);
        } else if (self->link != S_LINK_UP) {
            self->link = S_LINK_UP;
            drv_backoff_reset(&self->register_backoff);
            drv_backoff_reset(&self->link_backoff);
            drv_info("registered with controller %s (instance %s, heartbeat %u ms × %u)",
                     self->opts->controllers[self->endpoint], ack->controller_instance,
                     self->interval_ms, self->liveness);
        }
        break;
    }
    case DROVER__ENVELOPE__BODY_HEARTBEAT: {
        const char *inst = env->heartbeat->instance;
        if (inst != NULL && *inst != '\0' && self->controller_instance != NULL &&
            strcmp(inst, self->controller_instance) != 0) {
            drv_info("controller restarted (instance %s → %s): registering again",
                     self->controller_instance, inst);
            g_free(self->controller_instance);
            self->controller_instance = g_strdup(inst);
            s_reregister(self);
        }
        break;
    }
    case DROVER__ENVELOPE__BODY_COMMAND:
        s_handle_command(self, env);
        return; /* env taken */
    default:
        drv_debug("ignored %s message from the controller", drv_codec_body_name(env->body_case));
        break;
    }
    drv_codec_destroy(&env);
}

static void s_drain_socket(drv_agent *self)
{
    for (int i = 0; i < 1000 && self->sock != NULL; i++) {
        Drover__Envelope *env = NULL;
        drv_error *err = NULL;
        if (drv_wire_recv(self->sock, false, 0, ZMQ_DONTWAIT, NULL, &env, &err) < 0) {
            bool empty = err->kind == DRV_ERR_TIMEOUT;
            if (!empty) {
                self->last_recv_ms = s_now_ms(); /* it was traffic, if garbled */
                drv_warn("bad message from the controller: %s", err->message);
            }
            drv_error_destroy(&err);
            if (empty)
                return;
            continue;
        }
        s_handle(self, env);
    }
}

/* ------------------------------------------------------------------ HA self-fence */

/* Main thread: a fence ended. */
static void s_fenced(drv_agent *self, s_out *o)
{
    if (o->error != NULL)
        drv_err("FENCE FAILED: %s", o->error);
    size_t n = o->names ? g_strv_length(o->names) : 0;
    for (size_t i = 0; i < n && self->fenced->len < 256; i++)
        g_ptr_array_add(self->fenced, g_strdup(o->names[i]));
    self->fenced_at_wall_ms = g_get_real_time() / 1000;
    g_autofree char *list = o->names ? g_strjoinv(", ", o->names) : g_strdup("");
    drv_warn("fenced: destroyed %zu HA guest%s (%s)", n, n == 1 ? "" : "s", list);
}

/* Main thread, every turn: reads the lease thread's status and fences when fence.h says so. The
 * destroys run on the fence thread; the loop never waits for them. */
static void s_fence_check(drv_agent *self, int64_t now)
{
    if (self->lease == NULL)
        return;
    drv_lease_status st;
    drv_lease_status_get(self->lease, &st);
    bool lost_now = st.lost != self->lease_lost_seen;
    if (lost_now) {
        self->fence.lease_lost = true;
    } else if (st.renewals != self->lease_renewals_seen) {
        self->lease_renewals_seen = st.renewals;
        bool was = self->fence.fenced;
        drv_fence_renewed(&self->fence, st.last_renew_sent_ms);
        if (was)
            drv_info("fencing lease %lld renewed again: fencing re-armed", (long long)st.lease_id);
    }
    if (drv_fence_due(&self->fence_cfg, &self->fence, now)) {
        self->fence.fenced = true;
        size_t n = self->ha ? g_strv_length(self->ha) : 0;
        drv_warn("fencing lease %s for %lld ms: destroying %zu HA guest%s",
                 self->fence.lease_lost ? "expired" : "not renewed",
                 (long long)(now - self->fence.last_renew_sent_ms), n, n == 1 ? "" : "s");
        if (n > 0) {
            s_task *t = g_new0(s_task, 1);
            t->kind = S_TASK_FENCE;
            t->names = g_strdupv(self->ha);
            g_atomic_int_inc(&self->workers);
            if (!g_thread_pool_push(self->fence_pool, t, NULL)) {
                drv_err("FENCE FAILED: no fence thread");
                g_strfreev(t->names);
                g_free(t);
                g_atomic_int_dec_and_test(&self->workers);
            }
        }
    }
    if (lost_now)
        self->lease_lost_seen = st.lost; /* the new lease's renewal ends the episode next turn */
}

static void s_drain_queue(drv_agent *self)
{
    uint64_t n;
    if (read(self->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        drv_debug("eventfd read: %s", g_strerror(errno));
    s_out *o;
    while ((o = g_async_queue_try_pop(self->outq)) != NULL) {
        switch (o->kind) {
        case S_OUT_REPLY:
            s_send_bytes(self, o->buf, o->len);
            drv_reply_cache_finish(self->cache, o->command_id, o->buf, o->len);
            o->buf = NULL;
            break;
        case S_OUT_LIBVIRT_DOWN:
            s_libvirt_down(self, o);
            break;
        case S_OUT_CONNECTED:
            s_connected(self, o);
            break;
        case S_OUT_INVENTORY:
            s_inventory_ready(self, o);
            break;
        case S_OUT_FENCED:
            s_fenced(self, o);
            break;
        case S_OUT_STATS:
            self->stats_pending = false;
            if (self->link == S_LINK_UP && o->buf != NULL)
                s_send_bytes(self, o->buf, o->len);
            break;
        case S_OUT_PROGRESS:
        case S_OUT_EVENT:
            s_send_bytes(self, o->buf, o->len);
            break;
        }
        s_out_free(o);
    }
}

/* ------------------------------------------------------------------ lifecycle */

/* Starts the fencing lease, resuming a previous process's lease and HA set (state_file). */
static int s_fence_init(drv_agent *self, drv_error **err)
{
    const drv_agent_options *opts = self->opts;
    self->fence_cfg.fence_after_ms = (int64_t)opts->fence_after_s * 1000;
    self->fence_cfg.lease_ttl_ms = (int64_t)opts->lease_ttl_s * 1000;
    if (drv_fence_cfg_check(&self->fence_cfg, err) < 0)
        return -1;
    drv_lease_saved saved;
    drv_lease_saved_read(opts->state_file, &saved);
    self->ha = g_steal_pointer(&saved.ha_domains);
    self->fence.last_renew_sent_ms =
        drv_fence_start_renewed_ms(s_now_ms(), g_get_real_time() / 1000, saved.last_renew_wall_ms);
    drv_etcd_tls tls = {opts->etcd_ca_file, opts->etcd_cert_file, opts->etcd_key_file};
    self->lease = drv_lease_new(opts->etcd_endpoints, &tls, opts->etcd_prefix, opts->host_id,
                                opts->lease_ttl_s, opts->fence_after_s, opts->state_file,
                                saved.lease_id, saved.last_renew_wall_ms, err);
    drv_lease_saved_clear(&saved);
    if (self->lease == NULL)
        return -1;
    if (self->ha != NULL)
        drv_lease_set_ha(self->lease, self->ha);
    drv_info("HA self-fence armed: fence after %u s without renewing, lease TTL %u s, %u HA "
             "domains known",
             opts->fence_after_s, opts->lease_ttl_s, self->ha ? g_strv_length(self->ha) : 0);
    return 0;
}

drv_agent *drv_agent_new(const drv_agent_options *opts, drv_error **err)
{
    drv_agent *self = g_new0(drv_agent, 1);
    self->opts = opts;
    /* CURVE is not optional: the agent pins the controller's key and proves its own */
    if (drv_curve_read_secret(opts->secret_key_file, self->curve_secret, self->curve_public, err) <
            0 ||
        drv_curve_read_public(opts->controller_key, self->controller_key, err) < 0) {
        drv_error_prefix(err, "[agent] secret_key_file / controller_key (CURVE keys; make them "
                              "with `drover keygen`, enrol with `drover host enroll`)");
        g_free(self);
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        g_snprintf(self->instance + i * 8, 9, "%08x", g_random_int());
    self->interval_ms = opts->heartbeat_interval_ms;
    self->liveness = opts->liveness;
    drv_backoff_init(&self->register_backoff, S_BACKOFF_START, S_BACKOFF_CAP);
    drv_backoff_init(&self->link_backoff, S_BACKOFF_START, S_BACKOFF_CAP);
    drv_backoff_init(&self->virt_backoff, S_BACKOFF_START, S_BACKOFF_CAP);
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) {
        drv_error_set(err, DRV_ERR_IO, errno, "eventfd: %s", g_strerror(errno));
        g_free(self);
        return NULL;
    }
    self->outq = g_async_queue_new_full((GDestroyNotify)s_out_free);
    self->cache = drv_reply_cache_new(S_REPLY_CACHE);
    self->zctx = zmq_ctx_new();
    self->virt = drv_virt_new(opts->libvirt_uri, s_on_event, self);
    self->env.virt = self->virt;
    self->env.consoles = drv_console_table_new();
    self->env.progress = s_on_progress;
    self->env.progress_data = self;
    self->env.migration_pki_path = opts->migration_pki_path;
    self->env.migration_stream_tls = opts->migration_stream_tls;
    self->fenced = g_ptr_array_new_with_free_func(g_free);
    GError *gerr = NULL;
    self->pool = g_thread_pool_new(s_task_run, self, (gint)opts->worker_threads, FALSE, &gerr);
    if (self->pool != NULL)
        self->conn_pool = g_thread_pool_new(s_task_run, self, 1, FALSE, &gerr);
    if (self->conn_pool != NULL)
        self->fence_pool = g_thread_pool_new(s_task_run, self, 1, FALSE, &gerr);
    if (self->fence_pool != NULL && opts->stats_interval_ms > 0) {
        self->sampler = drv_stats_sampler_new("/proc");
        self->stats_pool = g_thread_pool_new(s_task_run, self, 1, FALSE, &gerr);
        if (self->stats_pool == NULL)
            g_clear_pointer(&self->fence_pool, s_pool_free_now);
    }
    if (self->fence_pool == NULL) {
        drv_error_set(err, DRV_ERR_INTERNAL, 0, "worker pool: %s", gerr->message);
        g_error_free(gerr);
        drv_agent_destroy(&self);
        return NULL;
    }
    if (opts->etcd_endpoints != NULL && s_fence_init(self, err) < 0) {
        drv_agent_destroy(&self);
        return NULL;
    }
    return self;
}

int drv_agent_run(drv_agent *self, int signal_fd)
{
    drv_info("agent '%s' instance %s, libvirt %s", self->opts->host_id, self->instance,
             self->opts->libvirt_uri);
    s_libvirt_try(self);
    for (;;) {
        int64_t now = s_now_ms();
        if (!self->virt_up && !self->virt_connecting && now >= self->virt_retry_at_ms)
            s_libvirt_try(self);
        else if (self->virt_up && !drv_virt_is_alive(self->virt))
            s_libvirt_down(self, NULL);

        now = s_now_ms();
        s_fence_check(self, now);
        if (self->link == S_LINK_DOWN && now >= self->link_open_at_ms)
            s_link_open(self);
        if (self->link == S_LINK_REGISTERING && now >= self->next_register_ms) {
            /* libvirt (connect + facts, or the inventory) still on its way, within its bound */
            bool libvirt_pending =
                (self->virt_connecting && now - self->connect_started_ms < S_LIBVIRT_WAIT_MS) ||
                (self->virt_up && self->inv_pending &&
                 now - self->inv_asked_ms < S_LIBVIRT_WAIT_MS);
            if (libvirt_pending) {
                self->last_recv_ms = now; /* the wait is ours, not the controller's */
                self->next_register_ms = now + 100;
            } else if (now - self->last_recv_ms >= s_dead_ms(self)) {
                s_link_lost(self, "no answer to register");
            } else {
                s_register_start(self);
                self->next_register_ms = now + drv_backoff_next(&self->register_backoff);
            }
        }
        if (self->link == S_LINK_UP) {
            if (now - self->last_recv_ms >= s_dead_ms(self))
                s_link_lost(self, "no message within the liveness window");
            else if (now - self->last_send_ms >= self->interval_ms)
                s_send_heartbeat(self);
        }
        if (self->stats_pool != NULL && self->link == S_LINK_UP && !self->stats_pending &&
            now >= self->next_stats_ms) {
            self->next_stats_ms = now + self->opts->stats_interval_ms;
            if (s_queue(self, self->stats_pool, S_TASK_STATS, NULL, 0, 0) == 0)
                self->stats_pending = true;
        }

        /* sleep until the next deadline, never unbounded */
        int64_t wake = now + self->interval_ms;
        if (self->link == S_LINK_DOWN)
            wake = MIN(wake, self->link_open_at_ms);
        if (self->link == S_LINK_REGISTERING)
            wake = MIN(wake, self->next_register_ms);
        if (self->link == S_LINK_UP) {
            wake = MIN(wake, self->last_send_ms + self->interval_ms);
            wake = MIN(wake, self->last_recv_ms + s_dead_ms(self));
        }
        if (self->stats_pool != NULL && self->link == S_LINK_UP && !self->stats_pending)
            wake = MIN(wake, self->next_stats_ms);
        if (!self->virt_up && !self->virt_connecting) /* a connect's completion wakes us */
            wake = MIN(wake, self->virt_retry_at_ms);
        if (self->lease != NULL) {
            int64_t f = drv_fence_wait_ms(&self->fence_cfg, &self->fence, now);
            if (f != INT64_MAX)
                wake = MIN(wake, now + f);
        }
        long timeout = (long)CLAMP(wake - s_now_ms(), 0, (int64_t)self->interval_ms);

        zmq_pollitem_t items[3] = {
            {.socket = NULL, .fd = signal_fd, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = self->efd, .events = ZMQ_POLLIN},
            {.socket = self->sock, .fd = -1, .events = ZMQ_POLLIN},
        };
        int nitems = self->sock ? 3 : 2;
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            drv_err("poll: %s", zmq_strerror(errno));
            return -1;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            drv_info("signal received: shutting down");
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_drain_queue(self);
        if (nitems == 3 && (items[2].revents & ZMQ_POLLIN))
            s_drain_socket(self);
    }
    return 0;
}

void drv_agent_destroy(drv_agent **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_agent *self = *self_p;
    *self_p = NULL;
    g_atomic_int_set(&self->stopping, 1); /* queued tasks end without running */
    drv_lease_destroy(&self->lease);      /* never revoked: the guests keep running */
    drv_migrate_cancel_all();
    int64_t deadline = s_now_ms() + S_WORKER_WAIT_MS;
    while (g_atomic_int_get(&self->workers) > 0 && s_now_ms() < deadline) {
        drv_migrate_cancel_all();
        g_usleep(50 * 1000);
    }
    s_link_close(self);
    zmq_ctx_shutdown(self->zctx);
    zmq_ctx_term(self->zctx);
    if (g_atomic_int_get(&self->workers) > 0) {
        drv_warn("%d task(s) still running at exit (libvirt does not answer)",
                 g_atomic_int_get(&self->workers));
        return; /* workers still use the agent: let the process exit around them */
    }
    /* every task has ended: the threads are idle and freeing the pools does not wait on libvirt */
    if (self->pool != NULL)
        g_thread_pool_free(self->pool, FALSE, TRUE);
    if (self->conn_pool != NULL)
        g_thread_pool_free(self->conn_pool, FALSE, TRUE);
    drv_console_table_destroy(&self->env.consoles);
    if (self->fence_pool != NULL)
        g_thread_pool_free(self->fence_pool, FALSE, TRUE);
    if (self->stats_pool != NULL)
        g_thread_pool_free(self->stats_pool, FALSE, TRUE);
    drv_stats_sampler_destroy(&self->sampler);
    g_strfreev(self->ha);
    if (self->fenced != NULL)
        g_ptr_array_unref(self->fenced);
    drv_virt_destroy(&self->virt);
    g_async_queue_unref(self->outq);
    drv_reply_cache_destroy(&self->cache);
    close(self->efd);
    g_free(self->controller_instance);
    drv_host_facts_destroy(&self->facts);
    g_free(self);
}
