/* broker.c — integration test: a minimal controller (ROUTER + codec.h) drives 3 real drover-agent
 * processes, each on its own libvirt test-driver host (test:///ABS/node-N.xml, different sizes).
 *
 * Checks: registration facts (cpus, memory, test overrides, labels, pools), heartbeats, every
 * command the test driver supports, lifecycle events, idempotent resend, libvirt errors surfaced,
 * controller restart → re-registration with inventory, SIGTERM → exit 0. */
#include "codec.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#ifndef DRV_AGENT_PATH
#error "DRV_AGENT_PATH must name the drover-agent binary"
#endif

#define N_AGENTS 3
#define HB_MS    200
#define WAIT_MS  10000

/* ------------------------------------------------------------------ broker */

typedef struct {
    char *id;
    Drover__Envelope *last_register; /* owned */
    int registers;
    int heartbeats;
    gint64 last_msg_us; /* monotonic time of the last message (any message is a heartbeat) */
    gint64 max_gap_us;  /* the longest silence between two messages since the test reset it */
    GPtrArray *events;  /* Drover__Envelope * */
    GPtrArray *replies; /* Drover__Envelope * (every reply, in order) */
    int progress;
} host_state;

typedef struct {
    void *ctx;
    void *router;
    char instance[32];
    char endpoint[64];
    GHashTable *hosts; /* id → host_state * */
} broker;

static void s_env_free(gpointer p)
{
    Drover__Envelope *e = p;
    drv_codec_destroy(&e);
}

static void s_host_free(gpointer p)
{
    host_state *h = p;
    g_free(h->id);
    drv_codec_destroy(&h->last_register);
    g_ptr_array_unref(h->events);
    g_ptr_array_unref(h->replies);
    g_free(h);
}

static host_state *s_host(broker *b, const char *id)
{
    host_state *h = g_hash_table_lookup(b->hosts, id);
    if (h == NULL) {
        h = g_new0(host_state, 1);
        h->id = g_strdup(id);
        h->events = g_ptr_array_new_with_free_func(s_env_free);
        h->replies = g_ptr_array_new_with_free_func(s_env_free);
        g_hash_table_insert(b->hosts, h->id, h);
    }
    return h;
}

/* The test broker is a CURVE server like the controller (without a ZAP handler, so it takes any
 * client key); every agent of the test shares one key pair, written to F.dir by s_agent_keys. */
static char s_srv_pub[41], s_srv_sec[41], s_agent_pub[41], s_agent_sec[41];

static void s_keys_init(void)
{
    if (s_srv_pub[0] != '\0')
        return;
    assert_int_equal(zmq_curve_keypair(s_srv_pub, s_srv_sec), 0);
    assert_int_equal(zmq_curve_keypair(s_agent_pub, s_agent_sec), 0);
}

static void broker_start(broker *b, const char *endpoint, const char *instance)
{
    s_keys_init();
    memset(b, 0, sizeof(*b));
    g_strlcpy(b->instance, instance, sizeof(b->instance));
    g_strlcpy(b->endpoint, endpoint, sizeof(b->endpoint));
    b->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_host_free);
    b->ctx = zmq_ctx_new();
    b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(b->router, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b->router, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(b->router, ZMQ_CURVE_SECRETKEY, s_srv_sec, 40);
    int rc = -1;
    for (int i = 0; i < 50 && rc < 0; i++) { /* the old socket's port may linger a moment */
        rc = zmq_bind(b->router, endpoint);
        if (rc < 0)
            g_usleep(100 * 1000);
    }
    assert_int_equal(rc, 0);
}

static void broker_stop(broker *b)
{
    zmq_close(b->router);
    zmq_ctx_shutdown(b->ctx);
    zmq_ctx_term(b->ctx);
    g_hash_table_destroy(b->hosts);
    memset(b, 0, sizeof(*b));
}

static void broker_send(broker *b, const char *host, Drover__Envelope *env)
{
    drv_error *err = NULL;
    int rc = drv_wire_send(b->router, host, env, 0, &err);
    if (rc < 0)
        fail_msg("send to %s: %s", host, err->message);
}

static void broker_send_command(broker *b, const char *host, Drover__Command *cmd)
{
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_COMMAND;
    env.command = cmd;
    broker_send(b, host, &env);
}

/* Receives for up to ms and handles what arrives like a controller would. */
static void broker_pump(broker *b, int ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    for (;;) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0)
            return;
        zmq_pollitem_t it = {.socket = b->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, (long)left) <= 0)
            continue;
        char *id = NULL;
        Drover__Envelope *env = NULL;
        drv_error *err = NULL;
        if (drv_wire_recv(b->router, true, 0, ZMQ_DONTWAIT, &id, &env, &err) < 0) {
            fail_msg("broker received a bad frame from %s: %s", id ? id : "?", err->message);
        }
        host_state *h = s_host(b, id);
        gint64 now_us = g_get_monotonic_time();
        if (h->last_msg_us > 0)
            h->max_gap_us = MAX(h->max_gap_us, now_us - h->last_msg_us);
        h->last_msg_us = now_us;
        switch (env->body_case) {
        case DROVER__ENVELOPE__BODY_REGISTER: {
            h->registers++;
            drv_codec_destroy(&h->last_register);
            h->last_register = env;
            env = NULL;
            Drover__RegisterAck ack = DROVER__REGISTER_ACK__INIT;
            ack.controller_instance = b->instance;
            ack.heartbeat_interval_ms = HB_MS;
            ack.liveness = 3;
            Drover__Envelope out = DROVER__ENVELOPE__INIT;
            out.body_case = DROVER__ENVELOPE__BODY_REGISTER_ACK;
            out.register_ack = &ack;
            broker_send(b, id, &out);
            break;
        }
        case DROVER__ENVELOPE__BODY_HEARTBEAT: {
            h->heartbeats++;
            if (h->registers == 0) {
                /* unknown host: ask for its inventory (a Command with no id) */
                Drover__Command c = DROVER__COMMAND__INIT;
                c.kind = DROVER__COMMAND_KIND__CMD_INVENTORY;
                broker_send_command(b, id, &c);
                break;
            }
            Drover__Heartbeat hb = DROVER__HEARTBEAT__INIT;
            hb.instance = b->instance;
            Drover__Envelope out = DROVER__ENVELOPE__INIT;
            out.body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
            out.heartbeat = &hb;
            broker_send(b, id, &out);
            break;
        }
        case DROVER__ENVELOPE__BODY_EVENT:
            g_ptr_array_add(h->events, env);
            env = NULL;
            break;
        case DROVER__ENVELOPE__BODY_REPLY:
            g_ptr_array_add(h->replies, env);
            env = NULL;
            break;
        case DROVER__ENVELOPE__BODY_PROGRESS:
            h->progress++;
            break;
        default:
            break;
        }
        drv_codec_destroy(&env);
        g_free(id);
    }
}

static int s_count_replies(host_state *h, const char *cmd_id)
{
    int n = 0;
    for (guint i = 0; i < h->replies->len; i++) {
        Drover__Envelope *e = g_ptr_array_index(h->replies, i);
        n += strcmp(e->reply->command_id, cmd_id) == 0;
    }
    return n;
}

/* The first reply to cmd_id, waiting up to WAIT_MS (borrowed). */
static Drover__Reply *broker_wait_reply(broker *b, const char *host, const char *cmd_id)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    while (g_get_monotonic_time() < deadline) {
        host_state *h = s_host(b, host);
        for (guint i = 0; i < h->replies->len; i++) {
            Drover__Envelope *e = g_ptr_array_index(h->replies, i);
            if (strcmp(e->reply->command_id, cmd_id) == 0)
                return e->reply;
        }
        broker_pump(b, 50);
    }
    fail_msg("no reply from %s to command %s", host, cmd_id);
    return NULL;
}

static bool broker_all_registered(broker *b, int n)
{
    int got = 0;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, b->hosts);
    while (g_hash_table_iter_next(&it, NULL, &v))
        got += ((host_state *)v)->last_register != NULL;
    return got >= n;
}

static void broker_wait_registered(broker *b, int n)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 2 * 1000;
    while (!broker_all_registered(b, n) && g_get_monotonic_time() < deadline)
        broker_pump(b, 50);
    assert_true(broker_all_registered(b, n));
}

/* Waits for an event of kind on domain from host; returns it (borrowed) or fails. */
static Drover__Event *broker_wait_event(broker *b, const char *host, Drover__EventKind kind,
                                        const char *domain)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    while (g_get_monotonic_time() < deadline) {
        host_state *h = s_host(b, host);
        for (guint i = 0; i < h->events->len; i++) {
            Drover__Event *e = ((Drover__Envelope *)g_ptr_array_index(h->events, i))->event;
            if (e->kind == kind && strcmp(e->domain, domain) == 0)
                return e;
        }
        broker_pump(b, 50);
    }
    fail_msg("no event %d for '%s' from %s", kind, domain, host);
    return NULL;
}

/* ------------------------------------------------------------------ fixture: agents */

typedef struct {
    char *dir;
    char *endpoint;
    broker b;
    pid_t pids[N_AGENTS];
    char *host_ids[N_AGENTS];
    pid_t extra_pid; /* an agent a single test starts; teardown stops it if the test failed */
    int cmd_seq;
} fixture;

static fixture F;

static const struct {
    unsigned cpus;
    unsigned long long memory_kib;
} s_sizes[N_AGENTS] = {{12, 16777216}, {8, 8388608}, {4, 4194304}};

static char *s_write(const char *dir, const char *name, const char *content)
{
    char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, content, -1, NULL));
    return path;
}

static int s_free_port(void)
{
    /* bind port 0 on a throw-away socket and read the port back */
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t sz = sizeof(ep);
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &sz);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return atoi(strrchr(ep, ':') + 1);
}

/* Starts agent i's configuration under host_id; extra_agent_conf goes into [agent]; libvirt_uri
 * (NULL: the test driver on node-<i+1>.xml) is passed as --libvirt-uri. */
static pid_t s_spawn_agent_full(int i, const char *host_id, const char *controllers,
                                const char *extra_agent_conf, const char *libvirt_uri)
{
    g_autofree char *node = g_strdup_printf(
        "<node>\n"
        "  <cpu><mhz>2000</mhz><model>i686</model><active>%u</active><nodes>1</nodes>"
        "<sockets>1</sockets><cores>%u</cores><threads>1</threads></cpu>\n"
        "  <memory>%llu</memory>\n"
        "  <pool type='dir'><name>shared</name><target><path>%s</path></target></pool>\n"
        "  <network><name>net%d</name><bridge name='virbr%d'/><forward/>"
        "<ip address='192.168.12%d.1' netmask='255.255.255.0'/></network>\n"
        "</node>\n",
        s_sizes[i].cpus, s_sizes[i].cpus, s_sizes[i].memory_kib, F.dir, i, i, i);
    g_autofree char *node_name = g_strdup_printf("node-%d.xml", i + 1);
    g_autofree char *node_path = s_write(F.dir, node_name, node);
    s_keys_init();
    g_autofree char *key_path = g_build_filename(F.dir, "agent.key", NULL);
    if (!g_file_test(key_path, G_FILE_TEST_EXISTS)) {
        g_autofree char *line = g_strdup_printf("%s\n", s_agent_sec);
        assert_true(g_file_set_contents(key_path, line, -1, NULL));
        assert_int_equal(chmod(key_path, 0600), 0);
    }
    g_autofree char *keys =
        g_strdup_printf("secret_key_file = %s\ncontroller_key = %s\n", key_path, s_srv_pub);
    g_autofree char *conf = g_strdup_printf("[agent]\n"
                                            "%s"
                                            "host_id = %s\n"
                                            "controller = %s\n"
                                            "libvirt_uri = test://%s\n"
                                            "heartbeat_interval_ms = %d\n"
                                            "reserved_memory = 1GiB\n"
                                            "migration_uri = qemu+tcp://10.77.0.%d/system\n"
                                            "%s"
                                            "[labels]\n"
                                            "rack = r%d\n"
                                            "zone = test\n"
                                            "[test]\n"
                                            "cpu_model = Skylake-Client\n"
                                            "cpu_features = sse4.2, avx2,%s aes\n"
                                            "host_uuid = 00000000-0000-4000-8000-00000000000%d\n"
                                            "arch = x86_64\n",
                                            keys, host_id, controllers, node_path, HB_MS, i + 1,
                                            extra_agent_conf, i + 1, i == 0 ? " vmx," : "", i + 1);
    g_autofree char *conf_name = g_strdup_printf("agent-%s.conf", host_id);
    g_autofree char *conf_path = s_write(F.dir, conf_name, conf);
    g_autofree char *log_name = g_strdup_printf("agent-%s.log", host_id);
    g_autofree char *log_path = g_build_filename(F.dir, log_name, NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *lf = fopen(log_path, "w");
        if (lf != NULL) {
            dup2(fileno(lf), 1);
            dup2(fileno(lf), 2);
        }
        if (libvirt_uri != NULL)
            execl(DRV_AGENT_PATH, "drover-agent", "--config", conf_path, "--log-level", "debug",
                  "--libvirt-uri", libvirt_uri, (char *)NULL);
        else
            execl(DRV_AGENT_PATH, "drover-agent", "--config", conf_path, "--log-level", "debug",
                  (char *)NULL);
        _exit(127);
    }
    return pid;
}

static pid_t s_spawn_agent_conf(int i, const char *host_id, const char *controllers,
                                const char *extra_agent_conf)
{
    return s_spawn_agent_full(i, host_id, controllers, extra_agent_conf, NULL);
}

static pid_t s_spawn_agent_to(int i, const char *host_id, const char *controllers)
{
    return s_spawn_agent_conf(i, host_id, controllers, "");
}

static pid_t s_spawn_agent(int i)
{
    return s_spawn_agent_to(i, F.host_ids[i], F.endpoint);
}

/* SIGTERM, then wait (bounded); returns the exit status or -1. */
static int s_stop_agent(pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        g_usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int setup(void **state)
{
    const char *out = g_getenv("DROVER_TEST_OUT");
    g_autofree char *base = g_strdup(out ? out : g_get_tmp_dir());
    g_mkdir_with_parents(base, 0755);
    g_autofree char *tmpl = g_build_filename(base, "hostagent-broker.XXXXXX", NULL);
    F.dir = g_mkdtemp(g_strdup(tmpl));
    assert_non_null(F.dir);
    F.endpoint = g_strdup_printf("tcp://127.0.0.1:%d", s_free_port());
    broker_start(&F.b, F.endpoint, "controller-A");
    for (int i = 0; i < N_AGENTS; i++) {
        F.host_ids[i] = g_strdup_printf("host-%d", i + 1);
        F.pids[i] = s_spawn_agent(i);
    }
    return 0;
}

static int teardown(void **state)
{
    int failures = 0;
    if (F.extra_pid > 0)
        s_stop_agent(F.extra_pid);
    for (int i = 0; i < N_AGENTS; i++) {
        int rc = s_stop_agent(F.pids[i]);
        if (rc != 0) {
            fprintf(stderr, "agent %s exited with %d (log: %s/agent-%s.log)\n", F.host_ids[i], rc,
                    F.dir, F.host_ids[i]);
            failures++;
        }
        g_free(F.host_ids[i]);
    }
    broker_stop(&F.b);
    fprintf(stderr, "agent logs in %s\n", F.dir);
    g_free(F.dir);
    g_free(F.endpoint);
    return failures ? -1 : 0;
}

/* ------------------------------------------------------------------ helpers */

static const char *H1 = "host-1";

static char *s_next_id(void)
{
    return g_strdup_printf("cmd-%d", ++F.cmd_seq);
}

/* Sends a command to host and returns its reply (borrowed). */
static Drover__Reply *s_run(const char *host, Drover__Command *c)
{
    static char *ids[4096];
    int slot = F.cmd_seq % 4096;
    g_free(ids[slot]);
    ids[slot] = s_next_id();
    c->id = ids[slot];
    broker_send_command(&F.b, host, c);
    return broker_wait_reply(&F.b, host, c->id);
}

static Drover__Reply *s_simple(const char *host, Drover__CommandKind kind, const char *domain)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = kind;
    c.domain = (char *)domain;
    return s_run(host, &c);
}

static void s_assert_ok(const Drover__Reply *r)
{
    if (!r->ok)
        fail_msg("command %s failed: [%s %d] %s", r->command_id, r->error_kind, r->error_code,
                 r->message);
}

static const char *s_domain_xml(const char *name)
{
    static char buf[1024];
    g_snprintf(
        buf, sizeof(buf),
        "<domain type='test'><name>%s</name>"
        "<memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>1048576</currentMemory>"
        "<vcpu placement='static' current='1'>4</vcpu>"
        "<os><type arch='i686'>hvm</type></os></domain>",
        name);
    return buf;
}

static const Drover__DomainInfo *s_find_dom(const Drover__Register *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_domains; i++)
        if (strcmp(reg->domains[i]->name, name) == 0)
            return reg->domains[i];
    return NULL;
}

static bool s_has_feature(const Drover__HostFacts *f, const char *feat)
{
    for (size_t i = 0; i < f->n_cpu_features; i++)
        if (strcmp(f->cpu_features[i], feat) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ tests */

static void test_register_facts(void **state)
{
    broker_wait_registered(&F.b, N_AGENTS);
    for (int i = 0; i < N_AGENTS; i++) {
        host_state *h = s_host(&F.b, F.host_ids[i]);
        Drover__Register *reg = h->last_register->register_;
        Drover__HostFacts *f = reg->facts;
        assert_string_equal(f->host_id, F.host_ids[i]);
        assert_int_equal(f->cpus, s_sizes[i].cpus);
        assert_int_equal(f->memory_kib, s_sizes[i].memory_kib);
        assert_true(f->free_memory_kib > 0 && f->free_memory_kib <= f->memory_kib);
        assert_int_equal(f->reserved_memory_kib, 1024 * 1024);
        assert_string_equal(f->arch, "x86_64");
        assert_string_equal(f->cpu_model, "Skylake-Client");
        assert_true(s_has_feature(f, "avx2"));
        assert_true(s_has_feature(f, "sse4.2"));
        assert_true(s_has_feature(f, "aes"));
        assert_true(s_has_feature(f, "vmx") == (i == 0));
        g_autofree char *uuid = g_strdup_printf("00000000-0000-4000-8000-00000000000%d", i + 1);
        assert_string_equal(f->host_uuid, uuid);
        assert_string_equal(f->hypervisor_type, "TEST");
        assert_true(f->libvirt_version >= 9000000);
        g_autofree char *mig = g_strdup_printf("qemu+tcp://10.77.0.%d/system", i + 1);
        assert_string_equal(f->migration_uri, mig);
        assert_non_null(strstr(f->libvirt_uri, "test://"));
        assert_int_equal(f->n_labels, 2);
        bool rack = false, zone = false;
        for (size_t k = 0; k < f->n_labels; k++) {
            g_autofree char *want = g_strdup_printf("r%d", i + 1);
            rack |= !strcmp(f->labels[k]->key, "rack") && !strcmp(f->labels[k]->value, want);
            zone |= !strcmp(f->labels[k]->key, "zone") && !strcmp(f->labels[k]->value, "test");
        }
        assert_true(rack && zone);
        assert_int_equal(f->n_pools, 1);
        assert_string_equal(f->pools[0]->name, "shared");
        assert_string_equal(f->pools[0]->type, "dir");
        assert_string_equal(f->pools[0]->path, F.dir);
        assert_true(f->pools[0]->active);
        assert_int_equal(f->n_networks, 1);
        g_autofree char *net = g_strdup_printf("net%d", i);
        assert_string_equal(f->networks[0], net);
        assert_true(reg->libvirt_connected);
        assert_int_equal(reg->n_domains, 0);
        assert_int_equal(strlen(reg->agent_instance), 32);
    }
}

static void test_heartbeats(void **state)
{
    int before[N_AGENTS];
    for (int i = 0; i < N_AGENTS; i++)
        before[i] = s_host(&F.b, F.host_ids[i])->heartbeats;
    broker_pump(&F.b, HB_MS * 6);
    for (int i = 0; i < N_AGENTS; i++) {
        host_state *h = s_host(&F.b, F.host_ids[i]);
        assert_true(h->heartbeats >= before[i] + 2);
        assert_int_equal(h->registers, 1); /* no spurious re-registration */
    }
}

static void test_lifecycle_commands(void **state)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    c.xml = (char *)s_domain_xml("vm1");
    Drover__Reply *r = s_run(H1, &c);
    s_assert_ok(r);
    assert_non_null(r->domain);
    assert_string_equal(r->domain->name, "vm1");
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    assert_true(r->domain->persistent);
    assert_int_equal(strlen(r->domain->xml_hash), 64);
    broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_DEFINED, "vm1");

    /* config changes while shut off */
    Drover__Command sv = DROVER__COMMAND__INIT;
    sv.kind = DROVER__COMMAND_KIND__CMD_SETVCPUS;
    sv.domain = "vm1";
    sv.value = 2;
    sv.modify = DROVER__MODIFY_FLAG__MODIFY_CONFIG;
    r = s_run(H1, &sv);
    s_assert_ok(r);
    assert_int_equal(r->domain->vcpus, 2);
    Drover__Command sm = DROVER__COMMAND__INIT;
    sm.kind = DROVER__COMMAND_KIND__CMD_SETMEM;
    sm.domain = "vm1";
    sm.value = 524288;
    sm.modify = DROVER__MODIFY_FLAG__MODIFY_CONFIG;
    r = s_run(H1, &sm);
    s_assert_ok(r);
    assert_int_equal(r->domain->memory_kib, 524288);

    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    Drover__Event *ev = broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_STARTED, "vm1");
    assert_string_equal(ev->detail_text, "booted");
    assert_int_equal(strlen(ev->uuid), 36);
    assert_true(ev->timestamp_ms > 0);

    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_SUSPEND, "vm1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_PAUSED);
    broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_SUSPENDED, "vm1");
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_RESUME, "vm1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_RESUMED, "vm1");

    /* live vs inactive XML */
    Drover__Command dx = DROVER__COMMAND__INIT;
    dx.kind = DROVER__COMMAND_KIND__CMD_DUMPXML;
    dx.domain = "vm1";
    r = s_run(H1, &dx);
    s_assert_ok(r);
    assert_non_null(strstr(r->xml, "<name>vm1</name>"));
    assert_non_null(strstr(r->xml, "id=")); /* a running domain's live XML has an id */
    dx.inactive = true;
    r = s_run(H1, &dx);
    s_assert_ok(r);
    assert_null(strstr(r->xml, "<domain type='test' id="));
    assert_non_null(strstr(r->xml, "current='2'"));

    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_DOMSTATS, "vm1");
    s_assert_ok(r);
    bool state_seen = false;
    for (size_t i = 0; i < r->n_stats; i++)
        state_seen |= !strcmp(r->stats[i]->key, "state.state") && !strcmp(r->stats[i]->value, "1");
    assert_true(state_seen);

    /* shutdown with a timeout (a worker thread): the test driver shuts off at once */
    Drover__Command sd = DROVER__COMMAND__INIT;
    sd.kind = DROVER__COMMAND_KIND__CMD_SHUTDOWN;
    sd.domain = "vm1";
    sd.timeout_ms = 5000;
    r = s_run(H1, &sd);
    s_assert_ok(r);
    assert_false(r->timed_out);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    ev = broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_STOPPED, "vm1");
    assert_string_equal(ev->detail_text, "shutdown");

    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm1");
    s_assert_ok(r);
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_REBOOT, "vm1");
    s_assert_ok(r);
    /* managed save (worker), then start restores */
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_MANAGEDSAVE, "vm1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    assert_true(r->domain->has_managed_save);
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm1");
    s_assert_ok(r);
    assert_false(r->domain->has_managed_save);
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_DESTROY, "vm1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    ev = broker_wait_event(&F.b, H1, DROVER__EVENT_KIND__EVENT_STOPPED, "vm1");
}

static void test_snapshots(void **state)
{
    const char *host = "host-2";
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    c.xml = (char *)s_domain_xml("snap1");
    s_assert_ok(s_run(host, &c));
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_START, "snap1"));

    Drover__Command sc = DROVER__COMMAND__INIT;
    sc.kind = DROVER__COMMAND_KIND__CMD_SNAPSHOT_CREATE;
    sc.domain = "snap1";
    sc.name = "s1";
    Drover__Reply *r = s_run(host, &sc);
    s_assert_ok(r);
    assert_int_equal(r->n_snapshots, 1);
    assert_string_equal(r->snapshots[0]->name, "s1");
    assert_true(r->snapshots[0]->current);
    g_autofree char *s1_xml = g_strdup(r->xml);
    sc.name = "s2";
    r = s_run(host, &sc);
    s_assert_ok(r);
    assert_string_equal(r->snapshots[0]->parent, "s1");

    r = s_simple(host, DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST, "snap1");
    s_assert_ok(r);
    assert_int_equal(r->n_snapshots, 2);
    for (size_t i = 0; i < r->n_snapshots; i++) {
        Drover__SnapshotInfo *si = r->snapshots[i];
        if (!strcmp(si->name, "s2")) {
            assert_string_equal(si->parent, "s1");
            assert_true(si->current);
        } else {
            assert_string_equal(si->name, "s1");
            assert_string_equal(si->parent, "");
            assert_false(si->current);
        }
        assert_string_equal(si->state, "running");
        assert_true(si->creation_time > 0);
        assert_non_null(strstr(si->xml, "<domainsnapshot>"));
    }

    Drover__Command sx = DROVER__COMMAND__INIT;
    sx.kind = DROVER__COMMAND_KIND__CMD_SNAPSHOT_DUMPXML;
    sx.domain = "snap1";
    sx.name = "s2";
    r = s_run(host, &sx);
    s_assert_ok(r);
    assert_non_null(strstr(r->xml, "<name>s2</name>"));
    assert_non_null(strstr(r->xml, "<parent>"));

    Drover__Command rv = DROVER__COMMAND__INIT;
    rv.kind = DROVER__COMMAND_KIND__CMD_SNAPSHOT_REVERT;
    rv.domain = "snap1";
    rv.name = "s1";
    r = s_run(host, &rv);
    s_assert_ok(r);
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST, "snap1");
    for (size_t i = 0; i < r->n_snapshots; i++)
        assert_true(r->snapshots[i]->current == (strcmp(r->snapshots[i]->name, "s1") == 0));

    /* delete s1, then redefine it from its saved XML as current */
    Drover__Command del = DROVER__COMMAND__INIT;
    del.kind = DROVER__COMMAND_KIND__CMD_SNAPSHOT_DELETE;
    del.domain = "snap1";
    del.name = "s1";
    s_assert_ok(s_run(host, &del));
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST, "snap1");
    assert_int_equal(r->n_snapshots, 1);
    assert_string_equal(r->snapshots[0]->name, "s2");

    Drover__Command rd = DROVER__COMMAND__INIT;
    rd.kind = DROVER__COMMAND_KIND__CMD_SNAPSHOT_REDEFINE;
    rd.domain = "snap1";
    rd.xml = s1_xml;
    rd.current = true;
    r = s_run(host, &rd);
    s_assert_ok(r);
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST, "snap1");
    assert_int_equal(r->n_snapshots, 2);
    for (size_t i = 0; i < r->n_snapshots; i++)
        assert_true(r->snapshots[i]->current == (strcmp(r->snapshots[i]->name, "s1") == 0));

    /* a missing snapshot is not-found */
    rv.name = "nope";
    r = s_run(host, &rv);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");
    assert_non_null(strstr(r->message, "domain 'snap1'"));

    /* undefine with snapshot metadata while shut off */
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_DESTROY, "snap1"));
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_UNDEFINE, "snap1");
    s_assert_ok(r);
    broker_wait_event(&F.b, host, DROVER__EVENT_KIND__EVENT_UNDEFINED, "snap1");
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_START, "snap1");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");
}

static void test_transient_and_resend(void **state)
{
    const char *host = "host-3";
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = DROVER__COMMAND_KIND__CMD_CREATE;
    c.xml = (char *)s_domain_xml("tr1");
    Drover__Reply *r = s_run(host, &c);
    s_assert_ok(r);
    assert_false(r->domain->persistent);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    broker_wait_event(&F.b, host, DROVER__EVENT_KIND__EVENT_STARTED, "tr1");

    /* the same id again: the first reply again, not "already exists" */
    broker_send_command(&F.b, host, &c);
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (s_count_replies(s_host(&F.b, host), c.id) < 2 && g_get_monotonic_time() < deadline)
        broker_pump(&F.b, 50);
    host_state *h = s_host(&F.b, host);
    assert_int_equal(s_count_replies(h, c.id), 2);
    Drover__Reply *r2 = NULL;
    for (guint i = 0; i < h->replies->len; i++) {
        Drover__Reply *x = ((Drover__Envelope *)g_ptr_array_index(h->replies, i))->reply;
        if (!strcmp(x->command_id, c.id))
            r2 = x;
    }
    assert_true(r2->ok);
    assert_string_equal(r2->domain->uuid, r->domain->uuid);
    /* a fresh id for the same create does fail: proves the resend was not run again */
    Drover__Command c2 = DROVER__COMMAND__INIT;
    c2.kind = DROVER__COMMAND_KIND__CMD_CREATE;
    c2.xml = (char *)s_domain_xml("tr1");
    r = s_run(host, &c2);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "libvirt");
    assert_int_equal(r->error_code, VIR_ERR_OPERATION_FAILED);
    assert_non_null(strstr(r->message, "domain 'tr1'"));

    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_DESTROY, "tr1"));
    Drover__Event *ev = broker_wait_event(&F.b, host, DROVER__EVENT_KIND__EVENT_STOPPED, "tr1");
    assert_string_equal(ev->detail_text, "destroyed");
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_DUMPXML, "tr1");
    assert_false(r->ok); /* a transient domain is gone once destroyed */
}

static void test_errors(void **state)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    c.xml = "<domain type='test'><name>bad</name><memory>oops</memory></domain>";
    Drover__Reply *r = s_run(H1, &c);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "libvirt");
    assert_true(r->error_code > 0);
    assert_non_null(strstr(r->message, "domain 'bad'"));

    c.xml = "<domain";
    r = s_run(H1, &c);
    assert_false(r->ok);
    assert_true(r->error_code == VIR_ERR_XML_ERROR || r->error_code == VIR_ERR_XML_DETAIL);

    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "no-such-vm");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");
    assert_int_equal(r->error_code, VIR_ERR_NO_DOMAIN);
    assert_non_null(strstr(r->message, "no-such-vm"));

    /* starting a running domain */
    c.xml = (char *)s_domain_xml("vm-err");
    s_assert_ok(s_run(H1, &c));
    s_assert_ok(s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm-err"));
    r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm-err");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "libvirt");
    /* the test driver reports VIR_ERR_INTERNAL_ERROR here (qemu: OPERATION_INVALID) */
    assert_true(r->error_code == VIR_ERR_INTERNAL_ERROR ||
                r->error_code == VIR_ERR_OPERATION_INVALID);
    assert_non_null(strstr(r->message, "domain 'vm-err': "));
    assert_non_null(strstr(r->message, "already running"));

    /* device hotplug is not in the test driver: the error still comes back as libvirt's */
    Drover__Command ad = DROVER__COMMAND__INIT;
    ad.kind = DROVER__COMMAND_KIND__CMD_ATTACH_DEVICE;
    ad.domain = "vm-err";
    ad.xml = "<disk type='file' device='disk'><source file='/tmp/x.img'/>"
             "<target dev='vdb' bus='virtio'/></disk>";
    ad.modify = DROVER__MODIFY_FLAG__MODIFY_LIVE;
    r = s_run(H1, &ad);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "libvirt");
    assert_int_equal(r->error_code, VIR_ERR_NO_SUPPORT);

    /* migration needs a destination */
    Drover__Command mg = DROVER__COMMAND__INIT;
    mg.kind = DROVER__COMMAND_KIND__CMD_MIGRATE;
    mg.domain = "vm-err";
    r = s_run(H1, &mg);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "invalid");
    /* the migration path (worker thread, monitor loop, helper thread) up to libvirt's refusal:
     * the test driver cannot migrate, so the error must come back as libvirt's, once */
    Drover__MigrateParams mp = DROVER__MIGRATE_PARAMS__INIT;
    mp.dest_uri = "test:///default";
    mp.max_downtime_ms = 300;
    mp.bandwidth_mibs = 100;
    mp.timeout_s = 60;
    mg.migrate = &mp;
    r = s_run(H1, &mg);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "libvirt");
    /* the test driver has no peer-to-peer migration: VIR_ERR_ARGUMENT_UNSUPPORTED */
    assert_true(r->error_code == VIR_ERR_ARGUMENT_UNSUPPORTED ||
                r->error_code == VIR_ERR_NO_SUPPORT);
    assert_non_null(strstr(r->message, "domain 'vm-err': migration to 'test:///default' failed"));
    assert_non_null(r->migrate);
    assert_false(r->migrate->cancelled);
    Drover__Command cancel = DROVER__COMMAND__INIT;
    cancel.kind = DROVER__COMMAND_KIND__CMD_MIGRATE_CANCEL;
    cancel.domain = "vm-err";
    r = s_run(H1, &cancel);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");

    /* (a shutdown the guest ignores needs a real guest: the test driver always obeys; the
     * timed-out path is proved on real QEMU in the system tier) */
    s_assert_ok(s_simple(H1, DROVER__COMMAND_KIND__CMD_DESTROY, "vm-err"));
}

/* The events of kind on domain from host received so far. */
static guint s_count_events(const char *host, Drover__EventKind kind, const char *domain)
{
    guint n = 0;
    host_state *h = s_host(&F.b, host);
    for (guint i = 0; i < h->events->len; i++) {
        Drover__Event *e = ((Drover__Envelope *)g_ptr_array_index(h->events, i))->event;
        n += e->kind == kind && strcmp(e->domain, domain) == 0;
    }
    return n;
}

/* Waits for the (n+1)-th event of kind on domain from host; returns it (borrowed) or fails. */
static Drover__Event *s_wait_event_after(const char *host, Drover__EventKind kind,
                                         const char *domain, guint n)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;
    while (g_get_monotonic_time() < deadline) {
        host_state *h = s_host(&F.b, host);
        guint seen = 0;
        for (guint i = 0; i < h->events->len; i++) {
            Drover__Event *e = ((Drover__Envelope *)g_ptr_array_index(h->events, i))->event;
            if (e->kind == kind && strcmp(e->domain, domain) == 0 && seen++ == n)
                return e;
        }
        broker_pump(&F.b, 50);
    }
    fail_msg("no event %d number %u for '%s' from %s", kind, n + 1, domain, host);
    return NULL;
}

static void test_managedsave_undefine(void **state)
{
    /* undefine of a domain with a managed-save image succeeds and removes the image with the
     * domain (libvirt refuses without VIR_DOMAIN_UNDEFINE_MANAGED_SAVE): the same definition
     * again has no image, and starting it boots rather than restores */
    const char *host = "host-3";
    Drover__Command c = DROVER__COMMAND__INIT;
    c.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    c.xml = (char *)s_domain_xml("ms1");
    Drover__Reply *r = s_run(host, &c);
    s_assert_ok(r);
    assert_false(r->domain->has_managed_save);
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_START, "ms1"));
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_MANAGEDSAVE, "ms1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    assert_true(r->domain->has_managed_save);

    guint undefined = s_count_events(host, DROVER__EVENT_KIND__EVENT_UNDEFINED, "ms1");
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_UNDEFINE, "ms1");
    s_assert_ok(r);
    s_wait_event_after(host, DROVER__EVENT_KIND__EVENT_UNDEFINED, "ms1", undefined);
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_DUMPXML, "ms1");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");

    r = s_run(host, &c); /* the same definition again */
    s_assert_ok(r);
    assert_false(r->domain->has_managed_save);
    guint started = s_count_events(host, DROVER__EVENT_KIND__EVENT_STARTED, "ms1");
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_START, "ms1");
    s_assert_ok(r);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    Drover__Event *ev = s_wait_event_after(host, DROVER__EVENT_KIND__EVENT_STARTED, "ms1", started);
    assert_string_equal(ev->detail_text, "booted"); /* not "restored": no image left */

    /* once more from running: managedsave, then undefine in one step */
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_MANAGEDSAVE, "ms1"));
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_UNDEFINE, "ms1"));
    r = s_simple(host, DROVER__COMMAND_KIND__CMD_START, "ms1");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");
}

static void test_storage_markers(void **state)
{
    Drover__Command w = DROVER__COMMAND__INIT;
    w.kind = DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE;
    w.path = F.dir;
    w.name = "probe1";
    Drover__Reply *r = s_run(H1, &w);
    s_assert_ok(r);
    assert_int_equal(strlen(r->message), 64);
    g_autofree char *content = g_strdup(r->message);
    g_autofree char *file = g_build_filename(F.dir, ".drover-mark-probe1", NULL);
    assert_true(g_file_test(file, G_FILE_TEST_EXISTS));

    /* another host reads it back (shared directory) */
    Drover__Command ck = DROVER__COMMAND__INIT;
    ck.kind = DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK;
    ck.path = F.dir;
    ck.name = "probe1";
    ck.xml = content;
    r = s_run("host-2", &ck);
    s_assert_ok(r);
    assert_false(g_file_test(file, G_FILE_TEST_EXISTS)); /* deleted on check */

    /* missing now */
    r = s_run("host-2", &ck);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");

    /* different content */
    s_assert_ok(s_run(H1, &w));
    ck.xml = "not-the-content";
    r = s_run("host-3", &ck);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "conflict");

    /* a name with a slash is refused */
    w.name = "../x";
    r = s_run(H1, &w);
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "invalid");
}

/* ------------------------------------------------------------------ deadlines and the pool */

static int64_t s_wall_ms(void)
{
    return g_get_real_time() / 1000;
}

/* The reply to cmd_id if one arrived (borrowed), else NULL. */
static Drover__Reply *s_reply_of(const char *host, const char *cmd_id)
{
    host_state *h = s_host(&F.b, host);
    for (guint i = 0; i < h->replies->len; i++) {
        Drover__Envelope *e = g_ptr_array_index(h->replies, i);
        if (strcmp(e->reply->command_id, cmd_id) == 0)
            return e->reply;
    }
    return NULL;
}

/* Sends c under a fresh id (returned, owned) without waiting. */
static char *s_send(const char *host, Drover__Command *c)
{
    char *id = s_next_id();
    c->id = id;
    broker_send_command(&F.b, host, c);
    return id;
}

/* The domain's state as the agent reports it after a DOMSTATS (ok is asserted). */
static Drover__DomainState s_state_of(const char *host, const char *domain)
{
    Drover__Reply *r = s_simple(host, DROVER__COMMAND_KIND__CMD_DOMSTATS, domain);
    s_assert_ok(r);
    assert_non_null(r->domain);
    return r->domain->state;
}

static void test_command_expiry(void **state)
{
    const char *host = "host-2";
    Drover__Command def = DROVER__COMMAND__INIT;
    def.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    def.xml = (char *)s_domain_xml("exp1");
    s_assert_ok(s_run(host, &def));
    guint started = s_count_events(host, DROVER__EVENT_KIND__EVENT_STARTED, "exp1");

    /* (a) expired 4.2 s ago: refused, unrun, and a resend of the id gets the same refusal */
    Drover__Command st = DROVER__COMMAND__INIT;
    st.kind = DROVER__COMMAND_KIND__CMD_START;
    st.domain = "exp1";
    st.expires_at_ms = s_wall_ms() - 4200;
    g_autofree char *id = s_send(host, &st);
    Drover__Reply *r = broker_wait_reply(&F.b, host, id);
    assert_false(r->ok);
    assert_true(r->expired);
    assert_string_equal(r->error_kind, "expired");
    if (strstr(r->message, "start of domain 'exp1' refused: the command expired 4.") == NULL ||
        strstr(r->message, "s ago (it was not run)") == NULL)
        fail_msg("unexpected refusal: %s", r->message);
    assert_int_equal(s_state_of(host, "exp1"), DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    st.expires_at_ms = 0; /* the same id again, now without expiry: still the first answer */
    broker_send_command(&F.b, host, &st);
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (s_count_replies(s_host(&F.b, host), id) < 2 && g_get_monotonic_time() < deadline)
        broker_pump(&F.b, 50);
    host_state *h = s_host(&F.b, host);
    assert_int_equal(s_count_replies(h, id), 2);
    Drover__Reply *again =
        ((Drover__Envelope *)g_ptr_array_index(h->replies, h->replies->len - 1))->reply;
    assert_string_equal(again->command_id, id);
    assert_true(again->expired);
    assert_false(again->ok);
    assert_int_equal(s_state_of(host, "exp1"), DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    assert_int_equal(s_count_events(host, DROVER__EVENT_KIND__EVENT_STARTED, "exp1"), started);

    /* (b) a future expiry runs */
    Drover__Command st2 = DROVER__COMMAND__INIT;
    st2.kind = DROVER__COMMAND_KIND__CMD_START;
    st2.domain = "exp1";
    st2.expires_at_ms = s_wall_ms() + 60000;
    r = s_run(host, &st2);
    s_assert_ok(r);
    assert_false(r->expired);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    s_wait_event_after(host, DROVER__EVENT_KIND__EVENT_STARTED, "exp1", started);

    /* (c) no expiry (0) runs: older controllers send none */
    Drover__Command ds = DROVER__COMMAND__INIT;
    ds.kind = DROVER__COMMAND_KIND__CMD_DESTROY;
    ds.domain = "exp1";
    ds.expires_at_ms = 0;
    r = s_run(host, &ds);
    s_assert_ok(r);
    assert_false(r->expired);
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);

    /* an expired command without a domain names its kind */
    Drover__Command mw = DROVER__COMMAND__INIT;
    mw.kind = DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE;
    mw.path = F.dir;
    mw.name = "expired-probe";
    mw.expires_at_ms = s_wall_ms() - 1;
    r = s_run(host, &mw);
    assert_true(r->expired);
    assert_non_null(strstr(r->message, "storage-mark-write refused: the command expired"));
    g_autofree char *file = g_build_filename(F.dir, ".drover-mark-expired-probe", NULL);
    assert_false(g_file_test(file, G_FILE_TEST_EXISTS)); /* not run */
    s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_UNDEFINE, "exp1"));
}

#define N_PARALLEL 20
/* The controller's liveness window (3 intervals): a longer silence would mark the host dead. The
 * agent normally keeps within one interval; the slack is for a loaded 2-core machine. */
#define S_LIVENESS_US ((gint64)HB_MS * 3 * 1000)

/* Sends one command of kind per domain par0..par19 at once; asserts every one is answered
 * exactly once and ok, and that heartbeats kept their interval meanwhile. */
static void s_parallel(const char *host, Drover__CommandKind kind, Drover__DomainState want)
{
    char *ids[N_PARALLEL];
    char names[N_PARALLEL][16];
    host_state *h = s_host(&F.b, host);
    broker_pump(&F.b, 10);
    h->max_gap_us = 0;
    int hb_before = h->heartbeats;
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < N_PARALLEL; i++) {
        g_snprintf(names[i], sizeof(names[i]), "par%d", i);
        Drover__Command c = DROVER__COMMAND__INIT;
        c.kind = kind;
        c.domain = names[i];
        c.expires_at_ms = s_wall_ms() + 30000;
        ids[i] = s_send(host, &c);
    }
    for (int i = 0; i < N_PARALLEL; i++) {
        Drover__Reply *r = broker_wait_reply(&F.b, host, ids[i]);
        s_assert_ok(r);
        assert_int_equal(r->domain->state, want);
    }
    /* keep listening for a few intervals: no reply twice, heartbeats on time */
    broker_pump(&F.b, HB_MS * 5);
    gint64 took_ms = (g_get_monotonic_time() - t0) / 1000;
    for (int i = 0; i < N_PARALLEL; i++) {
        assert_int_equal(s_count_replies(h, ids[i]), 1);
        g_free(ids[i]);
    }
    int hbs = h->heartbeats - hb_before;
    fprintf(stderr,
            "%d x %s: %" G_GINT64_FORMAT " ms, %d heartbeats, longest gap %" G_GINT64_FORMAT
            " ms\n",
            N_PARALLEL, kind == DROVER__COMMAND_KIND__CMD_START ? "start" : "destroy", took_ms, hbs,
            h->max_gap_us / 1000);
    /* any message counts as a heartbeat, so replies stand in for some: never a silence near the
     * liveness window (3 intervals) */
    assert_true(hbs >= 1);
    assert_true(h->max_gap_us < S_LIVENESS_US);
}

static void test_parallel_commands(void **state)
{
    const char *host = "host-3";
    for (int i = 0; i < N_PARALLEL; i++) {
        g_autofree char *name = g_strdup_printf("par%d", i);
        Drover__Command c = DROVER__COMMAND__INIT;
        c.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
        c.xml = (char *)s_domain_xml(name);
        s_assert_ok(s_run(host, &c));
    }
    s_parallel(host, DROVER__COMMAND_KIND__CMD_START, DROVER__DOMAIN_STATE__DOMAIN_RUNNING);
    s_parallel(host, DROVER__COMMAND_KIND__CMD_DESTROY, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    for (int i = 0; i < N_PARALLEL; i++) {
        g_autofree char *name = g_strdup_printf("par%d", i);
        s_assert_ok(s_simple(host, DROVER__COMMAND_KIND__CMD_UNDEFINE, name));
    }
}

/* A worker blocked for real: the storage marker is a FIFO nobody writes, so the agent's read of it
 * blocks in open(2) (like a hung NFS mount). With one worker and room for two waiting commands:
 * heartbeats keep their interval, a third waiting command is refused (not run, not cached), a
 * command whose expiry passes while it waits is refused when its turn comes, and once the read
 * completes everything is answered exactly once. */
static void test_blocked_worker(void **state)
{
    const char *host = "host-slow";
    pid_t pid =
        s_spawn_agent_conf(1, host, F.endpoint, "worker_threads = 1\ncommand_queue_limit = 2\n");
    F.extra_pid = pid;
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline && (g_hash_table_lookup(F.b.hosts, host) == NULL ||
                                                 s_host(&F.b, host)->last_register == NULL))
        broker_pump(&F.b, 50);
    host_state *h = s_host(&F.b, host);
    assert_non_null(h->last_register);
    Drover__Command def = DROVER__COMMAND__INIT;
    def.kind = DROVER__COMMAND_KIND__CMD_DEFINE;
    def.xml = (char *)s_domain_xml("slow1");
    s_assert_ok(s_run(host, &def));

    g_autofree char *fifo = g_build_filename(F.dir, ".drover-mark-hang", NULL);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    Drover__Command ck = DROVER__COMMAND__INIT;
    ck.kind = DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK;
    ck.path = F.dir;
    ck.name = "hang";
    ck.xml = "fifo-content";
    g_autofree char *id_block = s_send(host, &ck);
    /* the worker has the FIFO open once a non-blocking writer can open it; the writer stays open
     * (no data, no EOF), so the worker's read(2) blocks until the test writes */
    int fd = -1;
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (fd < 0 && g_get_monotonic_time() < deadline) {
        fd = open(fifo, O_WRONLY | O_NONBLOCK);
        if (fd < 0)
            broker_pump(&F.b, 20);
    }
    assert_true(fd >= 0);

    Drover__Command st = DROVER__COMMAND__INIT; /* waits; its expiry passes meanwhile */
    st.kind = DROVER__COMMAND_KIND__CMD_START;
    st.domain = "slow1";
    st.expires_at_ms = s_wall_ms() + 1000;
    g_autofree char *id_expiring = s_send(host, &st);
    Drover__Command dx = DROVER__COMMAND__INIT;
    dx.kind = DROVER__COMMAND_KIND__CMD_DUMPXML;
    dx.domain = "slow1";
    g_autofree char *id_waiting = s_send(host, &dx);
    broker_pump(&F.b, 100);
    Drover__Command ds = DROVER__COMMAND__INIT; /* the third waiting: refused */
    ds.kind = DROVER__COMMAND_KIND__CMD_DOMSTATS;
    ds.domain = "slow1";
    g_autofree char *id_refused = s_send(host, &ds);
    Drover__Reply *r = broker_wait_reply(&F.b, host, id_refused);
    assert_false(r->ok);
    assert_false(r->expired);
    assert_string_equal(r->error_kind, "unavailable");
    if (strstr(r->message, "domstats of domain 'slow1' refused: 2 commands are already waiting for "
                           "a worker (worker_threads = 1; ") == NULL ||
        strstr(r->message, "was not run") == NULL)
        fail_msg("unexpected refusal: %s", r->message);

    /* 2 s blocked: heartbeats on time, nothing else answered */
    h->max_gap_us = 0;
    int hb_before = h->heartbeats;
    broker_pump(&F.b, 2000);
    fprintf(stderr, "blocked worker: %d heartbeats in 2 s, longest gap %" G_GINT64_FORMAT " ms\n",
            h->heartbeats - hb_before, h->max_gap_us / 1000);
    assert_true(h->heartbeats - hb_before >= 2000 / HB_MS - 3);
    assert_true(h->max_gap_us < S_LIVENESS_US);
    assert_null(s_reply_of(host, id_block));
    assert_null(s_reply_of(host, id_expiring));
    assert_null(s_reply_of(host, id_waiting));

    /* unblock: write the marker's content into the FIFO and close it (EOF) */
    assert_int_equal(write(fd, ck.xml, strlen(ck.xml)), (ssize_t)strlen(ck.xml));
    close(fd);
    r = broker_wait_reply(&F.b, host, id_block);
    s_assert_ok(r);
    assert_non_null(strstr(r->message, "storage is shared"));
    r = broker_wait_reply(&F.b, host, id_expiring);
    assert_false(r->ok);
    assert_true(r->expired);
    assert_non_null(strstr(r->message, "start of domain 'slow1' refused: the command expired"));
    r = broker_wait_reply(&F.b, host, id_waiting);
    s_assert_ok(r);
    assert_non_null(strstr(r->xml, "<name>slow1</name>"));
    assert_int_equal(r->domain->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF); /* start never ran */

    /* the refused id sent again now runs: a queue-full refusal is not remembered */
    ds.id = id_refused;
    broker_send_command(&F.b, host, &ds);
    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (s_count_replies(h, id_refused) < 2 && g_get_monotonic_time() < deadline)
        broker_pump(&F.b, 50);
    assert_int_equal(s_count_replies(h, id_refused), 2);
    r = ((Drover__Envelope *)g_ptr_array_index(h->replies, h->replies->len - 1))->reply;
    assert_string_equal(r->command_id, id_refused);
    s_assert_ok(r);
    broker_pump(&F.b, HB_MS * 3);
    assert_int_equal(s_count_replies(h, id_block), 1);
    assert_int_equal(s_count_replies(h, id_expiring), 1);
    assert_int_equal(s_count_replies(h, id_waiting), 1);
    F.extra_pid = 0;
    assert_int_equal(s_stop_agent(pid), 0);
}

/* CPU time (user + system) the process used so far, in ms. */
static int64_t s_cpu_ms(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    assert_true(g_file_get_contents(path, &stat, NULL, NULL));
    const char *p = strrchr(stat, ')'); /* fields after the command name */
    assert_non_null(p);
    unsigned long utime = 0, stime = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
    return (int64_t)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

/* libvirt that hangs for real at connect: the URI names a TCP port where the test listens but never
 * accepts, so virConnectOpen waits for an answer that never comes. The agent still registers (after
 * its 5 s wait, with libvirt_connected = false: not authoritative), heartbeats on time, answers
 * commands at once (libvirt not connected), does not spin while it waits, and exits cleanly once
 * the connection is refused. */
static void test_libvirt_connect_hangs(void **state)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    assert_int_equal(listen(ls, 8), 0);
    g_autofree char *uri = g_strdup_printf("test+tcp://127.0.0.1:%d/default", ntohs(sa.sin_port));

    const char *host = "host-hang";
    pid_t pid = s_spawn_agent_full(2, host, F.endpoint, "", uri);
    F.extra_pid = pid;
    gint64 t0 = g_get_monotonic_time();
    gint64 deadline = t0 + 15 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline && (g_hash_table_lookup(F.b.hosts, host) == NULL ||
                                                 s_host(&F.b, host)->last_register == NULL))
        broker_pump(&F.b, 50);
    host_state *h = s_host(&F.b, host);
    assert_non_null(h->last_register);
    fprintf(stderr, "registered %" G_GINT64_FORMAT " ms after start while libvirt hangs\n",
            (g_get_monotonic_time() - t0) / 1000);
    Drover__Register *reg = h->last_register->register_;
    assert_false(reg->libvirt_connected);
    assert_int_equal(reg->n_domains, 0);
    assert_string_equal(reg->facts->host_id, host);

    Drover__Reply *r = s_simple(host, DROVER__COMMAND_KIND__CMD_DUMPXML, "anything");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "unavailable");
    assert_non_null(strstr(r->message, "not connected"));

    h->max_gap_us = 0;
    int hb_before = h->heartbeats;
    int64_t cpu0 = s_cpu_ms(pid);
    broker_pump(&F.b, 2000);
    int64_t cpu_ms = s_cpu_ms(pid) - cpu0;
    fprintf(stderr,
            "libvirt hangs: %d heartbeats in 2 s, longest gap %" G_GINT64_FORMAT
            " ms, %" G_GINT64_FORMAT " ms CPU\n",
            h->heartbeats - hb_before, h->max_gap_us / 1000, cpu_ms);
    assert_true(h->heartbeats - hb_before >= 2000 / HB_MS - 3);
    assert_true(h->max_gap_us < S_LIVENESS_US);
    assert_true(cpu_ms < 500); /* waiting, not spinning */
    assert_int_equal(h->registers, 1);

    close(ls); /* the pending connection is reset: the connect fails, the agent can stop */
    F.extra_pid = 0;
    assert_int_equal(s_stop_agent(pid), 0);
}

static void test_controller_restart(void **state)
{
    /* host-1 still has vm1 (defined, shut off) and vm-err */
    broker_stop(&F.b);
    g_usleep(HB_MS * 5 * 1000); /* longer than the agents' liveness window */
    broker_start(&F.b, F.endpoint, "controller-B");
    broker_wait_registered(&F.b, N_AGENTS);
    host_state *h = s_host(&F.b, H1);
    Drover__Register *reg = h->last_register->register_;
    const Drover__DomainInfo *d = s_find_dom(reg, "vm1");
    assert_non_null(d);
    assert_int_equal(d->state, DROVER__DOMAIN_STATE__DOMAIN_SHUTOFF);
    assert_int_equal(d->vcpus, 2);
    assert_true(d->persistent);
    assert_int_equal(strlen(d->xml_hash), 64);
    assert_non_null(s_find_dom(reg, "vm-err"));
    assert_int_equal(reg->n_domains, 2);
    /* the agents keep working with the new controller */
    Drover__Reply *r = s_simple(H1, DROVER__COMMAND_KIND__CMD_START, "vm1");
    s_assert_ok(r);
    broker_pump(&F.b, HB_MS * 4);
    assert_true(s_host(&F.b, H1)->heartbeats >= 2);
}

static void test_inventory_command(void **state)
{
    host_state *h = s_host(&F.b, "host-2");
    int before = h->registers;
    Drover__Reply *r = s_simple("host-2", DROVER__COMMAND_KIND__CMD_INVENTORY, "");
    s_assert_ok(r);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (h->registers == before && g_get_monotonic_time() < deadline)
        broker_pump(&F.b, 50);
    assert_true(h->registers > before);
}

static void test_quick_controller_restart(void **state)
{
    /* a restart inside the liveness window: ZeroMQ reconnects by itself; the new controller does
     * not know the hosts and answers their heartbeats with an id-less CMD_INVENTORY */
    broker_stop(&F.b);
    broker_start(&F.b, F.endpoint, "controller-C");
    broker_wait_registered(&F.b, N_AGENTS);
    for (int i = 0; i < N_AGENTS; i++) {
        Drover__Register *reg = s_host(&F.b, F.host_ids[i])->last_register->register_;
        assert_string_equal(reg->facts->host_id, F.host_ids[i]);
        assert_true(reg->libvirt_connected);
    }
    assert_non_null(s_find_dom(s_host(&F.b, H1)->last_register->register_, "vm1"));
}

static void test_endpoint_failover(void **state)
{
    /* the first endpoint never answers: the agent moves on to the second */
    g_autofree char *list = g_strdup_printf("tcp://127.0.0.1:%d,%s", s_free_port(), F.endpoint);
    pid_t pid = s_spawn_agent_to(1, "host-failover", list);
    F.extra_pid = pid;
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline &&
           (g_hash_table_lookup(F.b.hosts, "host-failover") == NULL ||
            s_host(&F.b, "host-failover")->last_register == NULL))
        broker_pump(&F.b, 50);
    host_state *h = s_host(&F.b, "host-failover");
    assert_non_null(h->last_register);
    assert_int_equal(h->last_register->register_->facts->cpus, s_sizes[1].cpus);
    Drover__Reply *r = s_simple("host-failover", DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST, "x");
    assert_false(r->ok);
    assert_string_equal(r->error_kind, "not-found");
    F.extra_pid = 0;
    assert_int_equal(s_stop_agent(pid), 0);
}

static void test_config_error_exit(void **state)
{
    g_autofree char *conf = s_write(F.dir, "bad.conf",
                                    "[agent]\ncontroller = tcp://127.0.0.1:1\n"
                                    "liveness = many\n");
    char *argv[] = {DRV_AGENT_PATH, "--config", conf, NULL};
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status = 0;
    assert_true(
        g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_non_null(strstr(err, conf));
    assert_non_null(strstr(err, "[agent] liveness"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_facts),
        cmocka_unit_test(test_heartbeats),
        cmocka_unit_test(test_lifecycle_commands),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_transient_and_resend),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_managedsave_undefine), /* image removed with the domain */
        cmocka_unit_test(test_storage_markers),
        cmocka_unit_test(test_command_expiry),
        cmocka_unit_test(test_parallel_commands),
        cmocka_unit_test(test_blocked_worker),
        cmocka_unit_test(test_libvirt_connect_hangs),
        cmocka_unit_test(test_controller_restart),
        cmocka_unit_test(test_inventory_command),
        cmocka_unit_test(test_quick_controller_restart),
        cmocka_unit_test(test_endpoint_failover),
        cmocka_unit_test(test_config_error_exit),
    };
    return cmocka_run_group_tests_name("hostagent_broker", tests, setup, teardown);
}
