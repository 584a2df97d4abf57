/* etcd_limits_test.c — the bounds on what etcd sends (docs/security.md): a unary reply body over
 * the client's limit fails the call naming the limit (served by a one-shot HTTP server thread on a
 * loopback port), and the watch stream parser (fed by hand, no connection) drops a line over its
 * limit, splits lines across any chunking and searches each byte for a newline once. */
#include "etcd_private.h"
#include "log.h"

#include <glib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* --- a one-shot HTTP server: answers one request with `size` bytes of body --- */

typedef struct {
    int fd;
    size_t size;
    size_t sent; /* body bytes written before the peer went away */
} s_server;

static gpointer s_serve(gpointer data)
{
    s_server *s = data;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    GString *req = g_string_new(NULL);
    /* read the headers and the (small) body */
    while (strstr(req->str, "\r\n\r\n") == NULL) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0)
            break;
        g_string_append_len(req, buf, n);
    }
    g_string_free(req, TRUE);
    g_autofree char *head = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                            "Content-Length: %zu\r\n\r\n",
                                            s->size);
    if (write(c, head, strlen(head)) < 0) {
        close(c);
        return NULL;
    }
    memset(buf, ' ', sizeof(buf));
    while (s->sent < s->size) {
        size_t n = s->size - s->sent < sizeof(buf) ? s->size - s->sent : sizeof(buf);
        ssize_t w = send(c, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        s->sent += (size_t)w;
    }
    close(c);
    return NULL;
}

static int s_listen(int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *ret_port = ntohs(a.sin_port);
    return fd;
}

static void test_reply_over_limit_fails_naming_it(void **state)
{
    (void)state;
    int port = 0;
    s_server s = {.size = 8 * 1024 * 1024};
    s.fd = s_listen(&port);
    GThread *t = g_thread_new("http", s_serve, &s);
    g_autofree char *ep = g_strdup_printf("http://127.0.0.1:%d", port);
    const char *eps[] = {ep};
    drv_error *err = NULL;
    drv_etcd *e = drv_etcd_new(eps, 1, 5000, NULL, &err);
    assert_non_null(e);
    drv_etcd_set_max_reply_bytes(e, 64 * 1024);
    drv_etcd_range r = {0};
    assert_int_equal(drv_etcd_get(e, "k", 1, &r, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    assert_non_null(strstr(err->message, "exceeds the limit of 65536 bytes"));
    assert_non_null(strstr(err->message, "etcd_max_reply_bytes"));
    drv_error_destroy(&err);
    drv_etcd_destroy(&e);
    g_thread_join(t);
    close(s.fd);
    /* the transfer was cut short: far less than the 8 MiB was taken */
    assert_true(s.sent < s.size);
}

static void test_reply_under_limit_is_parsed(void **state)
{
    (void)state;
    int port = 0;
    s_server s = {.size = 100};
    s.fd = s_listen(&port);
    GThread *t = g_thread_new("http", s_serve, &s);
    g_autofree char *ep = g_strdup_printf("http://127.0.0.1:%d", port);
    const char *eps[] = {ep};
    drv_error *err = NULL;
    drv_etcd *e = drv_etcd_new(eps, 1, 5000, NULL, &err);
    drv_etcd_set_max_reply_bytes(e, 64 * 1024);
    drv_etcd_range r = {0};
    /* 100 spaces are not JSON: the parser saw them, the limit did not interfere */
    assert_int_equal(drv_etcd_get(e, "k", 1, &r, &err), -1);
    assert_non_null(strstr(err->message, "not a JSON object"));
    drv_error_destroy(&err);
    drv_etcd_destroy(&e);
    g_thread_join(t);
    close(s.fd);
}

static void test_default_limits(void **state)
{
    (void)state;
    assert_int_equal(drv_etcd_default_max_reply_bytes(), DRV_ETCD_DEFAULT_MAX_REPLY_BYTES);
    drv_etcd_set_default_limits(1 << 20, 2 << 20);
    assert_int_equal(drv_etcd_default_max_reply_bytes(), 1 << 20);
    assert_int_equal(drv_etcd_default_max_watch_line_bytes(), 2 << 20);
    drv_etcd_set_default_limits(0, 0); /* 0 keeps them */
    assert_int_equal(drv_etcd_default_max_reply_bytes(), 1 << 20);
    drv_etcd_set_default_limits(DRV_ETCD_DEFAULT_MAX_REPLY_BYTES,
                                DRV_ETCD_DEFAULT_MAX_WATCH_LINE_BYTES);
}

/* --- the watch stream parser --- */

static const char *S_CREATED = "{\"result\":{\"header\":{\"revision\":\"7\"},\"created\":true}}\n";
/* key "/p/a" = L3AvYQ==, value "v" = dg== */
static const char *S_EVENT =
    "{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"kv\":{\"key\":\"L3AvYQ==\","
    "\"value\":\"dg==\",\"mod_revision\":\"8\"}}]}}\n";

static void test_watch_lines_across_any_chunking(void **state)
{
    (void)state;
    g_autofree char *stream = g_strconcat(S_CREATED, S_EVENT, NULL);
    size_t len = strlen(stream);
    for (size_t chunk = 1; chunk <= len; chunk += 7) {
        drv_etcd_watch *w = drv_etcd_watch_new_detached("/p/", 3, true, 0);
        for (size_t off = 0; off < len; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            assert_int_equal(drv_etcd_watch_feed(w, stream + off, n), 0);
        }
        drv_etcd_event ev = {0};
        drv_error *err = NULL;
        assert_int_equal(drv_etcd_watch_next(w, 0, &ev, &err), 1);
        assert_int_equal(ev.kv.key_len, 4);
        assert_memory_equal(ev.kv.key, "/p/a", 4);
        assert_int_equal(ev.kv.mod_revision, 8);
        drv_etcd_event_clear(&ev);
        assert_int_equal(drv_etcd_watch_next(w, 0, &ev, &err), 0);
        /* every byte was searched for a newline once */
        assert_int_equal(drv_etcd_watch_scan_bytes(w), len);
        drv_etcd_watch_destroy(&w);
    }
}

static void test_watch_long_line_scanned_once(void **state)
{
    (void)state;
    drv_etcd_watch *w = drv_etcd_watch_new_detached("/p/", 3, true, 4 * 1024 * 1024);
    char chunk[1024];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 2048; i++) /* 2 MiB, no newline, in 1 KiB chunks */
        assert_int_equal(drv_etcd_watch_feed(w, chunk, sizeof(chunk)), 0);
    /* linear: rescanning from the start on every chunk would have searched ~2 GiB */
    assert_int_equal(drv_etcd_watch_scan_bytes(w), 2048 * sizeof(chunk));
    drv_etcd_watch_destroy(&w);
}

static void test_watch_line_over_limit_drops_stream(void **state)
{
    (void)state;
    drv_etcd_watch *w = drv_etcd_watch_new_detached("/p/", 3, true, 64 * 1024);
    assert_int_equal(drv_etcd_watch_feed(w, S_CREATED, strlen(S_CREATED)), 0);
    char chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    int rc = 0, fed = 0;
    while (rc == 0 && fed < 100) {
        rc = drv_etcd_watch_feed(w, chunk, sizeof(chunk));
        fed++;
    }
    assert_int_equal(rc, -1);
    /* dropped once it held more than 64 KiB: on the 17th chunk */
    assert_int_equal(fed, 17);
    /* the stream stays dropped: nothing more is taken from it */
    assert_int_equal(drv_etcd_watch_feed(w, S_EVENT, strlen(S_EVENT)), -1);
    drv_etcd_event ev = {0};
    drv_error *err = NULL;
    assert_int_equal(drv_etcd_watch_next(w, 0, &ev, &err), 0);
    drv_etcd_watch_destroy(&w);
}

static void test_watch_bad_line_drops_stream(void **state)
{
    (void)state;
    drv_etcd_watch *w = drv_etcd_watch_new_detached("/p/", 3, true, 0);
    assert_int_equal(drv_etcd_watch_feed(w, "{not json\n", 10), -1);
    drv_etcd_watch_destroy(&w);
    /* a key that is not base64 */
    w = drv_etcd_watch_new_detached("/p/", 3, true, 0);
    const char *bad = "{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!!!\"}}]}}\n";
    assert_int_equal(drv_etcd_watch_feed(w, bad, strlen(bad)), -1);
    drv_etcd_watch_destroy(&w);
}

int main(void)
{
    drv_log_init("etcd_limits_test", DRV_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_over_limit_fails_naming_it),
        cmocka_unit_test(test_reply_under_limit_is_parsed),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_watch_lines_across_any_chunking),
        cmocka_unit_test(test_watch_long_line_scanned_once),
        cmocka_unit_test(test_watch_line_over_limit_drops_stream),
        cmocka_unit_test(test_watch_bad_line_drops_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
