/* test_metrics.c — the pure parts of /metrics: the listen address and its loopback rule
 * (metrics.c), the histograms and job counters (counters.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void s_ok(const char *listen, int family, unsigned port, bool loopback)
{
    struct sockaddr_storage sa;
    bool lo = !loopback;
    drv_error *err = NULL;
    assert_int_equal(ctl_metrics_parse_listen(listen, &sa, &lo, &err), 0);
    assert_null(err);
    assert_int_equal(sa.ss_family, family);
    unsigned got = family == AF_INET ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    assert_int_equal(got, port);
    assert_int_equal(lo, loopback);
}

static void s_bad(const char *listen)
{
    struct sockaddr_storage sa;
    bool lo = false;
    drv_error *err = NULL;
    assert_int_equal(ctl_metrics_parse_listen(listen, &sa, &lo, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "[metrics] listen"));
    drv_error_destroy(&err);
}

static void test_listen(void **state)
{
    (void)state;
    s_ok("127.0.0.1:9100", AF_INET, 9100, true);
    s_ok("127.3.2.1:0", AF_INET, 0, true);
    s_ok("0.0.0.0:9100", AF_INET, 9100, false);
    s_ok("10.0.0.1:80", AF_INET, 80, false);
    s_ok("128.0.0.1:80", AF_INET, 80, false);
    s_ok("[::1]:9100", AF_INET6, 9100, true);
    s_ok("[::]:9100", AF_INET6, 9100, false);
    s_bad("127.0.0.1");
    s_bad("127.0.0.1:");
    s_bad(":9100");
    s_bad("localhost:9100");
    s_bad("127.0.0.1:http");
    s_bad("127.0.0.1:65536");
    s_bad("127.0.0.1:-1");
    s_bad("::1:9100");
    s_bad("[::1]9100");
}

static void test_hist(void **state)
{
    (void)state;
    ctl_hist h = {0};
    ctl_hist_observe(&h, 0.0001); /* first bucket */
    ctl_hist_observe(&h, 0.001);  /* exactly on a bound: in it */
    ctl_hist_observe(&h, 0.3);
    ctl_hist_observe(&h, 1000); /* above every bound: only +Inf */
    ctl_hist_observe(&h, -5);   /* a clock step back counts as 0 */
    assert_int_equal(h.count, 5);
    assert_int_equal(ctl_hist_cumulative(&h, 0), 2);
    assert_int_equal(ctl_hist_cumulative(&h, 1), 3);
    assert_int_equal(ctl_hist_cumulative(&h, 8), 3); /* <= 0.25 */
    assert_int_equal(ctl_hist_cumulative(&h, 9), 4); /* <= 0.5 */
    assert_int_equal(ctl_hist_cumulative(&h, CTL_HIST_BUCKETS - 1), 4);
    assert_true(h.sum > 1000.3 && h.sum < 1000.302);
    for (unsigned i = 1; i < CTL_HIST_BUCKETS; i++)
        assert_true(ctl_hist_bounds[i] > ctl_hist_bounds[i - 1]);
}

static void test_jobs(void **state)
{
    (void)state;
    ctl_counters k = {0};
    drv_job j = {.kind = DRV_JOB_KIND_MIGRATE, .state = DRV_JOB_SUCCEEDED, .created_ms = 1000};
    ctl_counters_job_ended(&k, &j, 3500);
    j.state = DRV_JOB_FAILED;
    ctl_counters_job_ended(&k, &j, 900); /* wall clock behind created: 0 s */
    j.kind = DRV_JOB_KIND_DRAIN;
    j.state = DRV_JOB_CANCELLED;
    ctl_counters_job_ended(&k, &j, 61000 + 1000);
    j.kind = DRV_JOB_KIND_START; /* not counted */
    ctl_counters_job_ended(&k, &j, 2000);
    assert_int_equal(k.migrations[CTL_RESULT_SUCCEEDED], 1);
    assert_int_equal(k.migrations[CTL_RESULT_FAILED], 1);
    assert_int_equal(k.migrations[CTL_RESULT_CANCELLED], 0);
    assert_int_equal(k.drains[CTL_RESULT_CANCELLED], 1);
    assert_int_equal(k.migration.count, 2);
    assert_true(k.migration.sum > 2.49 && k.migration.sum < 2.51);
    assert_int_equal(k.drain.count, 1);
    assert_int_equal(ctl_hist_cumulative(&k.drain, CTL_HIST_BUCKETS - 1), 0); /* 61 s > 60 */
    assert_string_equal(ctl_result_to_string(CTL_RESULT_CANCELLED), "cancelled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
