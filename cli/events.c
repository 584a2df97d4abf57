/* events.c — `drover events`: a SUB socket on the controller's event endpoint, one line per event
 * (or the event's JSON with --json). Stops on SIGINT/SIGTERM, after --count events, or when the
 * global --timeout (if given) has passed (exit 1 then if --count was not reached). The receive
 * timeout is short so the loop checks for a signal often; it never blocks on the socket forever. */
#include "codec.h"
#include "render.h"
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <zmq.h>

#define S_POLL_MS 200

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static int s_print_event(const drv_cli_invocation *inv, const char *topic,
                         const Drover__ClusterEvent *ev)
{
    json_object *doc = json_tokener_parse(ev->json ? ev->json : "");
    GString *out = g_string_new(NULL);
    if (inv->json) {
        if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
            json_object_put(doc);
            doc = json_object_new_object();
            json_object_object_add(doc, "raw", json_object_new_string(ev->json ? ev->json : ""));
        }
        if (!json_object_object_get_ex(doc, "topic", NULL))
            json_object_object_add(doc, "topic", json_object_new_string(topic));
        if (!json_object_object_get_ex(doc, "timestamp_ms", NULL))
            json_object_object_add(doc, "timestamp_ms",
                                   json_object_new_int64((int64_t)ev->timestamp_ms));
        g_string_append_printf(out, "%s\n",
                               json_object_to_json_string_ext(
                                   doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        drv_cli_render_event(topic, doc, ev->timestamp_ms, out);
    }
    int rc = drv_cli_print(out->str, out->len);
    g_string_free(out, TRUE);
    json_object_put(doc);
    return rc;
}

int drv_cli_events_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    const char *topic = drv_cli_invocation_local(inv, "topic");
    const char *count_s = drv_cli_invocation_local(inv, "count");
    guint64 want = count_s ? g_ascii_strtoull(count_s, NULL, 10) : 0;
    gint64 deadline_us = inv->timeout_ms > 0 ? g_get_monotonic_time() + inv->timeout_ms * 1000 : 0;

    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, rcv = S_POLL_MS;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic ? topic : "", topic ? strlen(topic) : 0);
    int rc = 0;
    drv_error *cerr = NULL;
    if (drv_cli_curve_setup(sock, NULL, &cerr) < 0) {
        rc = drv_cli_fail(1, "events: %s", cerr->message);
        drv_error_destroy(&cerr);
        goto out;
    }
    if (zmq_connect(sock, s->events_url) != 0) {
        rc = drv_cli_fail(1, "events: bad event endpoint '%s': %s", s->events_url,
                          zmq_strerror(errno));
        goto out;
    }
    guint64 seen = 0;
    while (!s_stop && (want == 0 || seen < want)) {
        if (deadline_us != 0 && g_get_monotonic_time() >= deadline_us) {
            if (want != 0) {
                g_autofree char *secs = drv_cli_format_seconds(inv->timeout_ms);
                rc = drv_cli_fail(1,
                                  "events: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                  " events from %s within %s",
                                  seen, want, s->events_url, secs);
            }
            break;
        }
        /* Two frames: the topic, then the envelope. drv_wire_recv's ROUTER mode reads a first
         * frame and then the envelope, which is exactly this shape; the "identity" is the topic. */
        char *ev_topic = NULL;
        Drover__Envelope *env = NULL;
        drv_error *e = NULL;
        if (drv_wire_recv(sock, true, 0, 0, &ev_topic, &env, &e) < 0) {
            bool quiet = e->kind == DRV_ERR_TIMEOUT || (e->kind == DRV_ERR_IO && e->code == EINTR);
            if (!quiet)
                fprintf(stderr, "warning: events: skipped a bad event from %s: %s\n", s->events_url,
                        e->message);
            drv_error_destroy(&e);
            g_free(ev_topic);
            continue;
        }
        if (env->body_case == DROVER__ENVELOPE__BODY_CLUSTER_EVENT) {
            seen++;
            rc = s_print_event(inv, ev_topic ? ev_topic : "", env->cluster_event);
        }
        g_free(ev_topic);
        drv_codec_destroy(&env);
        if (rc != 0)
            break;
    }
out:
    zmq_close(sock);
    zmq_ctx_shutdown(ctx);
    zmq_ctx_term(ctx);
    return rc;
}
