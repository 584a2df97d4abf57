/* test_list_page.c — paging of the controller's lists (controller/list_page.c): pages of a limit,
 * the token continues exactly after the last item, the last page has no token, a token naming a
 * removed item still continues in order, no limit gives everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "list_page.h"

#include <string.h>

static const char *s_key(gconstpointer item)
{
    return item;
}

static GPtrArray *s_sorted(const char *const *names)
{
    GPtrArray *a = g_ptr_array_new();
    for (size_t i = 0; names[i] != NULL; i++)
        g_ptr_array_add(a, (gpointer)names[i]);
    return a;
}

static char *s_join(GPtrArray *a)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < a->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)g_ptr_array_index(a, i));
    return g_string_free(s, FALSE);
}

static void test_pages_cover_everything_once(void **state)
{
    (void)state;
    static const char *const names[] = {"a1", "a2", "b1", "b2", "c1", "c2", "d1", NULL};
    GPtrArray *all = s_sorted(names);
    char *next = NULL;
    GString *seen = g_string_new(NULL);
    int pages = 0;
    ctl_page p = {.after = NULL, .limit = 3};
    char *token = NULL;
    do {
        p.after = token;
        GPtrArray *page = ctl_page_apply(all, s_key, &p, &next);
        assert_true(page->len <= 3);
        char *j = s_join(page);
        g_string_append_printf(seen, "[%s]", j);
        g_free(j);
        g_ptr_array_unref(page);
        g_free(token);
        token = next;
        pages++;
    } while (token != NULL && pages < 10);
    assert_int_equal(pages, 3);
    assert_string_equal(seen->str, "[a1,a2,b1][b2,c1,c2][d1]");
    g_string_free(seen, TRUE);
    g_ptr_array_unref(all);
}

static void test_token_and_limits(void **state)
{
    (void)state;
    static const char *const names[] = {"h1", "h2", "h3", "h4", NULL};
    GPtrArray *all = s_sorted(names);
    char *next = NULL;
    /* no limit: everything, no token */
    ctl_page p = {0};
    GPtrArray *page = ctl_page_apply(all, s_key, &p, &next);
    assert_int_equal(page->len, 4);
    assert_null(next);
    g_ptr_array_unref(page);
    /* a limit equal to what remains: no token (nothing follows) */
    p = (ctl_page){.after = "h1", .limit = 3};
    page = ctl_page_apply(all, s_key, &p, &next);
    assert_int_equal(page->len, 3);
    assert_string_equal(g_ptr_array_index(page, 0), "h2");
    assert_null(next);
    g_ptr_array_unref(page);
    /* a token naming an item removed since (h2b sorts between h2 and h3) */
    p = (ctl_page){.after = "h2b", .limit = 1};
    page = ctl_page_apply(all, s_key, &p, &next);
    assert_int_equal(page->len, 1);
    assert_string_equal(g_ptr_array_index(page, 0), "h3");
    assert_string_equal(next, "h3");
    g_free(next);
    g_ptr_array_unref(page);
    /* past the end: empty, no token */
    p = (ctl_page){.after = "h4", .limit = 2};
    page = ctl_page_apply(all, s_key, &p, &next);
    assert_int_equal(page->len, 0);
    assert_null(next);
    g_ptr_array_unref(page);
    /* before the start */
    p = (ctl_page){.after = "a", .limit = 2};
    page = ctl_page_apply(all, s_key, &p, &next);
    assert_string_equal(g_ptr_array_index(page, 0), "h1");
    assert_string_equal(next, "h2");
    g_free(next);
    g_ptr_array_unref(page);
    g_ptr_array_unref(all);
}

static void test_empty(void **state)
{
    (void)state;
    GPtrArray *none = g_ptr_array_new();
    char *next = (char *)"x";
    ctl_page p = {.after = "z", .limit = 5};
    GPtrArray *page = ctl_page_apply(none, s_key, &p, &next);
    assert_int_equal(page->len, 0);
    assert_null(next);
    g_ptr_array_unref(page);
    g_ptr_array_unref(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_cover_everything_once),
        cmocka_unit_test(test_token_and_limits),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
