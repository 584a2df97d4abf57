/* zap.h — the controller's ZAP handler (ZeroMQ RFC 27): a REP socket on inproc://zeromq.zap.01
 * in the controller's context, polled by the main loop. Every CURVE handshake on the agent ROUTER,
 * the client ROUTER and the event PUB asks it; it answers from memory only (the model's host-key
 * allow-list, the config's client keys), never from etcd:
 *  - agents (DRV_ZAP_DOMAIN_AGENTS): the key must be bound to a host id (etcd hostkeys/<id>);
 *  - clients and events: the key must be in [clients].
 * An accepted peer's user id is its z85 public key: the broker and the API map it back to the
 * host id or the client's role on every message, so a revoked key stops counting at once.
 * Refusals are counted and logged (at most once a minute per key). */
#ifndef DROVER_CTL_ZAP_H
#define DROVER_CTL_ZAP_H

#include "ctl.h"

typedef struct ctl_zap ctl_zap;

/* Binds the handler (before any CURVE server socket binds). */
ctl_zap *ctl_zap_new(ctl *c, drv_error **err);
void ctl_zap_destroy(ctl_zap **self_p);
void *ctl_zap_socket(ctl_zap *self);
/* Answers every queued request (non-blocking). */
void ctl_zap_handle(ctl_zap *self);
/* Handshakes refused so far. */
uint64_t ctl_zap_refused(const ctl_zap *self);

#endif
