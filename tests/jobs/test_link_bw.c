/* test_link_bw.c — the per-pair link estimate (jobs/link_bw.h): smoothing, samples too small to
 * count, capped migrations as lower bounds, the fixed cost, JSON round trip and refusals, the
 * bounded table's eviction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "link_bw.h"

#define MIB (1024ULL * 1024ULL)

static void test_first_sample_then_ewma(void **state)
{
    (void)state;
    drv_link_est e = {0};
    /* 1,000 MiB in 10 s: 100 MiB/s */
    drv_link_sample s = {
        .bytes = 1000 * MIB, .transfer_ms = 10000, .time_ms = 11500, .downtime_ms = 100};
    assert_int_equal(drv_link_update(&e, &s, 5000), DRV_LINK_TAKEN);
    assert_int_equal(e.bandwidth_bps, 100 * MIB);
    assert_int_equal(e.samples, 1);
    assert_int_equal(e.updated_ms, 5000);
    /* fixed: 11,500 - 10,000 (bytes at the rate) - 100 (pause) */
    assert_int_equal(e.fixed_ms, 1400);
    /* 200 MiB/s next: 100 + 0.3 x 100 = 130 MiB/s */
    drv_link_sample s2 = {
        .bytes = 1000 * MIB, .transfer_ms = 5000, .time_ms = 6000, .downtime_ms = 0};
    assert_int_equal(drv_link_update(&e, &s2, 6000), DRV_LINK_TAKEN);
    assert_int_equal(e.bandwidth_bps, 130 * MIB);
    assert_int_equal(e.last_sample_bps, 200 * MIB);
    assert_int_equal(e.samples, 2);
    /* fixed 1,000: 1,400 + 0.3 x (1,000 - 1,400) = 1,280 */
    assert_int_equal(e.fixed_ms, 1280);
    assert_int_equal(e.fixed_samples, 2);
    /* many equal samples converge on them */
    for (int i = 0; i < 60; i++)
        drv_link_update(&e, &s2, 7000 + (uint64_t)i);
    assert_true(e.bandwidth_bps > 199 * MIB && e.bandwidth_bps <= 200 * MIB);
}

static void test_too_small(void **state)
{
    (void)state;
    drv_link_est e = {.bandwidth_bps = 100 * MIB, .samples = 3};
    /* 8 MiB: latency, not bandwidth */
    drv_link_sample s = {.bytes = 8 * MIB, .transfer_ms = 400, .time_ms = 1900};
    assert_int_equal(drv_link_update(&e, &s, 1), DRV_LINK_TOO_SMALL);
    assert_int_equal(e.bandwidth_bps, 100 * MIB);
    assert_int_equal(e.samples, 3);
    /* the fixed cost still is a sample, at the estimate: 1,900 - 80 */
    assert_int_equal(e.fixed_samples, 1);
    assert_int_equal(e.fixed_ms, 1820);
    /* enough bytes but a transfer too short to time */
    drv_link_sample s2 = {.bytes = 64 * MIB, .transfer_ms = 50};
    assert_int_equal(drv_link_update(&e, &s2, 2), DRV_LINK_TOO_SMALL);
    assert_int_equal(e.bandwidth_bps, 100 * MIB);
    /* nothing known at all: no fixed cost either */
    drv_link_est none = {0};
    assert_int_equal(drv_link_update(&none, &s, 3), DRV_LINK_TOO_SMALL);
    assert_int_equal(none.fixed_samples, 0);
    assert_int_equal(none.bandwidth_bps, 0);
}

static void test_capped_is_lower_bound(void **state)
{
    (void)state;
    drv_link_est e = {0};
    /* uncapped 100 MiB/s */
    drv_link_sample s = {.bytes = 1000 * MIB, .transfer_ms = 10000};
    drv_link_update(&e, &s, 1);
    /* capped at 40 MiB/s and ran at it: says nothing against 100 */
    drv_link_sample c = {.bytes = 400 * MIB, .transfer_ms = 10000, .cap_bps = 40 * MIB};
    assert_int_equal(drv_link_update(&e, &c, 2), DRV_LINK_LOWER_BOUND);
    assert_int_equal(e.bandwidth_bps, 100 * MIB);
    assert_int_equal(e.samples, 1);
    /* capped at 400 MiB/s but ran at 50: the link limited it, a real sample (100 → 85) */
    drv_link_sample c2 = {.bytes = 500 * MIB, .transfer_ms = 10000, .cap_bps = 400 * MIB};
    assert_int_equal(drv_link_update(&e, &c2, 3), DRV_LINK_TAKEN);
    assert_int_equal(e.bandwidth_bps, 85 * MIB);
    /* capped at 120 and ran at 120: raises the estimate (85 + 0.3 x 35 = 95.5) */
    drv_link_sample c3 = {.bytes = 1200 * MIB, .transfer_ms = 10000, .cap_bps = 120 * MIB};
    assert_int_equal(drv_link_update(&e, &c3, 4), DRV_LINK_LOWER_BOUND);
    assert_true(e.bandwidth_bps > 95 * MIB && e.bandwidth_bps < 96 * MIB);
    /* a first, capped sample is taken as it is */
    drv_link_est f = {0};
    assert_int_equal(drv_link_update(&f, &c, 5), DRV_LINK_LOWER_BOUND);
    assert_int_equal(f.bandwidth_bps, 40 * MIB);
}

static void test_json(void **state)
{
    (void)state;
    drv_link_est e = {.bandwidth_bps = 123456789,
                      .fixed_ms = 1400,
                      .samples = 7,
                      .fixed_samples = 8,
                      .last_sample_bps = 99,
                      .updated_ms = 1700000000000};
    json_object *o = drv_link_to_json(&e);
    drv_link_est back;
    json_object *parsed = json_tokener_parse(json_object_to_json_string(o));
    assert_int_equal(drv_link_from_json(parsed, &back), 0);
    assert_memory_equal(&e, &back, sizeof e);
    json_object_put(o);
    json_object_put(parsed);
    const char *bad[] = {"[]", "{\"bandwidth_bps\":-1}", "{\"samples\":\"x\"}",
                         "{\"samples\":99999999999}", "{\"fixed_ms\":1.5}"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        json_object *b = json_tokener_parse(bad[i]);
        assert_int_equal(drv_link_from_json(b, &back), -1);
        json_object_put(b);
    }
    assert_int_equal(drv_link_from_json(NULL, &back), -1);
    json_object *empty = json_tokener_parse("{}");
    assert_int_equal(drv_link_from_json(empty, &back), 0);
    assert_int_equal(back.bandwidth_bps, 0);
    json_object_put(empty);
}

static void test_keys(void **state)
{
    (void)state;
    g_autofree char *k = drv_link_key("h1", "h2");
    assert_string_equal(k, "h1/h2");
    char *a = NULL, *b = NULL;
    assert_true(drv_link_key_split(k, &a, &b));
    assert_string_equal(a, "h1");
    assert_string_equal(b, "h2");
    g_free(a);
    g_free(b);
    const char *bad[] = {"h1", "/h2", "h1/", "a/b/c", ""};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        assert_false(drv_link_key_split(bad[i], &a, &b));
}

static void test_table_bounded(void **state)
{
    (void)state;
    drv_link_table *t = drv_link_table_new(3);
    drv_link_sample s = {.bytes = 100 * MIB, .transfer_ms = 1000};
    drv_link_est got;
    drv_link_use use;
    assert_null(drv_link_table_update(t, "a", "b", &s, 10, &use, &got));
    assert_int_equal(use, DRV_LINK_TAKEN);
    assert_int_equal(got.bandwidth_bps, 100 * MIB);
    assert_null(drv_link_table_update(t, "b", "a", &s, 20, NULL, NULL)); /* ordered pairs */
    drv_link_est loaded = {.bandwidth_bps = 5, .updated_ms = 5};
    assert_null(drv_link_table_set(t, "c", "a", &loaded));
    assert_int_equal(drv_link_table_size(t), 3);
    /* a second sample on a→b updates it (now the newest) */
    assert_null(drv_link_table_update(t, "a", "b", &s, 30, NULL, NULL));
    assert_int_equal(drv_link_table_get(t, "a", "b")->samples, 2);
    /* a fourth pair evicts the least recently updated: c/a (5) */
    g_autofree char *ev = drv_link_table_update(t, "a", "c", &s, 40, NULL, NULL);
    assert_non_null(ev);
    assert_string_equal(ev, "c/a");
    assert_null(drv_link_table_get(t, "c", "a"));
    assert_int_equal(drv_link_table_size(t), 3);
    /* the pair just set is never the one evicted, even when it is the oldest */
    drv_link_est old = {.bandwidth_bps = 1, .updated_ms = 1};
    g_autofree char *ev2 = drv_link_table_set(t, "z", "y", &old);
    assert_string_equal(ev2, "b/a");
    assert_non_null(drv_link_table_get(t, "z", "y"));
    assert_null(drv_link_table_get(t, "x", "y"));
    drv_link_table_destroy(&t);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_sample_then_ewma),
        cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_capped_is_lower_bound),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_table_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
