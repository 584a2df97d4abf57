/* etcd_prefix_end_test.c — drv_etcd_prefix_end: the exclusive end of a prefix range, including
 * trailing 0xff bytes (dropped, then the last byte is incremented) and the all-0xff / empty cases.
 */
#include "etcd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

static void s_check(const char *prefix, size_t len, const char *want, size_t want_len)
{
    size_t got_len = 12345;
    char *got = drv_etcd_prefix_end(prefix, len, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_int_equal(got[got_len], '\0');
    g_free(got);
}

static void test_plain(void **state)
{
    s_check("abc", 3, "abd", 3);
    s_check("/drover/v1/hosts/", 17, "/drover/v1/hosts0", 17);
    s_check("a", 1, "b", 1);
}

static void test_trailing_ff(void **state)
{
    s_check("a\xff", 2, "b", 1);
    s_check("a\xff\xff\xff", 4, "b", 1);
    s_check("a\xfe", 2, "a\xff", 2);
    s_check("\x00\xff", 2, "\x01", 1);
    s_check("x\xff"
            "y\xff",
            4, "x\xffz", 3);
}

static void test_no_end(void **state)
{
    /* Nothing to increment: "\0" means "to the end of the keyspace". */
    s_check("\xff", 1, "\0", 1);
    s_check("\xff\xff", 2, "\0", 1);
    s_check("", 0, "\0", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_trailing_ff),
        cmocka_unit_test(test_no_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
