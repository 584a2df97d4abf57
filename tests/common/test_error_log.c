/* test_error_log.c — common/error (set, first error wins, prefix, propagate, kind names) and
 * common/log (level names, the minimum level and DROVER_LOG_LEVEL, line format). */
#include "error.h"
#include "log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static int s_fails(drv_error **err)
{
    return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain '%s': not defined", "vm1");
}

static void test_set(void **state)
{
    drv_error *err = NULL;
    assert_int_equal(
        drv_error_set(&err, DRV_ERR_ETCD, 413, "etcd put '%s': %s", "k", "request too large"), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_int_equal(err->code, 413);
    assert_int_equal(err->line, 0);
    assert_string_equal(err->message, "etcd put 'k': request too large");
    /* the first error wins */
    assert_int_equal(drv_error_set(&err, DRV_ERR_IO, 5, "second"), -1);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_string_equal(err->message, "etcd put 'k': request too large");
    drv_error_destroy(&err);
    assert_null(err);
    drv_error_destroy(&err); /* NULL-safe */
    drv_error_destroy(NULL);

    /* a NULL err pointer: still returns -1 */
    assert_int_equal(s_fails(NULL), -1);
    /* an out-of-range kind becomes internal */
    assert_int_equal(drv_error_set(&err, (drv_err_kind)999, 0, "x"), -1);
    assert_int_equal(err->kind, DRV_ERR_INTERNAL);
    drv_error_destroy(&err);
}

static void test_prefix(void **state)
{
    drv_error *err = NULL;
    s_fails(&err);
    drv_error_prefix(&err, "start %s", "vm1");
    drv_error_prefix(&err, "host '%s'", "h1");
    assert_string_equal(err->message, "host 'h1': start vm1: domain 'vm1': not defined");
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);
    drv_error_prefix(&err, "nothing"); /* no error: no-op */
    assert_null(err);
    drv_error_prefix(NULL, "nothing");
}

static void test_propagate(void **state)
{
    drv_error *dst = NULL, *src = NULL;
    s_fails(&src);
    drv_error *keep = src;
    drv_error_propagate(&dst, src);
    assert_ptr_equal(dst, keep);
    /* dst already set: src is freed (LeakSanitizer checks), dst unchanged */
    drv_error *other = NULL;
    drv_error_set(&other, DRV_ERR_TIMEOUT, 0, "late");
    drv_error_propagate(&dst, other);
    assert_ptr_equal(dst, keep);
    assert_int_equal(dst->kind, DRV_ERR_NOT_FOUND);
    /* NULL dst: freed */
    other = NULL;
    drv_error_set(&other, DRV_ERR_TIMEOUT, 0, "dropped");
    drv_error_propagate(NULL, other);
    drv_error_propagate(&dst, NULL); /* nothing to move */
    assert_ptr_equal(dst, keep);
    drv_error_destroy(&dst);
}

static void test_cleanup_macro(void **state)
{
    drv_error *seen = NULL;
    {
        g_autoptr(drv_error) err = NULL;
        s_fails(&err);
        seen = err;
        assert_non_null(seen);
    } /* freed here; LeakSanitizer would report otherwise */
    assert_non_null(seen);
}

static void test_kind_names(void **state)
{
    for (int k = 0; k < DRV_ERR_LAST; k++) {
        const char *name = drv_err_kind_to_string((drv_err_kind)k);
        assert_non_null(name);
        assert_int_equal(drv_err_kind_from_string(name), k);
        for (int j = 0; j < k; j++)
            assert_string_not_equal(name, drv_err_kind_to_string((drv_err_kind)j));
    }
    assert_string_equal(drv_err_kind_to_string(DRV_ERR_NO_ROOM), "no-room");
    assert_string_equal(drv_err_kind_to_string(DRV_ERR_PROTO), "protocol");
    assert_string_equal(drv_err_kind_to_string(DRV_ERR_LAST), "internal");
    assert_int_equal(drv_err_kind_from_string("bogus"), DRV_ERR_INTERNAL);
    assert_int_equal(drv_err_kind_from_string(NULL), DRV_ERR_INTERNAL);
}

static void test_log_levels(void **state)
{
    const struct {
        const char *name;
        drv_log_level level;
    } ok[] = {{"debug", DRV_LOG_DEBUG}, {"info", DRV_LOG_INFO},   {"warn", DRV_LOG_WARN},
              {"error", DRV_LOG_ERROR}, {"DEBUG", DRV_LOG_DEBUG}, {"Warn", DRV_LOG_WARN}};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        drv_log_level l = DRV_LOG_LAST;
        assert_int_equal(drv_log_level_from_string(ok[i].name, &l), 0);
        assert_int_equal(l, ok[i].level);
    }
    const char *bad[] = {NULL, "", "verbose", "warning", "err", "info "};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        drv_log_level l = DRV_LOG_LAST;
        assert_int_equal(drv_log_level_from_string(bad[i], &l), -1);
        assert_int_equal(l, DRV_LOG_LAST);
    }
}

/* Returns what the drv_log calls of `which` wrote to stderr (g_free). */
static char *s_capture(int which)
{
    fflush(stderr);
    char path[] = "/tmp/drover-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    if (which == 0) {
        drv_debug("dbg %d", 1);
        drv_info("inf %s", "x");
        drv_warn("wrn");
        drv_err("bad %s", "thing");
    }
    drv_log(DRV_LOG_LAST, "never");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    return text;
}

static void test_log_filter_and_format(void **state)
{
    unsetenv("DROVER_LOG_LEVEL");
    drv_log_init("unit", DRV_LOG_WARN);
    g_autofree char *a = s_capture(0);
    assert_null(strstr(a, "dbg 1"));
    assert_null(strstr(a, "inf x"));
    assert_non_null(strstr(a, " warn unit: wrn\n"));
    assert_non_null(strstr(a, " error unit: bad thing\n"));
    assert_null(strstr(a, "never"));
    /* each line starts with an ISO-8601 UTC timestamp with milliseconds */
    assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z warn ",
                                     a, G_REGEX_MULTILINE, 0));

    /* the environment overrides the level given by the program */
    setenv("DROVER_LOG_LEVEL", "debug", 1);
    drv_log_init("unit2", DRV_LOG_ERROR);
    g_autofree char *b = s_capture(0);
    assert_non_null(strstr(b, " debug unit2: dbg 1\n"));
    assert_non_null(strstr(b, " info unit2: inf x\n"));
    /* an unknown value is ignored */
    setenv("DROVER_LOG_LEVEL", "chatty", 1);
    drv_log_init(NULL, DRV_LOG_ERROR);
    g_autofree char *c = s_capture(0);
    assert_null(strstr(c, "wrn"));
    assert_non_null(strstr(c, " error drover: bad thing\n"));
    unsetenv("DROVER_LOG_LEVEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_propagate),
        cmocka_unit_test(test_cleanup_macro),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_log_filter_and_format),
    };
    return cmocka_run_group_tests_name("common_error_log", tests, NULL, NULL);
}
