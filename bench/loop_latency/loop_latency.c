/* loop_latency — the controller's loop latency while it commits placements to etcd (issue 11).
 *
 * Heartbeats, client requests and etcd answers are handled by one loop; a message waits as long as
 * the loop is busy elsewhere. This program measures that wait from outside: one thread sends
 * `cluster.status` (answered from the cache, no etcd, no agent) every PERIOD ms and records each
 * round trip, while WRITERS threads start N defined domains (each `domain.start` is a placement
 * txn in etcd, then a define and a start on an agent). It prints the round trip's p50/p99/max
 * during the placements and the placements committed per second. The round trip includes the
 * client's own ZeroMQ hops (~0.1 ms on loopback), so it is an upper bound of the time a heartbeat
 * waits in the loop.
 *
 * usage: loop_latency ENDPOINT PREFIX N [WRITERS] [PERIOD_MS]
 *   domains PREFIX0..PREFIX(N-1) must be defined and shut off (bench/loop_latency/run.sh does it).
 */
#include "client.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *endpoint;
    const char *prefix;
    int n;
    int writers;
    gint next;   /* atomic: next domain to start */
    gint failed; /* atomic */
    gint done;   /* atomic: writers finished */
} s_bench;

static int s_call(drv_cli_client *c, const char *verb, const char *arg)
{
    const char *args[1] = {arg};
    drv_cli_request req = {.verb = verb, .args = args, .n_args = arg ? 1 : 0};
    drv_cli_reply *rep = NULL;
    drv_error *err = NULL;
    if (drv_cli_client_call(c, &req, &rep, &err) < 0) {
        fprintf(stderr, "%s: %s\n", verb, err->message);
        drv_error_destroy(&err);
        return -1;
    }
    int rc = rep->status == 0 ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "%s %s: %s\n", verb, arg ? arg : "", rep->error);
    drv_cli_reply_destroy(&rep);
    return rc;
}

static gpointer s_writer(gpointer p)
{
    s_bench *b = p;
    drv_cli_client *c = drv_cli_client_new(b->endpoint, 60000, NULL);
    for (;;) {
        int i = g_atomic_int_add(&b->next, 1);
        if (i >= b->n)
            break;
        g_autofree char *name = g_strdup_printf("%s%d", b->prefix, i);
        if (s_call(c, "domain.start", name) < 0)
            g_atomic_int_inc(&b->failed);
    }
    drv_cli_client_destroy(&c);
    g_atomic_int_inc(&b->done);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: loop_latency ENDPOINT PREFIX N [WRITERS] [PERIOD_MS]\n");
        return 2;
    }
    s_bench b = {.endpoint = argv[1], .prefix = argv[2], .n = atoi(argv[3])};
    b.writers = argc > 4 ? atoi(argv[4]) : 8;
    int period_ms = argc > 5 ? atoi(argv[5]) : 2;
    drv_cli_client *probe = drv_cli_client_new(b.endpoint, 10000, NULL);
    if (probe == NULL || s_call(probe, "cluster.status", NULL) < 0)
        return 1;
    GArray *rtt = g_array_new(FALSE, FALSE, sizeof(int64_t));
    int64_t t0 = g_get_monotonic_time();
    GThread **threads = g_new0(GThread *, b.writers);
    for (int i = 0; i < b.writers; i++)
        threads[i] = g_thread_new("writer", s_writer, &b);
    while (g_atomic_int_get(&b.done) < b.writers) {
        int64_t s = g_get_monotonic_time();
        if (s_call(probe, "cluster.status", NULL) == 0) {
            int64_t us = g_get_monotonic_time() - s;
            g_array_append_val(rtt, us);
        }
        g_usleep((gulong)period_ms * 1000);
    }
    int64_t wall_us = g_get_monotonic_time() - t0;
    for (int i = 0; i < b.writers; i++)
        g_thread_join(threads[i]);
    g_free(threads);
    drv_cli_client_destroy(&probe);
    if (rtt->len == 0) {
        fprintf(stderr, "no sample\n");
        return 1;
    }
    qsort(rtt->data, rtt->len, sizeof(int64_t), s_cmp);
    int64_t *v = (int64_t *)rtt->data;
    int ok = b.n - g_atomic_int_get(&b.failed);
    printf("placements committed: %d of %d in %.2f s (%.0f/s, %d writers)\n", ok, b.n,
           (double)wall_us / 1e6, ok / ((double)wall_us / 1e6), b.writers);
    printf("loop latency (cluster.status round trip, %u samples): p50 %.2f ms, p99 %.2f ms, max "
           "%.2f ms\n",
           rtt->len, v[rtt->len / 2] / 1000.0, v[(rtt->len * 99) / 100] / 1000.0,
           v[rtt->len - 1] / 1000.0);
    g_array_unref(rtt);
    return 0;
}
