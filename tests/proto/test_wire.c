/* test_wire.c — drv_wire_send/recv over real ZeroMQ ROUTER/DEALER (and REQ) pairs on inproc:// and
 * ipc://: identity frames, the REQ delimiter, extra frames, garbled payloads, empty queues. */
#include "codec.h"
#include "msgfill.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#define RECV_TIMEOUT_MS                                                                            \
    5000 /* bounds every blocking receive: a lost message fails, never hangs                       \
          */

typedef struct {
    void *ctx;
    void *router;
    char endpoint[256];
    char *ipc_dir;
    GPtrArray *peers; /* sockets closed at teardown */
} fixture;

static void s_set_common(void *sock)
{
    int linger = 0, timeout = RECV_TIMEOUT_MS;
    assert_int_equal(zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout)), 0);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout, sizeof(timeout)), 0);
}

static int s_setup(void **state, bool ipc)
{
    fixture *f = g_new0(fixture, 1);
    f->ctx = zmq_ctx_new();
    f->peers = g_ptr_array_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    s_set_common(f->router);
    int mandatory = 1; /* an unknown identity is an error, not a silent drop */
    zmq_setsockopt(f->router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
    if (ipc) {
        f->ipc_dir = g_dir_make_tmp("drover-wire-XXXXXX", NULL);
        assert_non_null(f->ipc_dir);
        g_snprintf(f->endpoint, sizeof(f->endpoint), "ipc://%s/broker.sock", f->ipc_dir);
    } else {
        static int n;
        g_snprintf(f->endpoint, sizeof(f->endpoint), "inproc://wire-%d", n++);
    }
    assert_int_equal(zmq_bind(f->router, f->endpoint), 0);
    *state = f;
    return 0;
}

static int s_setup_inproc(void **state)
{
    return s_setup(state, false);
}

static int s_setup_ipc(void **state)
{
    return s_setup(state, true);
}

static int s_teardown(void **state)
{
    fixture *f = *state;
    for (guint i = 0; i < f->peers->len; i++)
        zmq_close(f->peers->pdata[i]);
    g_ptr_array_free(f->peers, TRUE);
    zmq_close(f->router);
    zmq_ctx_shutdown(f->ctx);
    zmq_ctx_term(f->ctx);
    if (f->ipc_dir != NULL) {
        g_autofree char *sock = g_strdup_printf("%s/broker.sock", f->ipc_dir);
        unlink(sock);
        rmdir(f->ipc_dir);
        g_free(f->ipc_dir);
    }
    g_free(f);
    return 0;
}

/* A connected peer socket of the given type; identity NULL lets ZeroMQ generate one. */
static void *s_peer(fixture *f, int type, const char *identity)
{
    void *s = zmq_socket(f->ctx, type);
    assert_non_null(s);
    s_set_common(s);
    if (identity != NULL)
        assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, identity, strlen(identity)), 0);
    assert_int_equal(zmq_connect(s, f->endpoint), 0);
    g_ptr_array_add(f->peers, s);
    return s;
}

static void s_heartbeat(Drover__Envelope *env, Drover__Heartbeat *hb, uint64_t seq, char *inst)
{
    drover__envelope__init(env);
    drover__heartbeat__init(hb);
    hb->seq = seq;
    hb->instance = inst;
    env->body_case = DROVER__ENVELOPE__BODY_HEARTBEAT;
    env->heartbeat = hb;
}

/* Receives one message on the router and asserts it is a heartbeat from `from` with seq. */
static void s_expect_heartbeat(void *router, const char *from, uint64_t seq)
{
    char *id = NULL;
    Drover__Envelope *env = NULL;
    drv_error *err = NULL;
    if (drv_wire_recv(router, true, 0, 0, &id, &env, &err) != 0)
        fail_msg("recv: %s", err->message);
    assert_string_equal(id, from);
    assert_int_equal(env->body_case, DROVER__ENVELOPE__BODY_HEARTBEAT);
    assert_int_equal(env->heartbeat->seq, seq);
    drv_codec_destroy(&env);
    g_free(id);
}

/* An agent (DEALER with its host id) and the controller (ROUTER) exchange messages both ways. */
static void s_dealer_roundtrip(fixture *f)
{
    void *dealer = s_peer(f, ZMQ_DEALER, "host-1");
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 17, "agent-a");
    drv_error *err = NULL;
    assert_int_equal(drv_wire_send(dealer, NULL, &env, 0, &err), 0);
    s_expect_heartbeat(f->router, "host-1", 17);

    /* answer through the identity: the dealer receives it without an identity frame */
    Drover__RegisterAck ack = DROVER__REGISTER_ACK__INIT;
    ack.controller_instance = "ctl-9";
    ack.heartbeat_interval_ms = 1000;
    ack.liveness = 3;
    Drover__Envelope reply = DROVER__ENVELOPE__INIT;
    reply.body_case = DROVER__ENVELOPE__BODY_REGISTER_ACK;
    reply.register_ack = &ack;
    assert_int_equal(drv_wire_send(f->router, "host-1", &reply, 0, &err), 0);
    Drover__Envelope *got = NULL;
    char *id = (char *)"untouched";
    assert_int_equal(drv_wire_recv(dealer, false, 0, 0, &id, &got, &err), 0);
    assert_null(err);
    assert_null(id); /* a DEALER receives no identity: *ret_identity is set to NULL */
    assert_int_equal(got->body_case, DROVER__ENVELOPE__BODY_REGISTER_ACK);
    assert_string_equal(got->register_ack->controller_instance, "ctl-9");
    assert_int_equal(got->register_ack->heartbeat_interval_ms, 1000);
    assert_int_equal(got->register_ack->liveness, 3);
    drv_codec_destroy(&got);

    /* every message type crosses the wire intact */
    Drover__Envelope__BodyCase cases[32];
    size_t n = msgfill_body_cases(cases, G_N_ELEMENTS(cases));
    msgfill *mf = msgfill_new(99);
    for (size_t i = 0; i < n; i++) {
        Drover__Envelope *e = msgfill_envelope(mf, cases[i]);
        assert_int_equal(drv_wire_send(dealer, NULL, e, 0, &err), 0);
        char *from = NULL;
        assert_int_equal(drv_wire_recv(f->router, true, 0, 0, &from, &got, &err), 0);
        assert_string_equal(from, "host-1");
        g_autofree char *diff = msgfill_diff(&e->base, &got->base);
        if (diff != NULL)
            fail_msg("%s over the wire: %s", drv_codec_body_name(cases[i]), diff);
        drv_codec_destroy(&got);
        g_free(from);
    }
    msgfill_destroy(&mf);
}

static void test_dealer_roundtrip_inproc(void **state)
{
    s_dealer_roundtrip(*state);
}

static void test_dealer_roundtrip_ipc(void **state)
{
    s_dealer_roundtrip(*state);
}

/* A peer with no routing id gets a binary one from ZeroMQ (leading zero byte); the identity handed
 * out must still route a reply back to it, and must not collide with another such peer. */
static void test_generated_identity_routes_back(void **state)
{
    fixture *f = *state;
    void *a = s_peer(f, ZMQ_DEALER, NULL);
    void *b = s_peer(f, ZMQ_DEALER, NULL);
    Drover__Envelope env;
    Drover__Heartbeat hb;
    drv_error *err = NULL;
    char *ids[2] = {NULL, NULL};
    void *peers[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        s_heartbeat(&env, &hb, (uint64_t)i, "cli");
        assert_int_equal(drv_wire_send(peers[i], NULL, &env, 0, &err), 0);
        Drover__Envelope *got = NULL;
        assert_int_equal(drv_wire_recv(f->router, true, 0, 0, &ids[i], &got, &err), 0);
        assert_int_equal(got->heartbeat->seq, i);
        assert_true(strlen(ids[i]) > 1);
        drv_codec_destroy(&got);
    }
    assert_string_not_equal(ids[0], ids[1]);
    for (int i = 1; i >= 0; i--) {
        Drover__ClientReply cr = DROVER__CLIENT_REPLY__INIT;
        cr.status = i;
        cr.json = "{}";
        Drover__Envelope r = DROVER__ENVELOPE__INIT;
        r.body_case = DROVER__ENVELOPE__BODY_CLIENT_REPLY;
        r.client_reply = &cr;
        if (drv_wire_send(f->router, ids[i], &r, 0, &err) != 0)
            fail_msg("reply to '%s': %s", ids[i], err->message);
        Drover__Envelope *got = NULL;
        assert_int_equal(drv_wire_recv(peers[i], false, 0, 0, NULL, &got, &err), 0);
        assert_int_equal(got->client_reply->status, i);
        drv_codec_destroy(&got);
        g_free(ids[i]);
    }
}

/* Identities that are UTF-8 text pass through unchanged; one starting with '~' or holding control
 * characters is escaped and still routes back. */
static void test_text_identity(void **state)
{
    fixture *f = *state;
    void *d = s_peer(f, ZMQ_DEALER, "hôte 1");
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 4, "x");
    assert_int_equal(drv_wire_send(d, NULL, &env, 0, NULL), 0);
    s_expect_heartbeat(f->router, "hôte 1", 4);
}

static void s_escaped_identity(fixture *f, const char *raw)
{
    void *d = s_peer(f, ZMQ_DEALER, raw);
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 1, "x");
    drv_error *err = NULL;
    assert_int_equal(drv_wire_send(d, NULL, &env, 0, &err), 0);
    char *id = NULL;
    Drover__Envelope *got = NULL;
    assert_int_equal(drv_wire_recv(f->router, true, 0, 0, &id, &got, &err), 0);
    assert_string_not_equal(id, raw);
    assert_true(id[0] == '~');
    drv_codec_destroy(&got);
    assert_int_equal(drv_wire_send(f->router, id, &env, 0, &err), 0);
    assert_int_equal(drv_wire_recv(d, false, 0, 0, NULL, &got, &err), 0);
    assert_int_equal(got->heartbeat->seq, 1);
    drv_codec_destroy(&got);
    g_free(id);
}

static void test_escaped_identity(void **state)
{
    s_escaped_identity(*state, "~ab");
    s_escaped_identity(*state, "tab\there");
    s_escaped_identity(*state, "\xff\xfe");
}

/* On PUB/SUB the topic travels as the first frame: drv_wire_send's identity on the PUB side,
 * drv_wire_recv's identity (router = true) on the SUB side. */
static void test_pub_sub_topic(void **state)
{
    fixture *f = *state;
    void *pub = zmq_socket(f->ctx, ZMQ_PUB);
    s_set_common(pub);
    g_ptr_array_add(f->peers, pub);
    assert_int_equal(zmq_bind(pub, "inproc://wire-events"), 0);
    void *sub = zmq_socket(f->ctx, ZMQ_SUB);
    s_set_common(sub);
    g_ptr_array_add(f->peers, sub);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "domain.", 7), 0);
    assert_int_equal(zmq_connect(sub, "inproc://wire-events"), 0);

    Drover__ClusterEvent ce = DROVER__CLUSTER_EVENT__INIT;
    ce.topic = "domain.web 1";
    ce.json = "{\"state\":\"running\"}";
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_CLUSTER_EVENT;
    env.cluster_event = &ce;
    /* a subscription reaches the PUB asynchronously: publish until one arrives (bounded) */
    char *topic = NULL;
    Drover__Envelope *got = NULL;
    drv_error *err = NULL;
    int tries = 0;
    for (; tries < 200 && got == NULL; tries++) {
        assert_int_equal(drv_wire_send(pub, "host.h9", &env, 0, &err), 0); /* filtered out */
        assert_int_equal(drv_wire_send(pub, "domain.web 1", &env, 0, &err), 0);
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 10) == 1)
            assert_int_equal(drv_wire_recv(sub, true, 0, 0, &topic, &got, &err), 0);
    }
    assert_non_null(got);
    assert_string_equal(topic, "domain.web 1");
    assert_string_equal(got->cluster_event->json, "{\"state\":\"running\"}");
    drv_codec_destroy(&got);
    g_free(topic);
}

/* A REQ peer puts an empty delimiter frame between identity and payload; it is skipped. */
static void test_req_delimiter(void **state)
{
    fixture *f = *state;
    void *req = s_peer(f, ZMQ_REQ, "cli-req");
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 33, "req");
    drv_error *err = NULL;
    assert_int_equal(drv_wire_send(req, NULL, &env, 0, &err), 0);
    s_expect_heartbeat(f->router, "cli-req", 33);
}

/* Sends raw frames from a peer (the last without ZMQ_SNDMORE). */
static void s_send_frames(void *sock, const void *const *frames, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0),
                         (int)lens[i]);
}

/* Asserts the router refuses the next message with DRV_ERR_PROTO and still names the peer. */
static char *s_expect_refused(void *router, const char *from)
{
    char *id = NULL;
    Drover__Envelope *env = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_wire_recv(router, true, 0, 0, &id, &env, &err), -1);
    assert_null(env);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    assert_non_null(id);
    assert_string_equal(id, from);
    char *msg = g_strdup(err->message);
    drv_error_destroy(&err);
    g_free(id);
    return msg;
}

static void test_extra_frames_refused(void **state)
{
    fixture *f = *state;
    void *d = s_peer(f, ZMQ_DEALER, "host-x");
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 1, "x");
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(drv_codec_pack(&env, 0, &buf, &len, NULL), 0);
    const void *frames[] = {buf, "extra", "more"};
    const size_t lens[] = {len, 5, 4};
    s_send_frames(d, frames, lens, 3);
    g_autofree char *msg = s_expect_refused(f->router, "host-x");
    assert_non_null(strstr(msg, "extra frames"));
    /* every frame of the bad message was consumed: the next one is received whole */
    s_heartbeat(&env, &hb, 2, "x");
    assert_int_equal(drv_wire_send(d, NULL, &env, 0, NULL), 0);
    s_expect_heartbeat(f->router, "host-x", 2);

    /* on the DEALER side too */
    drv_error *err = NULL;
    assert_int_equal(zmq_send(f->router, "host-x", 6, ZMQ_SNDMORE), 6);
    assert_int_equal(zmq_send(f->router, buf, len, ZMQ_SNDMORE), (int)len);
    assert_int_equal(zmq_send(f->router, "tail", 4, 0), 4);
    Drover__Envelope *got = NULL;
    assert_int_equal(drv_wire_recv(d, false, 0, 0, NULL, &got, &err), -1);
    assert_null(got);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    drv_error_destroy(&err);
    g_free(buf);
}

static void test_garbled_payload(void **state)
{
    fixture *f = *state;
    void *d = s_peer(f, ZMQ_DEALER, "host-g");
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99};
    const void *frames[] = {junk};
    const size_t lens[] = {sizeof(junk)};
    s_send_frames(d, frames, lens, 1);
    g_autofree char *m1 = s_expect_refused(f->router, "host-g");
    assert_non_null(strstr(m1, "garbled"));

    /* an empty payload */
    s_send_frames(d, (const void *[]){""}, (const size_t[]){0}, 1);
    g_autofree char *m2 = s_expect_refused(f->router, "host-g");
    assert_non_null(strstr(m2, "empty"));

    /* a frame over the receiver's limit */
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 1, "a-long-instance-name-to-make-the-frame-bigger");
    assert_int_equal(drv_wire_send(d, NULL, &env, 0, NULL), 0);
    char *id = NULL;
    Drover__Envelope *got = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_wire_recv(f->router, true, 16, 0, &id, &got, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    assert_non_null(strstr(err->message, "exceeds"));
    assert_string_equal(id, "host-g");
    drv_error_destroy(&err);
    g_free(id);

    /* a wrong protocol version */
    hb.seq = 9;
    env.version = 7;
    size_t len = drover__envelope__get_packed_size(&env);
    uint8_t *buf = g_malloc(len);
    drover__envelope__pack(&env, buf);
    s_send_frames(d, (const void *[]){buf}, (const size_t[]){len}, 1);
    g_free(buf);
    g_autofree char *m3 = s_expect_refused(f->router, "host-g");
    assert_non_null(strstr(m3, "version 7"));

    /* the socket is still usable */
    s_heartbeat(&env, &hb, 3, "x");
    assert_int_equal(drv_wire_send(d, NULL, &env, 0, NULL), 0);
    s_expect_heartbeat(f->router, "host-g", 3);

    /* ret_identity may be NULL even on a refusal (no leak) */
    s_send_frames(d, frames, lens, 1);
    assert_int_equal(drv_wire_recv(f->router, true, 0, 0, NULL, &got, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    drv_error_destroy(&err);
}

static void test_dontwait(void **state)
{
    fixture *f = *state;
    void *d = s_peer(f, ZMQ_DEALER, "host-w");
    Drover__Envelope *got = NULL;
    char *id = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_wire_recv(f->router, true, 0, ZMQ_DONTWAIT, &id, &got, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_TIMEOUT);
    assert_null(id);
    assert_null(got);
    drv_error_destroy(&err);
    assert_int_equal(drv_wire_recv(d, false, 0, ZMQ_DONTWAIT, NULL, &got, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_TIMEOUT);
    drv_error_destroy(&err);

    /* send refuses an envelope with no body before touching the socket */
    Drover__Envelope empty = DROVER__ENVELOPE__INIT;
    assert_int_equal(drv_wire_send(d, NULL, &empty, 0, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_PROTO);
    drv_error_destroy(&err);

    /* ROUTER_MANDATORY: a reply to an identity nobody has is an error naming it */
    Drover__Envelope env;
    Drover__Heartbeat hb;
    s_heartbeat(&env, &hb, 1, "x");
    assert_int_equal(drv_wire_send(f->router, "nobody", &env, ZMQ_DONTWAIT, &err), -1);
    assert_non_null(strstr(err->message, "nobody"));
    drv_error_destroy(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dealer_roundtrip_inproc, s_setup_inproc, s_teardown),
        cmocka_unit_test_setup_teardown(test_dealer_roundtrip_ipc, s_setup_ipc, s_teardown),
        cmocka_unit_test_setup_teardown(test_generated_identity_routes_back, s_setup_inproc,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_text_identity, s_setup_inproc, s_teardown),
        cmocka_unit_test_setup_teardown(test_escaped_identity, s_setup_inproc, s_teardown),
        cmocka_unit_test_setup_teardown(test_pub_sub_topic, s_setup_inproc, s_teardown),
        cmocka_unit_test_setup_teardown(test_req_delimiter, s_setup_ipc, s_teardown),
        cmocka_unit_test_setup_teardown(test_extra_frames_refused, s_setup_inproc, s_teardown),
        cmocka_unit_test_setup_teardown(test_garbled_payload, s_setup_ipc, s_teardown),
        cmocka_unit_test_setup_teardown(test_dontwait, s_setup_inproc, s_teardown),
    };
    return cmocka_run_group_tests_name("proto_wire", tests, NULL, NULL);
}
