/* test_fence.c — the agent's self-fence timing (hostagent/fence.c): fence exactly when no renewal
 * succeeded for fence_after (measured from the renewal's SEND time), or at once on a lost lease;
 * once per episode; a renewal re-arms; the TTL must leave the margin; a restarted agent inherits
 * its predecessor's last renewal (and fences at once when that is too old). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fence.h"

static const drv_fence_cfg s_cfg = {.fence_after_ms = 10000, .lease_ttl_ms = 15000};

static void test_cfg_margin(void **state)
{
    (void)state;
    assert_int_equal(drv_fence_cfg_check(&s_cfg, NULL), 0);
    drv_fence_cfg tight = {.fence_after_ms = 10000, .lease_ttl_ms = 13999};
    drv_error *err = NULL;
    assert_int_equal(drv_fence_cfg_check(&tight, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_fence_cfg exact = {.fence_after_ms = 10000, .lease_ttl_ms = 14000};
    assert_int_equal(drv_fence_cfg_check(&exact, NULL), 0);
    drv_fence_cfg zero = {.fence_after_ms = 0, .lease_ttl_ms = 14000};
    assert_int_equal(drv_fence_cfg_check(&zero, NULL), -1);
}

static void test_due_after_silence(void **state)
{
    (void)state;
    drv_fence_state st = {.last_renew_sent_ms = 1000};
    /* renewals every second keep it quiet */
    for (int64_t t = 1000; t < 60000; t += 1000) {
        assert_false(drv_fence_due(&s_cfg, &st, t + 999));
        drv_fence_renewed(&st, t);
    }
    /* then silence: not at 9.999 s, exactly at 10 s after the last SEND */
    int64_t last = st.last_renew_sent_ms;
    assert_false(drv_fence_due(&s_cfg, &st, last + 9999));
    assert_int_equal(drv_fence_wait_ms(&s_cfg, &st, last + 9000), 1000);
    assert_true(drv_fence_due(&s_cfg, &st, last + 10000));
    assert_int_equal(drv_fence_wait_ms(&s_cfg, &st, last + 10000), 0);
    /* once per episode */
    st.fenced = true;
    assert_false(drv_fence_due(&s_cfg, &st, last + 20000));
    assert_int_equal(drv_fence_wait_ms(&s_cfg, &st, last + 20000), INT64_MAX);
    /* a renewal ends the episode and re-arms */
    drv_fence_renewed(&st, last + 21000);
    assert_false(st.fenced);
    assert_false(drv_fence_due(&s_cfg, &st, last + 30000));
    assert_true(drv_fence_due(&s_cfg, &st, last + 31000));
    /* the fence always comes before the earliest expiry, with the margin */
    assert_true(s_cfg.fence_after_ms + DRV_FENCE_MARGIN_S * 1000 <= s_cfg.lease_ttl_ms);
}

/* A renewal reported late (its answer arrived after a newer one) never moves the clock back. */
static void test_renewal_order(void **state)
{
    (void)state;
    drv_fence_state st = {.last_renew_sent_ms = 5000};
    drv_fence_renewed(&st, 4000);
    assert_int_equal(st.last_renew_sent_ms, 5000);
    drv_fence_renewed(&st, 6000);
    assert_int_equal(st.last_renew_sent_ms, 6000);
}

static void test_lost_lease_fences_at_once(void **state)
{
    (void)state;
    drv_fence_state st = {.last_renew_sent_ms = 1000, .lease_lost = true};
    assert_true(drv_fence_due(&s_cfg, &st, 1001));
    assert_int_equal(drv_fence_wait_ms(&s_cfg, &st, 1001), 0);
    drv_fence_renewed(&st, 2000); /* a new lease */
    assert_false(st.lease_lost);
    assert_false(drv_fence_due(&s_cfg, &st, 2001));
}

static void test_restart_inherits(void **state)
{
    (void)state;
    const int64_t now = 500000, wall = 1700000000000LL;
    /* no state: counts as renewed now */
    assert_int_equal(drv_fence_start_renewed_ms(now, wall, 0), now);
    /* a clock that went back: renewed now (never in the future) */
    assert_int_equal(drv_fence_start_renewed_ms(now, wall, wall + 5000), now);
    /* predecessor renewed 3 s ago: 7 s left before the fence */
    drv_fence_state st = {.last_renew_sent_ms = drv_fence_start_renewed_ms(now, wall, wall - 3000)};
    assert_int_equal(st.last_renew_sent_ms, now - 3000);
    assert_false(drv_fence_due(&s_cfg, &st, now));
    assert_int_equal(drv_fence_wait_ms(&s_cfg, &st, now), 7000);
    /* predecessor renewed 12 s ago (its lease may be running out): fence at once */
    st.last_renew_sent_ms = drv_fence_start_renewed_ms(now, wall, wall - 12000);
    assert_true(drv_fence_due(&s_cfg, &st, now));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_margin),       cmocka_unit_test(test_due_after_silence),
        cmocka_unit_test(test_renewal_order),    cmocka_unit_test(test_lost_lease_fences_at_once),
        cmocka_unit_test(test_restart_inherits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
