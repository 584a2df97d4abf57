/* codec.c — see codec.h. */
#include "codec.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

static const char *s_body_names[] = {
    [DROVER__ENVELOPE__BODY_REGISTER] = "register",
    [DROVER__ENVELOPE__BODY_REGISTER_ACK] = "register-ack",
    [DROVER__ENVELOPE__BODY_HEARTBEAT] = "heartbeat",
    [DROVER__ENVELOPE__BODY_INVENTORY] = "inventory",
    [DROVER__ENVELOPE__BODY_COMMAND] = "command",
    [DROVER__ENVELOPE__BODY_REPLY] = "reply",
    [DROVER__ENVELOPE__BODY_PROGRESS] = "progress",
    [DROVER__ENVELOPE__BODY_EVENT] = "event",
    [DROVER__ENVELOPE__BODY_CLIENT_REQUEST] = "client-request",
    [DROVER__ENVELOPE__BODY_CLIENT_REPLY] = "client-reply",
    [DROVER__ENVELOPE__BODY_CLUSTER_EVENT] = "cluster-event",
};

const char *drv_codec_body_name(Drover__Envelope__BodyCase body_case)
{
    size_t i = (size_t)body_case;
    if (i < G_N_ELEMENTS(s_body_names) && s_body_names[i] != NULL)
        return s_body_names[i];
    return "none";
}

int drv_codec_pack(Drover__Envelope *env, size_t max_len, uint8_t **ret_buf, size_t *ret_len,
                   drv_error **err)
{
    if (max_len == 0)
        max_len = DRV_PROTO_MAX_FRAME_DEFAULT;
    if (env == NULL || env->body_case == DROVER__ENVELOPE__BODY__NOT_SET)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "cannot send an envelope with no message");
    env->version = DRV_PROTO_VERSION;
    size_t len = drover__envelope__get_packed_size(env);
    if (len > max_len)
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "%s message of %zu bytes exceeds the frame limit of %zu bytes",
                             drv_codec_body_name(env->body_case), len, max_len);
    uint8_t *buf = g_malloc(len ? len : 1);
    size_t packed = drover__envelope__pack(env, buf);
    if (packed != len) {
        g_free(buf);
        return drv_error_set(err, DRV_ERR_INTERNAL, 0, "protobuf packed %zu bytes, expected %zu",
                             packed, len);
    }
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

int drv_codec_unpack(const uint8_t *buf, size_t len, size_t max_len, Drover__Envelope **ret,
                     drv_error **err)
{
    if (max_len == 0)
        max_len = DRV_PROTO_MAX_FRAME_DEFAULT;
    if (len > max_len)
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "frame of %zu bytes exceeds the limit of %zu bytes", len, max_len);
    if (len == 0)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "empty frame");
    Drover__Envelope *env = drover__envelope__unpack(NULL, len, buf);
    if (env == NULL)
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "frame of %zu bytes is truncated or garbled (not a drover envelope)",
                             len);
    if (env->version != DRV_PROTO_VERSION) {
        uint32_t v = env->version;
        drover__envelope__free_unpacked(env, NULL);
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "protocol version %u is not supported (this side speaks %u)", v,
                             DRV_PROTO_VERSION);
    }
    if (env->body_case == DROVER__ENVELOPE__BODY__NOT_SET) {
        drover__envelope__free_unpacked(env, NULL);
        return drv_error_set(err, DRV_ERR_PROTO, 0, "frame carries no message");
    }
    *ret = env;
    return 0;
}

void drv_codec_free(Drover__Envelope **env_p)
{
    if (env_p == NULL || *env_p == NULL)
        return;
    drover__envelope__free_unpacked(*env_p, NULL);
    *env_p = NULL;
}

int drv_wire_send(void *sock, const char *identity, Drover__Envelope *env, int flags,
                  drv_error **err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (drv_codec_pack(env, 0, &buf, &len, err) < 0)
        return -1;
    if (identity != NULL) {
        if (zmq_send(sock, identity, strlen(identity), ZMQ_SNDMORE | flags) < 0) {
            int e = errno;
            g_free(buf);
            return drv_error_set(err, e == EAGAIN ? DRV_ERR_UNAVAILABLE : DRV_ERR_IO, e,
                                 "send to '%s': %s", identity, zmq_strerror(e));
        }
    }
    int rc = zmq_send(sock, buf, len, flags);
    int e = errno;
    g_free(buf);
    if (rc < 0)
        return drv_error_set(err, e == EAGAIN ? DRV_ERR_UNAVAILABLE : DRV_ERR_IO, e,
                             "send%s%s: %s", identity ? " to " : "", identity ? identity : "",
                             zmq_strerror(e));
    return 0;
}

/* Drains the remaining frames of a message. */
static void s_drain(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
        sz = sizeof(more);
    }
}

static int s_recv_frame(void *sock, zmq_msg_t *m, int flags, drv_error **err)
{
    zmq_msg_init(m);
    if (zmq_msg_recv(m, sock, flags) < 0) {
        int e = errno;
        zmq_msg_close(m);
        if (e == EAGAIN)
            return drv_error_set(err, DRV_ERR_TIMEOUT, e, "no message");
        return drv_error_set(err, e == ETERM ? DRV_ERR_UNAVAILABLE : DRV_ERR_IO, e, "receive: %s",
                             zmq_strerror(e));
    }
    return 0;
}

int drv_wire_recv(void *sock, bool router, size_t max_len, int flags, char **ret_identity,
                  Drover__Envelope **ret_env, drv_error **err)
{
    zmq_msg_t m;
    char *identity = NULL;
    if (s_recv_frame(sock, &m, flags, err) < 0)
        return -1;
    if (router) {
        identity = g_strndup(zmq_msg_data(&m), zmq_msg_size(&m));
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        if (!more) {
            drv_error_set(err, DRV_ERR_PROTO, 0, "message from '%s' has no payload", identity);
            goto fail;
        }
        if (s_recv_frame(sock, &m, 0, err) < 0)
            goto fail;
        if (zmq_msg_size(&m) == 0 && zmq_msg_more(&m)) { /* REQ delimiter */
            zmq_msg_close(&m);
            if (s_recv_frame(sock, &m, 0, err) < 0)
                goto fail;
        }
    }
    bool extra = zmq_msg_more(&m);
    int rc = drv_codec_unpack(zmq_msg_data(&m), zmq_msg_size(&m), max_len, ret_env, err);
    zmq_msg_close(&m);
    if (extra)
        s_drain(sock);
    if (rc < 0)
        goto fail;
    if (extra) {
        drv_codec_free(ret_env);
        drv_error_set(err, DRV_ERR_PROTO, 0, "message has unexpected extra frames");
        goto fail;
    }
    if (ret_identity != NULL)
        *ret_identity = identity;
    else
        g_free(identity);
    return 0;
fail:
    if (ret_identity != NULL && identity != NULL)
        *ret_identity = identity;
    else
        g_free(identity);
    return -1;
}

void drv_kv_set(Drover__KeyValue *kv, const char *key, const char *value)
{
    drover__key_value__init(kv);
    kv->key = (char *)key;
    kv->value = (char *)value;
}
