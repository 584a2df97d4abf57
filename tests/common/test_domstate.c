/* test_domstate.c — common/domstate: every libvirt state and reason has its virsh name, the
 * numbers are libvirt's own (checked against libvirt's header, so a renumbering cannot slip by),
 * reason 0 and numbers this build does not know give no reason, and active/off sort the states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#define VIR_ENUM_SENTINELS /* the _LAST values: how many reasons libvirt defines */
#include <libvirt/libvirt.h>

#include "domstate.h"

static void test_states(void **state)
{
    (void)state;
    assert_int_equal(DRV_DOMSTATE_SHUTOFF, VIR_DOMAIN_SHUTOFF);
    assert_int_equal(DRV_DOMSTATE_PMSUSPENDED, VIR_DOMAIN_PMSUSPENDED);
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_NOSTATE), "no state");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_RUNNING), "running");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_BLOCKED), "blocked");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_PAUSED), "paused");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_SHUTDOWN), "in shutdown");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_SHUTOFF), "shut off");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_CRASHED), "crashed");
    assert_string_equal(drv_domstate_name(VIR_DOMAIN_PMSUSPENDED), "pmsuspended");
    assert_string_equal(drv_domstate_name(8), "unknown");
    assert_string_equal(drv_domstate_name(-1), "unknown");
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED),
                        "booted");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED),
                        "migrated");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_RESTORED),
                        "restored");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNPAUSED),
                        "unpaused");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_POSTCOPY_FAILED),
                        "post-copy failed");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), "user");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR),
                        "I/O error");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION),
                        "migrating");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED),
                        "post-copy failed");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_USER), "user");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SHUTDOWN),
                        "shutdown");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED),
                        "destroyed");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED),
                        "crashed");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_SAVED), "saved");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DAEMON),
                        "daemon");
    assert_string_equal(drv_domstate_reason(VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED),
                        "panicked");
    /* every reason libvirt 9.0 defines has a name */
    for (int i = 1; i < VIR_DOMAIN_RUNNING_LAST; i++)
        assert_non_null(drv_domstate_reason(VIR_DOMAIN_RUNNING, i));
    for (int i = 1; i < VIR_DOMAIN_PAUSED_LAST; i++)
        assert_non_null(drv_domstate_reason(VIR_DOMAIN_PAUSED, i));
    for (int i = 1; i < VIR_DOMAIN_SHUTOFF_LAST; i++)
        assert_non_null(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, i));
    /* reason 0 ("unknown" in libvirt) and numbers not known here: no reason */
    assert_null(drv_domstate_reason(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_UNKNOWN));
    assert_null(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, 0));
    assert_null(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, 99));
    assert_null(drv_domstate_reason(VIR_DOMAIN_SHUTOFF, -1));
    assert_null(drv_domstate_reason(VIR_DOMAIN_BLOCKED, 1));
    assert_null(drv_domstate_reason(VIR_DOMAIN_PMSUSPENDED, 0));
    assert_null(drv_domstate_reason(42, 1));
}

static void test_classes(void **state)
{
    (void)state;
    int active[] = {VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_SHUTDOWN,
                    VIR_DOMAIN_PMSUSPENDED};
    int off[] = {VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_CRASHED, VIR_DOMAIN_NOSTATE};
    for (size_t i = 0; i < sizeof(active) / sizeof(active[0]); i++) {
        assert_true(drv_domstate_active(active[i]));
        assert_false(drv_domstate_off(active[i]));
    }
    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        assert_false(drv_domstate_active(off[i]));
        assert_true(drv_domstate_off(off[i]));
    }
    assert_false(drv_domstate_active(99));
    assert_false(drv_domstate_off(99));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
