/* ha.c — see ha.h and docs/ha.md. */
#include "ha.h"

#include "ctl_io.h"
#include "broker.h"
#include "events.h"
#include "ha_plan.h"
#include "ha_record.h"
#include "log.h"
#include "placement.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

#define S_TICK_MS        500
#define S_CHECK_MS       1000 /* a silent host's lease is asked about at most this often */
#define S_RETRY_MS       3000 /* a waiting or failed restart is planned again after this */
#define S_MAX_ATTEMPTS_S 20   /* start failures before an entry waits for an operator */

/* What this controller knows about one host (runtime only). */
typedef struct {
    char *id;
    bool suspected;        /* host.suspected published for the current silence */
    bool checking;         /* a lease check is on the etcd worker */
    int64_t next_check_ms; /* monotonic */
    drv_ha_lease lease;
    int64_t lease_id;
    char *ha_sent;          /* the HA set the agent acknowledged ("\n"-joined) */
    char *ha_sent_instance; /* to which agent instance */
    bool ha_sending;
    char *fenced_seen; /* the agent's fenced report last published */
    bool unfenceable_told;
} s_host;

struct ctl_ha {
    ctl *c;
    bool active; /* leading, records loaded */
    bool loading;
    int64_t next_load_ms;
    int64_t next_tick_ms;
    GHashTable *hosts;    /* id → s_host */
    GHashTable *records;  /* host id → drv_ha_record* */
    GHashTable *inflight; /* domain → "place" / "start" / "clean" (a chain is running) */
    GHashTable *retry_at; /* domain → int64 monotonic ms (in a pointer) */
};

static void s_host_free(gpointer p)
{
    s_host *h = p;
    g_free(h->id);
    g_free(h->ha_sent);
    g_free(h->ha_sent_instance);
    g_free(h->fenced_seen);
    g_free(h);
}

static void s_record_free(gpointer p)
{
    drv_ha_record *r = p;
    drv_ha_record_destroy(&r);
}

ctl_ha *ctl_ha_new(ctl *c)
{
    ctl_ha *self = g_new0(ctl_ha, 1);
    self->c = c;
    self->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_host_free);
    self->records = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, s_record_free);
    self->inflight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    self->retry_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return self;
}

void ctl_ha_destroy(ctl_ha **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_ha *self = *self_p;
    g_hash_table_unref(self->hosts);
    g_hash_table_unref(self->records);
    g_hash_table_unref(self->inflight);
    g_hash_table_unref(self->retry_at);
    g_free(self);
    *self_p = NULL;
}

void ctl_ha_stop(ctl *c)
{
    ctl_ha *self = c->ha;
    if (self == NULL)
        return;
    self->active = false;
    g_hash_table_remove_all(self->hosts);
    g_hash_table_remove_all(self->records);
    g_hash_table_remove_all(self->retry_at);
    /* inflight chains end through the broker's synthesized answers (stepping down fails them) */
}

static s_host *s_host_get(ctl_ha *self, const char *id)
{
    s_host *h = g_hash_table_lookup(self->hosts, id);
    if (h == NULL) {
        h = g_new0(s_host, 1);
        h->id = g_strdup(id);
        g_hash_table_insert(self->hosts, h->id, h);
    }
    return h;
}

static void s_set_busy(ctl *c, const char *name, const char *verb)
{
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (d == NULL)
        return;
    g_free(d->busy);
    d->busy = g_strdup(verb);
}

/* Sets the domain's ha-waiting reason; publishes `ha-waiting` when it changes. */
static void s_waiting(ctl *c, const char *name, const char *reason)
{
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (d == NULL || g_strcmp0(d->ha_waiting, reason) == 0)
        return;
    g_free(d->ha_waiting);
    d->ha_waiting = g_strdup(reason);
    if (reason != NULL) {
        drv_warn("HA: domain '%s' is waiting: %s", name, reason);
        ctl_events_domain(c, d, "ha-waiting");
    }
}

/* ------------------------------------------------------------------ records in etcd */

typedef struct {
    char *key;
    char *value; /* NULL = delete */
} s_kv_req;

static int s_kv_work(ctl_store *store, void *data, drv_error **err)
{
    s_kv_req *q = data;
    drv_etcd *e = ctl_store_etcd(store);
    if (q->value != NULL)
        return drv_etcd_put(e, q->key, strlen(q->key), q->value, strlen(q->value), 0, NULL, err);
    return drv_etcd_delete(e, q->key, strlen(q->key), false, NULL, NULL, err);
}

/* A record write whose completion continues a chain: then(c, domain, ok). */
typedef void (*s_then_fn)(ctl *c, const char *host, const char *domain, bool ok);

typedef struct {
    s_kv_req kv;
    char *host;
    char *domain;
    s_then_fn then;
} s_store_req;

static void s_store_req_free(gpointer p)
{
    s_store_req *q = p;
    g_free(q->kv.key);
    g_free(q->kv.value);
    g_free(q->host);
    g_free(q->domain);
    g_free(q);
}

static int s_store_work(ctl_store *store, void *data, drv_error **err)
{
    return s_kv_work(store, &((s_store_req *)data)->kv, err);
}

static void s_store_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    s_store_req *q = data;
    if (err != NULL)
        drv_warn("HA: recovery record of host '%s' not stored: %s", q->host, err->message);
    if (q->then != NULL)
        q->then(c, q->host, q->domain, err == NULL);
}

/* Writes the record of host (or deletes it when gone from the table); then runs afterwards. */
static void s_store_record(ctl *c, const char *host, const char *domain, s_then_fn then)
{
    drv_ha_record *r = g_hash_table_lookup(c->ha->records, host);
    s_store_req *q = g_new0(s_store_req, 1);
    q->kv.key = ctl_store_key(c->store, "harecover/%s", host);
    q->kv.value = r != NULL ? drv_ha_record_to_json(r) : NULL;
    q->host = g_strdup(host);
    q->domain = g_strdup(domain);
    q->then = then;
    drv_error *err = NULL;
    if (ctl_async_submit(c, s_store_work, s_store_done, q, s_store_req_free, &err) < 0) {
        drv_warn("HA: recovery record of host '%s' not stored: %s", host, err->message);
        drv_error_destroy(&err);
        if (then != NULL)
            then(c, host, domain, false);
        s_store_req_free(q);
    }
}

typedef struct {
    GPtrArray *records; /* drv_ha_record* */
} s_load_req;

static void s_load_req_free(gpointer p)
{
    s_load_req *q = p;
    if (q->records != NULL)
        g_ptr_array_unref(q->records);
    g_free(q);
}

static int s_load_work(ctl_store *store, void *data, drv_error **err)
{
    s_load_req *q = data;
    g_autofree char *key = ctl_store_key(store, "harecover/");
    drv_etcd_range_opts opts = {.prefix = true};
    drv_etcd_range rg = {0};
    if (drv_etcd_range_get(ctl_store_etcd(store), key, strlen(key), &opts, &rg, err) < 0)
        return -1;
    q->records = g_ptr_array_new_with_free_func(s_record_free);
    for (size_t i = 0; i < rg.n_kvs; i++) {
        drv_ha_record *r = NULL;
        drv_error *perr = NULL;
        if (drv_ha_record_from_json(rg.kvs[i].value, &r, &perr) < 0) {
            drv_warn("HA: ignoring %s: %s", rg.kvs[i].key, perr->message);
            drv_error_destroy(&perr);
            continue;
        }
        g_ptr_array_add(q->records, r);
    }
    drv_etcd_range_clear(&rg);
    return 0;
}

static void s_load_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    ctl_ha *self = c->ha;
    s_load_req *q = data;
    self->loading = false;
    if (err != NULL) {
        drv_warn("HA: reading the recovery records: %s; retrying", err->message);
        return;
    }
    if (!ctl_is_leader(c))
        return;
    g_hash_table_remove_all(self->records);
    for (guint i = 0; i < q->records->len; i++) {
        drv_ha_record *r = g_ptr_array_steal_index(q->records, i--);
        drv_info("HA: resuming the recovery of host '%s' (%zu domains)", r->host, r->n_entries);
        g_hash_table_replace(self->records, g_strdup(r->host), r);
    }
    self->active = true;
}

/* ------------------------------------------------------------------ lease checks */

typedef struct {
    char *host;
    bool have;
    int64_t lease_id;
    int64_t ttl;
} s_check_req;

static void s_check_req_free(gpointer p)
{
    s_check_req *q = p;
    g_free(q->host);
    g_free(q);
}

/* On the etcd worker: fence/<host> → its lease id → the lease's remaining TTL. */
static int s_check_work(ctl_store *store, void *data, drv_error **err)
{
    s_check_req *q = data;
    drv_etcd *e = ctl_store_etcd(store);
    g_autofree char *key = ctl_store_key(store, "fence/%s", q->host);
    drv_etcd_range rg = {0};
    if (drv_etcd_get(e, key, strlen(key), &rg, err) < 0)
        return -1;
    if (rg.n_kvs > 0) {
        json_object *o = json_tokener_parse(rg.kvs[0].value);
        json_object *v = NULL;
        if (o != NULL && json_object_object_get_ex(o, "lease_id", &v))
            q->lease_id = json_object_get_int64(v);
        json_object_put(o);
    }
    drv_etcd_range_clear(&rg);
    q->have = q->lease_id != 0;
    if (!q->have)
        return 0;
    return drv_etcd_lease_ttl(e, q->lease_id, &q->ttl, err);
}

static void s_fenced(ctl *c, const char *host, int64_t lease_id);

static void s_check_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    s_check_req *q = data;
    if (!c->ha->active)
        return;
    s_host *sh = s_host_get(c->ha, q->host);
    sh->checking = false;
    if (err != NULL) {
        sh->lease = DRV_HA_LEASE_UNKNOWN; /* etcd did not answer: never a reason to act */
        drv_debug("HA: lease of host '%s': %s", q->host, err->message);
        return;
    }
    /* TTL 0 is "less than a second left", not expired: only etcd's -1 (revoked at expiry) is */
    sh->lease = !q->have      ? DRV_HA_LEASE_NONE
                : q->ttl >= 0 ? DRV_HA_LEASE_ALIVE
                              : DRV_HA_LEASE_EXPIRED;
    sh->lease_id = q->lease_id;
    bool up = ctl_host_up(c, q->host);
    drv_ha_host v = drv_ha_host_verdict(up, sh->lease);
    drv_debug("HA: host '%s' lease %lld %s (ttl %lld): %s", q->host, (long long)q->lease_id,
              drv_ha_lease_to_string(sh->lease), (long long)q->ttl, drv_ha_host_to_string(v));
    if (v == DRV_HA_HOST_FENCED)
        s_fenced(c, q->host, q->lease_id);
}

static void s_check(ctl *c, s_host *sh, int64_t now)
{
    if (sh->checking || now < sh->next_check_ms)
        return;
    s_check_req *q = g_new0(s_check_req, 1);
    q->host = g_strdup(sh->id);
    drv_error *err = NULL;
    if (ctl_async_submit(c, s_check_work, s_check_done, q, s_check_req_free, &err) < 0) {
        drv_error_destroy(&err);
        s_check_req_free(q);
        return;
    }
    sh->checking = true;
    sh->next_check_ms = now + S_CHECK_MS;
}

/* ------------------------------------------------------------------ which domains */

/* HA domains placed on host_id that should run (owned array of borrowed domains). */
static GPtrArray *s_ha_domains_on(ctl *c, const char *host_id, bool only_wanted)
{
    GPtrArray *out = g_ptr_array_new();
    /* per host on every HA tick: the model's per-host index, O(domains on the host) (a walk of
     * 20,000 domains for each of 1,000 hosts kept the loop busy; docs/scale.md) */
    GPtrArray *doms = ctl_model_domains_on(c->model, host_id);
    for (guint i = 0; i < doms->len; i++) {
        ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->ha && (!only_wanted || d->desired != CTL_DESIRED_SHUTOFF))
            g_ptr_array_add(out, d);
    }
    g_ptr_array_unref(doms);
    return out;
}

/* ------------------------------------------------------------------ fenced: the record */

static void s_fenced_stored(ctl *c, const char *host, const char *domain, bool ok)
{
    (void)domain;
    drv_ha_record *r = g_hash_table_lookup(c->ha->records, host);
    if (r == NULL)
        return;
    if (!ok) { /* not stored: nothing was commanded; the next check tries again */
        g_hash_table_remove(c->ha->records, host);
        return;
    }
    ctl_host *h = ctl_model_host(c->model, host);
    drv_warn("HA: host '%s' is fenced (its lease %lld expired): restarting %zu HA domain%s "
             "elsewhere",
             host, (long long)r->lease_id, r->n_entries, r->n_entries == 1 ? "" : "s");
    if (h != NULL)
        ctl_events_host(c, h, "fenced");
}

/* The lease of host expired: store the recovery of its HA domains (intent first). */
static void s_fenced(ctl *c, const char *host, int64_t lease_id)
{
    drv_ha_record *old = g_hash_table_lookup(c->ha->records, host);
    if (old != NULL && old->lease_id == lease_id)
        return; /* already recovering from this expiry */
    GPtrArray *doms = s_ha_domains_on(c, host, true);
    if (doms->len == 0 && old == NULL) {
        g_ptr_array_unref(doms);
        return;
    }
    drv_ha_record *r = drv_ha_record_new(host, lease_id, (uint64_t)ctl_wall_ms(c));
    /* a previous record's unfinished entries carry over */
    for (size_t i = 0; old != NULL && i < old->n_entries; i++) {
        drv_ha_entry *e = drv_ha_record_add(r, old->entries[i].domain);
        drv_ha_entry_set(e, old->entries[i].state, old->entries[i].destination,
                         old->entries[i].reason);
    }
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        if (drv_ha_record_find(r, d->name) == NULL)
            drv_ha_record_add(r, d->name);
    }
    g_ptr_array_unref(doms);
    g_hash_table_replace(c->ha->records, g_strdup(host), r);
    s_store_record(c, host, NULL, s_fenced_stored);
}

/* ------------------------------------------------------------------ restarting one domain */

typedef struct {
    char *host;   /* the fenced host (record key) */
    char *domain; /* the domain being restarted */
    char *dest;
} s_chain;

static void s_chain_free(gpointer p)
{
    s_chain *ch = p;
    g_free(ch->host);
    g_free(ch->domain);
    g_free(ch->dest);
    g_free(ch);
}

static s_chain *s_chain_new(const char *host, const char *domain, const char *dest)
{
    s_chain *ch = g_new0(s_chain, 1);
    ch->host = g_strdup(host);
    ch->domain = g_strdup(domain);
    ch->dest = g_strdup(dest);
    return ch;
}

static drv_ha_entry *s_entry(ctl *c, const char *host, const char *domain)
{
    drv_ha_record *r = g_hash_table_lookup(c->ha->records, host);
    return r != NULL ? drv_ha_record_find(r, domain) : NULL;
}

/* The chain for domain ended (any outcome): free to be planned again after delay_ms. */
static void s_chain_end(ctl *c, const char *domain, int64_t delay_ms)
{
    g_hash_table_remove(c->ha->inflight, domain);
    s_set_busy(c, domain, NULL);
    if (delay_ms > 0)
        g_hash_table_replace(c->ha->retry_at, g_strdup(domain),
                             GSIZE_TO_POINTER((gsize)(ctl_now_ms(c) + delay_ms)));
    c->ha->next_tick_ms = 0; /* plan the next one at once */
}

/* A restart failed on the agent (or could not be sent): the entry waits and is planned again. */
static void s_entry_failed(ctl *c, s_chain *ch, const char *why)
{
    drv_ha_entry *e = s_entry(c, ch->host, ch->domain);
    if (e != NULL) {
        e->attempts++;
        drv_ha_entry_set(e, DRV_HA_ENTRY_WAITING, e->destination, why);
        s_store_record(c, ch->host, ch->domain, NULL);
    }
    s_waiting(c, ch->domain, why);
    s_chain_end(c, ch->domain, S_RETRY_MS);
}

static void s_started(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_chain *ch = data;
    const bool running = rep->domain != NULL && ctl_vir_state_active(rep->domain->state);
    if (!rep->ok && !running) {
        if (rep->unknown_outcome) { /* stays "starting": the next plan reads the inventory */
            s_chain_end(c, ch->domain, S_RETRY_MS);
            return;
        }
        g_autofree char *why = g_strdup_printf("start on host '%s' failed: %s", host,
                                               rep->message ? rep->message : "?");
        s_entry_failed(c, ch, why);
        return;
    }
    drv_ha_entry *e = s_entry(c, ch->host, ch->domain);
    if (e != NULL) {
        drv_ha_entry_set(e, DRV_HA_ENTRY_RESTARTED, host, NULL);
        s_store_record(c, ch->host, ch->domain, NULL);
    }
    ctl_domain *d = ctl_model_domain(c->model, ch->domain);
    s_waiting(c, ch->domain, NULL);
    if (d != NULL) {
        drv_warn("HA: domain '%s' restarted on host '%s' (was on fenced host '%s')", d->name, host,
                 ch->host);
        ctl_events_domain(c, d, "ha-restarted");
        /* the restart was counted with its placement (s_intent_stored) */
    }
    s_chain_end(c, ch->domain, 0);
}

static void s_defined(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_chain *ch = data;
    if (!rep->ok) {
        g_autofree char *why = g_strdup_printf("define on host '%s' failed: %s", host,
                                               rep->message ? rep->message : "?");
        s_entry_failed(c, ch, why);
        s_chain_free(ch);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_START, .domain = ch->domain};
    drv_error *err = NULL;
    if (ctl_send(c, ch->dest, &cmd, s_started, ch, s_chain_free, &err) < 0) {
        s_entry_failed(c, ch, err->message);
        drv_error_destroy(&err);
        s_chain_free(ch);
    }
}

/* The domain is placed on ch->dest: define its stored XML there and start it. */
static void s_define_start(ctl *c, s_chain *ch)
{
    ctl_domain *d = ctl_model_domain(c->model, ch->domain);
    if (d == NULL) {
        s_chain_end(c, ch->domain, 0);
        s_chain_free(ch);
        return;
    }
    g_hash_table_replace(c->ha->inflight, g_strdup(ch->domain), "start");
    ctl_cmd cmd = {.kind = CTL_CMD_DEFINE, .domain = d->name, .xml = d->xml};
    drv_error *err = NULL;
    if (ctl_send(c, ch->dest, &cmd, s_defined, ch, NULL, &err) < 0) {
        s_entry_failed(c, ch, err->message);
        drv_error_destroy(&err);
        s_chain_free(ch);
    }
}

static void s_placed(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted, void *data)
{
    (void)attempted;
    s_chain *ch = data;
    if (err != NULL || stored == NULL || g_strcmp0(stored->host, ch->dest) != 0) {
        drv_info("HA: placement of '%s' on '%s' not stored (%s); planning again", ch->domain,
                 ch->dest, err ? err->message : "changed meanwhile");
        s_chain_end(c, ch->domain, err && err->kind == DRV_ERR_CONFLICT ? 0 : S_RETRY_MS);
        s_chain_free(ch);
    } else {
        drv_info("HA: domain '%s' placed on host '%s'", ch->domain, ch->dest);
        s_define_start(c, ch);
    }
    ctl_placement_turn_over(c);
}

/* The intent (entry "starting" on dest) is stored: place the domain there (placement txn). */
static void s_intent_stored(ctl *c, const char *host, const char *domain, bool ok)
{
    drv_ha_entry *e = s_entry(c, host, domain);
    ctl_domain *d = ctl_model_domain(c->model, domain);
    if (!ok || e == NULL || d == NULL || c->placing) {
        s_chain_end(c, domain, ok ? 0 : S_RETRY_MS);
        return;
    }
    s_chain *ch = s_chain_new(host, domain, e->destination);
    if (g_strcmp0(d->host, ch->dest) == 0) {
        s_define_start(c, ch);
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    g_free(copy->host);
    copy->host = g_strdup(ch->dest);
    /* The restart is counted in the placement's own write, before anything is commanded: a
     * controller that dies after the start (before its reply) leaves the count stored, and its
     * successor, finding the domain already placed on dest, does not count it twice. (Counted on
     * the start's reply, a failover lost it: system_ha_crash saw 0 restarts.) */
    copy->ha_restarts++;
    g_autofree char *alloc = ctl_placement_alloc_json(c, ch->dest);
    drv_error *err = NULL;
    if (ctl_async_place(c, copy, d->mod_revision, ch->dest, alloc, s_placed, ch, NULL, &err) < 0) {
        drv_warn("HA: placing '%s': %s", domain, err->message);
        drv_error_destroy(&err);
        s_chain_free(ch);
        s_chain_end(c, domain, S_RETRY_MS);
        return;
    }
    c->placing = true;
}

/* Starts the restart of e (decided: dest) with the intent stored first. */
static void s_go(ctl *c, drv_ha_record *r, drv_ha_entry *e, const char *dest)
{
    g_hash_table_replace(c->ha->inflight, g_strdup(e->domain), "place");
    s_set_busy(c, e->domain, "ha-restart");
    drv_ha_entry_set(e, DRV_HA_ENTRY_STARTING, dest, NULL);
    s_store_record(c, r->host, e->domain, s_intent_stored);
}

/* ------------------------------------------------------------------ the runner */

static bool s_retry_later(ctl *c, const char *domain, int64_t now)
{
    gpointer v = g_hash_table_lookup(c->ha->retry_at, domain);
    return v != NULL && now < (int64_t)GPOINTER_TO_SIZE(v);
}

/* A candidate for the planner: d's scheduler request (borrowed pointers into d). */
static drv_ha_candidate s_candidate(const ctl_domain *d, const char *fenced_host)
{
    static const char *avoid[2];
    avoid[0] = fenced_host;
    avoid[1] = NULL;
    drv_ha_candidate cand = {
        .req =
            {
                .name = d->name,
                .vcpus = d->vcpus,
                .memory_kib = d->memory_kib,
                .features = (const char *const *)d->cpu_features,
                .affinity_group = d->affinity_group,
                .anti_affinity_group = d->anti_affinity_group,
                .avoid_hosts = avoid,
            },
        .priority = d->ha_priority,
        .restarts = d->ha_restarts,
        .restart_limit = d->ha_restart_limit,
    };
    return cand;
}

/* Drives one record: drops what no longer needs HA, finishes "starting" entries whose domain
 * runs, plans the rest (priority order) and launches the first restart that fits. */
static void s_run_record(ctl *c, drv_ha_record *r, int64_t now)
{
    bool changed = false;
    GArray *cands = g_array_new(FALSE, FALSE, sizeof(drv_ha_candidate));
    for (size_t i = 0; i < r->n_entries; i++) {
        drv_ha_entry *e = &r->entries[i];
        if (e->state == DRV_HA_ENTRY_RESTARTED || e->state == DRV_HA_ENTRY_DROPPED)
            continue;
        ctl_domain *d = ctl_model_domain(c->model, e->domain);
        if (d == NULL || !d->ha || d->desired == CTL_DESIRED_SHUTOFF) {
            drv_ha_entry_set(e, DRV_HA_ENTRY_DROPPED, NULL,
                             d == NULL ? "undefined"
                             : !d->ha  ? "HA disabled"
                                       : "desired shut off");
            if (d != NULL)
                s_waiting(c, d->name, NULL);
            changed = true;
            continue;
        }
        if (g_hash_table_contains(c->ha->inflight, e->domain) || s_retry_later(c, e->domain, now))
            continue;
        if (d->busy != NULL) /* a verb or a migration is on it: wait for it */
            continue;
        if (d->host != NULL && strcmp(d->host, r->host) == 0) {
            /* the fenced host is back: what it reports decides, never a guess */
            ctl_host *h = ctl_model_host(c->model, r->host);
            if (h != NULL && ctl_host_up(c, r->host)) {
                if (ctl_host_unknown_reason(h) != NULL)
                    continue;
                const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
                if (a != NULL && ctl_vir_state_active(a->state)) {
                    drv_err("HA: domain '%s' still runs on host '%s' whose lease expired (its "
                            "agent did not fence it); not restarted elsewhere",
                            d->name, r->host);
                    drv_ha_entry_set(e, DRV_HA_ENTRY_DROPPED, r->host, "runs on its host");
                    changed = true;
                    continue;
                }
            }
        }
        /* placed elsewhere meanwhile (a restart whose answer was lost, or a resumed record) */
        if (d->host != NULL && strcmp(d->host, r->host) != 0) {
            ctl_host *h = ctl_model_host(c->model, d->host);
            const ctl_actual *a = h != NULL && ctl_host_unknown_reason(h) == NULL
                                      ? g_hash_table_lookup(h->inventory, d->name)
                                      : NULL;
            if (a != NULL && ctl_vir_state_active(a->state)) {
                drv_ha_entry_set(e, DRV_HA_ENTRY_RESTARTED, d->host, NULL);
                s_waiting(c, d->name, NULL);
                changed = true;
                continue;
            }
            if (h == NULL || ctl_host_unknown_reason(h) != NULL)
                continue; /* may run there: never plan a second copy */
            if (e->state == DRV_HA_ENTRY_STARTING && g_strcmp0(e->destination, d->host) == 0) {
                /* placed, not running: define and start it there again */
                g_hash_table_replace(c->ha->inflight, g_strdup(e->domain), "start");
                s_set_busy(c, e->domain, "ha-restart");
                s_define_start(c, s_chain_new(r->host, e->domain, d->host));
                continue;
            }
        }
        drv_ha_candidate cand = s_candidate(d, r->host);
        g_array_append_val(cands, cand);
    }
    if (cands->len > 0) {
        drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
        drv_ha_plan *plan = NULL;
        drv_error *err = NULL;
        if (drv_ha_plan_restarts(cl, (drv_ha_candidate *)cands->data, cands->len, &plan, &err) <
            0) {
            drv_warn("HA: planning the restarts of host '%s': %s", r->host, err->message);
            drv_error_destroy(&err);
        } else {
            bool launched = false;
            for (size_t i = 0; i < plan->n; i++) {
                const drv_ha_decision *dec = &plan->decisions[i];
                drv_ha_entry *e = drv_ha_record_find(r, dec->domain);
                if (dec->host == NULL) {
                    if (e->state != DRV_HA_ENTRY_WAITING || g_strcmp0(e->reason, dec->reason)) {
                        drv_ha_entry_set(e, DRV_HA_ENTRY_WAITING, NULL, dec->reason);
                        changed = true;
                    }
                    s_waiting(c, dec->domain, dec->reason);
                    continue;
                }
                /* one placement at a time (they serialise on the cache); the rest next turn */
                if (!launched && !c->placing) {
                    s_go(c, r, e, dec->host);
                    launched = true;
                    changed = false; /* s_go stores the record */
                }
            }
        }
        drv_ha_plan_destroy(&plan);
        drv_sched_cluster_destroy(&cl);
    }
    g_array_unref(cands);
    if (changed)
        s_store_record(c, r->host, NULL, NULL);
}

/* ------------------------------------------------------------------ the returning host */

static void s_cleaned(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    s_chain *ch = data;
    if (rep->ok)
        drv_info("HA: stale definition of '%s' removed from returning host '%s'", ch->domain, host);
    else
        drv_warn("HA: removing the stale definition of '%s' from host '%s': %s", ch->domain, host,
                 rep->message ? rep->message : "?");
    g_hash_table_remove(c->ha->inflight, ch->domain);
}

/* The fenced host is back with an authoritative inventory: every restarted domain's copy there
 * is undefined (a running one destroyed first: it must never run twice); once none is left and
 * every entry is done, the record goes. */
static void s_clean_host(ctl *c, drv_ha_record *r)
{
    ctl_host *h = ctl_model_host(c->model, r->host);
    if (h == NULL || !ctl_host_up(c, r->host) || ctl_host_unknown_reason(h) != NULL)
        return;
    guint stale = 0;
    for (size_t i = 0; i < r->n_entries; i++) {
        const drv_ha_entry *e = &r->entries[i];
        ctl_domain *d = ctl_model_domain(c->model, e->domain);
        const ctl_actual *a = g_hash_table_lookup(h->inventory, e->domain);
        if (a == NULL || (d != NULL && g_strcmp0(d->host, r->host) == 0))
            continue; /* not there, or (again) placed there: not stale */
        stale++;
        if (g_hash_table_contains(c->ha->inflight, e->domain))
            continue;
        bool active = ctl_vir_state_active(a->state);
        if (active)
            drv_err("HA: domain '%s' runs on returning host '%s' although it was restarted "
                    "elsewhere; destroying this copy",
                    e->domain, r->host);
        ctl_cmd cmd = {.kind = active ? CTL_CMD_DESTROY : CTL_CMD_UNDEFINE, .domain = e->domain};
        s_chain *ch = s_chain_new(r->host, e->domain, r->host);
        drv_error *err = NULL;
        if (ctl_send(c, r->host, &cmd, s_cleaned, ch, s_chain_free, &err) < 0) {
            drv_error_destroy(&err);
            s_chain_free(ch);
            continue;
        }
        g_hash_table_replace(c->ha->inflight, g_strdup(e->domain), "clean");
    }
    if (stale == 0 && drv_ha_record_done(r)) {
        drv_info("HA: host '%s' rejoined clean; its recovery is complete", r->host);
        g_autofree char *host = g_strdup(r->host);
        g_hash_table_remove(c->ha->records, host);
        s_store_record(c, host, NULL, NULL); /* deletes harecover/<host> */
        ctl_events_host(c, h, "rejoined");
    }
}

/* ------------------------------------------------------------------ per host */

static void s_ha_set_sent(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    char *set = data;
    s_host *sh = g_hash_table_lookup(c->ha->hosts, host);
    if (sh == NULL)
        return;
    sh->ha_sending = false;
    ctl_host *h = ctl_model_host(c->model, host);
    if (rep->ok && h != NULL) {
        g_free(sh->ha_sent);
        sh->ha_sent = g_strdup(set);
        g_free(sh->ha_sent_instance);
        sh->ha_sent_instance = g_strdup(h->agent_instance);
    }
}

/* Tells an agent which of its domains are HA (what it fences), when that changed. */
static void s_push_ha_set(ctl *c, s_host *sh, ctl_host *h)
{
    if (sh->ha_sending)
        return;
    GPtrArray *doms = s_ha_domains_on(c, h->id, false);
    GPtrArray *names = g_ptr_array_new();
    for (guint i = 0; i < doms->len; i++)
        g_ptr_array_add(names, ((ctl_domain *)g_ptr_array_index(doms, i))->name);
    g_ptr_array_add(names, NULL);
    g_autofree char *set = g_strjoinv("\n", (char **)names->pdata);
    bool same =
        g_strcmp0(set, sh->ha_sent) == 0 && g_strcmp0(h->agent_instance, sh->ha_sent_instance) == 0;
    if (!same) {
        ctl_cmd cmd = {.kind = CTL_CMD_HA_SET, .names = (const char *const *)names->pdata};
        drv_error *err = NULL;
        if (ctl_send(c, h->id, &cmd, s_ha_set_sent, g_strdup(set), g_free, &err) < 0)
            drv_error_destroy(&err);
        else
            sh->ha_sending = true;
    }
    g_ptr_array_unref(names);
    g_ptr_array_unref(doms);
}

/* The agent's own report of what it fenced (Register.fenced), published once per report. */
static void s_fenced_report(ctl *c, s_host *sh, ctl_host *h)
{
    if (h->fenced == NULL || h->fenced[0] == NULL)
        return;
    g_autofree char *list = g_strjoinv(", ", h->fenced);
    if (g_strcmp0(list, sh->fenced_seen) == 0)
        return;
    g_free(sh->fenced_seen);
    sh->fenced_seen = g_strdup(list);
    drv_warn("HA: host '%s' reports it fenced (destroyed) itself: %s", h->id, list);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(h->id));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; h->fenced[i] != NULL; i++)
        json_object_array_add(arr, json_object_new_string(h->fenced[i]));
    json_object_object_add(o, "fenced", arr);
    json_object_object_add(o, "fenced_at_ms", json_object_new_int64(h->fenced_at_ms));
    g_autofree char *topic = g_strdup_printf("host.%s", h->id);
    ctl_publish(c, topic, "fenced-report", o);
}

/* An in-place restart's count is stored: now define and start it (the count went first, so a
 * controller that dies after the start leaves it counted). */
static void s_in_place_counted(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                               void *data)
{
    (void)attempted;
    s_chain *ch = data;
    if (err != NULL || stored == NULL) {
        drv_info("HA: restart count of '%s' not stored (%s); trying again later", ch->domain,
                 err ? err->message : "gone meanwhile");
        s_chain_end(c, ch->domain, S_RETRY_MS);
        s_chain_free(ch);
        return;
    }
    s_define_start(c, ch);
}

/* Restarts d in place on ch->dest, counting the restart first (intent first). */
static void s_count_then_start(ctl *c, const ctl_domain *d, s_chain *ch)
{
    ctl_domain *copy = ctl_domain_copy(d);
    copy->ha_restarts++;
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_in_place_counted, ch, NULL, &err) <
        0) {
        drv_info("HA: restart count of '%s': %s; trying again later", ch->domain, err->message);
        drv_error_destroy(&err);
        s_chain_end(c, ch->domain, S_RETRY_MS);
        s_chain_free(ch);
    }
}

/* True when a recovery record still has work for domain (it is not restarted in place then). */
static bool s_in_record(ctl *c, const char *domain)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->ha->records);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const drv_ha_entry *e = drv_ha_record_find(v, domain);
        if (e != NULL && e->state != DRV_HA_ENTRY_RESTARTED && e->state != DRV_HA_ENTRY_DROPPED)
            return true;
    }
    return false;
}

/* A healthy host (its agent talks to us, its inventory is authoritative) reports an HA domain that
 * should run there as shut off or gone (it crashed, was destroyed behind drover's back, or its
 * agent fenced it while its lease survived): start it again there, within its restart limit. */
static void s_restart_in_place(ctl *c, ctl_host *h, int64_t now)
{
    if (ctl_host_unknown_reason(h) != NULL)
        return;
    GPtrArray *doms = s_ha_domains_on(c, h->id, true);
    for (guint i = 0; i < doms->len; i++) {
        ctl_domain *d = g_ptr_array_index(doms, i);
        if (d->busy != NULL || g_hash_table_contains(c->ha->inflight, d->name) ||
            s_retry_later(c, d->name, now) || s_in_record(c, d->name) ||
            ctl_model_domain_elsewhere(c->model, d) != NULL)
            continue;
        const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
        if (a != NULL && a->state != CTL_VIR_SHUTOFF && a->state != CTL_VIR_CRASHED)
            continue; /* runs (or paused, shutting down...): nothing to do */
        if (d->ha_restart_limit > 0 && d->ha_restarts >= d->ha_restart_limit) {
            g_autofree char *why = g_strdup_printf("restart limit reached (%u of %u)",
                                                   d->ha_restarts, d->ha_restart_limit);
            s_waiting(c, d->name, why);
            continue;
        }
        drv_warn("HA: domain '%s' should run on host '%s' but is %s there: starting it again",
                 d->name, h->id, a == NULL ? "not defined" : "shut off");
        g_hash_table_replace(c->ha->inflight, g_strdup(d->name), "start");
        s_set_busy(c, d->name, "ha-restart");
        s_count_then_start(c, d, s_chain_new(h->id, d->name, h->id));
    }
    g_ptr_array_unref(doms);
}

/* True when h's authoritative inventory shows an HA domain that should run there shut off or gone.
 */
static bool s_has_down_ha(ctl *c, ctl_host *h)
{
    if (ctl_host_unknown_reason(h) != NULL)
        return false;
    GPtrArray *doms = s_ha_domains_on(c, h->id, true);
    bool down = false;
    for (guint i = 0; i < doms->len && !down; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
        down = a == NULL || a->state == CTL_VIR_SHUTOFF || a->state == CTL_VIR_CRASHED;
    }
    g_ptr_array_unref(doms);
    return down;
}

static void s_host_tick(ctl *c, ctl_host *h, int64_t now)
{
    s_host *sh = s_host_get(c->ha, h->id);
    bool up = ctl_host_up(c, h->id);
    if (up) {
        sh->suspected = false;
        sh->unfenceable_told = false;
        s_push_ha_set(c, sh, h);
        s_fenced_report(c, sh, h);
        s_restart_in_place(c, h, now);
        /* an HA guest down on a host that talks to us: if its lease expired (its agent lost etcd
         * and fenced), the guest restarts elsewhere instead of waiting for the lease to return */
        if (s_has_down_ha(c, h))
            s_check(c, sh, now);
        return;
    }
    GPtrArray *doms = s_ha_domains_on(c, h->id, true);
    guint n = doms->len;
    if (n > 0 && !sh->suspected) {
        sh->suspected = true;
        drv_warn("HA: host '%s' is silent with %u HA domain%s: suspected; waiting for its lease "
                 "to expire before restarting anything",
                 h->id, n, n == 1 ? "" : "s");
        ctl_events_host(c, h, "suspected");
    }
    if (n > 0) {
        s_check(c, sh, now);
        if (sh->lease == DRV_HA_LEASE_NONE && !sh->unfenceable_told) {
            sh->unfenceable_told = true;
            g_autofree char *why =
                g_strdup_printf("host '%s' is silent and has no fencing lease (no etcd_endpoints "
                                "in its agent's config): nothing proves it stopped the guest",
                                h->id);
            for (guint i = 0; i < n; i++)
                s_waiting(c, ((ctl_domain *)g_ptr_array_index(doms, i))->name, why);
        }
    }
    g_ptr_array_unref(doms);
}

int64_t ctl_ha_tick(ctl *c, int64_t now_ms)
{
    ctl_ha *self = c->ha;
    if (!c->loaded || !ctl_is_leader(c) || !ctl_agents_bound(c)) {
        if (self->active)
            ctl_ha_stop(c);
        return S_TICK_MS;
    }
    if (!self->active) {
        if (!self->loading && now_ms >= self->next_load_ms) {
            s_load_req *q = g_new0(s_load_req, 1);
            drv_error *err = NULL;
            if (ctl_async_submit(c, s_load_work, s_load_done, q, s_load_req_free, &err) < 0) {
                drv_error_destroy(&err);
                s_load_req_free(q);
            } else {
                self->loading = true;
            }
            self->next_load_ms = now_ms + 1000;
        }
        return S_TICK_MS;
    }
    if (now_ms < self->next_tick_ms)
        return self->next_tick_ms - now_ms;
    self->next_tick_ms = now_ms + S_TICK_MS;
    GPtrArray *hosts = ctl_model_hosts(c->model);
    for (guint i = 0; i < hosts->len; i++)
        s_host_tick(c, g_ptr_array_index(hosts, i), now_ms);
    g_ptr_array_unref(hosts);
    /* records: restart, then clean the returning hosts */
    GPtrArray *recs = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->records);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(recs, g_strdup(((drv_ha_record *)v)->host));
    for (guint i = 0; i < recs->len; i++) {
        drv_ha_record *r = g_hash_table_lookup(self->records, g_ptr_array_index(recs, i));
        if (r != NULL)
            s_run_record(c, r, now_ms);
        r = g_hash_table_lookup(self->records, g_ptr_array_index(recs, i));
        if (r != NULL)
            s_clean_host(c, r);
    }
    g_ptr_array_unref(recs);
    return S_TICK_MS;
}

json_object *ctl_ha_status(ctl *c)
{
    json_object *arr = json_object_new_array();
    if (c->ha == NULL)
        return arr;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, c->ha->records);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        g_autofree char *json = drv_ha_record_to_json(v);
        json_object *o = json_tokener_parse(json);
        if (o != NULL)
            json_object_array_add(arr, o);
    }
    return arr;
}
