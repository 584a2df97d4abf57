/* client.c — see client.h. */
#include "client.h"

#include "codec.h"
#include "curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* Appended to a timeout when the CLI had no key: a secured controller never answers such a client.
 */
#define S_NO_KEY_HINT " (no client key: set DROVER_KEY_FILE and DROVER_CONTROLLER_KEY)"

/* With several endpoints, how long one may take to complete its handshake before the next is
 * tried (a controller that is down never completes one; the request cannot have reached it). */
#define S_CONNECT_MS 2000

struct drv_cli_client {
    void *ctx;
    void *sock;
    void *mon;        /* the socket's handshake events (PAIR) */
    char *endpoint;   /* the one in use */
    char **endpoints; /* every controller, in the order given */
    guint current;
    long timeout_ms;
    bool secured;
    bool handshaken; /* a connection to the controller was established at some point */
};

/* Reads the monitor's queued events: a completed handshake means a request queued on the socket
 * may have reached the controller (before it, nothing is sent: CURVE sends no data first). */
static void s_read_monitor(drv_cli_client *self)
{
    while (self->mon != NULL) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, self->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        if (zmq_msg_size(&ev) >= 2) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&ev), sizeof(event));
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                self->handshaken = true;
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        while (more) { /* the endpoint frame */
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, self->mon, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                return;
            }
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
    }
}

int drv_cli_curve_setup(void *sock, bool *ret_secured, drv_error **err)
{
    const char *key_file = g_getenv("DROVER_KEY_FILE");
    const char *server = g_getenv("DROVER_CONTROLLER_KEY");
    if (ret_secured != NULL)
        *ret_secured = false;
    if (key_file == NULL || key_file[0] == '\0')
        return 0;
    if (server == NULL || server[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "DROVER_KEY_FILE is set but DROVER_CONTROLLER_KEY (the controller's "
                             "public key) is not");
    char secret[DRV_Z85_KEY_LEN + 1], pub[DRV_Z85_KEY_LEN + 1], srv[DRV_Z85_KEY_LEN + 1];
    if (drv_curve_read_secret(key_file, secret, pub, err) < 0 ||
        drv_curve_read_public(server, srv, err) < 0)
        return -1;
    int rc = drv_curve_client(sock, secret, pub, srv, err);
    explicit_bzero(secret, sizeof(secret));
    if (rc == 0 && ret_secured != NULL)
        *ret_secured = true;
    return rc;
}

char *drv_cli_format_seconds(long ms)
{
    if (ms % 1000 == 0)
        return g_strdup_printf("%ld s", ms / 1000);
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(buf, sizeof(buf), "%.3g", (double)ms / 1000.0);
    return g_strdup_printf("%s s", buf);
}

/* Closes the socket (and its monitor) to the endpoint in use, if any. */
static void s_close(drv_cli_client *self)
{
    if (self->sock != NULL && self->mon != NULL)
        zmq_socket_monitor(self->sock, NULL, 0);
    if (self->mon != NULL)
        zmq_close(self->mon);
    if (self->sock != NULL)
        zmq_close(self->sock);
    self->mon = NULL;
    self->sock = NULL;
    self->handshaken = false;
}

/* Opens a DEALER (CURVE, monitored) to endpoints[current]. */
static int s_open(drv_cli_client *self, drv_error **err)
{
    s_close(self);
    g_free(self->endpoint);
    self->endpoint = g_strdup(self->endpoints[self->current]);
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (self->sock == NULL)
        return drv_error_set(err, DRV_ERR_INTERNAL, errno, "cannot create a ZeroMQ socket: %s",
                             zmq_strerror(errno));
    int linger = 0;
    int rcv = self->timeout_ms > G_MAXINT ? G_MAXINT : (int)self->timeout_ms;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(self->sock, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    zmq_setsockopt(self->sock, ZMQ_SNDTIMEO, &rcv, sizeof(rcv));
    /* A printable, unique routing id: the controller's ROUTER hands identities around as strings
     * (proto/codec.h), which ZeroMQ's generated binary ids (leading NUL byte) would break. */
    char *id = g_strdup_printf("drover-cli-%ld-%08x", (long)getpid(), g_random_int());
    zmq_setsockopt(self->sock, ZMQ_ROUTING_ID, id, strlen(id));
    g_free(id);
    if (drv_cli_curve_setup(self->sock, &self->secured, err) < 0)
        return -1;
    char mon[80];
    g_snprintf(mon, sizeof(mon), "inproc://drover-cli-monitor-%p-%u", (void *)self, self->current);
    if (zmq_socket_monitor(self->sock, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
        self->mon = zmq_socket(self->ctx, ZMQ_PAIR);
        if (self->mon != NULL && zmq_connect(self->mon, mon) != 0) {
            zmq_close(self->mon);
            self->mon = NULL;
        }
    }
    if (zmq_connect(self->sock, self->endpoint) != 0)
        return drv_error_set(err, DRV_ERR_INVALID, errno,
                             "cannot connect to the controller at %s: %s", self->endpoint,
                             zmq_strerror(errno));
    return 0;
}

drv_cli_client *drv_cli_client_new(const char *endpoint, long timeout_ms, drv_error **err)
{
    drv_cli_client *self = g_new0(drv_cli_client, 1);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : DRV_CLI_DEFAULT_TIMEOUT_MS;
    GPtrArray *eps = g_ptr_array_new();
    char **parts = g_strsplit(endpoint != NULL ? endpoint : "", ",", -1);
    for (char **p = parts; *p != NULL; p++) {
        char *t = g_strstrip(g_strdup(*p));
        if (*t != '\0')
            g_ptr_array_add(eps, t);
        else
            g_free(t);
    }
    g_strfreev(parts);
    g_ptr_array_add(eps, NULL);
    self->endpoints = (char **)g_ptr_array_free(eps, FALSE);
    if (self->endpoints[0] == NULL) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "no controller endpoint given");
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    if (self->ctx == NULL) {
        drv_error_set(err, DRV_ERR_INTERNAL, errno, "cannot create a ZeroMQ context: %s",
                      zmq_strerror(errno));
        goto fail;
    }
    if (s_open(self, err) < 0)
        goto fail;
    return self;
fail:
    drv_cli_client_destroy(&self);
    return NULL;
}

void drv_cli_client_destroy(drv_cli_client **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_cli_client *self = *self_p;
    s_close(self);
    if (self->ctx != NULL) {
        zmq_ctx_shutdown(self->ctx);
        zmq_ctx_term(self->ctx);
    }
    g_free(self->endpoint);
    g_strfreev(self->endpoints);
    g_free(self);
    *self_p = NULL;
}

/* One request to the endpoint in use (see drv_cli_client_call). */
static int s_call_one(drv_cli_client *self, const drv_cli_request *req, drv_cli_reply **ret,
                      drv_error **err)
{
    Drover__ClientRequest creq = DROVER__CLIENT_REQUEST__INIT;
    creq.verb = (char *)req->verb;
    creq.args = (char **)req->args;
    creq.n_args = req->n_args;
    Drover__KeyValue *kvs = g_new0(Drover__KeyValue, req->n_opts ? req->n_opts : 1);
    Drover__KeyValue **kvp = g_new0(Drover__KeyValue *, req->n_opts ? req->n_opts : 1);
    for (size_t i = 0; i < req->n_opts; i++) {
        drv_kv_set(&kvs[i], req->opt_keys[i], req->opt_values[i]);
        kvp[i] = &kvs[i];
    }
    creq.options = kvp;
    creq.n_options = req->n_opts;
    creq.body.data = (uint8_t *)req->body;
    creq.body.len = req->body ? req->body_len : 0;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_CLIENT_REQUEST;
    env.client_request = &creq;
    drv_error *e = NULL;
    int rc = drv_wire_send(self->sock, NULL, &env, 0, &e);
    g_free(kvs);
    g_free(kvp);
    g_autofree char *secs = drv_cli_format_seconds(self->timeout_ms);
    if (rc < 0) {
        drv_error_set(err, DRV_ERR_UNAVAILABLE, 0, "cannot reach the controller at %s: %s",
                      self->endpoint,
                      e->kind == DRV_ERR_UNAVAILABLE ? "send queue full" : e->message);
        drv_error_destroy(&e);
        return -1;
    }
    Drover__Envelope *in = NULL;
    if (drv_wire_recv(self->sock, false, 0, 0, NULL, &in, &e) < 0) {
        if (e->kind == DRV_ERR_TIMEOUT)
            s_read_monitor(self);
        if (e->kind == DRV_ERR_TIMEOUT && self->handshaken)
            /* connected: the request may have reached the controller, which may have acted */
            drv_error_set(err, DRV_ERR_UNKNOWN_OUTCOME, 0,
                          "the controller at %s did not answer within %s; the request was sent "
                          "over an established connection and may have been carried out (look "
                          "before repeating it)",
                          self->endpoint, secs);
        else if (e->kind == DRV_ERR_TIMEOUT)
            drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                          "cannot reach the controller at %s: timed out after %s%s", self->endpoint,
                          secs, self->secured ? "" : S_NO_KEY_HINT);
        else if (e->kind == DRV_ERR_PROTO)
            drv_error_set(err, DRV_ERR_PROTO, 0, "bad reply from the controller at %s: %s",
                          self->endpoint, e->message);
        else
            drv_error_set(err, e->kind, e->code, "controller at %s: %s", self->endpoint,
                          e->message);
        drv_error_destroy(&e);
        return -1;
    }
    if (in->body_case != DROVER__ENVELOPE__BODY_CLIENT_REPLY) {
        drv_error_set(err, DRV_ERR_PROTO, 0,
                      "bad reply from the controller at %s: a %s message instead of a client reply",
                      self->endpoint, drv_codec_body_name(in->body_case));
        drv_codec_destroy(&in);
        return -1;
    }
    Drover__ClientReply *r = in->client_reply;
    drv_cli_reply *reply = g_new0(drv_cli_reply, 1);
    reply->status = r->status;
    reply->error_kind = g_strdup(r->error_kind ? r->error_kind : "");
    reply->error = g_strdup(r->error ? r->error : "");
    reply->json = g_strdup(r->json ? r->json : "");
    if (r->stale != NULL && r->stale[0] != '\0')
        fprintf(stderr, "warning: %s\n", r->stale);
    drv_codec_destroy(&in);
    *ret = reply;
    return 0;
}

void drv_cli_reply_destroy(drv_cli_reply **reply_p)
{
    if (reply_p == NULL || *reply_p == NULL)
        return;
    drv_cli_reply *r = *reply_p;
    g_free(r->error_kind);
    g_free(r->error);
    g_free(r->json);
    g_free(r);
    *reply_p = NULL;
}

/* Waits up to ms for the socket's handshake (true when it completed). */
static bool s_wait_handshake(drv_cli_client *self, long ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    s_read_monitor(self);
    while (!self->handshaken && self->mon != NULL) {
        long left = (long)((deadline - g_get_monotonic_time()) / 1000);
        if (left <= 0)
            break;
        zmq_pollitem_t it = {.socket = self->mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, left) < 0 && errno != EINTR)
            break;
        s_read_monitor(self);
    }
    return self->handshaken || self->mon == NULL;
}

/* A standby refused the request before acting on it. */
static bool s_not_leader(const drv_cli_reply *r)
{
    return r->status == 1 && g_str_has_prefix(r->error, "not the leader");
}

int drv_cli_client_call(drv_cli_client *self, const drv_cli_request *req, drv_cli_reply **ret,
                        drv_error **err)
{
    guint n = g_strv_length(self->endpoints);
    if (n == 1)
        return s_call_one(self, req, ret, err);
    /* Several controllers: the first that completes a handshake and is not a standby answers. A
     * request moves on only when it certainly did not act: no connection was ever made to that
     * controller, or it answered "not the leader". */
    GString *tried = g_string_new(NULL);
    int rc = -1;
    for (guint i = 0; i < n; i++) {
        if (i > 0) {
            self->current = (self->current + 1) % n;
            if (s_open(self, err) < 0)
                break;
        }
        if (!s_wait_handshake(self, MIN(self->timeout_ms, S_CONNECT_MS))) {
            g_string_append_printf(tried, "%s%s (no connection)", tried->len ? ", " : "",
                                   self->endpoint);
            continue;
        }
        drv_cli_reply *reply = NULL;
        drv_error *e = NULL;
        rc = s_call_one(self, req, &reply, &e);
        if (rc == 0 && s_not_leader(reply) && i + 1 < n) {
            g_string_append_printf(tried, "%s%s (%s)", tried->len ? ", " : "", self->endpoint,
                                   reply->error);
            drv_cli_reply_destroy(&reply);
            rc = -1;
            continue;
        }
        if (rc == 0)
            *ret = reply;
        else
            drv_error_propagate(err, e);
        g_string_free(tried, TRUE);
        return rc;
    }
    if (err != NULL && *err == NULL)
        drv_error_set(err, DRV_ERR_UNAVAILABLE, 0, "cannot reach a leading controller: tried %s",
                      tried->str);
    g_string_free(tried, TRUE);
    return -1;
}
