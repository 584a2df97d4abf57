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
    [DROVER__ENVELOPE__BODY_STATS_REPORT] = "stats-report",
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

/* protobuf-c 1.4 accepts a field tag of 0 written in more than one byte (e.g. 80 00), keeps it as
 * an unknown field and writes it back as a plain 00, which no decoder accepts. Unknown fields with
 * valid tags (a newer peer's additions) are fine; a tag of 0 makes the frame garbled. */
static bool s_has_bad_unknown_field(const ProtobufCMessage *m, int depth)
{
    if (m == NULL)
        return false;
    if (depth > 64)
        return true;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *member = (const char *)m + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)member;
            for (size_t j = 0; j < n; j++)
                if (s_has_bad_unknown_field(arr[j], depth + 1))
                    return true;
        } else if (s_has_bad_unknown_field(*(ProtobufCMessage *const *)member, depth + 1)) {
            return true;
        }
    }
    return false;
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
    if (s_has_bad_unknown_field(&env->base, 0)) {
        drover__envelope__free_unpacked(env, NULL);
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "frame of %zu bytes is garbled (a field with tag 0)", len);
    }
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

void drv_codec_destroy(Drover__Envelope **env_p)
{
    if (env_p == NULL || *env_p == NULL)
        return;
    drover__envelope__free_unpacked(*env_p, NULL);
    *env_p = NULL;
}

/* ROUTER identities are byte strings; the API hands them out as C strings. A peer that sets no
 * ZMQ_ROUTING_ID gets one generated by ZeroMQ, which starts with a zero byte: copied as a C string
 * it would read as "" and a reply to it would be dropped by the ROUTER. So an identity that is
 * valid UTF-8 without control characters and does not start with '~' is passed through as-is (host
 * ids, PUB topics such as "domain.web 1"), and any other is written as '~' followed by the
 * lowercase hex of its bytes. s_identity_decode reverses that, so drv_wire_send(identity from
 * drv_wire_recv) always reaches the peer. */
static char *s_identity_encode(const uint8_t *data, size_t len)
{
    bool plain = len > 0 && data[0] != '~' && g_utf8_validate_len((const char *)data, len, NULL);
    for (size_t i = 0; plain && i < len; i++)
        plain = data[i] >= 0x20 && data[i] != 0x7f;
    if (plain)
        return g_strndup((const char *)data, len);
    static const char hex[] = "0123456789abcdef";
    char *out = g_malloc(2 * len + 2);
    out[0] = '~';
    for (size_t i = 0; i < len; i++) {
        out[1 + 2 * i] = hex[data[i] >> 4];
        out[2 + 2 * i] = hex[data[i] & 0xf];
    }
    out[1 + 2 * len] = '\0';
    return out;
}

/* Returns the identity bytes (g_free) for a string from s_identity_encode or a plain host id. */
static uint8_t *s_identity_decode(const char *identity, size_t *ret_len)
{
    size_t len = strlen(identity);
    bool hex = identity[0] == '~' && len >= 3 && len % 2 == 1;
    for (size_t i = 1; hex && i < len; i++)
        hex = g_ascii_isxdigit(identity[i]);
    if (!hex) {
        *ret_len = len;
        return (uint8_t *)g_strndup(identity, len);
    }
    size_t n = (len - 1) / 2;
    uint8_t *out = g_malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(g_ascii_xdigit_value(identity[1 + 2 * i]) << 4 |
                           g_ascii_xdigit_value(identity[2 + 2 * i]));
    *ret_len = n;
    return out;
}

int drv_wire_send(void *sock, const char *identity, Drover__Envelope *env, int flags,
                  drv_error **err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (drv_codec_pack(env, 0, &buf, &len, err) < 0)
        return -1;
    if (identity != NULL) {
        size_t id_len = 0;
        g_autofree uint8_t *id = s_identity_decode(identity, &id_len);
        if (zmq_send(sock, id, id_len, ZMQ_SNDMORE | flags) < 0) {
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
        return drv_error_set(err, e == EAGAIN ? DRV_ERR_UNAVAILABLE : DRV_ERR_IO, e, "send%s%s: %s",
                             identity ? " to " : "", identity ? identity : "", zmq_strerror(e));
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
    return drv_wire_recv_peer(sock, router, max_len, flags, ret_identity, NULL, ret_env, err);
}

int drv_wire_recv_peer(void *sock, bool router, size_t max_len, int flags, char **ret_identity,
                       char **ret_user_id, Drover__Envelope **ret_env, drv_error **err)
{
    zmq_msg_t m;
    char *identity = NULL;
    char *user_id = NULL;
    if (s_recv_frame(sock, &m, flags, err) < 0)
        return -1;
    if (router) {
        identity = s_identity_encode(zmq_msg_data(&m), zmq_msg_size(&m));
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
    if (ret_user_id != NULL) {
        const char *uid = zmq_msg_gets(&m, "User-Id");
        user_id = uid != NULL && uid[0] != '\0' ? g_strdup(uid) : NULL;
    }
    int rc = drv_codec_unpack(zmq_msg_data(&m), zmq_msg_size(&m), max_len, ret_env, err);
    zmq_msg_close(&m);
    if (extra)
        s_drain(sock);
    if (rc < 0)
        goto fail;
    if (extra) {
        drv_codec_destroy(ret_env);
        drv_error_set(err, DRV_ERR_PROTO, 0, "message has unexpected extra frames");
        goto fail;
    }
    if (ret_identity != NULL)
        *ret_identity = identity;
    else
        g_free(identity);
    if (ret_user_id != NULL)
        *ret_user_id = user_id;
    return 0;
fail:
    g_free(user_id);
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
