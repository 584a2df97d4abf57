/* test_clock_skew.c — the host clock estimate (controller/clock_skew.c): a lower bound of
 * (host clock − controller clock) from the agents' send times, and expiries stated in the host's
 * clock never later than meant. */
#include "clock_skew.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_unknown_until_a_sample(void **state)
{
    (void)state;
    ctl_clock_skew k;
    ctl_clock_skew_reset(&k);
    int64_t s = 42;
    assert_false(ctl_clock_skew_get(&k, &s));
    assert_int_equal(ctl_clock_skew_to_host(&k, 1000000), 1000000); /* unknown: as it is */
    ctl_clock_skew_add(&k, 0, 5000);                                /* an agent that does not say */
    assert_false(ctl_clock_skew_get(&k, &s));
}

/* The host is 120 s ahead; messages take 3..40 ms to be read: every sample is below the truth,
 * the estimate is the closest (the fastest message), and an expiry moved by it is never later in
 * the host's clock than the controller's expiry plus the true skew. */
static void test_lower_bound_is_the_fastest_message(void **state)
{
    (void)state;
    const int64_t truth = 120000;
    const int64_t transit[] = {40, 12, 3, 25, 9};
    ctl_clock_skew k;
    ctl_clock_skew_reset(&k);
    for (size_t i = 0; i < sizeof(transit) / sizeof(transit[0]); i++) {
        int64_t ctl_send = 1700000000000 + (int64_t)i * 1000;
        ctl_clock_skew_add(&k, ctl_send + truth, ctl_send + transit[i]);
    }
    int64_t s = 0;
    assert_true(ctl_clock_skew_get(&k, &s));
    assert_int_equal(s, truth - 3);
    int64_t expiry = 1700000030000;
    int64_t host_expiry = ctl_clock_skew_to_host(&k, expiry);
    assert_true(host_expiry <= expiry + truth);
    assert_int_equal(host_expiry, expiry + truth - 3);
    assert_int_equal(ctl_clock_skew_to_host(&k, 0), 0); /* no expiry stays none */
}

/* A host behind the controller: negative estimates, expiries moved earlier. */
static void test_behind(void **state)
{
    (void)state;
    ctl_clock_skew k;
    ctl_clock_skew_reset(&k);
    ctl_clock_skew_add(&k, 1000000 - 60000, 1000000 + 5);
    ctl_clock_skew_add(&k, 1001000 - 60000, 1001000 + 2);
    int64_t s = 0;
    assert_true(ctl_clock_skew_get(&k, &s));
    assert_int_equal(s, -60002);
    assert_int_equal(ctl_clock_skew_to_host(&k, 2000000), 2000000 - 60002);
}

/* Only the last CTL_CLOCK_SKEW_SAMPLES count: a clock set right (NTP stepped it) shows after them;
 * a reset forgets everything (another agent process). */
static void test_window_and_reset(void **state)
{
    (void)state;
    ctl_clock_skew k;
    ctl_clock_skew_reset(&k);
    ctl_clock_skew_add(&k, 1000 + 90000, 1000); /* 90 s ahead once */
    for (int i = 0; i < CTL_CLOCK_SKEW_SAMPLES - 1; i++)
        ctl_clock_skew_add(&k, 2000 + i, 2000 + i + 1);
    int64_t s = 0;
    assert_true(ctl_clock_skew_get(&k, &s));
    assert_int_equal(s, 90000); /* still in the window */
    ctl_clock_skew_add(&k, 9000, 9001);
    assert_true(ctl_clock_skew_get(&k, &s));
    assert_int_equal(s, -1); /* the stepped sample left the window */
    ctl_clock_skew_reset(&k);
    assert_false(ctl_clock_skew_get(&k, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_until_a_sample),
        cmocka_unit_test(test_lower_bound_is_the_fastest_message),
        cmocka_unit_test(test_behind),
        cmocka_unit_test(test_window_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
