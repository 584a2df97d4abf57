/* agent_sim.c — N simulated drover agents in one single-threaded process, for scale tests and
 * benchmarks (bench/scale/scale.sh, tests/controller/scale_sim.sh).
 *
 * Each simulated host has its own DEALER socket (routing id = host id) and its own CURVE key pair
 * (KEYS_DIR/ID.key, made when missing; enrol ID with `drover host enroll ID KEYS_DIR/ID.pub`).
 * Like drover-agent it registers (facts + inventory) until acknowledged, heartbeats when it sent
 * nothing for an interval (the RegisterAck's interval wins), registers again when the controller
 * restarted or fell silent for liveness × interval, answers each command once (hostagent's reply
 * cache: a resent id gets its first reply) after --latency-ms (--migrate-ms for a migration) and
 * emits the lifecycle events a libvirt host would. One zmq_poll over every socket; the only
 * threads are ZeroMQ's own I/O threads.
 *
 * SIGHUP writes every simulated domain to --dump-file (the truth a test checks placements against).
 * Silence on demand: the hosts named by --silent stop sending and drop what they receive when the
 * process gets SIGUSR1 (the moment and each host's last message are printed); SIGUSR2 ends it.
 * --keygen-only makes the keys and prints "ID PUBLIC_KEY_FILE" lines, then exits. */
#include "sim_host.h"

#include "cmdreply.h"
#include "codec.h"
#include "curve.h"
#include "pb.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

typedef struct {
    sim_host *host;
    void *sock;
    char secret[DRV_Z85_KEY_LEN + 1];
    char pub[DRV_Z85_KEY_LEN + 1];
    char instance[40];
    char *ctl_instance;
    bool up;       /* RegisterAck received */
    bool silent;   /* --silent and SIGUSR1 */
    bool mute_arm; /* named by --silent */
    uint32_t interval_ms;
    uint32_t liveness;
    uint64_t hb_seq;
    int64_t start_ms; /* first register (staggered over --ramp-ms) */
    int64_t next_register_ms;
    int64_t last_send_ms;
    int64_t last_recv_ms;
    int64_t next_stats_ms; /* --stats-ms: the next StatsReport (0 = none sent yet) */
    int64_t last_stats_ms;
} s_agent;

typedef struct {
    int64_t due_ms;
    uint64_t seq;
    s_agent *agent;
    Drover__Envelope *env; /* the command, owned */
} s_op;

static volatile sig_atomic_t s_stop_flag, s_mute_flag, s_unmute_flag, s_dump_flag;

static void s_on_signal(int sig)
{
    if (sig == SIGUSR1)
        s_mute_flag = 1;
    else if (sig == SIGUSR2)
        s_unmute_flag = 1;
    else if (sig == SIGHUP)
        s_dump_flag = 1;
    else
        s_stop_flag = 1;
}

static int64_t s_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static gint s_op_cmp(gconstpointer a, gconstpointer b, gpointer user_data)
{
    (void)user_data;
    const s_op *x = a, *y = b;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static void s_op_free(gpointer p)
{
    s_op *o = p;
    drv_codec_destroy(&o->env);
    g_free(o);
}

static GHashTable *s_by_host; /* sim_host* → s_agent* */
static uint64_t s_sent, s_recv, s_commands, s_dropped, s_stats_sent;

static void s_send_bytes(s_agent *a, const uint8_t *buf, size_t len)
{
    if (a->silent || buf == NULL)
        return;
    if (zmq_send(a->sock, buf, len, ZMQ_DONTWAIT) < 0) {
        s_dropped++;
        return;
    }
    s_sent++;
    a->last_send_ms = s_now_ms();
}

static void s_send_env(s_agent *a, Drover__Envelope *env)
{
    if (a->silent)
        return;
    drv_error *err = NULL;
    if (drv_wire_send(a->sock, NULL, env, ZMQ_DONTWAIT, &err) < 0) {
        s_dropped++;
        drv_error_destroy(&err);
        return;
    }
    s_sent++;
    a->last_send_ms = s_now_ms();
}

static void s_register(s_agent *a, int64_t now)
{
    size_t len = 0;
    uint8_t *buf = sim_host_pack_register(a->host, a->instance, &len);
    s_send_bytes(a, buf, len);
    g_free(buf);
    a->up = false;
    a->next_register_ms = now + 1000;
    a->last_recv_ms = now;
}

static void s_heartbeat(s_agent *a)
{
    Drover__Heartbeat hb = DROVER__HEARTBEAT__INIT;
    hb.seq = ++a->hb_seq;
    hb.instance = a->instance;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    s_send_env(a, &env);
}

/* One StatsReport (simulated load), then the next in stats_ms. */
static void s_stats(s_agent *a, GRand *rand, int64_t now, int stats_ms)
{
    uint32_t interval = a->last_stats_ms ? (uint32_t)(now - a->last_stats_ms) : 0;
    size_t len = 0;
    uint8_t *buf =
        sim_host_pack_stats(a->host, rand, (uint64_t)(g_get_real_time() / 1000), interval, &len);
    if (buf != NULL)
        s_send_bytes(a, buf, len);
    g_free(buf);
    s_stats_sent++;
    a->last_stats_ms = now;
    a->next_stats_ms = now + stats_ms;
}

static void s_reply_simple(s_agent *a, const char *id, bool ok, const char *kind, const char *msg)
{
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Reply reply = DROVER__REPLY__INIT;
    reply.command_id = (char *)id;
    reply.ok = ok;
    if (!ok) {
        drv_error e = {.kind = drv_err_kind_from_string(kind), .message = (char *)msg};
        drv_commands_fail(&reply, arena, &e);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    drv_cmdreply_pack(&reply, &buf, &len);
    s_send_bytes(a, buf, len);
    g_free(buf);
    g_ptr_array_unref(arena);
}

typedef struct {
    sim_world world;
    GSequence *ops;
    uint64_t op_seq;
    int latency_ms;
    int migrate_ms;
} s_sim;

/* A command from the controller: answered from the cache, at once (inventory, cancel) or after
 * the latency (everything that would touch libvirt). Takes env. */
static void s_command(s_sim *sim, s_agent *a, Drover__Envelope *env, int64_t now)
{
    Drover__Command *cmd = env->command;
    const char *id = cmd->id ? cmd->id : "";
    s_commands++;
    if (*id == '\0') {
        if (cmd->kind == DROVER__COMMAND_KIND__CMD_INVENTORY)
            s_register(a, now);
        else
            s_reply_simple(a, "", false, "invalid", "command without an id refused");
        drv_codec_destroy(&env);
        return;
    }
    const uint8_t *buf = NULL;
    size_t len = 0;
    switch (drv_reply_cache_lookup(sim_host_cache(a->host), id, &buf, &len)) {
    case DRV_REPLY_DONE:
        s_send_bytes(a, buf, len);
        drv_codec_destroy(&env);
        return;
    case DRV_REPLY_RUNNING:
        drv_codec_destroy(&env);
        return;
    case DRV_REPLY_UNKNOWN:
        break;
    }
    if (cmd->kind == DROVER__COMMAND_KIND__CMD_INVENTORY) {
        s_reply_simple(a, id, true, NULL, NULL);
        s_register(a, now);
        drv_codec_destroy(&env);
        return;
    }
    if (cmd->kind == DROVER__COMMAND_KIND__CMD_MIGRATE_CANCEL) {
        s_reply_simple(a, id, false, "not-found", "no migration of this job is running here");
        drv_codec_destroy(&env);
        return;
    }
    drv_reply_cache_start(sim_host_cache(a->host), id);
    s_op *o = g_new0(s_op, 1);
    o->due_ms =
        now + (cmd->kind == DROVER__COMMAND_KIND__CMD_MIGRATE ? sim->migrate_ms : sim->latency_ms);
    o->seq = ++sim->op_seq;
    o->agent = a;
    o->env = env;
    g_sequence_insert_sorted(sim->ops, o, s_op_cmp, NULL);
}

static void s_handle(s_sim *sim, s_agent *a, Drover__Envelope *env, int64_t now)
{
    a->last_recv_ms = now;
    switch (env->body_case) {
    case DROVER__ENVELOPE__BODY_REGISTER_ACK: {
        Drover__RegisterAck *ack = env->register_ack;
        if (ack->heartbeat_interval_ms > 0)
            a->interval_ms = ack->heartbeat_interval_ms;
        if (ack->liveness > 0)
            a->liveness = ack->liveness;
        bool changed =
            a->ctl_instance != NULL && g_strcmp0(a->ctl_instance, ack->controller_instance) != 0;
        g_free(a->ctl_instance);
        a->ctl_instance = g_strdup(ack->controller_instance);
        if (a->up && changed)
            s_register(a, now);
        else
            a->up = true;
        break;
    }
    case DROVER__ENVELOPE__BODY_HEARTBEAT: {
        const char *inst = env->heartbeat->instance;
        if (inst != NULL && *inst != '\0' && a->ctl_instance != NULL &&
            strcmp(inst, a->ctl_instance) != 0) {
            g_free(a->ctl_instance);
            a->ctl_instance = g_strdup(inst);
            s_register(a, now);
        }
        break;
    }
    case DROVER__ENVELOPE__BODY_COMMAND:
        s_command(sim, a, env, now);
        return;
    default:
        break;
    }
    drv_codec_destroy(&env);
}

static void s_drain(s_sim *sim, s_agent *a, int64_t now)
{
    for (int i = 0; i < 1000; i++) {
        Drover__Envelope *env = NULL;
        drv_error *err = NULL;
        if (drv_wire_recv(a->sock, false, 0, ZMQ_DONTWAIT, NULL, &env, &err) < 0) {
            bool empty = err->kind == DRV_ERR_TIMEOUT;
            drv_error_destroy(&err);
            if (empty)
                return;
            continue;
        }
        s_recv++;
        if (a->silent) {
            drv_codec_destroy(&env);
            continue;
        }
        s_handle(sim, a, env, now);
    }
}

/* Runs every command whose latency has passed and sends what it produced. */
static void s_run_due(s_sim *sim, int64_t now)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(sim_msg_free);
    while (g_sequence_get_length(sim->ops) > 0) {
        GSequenceIter *it = g_sequence_get_begin_iter(sim->ops);
        s_op *o = g_sequence_get(it);
        if (o->due_ms > now)
            break;
        g_sequence_remove(it); /* not freed: no free func on the sequence */
        sim_host_execute(o->agent->host, &sim->world, o->env->command, out);
        for (guint i = 0; i < out->len; i++) {
            sim_msg *m = g_ptr_array_index(out, i);
            s_agent *to = g_hash_table_lookup(s_by_host, m->host);
            if (to != NULL)
                s_send_bytes(to, m->buf, m->len);
        }
        g_ptr_array_set_size(out, 0);
        s_op_free(o);
    }
    g_ptr_array_unref(out);
}

static int s_keys(s_agent *a, const char *dir, drv_error **err)
{
    g_autofree char *base = g_build_filename(dir, sim_host_id(a->host), NULL);
    g_autofree char *key = g_strconcat(base, ".key", NULL);
    if (!g_file_test(key, G_FILE_TEST_EXISTS)) {
        char pub[DRV_Z85_KEY_LEN + 1];
        if (drv_curve_keygen(base, pub, err) < 0)
            return -1;
    }
    return drv_curve_read_secret(key, a->secret, a->pub, err);
}

int main(int argc, char **argv)
{
    int hosts = 10, domains = 0, heartbeat_ms = 1000, latency_ms = 5, migrate_ms = 50;
    int stats_ms = 0;
    int cpus = 32, memory_mib = 128 * 1024, ramp_ms = -1, io_threads = 1;
    double fail_rate = 0;
    char *controller = NULL, *controller_key = NULL, *keys_dir = NULL, *prefix = NULL;
    char *dump_file = NULL;
    char **silent = NULL, **host_labels = NULL;
    gboolean keygen_only = FALSE;
    GOptionEntry entries[] = {
        {"controller", 0, 0, G_OPTION_ARG_STRING, &controller, "controller agent endpoint", "EP"},
        {"controller-key", 0, 0, G_OPTION_ARG_STRING, &controller_key,
         "controller public key (file or z85)", "KEY"},
        {"keys-dir", 0, 0, G_OPTION_ARG_FILENAME, &keys_dir, "host key pairs ID.key/ID.pub", "DIR"},
        {"hosts", 0, 0, G_OPTION_ARG_INT, &hosts, "simulated hosts (default 10)", "N"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "host id prefix (default sim)", "P"},
        {"domains-per-host", 0, 0, G_OPTION_ARG_INT, &domains,
         "running domains each host reports at start (default 0)", "M"},
        {"cpus", 0, 0, G_OPTION_ARG_INT, &cpus, "CPUs per host (default 32)", "N"},
        {"memory-mib", 0, 0, G_OPTION_ARG_INT, &memory_mib, "RAM per host (default 131072)", "MIB"},
        {"heartbeat-ms", 0, 0, G_OPTION_ARG_INT, &heartbeat_ms,
         "heartbeat interval until the controller says (default 1000)", "MS"},
        {"ramp-ms", 0, 0, G_OPTION_ARG_INT, &ramp_ms,
         "spread the first registers over this long (default: the heartbeat)", "MS"},
        {"latency-ms", 0, 0, G_OPTION_ARG_INT, &latency_ms, "command latency (default 5)", "MS"},
        {"migrate-ms", 0, 0, G_OPTION_ARG_INT, &migrate_ms, "migration time (default 50)", "MS"},
        {"fail-rate", 0, 0, G_OPTION_ARG_DOUBLE, &fail_rate,
         "share of lifecycle commands that fail (0..1)", "F"},
        {"silent", 0, 0, G_OPTION_ARG_STRING_ARRAY, &silent,
         "host that goes silent on SIGUSR1 (repeatable)", "ID"},
        {"host-label", 0, 0, G_OPTION_ARG_STRING_ARRAY, &host_labels,
         "ID:KEY=VALUE, an extra label of one host (repeatable)", "L"},
        {"dump-file", 0, 0, G_OPTION_ARG_FILENAME, &dump_file,
         "on SIGHUP: every simulated domain (HOST NAME STATE VCPUS KIB) into FILE", "FILE"},
        {"io-threads", 0, 0, G_OPTION_ARG_INT, &io_threads, "ZeroMQ I/O threads (default 1)", "N"},
        {"stats-ms", 0, 0, G_OPTION_ARG_INT, &stats_ms,
         "send a StatsReport (simulated load) every MS, staggered across hosts (default 0: none)",
         "MS"},
        {"keygen-only", 0, 0, G_OPTION_ARG_NONE, &keygen_only,
         "make the key pairs, print ID PUBFILE lines, exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *oc = g_option_context_new("- N simulated drover agents");
    g_option_context_add_main_entries(oc, entries, NULL);
    GError *gerr = NULL;
    if (!g_option_context_parse(oc, &argc, &argv, &gerr)) {
        g_printerr("agent_sim: %s\n", gerr->message);
        return 2;
    }
    g_option_context_free(oc);
    if (prefix == NULL)
        prefix = g_strdup("sim");
    if (keys_dir == NULL || hosts < 1 || hosts > 100000 || domains < 0 || heartbeat_ms < 10 ||
        stats_ms < 0 || latency_ms < 0 || migrate_ms < 0 || fail_rate < 0 || fail_rate > 1 ||
        cpus < 1 || memory_mib < 1024 ||
        (!keygen_only && (controller == NULL || controller_key == NULL))) {
        g_printerr("agent_sim: --keys-dir, --controller and --controller-key are needed; sizes "
                   "must be positive\n");
        return 2;
    }
    if (ramp_ms < 0)
        ramp_ms = heartbeat_ms;
    g_mkdir_with_parents(keys_dir, 0700);

    /* every socket is a few descriptors */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    s_sim sim = {.latency_ms = latency_ms, .migrate_ms = migrate_ms};
    sim.world.hosts = g_hash_table_new(g_str_hash, g_str_equal);
    sim.world.markers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sim.world.fail_rate = fail_rate;
    sim.world.rand = g_rand_new();
    sim.ops = g_sequence_new(NULL);
    s_by_host = g_hash_table_new(g_direct_hash, g_direct_equal);
    int width = hosts > 9999 ? 5 : 4;
    s_agent *agents = g_new0(s_agent, (gsize)hosts);
    int64_t t0 = s_now_ms();
    for (int i = 0; i < hosts; i++) {
        g_autofree char *id = g_strdup_printf("%s%0*d", prefix, width, i);
        GPtrArray *labels = g_ptr_array_new_with_free_func(g_free);
        for (size_t k = 0; host_labels != NULL && host_labels[k] != NULL; k++) {
            const char *colon = strchr(host_labels[k], ':');
            if (colon != NULL &&
                strncmp(host_labels[k], id, (size_t)(colon - host_labels[k])) == 0 &&
                strlen(id) == (size_t)(colon - host_labels[k]))
                g_ptr_array_add(labels, g_strdup(colon + 1));
        }
        g_ptr_array_add(labels, NULL);
        s_agent *a = &agents[i];
        a->host = sim_host_new(id, (uint32_t)cpus, (uint64_t)memory_mib * 1024, (unsigned)domains,
                               (char **)labels->pdata);
        g_ptr_array_unref(labels);
        drv_error *err = NULL;
        if (s_keys(a, keys_dir, &err) < 0) {
            g_printerr("agent_sim: %s: %s\n", id, err->message);
            return 1;
        }
        if (keygen_only) {
            printf("%s %s/%s.pub\n", id, keys_dir, id);
            continue;
        }
        g_hash_table_insert(sim.world.hosts, (char *)sim_host_id(a->host), a->host);
        g_hash_table_insert(s_by_host, a->host, a);
        a->mute_arm = silent != NULL && g_strv_contains((const char *const *)silent, id);
        a->interval_ms = (uint32_t)heartbeat_ms;
        a->liveness = 3;
        g_autofree char *inst = g_uuid_string_random();
        g_strlcpy(a->instance, inst, sizeof(a->instance));
        a->start_ms = t0 + (int64_t)ramp_ms * i / hosts;
        a->next_register_ms = a->start_ms;
    }
    if (keygen_only) {
        for (int i = 0; i < hosts; i++)
            sim_host_destroy(&agents[i].host);
        g_free(agents);
        g_hash_table_unref(sim.world.hosts);
        g_hash_table_unref(sim.world.markers);
        g_hash_table_unref(s_by_host);
        g_sequence_free(sim.ops);
        g_rand_free(sim.world.rand);
        g_strfreev(silent);
        g_strfreev(host_labels);
        g_free(keys_dir);
        g_free(prefix);
        g_free(dump_file);
        return 0;
    }

    char server[DRV_Z85_KEY_LEN + 1];
    drv_error *err = NULL;
    if (drv_curve_read_public(controller_key, server, &err) < 0) {
        g_printerr("agent_sim: %s\n", err->message);
        return 1;
    }
    void *zctx = zmq_ctx_new();
    zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, hosts + 64);
    zmq_ctx_set(zctx, ZMQ_IO_THREADS, io_threads);
    zmq_pollitem_t *items = g_new0(zmq_pollitem_t, (gsize)hosts);
    for (int i = 0; i < hosts; i++) {
        s_agent *a = &agents[i];
        void *s = zmq_socket(zctx, ZMQ_DEALER);
        if (s == NULL) {
            g_printerr("agent_sim: socket %d: %s\n", i, zmq_strerror(errno));
            return 1;
        }
        int zero = 0, hwm = 10000, ivl = 100, ivl_max = 5000;
        int64_t max = DRV_PROTO_MAX_FRAME_DEFAULT;
        const char *id = sim_host_id(a->host);
        zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
        if (drv_curve_client(s, a->secret, a->pub, server, &err) < 0 ||
            zmq_connect(s, controller) < 0) {
            g_printerr("agent_sim: %s: %s\n", id, err ? err->message : zmq_strerror(errno));
            return 1;
        }
        a->sock = s;
        items[i].socket = s;
        items[i].events = ZMQ_POLLIN;
    }

    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    printf("agent_sim: %d hosts × %d domains, heartbeat %d ms, latency %d ms, migrate %d ms, "
           "fail rate %.3f\n",
           hosts, domains, heartbeat_ms, latency_ms, migrate_ms, fail_rate);
    fflush(stdout);

    bool all_up_said = false;
    while (!s_stop_flag) {
        int64_t now = s_now_ms();
        if (s_mute_flag || s_unmute_flag) {
            bool mute = s_mute_flag;
            s_mute_flag = s_unmute_flag = 0;
            for (int i = 0; i < hosts; i++) {
                s_agent *a = &agents[i];
                if (!a->mute_arm || a->silent == mute)
                    continue;
                a->silent = mute;
                printf("agent_sim: %s %s at wall %" G_GINT64_FORMAT
                       " ms (its last message %" G_GINT64_FORMAT " ms before)\n",
                       sim_host_id(a->host), mute ? "silent" : "speaking again",
                       g_get_real_time() / 1000, now - a->last_send_ms);
            }
            fflush(stdout);
        }
        if (s_dump_flag) {
            s_dump_flag = 0;
            g_autofree char *tmp =
                g_strconcat(dump_file ? dump_file : "agent_sim.dump", ".tmp", NULL);
            FILE *f = fopen(tmp, "w");
            if (f != NULL) {
                for (int i = 0; i < hosts; i++)
                    sim_host_dump(agents[i].host, f);
                fclose(f);
                rename(tmp, dump_file ? dump_file : "agent_sim.dump");
            }
            printf("agent_sim: domains dumped\n");
            fflush(stdout);
        }
        int64_t wake = now + 1000;
        int up = 0;
        for (int i = 0; i < hosts; i++) {
            s_agent *a = &agents[i];
            if (now < a->start_ms) {
                wake = MIN(wake, a->start_ms);
                continue;
            }
            if (a->silent)
                continue;
            if (!a->up) {
                if (now >= a->next_register_ms)
                    s_register(a, now);
                wake = MIN(wake, a->next_register_ms);
                continue;
            }
            up++;
            if (now - a->last_recv_ms >= (int64_t)a->interval_ms * a->liveness) {
                s_register(a, now); /* the controller fell silent: register again */
                continue;
            }
            if (stats_ms > 0) { /* the first report of each host staggered over one interval */
                if (a->next_stats_ms == 0)
                    a->next_stats_ms = now + (int64_t)stats_ms * (a - agents) / hosts;
                if (now >= a->next_stats_ms)
                    s_stats(a, sim.world.rand, now, stats_ms);
                wake = MIN(wake, a->next_stats_ms);
            }
            if (now - a->last_send_ms >= a->interval_ms)
                s_heartbeat(a);
            wake = MIN(wake, a->last_send_ms + a->interval_ms);
            wake = MIN(wake, a->last_recv_ms + (int64_t)a->interval_ms * a->liveness);
        }
        if (!all_up_said && up == hosts) {
            all_up_said = true;
            printf("agent_sim: all %d hosts registered after %" G_GINT64_FORMAT " ms\n", hosts,
                   now - t0);
            fflush(stdout);
        }
        if (g_sequence_get_length(sim.ops) > 0) {
            s_op *first = g_sequence_get(g_sequence_get_begin_iter(sim.ops));
            wake = MIN(wake, first->due_ms);
        }
        long timeout = (long)CLAMP(wake - s_now_ms(), 0, 1000);
        int rc = zmq_poll(items, hosts, timeout);
        if (rc < 0 && errno != EINTR) {
            g_printerr("agent_sim: poll: %s\n", zmq_strerror(errno));
            break;
        }
        now = s_now_ms();
        for (int i = 0; rc > 0 && i < hosts; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_drain(&sim, &agents[i], now);
        s_run_due(&sim, s_now_ms());
    }
    printf("agent_sim: stopping: %" G_GUINT64_FORMAT " messages sent (%" G_GUINT64_FORMAT
           " stats reports), %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT
           " commands, %" G_GUINT64_FORMAT " sends dropped\n",
           s_sent, s_stats_sent, s_recv, s_commands, s_dropped);
    fflush(stdout);
    for (int i = 0; i < hosts; i++) {
        zmq_close(agents[i].sock);
        g_free(agents[i].ctl_instance);
        sim_host_destroy(&agents[i].host);
    }
    zmq_ctx_shutdown(zctx);
    zmq_ctx_term(zctx);
    GSequenceIter *it = g_sequence_get_begin_iter(sim.ops);
    while (!g_sequence_iter_is_end(it)) {
        s_op_free(g_sequence_get(it));
        it = g_sequence_iter_next(it);
    }
    g_sequence_free(sim.ops);
    g_free(items);
    g_free(agents);
    g_hash_table_unref(sim.world.hosts);
    g_hash_table_unref(sim.world.markers);
    g_hash_table_unref(s_by_host);
    g_rand_free(sim.world.rand);
    g_strfreev(silent);
    g_strfreev(host_labels);
    g_free(controller);
    g_free(controller_key);
    g_free(keys_dir);
    g_free(prefix);
    g_free(dump_file);
    return 0;
}
