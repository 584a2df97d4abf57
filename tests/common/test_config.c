/* test_config.c — common/config: loading (missing file, syntax error), every getter with defaults,
 * ranges and malformed values (errors name file, group and key), key listing, and
 * drv_parse_size_kib, drv_format_size. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib/gstdio.h>

typedef struct {
    char *dir;
    char *path;
} fixture;

static const char s_sample[] = "# drover sample\n"
                               "[controller]\n"
                               "listen = tcp://127.0.0.1:7701\n"
                               "name =   spaced value   \n"
                               "heartbeat_ms = 1500\n"
                               "negative = -42\n"
                               "not_int = 12abc\n"
                               "empty =\n"
                               "huge = 99999999999999999999\n"
                               "ratio = 1.5\n"
                               "exp = 2e3\n"
                               "not_num = fast\n"
                               "infinite = inf\n"
                               "on = yes\n"
                               "off = FALSE\n"
                               "one = 1\n"
                               "zero = 0\n"
                               "maybe = perhaps\n"
                               "endpoints = http://a:2379, http://b:2379;http://c:2379,,\n"
                               "[labels]\n"
                               "rack = r1\n"
                               "zone = z2\n";

static int s_setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->dir = g_dir_make_tmp("drover-config-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "drover.conf", NULL);
    assert_true(g_file_set_contents(f->path, s_sample, -1, NULL));
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture *f = *state;
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static drv_config *s_load(fixture *f)
{
    drv_error *err = NULL;
    drv_config *c = drv_config_load(f->path, &err);
    if (c == NULL)
        fail_msg("load: %s", err->message);
    return c;
}

/* Asserts err says it is about this file, group and key, then frees it. */
static void s_assert_names(drv_error **err, const char *path, const char *group, const char *key,
                           const char *also)
{
    assert_non_null(*err);
    assert_int_equal((*err)->kind, DRV_ERR_INVALID);
    const char *m = (*err)->message;
    if (strstr(m, path) == NULL || strstr(m, group) == NULL || strstr(m, key) == NULL ||
        (also != NULL && strstr(m, also) == NULL))
        fail_msg("'%s' should name %s, [%s], %s%s%s", m, path, group, key, also ? " and " : "",
                 also ? also : "");
    drv_error_destroy(err);
}

static void test_load_missing_file(void **state)
{
    fixture *f = *state;
    g_autofree char *missing = g_build_filename(f->dir, "nope.conf", NULL);
    drv_error *err = NULL;
    assert_null(drv_config_load(missing, &err));
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_non_null(strstr(err->message, missing));
    drv_error_destroy(&err);
    assert_null(drv_config_load(missing, NULL)); /* err may be NULL */
}

static void test_load_syntax_error(void **state)
{
    fixture *f = *state;
    g_autofree char *bad = g_build_filename(f->dir, "bad.conf", NULL);
    assert_true(g_file_set_contents(bad, "[a]\nk = v\nthis line is junk\n", -1, NULL));
    drv_error *err = NULL;
    assert_null(drv_config_load(bad, &err));
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_non_null(strstr(err->message, bad));
    assert_non_null(strstr(err->message, "this line is junk")); /* GKeyFile quotes the line */
    drv_error_destroy(&err);
    /* a key before any group */
    assert_true(g_file_set_contents(bad, "k = v\n[a]\n", -1, NULL));
    assert_null(drv_config_load(bad, &err));
    assert_non_null(strstr(err->message, bad));
    drv_error_destroy(&err);
    g_unlink(bad);
}

static void test_strings(void **state)
{
    fixture *f = *state;
    drv_config *c = s_load(f);
    assert_string_equal(drv_config_path(c), f->path);
    char *s = NULL;
    assert_int_equal(drv_config_get_string(c, "controller", "listen", "x", &s, NULL), 0);
    assert_string_equal(s, "tcp://127.0.0.1:7701");
    g_free(s);
    assert_int_equal(drv_config_get_string(c, "controller", "name", NULL, &s, NULL), 0);
    assert_string_equal(s, "spaced value");
    g_free(s);
    assert_int_equal(drv_config_get_string(c, "controller", "absent", "dflt", &s, NULL), 0);
    assert_string_equal(s, "dflt");
    g_free(s);
    assert_int_equal(drv_config_get_string(c, "nogroup", "listen", NULL, &s, NULL), 0);
    assert_null(s);
    drv_config_destroy(&c);
    assert_null(c);
    drv_config_destroy(&c); /* NULL-safe */
    drv_config_destroy(NULL);
}

static void test_ints(void **state)
{
    fixture *f = *state;
    drv_config *c = s_load(f);
    drv_error *err = NULL;
    int64_t v = 0;
    assert_int_equal(drv_config_get_int(c, "controller", "heartbeat_ms", 1000, 1, 60000, &v, &err),
                     0);
    assert_int_equal(v, 1500);
    assert_int_equal(drv_config_get_int(c, "controller", "negative", 0, -100, 100, &v, &err), 0);
    assert_int_equal(v, -42);
    assert_int_equal(drv_config_get_int(c, "controller", "absent", 7, 0, 10, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(drv_config_get_int(c, "nogroup", "x", 9, 0, 10, &v, &err), 0);
    assert_int_equal(v, 9);

    /* range: both bounds are inclusive */
    assert_int_equal(drv_config_get_int(c, "controller", "heartbeat_ms", 0, 1500, 1500, &v, &err),
                     0);
    v = 123;
    assert_int_equal(drv_config_get_int(c, "controller", "heartbeat_ms", 0, 1, 1000, &v, &err), -1);
    assert_int_equal(v, 123); /* untouched on failure */
    s_assert_names(&err, f->path, "controller", "heartbeat_ms", "out of range");
    assert_int_equal(drv_config_get_int(c, "controller", "negative", 0, 0, 10, &v, &err), -1);
    s_assert_names(&err, f->path, "controller", "negative", "-42");

    const char *bad[] = {"not_int", "empty", "huge", "ratio", "listen"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_int_equal(
            drv_config_get_int(c, "controller", bad[i], 0, INT64_MIN, INT64_MAX, &v, &err), -1);
        s_assert_names(&err, f->path, "controller", bad[i], "not an integer");
    }
    drv_config_destroy(&c);
}

static void test_doubles(void **state)
{
    fixture *f = *state;
    drv_config *c = s_load(f);
    drv_error *err = NULL;
    double d = 0;
    assert_int_equal(drv_config_get_double(c, "controller", "ratio", 4.0, 0.1, 10, &d, &err), 0);
    assert_true(d == 1.5);
    assert_int_equal(drv_config_get_double(c, "controller", "exp", 0, 0, 1e6, &d, &err), 0);
    assert_true(d == 2000.0);
    assert_int_equal(drv_config_get_double(c, "controller", "heartbeat_ms", 0, 0, 1e6, &d, &err),
                     0);
    assert_true(d == 1500.0);
    assert_int_equal(drv_config_get_double(c, "controller", "absent", 4.0, 0.1, 10, &d, &err), 0);
    assert_true(d == 4.0);
    assert_int_equal(drv_config_get_double(c, "controller", "ratio", 0, 2.0, 10, &d, &err), -1);
    s_assert_names(&err, f->path, "controller", "ratio", "out of range");
    const char *bad[] = {"not_num", "infinite", "empty", "not_int"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_int_equal(drv_config_get_double(c, "controller", bad[i], 0, -1e300, 1e300, &d, &err),
                         -1);
        s_assert_names(&err, f->path, "controller", bad[i], "not a number");
    }
    drv_config_destroy(&c);
}

static void test_bools(void **state)
{
    fixture *f = *state;
    drv_config *c = s_load(f);
    drv_error *err = NULL;
    const struct {
        const char *key;
        bool want;
    } cases[] = {{"on", true}, {"off", false}, {"one", true}, {"zero", false}};
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        bool b = !cases[i].want;
        assert_int_equal(
            drv_config_get_bool(c, "controller", cases[i].key, !cases[i].want, &b, &err), 0);
        assert_int_equal(b, cases[i].want);
    }
    bool b = false;
    assert_int_equal(drv_config_get_bool(c, "controller", "absent", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(drv_config_get_bool(c, "controller", "maybe", true, &b, &err), -1);
    s_assert_names(&err, f->path, "controller", "maybe", "perhaps");
    assert_int_equal(drv_config_get_bool(c, "controller", "heartbeat_ms", true, &b, &err), -1);
    s_assert_names(&err, f->path, "controller", "heartbeat_ms", "boolean");
    drv_config_destroy(&c);
}

static void test_strv_and_keys(void **state)
{
    fixture *f = *state;
    drv_config *c = s_load(f);
    char **v = NULL;
    assert_int_equal(drv_config_get_strv(c, "controller", "endpoints", &v, NULL), 0);
    assert_int_equal(g_strv_length(v), 3);
    assert_string_equal(v[0], "http://a:2379");
    assert_string_equal(v[1], "http://b:2379");
    assert_string_equal(v[2], "http://c:2379");
    g_strfreev(v);
    assert_int_equal(drv_config_get_strv(c, "controller", "absent", &v, NULL), 0);
    assert_non_null(v);
    assert_null(v[0]);
    g_strfreev(v);

    char **keys = drv_config_keys(c, "labels");
    assert_int_equal(g_strv_length(keys), 2);
    assert_true(g_strv_contains((const char *const *)keys, "rack"));
    assert_true(g_strv_contains((const char *const *)keys, "zone"));
    g_strfreev(keys);
    keys = drv_config_keys(c, "absent");
    assert_non_null(keys);
    assert_null(keys[0]);
    g_strfreev(keys);
    drv_config_destroy(&c);
}

static void test_empty_config(void **state)
{
    drv_config *c = drv_config_new_empty();
    assert_non_null(c);
    assert_string_equal(drv_config_path(c), "(defaults)");
    int64_t i = 0;
    double d = 0;
    bool b = false;
    char *s = NULL;
    char **v = NULL;
    assert_int_equal(drv_config_get_int(c, "g", "k", 5, 0, 10, &i, NULL), 0);
    assert_int_equal(i, 5);
    assert_int_equal(drv_config_get_double(c, "g", "k", 0.25, 0, 1, &d, NULL), 0);
    assert_true(d == 0.25);
    assert_int_equal(drv_config_get_bool(c, "g", "k", true, &b, NULL), 0);
    assert_true(b);
    assert_int_equal(drv_config_get_string(c, "g", "k", "x", &s, NULL), 0);
    assert_string_equal(s, "x");
    g_free(s);
    assert_int_equal(drv_config_get_strv(c, "g", "k", &v, NULL), 0);
    assert_null(v[0]);
    g_strfreev(v);
    drv_config_destroy(&c);
}

static void test_parse_size_kib(void **state)
{
    const struct {
        const char *text;
        uint64_t unit;
        uint64_t kib;
    } ok[] = {
        {"512", 1, 512},       {"512", 1024, 524288},   {"0", 1, 0},          {"512KiB", 1024, 512},
        {"512k", 1, 512},      {"5kb", 1, 5}, /* K, KB and KiB all mean 1024 bytes here */
        {"64M", 1, 65536},     {"64MiB", 1, 65536},     {"2GiB", 1, 2097152}, {"2g", 1, 2097152},
        {"1T", 1, 1073741824}, {"1TiB", 1, 1073741824}, {"1.5G", 1, 1572864}, {"  8 MiB", 1, 8192},
        {"0.5", 1024, 512},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        uint64_t kib = 777;
        if (drv_parse_size_kib(ok[i].text, ok[i].unit, &kib) != 0)
            fail_msg("'%s' refused", ok[i].text);
        if (kib != ok[i].kib)
            fail_msg("'%s' → %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT, ok[i].text, kib,
                     ok[i].kib);
    }
    const char *bad[] = {NULL, "", "  ", "abc", "-1", "12X", "5MiBs", "5 M B", "M", "1e30T", ".5G"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint64_t kib = 777;
        if (drv_parse_size_kib(bad[i], 1, &kib) != -1)
            fail_msg("'%s' accepted as %" G_GUINT64_FORMAT, bad[i] ? bad[i] : "(null)", kib);
        assert_int_equal(kib, 777);
    }
}

/* Sizes for people come from g_format_size_full, with an ASCII space and no ".0". */
static void test_format_size(void **state)
{
    (void)state;
    static const struct {
        uint64_t kib;
        const char *text;
    } kib[] = {
        {0, "0 KiB"},          {1, "1 KiB"},           {1023, "1023 KiB"},
        {1024, "1 MiB"},       {1536, "1.5 MiB"},      {524288, "512 MiB"},
        {2097152, "2 GiB"},    {12000000, "11.4 GiB"}, {1073741824, "1 TiB"},
        {1048575, "1024 MiB"}, {UINT64_MAX, "16 EiB"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(kib); i++) {
        g_autofree char *t = drv_format_size_kib(kib[i].kib);
        assert_string_equal(t, kib[i].text);
    }
    static const struct {
        uint64_t bytes;
        const char *text;
    } bytes[] = {
        {0, "0 bytes"},           {1, "1 byte"},
        {1023, "1023 bytes"},     {1536, "1.5 KiB"},
        {169765273, "161.9 MiB"}, {3221225472, "3 GiB"},
        {5239860000, "4.9 GiB"},  {1048576000, "1000 MiB"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bytes); i++) {
        g_autofree char *t = drv_format_size(bytes[i].bytes);
        assert_string_equal(t, bytes[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_missing_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load_syntax_error, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_strings, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_doubles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bools, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_strv_and_keys, s_setup, s_teardown),
        cmocka_unit_test(test_empty_config),
        cmocka_unit_test(test_parse_size_kib),
        cmocka_unit_test(test_format_size),
    };
    return cmocka_run_group_tests_name("common_config", tests, NULL, NULL);
}
