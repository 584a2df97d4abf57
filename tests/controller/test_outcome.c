/* test_outcome.c — the verdict on a verb whose outcome was unknown (controller/outcome.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "outcome.h"

static void test_destroy(void **state)
{
    (void)state;
    /* destroy: running → shutoff */
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_SHUTOFF),
                     CTL_VERDICT_HAPPENED);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, -1),
                     CTL_VERDICT_HAPPENED); /* gone from the host (transient) */
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_RUNNING),
                     CTL_VERDICT_NOT_HAPPENED);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_BLOCKED),
                     CTL_VERDICT_NOT_HAPPENED);
    /* a shutdown still under way tells nothing yet */
    assert_int_equal(
        ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_SHUTDOWN),
        CTL_VERDICT_OPEN);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_NOSTATE),
                     CTL_VERDICT_OPEN);
    /* paused is neither what was wanted nor what was: open */
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_SHUTOFF, CTL_VIR_PAUSED),
                     CTL_VERDICT_OPEN);
}

static void test_suspend_resume(void **state)
{
    (void)state;
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_PAUSED, CTL_VIR_PAUSED),
                     CTL_VERDICT_HAPPENED);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_PAUSED, CTL_VIR_RUNNING),
                     CTL_VERDICT_NOT_HAPPENED);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_PAUSED, CTL_DESIRED_RUNNING, CTL_VIR_RUNNING),
                     CTL_VERDICT_HAPPENED);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_PAUSED, CTL_DESIRED_RUNNING, CTL_VIR_PAUSED),
                     CTL_VERDICT_NOT_HAPPENED);
    /* the guest stopped meanwhile: neither: open (reported as drift, never guessed) */
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_PAUSED, CTL_DESIRED_RUNNING, CTL_VIR_SHUTOFF),
                     CTL_VERDICT_OPEN);
    assert_int_equal(ctl_outcome_verdict(CTL_DESIRED_RUNNING, CTL_DESIRED_PAUSED, CTL_VIR_CRASHED),
                     CTL_VERDICT_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_suspend_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
