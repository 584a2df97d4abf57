/* leader.c — see leader.h. The election (grant + create-if-absent txn, or recovering a lease kept
 * over an etcd outage) runs on the leader's own etcd worker; once leading, the lease is kept alive
 * by the lease keeper's thread (lease_keeper.h), so however long a turn of the loop takes, the
 * keepalive goes out in time. The loop only looks at the answers. */
#include "leader.h"

#include "etcd_worker.h"
#include "lease_keeper.h"
#include "log.h"

#include <string.h>

/* One election round trip to etcd: filled on the worker, read on the loop. */
typedef struct {
    char *key;
    char *name;
    int64_t ttl_s;
    int64_t lease;   /* in: kept from before an outage (to recover), or 0; out: ours */
    int64_t sent_ms; /* monotonic time the request left: the lease lives at least ttl from here */
    bool ours;       /* out: the key is held by `lease` */
    bool lease_gone; /* out: etcd says the lease expired */
    bool recovered;  /* out: the lease kept from before an outage still holds the key */
    char *holder;    /* out: the leader key's value when another holds it */
} s_round;

struct ctl_leader {
    ctl *c;
    ctl_etcd_worker *worker;
    ctl_lease_keeper *keeper; /* keeps the lease alive while leading */
    bool leading;
    bool in_flight;
    bool stopping;
    bool unbound; /* leading, but not serving agents yet (transitions.lead answered 1) */
    const ctl_leader_transitions *on; /* main.c's: start / stop serving agents */
    int64_t lease;                    /* held, or kept after a local step-down to be recovered */
    int64_t next_ms;
    int64_t valid_until_ms; /* monotonic: our lease certainly lives until then */
    char *leader_name;
};

static void s_round_free(gpointer p)
{
    s_round *r = p;
    g_free(r->key);
    g_free(r->name);
    g_free(r->holder);
    g_free(r);
}

ctl_leader *ctl_leader_new(ctl *c, const ctl_leader_transitions *transitions)
{
    ctl_leader *self = g_new0(ctl_leader, 1);
    self->c = c;
    self->on = transitions;
    self->leader_name = g_strdup("unknown");
    /* short enough that a keepalive answer (or its failure) comes well within the lease */
    int64_t timeout = MIN(c->cfg->etcd_timeout_ms, c->cfg->leader_ttl_s * 1000 / 3);
    ctl_etcd_worker_opts o = {.name = "etcd-leader", .max_queue = 4};
    drv_error *err = NULL;
    self->worker = ctl_etcd_worker_new(c->cfg->etcd_endpoints, c->cfg->prefix, (long)timeout,
                                       &c->cfg->etcd_tls, &o, self, &err);
    if (self->worker == NULL) {
        drv_err("leader: %s", err->message);
        drv_error_destroy(&err);
        return self;
    }
    char *key = ctl_store_key(c->store, "leader");
    self->keeper =
        ctl_lease_keeper_new_etcd(c->cfg->etcd_endpoints, (long)timeout, &c->cfg->etcd_tls, key,
                                  c->cfg->leader_ttl_s * 1000, &err);
    g_free(key);
    if (self->keeper == NULL) {
        drv_err("leader lease keeper: %s", err->message);
        drv_error_destroy(&err);
        ctl_etcd_worker_destroy(&self->worker); /* never leads without a keeper */
    }
    return self;
}

/* ------------------------------------------------------------------ on the worker */

/* Reads the leader key: whether `lease` holds it, and who does otherwise. */
static int s_read_key(drv_etcd *etcd, s_round *r, drv_error **err)
{
    drv_etcd_range kv = {0};
    if (drv_etcd_get(etcd, r->key, strlen(r->key), &kv, err) < 0)
        return -1;
    r->ours = kv.n_kvs > 0 && r->lease != 0 && kv.kvs[0].lease == r->lease;
    if (!r->ours && kv.n_kvs > 0)
        r->holder = g_strndup(kv.kvs[0].value, kv.kvs[0].value_len);
    drv_etcd_range_clear(&kv);
    return 0;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_round *r = data;
    drv_etcd *etcd = ctl_store_etcd(store);
    if (r->lease != 0) {
        /* recovering the lease we held before etcd went away: if it is still alive and still
         * holds the key, we never stopped being the leader as far as etcd knows */
        drv_error *e = NULL;
        int64_t ttl = 0;
        if (drv_etcd_lease_keepalive(etcd, r->lease, &ttl, &e) < 0) {
            if (e->kind != DRV_ERR_NOT_FOUND) {
                drv_error_propagate(err, e);
                return -1;
            }
            drv_error_destroy(&e);
            r->lease_gone = true;
            r->lease = 0;
        } else {
            if (s_read_key(etcd, r, err) < 0)
                return -1;
            r->recovered = r->ours;
            if (r->ours)
                return 0;
            drv_etcd_lease_revoke(etcd, r->lease, NULL); /* alive but the key is not ours */
            r->lease = 0;
        }
    }
    int64_t lease = 0;
    if (drv_etcd_lease_grant(etcd, r->ttl_s, &lease, err) < 0)
        return -1;
    drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_CREATE,
                        .result = DRV_ETCD_EQUAL,
                        .key = r->key,
                        .key_len = strlen(r->key),
                        .number = 0};
    drv_etcd_op put = {.kind = DRV_ETCD_OP_PUT,
                       .key = r->key,
                       .key_len = strlen(r->key),
                       .value = r->name,
                       .value_len = strlen(r->name),
                       .lease = lease};
    drv_etcd_op get = {.kind = DRV_ETCD_OP_GET, .key = r->key, .key_len = strlen(r->key)};
    drv_etcd_txn_result t = {0};
    if (drv_etcd_txn(etcd, &cmp, 1, &put, 1, &get, 1, &t, err) < 0) {
        drv_etcd_lease_revoke(etcd, lease, NULL);
        return -1;
    }
    if (t.succeeded) {
        r->lease = lease;
        r->ours = true;
    } else {
        if (t.n_responses > 0 && t.responses[0].n_kvs > 0)
            r->holder = g_strndup(t.responses[0].kvs[0].value, t.responses[0].kvs[0].value_len);
        drv_etcd_lease_revoke(etcd, lease, NULL);
    }
    drv_etcd_txn_result_clear(&t);
    return 0;
}

/* ------------------------------------------------------------------ on the loop */

static void s_set_name(ctl_leader *self, const char *name)
{
    g_free(self->leader_name);
    self->leader_name = g_strdup(name);
}

static void s_step_down(ctl_leader *self, const char *why, bool keep_lease)
{
    drv_warn("lost leadership: %s; standing by", why);
    self->leading = false;
    self->unbound = false;
    if (!keep_lease)
        self->lease = 0;
    ctl_lease_keeper_drop(self->keeper);
    self->on->follow(self->c);
}

/* Binds the agent ROUTER; while the endpoint is still being released by the ROUTER closed at the
 * last step-down, stays the leader and tries again on the next tick. */
static void s_bind(ctl_leader *self, int64_t now_ms)
{
    ctl *c = self->c;
    drv_error *berr = NULL;
    int rc = self->on->lead(c, &berr);
    if (rc > 0) {
        if (!self->unbound)
            drv_info("agent endpoint %s still held by the previous agent socket; binding again "
                     "shortly",
                     c->cfg->agent_bind);
        self->unbound = true;
        return;
    }
    if (rc == 0 && self->unbound)
        drv_info("agent socket bound again on %s", c->cfg->agent_bind);
    self->unbound = false;
    if (rc < 0) {
        /* cannot serve agents: let the lease run out and try again later */
        drv_err("%s; giving up the leadership for now", berr->message);
        drv_error_destroy(&berr);
        self->leading = false;
        self->lease = 0;
        ctl_lease_keeper_drop(self->keeper);
        self->next_ms = now_ms + 2000;
    }
}

static void s_become_leader(ctl_leader *self, int64_t now_ms, bool recovered)
{
    ctl *c = self->c;
    self->leading = true;
    ctl_lease_keeper_keep(self->keeper, self->lease, self->valid_until_ms);
    s_set_name(self, c->cfg->name);
    drv_info("this controller ('%s') is %s the leader", c->cfg->name,
             recovered ? "again (its lease outlived the etcd outage)" : "now");
    s_bind(self, now_ms);
}

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl_leader *self = loop_ctx;
    s_round *r = data;
    if (self->stopping)
        return;
    int64_t now = ctl_now_ms(self->c);
    int64_t ttl_ms = self->c->cfg->leader_ttl_s * 1000;
    self->in_flight = false;
    if (r->holder != NULL)
        s_set_name(self, r->holder);
    if (err != NULL) {
        if (r->lease_gone)
            self->lease = 0;
        drv_warn("leader election: %s", err->message);
        self->next_ms = now + 500;
        return;
    }
    if (r->ours) {
        self->lease = r->lease;
        if (r->sent_ms + ttl_ms <= now) {
            /* the answer came too late to vouch for anything: ask again */
            self->next_ms = now;
            return;
        }
        /* rounds go out only while not leading; from here the lease keeper keeps the lease */
        self->valid_until_ms = r->sent_ms + ttl_ms;
        s_become_leader(self, now, r->recovered);
        return;
    }
    self->lease = r->lease; /* 0 unless still ours to recover */
    self->next_ms = now + 1000;
    drv_debug("standing by; the leader is '%s'", self->leader_name);
}

/* Leading: reads the keeper's verdict. Past the time our lease is certain to live we are not the
 * leader, whether or not etcd has answered (a standby may take over once it expires); the lease id
 * is kept then: if etcd comes back with the lease alive, leadership is recovered without waiting
 * it out. Returns ms until it wants to look again. */
static int64_t s_tick_leading(ctl_leader *self, int64_t now_ms)
{
    int64_t valid_until = 0;
    char *why = NULL;
    ctl_lease_state st = ctl_lease_keeper_state(self->keeper, now_ms, &valid_until, &why);
    if (st == CTL_LEASE_LOST) {
        char *msg = g_strdup_printf("%s", why != NULL ? why : "the lease is lost");
        s_step_down(self, msg, false);
        g_free(msg);
        g_free(why);
        self->next_ms = now_ms;
        return 0;
    }
    g_free(why);
    if (st != CTL_LEASE_HELD) {
        s_step_down(self, "etcd did not confirm the lease in time", true);
        self->next_ms = now_ms;
        return 0;
    }
    self->valid_until_ms = valid_until;
    return MIN(200, MAX(0, valid_until - now_ms));
}

static int64_t s_tick_lease(ctl_leader *self, int64_t now_ms)
{
    if (self->leading)
        return s_tick_leading(self, now_ms);
    if (self->worker == NULL || self->in_flight)
        return 200;
    if (now_ms < self->next_ms)
        return self->next_ms - now_ms;
    s_round *r = g_new0(s_round, 1);
    r->key = ctl_store_key(self->c->store, "leader");
    r->name = g_strdup(self->c->cfg->name);
    r->ttl_s = self->c->cfg->leader_ttl_s;
    r->lease = self->lease;
    r->sent_ms = now_ms;
    drv_error *e = NULL;
    if (ctl_etcd_worker_submit(self->worker, s_work, s_done, r, s_round_free, &e) < 0) {
        drv_debug("leader: %s", e->message);
        drv_error_destroy(&e);
        s_round_free(r);
        self->next_ms = now_ms + 500;
        return 500;
    }
    self->in_flight = true;
    return 200;
}

int64_t ctl_leader_tick(ctl_leader *self, int64_t now_ms, drv_error **err)
{
    (void)err;
    int64_t wait = s_tick_lease(self, now_ms);
    if (self->leading && self->unbound) {
        s_bind(self, now_ms); /* the previous ROUTER's endpoint was still held */
        if (self->unbound)
            wait = MIN(wait, 50);
    }
    return wait;
}

int ctl_leader_fd(const ctl_leader *self)
{
    return self->worker != NULL ? ctl_etcd_worker_fd(self->worker) : -1;
}

void ctl_leader_dispatch(ctl_leader *self)
{
    if (self->worker != NULL)
        ctl_etcd_worker_dispatch(self->worker);
}

void ctl_leader_destroy(ctl_leader **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_leader *self = *self_p;
    self->stopping = true;
    ctl_lease_keeper_destroy(&self->keeper);
    ctl_etcd_worker_destroy(&self->worker);
    if (self->leading && self->lease != 0) {
        /* a standby takes over at once: one bounded call at exit */
        drv_error *err = NULL;
        if (drv_etcd_lease_revoke(ctl_store_etcd(self->c->store), self->lease, &err) < 0) {
            drv_debug("leader lease revoke: %s", err->message);
            drv_error_destroy(&err);
        }
    }
    g_free(self->leader_name);
    g_free(self);
    *self_p = NULL;
}

bool ctl_leader_is(const ctl_leader *self)
{
    /* between two ticks the lease may have run out: never serve past what the keeper vouches for */
    return self != NULL && self->leading &&
           ctl_lease_keeper_state(self->keeper, ctl_now_ms(self->c), NULL, NULL) == CTL_LEASE_HELD;
}

const char *ctl_leader_name(const ctl_leader *self)
{
    return self->leader_name;
}
