/* pb.c — see pb.h. */
#include "pb.h"

#include "log.h"

#include <string.h>

GPtrArray *drv_pb_arena_new(void)
{
    return g_ptr_array_new_with_free_func(g_free);
}

void *drv_pb_alloc(GPtrArray *arena, size_t size)
{
    void *p = g_malloc0(size ? size : 1);
    g_ptr_array_add(arena, p);
    return p;
}

char *drv_pb_strdup(GPtrArray *arena, const char *s)
{
    char *p = g_strdup(s ? s : "");
    g_ptr_array_add(arena, p);
    return p;
}

char *drv_pb_printf(GPtrArray *arena, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(arena, p);
    return p;
}

static char *s_str(const char *s)
{
    return (char *)(s ? s : "");
}

Drover__HostFacts *drv_pb_facts(GPtrArray *arena, const drv_host_facts *f)
{
    Drover__HostFacts *h = drv_pb_alloc(arena, sizeof(*h));
    drover__host_facts__init(h);
    h->host_id = s_str(f->host_id);
    h->hostname = s_str(f->hostname);
    h->arch = s_str(f->arch);
    h->cpus = f->cpus;
    h->memory_kib = f->memory_kib;
    h->free_memory_kib = f->free_memory_kib;
    h->reserved_memory_kib = f->reserved_memory_kib;
    h->cpu_vendor = s_str(f->cpu_vendor);
    h->cpu_model = s_str(f->cpu_model);
    h->n_cpu_features = f->cpu_features->len;
    h->cpu_features = drv_pb_alloc(arena, sizeof(char *) * f->cpu_features->len);
    for (guint i = 0; i < f->cpu_features->len; i++)
        h->cpu_features[i] = g_ptr_array_index(f->cpu_features, i);
    h->host_uuid = s_str(f->host_uuid);
    h->libvirt_version = f->libvirt_version;
    h->hypervisor_version = f->hypervisor_version;
    h->hypervisor_type = s_str(f->hypervisor_type);
    h->migration_uri = s_str(f->migration_uri);
    h->libvirt_uri = s_str(f->libvirt_uri);
    h->n_pools = f->pools->len;
    h->pools = drv_pb_alloc(arena, sizeof(Drover__StoragePool *) * f->pools->len);
    for (guint i = 0; i < f->pools->len; i++) {
        const drv_pool_fact *p = g_ptr_array_index(f->pools, i);
        Drover__StoragePool *sp = drv_pb_alloc(arena, sizeof(*sp));
        drover__storage_pool__init(sp);
        sp->name = s_str(p->name);
        sp->type = s_str(p->type);
        sp->path = s_str(p->path);
        sp->active = p->active;
        h->pools[i] = sp;
    }
    h->n_networks = f->networks->len;
    h->networks = drv_pb_alloc(arena, sizeof(char *) * f->networks->len);
    for (guint i = 0; i < f->networks->len; i++)
        h->networks[i] = g_ptr_array_index(f->networks, i);
    for (guint i = 0; i < f->label_keys->len; i++)
        drv_pb_add_kv(arena, &h->labels, &h->n_labels, g_ptr_array_index(f->label_keys, i),
                      g_ptr_array_index(f->label_values, i));
    return h;
}

Drover__DomainInfo *drv_pb_dom_info(GPtrArray *arena, const drv_dom_info *d)
{
    Drover__DomainInfo *p = drv_pb_alloc(arena, sizeof(*p));
    drover__domain_info__init(p);
    p->name = s_str(d->name);
    p->uuid = s_str(d->uuid);
    p->state = (Drover__DomainState)d->state;
    p->reason = d->reason;
    p->persistent = d->persistent;
    p->autostart = d->autostart;
    p->xml_hash = s_str(d->xml_hash);
    p->vcpus = d->vcpus;
    p->memory_kib = d->memory_kib;
    p->cpu_time_ns = d->cpu_time_ns;
    p->has_managed_save = d->has_managed_save;
    p->live_devices_known = d->live_devices != NULL;
    p->n_live_devices = d->live_devices ? g_strv_length(d->live_devices) : 0;
    /* copied into the arena: a reply's info is freed before the message is packed */
    p->live_devices = drv_pb_alloc(arena, sizeof(char *) * p->n_live_devices);
    for (size_t i = 0; i < p->n_live_devices; i++)
        p->live_devices[i] = drv_pb_strdup(arena, d->live_devices[i]);
    return p;
}

Drover__DomainInfo **drv_pb_dom_infos(GPtrArray *arena, GPtrArray *infos, size_t *ret_n)
{
    size_t n = infos ? infos->len : 0;
    Drover__DomainInfo **out = drv_pb_alloc(arena, sizeof(*out) * n);
    for (size_t i = 0; i < n; i++)
        out[i] = drv_pb_dom_info(arena, g_ptr_array_index(infos, i));
    *ret_n = n;
    return out;
}

void drv_pb_add_kv(GPtrArray *arena, Drover__KeyValue ***kvs, size_t *n, const char *key,
                   const char *value)
{
    /* grow by copying into a new arena block: arrays here are small */
    Drover__KeyValue **grown = drv_pb_alloc(arena, sizeof(*grown) * (*n + 1));
    if (*n > 0)
        memcpy(grown, *kvs, sizeof(*grown) * *n);
    Drover__KeyValue *kv = drv_pb_alloc(arena, sizeof(*kv));
    drv_kv_set(kv, drv_pb_strdup(arena, key), drv_pb_strdup(arena, value));
    grown[*n] = kv;
    *kvs = grown;
    (*n)++;
}

void drv_pb_stats_pack(const drv_stats_report *r, uint8_t **ret_buf, size_t *ret_len)
{
    Drover__StatsHost host = DROVER__STATS_HOST__INIT;
    host.cpus = r->host.cpus;
    host.cpu_known = r->host.cpu_known;
    host.cpu_busy = r->host.cpu_busy;
    host.cpu_iowait = r->host.cpu_iowait;
    host.cpu_steal = r->host.cpu_steal;
    host.memory_total_kib = r->host.memory_total_kib;
    host.memory_available_kib = r->host.memory_available_kib;
    host.load1 = r->host.load1;
    host.load5 = r->host.load5;
    host.load15 = r->host.load15;
    size_t n = r->domains ? r->domains->len : 0;
    g_autofree Drover__StatsDomain *doms = g_new0(Drover__StatsDomain, n + 1);
    g_autofree Drover__StatsDomain **ptrs = g_new0(Drover__StatsDomain *, n + 1);
    for (size_t i = 0; i < n; i++) {
        const drv_stats_dom_rates *d = &g_array_index(r->domains, drv_stats_dom_rates, i);
        Drover__StatsDomain *p = &doms[i];
        drover__stats_domain__init(p);
        p->name = d->name ? d->name : (char *)"";
        p->cpu = d->cpu;
        p->steal = d->steal;
        p->vcpus = d->vcpus;
        p->balloon_current_kib = d->balloon_current_kib;
        p->balloon_rss_kib = d->balloon_rss_kib;
        p->block_read_bps = d->block_read_bps;
        p->block_write_bps = d->block_write_bps;
        p->net_rx_bps = d->net_rx_bps;
        p->net_tx_bps = d->net_tx_bps;
        p->rates_known = d->rates_known;
        ptrs[i] = p;
    }
    Drover__StatsReport rep = DROVER__STATS_REPORT__INIT;
    rep.sampled_at_ms = r->sampled_at_ms;
    rep.interval_ms = r->interval_ms;
    rep.sample_ms = r->sample_ms;
    rep.host = &host;
    rep.domains = ptrs;
    rep.n_domains = n;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_STATS_REPORT;
    env.stats_report = &rep;
    drv_error *err = NULL;
    *ret_buf = NULL;
    *ret_len = 0;
    if (drv_codec_pack(&env, 0, ret_buf, ret_len, &err) < 0) {
        drv_warn("stats: %s", err->message);
        drv_error_destroy(&err);
    }
}
