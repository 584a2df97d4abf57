/* test_drain_order.c — the drain order (jobs/drain_order.h): longest predicted first across the
 * slots beats the name order, the per-source and per-destination caps, a destination's memory
 * (a move waits for memory another move frees), moves that can never fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drain_order.h"

#define GIB (1024ULL * 1024ULL)

static void test_longest_first(void **state)
{
    (void)state;
    /* name order on 2 slots: a(2) b(2) | c(3) d(3) e(6) → a,b at 0; c,d at 2; e at 5 → 11 s.
     * longest first: e(6) c(3) | d(3) a(2) b(2) → e at 0, c at 0, d at 3, a at 6, b at 6 → 8 s */
    drv_drain_move m[] = {{"a", "h1", "h2", 2000, 0},
                          {"b", "h1", "h2", 2000, 0},
                          {"c", "h1", "h2", 3000, 0},
                          {"d", "h1", "h2", 3000, 0},
                          {"e", "h1", "h2", 6000, 0}};
    drv_drain_caps caps = {.slots = 2};
    drv_drain_slot out[5];
    uint64_t total = 0;
    assert_int_equal(drv_drain_order(m, 5, &caps, NULL, 0, out, &total), 5);
    assert_int_equal(total, 8000);
    assert_string_equal(m[out[0].index].domain, "e");
    assert_string_equal(m[out[1].index].domain, "c");
    assert_string_equal(m[out[2].index].domain, "d");
    assert_int_equal(out[2].start_ms, 3000);
    /* the sum over 2 slots is 8 s: the bound is reached */
    /* one slot: everything in a row */
    caps.slots = 1;
    assert_int_equal(drv_drain_order(m, 5, &caps, NULL, 0, out, &total), 5);
    assert_int_equal(total, 16000);
}

static void test_caps(void **state)
{
    (void)state;
    /* 4 slots but at most 1 into h2 at once: the two moves to h2 run one after the other while
     * the one to h3 runs beside them */
    drv_drain_move m[] = {
        {"a", "h1", "h2", 4000, 0}, {"b", "h1", "h2", 4000, 0}, {"c", "h1", "h3", 1000, 0}};
    drv_drain_caps caps = {.slots = 4, .per_dest = 1};
    drv_drain_slot out[3];
    uint64_t total = 0;
    assert_int_equal(drv_drain_order(m, 3, &caps, NULL, 0, out, &total), 3);
    assert_int_equal(total, 8000);
    /* per source 1: all from h1, so one at a time */
    caps.per_dest = 0;
    caps.per_source = 1;
    assert_int_equal(drv_drain_order(m, 3, &caps, NULL, 0, out, &total), 3);
    assert_int_equal(total, 9000);
    /* no caps: all at once */
    caps.per_source = 0;
    assert_int_equal(drv_drain_order(m, 3, &caps, NULL, 0, out, &total), 3);
    assert_int_equal(total, 4000);
}

static void test_memory(void **state)
{
    (void)state;
    /* h2 has room for one 4 GiB guest only until x (on h2) leaves for h3 at 1 s */
    drv_drain_move m[] = {{"a", "h1", "h2", 5000, 4 * GIB},
                          {"b", "h1", "h2", 5000, 4 * GIB},
                          {"x", "h2", "h3", 1000, 4 * GIB}};
    drv_drain_room rooms[] = {{"h2", 4 * GIB}, {"h3", 8 * GIB}};
    drv_drain_caps caps = {.slots = 3};
    drv_drain_slot out[3];
    uint64_t total = 0;
    assert_int_equal(drv_drain_order(m, 3, &caps, rooms, 2, out, &total), 3);
    /* a and x at 0, b once x freed 4 GiB on h2 at 1 s */
    assert_string_equal(m[out[2].index].domain, "b");
    assert_int_equal(out[2].start_ms, 1000);
    assert_int_equal(total, 6000);
    /* without x nothing frees h2: b can never move and is left out */
    assert_int_equal(drv_drain_order(m, 2, &caps, rooms, 2, out, &total), 1);
    assert_int_equal(total, 5000);
}

static void test_empty(void **state)
{
    (void)state;
    drv_drain_caps caps = {.slots = 0}; /* 0 is taken as 1 */
    drv_drain_slot out[1];
    uint64_t total = 99;
    assert_int_equal(drv_drain_order(NULL, 0, &caps, NULL, 0, out, &total), 0);
    assert_int_equal(total, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_first),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
