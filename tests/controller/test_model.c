/* test_model.c — unit tests for the controller's cache (model.c: allocations, derived state, drift,
 * the "unknown" state and its reasons), its JSON documents (view.c: etcd values round-trip, API
 * objects), placement refusing hosts whose inventory is not authoritative (placement.c) and the
 * domains of stored jobs busy from the first instant (job_busy.c). */
#include "job_busy.h"
#include "job_migrate.h"
#include "migrate_private.h"
#include "model.h"
#include "placement.h"
#include "view.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static ctl_host *s_host(ctl_model *m, const char *id, bool up)
{
    ctl_host *h = ctl_host_new(id);
    h->registered = up;
    h->reachable = up;
    if (up)
        ctl_host_set_libvirt(h, true); /* a full inventory with libvirt connected */
    h->facts.cpus = 8;
    h->facts.memory_kib = 8u << 20;
    return ctl_model_put_host(m, h);
}

static ctl_domain *s_domain(ctl_model *m, const char *name, const char *host, ctl_desired want,
                            uint64_t mem_kib)
{
    ctl_domain *d = ctl_domain_new(name);
    d->host = g_strdup(host);
    d->desired = want;
    d->vcpus = 2;
    d->memory_kib = mem_kib;
    d->xml = g_strdup("<domain/>");
    return ctl_model_put_domain(m, d);
}

static ctl_actual *s_report(ctl_model *m, ctl_host *h, const char *name, int state)
{
    ctl_actual *a = g_new0(ctl_actual, 1);
    a->name = g_strdup(name);
    a->state = state;
    ctl_model_report(m, h, a);
    return a;
}

static void test_alloc_counts_booked_domains(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    s_domain(m, "run", "h1", CTL_DESIRED_RUNNING, 1024);
    s_domain(m, "paused", "h1", CTL_DESIRED_PAUSED, 2048);
    s_domain(m, "off", "h1", CTL_DESIRED_SHUTOFF, 4096);
    s_domain(m, "drifted", "h1", CTL_DESIRED_SHUTOFF, 8192); /* desired off, yet running */
    s_domain(m, "other", "h2", CTL_DESIRED_RUNNING, 16384);
    s_report(m, h1, "drifted", CTL_VIR_RUNNING);
    s_report(m, h1, "off", CTL_VIR_SHUTOFF);
    uint32_t vcpus = 0, n = 0;
    uint64_t mem = 0;
    ctl_model_host_alloc(m, "h1", NULL, &vcpus, &mem, &n);
    assert_int_equal(n, 3);
    assert_int_equal(vcpus, 6);
    assert_int_equal(mem, 1024 + 2048 + 8192);
    ctl_model_host_alloc(m, "h1", "run", &vcpus, &mem, &n);
    assert_int_equal(n, 2);
    assert_int_equal(mem, 2048 + 8192);
    /* every host in one pass (/metrics): the same figures */
    GHashTable *all = ctl_model_hosts_alloc(m);
    const ctl_host_alloc *a1 = g_hash_table_lookup(all, "h1");
    const ctl_host_alloc *a2 = g_hash_table_lookup(all, "h2");
    assert_non_null(a1);
    assert_non_null(a2);
    assert_int_equal(a1->domains, 3);
    assert_int_equal(a1->vcpus, 6);
    assert_int_equal(a1->memory_kib, 1024 + 2048 + 8192);
    assert_int_equal(a2->domains, 1);
    assert_int_equal(a2->memory_kib, 16384);
    assert_null(g_hash_table_lookup(all, "h3"));
    g_hash_table_unref(all);
    ctl_model_destroy(&m);
}

static void test_state_and_drift(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    ctl_host *h2 = s_host(m, "h2", true);
    ctl_domain *d = s_domain(m, "web", "h1", CTL_DESIRED_RUNNING, 1024);
    const char *st;
    const char *reason;

    /* not on the host at all: shut off, drift */
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "shut off");
    char *drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 reports shut off");
    g_free(drift);

    s_report(m, h1, "web", CTL_VIR_RUNNING);
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "running");
    assert_null(ctl_model_domain_drift(m, d));

    /* paused while desired running */
    s_report(m, h1, "web", CTL_VIR_PAUSED);
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 reports paused");
    g_free(drift);

    /* host unreachable: unknown */
    h1->reachable = false;
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "unknown");
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 is unreachable");
    g_free(drift);
    h1->reachable = true;

    /* running where it is not placed: reported first */
    s_report(m, h2, "web", CTL_VIR_RUNNING);
    assert_string_equal(ctl_model_domain_elsewhere(m, d), "h2");
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "running on h2, placed on h1");
    g_free(drift);

    /* a shut-off copy elsewhere is not drift */
    s_report(m, h2, "web", CTL_VIR_SHUTOFF);
    s_report(m, h1, "web", CTL_VIR_RUNNING);
    assert_null(ctl_model_domain_elsewhere(m, d));
    assert_null(ctl_model_domain_drift(m, d));

    /* desired shut off and shut off: fine; busy suppresses the sentence */
    ctl_domain *off = s_domain(m, "off", "h1", CTL_DESIRED_SHUTOFF, 1);
    assert_null(ctl_model_domain_drift(m, off));
    off->busy = g_strdup("start");
    s_report(m, h1, "off", CTL_VIR_RUNNING);
    assert_null(ctl_model_domain_drift(m, off));
    ctl_model_destroy(&m);
}

static void test_put_host_keeps_runtime(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h = s_host(m, "h1", true);
    h->last_traffic_ms = 42;
    s_report(m, h, "x", CTL_VIR_RUNNING);
    ctl_host *fresh = ctl_host_new("h1"); /* e.g. from a watch event */
    ctl_host *stored = ctl_model_put_host(m, fresh);
    assert_ptr_equal(stored, fresh);
    assert_true(stored->registered);
    assert_int_equal(stored->last_traffic_ms, 42);
    assert_true(g_hash_table_contains(stored->inventory, "x"));
    ctl_model_destroy(&m);
}

static void test_domain_store_roundtrip(void **state)
{
    ctl_domain *d = ctl_domain_new("db");
    d->uuid = g_strdup("6b1c1ad1-9a52-4a39-bb0b-3c3b1b8b0a11");
    d->xml = g_strdup("<domain type='test'><name>db</name></domain>");
    d->revision = 7;
    d->desired = CTL_DESIRED_PAUSED;
    d->host = g_strdup("h2");
    d->vcpus = 3;
    d->memory_kib = 123456789;
    d->cpu_features = g_strsplit("avx2,aes", ",", -1);
    d->autostart = true;
    d->anti_affinity_group = g_strdup("web");
    g_autofree char *json = ctl_view_domain_store(d);
    ctl_domain *back = NULL;
    assert_int_equal(ctl_view_domain_parse("db", json, &back, NULL), 0);
    assert_string_equal(back->uuid, d->uuid);
    assert_string_equal(back->xml, d->xml);
    assert_int_equal(back->revision, 7);
    assert_int_equal(back->desired, CTL_DESIRED_PAUSED);
    assert_string_equal(back->host, "h2");
    assert_int_equal(back->vcpus, 3);
    assert_int_equal(back->memory_kib, 123456789);
    assert_string_equal(back->cpu_features[1], "aes");
    assert_null(back->cpu_features[2]);
    assert_true(back->autostart);
    assert_false(back->transient);
    assert_null(back->affinity_group);
    assert_string_equal(back->anti_affinity_group, "web");
    assert_null(back->devices); /* that XML does not parse as a definition: not known */
    ctl_domain_free(back);
    /* a definition's devices are named from its XML when the record is read */
    g_free(d->xml);
    d->xml = g_strdup("<domain type='test'><name>db</name><memory>1024</memory><vcpu>1</vcpu>"
                      "<devices><disk type='file'><target dev='vda'/></disk></devices></domain>");
    g_autofree char *json2 = ctl_view_domain_store(d);
    assert_int_equal(ctl_view_domain_parse("db", json2, &back, NULL), 0);
    assert_non_null(back->devices);
    assert_string_equal(back->devices[0], "disk vda");
    assert_null(back->devices[1]);
    ctl_domain *copy = ctl_domain_copy(back);
    assert_string_equal(copy->devices[0], "disk vda");
    ctl_domain_free(copy);
    ctl_domain_free(back);
    ctl_domain_free(d);

    drv_error *err = NULL;
    assert_int_equal(ctl_view_domain_parse("db", "{\"revision\":1}", &back, &err), -1);
    assert_non_null(strstr(err->message, "domain 'db'"));
    drv_error_destroy(&err);
    assert_int_equal(ctl_view_domain_parse("db", "not json", &back, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
}

static void test_host_store_roundtrip(void **state)
{
    ctl_host *h = ctl_host_new("h9");
    g_free(h->admin_state);
    h->admin_state = g_strdup("maintenance");
    h->reachable = true;
    h->facts.arch = g_strdup("x86_64");
    h->facts.cpus = 12;
    h->facts.memory_kib = 1u << 24;
    h->facts.reserved_memory_kib = 1u << 20;
    h->facts.cpu_features = g_strsplit("sse4.2,avx2", ",", -1);
    ctl_pool *p = g_new0(ctl_pool, 1);
    p->name = g_strdup("shared");
    p->path = g_strdup("/srv");
    p->active = true;
    g_ptr_array_add(h->facts.pools, p);
    g_hash_table_replace(h->labels, g_strdup("rack"), g_strdup("r4"));
    g_autofree char *json = ctl_view_host_store(h);
    ctl_host *back = NULL;
    assert_int_equal(ctl_view_host_parse("h9", json, &back, NULL), 0);
    assert_string_equal(back->admin_state, "maintenance");
    assert_true(back->reachable);
    assert_false(back->registered); /* runtime only */
    assert_string_equal(back->facts.arch, "x86_64");
    assert_int_equal(back->facts.cpus, 12);
    assert_int_equal(back->facts.reserved_memory_kib, 1u << 20);
    assert_string_equal(back->facts.cpu_features[1], "avx2");
    assert_int_equal(back->facts.pools->len, 1);
    assert_string_equal(((ctl_pool *)g_ptr_array_index(back->facts.pools, 0))->path, "/srv");
    assert_string_equal(g_hash_table_lookup(back->labels, "rack"), "r4");
    ctl_host_free(back);
    ctl_host_free(h);
}

static void test_api_objects(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    ctl_domain *d = s_domain(m, "web", "h1", CTL_DESIRED_RUNNING, 2048);
    s_report(m, h1, "web", CTL_VIR_PAUSED);
    json_object *o = ctl_view_domain_api(m, d);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "state", &v));
    assert_string_equal(json_object_get_string(v), "paused");
    assert_true(json_object_object_get_ex(o, "desired_state", &v));
    assert_string_equal(json_object_get_string(v), "running");
    assert_true(json_object_object_get_ex(o, "drift", &v));
    assert_string_equal(json_object_get_string(v), "desired running, host h1 reports paused");
    json_object_put(o);
    o = ctl_view_host_api(m, h1, true);
    assert_true(json_object_object_get_ex(o, "allocated_memory_kib", &v));
    assert_int_equal(json_object_get_int64(v), 2048);
    assert_true(json_object_object_get_ex(o, "domain_names", &v));
    assert_int_equal(json_object_array_length(v), 1);
    json_object_put(o);
    ctl_model_destroy(&m);
}

static void test_desired_names(void **state)
{
    for (int i = 0; i < CTL_DESIRED_LAST; i++) {
        ctl_desired d;
        assert_int_equal(ctl_desired_from_string(ctl_desired_to_string((ctl_desired)i), &d), 0);
        assert_int_equal(d, i);
    }
    ctl_desired d;
    assert_int_equal(ctl_desired_from_string("shut off", &d), -1);
    assert_int_equal(ctl_desired_from_string(NULL, &d), -1);
    assert_string_equal(ctl_vir_state_to_string(CTL_VIR_SHUTOFF), "shut off");
    assert_string_equal(ctl_vir_state_to_string(99), "unknown");
}

/* The state and "reason" of d as the API shows them. */
static void s_api_state(ctl_model *m, const ctl_domain *d, const char *want_state,
                        const char *want_reason)
{
    json_object *o = ctl_view_domain_api(m, d);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "state", &v));
    assert_string_equal(json_object_get_string(v), want_state);
    if (want_reason == NULL) {
        assert_false(json_object_object_get_ex(o, "reason", &v));
    } else {
        assert_true(json_object_object_get_ex(o, "reason", &v));
        assert_string_equal(json_object_get_string(v), want_reason);
    }
    json_object_put(o);
    o = ctl_view_domain_state_api(m, d);
    assert_true(json_object_object_get_ex(o, "state", &v));
    assert_string_equal(json_object_get_string(v), want_state);
    assert_int_equal(json_object_object_get_ex(o, "reason", &v), want_reason != NULL);
    json_object_put(o);
}

/* Every state with its reason by name, the cluster's own states, live-vs-config drift. */
static void test_states_with_reasons(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    ctl_host *h2 = s_host(m, "h2", true);
    ctl_domain *d = s_domain(m, "web", "h1", CTL_DESIRED_RUNNING, 1024);
    ctl_domain *off = s_domain(m, "off", "h1", CTL_DESIRED_SHUTOFF, 1024);
    const char *st, *reason;

    ctl_actual *a = s_report(m, h1, "web", CTL_VIR_RUNNING);
    a->reason = 2; /* VIR_DOMAIN_RUNNING_MIGRATED */
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "running");
    assert_string_equal(reason, "migrated");
    s_api_state(m, d, "running", "migrated");

    a->state = CTL_VIR_PAUSED;
    a->reason = 1; /* VIR_DOMAIN_PAUSED_USER */
    s_api_state(m, d, "paused", "user");
    char *drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 reports paused (user)");
    g_free(drift);

    /* killed QEMU: shut off (crashed), desired running → drift naming it */
    a->state = CTL_VIR_SHUTOFF;
    a->reason = 3; /* VIR_DOMAIN_SHUTOFF_CRASHED */
    s_api_state(m, d, "shut off", "crashed");
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 reports shut off (crashed)");
    g_free(drift);

    /* libvirt's own states that are not "running" */
    a->reason = 0;
    a->state = CTL_VIR_PMSUSPENDED;
    s_api_state(m, d, "pmsuspended", NULL);
    a->state = CTL_VIR_CRASHED;
    a->reason = 1;
    s_api_state(m, d, "crashed", "panicked");
    a->state = CTL_VIR_BLOCKED;
    a->reason = 0;
    s_api_state(m, d, "blocked", NULL);
    a->state = CTL_VIR_SHUTDOWN;
    a->reason = 1;
    s_api_state(m, d, "in shutdown", "user");

    /* managed save: "saved", not "shut off"; desired off → no drift; hidden like shut off */
    ctl_actual *o = s_report(m, h1, "off", CTL_VIR_SHUTOFF);
    o->reason = 5; /* VIR_DOMAIN_SHUTOFF_SAVED */
    o->managed_save = true;
    s_api_state(m, off, "saved", "managed save");
    assert_true(ctl_model_domain_is_off(m, off));
    assert_null(ctl_model_domain_drift(m, off));
    /* a save file in shared storage: saved, even on no host */
    o->managed_save = false;
    off->saved_path = g_strdup("/shared/off.save");
    s_api_state(m, off, "saved", "save file");
    ctl_model_unreport(m, h1, "off");
    s_api_state(m, off, "saved", "save file");
    g_clear_pointer(&off->saved_path, g_free);
    s_api_state(m, off, "shut off", NULL);

    /* a start placing it: pending (start) until it runs */
    off->busy = g_strdup("start");
    s_api_state(m, off, "pending", "start");
    s_report(m, h1, "off", CTL_VIR_RUNNING);
    s_api_state(m, off, "running", NULL);
    g_clear_pointer(&off->busy, g_free);

    /* a live migration: migrating, running on both hosts is no drift */
    a->state = CTL_VIR_RUNNING;
    a->reason = 1;
    d->busy = g_strdup("migrate");
    ctl_actual *b = s_report(m, h2, "web", CTL_VIR_PAUSED);
    b->reason = 2; /* VIR_DOMAIN_PAUSED_MIGRATION: the incoming copy */
    s_api_state(m, d, "migrating", NULL);
    assert_null(ctl_model_domain_drift(m, d));
    /* unknown wins over migrating: the source cannot say */
    h1->reachable = false;
    s_api_state(m, d, "unknown", "host unreachable");
    h1->reachable = true;
    g_clear_pointer(&d->busy, g_free);
    ctl_model_unreport(m, h2, "web");

    /* live vs config: vCPUs changed live, or more memory than the definition */
    d->vcpus_current = 2;
    a->vcpus = 2;
    a->memory_kib = 1024;
    assert_null(ctl_model_domain_drift(m, d));
    a->vcpus = 3;
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "live vCPUs 3, config 2 (restart pending)");
    g_free(drift);
    a->memory_kib = 2048;
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "live vCPUs 3, config 2; live memory 2 MiB, config 1 MiB (restart "
                               "pending)");
    g_free(drift);
    a->vcpus = 2;
    a->memory_kib = 512; /* ballooned down: not drift */
    assert_null(ctl_model_domain_drift(m, d));
    d->vcpus_current = 0; /* an older record: not compared */
    a->vcpus = 7;
    assert_null(ctl_model_domain_drift(m, d));

    /* live vs config devices (common/domdevices.h names): not compared until both are known */
    d->vcpus_current = 2;
    a->vcpus = 2;
    char *live[] = {(char *)"disk vda", (char *)"disk vdb", NULL};
    a->devices = g_strdupv(live);
    assert_null(ctl_model_domain_drift(m, d));
    char *conf[] = {(char *)"disk vda", (char *)"interface (network default)", NULL};
    d->devices = g_strdupv(conf);
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "disk vdb attached live, not in the definition; interface (network "
                               "default) in the definition, not attached live (restart pending)");
    g_free(drift);
    a->vcpus = 3;
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "live vCPUs 3, config 2; disk vdb attached live, not in the "
                               "definition; interface (network default) in the definition, not "
                               "attached live (restart pending)");
    g_free(drift);
    a->vcpus = 2;
    g_strfreev(d->devices);
    d->devices = g_strdupv(live);
    assert_null(ctl_model_domain_drift(m, d));
    /* the domain object of the API carries it */
    g_strfreev(d->devices);
    d->devices = g_strdupv(conf);
    json_object *obj = ctl_view_domain_api(m, d);
    assert_non_null(strstr(json_object_get_string(json_object_object_get(obj, "drift")),
                           "disk vdb attached live"));
    json_object_put(obj);
    /* paused: still live, still compared */
    a->state = CTL_VIR_PAUSED;
    d->desired = CTL_DESIRED_PAUSED;
    drift = ctl_model_domain_drift(m, d);
    assert_non_null(strstr(drift, "disk vdb attached live"));
    g_free(drift);
    d->desired = CTL_DESIRED_RUNNING;
    a->state = CTL_VIR_RUNNING;
    g_clear_pointer(&d->devices, g_strfreev);
    g_clear_pointer(&a->devices, g_strfreev);
    d->vcpus_current = 0;

    /* an edit stored while it runs: restart pending, until it stops */
    d->revision = 3;
    ctl_domain *edited = ctl_domain_copy(d);
    edited->revision = 4;
    d = ctl_model_put_domain(m, edited);
    assert_int_equal(d->running_revision, 3);
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "revision 3 runs, revision 4 is stored (restart pending)");
    g_free(drift);
    ctl_domain *again = ctl_domain_copy(d); /* a second edit: still revision 3 runs */
    again->revision = 5;
    d = ctl_model_put_domain(m, again);
    assert_int_equal(d->running_revision, 3);
    ctl_domain *same = ctl_domain_copy(d); /* the watch echoing the same revision */
    d = ctl_model_put_domain(m, same);
    assert_int_equal(d->running_revision, 3);
    /* edited while shut off: nothing pending */
    ctl_actual *o2 = s_report(m, h1, "off", CTL_VIR_SHUTOFF);
    (void)o2;
    off = ctl_model_domain(m, "off");
    off->revision = 1;
    ctl_domain *offe = ctl_domain_copy(off);
    offe->revision = 2;
    off = ctl_model_put_domain(m, offe);
    assert_int_equal(off->running_revision, 0);
    ctl_model_destroy(&m);
}

/* last_seen: the last message heard, not only the last stored transition (heartbeats are kept
 * off etcd, so the stored one is stale while a host is healthy). */
static void test_last_seen_fresh(void **state)
{
    (void)state;
    ctl_model *m = ctl_model_new();
    ctl_host *h = s_host(m, "h1", true);
    h->last_seen_ms = 1000;   /* registered */
    h->last_heard_ms = 91000; /* a heartbeat 90 s later */
    json_object *o = ctl_view_host_api(m, h, false);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "last_seen_ms", &v));
    assert_int_equal(json_object_get_int64(v), 91000);
    json_object_put(o);
    h->last_heard_ms = 0; /* nothing heard by this process yet: the stored transition */
    o = ctl_view_host_api(m, h, false);
    assert_true(json_object_object_get_ex(o, "last_seen_ms", &v));
    assert_int_equal(json_object_get_int64(v), 1000);
    json_object_put(o);
    /* the runtime value survives a reload of the host from etcd */
    ctl_host *fresh = ctl_host_new("h1");
    h->last_heard_ms = 91000;
    fresh = ctl_model_put_host(m, fresh);
    assert_int_equal(fresh->last_heard_ms, 91000);
    ctl_model_destroy(&m);
}

/* What storage a drain plan demands of a destination: the source host's pool holding each file
 * disk (the longest path), volume pools, and for a local disk a pool no host has. */
static void test_disk_pools_for_plans(void **state)
{
    (void)state;
    ctl_host *h = ctl_host_new("h1");
    h->facts.pools = g_ptr_array_new_with_free_func(ctl_pool_free);
    const char *names[] = {"root", "shared"}, *paths[] = {"/srv", "/srv/shared/"};
    for (int i = 0; i < 2; i++) {
        ctl_pool *p = g_new0(ctl_pool, 1);
        p->name = g_strdup(names[i]);
        p->path = g_strdup(paths[i]);
        p->active = true;
        g_ptr_array_add(h->facts.pools, p);
    }
    const char *xml =
        "<domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='/srv/shared/a.qcow2'/><target "
        "dev='vda'/></disk>"
        "<disk type='file' device='disk'><source file='/srv/shared/b.qcow2'/><target "
        "dev='vdb'/></disk>"
        "<disk type='file' device='disk'><source file='/var/tmp/c.img'/><target dev='vdc'/></disk>"
        "<disk type='volume' device='disk'><source pool='ceph' volume='v'/><target "
        "dev='vdd'/></disk>"
        "<disk type='network' device='disk'><source protocol='nbd' name='x'><host "
        "name='n'/></source>"
        "<target dev='vde'/></disk>"
        "</devices></domain>";
    drv_domxml *dx = NULL;
    assert_int_equal(drv_domxml_parse(xml, strlen(xml), &dx, NULL), 0);
    char **pools = ctl_mig_disk_pools(dx, h);
    assert_int_equal(g_strv_length(pools), 3);
    assert_string_equal(pools[0], "shared"); /* the longest pool path, once for two disks */
    assert_string_equal(pools[1], "local disk /var/tmp/c.img");
    assert_string_equal(pools[2], "ceph");
    g_strfreev(pools);
    /* no source host known: every file disk is local as far as the plan can tell */
    pools = ctl_mig_disk_pools(dx, NULL);
    assert_string_equal(pools[0], "local disk /srv/shared/a.qcow2");
    g_strfreev(pools);
    drv_domxml_destroy(&dx);
    ctl_host_free(h);
}

static void test_unknown_state_and_reasons(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    ctl_domain *web = s_domain(m, "web", "h1", CTL_DESIRED_RUNNING, 1024);
    ctl_domain *off = s_domain(m, "off", "h1", CTL_DESIRED_SHUTOFF, 1024);
    const char *st;
    const char *reason;

    /* authoritative and absent: shut off, and that is known */
    ctl_model_domain_state(m, off, &st, &reason);
    assert_string_equal(st, "shut off");
    assert_null(ctl_model_domain_unknown_reason(m, off));
    assert_null(ctl_host_unknown_reason(h1));
    s_api_state(m, off, "shut off", NULL);

    /* libvirt disconnected: the (empty) list is not the truth, whatever the desired state */
    s_report(m, h1, "web", CTL_VIR_RUNNING);
    ctl_host_set_libvirt(h1, false);
    assert_string_equal(ctl_host_unknown_reason(h1), "libvirt disconnected");
    ctl_model_domain_state(m, off, &st, &reason);
    assert_string_equal(st, "unknown");
    ctl_model_domain_state(m, web, &st, &reason);
    assert_string_equal(st, "unknown");
    assert_string_equal(ctl_model_domain_unknown_reason(m, web), "libvirt disconnected");
    s_api_state(m, off, "unknown", "libvirt disconnected");
    s_api_state(m, web, "unknown", "libvirt disconnected");
    char *drift = ctl_model_domain_drift(m, web);
    assert_string_equal(drift, "desired running, state unknown on host h1 (libvirt disconnected)");
    g_free(drift);
    assert_null(ctl_model_domain_drift(m, off)); /* desired off, state unknown: no claim */
    json_object *ho = ctl_view_host_api(m, h1, false);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(ho, "inventory_authoritative", &v));
    assert_false(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(ho, "inventory_reason", &v));
    assert_string_equal(json_object_get_string(v), "libvirt disconnected");
    json_object_put(ho);

    /* libvirt back (a full inventory): known again */
    ctl_host_set_libvirt(h1, true);
    ctl_model_domain_state(m, web, &st, &reason);
    assert_string_equal(st, "running");
    s_api_state(m, web, "running", NULL);

    /* registered and reachable, but the inventory went stale (it was unreachable meanwhile) */
    ctl_host_inventory_stale(h1);
    assert_string_equal(ctl_host_unknown_reason(h1), "inventory not yet received");
    ctl_model_domain_state(m, off, &st, &reason);
    assert_string_equal(st, "unknown");

    /* not registered with this process yet (controller just started): inventory not received */
    ctl_host_set_libvirt(h1, true);
    h1->registered = false;
    ctl_model_domain_state(m, off, &st, &reason);
    assert_string_equal(st, "unknown");
    assert_string_equal(ctl_model_domain_unknown_reason(m, off), "inventory not yet received");
    s_api_state(m, off, "unknown", "inventory not yet received");

    /* unreachable */
    h1->registered = true;
    h1->reachable = false;
    ctl_model_domain_state(m, off, &st, &reason);
    assert_string_equal(st, "unknown");
    assert_string_equal(ctl_model_domain_unknown_reason(m, off), "host unreachable");
    drift = ctl_model_domain_drift(m, web);
    assert_string_equal(drift, "desired running, host h1 is unreachable");
    g_free(drift);

    /* placed on a host the cache does not know: unknown too; never placed: shut off */
    ctl_domain *lost = s_domain(m, "lost", "gone", CTL_DESIRED_SHUTOFF, 1);
    ctl_model_domain_state(m, lost, &st, &reason);
    assert_string_equal(st, "unknown");
    ctl_domain *never = s_domain(m, "never", NULL, CTL_DESIRED_SHUTOFF, 1);
    ctl_model_domain_state(m, never, &st, &reason);
    assert_string_equal(st, "shut off");
    assert_null(ctl_model_domain_unknown_reason(m, never));

    /* a fresh controller: every host starts without an authoritative inventory */
    ctl_host *fresh = ctl_host_new("h9");
    fresh->reachable = true;
    fresh->registered = true;
    assert_string_equal(ctl_host_unknown_reason(fresh), "inventory not yet received");
    ctl_host_free(fresh);
    assert_string_equal(ctl_host_unknown_reason(NULL), "host unreachable");
    ctl_model_destroy(&m);
}

static void test_runtime_truth_survives_reload(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h = s_host(m, "h1", true);
    ctl_host_set_libvirt(h, false);
    ctl_host *w = ctl_host_new("h1"); /* a watch event: reachable as stored */
    w->reachable = true;
    ctl_host *again = ctl_model_put_host(m, w);
    assert_string_equal(ctl_host_unknown_reason(again), "libvirt disconnected");
    ctl_model *fresh = ctl_model_new(); /* a reload from etcd */
    ctl_host *h2 = ctl_model_put_host(fresh, ctl_host_new("h1"));
    h2->reachable = true;
    ctl_model_adopt_runtime(fresh, m);
    assert_true(h2->registered);
    assert_string_equal(ctl_host_unknown_reason(h2), "libvirt disconnected");
    ctl_host_set_libvirt(h2, true);
    assert_null(ctl_host_unknown_reason(h2));
    ctl_model_destroy(&fresh);
    ctl_model_destroy(&m);
}

static void test_host_active_domain(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h = s_host(m, "h1", true);
    assert_null(ctl_host_active_domain(h));
    s_report(m, h, "zed", CTL_VIR_SHUTOFF);
    assert_null(ctl_host_active_domain(h));
    s_report(m, h, "vm2", CTL_VIR_PAUSED);
    s_report(m, h, "vm1", CTL_VIR_RUNNING);
    assert_string_equal(ctl_host_active_domain(h), "vm1");
    ctl_model_destroy(&m);
}

static const char s_xml[] = "<domain type='test'><name>big</name><memory unit='GiB'>6</memory>"
                            "<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

static void test_placement_refuses_unknown_inventory(void **state)
{
    ctl_config cfg = {.cpu_ratio = 4, .memory_ratio = 1, .weigher = (char *)"spread"};
    ctl c = {.cfg = &cfg, .model = ctl_model_new()};
    ctl_host *h1 = s_host(c.model, "h1", true); /* 8 GiB */
    ctl_host *h2 = s_host(c.model, "h2", true);
    h1->facts.memory_kib = 4u << 20; /* too small for 6 GiB */
    h1->facts.arch = g_strdup("x86_64");
    h2->facts.arch = g_strdup("x86_64");
    ctl_domain *d = s_domain(c.model, "big", NULL, CTL_DESIRED_SHUTOFF, 6u << 20);
    g_free(d->xml);
    d->xml = g_strdup(s_xml);

    char *host = NULL;
    drv_error *err = NULL;
    assert_int_equal(ctl_placement_choose(&c, d, NULL, &host, &err), 0);
    assert_string_equal(host, "h2");
    g_free(host);

    /* h2's libvirt is down: its free room is unknown, it takes nothing, and the refusal says so */
    ctl_host_set_libvirt(h2, false);
    host = NULL;
    assert_int_equal(ctl_placement_choose(&c, d, NULL, &host, &err), -1);
    assert_null(host);
    assert_int_equal(err->kind, DRV_ERR_NO_ROOM);
    assert_non_null(strstr(err->message, "h2 (inventory not authoritative: libvirt disconnected)"));
    drv_error_destroy(&err);
    drv_sched_cluster *cl = ctl_placement_cluster(&c, NULL);
    assert_true(drv_sched_cluster_has_host(cl, "h2")); /* there, but refused */
    drv_sched_cluster_destroy(&cl);

    /* not registered yet with this controller: the same */
    ctl_host_set_libvirt(h2, true);
    h2->registered = false;
    assert_int_equal(ctl_placement_choose(&c, d, NULL, &host, &err), -1);
    assert_non_null(strstr(err->message, "h2 (inventory not authoritative: inventory not yet"));
    drv_error_destroy(&err);
    ctl_model_destroy(&c.model);
}

static drv_job *s_mig(const char *id, const char *domain, drv_job_state state)
{
    drv_job *j = NULL;
    drv_error *err = NULL;
    if (drv_job_migrate_new(id, domain, "h1", "h2", NULL, "dead", 1, &j, &err) < 0)
        fail_msg("%s", err->message);
    j->state = state;
    if (drv_job_state_is_terminal(state))
        j->migrate.phase = DRV_JOB_PHASE_DONE;
    else
        j->migrate.phase = DRV_JOB_PHASE_MIGRATING;
    return j;
}

static void s_job_free(gpointer p)
{
    drv_job *j = p;
    drv_job_destroy(&j);
}

static void test_stored_jobs_busy_at_load(void **state)
{
    ctl_model *m = ctl_model_new();
    s_host(m, "h1", false); /* nobody registered yet */
    const char *names[] = {"solo", "ended", "child", "retried", "orphan", "planned", "already"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        s_domain(m, names[i], "h1", CTL_DESIRED_RUNNING, 1);
    ctl_model_domain(m, "already")->busy = g_strdup("start");

    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_job_free);
    g_ptr_array_add(jobs, s_mig("mig-1", "solo", DRV_JOB_RUNNING));
    g_ptr_array_add(jobs, s_mig("mig-2", "ended", DRV_JOB_SUCCEEDED));
    g_ptr_array_add(jobs, s_mig("mig-3", "already", DRV_JOB_RUNNING));
    g_ptr_array_add(jobs, s_mig("drain-1:child:1", "child", DRV_JOB_RUNNING));
    g_ptr_array_add(jobs, s_mig("drain-1:retried:1", "retried", DRV_JOB_RUNNING)); /* old try */
    g_ptr_array_add(jobs, s_mig("drain-9:orphan:1", "orphan", DRV_JOB_RUNNING));   /* no drain */
    static const char drain[] =
        "{\"version\":1,\"id\":\"drain-1\",\"kind\":\"drain\",\"state\":\"running\","
        "\"created_ms\":1,\"updated_ms\":1,\"cancel_requested\":false,\"drain\":{\"host\":\"h1\","
        "\"options\":{\"max_parallel\":8,\"per_source\":2,\"per_dest\":2,\"on_unmovable\":"
        "\"refuse\",\"n_plus_one\":false},\"entries\":["
        "{\"domain\":\"child\",\"origin\":\"h1\",\"planned\":\"h2\",\"alternates\":[],"
        "\"attempts\":1,\"destination\":\"h2\",\"state\":\"migrating\"},"
        "{\"domain\":\"retried\",\"origin\":\"h1\",\"planned\":\"h2\",\"alternates\":[],"
        "\"attempts\":2,\"destination\":\"h3\",\"state\":\"migrating\"},"
        "{\"domain\":\"planned\",\"origin\":\"h1\",\"planned\":\"h2\",\"alternates\":[],"
        "\"attempts\":0,\"state\":\"planned\"}]}}";
    drv_job *dj = NULL;
    drv_error *err = NULL;
    if (drv_job_from_json_string(drain, -1, &dj, &err) < 0)
        fail_msg("%s", err->message);
    g_ptr_array_add(jobs, dj);

    assert_int_equal(ctl_job_busy_mark(m, jobs), 2);
    assert_string_equal(ctl_model_domain(m, "solo")->busy, "migrate");
    assert_string_equal(ctl_model_domain(m, "child")->busy, "migrate");
    assert_null(ctl_model_domain(m, "ended")->busy);
    assert_null(ctl_model_domain(m, "retried")->busy); /* its current attempt has no job */
    assert_null(ctl_model_domain(m, "orphan")->busy);  /* nobody would ever resume it */
    assert_null(ctl_model_domain(m, "planned")->busy);
    assert_string_equal(ctl_model_domain(m, "already")->busy, "start");
    /* marked again (a reload): nothing changes */
    assert_int_equal(ctl_job_busy_mark(m, jobs), 0);
    /* the drain ended: its child is no longer marked on a later load */
    g_clear_pointer(&ctl_model_domain(m, "child")->busy, g_free);
    dj->state = DRV_JOB_FAILED;
    g_free(dj->error);
    dj->error = g_strdup("x");
    assert_int_equal(ctl_job_busy_mark(m, jobs), 0);
    assert_null(ctl_model_domain(m, "child")->busy);
    g_ptr_array_unref(jobs);
    ctl_model_destroy(&m);
}

static void test_busy_marks_refreshed_at_takeover(void **state)
{
    ctl_model *m = ctl_model_new();
    const char *names[] = {"stale", "live", "stored", "start"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        s_domain(m, names[i], "h1", CTL_DESIRED_RUNNING, 1);
    ctl_model_domain(m, "stale")->busy =
        g_strdup("migrate"); /* its job ended under another leader */
    ctl_model_domain(m, "live")->busy = g_strdup("migrate"); /* this process migrates it now */
    ctl_model_domain(m, "start")->busy = g_strdup("start");  /* another verb's: not ours */
    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_job_free);
    g_ptr_array_add(jobs, s_mig("mig-1", "stored", DRV_JOB_RUNNING));
    g_ptr_array_add(jobs, s_mig("mig-2", "stale", DRV_JOB_SUCCEEDED));
    GPtrArray *live = g_ptr_array_new_with_free_func(s_job_free);
    g_ptr_array_add(live, s_mig("mig-3", "live", DRV_JOB_RUNNING));
    assert_int_equal(ctl_job_busy_refresh(m, jobs, live), 1);
    assert_null(ctl_model_domain(m, "stale")->busy);
    assert_string_equal(ctl_model_domain(m, "live")->busy, "migrate");
    assert_string_equal(ctl_model_domain(m, "stored")->busy, "migrate");
    assert_string_equal(ctl_model_domain(m, "start")->busy, "start");
    /* nothing live any more and no stored job: every "migrate" mark goes */
    g_ptr_array_set_size(jobs, 0);
    assert_int_equal(ctl_job_busy_refresh(m, jobs, NULL), 2);
    assert_null(ctl_model_domain(m, "live")->busy);
    assert_string_equal(ctl_model_domain(m, "start")->busy, "start");
    g_ptr_array_unref(live);
    g_ptr_array_unref(jobs);
    ctl_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_counts_booked_domains),
        cmocka_unit_test(test_state_and_drift),
        cmocka_unit_test(test_put_host_keeps_runtime),
        cmocka_unit_test(test_domain_store_roundtrip),
        cmocka_unit_test(test_host_store_roundtrip),
        cmocka_unit_test(test_api_objects),
        cmocka_unit_test(test_desired_names),
        cmocka_unit_test(test_unknown_state_and_reasons),
        cmocka_unit_test(test_states_with_reasons),
        cmocka_unit_test(test_last_seen_fresh),
        cmocka_unit_test(test_disk_pools_for_plans),
        cmocka_unit_test(test_runtime_truth_survives_reload),
        cmocka_unit_test(test_host_active_domain),
        cmocka_unit_test(test_placement_refuses_unknown_inventory),
        cmocka_unit_test(test_stored_jobs_busy_at_load),
        cmocka_unit_test(test_busy_marks_refreshed_at_takeover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
