/* codec.h — the only module that packs and unpacks drover's protobuf-c messages, and moves them
 * over ZeroMQ sockets. protobuf-c types (Drover__*) are used by the two daemons' edges and the
 * CLI's edge; they never reach the scheduler or the common library.
 *
 * Every frame is checked before it is trusted: above max_len → refused; not decodable (truncated,
 * garbled) → refused; another protocol version → refused; no message in the envelope → refused.
 * All refusals are DRV_ERR_PROTO errors that say which check failed; none crashes. */
#ifndef DROVER_CODEC_H
#define DROVER_CODEC_H

#include "drover.pb-c.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRV_PROTO_VERSION           1u
#define DRV_PROTO_MAX_FRAME_DEFAULT (4u * 1024u * 1024u)

/* Packs env (setting env->version to DRV_PROTO_VERSION) into a new buffer (g_free). Refuses an
 * envelope with no body or one larger than max_len (0 = default). */
int drv_codec_pack(Drover__Envelope *env, size_t max_len, uint8_t **ret_buf, size_t *ret_len,
                   drv_error **err);
/* Unpacks and checks one frame. On success *ret is owned by the caller (drv_codec_destroy). */
int drv_codec_unpack(const uint8_t *buf, size_t len, size_t max_len, Drover__Envelope **ret,
                     drv_error **err);
void drv_codec_destroy(Drover__Envelope **env_p);
/* "register", "heartbeat", ... ; "none" when unset. */
const char *drv_codec_body_name(Drover__Envelope__BodyCase body_case);

/* Sends one envelope. When identity != NULL (ROUTER side) it goes first as its own frame. flags are
 * zmq_send flags (e.g. ZMQ_DONTWAIT). A full queue with ZMQ_DONTWAIT → DRV_ERR_UNAVAILABLE. */
int drv_wire_send(void *sock, const char *identity, Drover__Envelope *env, int flags,
                  drv_error **err);
/* Receives one whole ZeroMQ message (all its frames are consumed, even on error). On a ROUTER
 * socket (router == true) the first frame is the peer identity, returned in *ret_identity (g_free);
 * an empty delimiter frame after it (REQ peers) is skipped. flags: zmq_recv flags (ZMQ_DONTWAIT
 * gives DRV_ERR_TIMEOUT when nothing is queued). A bad payload gives DRV_ERR_PROTO and, when known,
 * still sets *ret_identity so the caller can answer the peer. */
int drv_wire_recv(void *sock, bool router, size_t max_len, int flags, char **ret_identity,
                  Drover__Envelope **ret_env, drv_error **err);

/* drv_wire_recv, and the peer's ZAP user id (the "User-Id" property of the message: the CURVE
 * public key the controller's ZAP handler authenticated) in *ret_user_id (g_free; NULL when the
 * socket has none) on success. */
int drv_wire_recv_peer(void *sock, bool router, size_t max_len, int flags, char **ret_identity,
                       char **ret_user_id, Drover__Envelope **ret_env, drv_error **err);

/* Small builders used on both sides. Strings are borrowed by the envelope (not copied): the caller
 * keeps them alive until the envelope is packed. */
void drv_kv_set(Drover__KeyValue *kv, const char *key, const char *value);

#endif
