/* store_doubt.c — see store_doubt.h. */
#include "store_doubt.h"

#include "etcd_worker.h"
#include "log.h"
#include "store_async.h"

/* etcd answering again this long settles a write that has not shown up; a doubt is dropped after
 * S_LIMIT_MS in any case (logged); the table is looked at every S_LOOK_MS while it is not empty. */
#define S_SETTLE_MS 5000
#define S_LIMIT_MS  (10 * 60 * 1000)
#define S_LOOK_MS   250

typedef struct {
    char *domain;
    int64_t mod_before;
    ctl_desired written, before;
    int64_t since_ms;   /* monotonic */
    int64_t healthy_ms; /* since when etcd answers again (0 = not yet seen answering) */
} s_doubt;

struct ctl_doubts {
    GPtrArray *open; /* s_doubt* */
};

static void s_doubt_free(gpointer p)
{
    s_doubt *d = p;
    g_free(d->domain);
    g_free(d);
}

ctl_doubt_verdict_t ctl_doubt_verdict(int64_t mod_before, ctl_desired written, bool exists,
                                      int64_t cur_mod, ctl_desired cur_desired, bool settled)
{
    if (!exists)
        return CTL_DOUBT_NOT_LANDED; /* undefined meanwhile: nothing left to put back */
    if (cur_mod > mod_before)
        return cur_desired == written ? CTL_DOUBT_LANDED : CTL_DOUBT_NOT_LANDED;
    return settled ? CTL_DOUBT_NOT_LANDED : CTL_DOUBT_OPEN;
}

ctl_doubts *ctl_doubts_new(void)
{
    ctl_doubts *self = g_new0(ctl_doubts, 1);
    self->open = g_ptr_array_new_with_free_func(s_doubt_free);
    return self;
}

void ctl_doubts_destroy(ctl_doubts **self_p)
{
    ctl_doubts *self = self_p ? *self_p : NULL;
    if (self == NULL)
        return;
    for (guint i = 0; i < self->open->len; i++) {
        s_doubt *d = g_ptr_array_index(self->open, i);
        drv_warn("domain '%s': exiting without knowing whether etcd stored its desired state %s",
                 d->domain, ctl_desired_to_string(d->written));
    }
    g_ptr_array_unref(self->open);
    g_free(self);
    *self_p = NULL;
}

static void s_forget_domain(ctl_doubts *self, const char *domain)
{
    for (guint i = self->open->len; i-- > 0;) {
        s_doubt *d = g_ptr_array_index(self->open, i);
        if (g_strcmp0(d->domain, domain) == 0)
            g_ptr_array_remove_index(self->open, i);
    }
}

void ctl_doubt_desired(ctl *c, const char *domain, int64_t mod_before, ctl_desired written,
                       ctl_desired before)
{
    s_forget_domain(c->doubts, domain);
    s_doubt *d = g_new0(s_doubt, 1);
    d->domain = g_strdup(domain);
    d->mod_before = mod_before;
    d->written = written;
    d->before = before;
    d->since_ms = ctl_now_ms(c);
    g_ptr_array_add(c->doubts->open, d);
    drv_warn("domain '%s': etcd may still store the desired state %s; it is put back to %s if it "
             "does",
             domain, ctl_desired_to_string(written), ctl_desired_to_string(before));
}

void ctl_doubt_superseded(ctl *c, const char *domain)
{
    if (c->doubts != NULL)
        s_forget_domain(c->doubts, domain);
}

int64_t ctl_doubt_tick(ctl *c, int64_t now_ms)
{
    GPtrArray *open = c->doubts->open;
    if (open->len == 0)
        return INT64_MAX;
    bool answering = ctl_etcd_worker_unreachable_ms(c->etcdq) == 0;
    bool leads = ctl_is_leader(c) && c->loaded;
    for (guint i = open->len; i-- > 0;) {
        s_doubt *w = g_ptr_array_index(open, i);
        if (!answering)
            w->healthy_ms = 0;
        else if (w->healthy_ms == 0)
            w->healthy_ms = now_ms;
        if (!leads) {
            if (now_ms - w->since_ms > S_LIMIT_MS) {
                drv_warn("domain '%s': not leading for %d s: no longer watching whether etcd "
                         "stored its desired state %s",
                         w->domain, S_LIMIT_MS / 1000, ctl_desired_to_string(w->written));
                g_ptr_array_remove_index(open, i);
            }
            continue;
        }
        ctl_domain *d = ctl_model_domain(c->model, w->domain);
        bool settled = (w->healthy_ms != 0 && now_ms - w->healthy_ms >= S_SETTLE_MS) ||
                       now_ms - w->since_ms > S_LIMIT_MS;
        ctl_doubt_verdict_t v =
            ctl_doubt_verdict(w->mod_before, w->written, d != NULL, d ? d->mod_revision : 0,
                              d ? d->desired : CTL_DESIRED_SHUTOFF, settled);
        if (v == CTL_DOUBT_OPEN)
            continue;
        if (v == CTL_DOUBT_LANDED) {
            drv_warn("domain '%s': etcd stored the desired state %s after the verb had failed "
                     "(nothing was commanded); putting back %s",
                     w->domain, ctl_desired_to_string(w->written),
                     ctl_desired_to_string(w->before));
            ctl_async_put_desired(c, w->domain, w->before, (int)w->written);
        } else {
            drv_info("domain '%s': etcd did not store the desired state %s (the verb failed, "
                     "nothing was commanded)",
                     w->domain, ctl_desired_to_string(w->written));
        }
        g_ptr_array_remove_index(open, i);
    }
    return open->len > 0 ? S_LOOK_MS : INT64_MAX;
}

guint ctl_doubt_open_count(ctl *c)
{
    return c->doubts != NULL ? c->doubts->open->len : 0;
}
