/* test_model.c — unit tests for the controller's cache (model.c: allocations, derived state, drift)
 * and its JSON documents (view.c: etcd values round-trip, API objects). */
#include "model.h"
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

static void s_report(ctl_host *h, const char *name, int state)
{
    ctl_actual *a = g_new0(ctl_actual, 1);
    a->name = g_strdup(name);
    a->state = state;
    g_hash_table_replace(h->inventory, g_strdup(name), a);
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
    s_report(h1, "drifted", CTL_VIR_RUNNING);
    s_report(h1, "off", CTL_VIR_SHUTOFF);
    uint32_t vcpus = 0, n = 0;
    uint64_t mem = 0;
    ctl_model_host_alloc(m, "h1", NULL, &vcpus, &mem, &n);
    assert_int_equal(n, 3);
    assert_int_equal(vcpus, 6);
    assert_int_equal(mem, 1024 + 2048 + 8192);
    ctl_model_host_alloc(m, "h1", "run", &vcpus, &mem, &n);
    assert_int_equal(n, 2);
    assert_int_equal(mem, 2048 + 8192);
    ctl_model_destroy(&m);
}

static void test_state_and_drift(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = s_host(m, "h1", true);
    ctl_host *h2 = s_host(m, "h2", true);
    ctl_domain *d = s_domain(m, "web", "h1", CTL_DESIRED_RUNNING, 1024);
    const char *st;
    int reason;

    /* not on the host at all: shut off, drift */
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "shut off");
    char *drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "desired running, host h1 reports shut off");
    g_free(drift);

    s_report(h1, "web", CTL_VIR_RUNNING);
    ctl_model_domain_state(m, d, &st, &reason);
    assert_string_equal(st, "running");
    assert_null(ctl_model_domain_drift(m, d));

    /* paused while desired running */
    s_report(h1, "web", CTL_VIR_PAUSED);
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
    s_report(h2, "web", CTL_VIR_RUNNING);
    assert_string_equal(ctl_model_domain_elsewhere(m, d), "h2");
    drift = ctl_model_domain_drift(m, d);
    assert_string_equal(drift, "running on h2, placed on h1");
    g_free(drift);

    /* a shut-off copy elsewhere is not drift */
    s_report(h2, "web", CTL_VIR_SHUTOFF);
    s_report(h1, "web", CTL_VIR_RUNNING);
    assert_null(ctl_model_domain_elsewhere(m, d));
    assert_null(ctl_model_domain_drift(m, d));

    /* desired shut off and shut off: fine; busy suppresses the sentence */
    ctl_domain *off = s_domain(m, "off", "h1", CTL_DESIRED_SHUTOFF, 1);
    assert_null(ctl_model_domain_drift(m, off));
    off->busy = g_strdup("start");
    s_report(h1, "off", CTL_VIR_RUNNING);
    assert_null(ctl_model_domain_drift(m, off));
    ctl_model_destroy(&m);
}

static void test_put_host_keeps_runtime(void **state)
{
    ctl_model *m = ctl_model_new();
    ctl_host *h = s_host(m, "h1", true);
    h->last_traffic_ms = 42;
    s_report(h, "x", CTL_VIR_RUNNING);
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
    ctl_domain_free(back);
    ctl_domain_free(d);

    drv_error *err = NULL;
    assert_int_equal(ctl_view_domain_parse("db", "{\"revision\":1}", &back, &err), -1);
    assert_non_null(strstr(err->message, "domain 'db'"));
    drv_error_free(&err);
    assert_int_equal(ctl_view_domain_parse("db", "not json", &back, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_free(&err);
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
    s_report(h1, "web", CTL_VIR_PAUSED);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
