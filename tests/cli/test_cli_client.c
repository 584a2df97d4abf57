/* test_cli_client.c — the CLI transport against a ROUTER socket that speaks like the controller
 * (drv_wire_recv/drv_wire_send with the peer's identity): the request arrives whole (verb, args,
 * options, body), the reply comes back whole, the routing id is printable, a controller that
 * never answers gives a bounded, clear error, and a list of endpoints finds the leader. */
#include "client.h"
#include "codec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

typedef struct {
    void *ctx;
    void *router;
    char endpoint[256];
    /* what the server saw */
    char *identity;
    Drover__Envelope *got;
    int reply_status;
    bool not_leader; /* answer as a standby does */
} s_server;

static gpointer s_serve_one(gpointer data)
{
    s_server *srv = data;
    drv_error *e = NULL;
    if (drv_wire_recv(srv->router, true, 0, 0, &srv->identity, &srv->got, &e) < 0) {
        drv_error_destroy(&e);
        return NULL;
    }
    Drover__ClientReply r = DROVER__CLIENT_REPLY__INIT;
    r.status = srv->reply_status;
    r.error_kind = srv->reply_status ? "not-found" : "";
    r.error = srv->reply_status ? "domain 'web9': no such domain" : "";
    if (srv->not_leader) {
        r.status = 1;
        r.error_kind = "unavailable";
        r.error = "not the leader (leader is c2)";
    }
    r.json = "{\"name\":\"web1\",\"state\":\"running\"}";
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_CLIENT_REPLY;
    env.client_reply = &r;
    drv_wire_send(srv->router, srv->identity, &env, 0, &e);
    drv_error_destroy(&e);
    return NULL;
}

static void s_server_start(s_server *srv)
{
    srv->ctx = zmq_ctx_new();
    srv->router = zmq_socket(srv->ctx, ZMQ_ROUTER);
    int linger = 0, rcv = 10000;
    zmq_setsockopt(srv->router, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(srv->router, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    assert_int_equal(zmq_bind(srv->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof(srv->endpoint);
    assert_int_equal(zmq_getsockopt(srv->router, ZMQ_LAST_ENDPOINT, srv->endpoint, &len), 0);
}

static void s_server_stop(s_server *srv)
{
    zmq_close(srv->router);
    zmq_ctx_shutdown(srv->ctx);
    zmq_ctx_term(srv->ctx);
    g_free(srv->identity);
    drv_codec_destroy(&srv->got);
}

static void test_round_trip(void **state)
{
    (void)state;
    for (int status = 0; status <= 1; status++) {
        s_server srv = {0};
        srv.reply_status = status;
        s_server_start(&srv);
        GThread *t = g_thread_new("router", s_serve_one, &srv);

        drv_error *e = NULL;
        drv_cli_client *c = drv_cli_client_new(srv.endpoint, 10000, &e);
        assert_non_null(c);
        const char *args[] = {"web1", "3"};
        const char *keys[] = {"live", "config"};
        const char *values[] = {"1", "1"};
        const char body[] = "<domain/>";
        drv_cli_request req = {"domain.setvcpus", args, 2, keys, values, 2, body, strlen(body)};
        drv_cli_reply *reply = NULL;
        assert_int_equal(drv_cli_client_call(c, &req, &reply, &e), 0);
        g_thread_join(t);

        /* what the controller received */
        assert_non_null(srv.got);
        assert_int_equal(srv.got->body_case, DROVER__ENVELOPE__BODY_CLIENT_REQUEST);
        Drover__ClientRequest *cr = srv.got->client_request;
        assert_string_equal(cr->verb, "domain.setvcpus");
        assert_int_equal(cr->n_args, 2);
        assert_string_equal(cr->args[0], "web1");
        assert_string_equal(cr->args[1], "3");
        assert_int_equal(cr->n_options, 2);
        assert_string_equal(cr->options[0]->key, "live");
        assert_string_equal(cr->options[1]->value, "1");
        assert_int_equal(cr->body.len, strlen(body));
        assert_memory_equal(cr->body.data, body, strlen(body));
        assert_true(g_str_has_prefix(srv.identity, "drover-cli-"));

        /* what the CLI got back */
        assert_int_equal(reply->status, status);
        assert_string_equal(reply->json, "{\"name\":\"web1\",\"state\":\"running\"}");
        if (status) {
            assert_string_equal(reply->error_kind, "not-found");
            assert_string_equal(reply->error, "domain 'web9': no such domain");
        } else {
            assert_string_equal(reply->error, "");
        }
        drv_cli_reply_destroy(&reply);
        assert_null(reply);
        drv_cli_client_destroy(&c);
        assert_null(c);
        s_server_stop(&srv);
    }
}

static void test_nobody_answers(void **state)
{
    (void)state;
    /* A bound ROUTER that accepts the connection and never answers: the request reached it and may
     * have been carried out, so the call ends after the timeout with "unknown outcome", never as a
     * failure. */
    s_server srv = {0};
    s_server_start(&srv);
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(srv.endpoint, 300, &e);
    assert_non_null(c);
    drv_cli_request req = {.verb = "domain.destroy"};
    drv_cli_reply *reply = NULL;
    assert_int_equal(drv_cli_client_call(c, &req, &reply, &e), -1);
    assert_null(reply);
    assert_non_null(e);
    assert_int_equal(e->kind, DRV_ERR_UNKNOWN_OUTCOME);
    g_autofree char *want = g_strdup_printf(
        "the controller at %s did not answer within 0.3 s; the request was sent over an "
        "established connection and may have been carried out (look before repeating it)",
        srv.endpoint);
    assert_string_equal(e->message, want);
    drv_error_destroy(&e);
    drv_cli_client_destroy(&c);
    s_server_stop(&srv);
}

static void test_nobody_listens(void **state)
{
    (void)state;
    /* Nothing at the endpoint: no connection was ever made, so the request cannot have reached a
     * controller: a plain failure naming the endpoint. */
    s_server srv = {0};
    s_server_start(&srv);
    char endpoint[256];
    g_strlcpy(endpoint, srv.endpoint, sizeof(endpoint));
    s_server_stop(&srv); /* the port is free again */
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(endpoint, 300, &e);
    assert_non_null(c);
    drv_cli_request req = {.verb = "domain.destroy"};
    drv_cli_reply *reply = NULL;
    assert_int_equal(drv_cli_client_call(c, &req, &reply, &e), -1);
    assert_null(reply);
    assert_non_null(e);
    assert_int_equal(e->kind, DRV_ERR_UNAVAILABLE);
    g_autofree char *want = g_strdup_printf(
        "cannot reach the controller at %s: timed out after 0.3 s (no client key: set "
        "DROVER_KEY_FILE and DROVER_CONTROLLER_KEY)",
        endpoint);
    assert_string_equal(e->message, want);
    drv_error_destroy(&e);
    drv_cli_client_destroy(&c);
}

/* Several endpoints: a dead one (no connection within 2 s) and a standby ("not the leader", which
 * refused before acting) are passed over; the leader answers; with none alive, one error names
 * every endpoint tried. */
static void test_endpoint_list(void **state)
{
    (void)state;
    s_server dead = {0}, standby = {0}, leader = {0};
    s_server_start(&dead);
    char dead_ep[256];
    g_strlcpy(dead_ep, dead.endpoint, sizeof(dead_ep));
    s_server_stop(&dead);
    standby.not_leader = true;
    s_server_start(&standby);
    s_server_start(&leader);
    GThread *ts = g_thread_new("standby", s_serve_one, &standby);
    GThread *tl = g_thread_new("leader", s_serve_one, &leader);
    g_autofree char *eps = g_strdup_printf("%s, %s,%s", dead_ep, standby.endpoint, leader.endpoint);
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(eps, 5000, &e);
    assert_non_null(c);
    drv_cli_request req = {.verb = "domain.start"};
    drv_cli_reply *reply = NULL;
    assert_int_equal(drv_cli_client_call(c, &req, &reply, &e), 0);
    g_thread_join(ts);
    g_thread_join(tl);
    assert_int_equal(reply->status, 0);
    assert_string_equal(reply->json, "{\"name\":\"web1\",\"state\":\"running\"}");
    assert_non_null(standby.got); /* asked, refused */
    assert_non_null(leader.got);
    assert_string_equal(leader.got->client_request->verb, "domain.start");
    drv_cli_reply_destroy(&reply);
    drv_cli_client_destroy(&c);
    s_server_stop(&standby);
    s_server_stop(&leader);

    /* nobody alive: one clear error naming what was tried */
    g_autofree char *two = g_strdup_printf("%s,%s", dead_ep, dead_ep);
    c = drv_cli_client_new(two, 300, &e);
    assert_non_null(c);
    assert_int_equal(drv_cli_client_call(c, &req, &reply, &e), -1);
    assert_null(reply);
    assert_int_equal(e->kind, DRV_ERR_UNAVAILABLE);
    assert_true(g_str_has_prefix(e->message, "cannot reach a leading controller: tried "));
    assert_non_null(strstr(e->message, "(no connection)"));
    drv_error_destroy(&e);
    drv_cli_client_destroy(&c);

    /* an empty list is refused */
    assert_null(drv_cli_client_new(" , ", 300, &e));
    assert_int_equal(e->kind, DRV_ERR_INVALID);
    drv_error_destroy(&e);
}

static void test_bad_endpoint(void **state)
{
    (void)state;
    drv_error *e = NULL;
    assert_null(drv_cli_client_new("nonsense://x", 1000, &e));
    assert_non_null(e);
    assert_non_null(strstr(e->message, "nonsense://x"));
    drv_error_destroy(&e);
}

static void test_format_seconds(void **state)
{
    (void)state;
    g_autofree char *a = drv_cli_format_seconds(30000);
    g_autofree char *b = drv_cli_format_seconds(1500);
    assert_string_equal(a, "30 s");
    assert_string_equal(b, "1.5 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_nobody_answers),
        cmocka_unit_test(test_nobody_listens), cmocka_unit_test(test_endpoint_list),
        cmocka_unit_test(test_bad_endpoint),   cmocka_unit_test(test_format_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
