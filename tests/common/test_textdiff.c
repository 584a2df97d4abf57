/* test_textdiff.c — common/textdiff: equal texts give "", a changed line, an insertion at the top,
 * a deletion at the end, two changes far apart (two hunks) and close together (one), texts without
 * a final newline, an empty side, and a large input that falls back to one replaced block — each
 * against the exact `diff -u` text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "textdiff.h"

static void s_expect(const char *a, const char *b, const char *want)
{
    char *got = drv_textdiff_unified(a, b, "rev 1", "rev 2", 3);
    assert_string_equal(got, want);
    g_free(got);
}

static void test_equal(void **state)
{
    (void)state;
    s_expect("", "", "");
    s_expect("a\nb\n", "a\nb\n", "");
    s_expect("a\nb", "a\nb\n", ""); /* a missing final newline is no difference */
}

static void test_one_change(void **state)
{
    (void)state;
    s_expect(
        "<domain>\n  <vcpu>1</vcpu>\n  <memory>128</memory>\n</domain>\n",
        "<domain>\n  <vcpu>2</vcpu>\n  <memory>128</memory>\n</domain>\n",
        "--- rev 1\n+++ rev 2\n@@ -1,4 +1,4 @@\n <domain>\n-  <vcpu>1</vcpu>\n+  <vcpu>2</vcpu>\n"
        "   <memory>128</memory>\n </domain>\n");
}

static void test_insert_delete_edges(void **state)
{
    (void)state;
    s_expect("b\nc\n", "a\nb\nc\n", "--- rev 1\n+++ rev 2\n@@ -1,2 +1,3 @@\n+a\n b\n c\n");
    s_expect("a\nb\nc\n", "a\nb\n", "--- rev 1\n+++ rev 2\n@@ -1,3 +1,2 @@\n a\n b\n-c\n");
    s_expect("", "x\n", "--- rev 1\n+++ rev 2\n@@ -0,0 +1 @@\n+x\n");
    s_expect("x\n", "", "--- rev 1\n+++ rev 2\n@@ -1 +0,0 @@\n-x\n");
}

static void test_hunks(void **state)
{
    (void)state;
    /* lines 1..12; change 2 and 11: 8 equal lines between > 2 × 3: two hunks */
    GString *a = g_string_new(NULL), *b = g_string_new(NULL);
    for (int i = 1; i <= 12; i++) {
        g_string_append_printf(a, "%d\n", i);
        g_string_append_printf(b, "%s\n", i == 2 ? "two" : i == 11 ? "eleven" : "");
        if (i != 2 && i != 11) {
            g_string_truncate(b, b->len - 1);
            g_string_append_printf(b, "%d\n", i);
        }
    }
    s_expect(a->str, b->str,
             "--- rev 1\n+++ rev 2\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
             "@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+eleven\n 12\n");
    /* changes 4 lines apart: one hunk */
    s_expect("1\n2\n3\n4\n5\n6\n7\n", "1\nX\n3\n4\n5\nY\n7\n",
             "--- rev 1\n+++ rev 2\n@@ -1,7 +1,7 @@\n 1\n-2\n+X\n 3\n 4\n 5\n-6\n+Y\n 7\n");
    g_string_free(a, TRUE);
    g_string_free(b, TRUE);
}

static void test_large_falls_back(void **state)
{
    (void)state;
    /* 3000 × 3000 differing lines in the middle: over the LCS budget, one replaced block */
    GString *a = g_string_new("same\n"), *b = g_string_new("same\n");
    for (int i = 0; i < 3000; i++) {
        g_string_append_printf(a, "a%d\n", i);
        g_string_append_printf(b, "b%d\n", i);
    }
    char *d = drv_textdiff_unified(a->str, b->str, "x", "y", 1);
    assert_true(g_str_has_prefix(d, "--- x\n+++ y\n@@ -1,3001 +1,3001 @@\n same\n-a0\n"));
    assert_non_null(strstr(d, "-a2999\n+b0\n"));
    assert_true(g_str_has_suffix(d, "+b2999\n"));
    g_free(d);
    g_string_free(a, TRUE);
    g_string_free(b, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_one_change),
        cmocka_unit_test(test_insert_delete_edges),
        cmocka_unit_test(test_hunks),
        cmocka_unit_test(test_large_falls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
