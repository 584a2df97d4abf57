/* test_store_doubt.c — the verdict on a desired-state write whose etcd outcome was unknown
 * (controller/store_doubt.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_doubt.h"

static void test_landed(void **state)
{
    (void)state;
    /* the record moved past the compared revision and holds what was written */
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, true, 11, CTL_DESIRED_SHUTOFF, false),
        CTL_DOUBT_LANDED);
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, true, 11, CTL_DESIRED_SHUTOFF, true),
        CTL_DOUBT_LANDED);
    assert_int_equal(ctl_doubt_verdict(10, CTL_DESIRED_PAUSED, true, 40, CTL_DESIRED_PAUSED, false),
                     CTL_DOUBT_LANDED);
}

static void test_not_landed(void **state)
{
    (void)state;
    /* moved on with another desired state: something else replaced it, nothing to put back */
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, true, 11, CTL_DESIRED_RUNNING, false),
        CTL_DOUBT_NOT_LANDED);
    /* undefined meanwhile */
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, false, 0, CTL_DESIRED_SHUTOFF, false),
        CTL_DOUBT_NOT_LANDED);
    /* still at the old revision once etcd has answered again long enough */
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, true, 10, CTL_DESIRED_RUNNING, true),
        CTL_DOUBT_NOT_LANDED);
}

static void test_open(void **state)
{
    (void)state;
    /* still at the old revision while etcd is away (or just back): it may yet be applied */
    assert_int_equal(
        ctl_doubt_verdict(10, CTL_DESIRED_SHUTOFF, true, 10, CTL_DESIRED_RUNNING, false),
        CTL_DOUBT_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_landed),
        cmocka_unit_test(test_not_landed),
        cmocka_unit_test(test_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
