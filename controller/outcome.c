/* outcome.c — see outcome.h. */
#include "outcome.h"

#include "ctl_io.h"
#include "events.h"
#include "log.h"
#include "store_async.h"

#include <json-c/json.h>
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
    /* the watches of an earlier leader (outcomes/ in etcd) are read once per leadership */
    bool taken_over, taking_over;
    int64_t next_takeover_ms;
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

/* ------------------------------------------------------------------ kept in etcd
 * outcomes/<command id> holds each watch, so a leader that takes over keeps learning what became
 * of the commands its predecessor could not tell (its resends, late answers and inventories). */

static char *s_watch_json(const ctl *c, const s_watch *w)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_int(1));
    json_object_object_add(o, "command_id", json_object_new_string(w->command_id));
    json_object_object_add(o, "host", json_object_new_string(w->host));
    json_object_object_add(o, "instance", json_object_new_string(w->instance ? w->instance : ""));
    json_object_object_add(o, "verb", json_object_new_string(w->verb));
    json_object_object_add(o, "domain", json_object_new_string(w->domain));
    json_object_object_add(o, "kind", json_object_new_int((int)w->kind));
    json_object_object_add(o, "timeout_ms", json_object_new_int64(w->timeout_ms));
    json_object_object_add(o, "expires_at_ms", json_object_new_int64(w->expires_at_ms));
    json_object_object_add(o, "before", json_object_new_int((int)w->before));
    json_object_object_add(o, "after", json_object_new_int((int)w->after));
    json_object_object_add(o, "by_inventory", json_object_new_boolean(w->by_inventory));
    json_object_object_add(o, "since_wall_ms", json_object_new_int64(ctl_wall_ms(c)));
    char *out = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static const char *s_jstr(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t s_jint(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

/* A stored watch, or NULL (logged) when the record is not one. */
static s_watch *s_watch_parse(ctl *c, const char *json, size_t len, int64_t now_ms)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, json, (int)len);
    json_tokener_free(tok);
    const char *id = o ? s_jstr(o, "command_id") : NULL, *host = o ? s_jstr(o, "host") : NULL;
    const char *verb = o ? s_jstr(o, "verb") : NULL, *domain = o ? s_jstr(o, "domain") : NULL;
    int64_t kind = o ? s_jint(o, "kind") : -1, before = o ? s_jint(o, "before") : -1,
            after = o ? s_jint(o, "after") : -1;
    if (id == NULL || host == NULL || verb == NULL || domain == NULL || kind < 0 || before < 0 ||
        before > CTL_DESIRED_PAUSED || after < 0 || after > CTL_DESIRED_PAUSED) {
        drv_warn("a stored unknown outcome is not readable; ignored");
        json_object_put(o);
        return NULL;
    }
    s_watch *w = g_new0(s_watch, 1);
    w->command_id = g_strdup(id);
    w->host = g_strdup(host);
    const char *inst = s_jstr(o, "instance");
    w->instance = inst && inst[0] ? g_strdup(inst) : NULL;
    w->verb = g_strdup(verb);
    w->domain = g_strdup(domain);
    w->kind = (ctl_cmd_kind)kind;
    w->timeout_ms = (uint32_t)MAX(0, s_jint(o, "timeout_ms"));
    w->expires_at_ms = MAX(0, s_jint(o, "expires_at_ms"));
    w->before = (ctl_desired)before;
    w->after = (ctl_desired)after;
    json_object *b = NULL;
    w->by_inventory =
        json_object_object_get_ex(o, "by_inventory", &b) && json_object_get_boolean(b);
    /* the give-up time counts from the command's expiry, on this process's clock */
    w->since_ms = now_ms;
    int64_t left = w->expires_at_ms - ctl_wall_ms(c);
    w->decide_ms = now_ms + MAX(0, left) + w->timeout_ms + S_GRACE_MS;
    json_object_put(o);
    (void)c;
    return w;
}

static void s_store_watch(ctl *c, const s_watch *w)
{
    g_autofree char *key = ctl_store_key(c->store, "outcomes/%s", w->command_id);
    g_autofree char *json = s_watch_json(c, w);
    drv_error *err = NULL;
    if (ctl_async_put_kv(c, key, json, "storing an unknown outcome", &err) < 0)
        drv_error_destroy(&err); /* logged; this leader still watches it */
}

static void s_unstore_watch(ctl *c, const char *command_id)
{
    g_autofree char *key = ctl_store_key(c->store, "outcomes/%s", command_id);
    drv_error *err = NULL;
    if (ctl_async_delete_kv(c, key, "removing a resolved unknown outcome", &err) < 0)
        drv_error_destroy(&err);
}

typedef struct {
    drv_etcd_range r;
} s_takeover;

static void s_takeover_free(gpointer p)
{
    s_takeover *t = p;
    drv_etcd_range_clear(&t->r);
    g_free(t);
}

static int s_takeover_work(ctl_store *store, void *data, drv_error **err)
{
    s_takeover *t = data;
    g_autofree char *key = ctl_store_key(store, "outcomes/");
    drv_etcd_range_opts opts = {.prefix = true};
    return drv_etcd_range_get(ctl_store_etcd(store), key, strlen(key), &opts, &t->r, err);
}

static void s_takeover_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    ctl *c = loop_ctx;
    s_takeover *t = data;
    ctl_outcomes *self = c->outcomes;
    (void)attempted;
    self->taking_over = false;
    if (err != NULL) {
        drv_warn("reading the stored unknown outcomes: %s; trying again", err->message);
        self->next_takeover_ms = ctl_now_ms(c) + 2000;
        return;
    }
    if (!ctl_is_leader(c))
        return;
    self->taken_over = true;
    int64_t now_ms = ctl_now_ms(c);
    guint added = 0;
    for (size_t i = 0; i < t->r.n_kvs; i++) {
        s_watch *w = s_watch_parse(c, t->r.kvs[i].value, t->r.kvs[i].value_len, now_ms);
        if (w == NULL)
            continue;
        if (g_hash_table_contains(self->by_id, w->command_id)) {
            s_watch_free(w);
            continue;
        }
        g_hash_table_replace(self->by_id, w->command_id, w);
        added++;
        /* the host may be known already: ask it again, or let its inventory decide */
        ctl_host *h = ctl_model_host(c->model, w->host);
        if (h != NULL && h->reachable)
            ctl_outcome_host_back(c, h);
    }
    if (added > 0)
        drv_info("took over %u unknown outcome%s from an earlier leader", added,
                 added == 1 ? "" : "s");
}

static void s_take_over(ctl *c, int64_t now_ms)
{
    ctl_outcomes *self = c->outcomes;
    if (self->taken_over || self->taking_over || now_ms < self->next_takeover_ms ||
        !ctl_is_leader(c) || !c->loaded)
        return;
    s_takeover *t = g_new0(s_takeover, 1);
    drv_error *err = NULL;
    if (ctl_async_submit(c, s_takeover_work, s_takeover_done, t, s_takeover_free, &err) < 0) {
        drv_debug("reading the stored unknown outcomes: %s", err->message);
        drv_error_destroy(&err);
        s_takeover_free(t);
        self->next_takeover_ms = now_ms + 2000;
        return;
    }
    self->taking_over = true;
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
    s_unstore_watch(c, w->command_id);
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
    w->since_ms = ctl_now_ms(c);
    w->decide_ms = w->since_ms + c->cfg->command_timeout_ms + runs_up_to_ms + S_GRACE_MS;
    g_hash_table_replace(c->outcomes->by_id, w->command_id, w);
    s_store_watch(c, w);
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
        if (ctl_send(c, h->id, &cmd, NULL, NULL, NULL, &err) < 0) {
            drv_debug("domain '%s': asking again about %s: %s", w->domain, w->verb, err->message);
            drv_error_destroy(&err);
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
    int64_t now_ms = ctl_now_ms(c);
    for (guint i = 0; i < ws->len; i++)
        s_try_inventory(c, g_ptr_array_index(ws, i), h, now_ms, true);
    g_ptr_array_unref(ws);
}

int64_t ctl_outcome_tick(ctl *c, int64_t now_ms)
{
    int64_t next = 1000;
    s_take_over(c, now_ms);
    if (g_hash_table_size(c->outcomes->by_id) == 0)
        return next;
    GPtrArray *ws = s_watches_of(c, NULL);
    for (guint i = 0; i < ws->len; i++) {
        s_watch *w = g_ptr_array_index(ws, i);
        if (now_ms - w->since_ms >= S_FORGET_MS) {
            drv_warn("domain '%s': the outcome of %s on host '%s' stayed unknown for an hour; no "
                     "longer watched (the desired state is %s as stored)",
                     w->domain, w->verb, w->host, ctl_desired_to_string(w->after));
            s_unstore_watch(c, w->command_id);
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
    if (c->outcomes != NULL)
        c->outcomes->taken_over = false; /* the next leadership reads them from etcd again */
    if (n == 0)
        return;
    drv_warn("%u unknown outcome%s no longer watched here (stepping down); they stay stored for "
             "the next leader",
             n, n == 1 ? "" : "s");
    g_hash_table_remove_all(c->outcomes->by_id);
}
