/* api.h — the client API (docs/api.md): a ROUTER socket (client_bind) receiving
 * Envelope{client_request} and answering each with exactly one Envelope{client_reply}. Verbs that
 * need an agent are asynchronous: the request waits (keyed by the command id in the broker) for the
 * agent's reply or the command timeout, while the loop keeps serving others. */
#ifndef DROVER_CTL_API_H
#define DROVER_CTL_API_H

#include "ctl.h"

ctl_api *ctl_api_new(ctl *c, drv_error **err);
void ctl_api_destroy(ctl_api **self_p);
void *ctl_api_socket(ctl_api *self);
/* Handles every queued client request (non-blocking). */
void ctl_api_handle(ctl_api *self);
/* Sends one answer to the client `client` (ROUTER identity) on the API socket, with the stale
 * note; nothing when the socket is closed. The production ctl_io answer (ctl_io.h). */
void ctl_api_answer(ctl *c, const char *client, const char *verb, int status, const char *kind,
                    const char *error, const char *json);
/* Answers the requests still waiting for their turn to place (shutdown). */
void ctl_api_fail_waiting(ctl *c);
/* A placement txn (of a verb or of controller/ha.c) is answered: the next waiting placement may
 * choose now (api_domain.c). */
void ctl_api_placement_release(ctl *c);

#endif
