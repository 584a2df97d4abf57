/* client.h — the CLI's transport to drover-controller: one ZMQ_DEALER socket (linger 0, a receive
 * timeout), one Envelope{client_request} out, one Envelope{client_reply} back (proto/codec.h packs
 * them; protobuf types stay in client.c). Never blocks longer than the timeout. */
#ifndef DROVER_CLI_CLIENT_H
#define DROVER_CLI_CLIENT_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>

#define DRV_CLI_DEFAULT_CONTROLLER "tcp://127.0.0.1:7702"
#define DRV_CLI_DEFAULT_EVENTS     "tcp://127.0.0.1:7703"
#define DRV_CLI_DEFAULT_TIMEOUT_MS 30000L

typedef struct {
    const char *verb;
    const char *const *args;
    size_t n_args;
    const char *const *opt_keys;
    const char *const *opt_values;
    size_t n_opts;
    const void *body;
    size_t body_len;
} drv_cli_request;

typedef struct {
    int status;       /* 0 ok, 1 failure, 2 usage */
    char *error_kind; /* "not-found", ... ("" when none) */
    char *error;      /* names the object and the cause ("" when none) */
    char *json;       /* the result document ("" when none) */
} drv_cli_reply;

typedef struct drv_cli_client drv_cli_client;

/* Connects (lazily, as ZeroMQ does) to endpoint: one URL, or several comma-separated (the
 * controllers of a cluster; drv_cli_client_call finds the leader). Returns NULL with an error for a
 * malformed endpoint or an empty list. */
drv_cli_client *drv_cli_client_new(const char *endpoint, long timeout_ms, drv_error **err);
void drv_cli_client_destroy(drv_cli_client **self_p);

/* Sends req and waits up to the timeout for the reply. On success *ret is owned by the caller
 * (drv_cli_reply_destroy) — including replies whose status is a failure. A controller that does not
 * answer gives DRV_ERR_UNAVAILABLE "cannot reach the controller at URL: timed out after N s" when
 * no connection to it was ever established (the request cannot have reached it), and
 * DRV_ERR_UNKNOWN_OUTCOME when one was (it may have been carried out). */
/* With several endpoints, an endpoint whose handshake does not complete within 2 s, or that
 * answers "not the leader" (a standby: it refused before acting), is passed over for the next;
 * nothing else is retried elsewhere (it may have acted). When none answers: DRV_ERR_UNAVAILABLE
 * "cannot reach a leading controller: tried ...". */
int drv_cli_client_call(drv_cli_client *self, const drv_cli_request *req, drv_cli_reply **ret,
                        drv_error **err);
void drv_cli_reply_destroy(drv_cli_reply **reply_p);

/* CURVE on a socket to the controller (DEALER or SUB), from the environment: DROVER_KEY_FILE (this
 * client's secret key file, mode 0600) and DROVER_CONTROLLER_KEY (the controller's public key, z85
 * or a file holding it). Without DROVER_KEY_FILE the socket stays plain, which a secured
 * controller refuses: *ret_secured (may be NULL) says which. */
int drv_cli_curve_setup(void *sock, bool *ret_secured, drv_error **err);

/* Formats a timeout for messages: "30 s", "0.5 s". Owned (g_free). */
char *drv_cli_format_seconds(long ms);

#endif
