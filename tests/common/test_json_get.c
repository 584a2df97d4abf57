/* test_json_get.c — common/json_get: the lenient getters give their default for a missing member,
 * a JSON null, a member of another type and a non-object; integers also come as decimal strings;
 * the strict readers accept what they should and name `what` and the key in every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "json_get.h"

#include <glib.h>

static json_object *s_doc(void)
{
    return json_tokener_parse("{\"s\":\"text\",\"empty\":\"\",\"i\":42,\"neg\":-7,\"d\":2.9,"
                              "\"si\":\"123456789012\",\"sbad\":\"12abc\",\"t\":true,\"f\":false,"
                              "\"n\":null,\"o\":{\"k\":\"v\"},\"a\":[1,2]}");
}

static void test_lenient(void **state)
{
    (void)state;
    json_object *o = s_doc();
    assert_non_null(o);
    assert_non_null(drv_json_get(o, "o"));
    assert_null(drv_json_get(o, "n"));
    assert_null(drv_json_get(o, "missing"));
    assert_null(drv_json_get(NULL, "s"));
    assert_null(drv_json_get(drv_json_get(o, "a"), "s")); /* not an object */

    assert_string_equal(drv_json_get_str(o, "s", NULL), "text");
    assert_string_equal(drv_json_get_str(o, "empty", "?"), "");
    assert_string_equal(drv_json_get_str(o, "i", "?"), "?");
    assert_string_equal(drv_json_get_str(o, "n", "?"), "?");
    assert_string_equal(drv_json_get_str(o, "missing", "?"), "?");
    assert_null(drv_json_get_str(NULL, "s", NULL));
    assert_string_equal(drv_json_get_str(drv_json_get(o, "o"), "k", NULL), "v");

    assert_int_equal(drv_json_get_int(o, "i", 0), 42);
    assert_int_equal(drv_json_get_int(o, "neg", 0), -7);
    assert_int_equal(drv_json_get_int(o, "d", 0), 2);
    assert_int_equal(drv_json_get_int(o, "si", 0), 123456789012);
    assert_int_equal(drv_json_get_int(o, "sbad", -1), -1);
    assert_int_equal(drv_json_get_int(o, "t", -1), -1);
    assert_int_equal(drv_json_get_int(o, "n", -1), -1);
    assert_int_equal(drv_json_get_int(o, "missing", 5), 5);

    assert_int_equal(drv_json_get_u64(o, "i", 0), 42);
    assert_int_equal(drv_json_get_u64(o, "neg", 9), 9);
    assert_int_equal(drv_json_get_u64(o, "si", 0), 123456789012u);

    assert_true(drv_json_get_bool(o, "t", false));
    assert_false(drv_json_get_bool(o, "f", true));
    assert_true(drv_json_get_bool(o, "i", true)); /* not a boolean: the default */
    assert_false(drv_json_get_bool(o, "s", false));
    assert_true(drv_json_get_bool(o, "missing", true));
    json_object_put(o);
}

static void s_expect_error(int rc, drv_error **e, const char *message)
{
    assert_int_equal(rc, -1);
    assert_non_null(*e);
    assert_int_equal((*e)->kind, DRV_ERR_INVALID);
    assert_string_equal((*e)->message, message);
    drv_error_destroy(e);
}

static void test_strv(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse("{\"v\":[\"a\",1,\"b\",null],\"s\":\"x\"}");
    char **v = drv_json_get_strv(o, "v");
    assert_int_equal(g_strv_length(v), 2); /* the strings, in order */
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    g_strfreev(v);
    const char *empty_keys[] = {"s", "missing"};
    for (size_t i = 0; i < 2; i++) {
        v = drv_json_get_strv(o, empty_keys[i]);
        assert_non_null(v);
        assert_null(v[0]);
        g_strfreev(v);
    }
    v = drv_json_get_strv(NULL, "v");
    assert_null(v[0]);
    g_strfreev(v);
    json_object_put(o);
}

static void test_strict(void **state)
{
    (void)state;
    json_object *o = s_doc();
    drv_error *e = NULL;
    json_object *sub = NULL;
    assert_int_equal(drv_json_read_object(o, "o", true, "doc", &sub, &e), 0);
    assert_non_null(sub);
    assert_int_equal(drv_json_read_object(o, "n", false, "doc", &sub, &e), 0);
    assert_null(sub);
    s_expect_error(drv_json_read_object(o, "missing", true, "doc", &sub, &e), &e,
                   "doc: missing \"missing\"");
    s_expect_error(drv_json_read_object(o, "a", false, "doc", &sub, &e), &e,
                   "doc: \"a\" must be an object");

    char *s = g_strdup("old");
    assert_int_equal(drv_json_read_str(o, "missing", false, "doc", &s, &e), 0);
    assert_string_equal(s, "old"); /* absent: left as it is */
    assert_int_equal(drv_json_read_str(o, "s", true, "doc", &s, &e), 0);
    assert_string_equal(s, "text");
    s_expect_error(drv_json_read_str(o, "empty", false, "doc", &s, &e), &e,
                   "doc: \"empty\" must be a non-empty string");
    s_expect_error(drv_json_read_str(o, "i", false, "doc", &s, &e), &e,
                   "doc: \"i\" must be a string");
    s_expect_error(drv_json_read_str(o, "n", true, "doc", &s, &e), &e, "doc: missing \"n\"");
    g_free(s);

    uint64_t u = 99;
    assert_int_equal(drv_json_read_u64(o, "i", 42, "doc", &u, &e), 0);
    assert_int_equal(u, 42);
    assert_int_equal(drv_json_read_u64(o, "missing", 1, "doc", &u, &e), 0);
    assert_int_equal(u, 0);
    s_expect_error(drv_json_read_u64(o, "i", 41, "doc", &u, &e), &e,
                   "doc: \"i\" is too large (42)");
    s_expect_error(drv_json_read_u64(o, "neg", UINT64_MAX, "doc", &u, &e), &e,
                   "doc: \"neg\" must not be negative");
    s_expect_error(drv_json_read_u64(o, "si", UINT64_MAX, "doc", &u, &e), &e,
                   "doc: \"si\" must be an integer");

    bool b = true;
    assert_int_equal(drv_json_read_bool(o, "missing", "doc", &b, &e), 0);
    assert_false(b);
    assert_int_equal(drv_json_read_bool(o, "t", "doc", &b, &e), 0);
    assert_true(b);
    s_expect_error(drv_json_read_bool(o, "i", "doc", &b, &e), &e,
                   "doc: \"i\" must be true or false");

    static const char *const all[] = {"s", "empty", "i", "neg", "d", "si", "sbad",
                                      "t", "f",     "n", "o",   "a", NULL};
    static const char *const some[] = {"s", NULL};
    assert_int_equal(drv_json_read_keys(o, all, "doc", &e), 0);
    s_expect_error(drv_json_read_keys(o, some, "doc", &e), &e, "doc: unknown key \"empty\"");
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_strv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
