/* cluster.c — the scheduler's cluster snapshot: hosts, domains, reservations, config, and the flat
 * per-host arrays the placement loop reads. */
#include <math.h>
#include <string.h>

#include "sched_internal.h"

/* ------------------------------------------------------------------------------------------------
 * Enum string tables. */

static const char *const s_host_state_names[DRV_SCHED_HOST_STATE_LAST] = {
    [DRV_SCHED_HOST_ACTIVE] = "active",
    [DRV_SCHED_HOST_PREPARING_MAINTENANCE] = "preparing-maintenance",
    [DRV_SCHED_HOST_MAINTENANCE] = "maintenance",
};

static const char *const s_weigher_names[DRV_SCHED_WEIGHER_LAST] = {
    [DRV_SCHED_WEIGHER_SPREAD] = "spread",
    [DRV_SCHED_WEIGHER_PACK] = "pack",
};

static const char *const s_filter_names[DRV_SCHED_FILTER_LAST] = {
    [DRV_SCHED_FILTER_STATE] = "maintenance",
    [DRV_SCHED_FILTER_REACHABLE] = "unreachable",
    [DRV_SCHED_FILTER_AVOID] = "avoided",
    [DRV_SCHED_FILTER_ARCH] = "arch",
    [DRV_SCHED_FILTER_FEATURES] = "cpu-features",
    [DRV_SCHED_FILTER_POOLS] = "pools",
    [DRV_SCHED_FILTER_NETWORKS] = "networks",
    [DRV_SCHED_FILTER_LABELS] = "labels",
    [DRV_SCHED_FILTER_ANTI_AFFINITY] = "anti-affinity",
    [DRV_SCHED_FILTER_AFFINITY] = "affinity",
    [DRV_SCHED_FILTER_MEMORY] = "memory",
    [DRV_SCHED_FILTER_VCPUS] = "vcpus",
};

static int s_from_table(const char *const *table, int n, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < n; i++)
        if (table[i] && strcmp(table[i], name) == 0)
            return i;
    return -1;
}

const char *drv_sched_host_state_to_string(drv_sched_host_state state)
{
    return (unsigned)state < DRV_SCHED_HOST_STATE_LAST ? s_host_state_names[state] : NULL;
}

int drv_sched_host_state_from_string(const char *name, drv_sched_host_state *ret)
{
    int i = s_from_table(s_host_state_names, DRV_SCHED_HOST_STATE_LAST, name);
    if (i < 0)
        return -1;
    *ret = (drv_sched_host_state)i;
    return 0;
}

const char *drv_sched_weigher_to_string(drv_sched_weigher weigher)
{
    return (unsigned)weigher < DRV_SCHED_WEIGHER_LAST ? s_weigher_names[weigher] : NULL;
}

int drv_sched_weigher_from_string(const char *name, drv_sched_weigher *ret)
{
    int i = s_from_table(s_weigher_names, DRV_SCHED_WEIGHER_LAST, name);
    if (i < 0)
        return -1;
    *ret = (drv_sched_weigher)i;
    return 0;
}

const char *drv_sched_filter_to_string(drv_sched_filter filter)
{
    return (unsigned)filter < DRV_SCHED_FILTER_LAST ? s_filter_names[filter] : NULL;
}

int drv_sched_filter_from_string(const char *name, drv_sched_filter *ret)
{
    int i = s_from_table(s_filter_names, DRV_SCHED_FILTER_LAST, name);
    if (i < 0)
        return -1;
    *ret = (drv_sched_filter)i;
    return 0;
}

void drv_sched_config_init(drv_sched_config *cfg)
{
    cfg->cpu_ratio = 4.0;
    cfg->memory_ratio = 1.0;
    cfg->weigher = DRV_SCHED_WEIGHER_SPREAD;
    cfg->alternates = 3;
}

static int s_config_check(const drv_sched_config *cfg, drv_error **err)
{
    if (!(cfg->cpu_ratio > 0) || !isfinite(cfg->cpu_ratio))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler config: cpu_ratio %g must be > 0",
                             cfg->cpu_ratio);
    if (!(cfg->memory_ratio > 0) || !isfinite(cfg->memory_ratio))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "scheduler config: memory_ratio %g must be > 0", cfg->memory_ratio);
    if ((unsigned)cfg->weigher >= DRV_SCHED_WEIGHER_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler config: unknown weigher %d",
                             (int)cfg->weigher);
    if (cfg->alternates > DRV_SCHED_MAX_ALTERNATES)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler config: alternates %u exceeds %d",
                             cfg->alternates, DRV_SCHED_MAX_ALTERNATES);
    return 0;
}

/* ------------------------------------------------------------------------------------------------
 * Interning and bitset tables. */

static void s_intern_init(sched_intern *in)
{
    in->index = g_hash_table_new(g_str_hash, g_str_equal);
    in->names = g_ptr_array_new_with_free_func(g_free);
}

static void s_intern_clear(sched_intern *in)
{
    g_clear_pointer(&in->index, g_hash_table_unref);
    g_clear_pointer(&in->names, g_ptr_array_unref);
}

/* Returns the bit for name, interning it if new. */
static size_t s_intern(sched_intern *in, const char *name)
{
    long bit = sched_intern_lookup(in, name);
    if (bit >= 0)
        return (size_t)bit;
    char *copy = g_strdup(name);
    g_ptr_array_add(in->names, copy);
    size_t b = in->names->len - 1;
    g_hash_table_insert(in->index, copy, GUINT_TO_POINTER((guint)b + 1));
    return b;
}

static void s_table_init(sched_bitset_table *t)
{
    s_intern_init(&t->names);
    t->stride = 1;
    t->bits = NULL;
}

static void s_table_clear(sched_bitset_table *t)
{
    s_intern_clear(&t->names);
    g_clear_pointer(&t->bits, g_free);
}

/* Grows the per-host stride so `bit` fits, re-laying out every row. */
static void s_table_fit_bit(sched_bitset_table *t, size_t cap_hosts, size_t bit)
{
    size_t need = bit / 64 + 1;
    if (need <= t->stride)
        return;
    size_t stride = t->stride;
    while (stride < need)
        stride *= 2;
    uint64_t *bits = g_new0(uint64_t, cap_hosts * stride);
    for (size_t i = 0; i < cap_hosts; i++)
        memcpy(bits + i * stride, t->bits + i * t->stride, t->stride * sizeof(uint64_t));
    g_free(t->bits);
    t->bits = bits;
    t->stride = stride;
}

static void s_table_set_row(sched_bitset_table *t, size_t cap_hosts, size_t slot,
                            char *const *names)
{
    memset(t->bits + slot * t->stride, 0, t->stride * sizeof(uint64_t));
    for (size_t i = 0; names && names[i]; i++) {
        size_t bit = s_intern(&t->names, names[i]);
        s_table_fit_bit(t, cap_hosts, bit);
        sched_bit_set(t->bits + slot * t->stride, bit);
    }
}

/* ------------------------------------------------------------------------------------------------
 * Objects. */

static char **s_strv_copy(const char *const *v)
{
    return v ? g_strdupv((char **)v) : g_new0(char *, 1);
}

static void s_group_free(gpointer p)
{
    sched_group *g = p;
    g_free(g->name);
    g_ptr_array_unref(g->members);
    g_free(g);
}

static void s_domain_free(gpointer p)
{
    sched_domain *d = p;
    g_free(d->name);
    g_free(d->arch);
    g_strfreev(d->features);
    g_strfreev(d->pools);
    g_strfreev(d->networks);
    g_strfreev(d->labels);
    g_free(d->affinity_group);
    g_free(d->anti_affinity_group);
    g_free(d);
}

static void s_host_free(gpointer p)
{
    sched_host *h = p;
    g_free(h->id);
    g_free(h->arch);
    g_free(h->cpu_model);
    g_strfreev(h->features);
    g_strfreev(h->labels);
    g_strfreev(h->pools);
    g_strfreev(h->networks);
    g_ptr_array_unref(h->domains);
    g_ptr_array_unref(h->reservations);
    g_free(h);
}

static void s_reservation_free(gpointer p)
{
    sched_reservation *r = p;
    g_free(r->id);
    g_free(r);
}

drv_sched_cluster *drv_sched_cluster_new(const drv_sched_config *cfg)
{
    drv_sched_cluster *c = g_new0(drv_sched_cluster, 1);
    drv_sched_config_init(&c->cfg);
    if (cfg && s_config_check(cfg, NULL) == 0)
        c->cfg = *cfg;
    c->hosts = g_ptr_array_new_with_free_func(s_host_free);
    c->host_by_id = g_hash_table_new(g_str_hash, g_str_equal);
    c->domains = g_ptr_array_new_with_free_func(s_domain_free);
    c->domain_by_name = g_hash_table_new(g_str_hash, g_str_equal);
    c->reservations = g_ptr_array_new_with_free_func(s_reservation_free);
    c->res_by_id = g_hash_table_new(g_str_hash, g_str_equal);
    c->aff_groups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_group_free);
    c->anti_groups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_group_free);
    s_intern_init(&c->arches);
    s_table_init(&c->features);
    s_table_init(&c->pools);
    s_table_init(&c->networks);
    s_table_init(&c->labels);
    return c;
}

void drv_sched_cluster_destroy(drv_sched_cluster **cluster_p)
{
    if (!cluster_p || !*cluster_p)
        return;
    drv_sched_cluster *c = *cluster_p;
    g_hash_table_unref(c->aff_groups);
    g_hash_table_unref(c->anti_groups);
    g_hash_table_unref(c->domain_by_name);
    g_ptr_array_unref(c->domains);
    g_hash_table_unref(c->res_by_id);
    g_ptr_array_unref(c->reservations);
    g_hash_table_unref(c->host_by_id);
    g_ptr_array_unref(c->hosts);
    s_intern_clear(&c->arches);
    s_table_clear(&c->features);
    s_table_clear(&c->pools);
    s_table_clear(&c->networks);
    s_table_clear(&c->labels);
    g_free(c->hot);
    g_free(c);
    *cluster_p = NULL;
}

const drv_sched_config *drv_sched_cluster_get_config(const drv_sched_cluster *cluster)
{
    return &cluster->cfg;
}

int drv_sched_cluster_set_config(drv_sched_cluster *cluster, const drv_sched_config *cfg,
                                 drv_error **err)
{
    if (s_config_check(cfg, err) < 0)
        return -1;
    cluster->cfg = *cfg;
    for (guint i = 0; i < cluster->hosts->len; i++)
        sched_host_refresh(cluster, g_ptr_array_index(cluster->hosts, i));
    return 0;
}

sched_host *sched_cluster_host(const drv_sched_cluster *c, const char *id)
{
    return id ? g_hash_table_lookup(c->host_by_id, id) : NULL;
}

int64_t sched_host_vcpu_capacity(const drv_sched_cluster *c, const sched_host *h)
{
    return (int64_t)floor((double)h->cpus * c->cfg.cpu_ratio + 1e-9);
}

int64_t sched_host_memory_capacity(const drv_sched_cluster *c, const sched_host *h)
{
    uint64_t usable = h->memory_kib - h->reserved_memory_kib;
    return (int64_t)floor((double)usable * c->cfg.memory_ratio + 1e-9);
}

void sched_host_refresh(drv_sched_cluster *c, sched_host *h)
{
    sched_hot *hot = &c->hot[h->slot];
    hot->free_vcpus = (int32_t)(sched_host_vcpu_capacity(c, h) - h->vcpus_used);
    hot->free_memory_kib = sched_host_memory_capacity(c, h) - h->memory_used_kib;
    hot->arch = (h->arch && *h->arch) ? (uint16_t)(s_intern(&c->arches, h->arch) + 1) : 0;
    if (h->state != DRV_SCHED_HOST_ACTIVE)
        hot->block = 1 + DRV_SCHED_FILTER_STATE;
    else if (!h->reachable)
        hot->block = 1 + DRV_SCHED_FILTER_REACHABLE;
    else
        hot->block = 0;
}

static void s_grow_slots(drv_sched_cluster *c, size_t need)
{
    if (need <= c->cap_hosts)
        return;
    size_t cap = c->cap_hosts ? c->cap_hosts : 16;
    while (cap < need)
        cap *= 2;
    c->hot = g_renew(sched_hot, c->hot, cap);
    sched_bitset_table *tables[] = {&c->features, &c->pools, &c->networks, &c->labels};
    for (size_t t = 0; t < G_N_ELEMENTS(tables); t++) {
        tables[t]->bits = g_renew(uint64_t, tables[t]->bits, cap * tables[t]->stride);
        memset(tables[t]->bits + c->cap_hosts * tables[t]->stride, 0,
               (cap - c->cap_hosts) * tables[t]->stride * sizeof(uint64_t));
    }
    c->cap_hosts = cap;
}

static void s_host_set_rows(drv_sched_cluster *c, sched_host *h)
{
    s_table_set_row(&c->features, c->cap_hosts, h->slot, h->features);
    s_table_set_row(&c->pools, c->cap_hosts, h->slot, h->pools);
    s_table_set_row(&c->networks, c->cap_hosts, h->slot, h->networks);
    s_table_set_row(&c->labels, c->cap_hosts, h->slot, h->labels);
}

/* Normalises "key" into "key=" so labels compare as key=value strings. */
static char **s_labels_copy(const char *const *v)
{
    size_t n = v ? g_strv_length((char **)v) : 0;
    char **out = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = strchr(v[i], '=') ? g_strdup(v[i]) : g_strconcat(v[i], "=", NULL);
    return out;
}

int drv_sched_cluster_add_host(drv_sched_cluster *cluster, const drv_sched_host_spec *spec,
                               drv_error **err)
{
    if (!spec->id || !*spec->id)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler: host without an id");
    if (g_hash_table_contains(cluster->host_by_id, spec->id))
        return drv_error_set(err, DRV_ERR_EXISTS, 0, "host %s: already in the cluster", spec->id);
    if ((unsigned)spec->state >= DRV_SCHED_HOST_STATE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "host %s: unknown admin state %d", spec->id,
                             (int)spec->state);
    if (spec->reserved_memory_kib > spec->memory_kib)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "host %s: reserved memory %" G_GUINT64_FORMAT
                             " KiB exceeds total %" G_GUINT64_FORMAT " KiB",
                             spec->id, spec->reserved_memory_kib, spec->memory_kib);
    sched_host *h = g_new0(sched_host, 1);
    h->id = g_strdup(spec->id);
    h->arch = g_strdup(spec->arch && *spec->arch ? spec->arch : NULL);
    h->cpu_model = g_strdup(spec->cpu_model && *spec->cpu_model ? spec->cpu_model : NULL);
    h->cpus = spec->cpus;
    h->memory_kib = spec->memory_kib;
    h->reserved_memory_kib = spec->reserved_memory_kib;
    h->features = s_strv_copy(spec->features);
    h->labels = s_labels_copy(spec->labels);
    h->pools = s_strv_copy(spec->pools);
    h->networks = s_strv_copy(spec->networks);
    h->state = spec->state;
    h->reachable = spec->reachable;
    h->domains = g_ptr_array_new();
    h->reservations = g_ptr_array_new();
    h->slot = cluster->hosts->len;
    s_grow_slots(cluster, h->slot + 1);
    g_ptr_array_add(cluster->hosts, h);
    g_hash_table_insert(cluster->host_by_id, h->id, h);
    s_host_set_rows(cluster, h);
    sched_host_refresh(cluster, h);
    return 0;
}

static void s_host_book(drv_sched_cluster *c, sched_host *h, int64_t vcpus, int64_t memory_kib)
{
    h->vcpus_used += vcpus;
    h->memory_used_kib += memory_kib;
    c->hot[h->slot].free_vcpus -= (int32_t)vcpus;
    c->hot[h->slot].free_memory_kib -= memory_kib;
}

static void s_domain_place(drv_sched_cluster *c, sched_domain *d, sched_host *h)
{
    if (d->host) {
        g_ptr_array_remove_fast(d->host->domains, d);
        if (d->running)
            s_host_book(c, d->host, -(int64_t)d->vcpus, -(int64_t)d->memory_kib);
    }
    d->host = h;
    if (h) {
        g_ptr_array_add(h->domains, d);
        if (d->running)
            s_host_book(c, h, d->vcpus, (int64_t)d->memory_kib);
    }
}

int drv_sched_cluster_remove_host(drv_sched_cluster *cluster, const char *host_id, drv_error **err)
{
    sched_host *h = sched_cluster_host(cluster, host_id);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host %s: not in the cluster",
                             host_id ? host_id : "(null)");
    while (h->domains->len)
        s_domain_place(cluster, g_ptr_array_index(h->domains, h->domains->len - 1), NULL);
    while (h->reservations->len) {
        sched_reservation *r = g_ptr_array_index(h->reservations, 0);
        drv_sched_cluster_remove_reservation(cluster, r->id, NULL);
    }
    size_t slot = h->slot, last = cluster->hosts->len - 1;
    g_hash_table_remove(cluster->host_by_id, h->id);
    if (slot != last) {
        sched_host *moved = g_ptr_array_index(cluster->hosts, last);
        cluster->hot[slot] = cluster->hot[last];
        sched_bitset_table *tables[] = {&cluster->features, &cluster->pools, &cluster->networks,
                                        &cluster->labels};
        for (size_t t = 0; t < G_N_ELEMENTS(tables); t++)
            memcpy(tables[t]->bits + slot * tables[t]->stride,
                   tables[t]->bits + last * tables[t]->stride,
                   tables[t]->stride * sizeof(uint64_t));
        moved->slot = slot;
        cluster->hosts->pdata[slot] = moved;
        cluster->hosts->pdata[last] = h;
    }
    g_ptr_array_remove_index(cluster->hosts, last); /* frees h */
    return 0;
}

int drv_sched_cluster_set_host_state(drv_sched_cluster *cluster, const char *host_id,
                                     drv_sched_host_state state, drv_error **err)
{
    sched_host *h = sched_cluster_host(cluster, host_id);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host %s: not in the cluster",
                             host_id ? host_id : "(null)");
    if ((unsigned)state >= DRV_SCHED_HOST_STATE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "host %s: unknown admin state %d", h->id,
                             (int)state);
    h->state = state;
    sched_host_refresh(cluster, h);
    return 0;
}

int drv_sched_cluster_set_host_reachable(drv_sched_cluster *cluster, const char *host_id,
                                         bool reachable, drv_error **err)
{
    sched_host *h = sched_cluster_host(cluster, host_id);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host %s: not in the cluster",
                             host_id ? host_id : "(null)");
    h->reachable = reachable;
    sched_host_refresh(cluster, h);
    return 0;
}

static sched_group *s_group_join(GHashTable *groups, const char *name, sched_domain *d)
{
    if (!name)
        return NULL;
    sched_group *g = g_hash_table_lookup(groups, name);
    if (!g) {
        g = g_new0(sched_group, 1);
        g->name = g_strdup(name);
        g->members = g_ptr_array_new();
        g_hash_table_insert(groups, g->name, g);
    }
    g_ptr_array_add(g->members, d);
    return g;
}

static void s_group_leave(GHashTable *groups, sched_group *g, sched_domain *d)
{
    if (!g)
        return;
    g_ptr_array_remove(g->members, d);
    if (g->members->len == 0)
        g_hash_table_remove(groups, g->name);
}

int drv_sched_cluster_add_domain(drv_sched_cluster *cluster, const drv_sched_domain_spec *spec,
                                 drv_error **err)
{
    if (!spec->name || !*spec->name)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler: domain without a name");
    if (g_hash_table_contains(cluster->domain_by_name, spec->name))
        return drv_error_set(err, DRV_ERR_EXISTS, 0, "domain %s: already in the cluster",
                             spec->name);
    sched_host *h = NULL;
    if (spec->host) {
        h = sched_cluster_host(cluster, spec->host);
        if (!h)
            return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain %s: placed on unknown host %s",
                                 spec->name, spec->host);
    }
    sched_domain *d = g_new0(sched_domain, 1);
    d->name = g_strdup(spec->name);
    d->vcpus = spec->vcpus;
    d->memory_kib = spec->memory_kib;
    d->arch = g_strdup(spec->arch && *spec->arch ? spec->arch : NULL);
    d->features = s_strv_copy(spec->features);
    d->pools = s_strv_copy(spec->pools);
    d->networks = s_strv_copy(spec->networks);
    d->labels = s_labels_copy(spec->labels);
    d->affinity_group =
        g_strdup(spec->affinity_group && *spec->affinity_group ? spec->affinity_group : NULL);
    d->anti_affinity_group = g_strdup(
        spec->anti_affinity_group && *spec->anti_affinity_group ? spec->anti_affinity_group : NULL);
    d->running = spec->running;
    d->aff = s_group_join(cluster->aff_groups, d->affinity_group, d);
    d->anti = s_group_join(cluster->anti_groups, d->anti_affinity_group, d);
    g_ptr_array_add(cluster->domains, d);
    g_hash_table_insert(cluster->domain_by_name, d->name, d);
    s_domain_place(cluster, d, h);
    return 0;
}

static sched_domain *s_domain_get(const drv_sched_cluster *c, const char *name, drv_error **err)
{
    sched_domain *d = name ? g_hash_table_lookup(c->domain_by_name, name) : NULL;
    if (!d)
        drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain %s: not in the cluster",
                      name ? name : "(null)");
    return d;
}

int drv_sched_cluster_remove_domain(drv_sched_cluster *cluster, const char *name, drv_error **err)
{
    sched_domain *d = s_domain_get(cluster, name, err);
    if (!d)
        return -1;
    s_domain_place(cluster, d, NULL);
    s_group_leave(cluster->aff_groups, d->aff, d);
    s_group_leave(cluster->anti_groups, d->anti, d);
    g_hash_table_remove(cluster->domain_by_name, d->name);
    g_ptr_array_remove(cluster->domains, d); /* frees d */
    return 0;
}

int drv_sched_cluster_move_domain(drv_sched_cluster *cluster, const char *name, const char *host_id,
                                  drv_error **err)
{
    sched_domain *d = s_domain_get(cluster, name, err);
    if (!d)
        return -1;
    sched_host *h = NULL;
    if (host_id) {
        h = sched_cluster_host(cluster, host_id);
        if (!h)
            return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "domain %s: unknown host %s", d->name,
                                 host_id);
    }
    s_domain_place(cluster, d, h);
    return 0;
}

int drv_sched_cluster_set_domain_running(drv_sched_cluster *cluster, const char *name, bool running,
                                         drv_error **err)
{
    sched_domain *d = s_domain_get(cluster, name, err);
    if (!d)
        return -1;
    if (d->running == running)
        return 0;
    sched_host *h = d->host;
    s_domain_place(cluster, d, NULL);
    d->running = running;
    s_domain_place(cluster, d, h);
    return 0;
}

int drv_sched_cluster_add_reservation(drv_sched_cluster *cluster, const drv_sched_reservation *spec,
                                      drv_error **err)
{
    if (!spec->id || !*spec->id)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler: reservation without an id");
    if (g_hash_table_contains(cluster->res_by_id, spec->id))
        return drv_error_set(err, DRV_ERR_EXISTS, 0, "reservation %s: already in the cluster",
                             spec->id);
    sched_host *h = sched_cluster_host(cluster, spec->host);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "reservation %s: unknown host %s", spec->id,
                             spec->host ? spec->host : "(null)");
    sched_reservation *r = g_new0(sched_reservation, 1);
    r->id = g_strdup(spec->id);
    r->host = h;
    r->vcpus = spec->vcpus;
    r->memory_kib = spec->memory_kib;
    g_ptr_array_add(cluster->reservations, r);
    g_hash_table_insert(cluster->res_by_id, r->id, r);
    g_ptr_array_add(h->reservations, r);
    s_host_book(cluster, h, r->vcpus, (int64_t)r->memory_kib);
    return 0;
}

int drv_sched_cluster_remove_reservation(drv_sched_cluster *cluster, const char *id,
                                         drv_error **err)
{
    sched_reservation *r = id ? g_hash_table_lookup(cluster->res_by_id, id) : NULL;
    if (!r)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "reservation %s: not in the cluster",
                             id ? id : "(null)");
    s_host_book(cluster, r->host, -(int64_t)r->vcpus, -(int64_t)r->memory_kib);
    g_ptr_array_remove_fast(r->host->reservations, r);
    g_hash_table_remove(cluster->res_by_id, r->id);
    g_ptr_array_remove(cluster->reservations, r); /* frees r */
    return 0;
}

size_t drv_sched_cluster_n_hosts(const drv_sched_cluster *cluster)
{
    return cluster->hosts->len;
}

size_t drv_sched_cluster_n_domains(const drv_sched_cluster *cluster)
{
    return cluster->domains->len;
}

size_t drv_sched_cluster_n_reservations(const drv_sched_cluster *cluster)
{
    return cluster->reservations->len;
}

const char *drv_sched_cluster_host_id(const drv_sched_cluster *cluster, size_t i)
{
    if (i >= cluster->hosts->len)
        return NULL;
    return ((sched_host *)g_ptr_array_index(cluster->hosts, i))->id;
}

bool drv_sched_cluster_has_host(const drv_sched_cluster *cluster, const char *host_id)
{
    return sched_cluster_host(cluster, host_id) != NULL;
}

bool drv_sched_cluster_has_domain(const drv_sched_cluster *cluster, const char *name)
{
    return name && g_hash_table_contains(cluster->domain_by_name, name);
}

const char *drv_sched_cluster_domain_host(const drv_sched_cluster *cluster, const char *name)
{
    sched_domain *d = name ? g_hash_table_lookup(cluster->domain_by_name, name) : NULL;
    return d && d->host ? d->host->id : NULL;
}

int drv_sched_cluster_host_usage(const drv_sched_cluster *cluster, const char *host_id,
                                 drv_sched_host_usage *ret, drv_error **err)
{
    sched_host *h = sched_cluster_host(cluster, host_id);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host %s: not in the cluster",
                             host_id ? host_id : "(null)");
    drv_sched_host_usage u = {0};
    u.vcpu_capacity = sched_host_vcpu_capacity(cluster, h);
    u.vcpus_allocated = h->vcpus_used;
    u.vcpus_free = u.vcpu_capacity - u.vcpus_allocated;
    u.memory_capacity_kib = sched_host_memory_capacity(cluster, h);
    u.memory_allocated_kib = h->memory_used_kib;
    u.memory_free_kib = u.memory_capacity_kib - u.memory_allocated_kib;
    u.n_domains = h->domains->len;
    u.n_reservations = h->reservations->len;
    u.state = h->state;
    u.reachable = h->reachable;
    *ret = u;
    return 0;
}

/* Deep copy: re-adds everything through the public functions (same slots, same order). */
drv_sched_cluster *drv_sched_cluster_copy(const drv_sched_cluster *src)
{
    drv_sched_cluster *c = drv_sched_cluster_new(&src->cfg);
    for (guint i = 0; i < src->hosts->len; i++) {
        const sched_host *h = g_ptr_array_index(src->hosts, i);
        drv_sched_host_spec s = {
            .id = h->id,
            .arch = h->arch,
            .cpu_model = h->cpu_model,
            .cpus = h->cpus,
            .memory_kib = h->memory_kib,
            .reserved_memory_kib = h->reserved_memory_kib,
            .features = (const char *const *)h->features,
            .labels = (const char *const *)h->labels,
            .pools = (const char *const *)h->pools,
            .networks = (const char *const *)h->networks,
            .state = h->state,
            .reachable = h->reachable,
        };
        drv_sched_cluster_add_host(c, &s, NULL);
    }
    for (guint i = 0; i < src->domains->len; i++) {
        const sched_domain *d = g_ptr_array_index(src->domains, i);
        drv_sched_domain_spec s = {
            .name = d->name,
            .host = d->host ? d->host->id : NULL,
            .vcpus = d->vcpus,
            .memory_kib = d->memory_kib,
            .arch = d->arch,
            .features = (const char *const *)d->features,
            .pools = (const char *const *)d->pools,
            .networks = (const char *const *)d->networks,
            .labels = (const char *const *)d->labels,
            .affinity_group = d->affinity_group,
            .anti_affinity_group = d->anti_affinity_group,
            .running = d->running,
        };
        drv_sched_cluster_add_domain(c, &s, NULL);
    }
    for (guint i = 0; i < src->reservations->len; i++) {
        const sched_reservation *r = g_ptr_array_index(src->reservations, i);
        drv_sched_reservation s = {
            .id = r->id, .host = r->host->id, .vcpus = r->vcpus, .memory_kib = r->memory_kib};
        drv_sched_cluster_add_reservation(c, &s, NULL);
    }
    return c;
}
