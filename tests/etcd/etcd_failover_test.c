/* etcd_failover_test.c — the client when etcd is not there: etcd stopped (calls fail with
 * DRV_ERR_UNAVAILABLE within a generous bound of the timeout and work again after a restart), an
 * endpoint that accepts TCP but never answers, failover from a dead endpoint to a live one. */
#include "etcd_test_util.h"

#include <glib.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_MS 500

static void test_etcd_down_then_back(void **state)
{
    drv_etcd *c = etcd_test_client(TIMEOUT_MS);
    drv_error *err = NULL;
    assert_int_equal(drv_etcd_put_str(c, "/fo/k", "before", 0, NULL, &err), 0);

    assert_int_equal(drv_test_etcd_stop(etcd_test_server), 0);
    int64_t t0 = etcd_test_now_ms();
    assert_int_equal(drv_etcd_put_str(c, "/fo/k", "while down", 0, NULL, &err), -1);
    int64_t put_ms = etcd_test_now_ms() - t0;
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_UNAVAILABLE);
    assert_non_null(strstr(err->message, drv_test_etcd_endpoint(etcd_test_server)));
    print_message("etcd down: put failed after %" PRId64 " ms: %s\n", put_ms, err->message);
    drv_error_destroy(&err);
    assert_true(put_ms < 5 * TIMEOUT_MS);

    t0 = etcd_test_now_ms();
    assert_int_equal(drv_etcd_get_str(c, "/fo/k", NULL, NULL, &err), -1);
    assert_true(etcd_test_now_ms() - t0 < 5 * TIMEOUT_MS);
    assert_int_equal(err->kind, DRV_ERR_UNAVAILABLE);
    drv_error_destroy(&err);

    /* Same client, same data after the restart. */
    assert_int_equal(drv_test_etcd_restart(etcd_test_server), 0);
    char *value = NULL;
    assert_int_equal(drv_etcd_get_str(c, "/fo/k", &value, NULL, &err), 1);
    assert_string_equal(value, "before");
    g_free(value);
    assert_int_equal(drv_etcd_put_str(c, "/fo/k", "after", 0, NULL, &err), 0);
    drv_etcd_destroy(&c);
}

static void test_unresponsive_endpoint(void **state)
{
    /* A socket that listens but never accepts: TCP connects, no HTTP answer ever comes. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    g_autofree char *url = g_strdup_printf("http://127.0.0.1:%d", ntohs(a.sin_port));

    const char *endpoints[] = {url};
    drv_error *err = NULL;
    drv_etcd *c = drv_etcd_new(endpoints, 1, TIMEOUT_MS, NULL, &err);
    assert_non_null(c);
    int64_t t0 = etcd_test_now_ms();
    assert_int_equal(drv_etcd_get_str(c, "/fo/k", NULL, NULL, &err), -1);
    int64_t get_ms = etcd_test_now_ms() - t0;
    assert_int_equal(err->kind, DRV_ERR_UNAVAILABLE);
    print_message("silent endpoint: get failed after %" PRId64 " ms: %s\n", get_ms, err->message);
    drv_error_destroy(&err);
    assert_true(get_ms < 5 * TIMEOUT_MS);
    drv_etcd_destroy(&c);
    close(fd);
}

static void test_failover_dead_to_live(void **state)
{
    g_autofree char *dead = g_strdup_printf("http://127.0.0.1:%d", drv_test_free_port());
    const char *endpoints[] = {dead, drv_test_etcd_endpoint(etcd_test_server)};
    drv_error *err = NULL;
    drv_etcd *c = drv_etcd_new(endpoints, 2, 2000, NULL, &err);
    assert_non_null(c);
    assert_string_equal(drv_etcd_endpoint(c), dead);
    assert_int_equal(drv_etcd_put_str(c, "/fo/failover", "ok", 0, NULL, &err), 0);
    assert_null(err);
    assert_string_equal(drv_etcd_endpoint(c), drv_test_etcd_endpoint(etcd_test_server));
    char *value = NULL;
    assert_int_equal(drv_etcd_get_str(c, "/fo/failover", &value, NULL, &err), 1);
    assert_string_equal(value, "ok");
    g_free(value);
    drv_etcd_destroy(&c);

    /* A txn also fails over when the dead endpoint never received it (connection refused). */
    c = drv_etcd_new(endpoints, 2, 2000, NULL, &err);
    drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_CREATE,
                        .result = DRV_ETCD_EQUAL,
                        .key = "/fo/txn",
                        .key_len = 7,
                        .number = 0};
    drv_etcd_op put = {
        .kind = DRV_ETCD_OP_PUT, .key = "/fo/txn", .key_len = 7, .value = "t", .value_len = 1};
    drv_etcd_txn_result res;
    assert_int_equal(drv_etcd_txn(c, &cmp, 1, &put, 1, NULL, 0, &res, &err), 0);
    assert_true(res.succeeded);
    drv_etcd_txn_result_clear(&res);
    drv_etcd_destroy(&c);

    /* Every endpoint dead: one error naming all of them. */
    g_autofree char *dead2 = g_strdup_printf("http://127.0.0.1:%d", drv_test_free_port());
    const char *all_dead[] = {dead, dead2};
    c = drv_etcd_new(all_dead, 2, 2000, NULL, &err);
    assert_int_equal(drv_etcd_get_str(c, "/fo/failover", NULL, NULL, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_UNAVAILABLE);
    assert_non_null(strstr(err->message, dead));
    assert_non_null(strstr(err->message, dead2));
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
}

static void test_bad_arguments(void **state)
{
    drv_error *err = NULL;
    assert_null(drv_etcd_new(NULL, 0, 1000, NULL, &err));
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    const char *endpoints[] = {"http://127.0.0.1:1"};
    assert_null(drv_etcd_new(endpoints, 1, 0, NULL, &err));
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_etcd *c = NULL;
    drv_etcd_destroy(&c); /* NULL-safe */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_etcd_down_then_back),
    cmocka_unit_test(test_unresponsive_endpoint),
    cmocka_unit_test(test_failover_dead_to_live),
    cmocka_unit_test(test_bad_arguments),
};
ETCD_TEST_MAIN(tests)
