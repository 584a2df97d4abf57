/* model.c — see model.h. */
#include "model.h"

#include "config.h"
#include "domdevices.h"
#include "domstate.h"

#include <string.h>

struct ctl_model {
    GHashTable *hosts;     /* id → ctl_host* (owned) */
    GHashTable *domains;   /* name → ctl_domain* (owned) */
    GHashTable *host_keys; /* host id → z85 public key (both owned): the enrolled agents */
    GHashTable *key_hosts; /* z85 public key → host id (borrowed from host_keys) */
    /* The per-host indexes (docs/scale.md), kept by every change below, so "the domains on H"
     * and "the hosts reporting D" cost what is on H / where D is, not a walk of the model:
     *   placed:    host id (owned) → (domain name (owned) → ctl_domain*): d->host as put;
     *   placed_at: domain name (owned) → the host id it is indexed under (owned);
     *   reported:  domain name (owned) → (host id (owned) → NULL): whose inventory lists it. */
    GHashTable *placed;
    GHashTable *placed_at;
    GHashTable *reported;
};

static GHashTable *s_str_set(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* d leaves the placed index (under whatever host it was indexed). */
static void s_unplace(ctl_model *self, const char *name)
{
    const char *at = g_hash_table_lookup(self->placed_at, name);
    if (at == NULL)
        return;
    GHashTable *on = g_hash_table_lookup(self->placed, at);
    if (on != NULL) {
        g_hash_table_remove(on, name);
        if (g_hash_table_size(on) == 0)
            g_hash_table_remove(self->placed, at);
    }
    g_hash_table_remove(self->placed_at, name);
}

/* d enters the placed index under d->host (none when unplaced). */
static void s_place(ctl_model *self, ctl_domain *d)
{
    s_unplace(self, d->name);
    if (d->host == NULL)
        return;
    GHashTable *on = g_hash_table_lookup(self->placed, d->host);
    if (on == NULL) {
        on = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_insert(self->placed, g_strdup(d->host), on);
    }
    g_hash_table_replace(on, g_strdup(d->name), d);
    g_hash_table_replace(self->placed_at, g_strdup(d->name), g_strdup(d->host));
}

static void s_reported_add(ctl_model *self, const char *domain, const char *host_id)
{
    GHashTable *where = g_hash_table_lookup(self->reported, domain);
    if (where == NULL) {
        where = s_str_set();
        g_hash_table_insert(self->reported, g_strdup(domain), where);
    }
    g_hash_table_add(where, g_strdup(host_id));
}

static void s_reported_remove(ctl_model *self, const char *domain, const char *host_id)
{
    GHashTable *where = g_hash_table_lookup(self->reported, domain);
    if (where == NULL)
        return;
    g_hash_table_remove(where, host_id);
    if (g_hash_table_size(where) == 0)
        g_hash_table_remove(self->reported, domain);
}

/* Every entry of h's inventory enters (add) or leaves the reported index. */
static void s_reported_host(ctl_model *self, const ctl_host *h, bool add)
{
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, h->inventory);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (add)
            s_reported_add(self, k, h->id);
        else
            s_reported_remove(self, k, h->id);
    }
}

/* The reported index from scratch (after inventories moved between models). */
static void s_reported_rebuild(ctl_model *self)
{
    g_hash_table_remove_all(self->reported);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->hosts);
    while (g_hash_table_iter_next(&it, NULL, &v))
        s_reported_host(self, v, true);
}

/* h is the model's entry for its id (an inventory change of another object is not indexed). */
static bool s_is_stored(ctl_model *self, const ctl_host *h)
{
    return h != NULL && g_hash_table_lookup(self->hosts, h->id) == h;
}

void ctl_model_report(ctl_model *self, ctl_host *h, ctl_actual *a)
{
    g_hash_table_replace(h->inventory, g_strdup(a->name), a);
    if (s_is_stored(self, h))
        s_reported_add(self, a->name, h->id);
}

void ctl_model_unreport(ctl_model *self, ctl_host *h, const char *name)
{
    if (s_is_stored(self, h))
        s_reported_remove(self, name, h->id);
    g_hash_table_remove(h->inventory, name);
}

void ctl_model_clear_reports(ctl_model *self, ctl_host *h)
{
    if (s_is_stored(self, h))
        s_reported_host(self, h, false);
    g_hash_table_remove_all(h->inventory);
}

static const char *const s_desired_names[CTL_DESIRED_LAST] = {"shutoff", "running", "paused"};

const char *ctl_desired_to_string(ctl_desired d)
{
    return d < CTL_DESIRED_LAST ? s_desired_names[d] : "shutoff";
}

int ctl_desired_from_string(const char *s, ctl_desired *ret)
{
    for (int i = 0; s != NULL && i < CTL_DESIRED_LAST; i++) {
        if (strcmp(s, s_desired_names[i]) == 0) {
            *ret = (ctl_desired)i;
            return 0;
        }
    }
    return -1;
}

const char *ctl_vir_state_to_string(int state)
{
    return drv_domstate_name(state);
}

bool ctl_vir_state_active(int state)
{
    return drv_domstate_active(state);
}

void ctl_pool_free(gpointer p)
{
    ctl_pool *pool = p;
    g_free(pool->name);
    g_free(pool->type);
    g_free(pool->path);
    g_free(pool);
}

void ctl_facts_clear(ctl_facts *f)
{
    g_free(f->hostname);
    g_free(f->arch);
    g_free(f->cpu_vendor);
    g_free(f->cpu_model);
    g_strfreev(f->cpu_features);
    g_free(f->host_uuid);
    g_free(f->hypervisor_type);
    g_free(f->migration_uri);
    g_free(f->libvirt_uri);
    if (f->pools != NULL)
        g_ptr_array_unref(f->pools);
    g_strfreev(f->networks);
    memset(f, 0, sizeof(*f));
}

void ctl_facts_copy(ctl_facts *dst, const ctl_facts *src)
{
    ctl_facts_clear(dst);
    *dst = *src;
    dst->hostname = g_strdup(src->hostname);
    dst->arch = g_strdup(src->arch);
    dst->cpu_vendor = g_strdup(src->cpu_vendor);
    dst->cpu_model = g_strdup(src->cpu_model);
    dst->cpu_features = g_strdupv(src->cpu_features);
    dst->host_uuid = g_strdup(src->host_uuid);
    dst->hypervisor_type = g_strdup(src->hypervisor_type);
    dst->migration_uri = g_strdup(src->migration_uri);
    dst->libvirt_uri = g_strdup(src->libvirt_uri);
    dst->networks = g_strdupv(src->networks);
    dst->pools = g_ptr_array_new_with_free_func(ctl_pool_free);
    for (guint i = 0; src->pools != NULL && i < src->pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(src->pools, i);
        ctl_pool *c = g_new0(ctl_pool, 1);
        c->name = g_strdup(p->name);
        c->type = g_strdup(p->type);
        c->path = g_strdup(p->path);
        c->active = p->active;
        g_ptr_array_add(dst->pools, c);
    }
}

void ctl_actual_free(ctl_actual *a)
{
    if (a == NULL)
        return;
    g_free(a->name);
    g_free(a->uuid);
    g_strfreev(a->devices);
    g_free(a);
}

ctl_host *ctl_host_new(const char *id)
{
    ctl_host *h = g_new0(ctl_host, 1);
    h->id = g_strdup(id);
    h->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    h->admin_state = g_strdup("active");
    h->facts.pools = g_ptr_array_new_with_free_func(ctl_pool_free);
    h->inventory =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)ctl_actual_free);
    return h;
}

void ctl_host_free(ctl_host *h)
{
    if (h == NULL)
        return;
    g_free(h->id);
    ctl_facts_clear(&h->facts);
    g_hash_table_unref(h->labels);
    g_free(h->admin_state);
    g_free(h->agent_instance);
    g_hash_table_unref(h->inventory);
    g_strfreev(h->fenced);
    g_free(h);
}

const char *ctl_host_unknown_reason(const ctl_host *h)
{
    if (h == NULL || !h->reachable)
        return CTL_UNKNOWN_UNREACHABLE;
    if (!h->registered)
        return CTL_UNKNOWN_NO_INVENTORY;
    if (!h->inventory_authoritative)
        return h->libvirt_down ? CTL_UNKNOWN_LIBVIRT_DOWN : CTL_UNKNOWN_NO_INVENTORY;
    return NULL;
}

void ctl_host_set_libvirt(ctl_host *h, bool connected)
{
    h->inventory_authoritative = connected;
    h->libvirt_down = !connected;
}

const char *ctl_host_active_domain(const ctl_host *h)
{
    const char *first = NULL;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, h->inventory);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const ctl_actual *a = v;
        if (ctl_vir_state_active(a->state) && (first == NULL || strcmp(a->name, first) < 0))
            first = a->name;
    }
    return first;
}

void ctl_host_inventory_stale(ctl_host *h)
{
    h->inventory_authoritative = false;
}

ctl_domain *ctl_domain_new(const char *name)
{
    ctl_domain *d = g_new0(ctl_domain, 1);
    d->name = g_strdup(name);
    return d;
}

void ctl_domain_free(ctl_domain *d)
{
    if (d == NULL)
        return;
    g_free(d->name);
    g_free(d->uuid);
    g_free(d->xml);
    g_free(d->host);
    g_strfreev(d->cpu_features);
    g_strfreev(d->devices);
    g_free(d->affinity_group);
    g_free(d->anti_affinity_group);
    g_free(d->saved_path);
    g_free(d->busy);
    g_free(d->ha_waiting);
    g_free(d);
}

ctl_domain *ctl_domain_copy(const ctl_domain *d)
{
    ctl_domain *c = g_new0(ctl_domain, 1);
    *c = *d;
    c->name = g_strdup(d->name);
    c->uuid = g_strdup(d->uuid);
    c->xml = g_strdup(d->xml);
    c->host = g_strdup(d->host);
    c->cpu_features = g_strdupv(d->cpu_features);
    c->devices = g_strdupv(d->devices);
    c->affinity_group = g_strdup(d->affinity_group);
    c->anti_affinity_group = g_strdup(d->anti_affinity_group);
    c->saved_path = g_strdup(d->saved_path);
    c->busy = NULL;
    c->ha_waiting = NULL;
    return c;
}

ctl_model *ctl_model_new(void)
{
    ctl_model *self = g_new0(ctl_model, 1);
    self->hosts =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ctl_host_free);
    self->domains =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ctl_domain_free);
    self->host_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    self->key_hosts = g_hash_table_new(g_str_hash, g_str_equal);
    self->placed =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    self->placed_at = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    self->reported =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    return self;
}

void ctl_model_unbind_key(ctl_model *self, const char *host_id)
{
    const char *key = g_hash_table_lookup(self->host_keys, host_id);
    if (key == NULL)
        return;
    const char *bound = g_hash_table_lookup(self->key_hosts, key);
    if (bound != NULL && strcmp(bound, host_id) == 0)
        g_hash_table_remove(self->key_hosts, key);
    g_autofree char *id = g_strdup(host_id); /* host_id may be the table's own copy */
    g_hash_table_remove(self->host_keys, id);
}

void ctl_model_bind_key(ctl_model *self, const char *host_id, const char *key)
{
    ctl_model_unbind_key(self, host_id);
    g_autofree char *other = g_strdup(g_hash_table_lookup(self->key_hosts, key));
    if (other != NULL) /* one key, one host: the newer binding wins */
        ctl_model_unbind_key(self, other);
    char *id = g_strdup(host_id);
    char *k = g_strdup(key);
    g_hash_table_replace(self->host_keys, id, k);
    g_hash_table_replace(self->key_hosts, k, id);
}

const char *ctl_model_key_host(ctl_model *self, const char *key)
{
    return key != NULL ? g_hash_table_lookup(self->key_hosts, key) : NULL;
}

const char *ctl_model_host_key(ctl_model *self, const char *host_id)
{
    return host_id != NULL ? g_hash_table_lookup(self->host_keys, host_id) : NULL;
}

guint ctl_model_n_keys(const ctl_model *self)
{
    return g_hash_table_size(self->host_keys);
}

void ctl_model_destroy(ctl_model **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_hash_table_unref((*self_p)->hosts);
    g_hash_table_unref((*self_p)->domains);
    g_hash_table_unref((*self_p)->key_hosts);
    g_hash_table_unref((*self_p)->host_keys);
    g_hash_table_unref((*self_p)->placed);
    g_hash_table_unref((*self_p)->placed_at);
    g_hash_table_unref((*self_p)->reported);
    g_free(*self_p);
    *self_p = NULL;
}

ctl_host *ctl_model_host(ctl_model *self, const char *id)
{
    return id ? g_hash_table_lookup(self->hosts, id) : NULL;
}

ctl_domain *ctl_model_domain(ctl_model *self, const char *name)
{
    return name ? g_hash_table_lookup(self->domains, name) : NULL;
}

ctl_host *ctl_model_put_host(ctl_model *self, ctl_host *h)
{
    ctl_host *old = g_hash_table_lookup(self->hosts, h->id);
    if (old != NULL && old != h) {
        h->registered = old->registered;
        h->last_traffic_ms = old->last_traffic_ms;
        h->last_heard_ms = old->last_heard_ms;
        h->inventory_authoritative = old->inventory_authoritative;
        h->libvirt_down = old->libvirt_down;
        g_free(h->agent_instance);
        h->agent_instance = g_steal_pointer(&old->agent_instance);
        g_strfreev(h->fenced);
        h->fenced = g_steal_pointer(&old->fenced);
        h->fenced_at_ms = old->fenced_at_ms;
        GHashTable *inv = h->inventory;
        h->inventory = old->inventory;
        old->inventory = inv;
        if (h->alloc_mod_revision == 0)
            h->alloc_mod_revision = old->alloc_mod_revision;
        /* the reported index is unchanged: h carries on old's inventory */
    }
    if (old != h)
        g_hash_table_replace(self->hosts, h->id, h);
    if (old == NULL)
        s_reported_host(self, h, true);
    return h;
}

ctl_domain *ctl_model_put_domain(ctl_model *self, ctl_domain *d)
{
    ctl_domain *old = g_hash_table_lookup(self->domains, d->name);
    if (old != NULL && old != d && d->busy == NULL)
        d->busy = g_steal_pointer(&old->busy);
    if (old != NULL && old != d) {
        d->running_revision = old->running_revision;
        const ctl_actual *a = ctl_model_domain_actual(self, old);
        if (d->running_revision == 0 && d->revision != old->revision && old->revision > 0 &&
            a != NULL && drv_domstate_active(a->state) && g_strcmp0(d->host, old->host) == 0)
            d->running_revision = old->revision; /* edited while it runs */
    }
    if (old != NULL && old != d && d->ha_waiting == NULL)
        d->ha_waiting = g_steal_pointer(&old->ha_waiting);
    if (old != NULL && old != d)
        s_unplace(self, old->name); /* before old (whose name it may share) is freed */
    if (old != d)
        g_hash_table_replace(self->domains, d->name, d);
    s_place(self, d); /* also when d itself was put again with another host */
    return d;
}

void ctl_model_adopt_runtime(ctl_model *self, ctl_model *old)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->hosts);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        ctl_host *h = v, *o = ctl_model_host(old, h->id);
        if (o == NULL)
            continue;
        h->registered = o->registered;
        h->last_traffic_ms = o->last_traffic_ms;
        h->last_heard_ms = o->last_heard_ms;
        h->inventory_authoritative = o->inventory_authoritative;
        h->libvirt_down = o->libvirt_down;
        g_free(h->agent_instance);
        h->agent_instance = g_steal_pointer(&o->agent_instance);
        g_strfreev(h->fenced);
        h->fenced = g_steal_pointer(&o->fenced);
        h->fenced_at_ms = o->fenced_at_ms;
        GHashTable *inv = h->inventory;
        h->inventory = o->inventory;
        o->inventory = inv;
    }
    g_hash_table_iter_init(&it, self->domains);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        ctl_domain *d = v, *o = ctl_model_domain(old, d->name);
        if (o != NULL && d->busy == NULL)
            d->busy = g_steal_pointer(&o->busy);
        if (o != NULL && d->ha_waiting == NULL)
            d->ha_waiting = g_steal_pointer(&o->ha_waiting);
        if (o != NULL && d->running_revision == 0)
            d->running_revision = o->running_revision; /* an edit still waits for a restart */
    }
    /* the inventories changed models */
    s_reported_rebuild(self);
    s_reported_rebuild(old);
}

void ctl_model_remove_host(ctl_model *self, const char *id)
{
    ctl_host *h = ctl_model_host(self, id);
    if (h == NULL)
        return;
    s_reported_host(self, h, false);
    g_hash_table_remove(self->hosts, h->id);
}

void ctl_model_remove_domain(ctl_model *self, const char *name)
{
    ctl_domain *d = ctl_model_domain(self, name);
    if (d == NULL)
        return;
    s_unplace(self, d->name);
    g_hash_table_remove(self->domains, d->name);
}

static gint s_cmp_host(gconstpointer a, gconstpointer b)
{
    return strcmp((*(ctl_host *const *)a)->id, (*(ctl_host *const *)b)->id);
}

static gint s_cmp_domain(gconstpointer a, gconstpointer b)
{
    return strcmp((*(ctl_domain *const *)a)->name, (*(ctl_domain *const *)b)->name);
}

static GPtrArray *s_values(GHashTable *t, GCompareFunc cmp)
{
    GPtrArray *out = g_ptr_array_sized_new(g_hash_table_size(t));
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, t);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(out, v);
    if (cmp != NULL)
        g_ptr_array_sort(out, cmp);
    return out;
}

GPtrArray *ctl_model_hosts(ctl_model *self)
{
    return s_values(self->hosts, s_cmp_host);
}

GPtrArray *ctl_model_domains(ctl_model *self)
{
    return s_values(self->domains, s_cmp_domain);
}

GPtrArray *ctl_model_domains_unordered(ctl_model *self)
{
    return s_values(self->domains, NULL);
}

GPtrArray *ctl_model_domains_on(ctl_model *self, const char *host_id)
{
    GHashTable *on = host_id != NULL ? g_hash_table_lookup(self->placed, host_id) : NULL;
    if (on == NULL)
        return g_ptr_array_new();
    return s_values(on, s_cmp_domain);
}

GPtrArray *ctl_model_hosts_reporting(ctl_model *self, const char *name)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTable *where = name != NULL ? g_hash_table_lookup(self->reported, name) : NULL;
    if (where == NULL)
        return out;
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, where);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        ctl_host *h = ctl_model_host(self, k);
        if (h != NULL)
            g_ptr_array_add(out, h);
    }
    g_ptr_array_sort(out, s_cmp_host);
    return out;
}

guint ctl_model_n_hosts(const ctl_model *self)
{
    return g_hash_table_size(self->hosts);
}

guint ctl_model_n_domains(const ctl_model *self)
{
    return g_hash_table_size(self->domains);
}

/* Whether d (placed on h, which may be NULL) books its resources there. */
static bool s_booked(const ctl_host *h, const ctl_domain *d)
{
    if (d->desired != CTL_DESIRED_SHUTOFF)
        return true;
    const ctl_actual *a = h != NULL ? g_hash_table_lookup(h->inventory, d->name) : NULL;
    return a != NULL && ctl_vir_state_active(a->state);
}

GHashTable *ctl_model_hosts_alloc(ctl_model *self)
{
    GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->domains);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const ctl_domain *d = v;
        if (d->host == NULL)
            continue;
        ctl_host *h = ctl_model_host(self, d->host);
        if (!s_booked(h, d))
            continue;
        ctl_host_alloc *a = g_hash_table_lookup(all, d->host);
        if (a == NULL) {
            a = g_new0(ctl_host_alloc, 1);
            g_hash_table_insert(all, d->host, a);
        }
        a->vcpus += d->vcpus;
        a->memory_kib += d->memory_kib;
        a->domains++;
    }
    return all;
}

void ctl_model_host_alloc(ctl_model *self, const char *host_id, const char *except,
                          uint32_t *ret_vcpus, uint64_t *ret_memory_kib, uint32_t *ret_domains)
{
    uint32_t vcpus = 0, n = 0;
    uint64_t mem = 0;
    ctl_host *h = ctl_model_host(self, host_id);
    GHashTable *on = g_hash_table_lookup(self->placed, host_id);
    GHashTableIter it;
    gpointer v;
    if (on != NULL)
        g_hash_table_iter_init(&it, on);
    while (on != NULL && g_hash_table_iter_next(&it, NULL, &v)) {
        const ctl_domain *d = v;
        if (except != NULL && strcmp(d->name, except) == 0)
            continue;
        if (s_booked(h, d)) {
            vcpus += d->vcpus;
            mem += d->memory_kib;
            n++;
        }
    }
    *ret_vcpus = vcpus;
    *ret_memory_kib = mem;
    if (ret_domains != NULL)
        *ret_domains = n;
}

/* A start or create is placing d and it does not run yet. */
static bool s_pending(const ctl_domain *d)
{
    return d->busy != NULL && (strcmp(d->busy, "start") == 0 || strcmp(d->busy, "create") == 0);
}

static bool s_migrating(const ctl_domain *d)
{
    return d->busy != NULL && strcmp(d->busy, "migrate") == 0;
}

/* Off, and nothing running: saved (with which image), pending, or shut off. */
static void s_off_state(const ctl_domain *d, const ctl_actual *a, const char **ret_state,
                        const char **ret_reason)
{
    if (a != NULL && a->managed_save) {
        *ret_state = DRV_DOMSTATE_SAVED_NAME;
        *ret_reason = CTL_SAVED_MANAGED;
    } else if (d->saved_path != NULL) {
        *ret_state = DRV_DOMSTATE_SAVED_NAME;
        *ret_reason = CTL_SAVED_FILE;
    } else if (s_pending(d)) {
        *ret_state = DRV_DOMSTATE_PENDING_NAME;
        *ret_reason = d->busy;
    } else if (a != NULL) {
        *ret_state = drv_domstate_name(a->state);
        *ret_reason = drv_domstate_reason(a->state, a->reason);
    } else {
        *ret_state = drv_domstate_name(DRV_DOMSTATE_SHUTOFF);
    }
}

void ctl_model_domain_state(ctl_model *self, const ctl_domain *d, const char **ret_state,
                            const char **ret_reason)
{
    *ret_reason = NULL;
    if (d->host == NULL) {
        s_off_state(d, NULL, ret_state, ret_reason);
        return;
    }
    const char *why = ctl_host_unknown_reason(ctl_model_host(self, d->host));
    if (why != NULL) {
        *ret_state = DRV_DOMSTATE_UNKNOWN_NAME;
        *ret_reason = why;
        return;
    }
    if (s_migrating(d)) {
        *ret_state = DRV_DOMSTATE_MIGRATING_NAME;
        return;
    }
    const ctl_actual *a = ctl_model_domain_actual(self, d);
    if (a == NULL || drv_domstate_off(a->state)) {
        s_off_state(d, a, ret_state, ret_reason);
        return;
    }
    *ret_state = drv_domstate_name(a->state);
    *ret_reason = drv_domstate_reason(a->state, a->reason);
}

const ctl_actual *ctl_model_domain_actual(ctl_model *self, const ctl_domain *d)
{
    ctl_host *h = ctl_model_host(self, d->host);
    return h != NULL ? g_hash_table_lookup(h->inventory, d->name) : NULL;
}

bool ctl_model_domain_is_off(ctl_model *self, const ctl_domain *d)
{
    const char *state, *reason;
    ctl_model_domain_state(self, d, &state, &reason);
    return strcmp(state, "shut off") == 0 || strcmp(state, "crashed") == 0 ||
           strcmp(state, "no state") == 0 || strcmp(state, DRV_DOMSTATE_SAVED_NAME) == 0;
}

const char *ctl_model_domain_unknown_reason(ctl_model *self, const ctl_domain *d)
{
    if (d->host == NULL)
        return NULL;
    return ctl_host_unknown_reason(ctl_model_host(self, d->host));
}

const char *ctl_model_domain_elsewhere(ctl_model *self, const ctl_domain *d)
{
    GHashTable *where = g_hash_table_lookup(self->reported, d->name);
    if (where == NULL)
        return NULL;
    const char *first = NULL; /* the first by id, as a walk of the sorted hosts would find */
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, where);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        const ctl_host *h = ctl_model_host(self, k);
        if (h == NULL || (d->host != NULL && strcmp(h->id, d->host) == 0))
            continue;
        const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
        if (a != NULL && ctl_vir_state_active(a->state) &&
            (first == NULL || strcmp(h->id, first) < 0))
            first = h->id;
    }
    return first;
}

/* Live vs config of an active domain (owned sentence) or NULL: the host runs it with other vCPUs,
 * more memory or other devices than its stored definition says (a live change, or an edit waiting
 * for a restart). */
static char *s_live_drift(ctl_model *self, const ctl_domain *d)
{
    const ctl_actual *a = ctl_model_domain_actual(self, d);
    if (a == NULL || !drv_domstate_active(a->state))
        return NULL;
    GString *s = g_string_new(NULL);
    if (a->vcpus != 0 && d->vcpus_current != 0 && a->vcpus != d->vcpus_current)
        g_string_append_printf(s, "live vCPUs %u, config %u", a->vcpus, d->vcpus_current);
    /* the guest's current memory may be ballooned below the definition, never above it */
    if (a->memory_kib != 0 && d->memory_kib != 0 && a->memory_kib > d->memory_kib) {
        g_autofree char *live = drv_format_size_kib(a->memory_kib);
        g_autofree char *conf = drv_format_size_kib(d->memory_kib);
        g_string_append_printf(s, "%slive memory %s, config %s", s->len ? "; " : "", live, conf);
    }
    if (a->devices != NULL && d->devices != NULL) {
        g_autofree char *devices = drv_domdevices_diff(a->devices, d->devices);
        if (devices != NULL)
            g_string_append_printf(s, "%s%s", s->len ? "; " : "", devices);
    }
    if (d->running_revision > 0 && d->running_revision != d->revision)
        g_string_append_printf(
            s, "%srevision %" G_GINT64_FORMAT " runs, revision %" G_GINT64_FORMAT " is stored",
            s->len ? "; " : "", d->running_revision, d->revision);
    if (s->len == 0) {
        g_string_free(s, TRUE);
        return NULL;
    }
    g_string_append(s, " (restart pending)");
    return g_string_free(s, FALSE);
}

char *ctl_model_domain_drift(ctl_model *self, const ctl_domain *d)
{
    if (s_migrating(d)) /* running on both hosts, or on the destination before placement moves */
        return NULL;
    const char *other = ctl_model_domain_elsewhere(self, d);
    if (other != NULL) {
        if (d->host == NULL)
            return g_strdup_printf("running on %s, not placed", other);
        return g_strdup_printf("running on %s, placed on %s", other, d->host);
    }
    if (d->busy != NULL)
        return NULL;
    const char *state, *reason;
    ctl_model_domain_state(self, d, &state, &reason);
    const char *why = ctl_model_domain_unknown_reason(self, d);
    if (why != NULL) {
        if (d->desired == CTL_DESIRED_SHUTOFF)
            return NULL;
        if (strcmp(why, CTL_UNKNOWN_UNREACHABLE) == 0)
            return g_strdup_printf("desired %s, host %s is unreachable",
                                   ctl_desired_to_string(d->desired), d->host);
        return g_strdup_printf("desired %s, state unknown on host %s (%s)",
                               ctl_desired_to_string(d->desired), d->host, why);
    }
    bool match;
    switch (d->desired) {
    case CTL_DESIRED_RUNNING:
        match = strcmp(state, "running") == 0 || strcmp(state, "blocked") == 0;
        break;
    case CTL_DESIRED_PAUSED:
        match = strcmp(state, "paused") == 0;
        break;
    default:
        match = ctl_model_domain_is_off(self, d);
        break;
    }
    if (match)
        return s_live_drift(self, d);
    const char *want =
        d->desired == CTL_DESIRED_SHUTOFF ? "shut off" : ctl_desired_to_string(d->desired);
    return g_strdup_printf("desired %s, host %s reports %s%s%s%s", want,
                           d->host ? d->host : "(none)", state, reason ? " (" : "",
                           reason ? reason : "", reason ? ")" : "");
}

void ctl_model_set_busy(ctl_model *m, const char *name, const char *verb)
{
    ctl_domain *d = ctl_model_domain(m, name);
    if (d == NULL)
        return;
    g_free(d->busy);
    d->busy = g_strdup(verb);
}
