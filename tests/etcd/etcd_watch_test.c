/* etcd_watch_test.c — the streaming watch against a real etcd: puts and deletes in order with
 * previous values, the eventfd, a watch from an old revision, resume across an etcd stop/start with
 * no event lost or repeated, a compacted start revision as a fatal error, prompt destroy. */
#include "etcd_test_util.h"

#include <curl/curl.h>
#include <glib.h>
#include <stdlib.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 10000

static drv_etcd_watch *s_watch_new(const char *prefix, int64_t start_revision, bool prev_kv)
{
    const char *endpoints[] = {drv_test_etcd_endpoint(etcd_test_server)};
    drv_error *err = NULL;
    drv_etcd_watch *w = drv_etcd_watch_new(endpoints, 1, prefix, strlen(prefix), true,
                                           start_revision, prev_kv, NULL, &err);
    if (w == NULL)
        fail_msg("drv_etcd_watch_new: %s", err->message);
    return w;
}

/* Next event or a test failure (timeout or fatal error). */
static void s_next(drv_etcd_watch *w, drv_etcd_event *ev)
{
    drv_error *err = NULL;
    int rc = drv_etcd_watch_next(w, WAIT_MS, ev, &err);
    if (rc < 0)
        fail_msg("watch_next: %s", err->message);
    if (rc == 0)
        fail_msg("watch_next: no event within %d ms", WAIT_MS);
}

static bool s_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void s_put(drv_etcd *c, const char *key, const char *value, int64_t *ret_rev)
{
    drv_error *err = NULL;
    if (drv_etcd_put_str(c, key, value, 0, ret_rev, &err) < 0)
        fail_msg("put %s: %s", key, err->message);
}

static void test_puts_and_deletes_in_order(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    drv_etcd_watch *w = s_watch_new("/w1/", 0, true);
    int fd = drv_etcd_watch_fd(w);
    assert_true(fd >= 0);
    assert_false(s_readable(fd, 0));

    int64_t r1 = 0, r2 = 0, r3 = 0, r4 = 0;
    s_put(c, "/w1/a", "a1", &r1);
    s_put(c, "/w1/a", "a2", &r2);
    s_put(c, "/w1x", "outside the prefix", NULL);
    s_put(c, "/w1/b", "b1", &r3);
    int64_t deleted = 0;
    assert_int_equal(drv_etcd_delete(c, "/w1/a", 5, false, NULL, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    drv_etcd_range r;
    assert_int_equal(drv_etcd_get(c, "/w1/b", 5, &r, &err), 0);
    r4 = r.revision; /* the delete's revision */
    drv_etcd_range_clear(&r);

    assert_true(s_readable(fd, WAIT_MS));
    drv_etcd_event ev;
    s_next(w, &ev);
    assert_int_equal(ev.type, DRV_ETCD_EVENT_PUT);
    assert_string_equal(ev.kv.key, "/w1/a");
    assert_string_equal(ev.kv.value, "a1");
    assert_int_equal(ev.kv.mod_revision, r1);
    assert_null(ev.prev_kv.key); /* created: nothing before */
    assert_int_equal(drv_etcd_watch_last_revision(w), r1);
    drv_etcd_event_clear(&ev);

    s_next(w, &ev);
    assert_int_equal(ev.type, DRV_ETCD_EVENT_PUT);
    assert_string_equal(ev.kv.value, "a2");
    assert_int_equal(ev.kv.mod_revision, r2);
    assert_int_equal(ev.kv.version, 2);
    assert_non_null(ev.prev_kv.key);
    assert_string_equal(ev.prev_kv.value, "a1");
    drv_etcd_event_clear(&ev);

    s_next(w, &ev);
    assert_string_equal(ev.kv.key, "/w1/b");
    assert_int_equal(ev.kv.mod_revision, r3);
    drv_etcd_event_clear(&ev);

    s_next(w, &ev);
    assert_int_equal(ev.type, DRV_ETCD_EVENT_DELETE);
    assert_string_equal(ev.kv.key, "/w1/a");
    assert_int_equal(ev.kv.mod_revision, r4);
    assert_string_equal(ev.prev_kv.value, "a2");
    drv_etcd_event_clear(&ev);
    assert_int_equal(drv_etcd_watch_last_revision(w), r4);

    /* Queue drained: the fd is no longer readable and next times out. */
    assert_false(s_readable(fd, 0));
    assert_int_equal(drv_etcd_watch_next(w, 200, &ev, &err), 0);
    assert_null(err);

    drv_etcd_watch_destroy(&w);
    assert_null(w);
    drv_etcd_destroy(&c);
}

static void test_from_revision_and_txn(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t r1 = 0;
    s_put(c, "/w2/h", "v1", &r1);
    s_put(c, "/w2/h", "v2", NULL);

    /* One txn writing two keys: two events at one revision, both delivered. */
    drv_etcd_op ops[] = {
        {.kind = DRV_ETCD_OP_PUT, .key = "/w2/x", .key_len = 5, .value = "x", .value_len = 1},
        {.kind = DRV_ETCD_OP_PUT, .key = "/w2/y", .key_len = 5, .value = "y", .value_len = 1},
    };
    drv_etcd_txn_result res;
    assert_int_equal(drv_etcd_txn(c, NULL, 0, ops, 2, NULL, 0, &res, &err), 0);
    int64_t txn_rev = res.revision;
    drv_etcd_txn_result_clear(&res);

    /* Started after the fact from r1: the history is replayed. */
    drv_etcd_watch *w = s_watch_new("/w2/", r1, false);
    const char *want_keys[] = {"/w2/h", "/w2/h", "/w2/x", "/w2/y"};
    const char *want_vals[] = {"v1", "v2", "x", "y"};
    for (size_t i = 0; i < G_N_ELEMENTS(want_keys); i++) {
        drv_etcd_event ev;
        s_next(w, &ev);
        assert_string_equal(ev.kv.key, want_keys[i]);
        assert_string_equal(ev.kv.value, want_vals[i]);
        assert_null(ev.prev_kv.key); /* not asked for */
        if (i >= 2)
            assert_int_equal(ev.kv.mod_revision, txn_rev);
        drv_etcd_event_clear(&ev);
    }
    drv_etcd_watch_destroy(&w);
    drv_etcd_destroy(&c);
}

typedef struct {
    char *key;
    int64_t rev;
    drv_etcd_event_type type;
} seen_event;

/* Collects events until n have arrived (or WAIT_MS passes without one). */
static size_t s_collect(drv_etcd_watch *w, seen_event *out, size_t n)
{
    size_t got = 0;
    drv_error *err = NULL;
    while (got < n) {
        drv_etcd_event ev;
        int rc = drv_etcd_watch_next(w, WAIT_MS, &ev, &err);
        if (rc < 0)
            fail_msg("watch_next: %s", err->message);
        if (rc == 0)
            break;
        out[got].key = g_strdup(ev.kv.key);
        out[got].rev = ev.kv.mod_revision;
        out[got].type = ev.type;
        got++;
        drv_etcd_event_clear(&ev);
    }
    return got;
}

static void test_resume_across_restart(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    drv_etcd_watch *w = s_watch_new("/w3/", 0, true);
    GPtrArray *want = g_ptr_array_new_with_free_func(g_free);

    /* Before the outage: some events are consumed, some still queued when etcd goes away. */
    for (int i = 0; i < 5; i++) {
        char key[32];
        g_snprintf(key, sizeof(key), "/w3/before-%d", i);
        s_put(c, key, "v", NULL);
        g_ptr_array_add(want, g_strdup(key));
    }
    seen_event seen[64] = {0};
    size_t n_seen = s_collect(w, seen, 2);
    assert_int_equal(n_seen, 2);
    s_put(c, "/w3/before-5", "v", NULL);
    g_ptr_array_add(want, g_strdup("/w3/before-5"));

    /* Outage: the stream breaks; the watch retries with backoff, which grows to ~1 s meanwhile, so
     * the writes below most likely land while the watch is still disconnected. */
    assert_int_equal(drv_test_etcd_stop(etcd_test_server), 0);
    g_usleep(1500 * 1000);
    assert_int_equal(drv_test_etcd_restart(etcd_test_server), 0);

    /* Written at once after the restart, most likely before the watch has reconnected. */
    for (int i = 0; i < 5; i++) {
        char key[32];
        g_snprintf(key, sizeof(key), "/w3/after-%d", i);
        s_put(c, key, "v", NULL);
        g_ptr_array_add(want, g_strdup(key));
    }
    int64_t last_rev = 0;
    assert_int_equal(drv_etcd_delete(c, "/w3/before-0", 12, false, NULL, NULL, &err), 0);
    g_ptr_array_add(want, g_strdup("/w3/before-0"));
    s_put(c, "/w3/last", "v", &last_rev);
    g_ptr_array_add(want, g_strdup("/w3/last"));

    n_seen += s_collect(w, seen + n_seen, want->len - n_seen);
    assert_int_equal(n_seen, want->len);
    for (size_t i = 0; i < n_seen; i++) {
        assert_string_equal(seen[i].key, (const char *)want->pdata[i]);
        if (i > 0)
            assert_true(seen[i].rev > seen[i - 1].rev); /* strictly increasing: no repeats */
    }
    assert_int_equal(seen[n_seen - 2].type, DRV_ETCD_EVENT_DELETE);
    assert_int_equal(seen[n_seen - 1].rev, last_rev);

    /* Nothing more: no event repeated after the resume. */
    drv_etcd_event ev;
    assert_int_equal(drv_etcd_watch_next(w, 1000, &ev, &err), 0);
    assert_null(err);
    for (size_t i = 0; i < n_seen; i++)
        g_free(seen[i].key);
    g_ptr_array_free(want, TRUE);
    drv_etcd_watch_destroy(&w);
    drv_etcd_destroy(&c);
}

/* --- a loopback TCP forwarder the test can cut: the watch's connection breaks while etcd stays up,
 * so events can be written for certain while the watch is disconnected --- */

#define PROXY_MAX_PAIRS 16

typedef struct {
    int port;
    int target_port;
    int listen_fd;
    int pairs[PROXY_MAX_PAIRS][2]; /* client, upstream; -1 when free */
    GThread *thread;
    gint stop;
} s_proxy;

static void s_proxy_close_pair(s_proxy *p, int i)
{
    close(p->pairs[i][0]);
    close(p->pairs[i][1]);
    p->pairs[i][0] = p->pairs[i][1] = -1;
}

static gpointer s_proxy_main(gpointer data)
{
    s_proxy *p = data;
    while (!g_atomic_int_get(&p->stop)) {
        struct pollfd fds[1 + 2 * PROXY_MAX_PAIRS];
        int map[1 + 2 * PROXY_MAX_PAIRS];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        for (int i = 0; i < PROXY_MAX_PAIRS; i++) {
            if (p->pairs[i][0] < 0)
                continue;
            for (int side = 0; side < 2; side++) {
                map[n] = i * 2 + side;
                fds[n++] = (struct pollfd){.fd = p->pairs[i][side], .events = POLLIN};
            }
        }
        if (poll(fds, (nfds_t)n, 100) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int cfd = accept(p->listen_fd, NULL, NULL);
            int ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in a = {.sin_family = AF_INET,
                                    .sin_port = htons((uint16_t)p->target_port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            int slot = -1;
            for (int i = 0; i < PROXY_MAX_PAIRS && slot < 0; i++)
                if (p->pairs[i][0] < 0)
                    slot = i;
            if (cfd >= 0 && ufd >= 0 && slot >= 0 &&
                connect(ufd, (struct sockaddr *)&a, sizeof(a)) == 0) {
                p->pairs[slot][0] = cfd;
                p->pairs[slot][1] = ufd;
            } else {
                if (cfd >= 0)
                    close(cfd);
                if (ufd >= 0)
                    close(ufd);
            }
        }
        for (int k = 1; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = map[k] / 2, side = map[k] % 2;
            if (p->pairs[i][0] < 0)
                continue;
            char buf[65536];
            ssize_t got = read(p->pairs[i][side], buf, sizeof(buf));
            bool ok = got > 0;
            for (ssize_t off = 0; ok && off < got;) {
                ssize_t put = write(p->pairs[i][1 - side], buf + off, (size_t)(got - off));
                ok = put > 0;
                off += put > 0 ? put : 0;
            }
            if (!ok)
                s_proxy_close_pair(p, i);
        }
    }
    return NULL;
}

/* Starts forwarding 127.0.0.1:p->port (0 = pick one) to p->target_port. */
static void s_proxy_up(s_proxy *p)
{
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->listen_fd >= 0);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)p->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->listen_fd, 16), 0);
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    for (int i = 0; i < PROXY_MAX_PAIRS; i++)
        p->pairs[i][0] = p->pairs[i][1] = -1;
    g_atomic_int_set(&p->stop, 0);
    p->thread = g_thread_new("proxy", s_proxy_main, p);
}

/* Stops listening and cuts every forwarded connection: new connects are refused. */
static void s_proxy_down(s_proxy *p)
{
    g_atomic_int_set(&p->stop, 1);
    g_thread_join(p->thread);
    p->thread = NULL;
    for (int i = 0; i < PROXY_MAX_PAIRS; i++)
        if (p->pairs[i][0] >= 0)
            s_proxy_close_pair(p, i);
    close(p->listen_fd);
    p->listen_fd = -1;
}

static void test_resume_after_connection_cut(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    const char *etcd_url = drv_test_etcd_endpoint(etcd_test_server);
    s_proxy proxy = {.target_port = atoi(strrchr(etcd_url, ':') + 1)};
    s_proxy_up(&proxy);
    g_autofree char *via = g_strdup_printf("http://127.0.0.1:%d", proxy.port);
    const char *endpoints[] = {via};
    drv_etcd_watch *w = drv_etcd_watch_new(endpoints, 1, "/w6/", 4, true, 0, true, NULL, &err);
    assert_non_null(w);

    int64_t r1 = 0;
    s_put(c, "/w6/a", "1", &r1);
    drv_etcd_event ev;
    s_next(w, &ev);
    assert_int_equal(ev.kv.mod_revision, r1);
    drv_etcd_event_clear(&ev);

    /* Cut the watch's connection; etcd stays up and takes writes the watch cannot see yet. */
    s_proxy_down(&proxy);
    assert_int_equal(drv_etcd_watch_next(w, 300, &ev, &err), 0);
    int64_t revs[4];
    s_put(c, "/w6/a", "2", &revs[0]);
    s_put(c, "/w6/b", "1", &revs[1]);
    assert_int_equal(drv_etcd_delete(c, "/w6/a", 5, false, NULL, NULL, &err), 0);
    s_put(c, "/w6/c", "1", &revs[3]);
    revs[2] = revs[1] + 1;
    assert_int_equal(drv_etcd_watch_next(w, 300, &ev, &err), 0); /* still cut off */

    /* Reconnect: the watch resumes from r1 + 1 and gets exactly the missed events. */
    s_proxy_up(&proxy);
    const char *keys[] = {"/w6/a", "/w6/b", "/w6/a", "/w6/c"};
    for (int i = 0; i < 4; i++) {
        s_next(w, &ev);
        assert_string_equal(ev.kv.key, keys[i]);
        assert_int_equal(ev.kv.mod_revision, revs[i]);
        assert_int_equal(ev.type, i == 2 ? DRV_ETCD_EVENT_DELETE : DRV_ETCD_EVENT_PUT);
        if (i == 0 || i == 2)
            assert_string_equal(ev.prev_kv.value, i == 0 ? "1" : "2");
        drv_etcd_event_clear(&ev);
    }
    assert_int_equal(drv_etcd_watch_next(w, 500, &ev, &err), 0); /* nothing repeated */
    assert_null(err);
    drv_etcd_watch_destroy(&w);
    s_proxy_down(&proxy);
    drv_etcd_destroy(&c);
}

static size_t s_discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

/* POSTs /v3/kv/compaction (the client has no compaction call: drover never compacts). */
static void s_compact(int64_t revision)
{
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    g_autofree char *url =
        g_strconcat(drv_test_etcd_endpoint(etcd_test_server), "/v3/kv/compaction", NULL);
    g_autofree char *body =
        g_strdup_printf("{\"revision\":\"%" PRId64 "\",\"physical\":true}", revision);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    assert_int_equal(status, 200);
}

static void test_compacted_is_fatal(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t r1 = 0, r3 = 0;
    s_put(c, "/w4/k", "1", &r1);
    s_put(c, "/w4/k", "2", NULL);
    s_put(c, "/w4/k", "3", &r3);
    s_compact(r3);

    drv_etcd_watch *w = s_watch_new("/w4/", r1, false);
    assert_true(s_readable(drv_etcd_watch_fd(w), WAIT_MS)); /* the fatal error wakes pollers */
    drv_etcd_event ev;
    assert_int_equal(drv_etcd_watch_next(w, WAIT_MS, &ev, &err), -1);
    assert_non_null(err);
    assert_non_null(strstr(err->message, "compacted"));
    print_message("compacted watch: %s\n", err->message);
    drv_error_destroy(&err);
    /* It stays failed. */
    assert_int_equal(drv_etcd_watch_next(w, 0, &ev, &err), -1);
    drv_error_destroy(&err);
    drv_etcd_watch_destroy(&w);
    drv_etcd_destroy(&c);
}

static void test_destroy_is_prompt(void **state)
{
    /* Destroy a watch with a live, idle stream, and one whose etcd is gone (reconnect loop). */
    drv_etcd_watch *w = s_watch_new("/w5/", 0, false);
    int64_t t0 = etcd_test_now_ms();
    drv_etcd_watch_destroy(&w);
    int64_t idle_ms = etcd_test_now_ms() - t0;

    g_autofree char *dead = g_strdup_printf("http://127.0.0.1:%d", drv_test_free_port());
    const char *endpoints[] = {dead};
    drv_error *err = NULL;
    w = drv_etcd_watch_new(endpoints, 1, "/w5/", 4, true, 0, false, NULL, &err);
    assert_non_null(w);
    drv_etcd_event ev;
    assert_int_equal(drv_etcd_watch_next(w, 100, &ev, &err), 0);
    t0 = etcd_test_now_ms();
    drv_etcd_watch_destroy(&w);
    int64_t dead_ms = etcd_test_now_ms() - t0;
    print_message("watch destroy took %" PRId64 " ms (idle stream), %" PRId64
                  " ms (reconnecting)\n",
                  idle_ms, dead_ms);
    assert_true(idle_ms < 5000);
    assert_true(dead_ms < 5000);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_puts_and_deletes_in_order),
    cmocka_unit_test(test_from_revision_and_txn),
    cmocka_unit_test(test_resume_across_restart),
    cmocka_unit_test(test_resume_after_connection_cut),
    cmocka_unit_test(test_compacted_is_fatal),
    cmocka_unit_test(test_destroy_is_prompt),
};
ETCD_TEST_MAIN(tests)
