/* test_migrate_predict.c — the migration predictor (jobs/migrate_predict.h) against real
 * migrations recorded on the testbed (fixtures/migrations.txt: libvirt 9.0, QEMU 7.2 TCG, guests of
 * tests/guest/boot.S; recorded by bench/migrate_predict/record.sh) and on constructed cases.
 *
 * From the recording, as the controller would: the link's bandwidth is libvirt's memory bandwidth
 * of the uncapped dirtying migration; the fixed cost is what the idle 128 MiB migration took
 * beyond its bytes and its pause (drv_predict_fixed_ms). Then every other recorded case is
 * predicted and compared: the verdict, the wall time within 30 %, the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "migrate_predict.h"

#define MIB (1024ULL * 1024ULL)

/* ------------------------------------------------------------------ the recorded fixture */

typedef struct {
    GHashTable *cases;    /* name → GHashTable key → value */
    GHashTable *last_bps; /* name → last sample's memory bandwidth (MiB/s), as a string */
} s_fixture;

static s_fixture s_fx;

static GHashTable *s_kv(gchar **argv, int from)
{
    GHashTable *kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int i = from; argv[i]; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq)
            g_hash_table_insert(kv, g_strndup(argv[i], (gsize)(eq - argv[i])), g_strdup(eq + 1));
    }
    return kv;
}

static int s_setup(void **state)
{
    (void)state;
    g_autofree char *text = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(FIXTURE_DIR "/migrations.txt", &text, NULL, &gerr)) {
        fprintf(stderr, "fixture: %s\n", gerr->message);
        return -1;
    }
    s_fx.cases =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    s_fx.last_bps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        if (lines[i][0] == '#' || lines[i][0] == '\0')
            continue;
        g_auto(GStrv) argv = NULL;
        if (!g_shell_parse_argv(lines[i], NULL, &argv, NULL) || !argv[0] || !argv[1])
            continue;
        GHashTable *kv = s_kv(argv, 2);
        if (strcmp(argv[0], "case") == 0) {
            g_hash_table_insert(s_fx.cases, g_strdup(argv[1]), kv);
        } else {
            const char *bps = g_hash_table_lookup(kv, "bps");
            if (bps && atoll(bps) > 0)
                g_hash_table_insert(s_fx.last_bps, g_strdup(argv[1]), g_strdup(bps));
            g_hash_table_unref(kv);
        }
    }
    return g_hash_table_size(s_fx.cases) >= 5 ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    g_hash_table_unref(s_fx.cases);
    g_hash_table_unref(s_fx.last_bps);
    return 0;
}

/* A field of a recorded case as a number; fails the test when missing. */
static uint64_t s_num(const char *name, const char *key)
{
    GHashTable *kv = g_hash_table_lookup(s_fx.cases, name);
    assert_non_null(kv);
    const char *v = g_hash_table_lookup(kv, key);
    if (v == NULL)
        fail_msg("case %s has no %s", name, key);
    return g_ascii_strtoull(v, NULL, 10);
}

static const char *s_str(const char *name, const char *key)
{
    GHashTable *kv = g_hash_table_lookup(s_fx.cases, name);
    assert_non_null(kv);
    return g_hash_table_lookup(kv, key);
}

/* The link: libvirt's memory bandwidth of the uncapped dirtying migration. */
static uint64_t s_link_bps(void)
{
    const char *bps = g_hash_table_lookup(s_fx.last_bps, "dirty128");
    assert_non_null(bps);
    return g_ascii_strtoull(bps, NULL, 10) * MIB;
}

/* The pair's fixed cost, from the idle 128 MiB migration. */
static uint64_t s_fixed_ms(void)
{
    return drv_predict_fixed_ms(s_num("idle128", "time_ms"), s_num("idle128", "processed"),
                                s_num("idle128", "downtime_ms"), s_link_bps());
}

/* The predictor's input for a recorded case (its own dirty-rate measurement; none = idle). */
static drv_predict_input s_input(const char *name)
{
    const char *st = s_str(name, "dirty_calc_status");
    const char *mbs = s_str(name, "dirty_megabytes_per_second");
    drv_predict_input in = {
        .memory_bytes = s_num(name, "memory_mib") * MIB,
        .dirty_bps = st && strcmp(st, "2") == 0 && mbs ? g_ascii_strtoull(mbs, NULL, 10) * MIB : 0,
        .dirty_period_ms = s_num(name, "dirty_calc_period") * 1000,
        .bandwidth_bps = s_link_bps(),
        .fixed_ms = s_fixed_ms(),
        .switchover_ms = s_num("idle128", "downtime_ms"),
    };
    return in;
}

static drv_predict_policy s_policy(const char *name, uint32_t timeout_s)
{
    const char *flags = s_str(name, "flags");
    drv_predict_policy pol = {
        .max_downtime_ms = s_num(name, "max_downtime_ms"),
        .bandwidth_bps = s_num(name, "bandwidth_mibs") * MIB,
        .allow_auto_converge = flags && strstr(flags, "--auto-converge"),
        .allow_postcopy = flags && strstr(flags, "--postcopy"),
        .timeout_s = timeout_s,
    };
    return pol;
}

static void s_print(const char *name, const drv_predict *p)
{
    printf(
        "# %-18s %-15s passes %2u throttle %2u%% time %6llu ms downtime %5llu ms %7.1f MiB: %s\n",
        name, drv_predict_verdict_to_string(p->verdict), p->passes, p->throttle_pct,
        (unsigned long long)p->time_ms, (unsigned long long)p->downtime_ms, (double)p->bytes / MIB,
        p->reason);
}

static void test_recorded_inputs(void **state)
{
    (void)state;
    /* what the recording says, so a re-recorded fixture that changed character is noticed */
    assert_string_equal(s_str("idle128", "outcome"), "ok");
    assert_string_equal(s_str("dirty128", "outcome"), "ok");
    assert_string_equal(s_str("dirty128-bw40", "outcome"), "aborted");
    assert_string_equal(s_str("dirty128-bw40-ac", "outcome"), "aborted");
    assert_int_equal(s_input("idle128").dirty_bps, 0);
    assert_true(s_input("dirty128").dirty_bps >= 64 * MIB); /* the guest dirties 96 MiB a tick */
    assert_true(s_link_bps() > 40 * MIB);                   /* faster than the capped cases */
    uint64_t fixed = s_fixed_ms();
    printf("# link %llu MiB/s, fixed cost %llu ms\n", (unsigned long long)(s_link_bps() / MIB),
           (unsigned long long)fixed);
    assert_true(fixed > 0 && fixed < s_num("idle128", "time_ms"));
}

/* The idle guests: pre-copy, two passes, wall time within 30 % of what libvirt measured. */
static void test_recorded_idle_precopy(void **state)
{
    (void)state;
    const char *names[] = {"idle128", "idle512"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        drv_predict_input in = s_input(names[i]);
        in.dirty_bps = 0; /* idle512's calculation had not finished when it was read */
        drv_predict_policy pol = s_policy(names[i], 0);
        drv_predict p;
        drv_predict_choose(&in, &pol, &p);
        s_print(names[i], &p);
        assert_int_equal(p.verdict, DRV_PREDICT_PRECOPY);
        assert_int_equal(p.passes, 2);
        uint32_t e = drv_predict_error_permille(p.time_ms, s_num(names[i], "time_ms"));
        printf("#   wall time error %u.%u %%\n", e / 10, e % 10);
        assert_true(e <= 300);
    }
}

/* The guest dirtying 96 MiB a tick on the uncapped link: pre-copy converges (libvirt: 4
 * iterations, 327 ms of pause); wall time within 30 %, bytes within 30 %. */
static void test_recorded_dirty_uncapped_converges(void **state)
{
    (void)state;
    drv_predict_input in = s_input("dirty128");
    drv_predict_policy pol = s_policy("dirty128", 0);
    drv_predict p;
    drv_predict_choose(&in, &pol, &p);
    s_print("dirty128", &p);
    assert_int_equal(p.verdict, DRV_PREDICT_PRECOPY);
    assert_true(p.passes >= 2);
    assert_true(drv_predict_error_permille(p.time_ms, s_num("dirty128", "time_ms")) <= 300);
    assert_true(drv_predict_error_permille(p.bytes, s_num("dirty128", "processed")) <= 300);
}

/* The non-converging guest: 40 MiB/s cap, libvirt never got below 37 MiB left (≥ 0.9 s of pause
 * against 300 ms) and it was aborted: the predictor says pre-copy cannot converge, and with
 * post-copy allowed it chooses post-copy. */
static void test_recorded_dirty_capped_does_not_converge(void **state)
{
    (void)state;
    drv_predict_input in = s_input("dirty128-bw40");
    drv_predict_policy pol = s_policy("dirty128-bw40", 0);
    drv_predict p;
    drv_predict_choose(&in, &pol, &p);
    s_print("dirty128-bw40", &p);
    assert_int_equal(p.verdict, DRV_PREDICT_CANNOT);
    assert_int_equal(p.bandwidth_bps, 40 * MIB);
    assert_true(p.downtime_ms > pol.max_downtime_ms);
    assert_non_null(strstr(p.reason, "neither auto-converge nor post-copy"));

    pol.allow_postcopy = true;
    drv_predict_choose(&in, &pol, &p);
    s_print("dirty128-bw40 +pc", &p);
    assert_int_equal(p.verdict, DRV_PREDICT_POSTCOPY);
    assert_true(p.downtime_ms <= pol.max_downtime_ms);
    assert_int_equal(p.passes, DRV_PREDICT_POSTCOPY_AFTER_PASSES);
}

/* Auto-converge at 40 MiB/s: libvirt's throttle climbed 20 → 90 % in 17 iterations and the
 * migration was still not done when aborted at 40 s. Predicted: throttled to ≥ 90 %, later than
 * 40 s, so with a 40 s timeout the predictor does not choose auto-converge. */
static void test_recorded_auto_converge_too_slow(void **state)
{
    (void)state;
    drv_predict_input in = s_input("dirty128-bw40-ac");
    drv_predict_policy pol = s_policy("dirty128-bw40-ac", 0);
    assert_true(pol.allow_auto_converge);
    drv_predict p;
    drv_predict_mode(&in, &pol, DRV_PREDICT_AUTO_CONVERGE, &p);
    s_print("dirty128-bw40-ac", &p);
    assert_true(p.throttle_pct >= 90);
    assert_true(p.time_ms > s_num("dirty128-bw40-ac", "wall_ms") - 5000);
    pol.timeout_s = 40;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_CANNOT);
    pol.allow_postcopy = true;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_POSTCOPY);
    assert_true(p.time_ms < 40000);
}

/* ------------------------------------------------------------------ constructed cases */

static void test_unknown_bandwidth(void **state)
{
    (void)state;
    drv_predict_input in = {.memory_bytes = 128 * MIB};
    drv_predict_policy pol = {0};
    drv_predict p;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_UNKNOWN);
    pol.bandwidth_bps = 50 * MIB; /* the cap alone is enough */
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_PRECOPY);
    assert_int_equal(p.bandwidth_bps, 50 * MIB);
}

/* The choice follows the order pre-copy, auto-converge, post-copy, and only what is allowed. */
static void test_choice_order(void **state)
{
    (void)state;
    /* 1 GiB guest dirtying 200 MiB/s over a 100 MiB/s link */
    drv_predict_input in = {.memory_bytes = 1024 * MIB,
                            .dirty_bps = 200 * MIB,
                            .bandwidth_bps = 100 * MIB,
                            .fixed_ms = 1000,
                            .switchover_ms = 50};
    drv_predict_policy pol = {.max_downtime_ms = 300};
    drv_predict p;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_CANNOT);
    pol.allow_postcopy = true;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_POSTCOPY);
    pol.allow_auto_converge = true; /* preferred to post-copy when it converges in time */
    drv_predict_choose(&in, &pol, &p);
    s_print("constructed ac", &p);
    assert_int_equal(p.verdict, DRV_PREDICT_AUTO_CONVERGE);
    assert_true(p.throttle_pct >= DRV_PREDICT_THROTTLE_INITIAL_PCT);
    pol.timeout_s = (uint32_t)(p.time_ms / 1000) - 1; /* auto-converge too slow: post-copy */
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_POSTCOPY);
    /* a slow dirtier converges with plain pre-copy: nothing else is chosen */
    in.dirty_bps = 10 * MIB;
    pol.timeout_s = 0;
    drv_predict_choose(&in, &pol, &p);
    assert_int_equal(p.verdict, DRV_PREDICT_PRECOPY);
    assert_int_equal(p.throttle_pct, 0);
    /* pre-copy time: 1 GiB at 100 MiB/s is 10.24 s plus the rest */
    assert_true(p.time_ms > 1000 + 10240 && p.time_ms < 1000 + 12500);
}

static void test_error_permille(void **state)
{
    (void)state;
    assert_int_equal(drv_predict_error_permille(130, 100), 300);
    assert_int_equal(drv_predict_error_permille(70, 100), 300);
    assert_int_equal(drv_predict_error_permille(0, 0), 0);
    assert_int_equal(drv_predict_error_permille(5, 0), 1000);
    drv_predict_verdict v;
    assert_int_equal(drv_predict_verdict_from_string("post-copy", &v), 0);
    assert_int_equal(v, DRV_PREDICT_POSTCOPY);
    assert_int_equal(drv_predict_verdict_from_string("bogus", &v), -1);
    assert_int_equal(drv_predict_fixed_ms(3000, 100 * MIB, 200, 100 * MIB), 1800);
    assert_int_equal(drv_predict_fixed_ms(500, 100 * MIB, 200, 100 * MIB), 0);
}

static void test_apply(void **state)
{
    (void)state;
    bool ac, pc;
    drv_predict_apply(DRV_PREDICT_PRECOPY, true, true, &ac, &pc);
    assert_false(ac);
    assert_true(pc); /* the monitor's fallback */
    drv_predict_apply(DRV_PREDICT_PRECOPY, true, false, &ac, &pc);
    assert_false(ac);
    assert_false(pc);
    drv_predict_apply(DRV_PREDICT_AUTO_CONVERGE, true, false, &ac, &pc);
    assert_true(ac);
    assert_false(pc);
    drv_predict_apply(DRV_PREDICT_POSTCOPY, true, true, &ac, &pc);
    assert_false(ac);
    assert_true(pc);
    /* never more than allowed */
    drv_predict_apply(DRV_PREDICT_POSTCOPY, false, false, &ac, &pc);
    assert_false(ac);
    assert_false(pc);
    drv_predict_apply(DRV_PREDICT_CANNOT, true, true, &ac, &pc);
    assert_true(ac);
    assert_true(pc);
    drv_predict_apply(DRV_PREDICT_UNKNOWN, false, true, &ac, &pc);
    assert_false(ac);
    assert_true(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_recorded_inputs),
        cmocka_unit_test(test_recorded_idle_precopy),
        cmocka_unit_test(test_recorded_dirty_uncapped_converges),
        cmocka_unit_test(test_recorded_dirty_capped_does_not_converge),
        cmocka_unit_test(test_recorded_auto_converge_too_slow),
        cmocka_unit_test(test_unknown_bandwidth),
        cmocka_unit_test(test_choice_order),
        cmocka_unit_test(test_error_permille),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
