/* test_sched_cluster.c — the cluster model's bookkeeping and error contract: duplicates, unknown
 * names, host removal, moves, running/stopped accounting, reservations, config, enum tables, size
 * parsing and snapshot parse errors that name the object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

static drv_sched_cluster *s_two_hosts(void)
{
    drv_sched_cluster *c = drv_sched_cluster_new(NULL);
    const char *f1[] = {"avx2", NULL};
    drv_sched_host_spec h = {.id = "h1",
                             .arch = "x86_64",
                             .cpus = 4,
                             .memory_kib = 8 << 20,
                             .features = f1,
                             .reachable = true};
    assert_int_equal(drv_sched_cluster_add_host(c, &h, NULL), 0);
    h.id = "h2";
    h.features = NULL;
    assert_int_equal(drv_sched_cluster_add_host(c, &h, NULL), 0);
    return c;
}

static void test_duplicates_and_unknowns(void **state)
{
    (void)state;
    drv_sched_cluster *c = s_two_hosts();
    drv_error *err = NULL;
    drv_sched_host_spec h = {.id = "h1", .cpus = 1, .memory_kib = 1};
    assert_int_equal(drv_sched_cluster_add_host(c, &h, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_EXISTS);
    assert_non_null(strstr(err->message, "h1"));
    drv_error_destroy(&err);

    h.id = "h3";
    h.reserved_memory_kib = 2;
    assert_int_equal(drv_sched_cluster_add_host(c, &h, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);

    drv_sched_domain_spec d = {.name = "vm1", .host = "nope", .vcpus = 1, .memory_kib = 1};
    assert_int_equal(drv_sched_cluster_add_domain(c, &d, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, "vm1"));
    drv_error_destroy(&err);
    assert_int_equal(drv_sched_cluster_n_domains(c), 0);

    assert_int_equal(drv_sched_cluster_remove_domain(c, "vm1", &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);
    assert_int_equal(drv_sched_cluster_set_host_state(c, "zz", DRV_SCHED_HOST_ACTIVE, &err), -1);
    drv_error_destroy(&err);
    drv_sched_reservation r = {.id = "r", .host = "zz", .vcpus = 1};
    assert_int_equal(drv_sched_cluster_add_reservation(c, &r, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);
    drv_sched_cluster_destroy(&c);
    assert_null(c);
    drv_sched_cluster_destroy(&c); /* NULL-safe */
}

static void test_accounting(void **state)
{
    (void)state;
    drv_sched_cluster *c = s_two_hosts();
    drv_sched_host_usage u;
    drv_sched_domain_spec d = {
        .name = "vm1", .host = "h1", .vcpus = 3, .memory_kib = 1 << 20, .running = true};
    assert_int_equal(drv_sched_cluster_add_domain(c, &d, NULL), 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h1", &u, NULL), 0);
    assert_int_equal(u.vcpu_capacity, 16);
    assert_int_equal(u.vcpus_allocated, 3);
    assert_int_equal(u.memory_free_kib, (8 << 20) - (1 << 20));
    assert_int_equal(u.n_domains, 1);

    /* stopping releases the room but keeps the placement */
    assert_int_equal(drv_sched_cluster_set_domain_running(c, "vm1", false, NULL), 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h1", &u, NULL), 0);
    assert_int_equal(u.vcpus_allocated, 0);
    assert_int_equal(u.n_domains, 1);
    assert_string_equal(drv_sched_cluster_domain_host(c, "vm1"), "h1");
    assert_int_equal(drv_sched_cluster_set_domain_running(c, "vm1", true, NULL), 0);

    /* moving books on the new host */
    assert_int_equal(drv_sched_cluster_move_domain(c, "vm1", "h2", NULL), 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h1", &u, NULL), 0);
    assert_int_equal(u.vcpus_allocated, 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h2", &u, NULL), 0);
    assert_int_equal(u.vcpus_allocated, 3);

    /* reservations count like allocations until removed */
    drv_sched_reservation r = {.id = "mig", .host = "h1", .vcpus = 2, .memory_kib = 4 << 20};
    assert_int_equal(drv_sched_cluster_add_reservation(c, &r, NULL), 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h1", &u, NULL), 0);
    assert_int_equal(u.vcpus_allocated, 2);
    assert_int_equal(u.n_reservations, 1);
    drv_sched_request req = {.vcpus = 1, .memory_kib = 5 << 20, .avoid_hosts = NULL};
    drv_sched_result *res = NULL;
    assert_int_equal(drv_sched_place(c, &req, &res, NULL), 0);
    assert_string_equal(res->host, "h2"); /* h1 has only 4 GiB left */
    drv_sched_result_destroy(&res);
    assert_int_equal(drv_sched_cluster_remove_reservation(c, "mig", NULL), 0);
    assert_int_equal(drv_sched_cluster_host_usage(c, "h1", &u, NULL), 0);
    assert_int_equal(u.vcpus_allocated, 0);

    /* removing a host unplaces its domains; the last host takes its slot */
    assert_int_equal(drv_sched_cluster_remove_host(c, "h2", NULL), 0);
    assert_null(drv_sched_cluster_domain_host(c, "vm1"));
    assert_true(drv_sched_cluster_has_domain(c, "vm1"));
    assert_int_equal(drv_sched_cluster_n_hosts(c), 1);
    assert_string_equal(drv_sched_cluster_host_id(c, 0), "h1");
    assert_null(drv_sched_cluster_host_id(c, 1));
    assert_int_equal(drv_sched_cluster_remove_host(c, "h1", NULL), 0);
    assert_int_equal(drv_sched_cluster_n_hosts(c), 0);
    assert_int_equal(drv_sched_place(c, &req, &res, NULL), 0);
    assert_false(res->fits);
    g_autofree char *why = drv_sched_explain(res);
    assert_string_equal(why, "no host fits: the cluster has no hosts");
    drv_sched_result_destroy(&res);
    drv_sched_cluster_destroy(&c);
}

static void test_remove_first_host_keeps_features(void **state)
{
    (void)state;
    drv_sched_cluster *c = s_two_hosts();
    /* h2 (no avx2) moves into h1's slot; requests must see h2's own flags */
    assert_int_equal(drv_sched_cluster_remove_host(c, "h1", NULL), 0);
    const char *want[] = {"avx2", NULL};
    drv_sched_request req = {.vcpus = 1, .memory_kib = 1, .features = want};
    drv_sched_result *res = NULL;
    assert_int_equal(drv_sched_place(c, &req, &res, NULL), 0);
    assert_false(res->fits);
    assert_string_equal(res->missing_features[0], "avx2");
    drv_sched_result_destroy(&res);
    drv_sched_cluster_destroy(&c);
}

static void test_many_flags_grow_bitsets(void **state)
{
    (void)state;
    drv_sched_cluster *c = drv_sched_cluster_new(NULL);
    char names[200][8];
    const char *all[201];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        all[i] = names[i];
    }
    all[200] = NULL;
    const char *few[] = {"f3", NULL};
    drv_sched_host_spec h = {
        .id = "small", .cpus = 1, .memory_kib = 1 << 20, .features = few, .reachable = true};
    assert_int_equal(drv_sched_cluster_add_host(c, &h, NULL), 0);
    h.id = "big";
    h.features = all;
    assert_int_equal(drv_sched_cluster_add_host(c, &h, NULL), 0);
    const char *req_f[] = {"f3", "f199", NULL};
    drv_sched_request req = {.vcpus = 1, .memory_kib = 1, .features = req_f};
    drv_sched_result *res = NULL;
    assert_int_equal(drv_sched_place(c, &req, &res, NULL), 0);
    assert_string_equal(res->host, "big");
    assert_int_equal(res->rejected[DRV_SCHED_FILTER_FEATURES], 1);
    assert_string_equal(res->missing_features[0], "f199");
    assert_null(res->missing_features[1]);
    drv_sched_result_destroy(&res);
    g_auto(GStrv) base = drv_sched_baseline_features(c, NULL);
    assert_int_equal(g_strv_length(base), 1);
    assert_string_equal(base[0], "f3");
    drv_sched_cluster_destroy(&c);
}

static void test_config_and_enums(void **state)
{
    (void)state;
    drv_sched_cluster *c = drv_sched_cluster_new(NULL);
    drv_sched_config cfg = *drv_sched_cluster_get_config(c);
    assert_true(cfg.cpu_ratio == 4.0 && cfg.memory_ratio == 1.0);
    assert_int_equal(cfg.weigher, DRV_SCHED_WEIGHER_SPREAD);
    cfg.cpu_ratio = 0;
    drv_error *err = NULL;
    assert_int_equal(drv_sched_cluster_set_config(c, &cfg, &err), -1);
    assert_non_null(strstr(err->message, "cpu_ratio"));
    drv_error_destroy(&err);
    cfg.cpu_ratio = 1.0;
    cfg.alternates = DRV_SCHED_MAX_ALTERNATES + 1;
    assert_int_equal(drv_sched_cluster_set_config(c, &cfg, &err), -1);
    drv_error_destroy(&err);
    drv_sched_cluster_destroy(&c);

    for (int f = 0; f < DRV_SCHED_FILTER_LAST; f++) {
        drv_sched_filter back;
        assert_int_equal(drv_sched_filter_from_string(drv_sched_filter_to_string(f), &back), 0);
        assert_int_equal(back, f);
    }
    assert_null(drv_sched_filter_to_string(DRV_SCHED_FILTER_LAST));
    drv_sched_host_state st;
    assert_int_equal(drv_sched_host_state_from_string("preparing-maintenance", &st), 0);
    assert_int_equal(st, DRV_SCHED_HOST_PREPARING_MAINTENANCE);
    assert_int_equal(drv_sched_host_state_from_string("broken", &st), -1);
    drv_sched_weigher w;
    assert_int_equal(drv_sched_weigher_from_string("pack", &w), 0);
    assert_int_equal(w, DRV_SCHED_WEIGHER_PACK);
    assert_string_equal(drv_sched_limit_to_string(DRV_SCHED_LIMIT_BOTH), "memory+vcpus");
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t kib = 0;
    assert_int_equal(drv_sched_parse_size_kib("64G", &kib, NULL), 0);
    assert_int_equal(kib, 64ull << 20);
    assert_int_equal(drv_sched_parse_size_kib("512MiB", &kib, NULL), 0);
    assert_int_equal(kib, 512ull << 10);
    assert_int_equal(drv_sched_parse_size_kib("1025", &kib, NULL), 0);
    assert_int_equal(kib, 2);
    assert_int_equal(drv_sched_parse_size_kib("1T", &kib, NULL), 0);
    assert_int_equal(kib, 1ull << 30);
    drv_error *err = NULL;
    assert_int_equal(drv_sched_parse_size_kib("12X", &kib, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    assert_int_equal(drv_sched_parse_size_kib("-1G", &kib, NULL), -1);
    g_autofree char *a = drv_sched_format_kib(64ull << 20);
    g_autofree char *b = drv_sched_format_kib(1536);
    g_autofree char *t = drv_sched_format_kib(2ull << 30);
    g_autofree char *odd = drv_sched_format_kib(825528); /* issue 17: not "825528 KiB" */
    g_autofree char *small = drv_sched_format_kib(512);
    assert_string_equal(a, "64 GiB");
    assert_string_equal(b, "1.5 MiB");
    assert_string_equal(t, "2 TiB");
    assert_string_equal(odd, "806.2 MiB");
    assert_string_equal(small, "512 KiB");
}

static void test_snapshot_errors_name_the_object(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"[1]", "must be an object"},
        {"{\"version\": 2}", "version 2"},
        {"{\"hosts\": [{\"id\": \"h1\", \"state\": \"sleeping\"}]}", "host h1: unknown state"},
        {"{\"hosts\": [{\"id\": \"h1\", \"cpus\": -1}]}", "host h1: \"cpus\""},
        {"{\"hosts\": [{\"cpus\": 1}]}", "host #0: missing \"id\""},
        {"{\"hosts\": [{\"id\": \"h1\", \"memory\": \"lots\"}]}", "host h1: \"memory\""},
        {"{\"domains\": [{\"name\": \"vm\", \"host\": \"h9\"}]}", "vm: placed on unknown host h9"},
        {"{\"config\": {\"weigher\": \"random\"}}", "unknown weigher"},
        {"{\"hosts\": [", "not valid JSON"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        drv_sched_cluster *c = NULL;
        drv_error *err = NULL;
        assert_int_equal(drv_sched_cluster_from_json(cases[i].text, &c, &err), -1);
        assert_null(c);
        if (!strstr(err->message, cases[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err->message, cases[i].needle);
        assert_int_equal(err->kind,
                         DRV_ERR_INVALID == err->kind ? DRV_ERR_INVALID : DRV_ERR_NOT_FOUND);
        drv_error_destroy(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates_and_unknowns),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_remove_first_host_keeps_features),
        cmocka_unit_test(test_many_flags_grow_bitsets),
        cmocka_unit_test(test_config_and_enums),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_snapshot_errors_name_the_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
