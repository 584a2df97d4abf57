/* curve.c — bench/curve: round trips per second between a DEALER (an agent or the CLI) and a
 * ROUTER (the controller) over loopback TCP, each a drover envelope out (a heartbeat, or a
 * client request with a 600-byte body) and one back, with and without CURVE. The ROUTER runs in
 * a thread of its own, as the controller's loop does. Prints one line per case and the slowdown.
 *
 *   bench_curve [ROUND_TRIPS]   (default 20000) */
#include "codec.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *ctx;
    bool curve;
    char srv_pub[41], srv_sec[41];
    char endpoint[64];
    long n;
    bool big;
} s_bench;

static void *s_server(void *arg)
{
    s_bench *b = arg;
    void *r = zmq_socket(b->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
    if (b->curve) {
        zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof(one));
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, b->srv_sec, 40);
    }
    zmq_bind(r, "tcp://127.0.0.1:*");
    size_t sz = sizeof(b->endpoint);
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, b->endpoint, &sz);
    for (long i = 0; i < b->n + 1; i++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, r, 0) < 0 || zmq_msg_recv(&body, r, 0) < 0)
            break;
        zmq_msg_send(&id, r, ZMQ_SNDMORE);
        zmq_msg_send(&body, r, 0);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    zmq_close(r);
    return NULL;
}

static double s_run(bool curve, bool big, long n)
{
    s_bench b = {.curve = curve, .n = n, .big = big};
    b.ctx = zmq_ctx_new();
    zmq_curve_keypair(b.srv_pub, b.srv_sec);
    GThread *t = g_thread_new("router", s_server, &b);
    while (b.endpoint[0] == '\0')
        g_usleep(1000);
    void *d = zmq_socket(b.ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof(zero));
    if (curve) {
        char pub[41], sec[41];
        zmq_curve_keypair(pub, sec);
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, b.srv_pub, 40);
        zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    zmq_connect(d, b.endpoint);
    Drover__Heartbeat hb = DROVER__HEARTBEAT__INIT;
    hb.instance = "bench";
    Drover__ClientRequest cr = DROVER__CLIENT_REQUEST__INIT;
    static char body[600];
    memset(body, 'x', sizeof(body));
    cr.verb = "domain.define";
    cr.body.data = (uint8_t *)body;
    cr.body.len = sizeof(body);
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    if (big) {
        env.body_case = DROVER__ENVELOPE__BODY_CLIENT_REQUEST;
        env.client_request = &cr;
    } else {
        env.body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
        env.heartbeat = &hb;
    }
    drv_error *err = NULL;
    Drover__Envelope *in = NULL;
    /* one round trip first: the handshake is not part of the figure */
    drv_wire_send(d, NULL, &env, 0, &err);
    drv_wire_recv(d, false, 0, 0, NULL, &in, &err);
    drv_codec_destroy(&in);
    gint64 t0 = g_get_monotonic_time();
    for (long i = 0; i < n; i++) {
        hb.seq = (uint64_t)i;
        if (drv_wire_send(d, NULL, &env, 0, &err) < 0 ||
            drv_wire_recv(d, false, 0, 0, NULL, &in, &err) < 0) {
            fprintf(stderr, "bench_curve: %s\n", err->message);
            exit(1);
        }
        drv_codec_destroy(&in);
    }
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    g_thread_join(t);
    zmq_close(d);
    zmq_ctx_shutdown(b.ctx);
    zmq_ctx_term(b.ctx);
    return (double)n / secs;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (n <= 0 || !zmq_has("curve")) {
        fprintf(stderr, "usage: bench_curve [ROUND_TRIPS] (libzmq must have CURVE)\n");
        return 2;
    }
    const char *what[2] = {"agent path (heartbeat)", "client path (600-byte request)"};
    for (int big = 0; big < 2; big++) {
        double plain = s_run(false, big, n);
        double secured = s_run(true, big, n);
        printf("%-32s plain %8.0f round trips/s, CURVE %8.0f round trips/s (%.1f%% slower)\n",
               what[big], plain, secured, 100.0 * (plain - secured) / plain);
    }
    return 0;
}
