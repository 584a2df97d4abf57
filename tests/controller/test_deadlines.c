/* test_deadlines.c — the loop's timer structure (controller/deadlines.c): time order, moves,
 * removal, ties, and that popping stops at the first deadline not yet due. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "deadlines.h"

static void test_order_and_due(void **state)
{
    (void)state;
    ctl_deadlines *d = ctl_deadlines_new();
    assert_true(ctl_deadlines_next(d) == INT64_MAX);
    assert_null(ctl_deadlines_pop_due(d, INT64_MAX - 1));
    ctl_deadlines_set(d, "c", 300);
    ctl_deadlines_set(d, "a", 100);
    ctl_deadlines_set(d, "b", 200);
    assert_int_equal(ctl_deadlines_size(d), 3);
    assert_true(ctl_deadlines_next(d) == 100);
    assert_null(ctl_deadlines_pop_due(d, 99)); /* nothing due yet */
    char *k = ctl_deadlines_pop_due(d, 250);
    assert_string_equal(k, "a");
    g_free(k);
    k = ctl_deadlines_pop_due(d, 250);
    assert_string_equal(k, "b");
    g_free(k);
    assert_null(ctl_deadlines_pop_due(d, 250)); /* c is at 300 */
    assert_true(ctl_deadlines_next(d) == 300);
    assert_int_equal(ctl_deadlines_size(d), 1);
    ctl_deadlines_destroy(&d);
    assert_null(d);
}

static void test_move_and_remove(void **state)
{
    (void)state;
    ctl_deadlines *d = ctl_deadlines_new();
    ctl_deadlines_set(d, "h1", 100);
    ctl_deadlines_set(d, "h2", 200);
    /* traffic from h1: its deadline moves past h2's, the old one is gone */
    ctl_deadlines_set(d, "h1", 400);
    assert_int_equal(ctl_deadlines_size(d), 2);
    assert_true(ctl_deadlines_get(d, "h1") == 400);
    assert_true(ctl_deadlines_next(d) == 200);
    char *k = ctl_deadlines_pop_due(d, 300);
    assert_string_equal(k, "h2");
    g_free(k);
    assert_null(ctl_deadlines_pop_due(d, 300));
    ctl_deadlines_remove(d, "h1");
    ctl_deadlines_remove(d, "nobody"); /* no-op */
    assert_int_equal(ctl_deadlines_size(d), 0);
    assert_true(ctl_deadlines_get(d, "h1") == INT64_MAX);
    assert_null(ctl_deadlines_pop_due(d, INT64_MAX - 1));
    ctl_deadlines_set(d, "x", 5);
    ctl_deadlines_set(d, "y", 6);
    ctl_deadlines_clear(d);
    assert_int_equal(ctl_deadlines_size(d), 0);
    assert_true(ctl_deadlines_next(d) == INT64_MAX);
    ctl_deadlines_destroy(&d);
}

static void test_ties_keep_order(void **state)
{
    (void)state;
    ctl_deadlines *d = ctl_deadlines_new();
    const char *keys[] = {"q", "b", "z", "a"};
    for (int i = 0; i < 4; i++)
        ctl_deadlines_set(d, keys[i], 50);
    for (int i = 0; i < 4; i++) {
        char *k = ctl_deadlines_pop_due(d, 50);
        assert_string_equal(k, keys[i]);
        g_free(k);
    }
    ctl_deadlines_destroy(&d);
}

/* Many keys, moved many times: popping yields non-decreasing deadlines, each key once, and only
 * those due. */
static void test_many(void **state)
{
    (void)state;
    ctl_deadlines *d = ctl_deadlines_new();
    GHashTable *want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    uint32_t x = 12345;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 2000; i++) {
            x = x * 1103515245u + 12345u;
            int64_t at = (int64_t)(x >> 8) % 10000;
            char *key = g_strdup_printf("host%04d", i);
            ctl_deadlines_set(d, key, at);
            g_hash_table_replace(want, key, GINT_TO_POINTER((int)at + 1));
        }
    }
    assert_int_equal(ctl_deadlines_size(d), 2000);
    int64_t last = -1;
    guint popped = 0;
    char *k;
    while ((k = ctl_deadlines_pop_due(d, 4999)) != NULL) {
        int64_t at = GPOINTER_TO_INT(g_hash_table_lookup(want, k)) - 1;
        assert_true(at >= 0 && at <= 4999);
        assert_true(at >= last);
        last = at;
        g_hash_table_remove(want, k);
        g_free(k);
        popped++;
    }
    /* what is left is exactly the keys not yet due */
    assert_int_equal(ctl_deadlines_size(d), g_hash_table_size(want));
    GHashTableIter it;
    gpointer key, v;
    g_hash_table_iter_init(&it, want);
    while (g_hash_table_iter_next(&it, &key, &v))
        assert_true(GPOINTER_TO_INT(v) - 1 > 4999);
    assert_true(popped > 0 && popped < 2000);
    g_hash_table_unref(want);
    ctl_deadlines_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_due),
        cmocka_unit_test(test_move_and_remove),
        cmocka_unit_test(test_ties_keep_order),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
