/* outcome.c — see outcome.h. */
#include "outcome.h"

#include "events.h"
#include "log.h"
#include "store_async.h"

#include <string.h>

/* How long past the command's own time a missing answer is waited for before the host's
 * inventory decides; and when a watch whose host never tells is dropped. */
#define S_GRACE_MS  20000
#define S_FORGET_MS (3600 * 1000)

typedef struct {
    char *command_id;
    char *host;
    char *instance; /* the agent's instance when the command was sent */
    char *verb;
    char *domain;
    ctl_cmd_kind kind; /* for a resend: same id, same expiry */
    uint32_t timeout_ms;
    int64_t expires_at_ms; /* wall clock */
    ctl_desired before, after;
    bool by_inventory; /* no answer can come any more: the next authoritative inventory decides */
    int64_t since_ms;  /* monotonic */
    int64_t decide_ms; /* from then on the inventory decides even without an answer */
} s_watch;

struct ctl_outcomes {
    GHashTable *by_id; /* command id → s_watch* */
};

static void s_watch_free(gpointer p)
{
    s_watch *w = p;
    g_free(w->command_id);
    g_free(w->host);
    g_free(w->instance);
    g_free(w->verb);
    g_free(w->domain);
    g_free(w);
}

ctl_outcomes *ctl_outcomes_new(void)
{
    ctl_outcomes *self = g_new0(ctl_outcomes, 1);
    self->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_watch_free);
    return self;
}

void ctl_outcomes_destroy(ctl_outcomes **self_p)
{
    ctl_outcomes *self = self_p ? *self_p : NULL;
    if (self == NULL)
        return;
    g_hash_table_unref(self->by_id);
    g_free(self);
    *self_p = NULL;
}

/* 0 inactive, 1 running, 2 paused, -1 in between (shutting down, no state) */
static int s_class(int vir_state)
{
    switch (vir_state) {
    case -1:
    case CTL_VIR_SHUTOFF:
    case CTL_VIR_CRASHED:
        return 0;
    case CTL_VIR_RUNNING:
    case CTL_VIR_BLOCKED:
        return 1;
    case CTL_VIR_PAUSED:
    case CTL_VIR_PMSUSPENDED:
        return 2;
    default:
        return -1;
    }
}

static int s_desired_class(ctl_desired d)
{
    return d == CTL_DESIRED_SHUTOFF ? 0 : d == CTL_DESIRED_RUNNING ? 1 : 2;
}

ctl_verdict ctl_outcome_verdict(ctl_desired desired_before, ctl_desired desired_after,
                                int vir_state)
{
    int now = s_class(vir_state);
    if (now < 0)
        return CTL_VERDICT_OPEN;
    if (now == s_desired_class(desired_after))
        return CTL_VERDICT_HAPPENED;
    if (now == s_desired_class(desired_before))
        return CTL_VERDICT_NOT_HAPPENED;
    return CTL_VERDICT_OPEN;
}

static void s_resolve(ctl *c, s_watch *w, ctl_verdict v, const char *how)
{
    ctl_domain *d = ctl_model_domain(c->model, w->domain);
    if (v == CTL_VERDICT_HAPPENED) {
        drv_info("domain '%s': the %s whose outcome was unknown happened (%s); desired state %s "
                 "stands",
                 w->domain, w->verb, how, ctl_desired_to_string(w->after));
    } else {
        drv_info("domain '%s': the %s whose outcome was unknown did not happen (%s); desired state "
                 "back to %s",
                 w->domain, w->verb, how, ctl_desired_to_string(w->before));
        ctl_async_put_desired(c, w->domain, w->before, (int)w->after);
    }
    if (d != NULL)
        ctl_events_domain(c, d,
                          v == CTL_VERDICT_HAPPENED ? "outcome-happened" : "outcome-reverted");
    g_hash_table_remove(c->outcomes->by_id, w->command_id);
}

void ctl_outcome_watch(ctl *c, const char *host, const ctl_reply *rep, const char *verb,
                       const char *domain, ctl_cmd_kind kind, uint32_t timeout_ms,
                       ctl_desired desired_before, ctl_desired desired_after)
{
    int64_t runs_up_to_ms = timeout_ms;
    if (rep->command_id == NULL || desired_before == desired_after)
        return;
    ctl_host *h = ctl_model_host(c->model, host);
    s_watch *w = g_new0(s_watch, 1);
    w->command_id = g_strdup(rep->command_id);
    w->host = g_strdup(host);
    w->instance = g_strdup(h ? h->agent_instance : NULL);
    w->verb = g_strdup(verb);
    w->domain = g_strdup(domain);
    w->kind = kind;
    w->timeout_ms = timeout_ms;
    w->expires_at_ms = rep->expires_at_ms;
    w->before = desired_before;
    w->after = desired_after;
    w->by_inventory = !rep->synthesized; /* the agent said it cannot tell: no other answer comes */
    w->since_ms = ctl_now_ms();
    w->decide_ms = w->since_ms + c->cfg->command_timeout_ms + runs_up_to_ms + S_GRACE_MS;
    g_hash_table_replace(c->outcomes->by_id, w->command_id, w);
    drv_info("domain '%s': %s on host '%s' has an unknown outcome; watching for %s", domain, verb,
             host, w->by_inventory ? "the host's next inventory" : "the agent's late answer");
}

bool ctl_outcome_watched(ctl *c, const char *command_id, const char *host)
{
    s_watch *w = g_hash_table_lookup(c->outcomes->by_id, command_id);
    return w != NULL && strcmp(w->host, host) == 0;
}

void ctl_outcome_late(ctl *c, const char *host, const char *command_id, const ctl_reply *rep)
{
    s_watch *w = g_hash_table_lookup(c->outcomes->by_id, command_id);
    if (w == NULL || strcmp(w->host, host) != 0)
        return; /* only the host it went to can answer */
    if (rep->ok && !rep->timed_out) {
        s_resolve(c, w, CTL_VERDICT_HAPPENED, "the agent's late answer");
    } else if (rep->unknown_outcome) {
        w->by_inventory = true;
    } else if (rep->ok) { /* a shutdown whose guest did not go down in time, as s_lifecycle_done */
        s_resolve(c, w, CTL_VERDICT_NOT_HAPPENED,
                  "the agent's late answer: the guest did not shut down in time");
    } else {
        g_autofree char *how = g_strdup_printf("the agent's late answer: %s", rep->message);
        s_resolve(c, w, CTL_VERDICT_NOT_HAPPENED, how);
    }
}

static GPtrArray *s_watches_of(ctl *c, const char *host)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->outcomes->by_id);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (host == NULL || strcmp(((s_watch *)v)->host, host) == 0)
            g_ptr_array_add(out, v);
    return out;
}

void ctl_outcome_host_back(ctl *c, ctl_host *h)
{
    if (c->outcomes == NULL || g_hash_table_size(c->outcomes->by_id) == 0)
        return;
    GPtrArray *ws = s_watches_of(c, h->id);
    for (guint i = 0; i < ws->len; i++) {
        s_watch *w = g_ptr_array_index(ws, i);
        if (w->by_inventory || w->expires_at_ms == 0 ||
            g_strcmp0(h->agent_instance, w->instance) != 0)
            continue;
        /* asked again under the same id: the agent answers it once more (ran, or running), or
         * refuses it as expired; it never runs twice */
        ctl_cmd cmd = {.kind = w->kind,
                       .domain = w->domain,
                       .timeout_ms = w->timeout_ms,
                       .resend_id = w->command_id,
                       .resend_expires_at_ms = w->expires_at_ms};
        drv_error *err = NULL;
        if (ctl_broker_send(c->broker, h->id, &cmd, NULL, NULL, NULL, &err) < 0) {
            drv_debug("domain '%s': asking again about %s: %s", w->domain, w->verb, err->message);
            drv_error_free(&err);
        }
    }
    g_ptr_array_unref(ws);
}

/* Decides w from h's inventory when it may: returns true when resolved. */
static bool s_try_inventory(ctl *c, s_watch *w, ctl_host *h, int64_t now_ms, bool fresh)
{
    if (h == NULL || !h->registered || !h->reachable || ctl_host_unknown_reason(h) != NULL)
        return false;
    bool restarted = g_strcmp0(h->agent_instance, w->instance) != 0;
    /* a fresh inventory after the agent said it cannot tell; any after its restart (what it had
     * queued is gone) or past the give-up time */
    if (!((w->by_inventory && fresh) || restarted || now_ms >= w->decide_ms))
        return false;
    const ctl_actual *a = g_hash_table_lookup(h->inventory, w->domain);
    ctl_verdict v = ctl_outcome_verdict(w->before, w->after, a ? a->state : -1);
    if (v == CTL_VERDICT_OPEN)
        return false;
    s_resolve(c, w, v, restarted ? "the restarted agent's inventory" : "the host's inventory");
    return true;
}

void ctl_outcome_host_known(ctl *c, ctl_host *h)
{
    if (c->outcomes == NULL || g_hash_table_size(c->outcomes->by_id) == 0)
        return;
    GPtrArray *ws = s_watches_of(c, h->id);
    int64_t now_ms = ctl_now_ms();
    for (guint i = 0; i < ws->len; i++)
        s_try_inventory(c, g_ptr_array_index(ws, i), h, now_ms, true);
    g_ptr_array_unref(ws);
}

int64_t ctl_outcome_tick(ctl *c, int64_t now_ms)
{
    int64_t next = 1000;
    if (g_hash_table_size(c->outcomes->by_id) == 0)
        return next;
    GPtrArray *ws = s_watches_of(c, NULL);
    for (guint i = 0; i < ws->len; i++) {
        s_watch *w = g_ptr_array_index(ws, i);
        if (now_ms - w->since_ms >= S_FORGET_MS) {
            drv_warn("domain '%s': the outcome of %s on host '%s' stayed unknown for an hour; no "
                     "longer watched (the desired state is %s as stored)",
                     w->domain, w->verb, w->host, ctl_desired_to_string(w->after));
            g_hash_table_remove(c->outcomes->by_id, w->command_id);
            continue;
        }
        if (now_ms >= w->decide_ms)
            s_try_inventory(c, w, ctl_model_host(c->model, w->host), now_ms, false);
    }
    g_ptr_array_unref(ws);
    return next;
}

guint ctl_outcome_open_count(ctl *c)
{
    return c->outcomes ? g_hash_table_size(c->outcomes->by_id) : 0;
}

void ctl_outcome_forget_all(ctl *c)
{
    guint n = ctl_outcome_open_count(c);
    if (n == 0)
        return;
    drv_warn("%u unknown outcome%s no longer watched (stepping down); their desired states stay "
             "as stored",
             n, n == 1 ? "" : "s");
    g_hash_table_remove_all(c->outcomes->by_id);
}
