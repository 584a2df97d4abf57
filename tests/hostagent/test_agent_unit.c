/* test_agent_unit.c — unit tests of drover-agent's pure parts: capabilities and domain capabilities
 * parsing against stored libvirt XML (golden files in data/: X.xml → X.facts), pool and snapshot
 * XML, test-driver overrides, lifecycle event mapping, domain state names and XML hash, the reply
 * cache (idempotent resend), backoff, option/config errors, and the migration flags. */
#include "backoff.h"
#include "caps.h"
#include "facts.h"
#include "lifecycle.h"
#include "migrate_flags.h"
#include "options.h"
#include "replycache.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char *s_read(const char *name)
{
    g_autofree char *path = g_build_filename(DRV_TEST_DATA, name, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read golden file %s", path);
    return text;
}

/* Parses caps (and optionally domcaps) and compares the CPU summary with the golden file. */
static void s_golden(const char *caps, const char *domcaps, const char *golden, int want_found)
{
    g_autofree char *xml = s_read(caps);
    drv_host_facts *f = drv_host_facts_new();
    drv_error *err = NULL;
    assert_int_equal(drv_caps_parse_host(xml, f, &err), 0);
    if (domcaps != NULL) {
        g_autofree char *dxml = s_read(domcaps);
        assert_int_equal(drv_caps_parse_domcaps(dxml, f, &err), want_found);
    }
    g_autofree char *got = drv_host_facts_cpu_summary(f);
    g_autofree char *want = s_read(golden);
    if (strcmp(got, want) != 0)
        fail_msg("%s%s%s differs from %s:\n--- got\n%s--- want\n%s", caps, domcaps ? " + " : "",
                 domcaps ? domcaps : "", golden, got, want);
    drv_host_facts_destroy(&f);
    assert_null(f);
}

static void test_caps_qemu(void **state)
{
    s_golden("qemu-capabilities.xml", NULL, "qemu-capabilities.facts", 0);
}

static void test_caps_qemu_host_model(void **state)
{
    /* host-model replaces the host CPU's model/features; disabled features are not listed */
    s_golden("qemu-capabilities.xml", "qemu-domcapabilities.xml", "qemu-domcapabilities.facts", 1);
}

static void test_caps_no_host_model(void **state)
{
    /* host-model not supported: the host capabilities stay */
    s_golden("qemu-capabilities.xml", "domcaps-no-host-model.xml", "qemu-capabilities.facts", 0);
}

static void test_caps_test_driver(void **state)
{
    s_golden("test-driver-capabilities.xml", NULL, "test-driver-capabilities.facts", 0);
}

static void test_caps_overrides(void **state)
{
    g_autofree char *xml = s_read("test-driver-capabilities.xml");
    drv_host_facts *f = drv_host_facts_new();
    assert_int_equal(drv_caps_parse_host(xml, f, NULL), 0);
    const char *feats[] = {"sse4.2", "avx2", "aes", "avx2", NULL};
    drv_caps_apply_overrides(f, "x86_64", "Skylake-Client", feats,
                             "00000000-0000-4000-8000-000000000001");
    g_autofree char *got = drv_host_facts_cpu_summary(f);
    assert_string_equal(got, "arch=x86_64\ncpu_vendor=\ncpu_model=Skylake-Client\n"
                             "host_uuid=00000000-0000-4000-8000-000000000001\n"
                             "cpu_features=aes,avx2,sse4.2\n");
    /* empty/NULL overrides leave the values alone */
    drv_caps_apply_overrides(f, "", NULL, NULL, NULL);
    assert_string_equal(f->arch, "x86_64");
    assert_int_equal(f->cpu_features->len, 3);
    drv_host_facts_destroy(&f);
}

static void test_caps_malformed(void **state)
{
    drv_host_facts *f = drv_host_facts_new();
    drv_error *err = NULL;
    assert_int_equal(drv_caps_parse_host("<capabilities><host>", f, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_non_null(strstr(err->message, "capabilities"));
    drv_error_destroy(&err);
    assert_int_equal(drv_caps_parse_host("<node/>", f, &err), -1);
    assert_non_null(strstr(err->message, "<capabilities>"));
    drv_error_destroy(&err);
    assert_int_equal(drv_caps_parse_domcaps("", f, &err), -1);
    drv_error_destroy(&err);
    assert_int_equal(drv_caps_parse_domcaps("<capabilities/>", f, &err), -1);
    drv_error_destroy(&err);
    drv_host_facts_destroy(&f);
}

static void test_pool_and_snapshot(void **state)
{
    g_autofree char *pxml = s_read("pool-dir.xml");
    drv_pool_fact p = {0};
    assert_int_equal(drv_caps_parse_pool(pxml, &p, NULL), 0);
    assert_string_equal(p.name, "shared");
    assert_string_equal(p.type, "dir");
    assert_string_equal(p.path, "/srv/drover/shared");
    g_free(p.name);
    g_free(p.type);
    g_free(p.path);

    g_autofree char *sxml = s_read("snapshot.xml");
    int64_t t = 0;
    g_autofree char *st = NULL;
    assert_int_equal(drv_caps_parse_snapshot(sxml, &t, &st, NULL), 0);
    assert_int_equal(t, 1763785294);
    assert_string_equal(st, "running");

    g_autofree char *n1 = drv_caps_domain_name("<domain type='kvm'><name> vm7 </name></domain>");
    assert_string_equal(n1, "vm7");
    assert_null(drv_caps_domain_name("<domain"));
    assert_null(drv_caps_domain_name("<domain type='kvm'/>"));
}

static void test_lifecycle_map(void **state)
{
    static const struct {
        int event, detail;
        drv_event_kind kind;
        const char *text;
    } cases[] = {
        {VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, DRV_EV_DEFINED, "added"},
        {VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED, DRV_EV_DEFINED, "updated"},
        {VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED, DRV_EV_UNDEFINED,
         "removed"},
        {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, DRV_EV_STARTED, "booted"},
        {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, DRV_EV_MIGRATED, "migrated"},
        {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED, DRV_EV_STARTED, "restored"},
        {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, DRV_EV_SUSPENDED, "paused"},
        {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY, DRV_EV_SUSPENDED,
         "postcopy"},
        {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, DRV_EV_RESUMED, "unpaused"},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, DRV_EV_STOPPED, "shutdown"},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, DRV_EV_STOPPED, "destroyed"},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED, DRV_EV_STOPPED, "crashed"},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, DRV_EV_MIGRATED, "migrated"},
        {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED, DRV_EV_STOPPED, "saved"},
        {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST, DRV_EV_SHUTDOWN, "guest"},
        {VIR_DOMAIN_EVENT_PMSUSPENDED, VIR_DOMAIN_EVENT_PMSUSPENDED_MEMORY, DRV_EV_PMSUSPENDED,
         "memory"},
        {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED, DRV_EV_CRASHED, "panicked"},
        {VIR_DOMAIN_EVENT_STOPPED, 99, DRV_EV_STOPPED, "unknown"},
        {99, 0, DRV_EV_NONE, "unknown"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *text = NULL;
        drv_event_kind k = drv_lifecycle_map(cases[i].event, cases[i].detail, &text);
        if (k != cases[i].kind || strcmp(text, cases[i].text) != 0)
            fail_msg("event %d/%d: got %s/%s, want %s/%s", cases[i].event, cases[i].detail,
                     drv_event_kind_to_string(k), text, drv_event_kind_to_string(cases[i].kind),
                     cases[i].text);
    }
    /* the proto's EventKind numbers */
    assert_int_equal(DRV_EV_MIGRATED, 10);
    assert_int_equal(DRV_EV_LIBVIRT_UP, 12);
    assert_string_equal(drv_event_kind_to_string(DRV_EV_LIBVIRT_DOWN), "libvirt-down");
    assert_string_equal(drv_event_kind_to_string(DRV_EV_LAST), "none");
}

static void test_dom_state_and_hash(void **state)
{
    /* drv_dom_state mirrors virDomainState */
    assert_int_equal(DRV_DOM_RUNNING, VIR_DOMAIN_RUNNING);
    assert_int_equal(DRV_DOM_PAUSED, VIR_DOMAIN_PAUSED);
    assert_int_equal(DRV_DOM_SHUTOFF, VIR_DOMAIN_SHUTOFF);
    assert_int_equal(DRV_DOM_PMSUSPENDED, VIR_DOMAIN_PMSUSPENDED);
    assert_string_equal(drv_dom_state_to_string(DRV_DOM_SHUTOFF), "shut off");
    assert_string_equal(drv_dom_state_to_string((drv_dom_state)42), "unknown");
    g_autofree char *h1 = drv_dom_xml_hash("<domain/>");
    g_autofree char *h2 = drv_dom_xml_hash("<domain/>");
    g_autofree char *h3 = drv_dom_xml_hash("<domain />");
    assert_int_equal(strlen(h1), 64);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    /* SHA-256 of the empty string, a known value */
    g_autofree char *e = drv_dom_xml_hash(NULL);
    assert_string_equal(e, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_reply_cache(void **state)
{
    drv_reply_cache *c = drv_reply_cache_new(3);
    assert_int_equal(drv_reply_cache_lookup(c, "a", NULL, NULL), DRV_REPLY_UNKNOWN);
    assert_int_equal(drv_reply_cache_start(c, "a"), 0);
    assert_int_equal(drv_reply_cache_start(c, "a"), -1); /* never run twice */
    assert_int_equal(drv_reply_cache_lookup(c, "a", NULL, NULL), DRV_REPLY_RUNNING);
    drv_reply_cache_finish(c, "a", (uint8_t *)g_strdup("reply-a"), 7);
    const uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(drv_reply_cache_lookup(c, "a", &buf, &len), DRV_REPLY_DONE);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "reply-a", 7);
    assert_int_equal(drv_reply_cache_start(c, "a"), -1);

    /* a long command still running is never evicted; the oldest finished ones go first */
    assert_int_equal(drv_reply_cache_start(c, "long"), 0);
    const char *ids[] = {"b", "c", "d", "e"};
    for (size_t i = 0; i < 4; i++)
        drv_reply_cache_finish(c, ids[i], (uint8_t *)g_strdup(ids[i]), 1);
    assert_int_equal(drv_reply_cache_lookup(c, "a", NULL, NULL), DRV_REPLY_UNKNOWN);
    assert_int_equal(drv_reply_cache_lookup(c, "b", NULL, NULL), DRV_REPLY_UNKNOWN);
    assert_int_equal(drv_reply_cache_lookup(c, "c", NULL, NULL), DRV_REPLY_DONE);
    assert_int_equal(drv_reply_cache_lookup(c, "e", NULL, NULL), DRV_REPLY_DONE);
    assert_int_equal(drv_reply_cache_lookup(c, "long", NULL, NULL), DRV_REPLY_RUNNING);
    assert_int_equal(drv_reply_cache_size(c), 4);
    drv_reply_cache_finish(c, "long", (uint8_t *)g_strdup("L"), 1);
    assert_int_equal(drv_reply_cache_lookup(c, "long", &buf, &len), DRV_REPLY_DONE);
    assert_int_equal(drv_reply_cache_size(c), 3);
    drv_reply_cache_destroy(&c);
    assert_null(c);
    drv_reply_cache_destroy(&c); /* NULL-safe */
}

static void test_backoff(void **state)
{
    drv_backoff b;
    drv_backoff_init(&b, 250, 5000);
    const int64_t want[] = {250, 500, 1000, 2000, 4000, 5000, 5000};
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        assert_int_equal(drv_backoff_next(&b), want[i]);
    drv_backoff_reset(&b);
    assert_int_equal(drv_backoff_next(&b), 250);
}

/* ------------------------------------------------------------------ options */

static char *s_conf(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("agent-unit-XXXXXX.conf", &path, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static int s_parse(const char *conf_text, const char *extra_flag, drv_agent_options **ret,
                   drv_error **err)
{
    g_autofree char *path = conf_text ? s_conf(conf_text) : NULL;
    char *argv[6] = {"drover-agent"};
    int argc = 1;
    if (path != NULL) {
        argv[argc++] = "--config";
        argv[argc++] = path;
    }
    if (extra_flag != NULL)
        argv[argc++] = (char *)extra_flag;
    int rc = drv_agent_options_parse(argc, argv, ret, err);
    if (path != NULL)
        g_unlink(path);
    return rc;
}

static void test_options_full(void **state)
{
    drv_agent_options *o = NULL;
    drv_error *err = NULL;
    int rc = s_parse("[agent]\nhost_id = hv1\ncontroller = tcp://127.0.0.1:1, tcp://127.0.0.1:2\n"
                     "libvirt_uri = test:///default\nheartbeat_interval_ms = 250\nliveness = 4\n"
                     "worker_threads = 2\ncommand_queue_limit = 16\n"
                     "reserved_memory = 2GiB\nmigration_uri = qemu+tcp://10.0.0.1/system\n"
                     "migration_pki_path = /etc/drover/pki\nmigration_stream_tls = false\n"
                     "log_level = warn\n[labels]\nrack = r1\nssd = yes\n"
                     "[test]\ncpu_model = Haswell\ncpu_features = avx2,aes\narch = x86_64\n",
                     "--heartbeat-ms=300", &o, &err);
    if (rc < 0)
        fail_msg("%s", err->message);
    assert_string_equal(o->host_id, "hv1");
    assert_int_equal(g_strv_length(o->controllers), 2);
    assert_string_equal(o->controllers[1], "tcp://127.0.0.1:2");
    assert_string_equal(o->libvirt_uri, "test:///default");
    assert_int_equal(o->heartbeat_interval_ms, 300); /* the flag wins */
    assert_int_equal(o->liveness, 4);
    assert_int_equal(o->worker_threads, 2);
    assert_int_equal(o->command_queue_limit, 16);
    assert_int_equal(o->reserved_memory_kib, 2 * 1024 * 1024);
    assert_string_equal(o->migration_uri, "qemu+tcp://10.0.0.1/system");
    assert_string_equal(o->migration_pki_path, "/etc/drover/pki");
    assert_false(o->migration_stream_tls);
    assert_int_equal(o->log_level, DRV_LOG_WARN);
    assert_int_equal(g_strv_length(o->label_keys), 2);
    assert_string_equal(o->label_keys[0], "rack");
    assert_string_equal(o->label_values[0], "r1");
    assert_string_equal(o->test_cpu_model, "Haswell");
    assert_int_equal(g_strv_length(o->test_cpu_features), 2);
    assert_string_equal(o->test_arch, "x86_64");
    assert_null(o->test_host_uuid);
    drv_agent_options_destroy(&o);
}

static void test_options_defaults(void **state)
{
    drv_agent_options *o = NULL;
    drv_error *err = NULL;
    assert_int_equal(s_parse(NULL, "--controller=tcp://127.0.0.1:9", &o, &err), 0);
    assert_string_equal(o->host_id, g_get_host_name());
    assert_string_equal(o->libvirt_uri, "qemu:///system");
    assert_true(o->migration_stream_tls);
    assert_null(o->migration_pki_path);
    assert_int_equal(o->heartbeat_interval_ms, 1000);
    assert_int_equal(o->liveness, 3);
    assert_int_equal(o->worker_threads, 8);
    assert_int_equal(o->command_queue_limit, 256);
    assert_int_equal(o->reserved_memory_kib, 0);
    assert_non_null(strstr(o->migration_uri, "qemu+tcp://"));
    assert_null(o->test_cpu_features);
    assert_int_equal(g_strv_length(o->label_keys), 0);
    drv_agent_options_destroy(&o);
}

static void test_options_errors(void **state)
{
    static const struct {
        const char *conf;
        const char *flag;
        const char *want; /* substrings of the message */
        const char *want2;
    } cases[] = {
        {"[agent]\ncontroller = tcp://h:1\nheartbeat_interval_ms = fast\n", NULL,
         "[agent] heartbeat_interval_ms", "not an integer"},
        {"[agent]\ncontroller = tcp://h:1\nreserved_memory = lots\n", NULL,
         "[agent] reserved_memory", "not a size"},
        {"[agent]\ncontroller = tcp://h:1\nworker_threads = 0\n", NULL, "[agent] worker_threads",
         "out of range"},
        {"[agent]\ncontroller = tcp://h:1\nliveness = 0\n", NULL, "[agent] liveness",
         "out of range"},
        {"[agent]\ncontroller = tcp://h:1\nlog_level = loud\n", NULL, "[agent] log_level", "loud"},
        {"[agent]\nhost_id = x\n", NULL, "[agent] controller", "missing"},
        {"[agent]\ncontroller = nowhere\n", NULL, "[agent] controller", "not an endpoint"},
        {"[agent\n", NULL, "config '", "agent-unit-"},
        {"[agent]\ncontroller = tcp://h:1\n", "--bogus", "usage", "bogus"},
        {"[agent]\ncontroller = tcp://h:1\n", "--heartbeat-ms=1", "usage", "--heartbeat-ms"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        drv_agent_options *o = NULL;
        drv_error *err = NULL;
        if (s_parse(cases[i].conf, cases[i].flag, &o, &err) == 0)
            fail_msg("case %zu: accepted", i);
        assert_null(o);
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        if (!strstr(err->message, cases[i].want) || !strstr(err->message, cases[i].want2))
            fail_msg("case %zu: message '%s' lacks '%s' / '%s'", i, err->message, cases[i].want,
                     cases[i].want2);
        drv_error_destroy(&err);
    }
}

/* A qemu+tls destination encrypts the migration stream too (VIR_MIGRATE_TLS); qemu+tcp does not. */
static void test_migrate_flags_tls(void **state)
{
    (void)state;
    Drover__MigrateParams p = DROVER__MIGRATE_PARAMS__INIT;
    p.dest_uri = "qemu+tls://10.77.0.2/system";
    unsigned long f = drv_migrate_flags(&p, true);
    assert_true((drv_migrate_flags(&p, false) & VIR_MIGRATE_TLS) == 0);
    assert_true(drv_migrate_uses_tls(&p));
    assert_true((f & VIR_MIGRATE_TLS) != 0);
    assert_true((f & VIR_MIGRATE_PEER2PEER) != 0);
    p.dest_uri = "qemu+tcp://10.77.0.2/system";
    assert_false(drv_migrate_uses_tls(&p));
    assert_true((drv_migrate_flags(&p, true) & VIR_MIGRATE_TLS) == 0);
    p.dest_uri = "qemu+tlsx://10.77.0.2/system";
    assert_false(drv_migrate_uses_tls(&p));
    p.dest_uri = NULL;
    assert_false(drv_migrate_uses_tls(&p));
    assert_false(drv_migrate_uses_tls(NULL));

    g_autofree char *u1 = drv_migrate_tool_uri("qemu+tls://10.77.0.2/system", "/run/d r/pki");
    assert_string_equal(u1, "qemu+tls://10.77.0.2/system?pkipath=/run/d%20r/pki");
    g_autofree char *u2 = drv_migrate_tool_uri("qemu+tls://10.77.0.2/system?no_verify=0", "/p");
    assert_string_equal(u2, "qemu+tls://10.77.0.2/system?no_verify=0&pkipath=/p");
    g_autofree char *u3 = drv_migrate_tool_uri("qemu+tcp://10.77.0.2/system", "/p");
    assert_string_equal(u3, "qemu+tcp://10.77.0.2/system");
    g_autofree char *u4 = drv_migrate_tool_uri("qemu+tls://10.77.0.2/system", NULL);
    assert_string_equal(u4, "qemu+tls://10.77.0.2/system");
    assert_null(drv_migrate_tool_uri(NULL, "/p"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps_qemu),
        cmocka_unit_test(test_caps_qemu_host_model),
        cmocka_unit_test(test_caps_no_host_model),
        cmocka_unit_test(test_caps_test_driver),
        cmocka_unit_test(test_caps_overrides),
        cmocka_unit_test(test_caps_malformed),
        cmocka_unit_test(test_pool_and_snapshot),
        cmocka_unit_test(test_lifecycle_map),
        cmocka_unit_test(test_dom_state_and_hash),
        cmocka_unit_test(test_reply_cache),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_options_full),
        cmocka_unit_test(test_options_defaults),
        cmocka_unit_test(test_options_errors),
        cmocka_unit_test(test_migrate_flags_tls),
    };
    return cmocka_run_group_tests_name("hostagent_unit", tests, NULL, NULL);
}
