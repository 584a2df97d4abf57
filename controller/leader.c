/* leader.c — see leader.h. */
#include "leader.h"

#include "broker.h"
#include "log.h"

#include <string.h>

struct ctl_leader {
    ctl *c;
    bool leading;
    int64_t lease;
    int64_t next_ms;
    int64_t last_refresh_ms;
    char *leader_name;
};

ctl_leader *ctl_leader_new(ctl *c)
{
    ctl_leader *self = g_new0(ctl_leader, 1);
    self->c = c;
    self->leader_name = g_strdup("unknown");
    return self;
}

void ctl_leader_destroy(ctl_leader **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_leader *self = *self_p;
    if (self->leading && self->lease != 0) {
        drv_error *err = NULL;
        if (drv_etcd_lease_revoke(ctl_store_etcd(self->c->store), self->lease, &err) < 0) {
            drv_debug("leader lease revoke: %s", err->message);
            drv_error_free(&err);
        }
    }
    g_free(self->leader_name);
    g_free(self);
    *self_p = NULL;
}

bool ctl_leader_is(const ctl_leader *self)
{
    return self != NULL && self->leading;
}

const char *ctl_leader_name(const ctl_leader *self)
{
    return self->leader_name;
}

static void s_step_down(ctl_leader *self, const char *why)
{
    drv_warn("lost leadership: %s; standing by", why);
    self->leading = false;
    self->lease = 0;
    ctl_broker_stop(self->c->broker);
}

/* True unless etcd says the leader key is missing or attached to another lease (deleted or taken
 * by hand); an etcd error keeps the benefit of the doubt until the lease itself runs out. */
static bool s_still_ours(ctl_leader *self)
{
    g_autofree char *key = ctl_store_key(self->c->store, "leader");
    drv_etcd_range r = {0};
    drv_error *err = NULL;
    if (drv_etcd_get(ctl_store_etcd(self->c->store), key, strlen(key), &r, &err) < 0) {
        drv_debug("leader key check: %s", err->message);
        drv_error_free(&err);
        return true;
    }
    bool ours = r.n_kvs > 0 && r.kvs[0].lease == self->lease;
    if (!ours && r.n_kvs > 0) {
        g_free(self->leader_name);
        self->leader_name = g_strndup(r.kvs[0].value, r.kvs[0].value_len);
    }
    drv_etcd_range_clear(&r);
    return ours;
}

/* One attempt at taking the leader key. 1 = now leading, 0 = someone else leads, -1 = etcd error.
 */
static int s_try_acquire(ctl_leader *self, drv_error **err)
{
    drv_etcd *etcd = ctl_store_etcd(self->c->store);
    int64_t lease = 0;
    if (drv_etcd_lease_grant(etcd, self->c->cfg->leader_ttl_s, &lease, err) < 0)
        return -1;
    g_autofree char *key = ctl_store_key(self->c->store, "leader");
    const char *name = self->c->cfg->name;
    drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_CREATE,
                        .result = DRV_ETCD_EQUAL,
                        .key = key,
                        .key_len = strlen(key),
                        .number = 0};
    drv_etcd_op put = {.kind = DRV_ETCD_OP_PUT,
                       .key = key,
                       .key_len = strlen(key),
                       .value = name,
                       .value_len = strlen(name),
                       .lease = lease};
    drv_etcd_op get = {.kind = DRV_ETCD_OP_GET, .key = key, .key_len = strlen(key)};
    drv_etcd_txn_result r = {0};
    if (drv_etcd_txn(etcd, &cmp, 1, &put, 1, &get, 1, &r, err) < 0) {
        drv_etcd_lease_revoke(etcd, lease, NULL);
        return -1;
    }
    int rc;
    if (r.succeeded) {
        self->lease = lease;
        g_free(self->leader_name);
        self->leader_name = g_strdup(name);
        rc = 1;
    } else {
        if (r.n_responses > 0 && r.responses[0].n_kvs > 0) {
            g_free(self->leader_name);
            self->leader_name =
                g_strndup(r.responses[0].kvs[0].value, r.responses[0].kvs[0].value_len);
        }
        drv_etcd_lease_revoke(etcd, lease, NULL);
        rc = 0;
    }
    drv_etcd_txn_result_clear(&r);
    return rc;
}

int64_t ctl_leader_tick(ctl_leader *self, int64_t now_ms, drv_error **err)
{
    if (now_ms < self->next_ms)
        return self->next_ms - now_ms;
    int64_t ttl_ms = self->c->cfg->leader_ttl_s * 1000;
    drv_etcd *etcd = ctl_store_etcd(self->c->store);
    if (self->leading) {
        drv_error *kerr = NULL;
        int64_t ttl = 0;
        if (drv_etcd_lease_keepalive(etcd, self->lease, &ttl, &kerr) < 0) {
            bool gone = kerr->kind == DRV_ERR_NOT_FOUND;
            drv_warn("leader lease keepalive: %s", kerr->message);
            drv_error_free(&kerr);
            if (gone || now_ms - self->last_refresh_ms >= ttl_ms)
                s_step_down(self, gone ? "the lease expired" : "etcd unreachable past the lease");
            self->next_ms = now_ms + 500;
        } else if (!s_still_ours(self)) {
            s_step_down(self, "the leader key is gone or held by another lease");
            self->next_ms = now_ms + 1000;
        } else {
            self->last_refresh_ms = now_ms;
            self->next_ms = now_ms + ttl_ms / 3;
        }
        return self->next_ms - now_ms;
    }
    drv_error *aerr = NULL;
    int rc = s_try_acquire(self, &aerr);
    self->next_ms = now_ms + 1000;
    if (rc < 0) {
        drv_warn("leader election: %s", aerr->message);
        drv_error_free(&aerr);
    } else if (rc == 1) {
        self->leading = true;
        self->last_refresh_ms = now_ms;
        self->next_ms = now_ms + ttl_ms / 3;
        drv_info("this controller ('%s') is now the leader", self->c->cfg->name);
        drv_error *berr = NULL;
        if (ctl_broker_start(self->c->broker, &berr) < 0) {
            /* cannot serve agents: give the leadership back and try again later */
            drv_err("%s; giving up the leadership for now", berr->message);
            drv_error_free(&berr);
            drv_etcd_lease_revoke(etcd, self->lease, NULL);
            self->leading = false;
            self->lease = 0;
            self->next_ms = now_ms + 2000;
        }
    } else {
        drv_debug("standing by; the leader is '%s'", self->leader_name);
    }
    return self->next_ms - now_ms;
}
