/* zap.c — see zap.h. */
#include "zap.h"

#include "curve.h"
#include "log.h"

#include <string.h>
#include <zmq.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_LOG_EVERY_MS 60000

struct ctl_zap {
    ctl *c;
    void *rep;
    uint64_t refused;
    GHashTable *logged; /* z85 key → last refusal logged (monotonic ms, in a pointer) */
};

ctl_zap *ctl_zap_new(ctl *c, drv_error **err)
{
    void *rep = zmq_socket(c->zctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(rep, S_ZAP_ENDPOINT) < 0) {
        int e = errno;
        zmq_close(rep);
        drv_error_set(err, DRV_ERR_IO, e, "ZAP handler: bind %s: %s", S_ZAP_ENDPOINT,
                      zmq_strerror(e));
        return NULL;
    }
    ctl_zap *self = g_new0(ctl_zap, 1);
    self->c = c;
    self->rep = rep;
    self->logged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return self;
}

void ctl_zap_destroy(ctl_zap **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    zmq_close((*self_p)->rep);
    g_hash_table_unref((*self_p)->logged);
    g_free(*self_p);
    *self_p = NULL;
}

void *ctl_zap_socket(ctl_zap *self)
{
    return self->rep;
}

uint64_t ctl_zap_refused(const ctl_zap *self)
{
    return self != NULL ? self->refused : 0;
}

/* Who a key is, for the domain it knocks on: 0 and *ret_who (borrowed), or -1 with why. */
static int s_decide(ctl_zap *self, const char *domain, const char *mechanism, const char *key,
                    const char **ret_who, const char **ret_why)
{
    if (strcmp(mechanism, "CURVE") != 0) {
        *ret_why = "not CURVE";
        return -1;
    }
    if (key == NULL) {
        *ret_why = "no client key";
        return -1;
    }
    if (strcmp(domain, DRV_ZAP_DOMAIN_AGENTS) == 0) {
        const char *host = ctl_model_key_host(self->c->model, key);
        if (host == NULL) {
            *ret_why = self->c->loaded ? "key is not enrolled for any host"
                                       : "the host keys are not loaded from etcd yet";
            return -1;
        }
        *ret_who = host;
        return 0;
    }
    if (strcmp(domain, DRV_ZAP_DOMAIN_CLIENTS) == 0 || strcmp(domain, DRV_ZAP_DOMAIN_EVENTS) == 0) {
        const ctl_client_key *k = ctl_config_client(self->c->cfg, key);
        if (k == NULL) {
            *ret_why = "key is not an allowed client key";
            return -1;
        }
        *ret_who = k->name;
        return 0;
    }
    *ret_why = "unknown ZAP domain";
    return -1;
}

static void s_reply(void *rep, const char *request_id, size_t id_len, const char *code,
                    const char *text, const char *user_id)
{
    zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(rep, request_id, id_len, ZMQ_SNDMORE);
    zmq_send(rep, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(rep, user_id, strlen(user_id), ZMQ_SNDMORE);
    zmq_send(rep, "", 0, 0);
}

/* One request: version, request id, domain, address, routing id, mechanism, credentials... */
static void s_one(ctl_zap *self)
{
    zmq_msg_t frames[8];
    int n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->rep, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < 8)
            frames[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n == 0)
        return;
    char *fields[6] = {0};
    for (int i = 0; i < 6 && i < n; i++)
        fields[i] = g_strndup(zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i]));
    char key[DRV_Z85_KEY_LEN + 1] = "";
    bool have_key = n >= 7 && zmq_msg_size(&frames[6]) == 32 &&
                    zmq_z85_encode(key, zmq_msg_data(&frames[6]), 32) != NULL;
    const char *rid = n >= 2 ? zmq_msg_data(&frames[1]) : "";
    size_t rid_len = n >= 2 ? zmq_msg_size(&frames[1]) : 0;
    if (n < 6 || strcmp(fields[0], "1.0") != 0) {
        s_reply(self->rep, rid, rid_len, "400", "malformed ZAP request", "");
    } else {
        const char *who = NULL, *why = NULL;
        if (s_decide(self, fields[2], fields[5], have_key ? key : NULL, &who, &why) == 0) {
            drv_debug("ZAP: %s key %.8s… from %s accepted as '%s'", fields[2], key, fields[3], who);
            s_reply(self->rep, rid, rid_len, "200", "OK", key);
        } else {
            self->refused++;
            int64_t now = ctl_now_ms(self->c);
            g_autofree char *tag = g_strconcat(fields[2], " ", key, NULL); /* per domain and key */
            gpointer last = g_hash_table_lookup(self->logged, tag);
            if (g_hash_table_size(self->logged) > 4096) /* bounded under a flood of keys */
                g_hash_table_remove_all(self->logged);
            if (last == NULL || now - (int64_t)(intptr_t)last >= S_LOG_EVERY_MS) {
                g_hash_table_replace(self->logged, g_strdup(tag), (gpointer)(intptr_t)now);
                drv_warn("refused a %s connection from %s (key %s): %s", fields[2], fields[3],
                         have_key ? key : "-", why);
            }
            s_reply(self->rep, rid, rid_len, "400", why, "");
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    for (int i = 0; i < 6; i++)
        g_free(fields[i]);
}

void ctl_zap_handle(ctl_zap *self)
{
    for (int i = 0; i < 1000; i++) {
        int events = 0;
        size_t len = sizeof(events);
        if (zmq_getsockopt(self->rep, ZMQ_EVENTS, &events, &len) < 0 || (events & ZMQ_POLLIN) == 0)
            return;
        s_one(self);
    }
}
