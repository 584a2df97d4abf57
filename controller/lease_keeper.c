/* lease_keeper.c — see lease_keeper.h. One thread; everything it shares with the loop is under
 * one mutex, never held across an etcd call. */
#include "lease_keeper.h"

#include "log.h"

#include <glib.h>
#include <string.h>

struct ctl_lease_keeper {
    ctl_lease_keeper_ops ops;
    int64_t ttl_ms;
    GThread *thread;
    GMutex lock;
    GCond cond;
    /* under lock */
    bool stop;
    int64_t lease;          /* 0: none kept */
    uint64_t generation;    /* +1 on every keep/drop: a round for an older one is ignored */
    int64_t valid_until_ms; /* monotonic */
    int64_t next_ms;        /* next round */
    bool lost;
    char *lost_why;
    uint64_t confirmed;
    /* failed rounds in a row (an etcd outage): warned at the first, then every S_WARN_EVERY_MS */
    unsigned failures;
    int64_t warned_ms;
    /* the etcd handle of ctl_lease_keeper_new_etcd (used on the thread only) */
    drv_etcd *etcd;
    char *leader_key;
};

/* How often a run of failed keep-alives is warned about (an outage may last minutes). */
#define S_WARN_EVERY_MS 30000

static int64_t s_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* One round on the thread, no lock held: 1 confirmed, 0 lost (*why set), -1 not known (*err). */
static int s_round(ctl_lease_keeper *self, int64_t lease, char **why, drv_error **err)
{
    drv_error *e = NULL;
    if (self->ops.keepalive(self->ops.ctx, lease, &e) < 0) {
        if (e->kind == DRV_ERR_NOT_FOUND) {
            *why = g_strdup_printf("etcd says the lease expired (%s)", e->message);
            drv_error_destroy(&e);
            return 0;
        }
        drv_error_propagate(err, e);
        return -1;
    }
    int64_t holder = 0;
    if (self->ops.holder(self->ops.ctx, &holder, err) < 0)
        return -1;
    if (holder != lease) {
        *why = g_strdup(holder == 0 ? "the leader key is gone"
                                    : "the leader key is held by another lease");
        return 0;
    }
    return 1;
}

static gpointer s_thread(gpointer data)
{
    ctl_lease_keeper *self = data;
    int64_t retry_ms = MAX(50, self->ttl_ms / 6);
    g_mutex_lock(&self->lock);
    while (!self->stop) {
        int64_t now = s_now_ms();
        if (self->lease == 0 || self->lost || now < self->next_ms) {
            if (self->lease == 0 || self->lost)
                g_cond_wait(&self->cond, &self->lock);
            else
                g_cond_wait_until(&self->cond, &self->lock,
                                  g_get_monotonic_time() + (self->next_ms - now) * 1000);
            continue;
        }
        int64_t lease = self->lease;
        uint64_t gen = self->generation;
        g_mutex_unlock(&self->lock);

        int64_t sent_ms = s_now_ms(); /* the lease lives at least ttl from here once confirmed */
        char *why = NULL;
        drv_error *err = NULL;
        int rc = s_round(self, lease, &why, &err);
        int64_t back_ms = s_now_ms();

        g_mutex_lock(&self->lock);
        if (gen == self->generation) {
            if (rc > 0) {
                if (self->failures > 0)
                    drv_info("leader lease keepalive: etcd answers again (after %u failed "
                             "rounds)",
                             self->failures);
                self->failures = 0;
                self->confirmed++;
                self->valid_until_ms = MAX(self->valid_until_ms, sent_ms + self->ttl_ms);
                /* an answer that came too late to vouch for much: ask again at once */
                self->next_ms = back_ms + self->ttl_ms / 3 < self->valid_until_ms
                                    ? sent_ms + self->ttl_ms / 3
                                    : back_ms;
            } else if (rc == 0) {
                self->lost = true;
                g_free(self->lost_why);
                self->lost_why = why;
                why = NULL;
            } else {
                if (self->failures++ == 0 || back_ms - self->warned_ms >= S_WARN_EVERY_MS) {
                    drv_warn("leader lease keepalive: %s (%u failed rounds in a row; retried "
                             "every %" G_GINT64_FORMAT " ms, said again every %d s)",
                             err->message, self->failures, retry_ms, S_WARN_EVERY_MS / 1000);
                    self->warned_ms = back_ms;
                }
                self->next_ms = back_ms + retry_ms;
            }
        }
        g_free(why);
        drv_error_destroy(&err);
    }
    g_mutex_unlock(&self->lock);
    return NULL;
}

ctl_lease_keeper *ctl_lease_keeper_new(const ctl_lease_keeper_ops *ops, int64_t ttl_ms)
{
    ctl_lease_keeper *self = g_new0(ctl_lease_keeper, 1);
    self->ops = *ops;
    self->ttl_ms = ttl_ms;
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    self->thread = g_thread_new("lease-keeper", s_thread, self);
    return self;
}

/* ------------------------------------------------------------------ the etcd table */

static int s_etcd_keepalive(void *ctx, int64_t lease, drv_error **err)
{
    ctl_lease_keeper *self = ctx;
    return drv_etcd_lease_keepalive(self->etcd, lease, NULL, err);
}

static int s_etcd_holder(void *ctx, int64_t *ret_holder, drv_error **err)
{
    ctl_lease_keeper *self = ctx;
    drv_etcd_range kv = {0};
    if (drv_etcd_get(self->etcd, self->leader_key, strlen(self->leader_key), &kv, err) < 0)
        return -1;
    *ret_holder = kv.n_kvs > 0 ? kv.kvs[0].lease : 0;
    drv_etcd_range_clear(&kv);
    return 0;
}

ctl_lease_keeper *ctl_lease_keeper_new_etcd(char *const *endpoints, long timeout_ms,
                                            const drv_etcd_tls *tls, const char *leader_key,
                                            int64_t ttl_ms, drv_error **err)
{
    size_t n = endpoints != NULL ? g_strv_length((gchar **)endpoints) : 0;
    drv_etcd *etcd = drv_etcd_new((const char *const *)endpoints, n, timeout_ms, tls, err);
    if (etcd == NULL)
        return NULL;
    /* the thread reads self->etcd: set it before the thread starts */
    ctl_lease_keeper *self = g_new0(ctl_lease_keeper, 1);
    self->etcd = etcd;
    self->leader_key = g_strdup(leader_key);
    self->ops =
        (ctl_lease_keeper_ops){.keepalive = s_etcd_keepalive, .holder = s_etcd_holder, .ctx = self};
    self->ttl_ms = ttl_ms;
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    self->thread = g_thread_new("lease-keeper", s_thread, self);
    return self;
}

void ctl_lease_keeper_destroy(ctl_lease_keeper **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_lease_keeper *self = *self_p;
    g_mutex_lock(&self->lock);
    self->stop = true;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
    g_thread_join(self->thread);
    g_mutex_clear(&self->lock);
    g_cond_clear(&self->cond);
    drv_etcd_destroy(&self->etcd);
    g_free(self->leader_key);
    g_free(self->lost_why);
    g_free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ on the loop */

void ctl_lease_keeper_keep(ctl_lease_keeper *self, int64_t lease, int64_t valid_until_ms)
{
    g_mutex_lock(&self->lock);
    self->lease = lease;
    self->generation++;
    self->valid_until_ms = valid_until_ms;
    self->next_ms = 0;
    self->lost = false;
    g_clear_pointer(&self->lost_why, g_free);
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
}

void ctl_lease_keeper_drop(ctl_lease_keeper *self)
{
    g_mutex_lock(&self->lock);
    self->lease = 0;
    self->generation++;
    self->valid_until_ms = 0;
    self->lost = false;
    g_clear_pointer(&self->lost_why, g_free);
    g_mutex_unlock(&self->lock);
}

ctl_lease_state ctl_lease_keeper_state(ctl_lease_keeper *self, int64_t now_ms,
                                       int64_t *ret_valid_until_ms, char **ret_why)
{
    ctl_lease_state st;
    g_mutex_lock(&self->lock);
    if (self->lease == 0)
        st = CTL_LEASE_NONE;
    else if (self->lost)
        st = CTL_LEASE_LOST;
    else if (now_ms >= self->valid_until_ms)
        st = CTL_LEASE_UNCONFIRMED;
    else
        st = CTL_LEASE_HELD;
    if (ret_valid_until_ms != NULL)
        *ret_valid_until_ms = self->valid_until_ms;
    if (ret_why != NULL)
        *ret_why = st == CTL_LEASE_LOST ? g_strdup(self->lost_why) : NULL;
    g_mutex_unlock(&self->lock);
    return st;
}

uint64_t ctl_lease_keeper_confirmed(ctl_lease_keeper *self)
{
    g_mutex_lock(&self->lock);
    uint64_t n = self->confirmed;
    g_mutex_unlock(&self->lock);
    return n;
}
