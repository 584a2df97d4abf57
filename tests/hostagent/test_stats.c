/* test_stats.c — the agent's statistics: /proc parsers and the rates between two samples
 * (hostagent/stats.c, docs/observability.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stats.h"

static void test_proc_parsers(void **state)
{
    (void)state;
    drv_stats_cpu_raw c;
    drv_error *err = NULL;
    assert_int_equal(drv_stats_parse_proc_stat("cpu  100 0 50 800 40 5 5 0 0 0\n"
                                               "cpu0 50 0 25 400 20 2 3 0 0 0\n"
                                               "cpu1 50 0 25 400 20 3 2 0 0 0\nintr 1\n",
                                               &c, &err),
                     0);
    assert_int_equal(c.cpus, 2);
    assert_int_equal(c.user, 100);
    assert_int_equal(c.idle, 800);
    assert_int_equal(c.iowait, 40);
    assert_int_equal(drv_stats_parse_proc_stat("intr 1\n", &c, &err), -1);
    assert_string_equal(err->message, "/proc/stat: no aggregate \"cpu\" line");
    drv_error_destroy(&err);
    uint64_t total = 0, avail = 0;
    assert_int_equal(drv_stats_parse_meminfo("MemTotal:  1000 kB\nMemFree: 10 kB\n"
                                             "MemAvailable:   600 kB\n",
                                             &total, &avail, &err),
                     0);
    assert_int_equal(total, 1000);
    assert_int_equal(avail, 600);
    assert_int_equal(drv_stats_parse_meminfo("MemTotal: 1 kB\n", &total, &avail, &err), -1);
    drv_error_destroy(&err);
    double a, b, d;
    assert_int_equal(drv_stats_parse_loadavg("0.50 1.25 2.00 1/100 42\n", &a, &b, &d, &err), 0);
    assert_true(a == 0.5 && b == 1.25 && d == 2.0);
    assert_int_equal(drv_stats_parse_loadavg("x", &a, &b, &d, &err), -1);
    drv_error_destroy(&err);
}

static void test_host_rates(void **state)
{
    (void)state;
    drv_stats_host_raw p = {
        .cpu = {.user = 100, .system = 50, .idle = 800, .iowait = 50, .cpus = 2}};
    drv_stats_host_raw c = p;
    /* 200 jiffies pass: 120 busy (incl. 20 steal), 60 idle, 20 iowait */
    c.cpu.user += 100;
    c.cpu.steal += 20;
    c.cpu.idle += 60;
    c.cpu.iowait += 20;
    drv_stats_host_rates r;
    drv_stats_host_rates_compute(NULL, &c, &r);
    assert_false(r.cpu_known); /* no rate without a previous sample */
    drv_stats_host_rates_compute(&p, &c, &r);
    assert_true(r.cpu_known);
    assert_true(r.cpu_busy == 0.6);
    assert_true(r.cpu_iowait == 0.1);
    assert_true(r.cpu_steal == 0.1);
    assert_int_equal(r.cpus, 2);
    drv_stats_host_rates_compute(&c, &p, &r); /* counters backwards: unknown */
    assert_false(r.cpu_known);
}

static void test_domain_rates(void **state)
{
    (void)state;
    drv_stats_dom_raw p = {.name = "vm",
                           .cpu_time_ns = 1000000000ull,
                           .vcpu_delay_ns = 0,
                           .vcpus = 2,
                           .block_rd_bytes = 1000,
                           .net_tx_bytes = 0};
    drv_stats_dom_raw c = p;
    c.cpu_time_ns += 15000000000ull;  /* 15 s of CPU in 10 s: 1.5 CPUs */
    c.vcpu_delay_ns += 5000000000ull; /* 5 s waiting: 0.5 CPUs' worth of steal */
    c.block_rd_bytes += 10240;
    c.net_tx_bytes += 2000;
    drv_stats_dom_rates r;
    drv_stats_dom_rates_compute(&p, &c, 10000, &r);
    assert_true(r.rates_known);
    assert_true(r.cpu == 1.5);
    assert_true(r.steal == 0.5);
    assert_true(r.block_read_bps == 1024.0);
    assert_true(r.net_tx_bps == 200.0);
    assert_string_equal(r.name, "vm");
    g_free(r.name);
    drv_stats_dom_rates_compute(NULL, &c, 10000, &r); /* first sample: no rate */
    assert_false(r.rates_known);
    g_free(r.name);
    drv_stats_dom_rates_compute(&c, &p, 10000, &r); /* restarted: counters went back */
    assert_false(r.rates_known);
    assert_true(r.cpu == 0);
    g_free(r.name);
}

static void test_host_cpu_from_guests(void **state)
{
    (void)state;
    drv_stats_report r = {0};
    r.host.cpus = 4;
    r.host.cpu_known = true;
    r.host.cpu_busy = 0.9; /* the shared kernel's figure, replaced */
    r.host.cpu_steal = 0.1;
    r.domains = g_array_new(FALSE, TRUE, sizeof(drv_stats_dom_rates));
    drv_stats_dom_rates a = {.name = "a", .rates_known = true, .cpu = 1.0};
    drv_stats_dom_rates b = {.name = "b", .rates_known = true, .cpu = 0.5};
    g_array_append_val(r.domains, a);
    g_array_append_val(r.domains, b);
    drv_stats_host_cpu_from_guests(&r);
    assert_true(r.host.cpu_known);
    assert_true(r.host.cpu_busy > 0.374 && r.host.cpu_busy < 0.376); /* 1.5 CPUs of 4 */
    assert_true(r.host.cpu_steal == 0);
    /* more than the host has (rounding of two samples): at most 1 */
    g_array_index(r.domains, drv_stats_dom_rates, 1).cpu = 4.0;
    drv_stats_host_cpu_from_guests(&r);
    assert_true(r.host.cpu_busy == 1.0);
    /* a domain without rates yet: the host's figure is not known either */
    g_array_index(r.domains, drv_stats_dom_rates, 0).rates_known = false;
    drv_stats_host_cpu_from_guests(&r);
    assert_false(r.host.cpu_known);
    /* no guest: an idle host */
    g_array_set_size(r.domains, 0);
    drv_stats_host_cpu_from_guests(&r);
    assert_true(r.host.cpu_known);
    assert_true(r.host.cpu_busy == 0);
    g_array_unref(r.domains);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proc_parsers),
        cmocka_unit_test(test_host_rates),
        cmocka_unit_test(test_domain_rates),
        cmocka_unit_test(test_host_cpu_from_guests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
