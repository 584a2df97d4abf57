/* stats_window.c — see stats_window.h. */
#include "stats_window.h"

#include <string.h>

typedef struct {
    char *host;
    GQueue samples; /* ctl_stats_sample*, newest first */
} s_host;

struct ctl_stats {
    unsigned window;
    int64_t max_age_ms;
    GHashTable *hosts; /* id → s_host* */
    uint64_t reports;
};

static void s_sample_free(ctl_stats_sample *s)
{
    if (!s)
        return;
    for (guint i = 0; s->domains && i < s->domains->len; i++)
        g_free(g_array_index(s->domains, ctl_stats_dom, i).name);
    if (s->domains)
        g_array_unref(s->domains);
    g_free(s);
}

static void s_host_free(gpointer p)
{
    s_host *h = p;
    ctl_stats_sample *s;
    while ((s = g_queue_pop_head(&h->samples)))
        s_sample_free(s);
    g_free(h->host);
    g_free(h);
}

ctl_stats *ctl_stats_new(unsigned window, int64_t max_age_ms)
{
    ctl_stats *self = g_new0(ctl_stats, 1);
    self->window = window ? window : 1;
    self->max_age_ms = max_age_ms;
    self->hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_host_free);
    return self;
}

void ctl_stats_destroy(ctl_stats **self_p)
{
    if (!self_p || !*self_p)
        return;
    g_hash_table_unref((*self_p)->hosts);
    g_free(*self_p);
    *self_p = NULL;
}

void ctl_stats_add(ctl_stats *self, const char *host_id, ctl_stats_sample **sample_p)
{
    s_host *h = g_hash_table_lookup(self->hosts, host_id);
    if (!h) {
        h = g_new0(s_host, 1);
        h->host = g_strdup(host_id);
        g_queue_init(&h->samples);
        g_hash_table_insert(self->hosts, h->host, h);
    }
    g_queue_push_head(&h->samples, *sample_p);
    *sample_p = NULL;
    while (h->samples.length > self->window)
        s_sample_free(g_queue_pop_tail(&h->samples));
    self->reports++;
}

void ctl_stats_forget(ctl_stats *self, const char *host_id)
{
    g_hash_table_remove(self->hosts, host_id);
}

uint64_t ctl_stats_reports_total(const ctl_stats *self)
{
    return self->reports;
}

static bool s_fresh(const ctl_stats *self, const ctl_stats_sample *s, int64_t now_ms)
{
    return now_ms - s->received_ms <= self->max_age_ms;
}

const ctl_stats_sample *ctl_stats_latest(const ctl_stats *self, const char *host_id, int64_t now_ms)
{
    const s_host *h = g_hash_table_lookup(self->hosts, host_id);
    const ctl_stats_sample *s = h ? g_queue_peek_head((GQueue *)&h->samples) : NULL;
    return s && s_fresh(self, s, now_ms) ? s : NULL;
}

/* Window averages of one host: busy (NAN-free: *ret_n = 0 when unknown). */
static double s_host_busy(const ctl_stats *self, const s_host *h, int64_t now_ms, size_t *ret_n)
{
    double sum = 0;
    size_t n = 0;
    for (GList *l = h->samples.head; l; l = l->next) {
        const ctl_stats_sample *s = l->data;
        if (s_fresh(self, s, now_ms) && s->cpu_known) {
            sum += s->cpu_busy;
            n++;
        }
    }
    *ret_n = n;
    return n ? sum / (double)n : 0;
}

/* Window averages of one domain on h: cpu and steal. */
static bool s_dom_avg(const ctl_stats *self, const s_host *h, const char *name, int64_t now_ms,
                      double *ret_cpu, double *ret_steal, size_t *ret_n)
{
    double c = 0, st = 0;
    size_t n = 0;
    for (GList *l = h->samples.head; l; l = l->next) {
        const ctl_stats_sample *s = l->data;
        if (!s_fresh(self, s, now_ms))
            continue;
        for (guint i = 0; i < s->domains->len; i++) {
            const ctl_stats_dom *d = &g_array_index(s->domains, ctl_stats_dom, i);
            if (d->rates_known && strcmp(d->name, name) == 0) {
                c += d->cpu;
                st += d->steal;
                n++;
                break;
            }
        }
    }
    if (!n)
        return false;
    *ret_cpu = c / (double)n;
    *ret_steal = st / (double)n;
    *ret_n = n;
    return true;
}

void ctl_stats_loads(const ctl_stats *self, int64_t now_ms, drv_sched_host_load **ret_hosts,
                     size_t *ret_n_hosts, drv_sched_domain_load **ret_domains,
                     size_t *ret_n_domains)
{
    GArray *hosts = g_array_new(FALSE, TRUE, sizeof(drv_sched_host_load));
    GArray *doms = g_array_new(FALSE, TRUE, sizeof(drv_sched_domain_load));
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->hosts);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const s_host *h = v;
        size_t n = 0;
        double busy = s_host_busy(self, h, now_ms, &n);
        if (!n)
            continue;
        drv_sched_host_load hl = {.host = h->host, .cpu_busy = busy};
        g_array_append_val(hosts, hl);
        /* the domains of the newest sample: what runs there now */
        const ctl_stats_sample *s = g_queue_peek_head((GQueue *)&h->samples);
        for (guint i = 0; s && i < s->domains->len; i++) {
            const ctl_stats_dom *d = &g_array_index(s->domains, ctl_stats_dom, i);
            drv_sched_domain_load dl = {.domain = d->name};
            size_t dn = 0;
            if (s_dom_avg(self, h, d->name, now_ms, &dl.cpu, &dl.steal, &dn))
                g_array_append_val(doms, dl);
        }
    }
    *ret_n_hosts = hosts->len;
    *ret_hosts = (drv_sched_host_load *)g_array_free(hosts, FALSE);
    *ret_n_domains = doms->len;
    *ret_domains = (drv_sched_domain_load *)g_array_free(doms, FALSE);
}

static json_object *s_num(double x)
{
    return json_object_new_double(x);
}

static json_object *s_dom_json(const ctl_stats_dom *d)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(d->name));
    json_object_object_add(o, "rates_known", json_object_new_boolean(d->rates_known));
    json_object_object_add(o, "cpu", s_num(d->cpu));
    json_object_object_add(o, "steal", s_num(d->steal));
    json_object_object_add(o, "vcpus", json_object_new_int64(d->vcpus));
    json_object_object_add(o, "balloon_current_kib",
                           json_object_new_int64((int64_t)d->balloon_current_kib));
    json_object_object_add(o, "balloon_rss_kib",
                           json_object_new_int64((int64_t)d->balloon_rss_kib));
    json_object_object_add(o, "block_read_bps", s_num(d->block_read_bps));
    json_object_object_add(o, "block_write_bps", s_num(d->block_write_bps));
    json_object_object_add(o, "net_rx_bps", s_num(d->net_rx_bps));
    json_object_object_add(o, "net_tx_bps", s_num(d->net_tx_bps));
    return o;
}

json_object *ctl_stats_host_json(const ctl_stats *self, const char *host_id, int64_t now_ms)
{
    const s_host *h = g_hash_table_lookup(self->hosts, host_id);
    const ctl_stats_sample *s = ctl_stats_latest(self, host_id, now_ms);
    if (!s)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "host", json_object_new_string(host_id));
    json_object_object_add(o, "age_ms", json_object_new_int64(now_ms - s->received_ms));
    json_object_object_add(o, "interval_ms", json_object_new_int64(s->interval_ms));
    json_object_object_add(o, "sample_ms", json_object_new_int64(s->sample_ms));
    json_object_object_add(o, "cpus", json_object_new_int64(s->cpus));
    json_object_object_add(o, "cpu_known", json_object_new_boolean(s->cpu_known));
    json_object_object_add(o, "cpu_busy", s_num(s->cpu_busy));
    json_object_object_add(o, "cpu_iowait", s_num(s->cpu_iowait));
    json_object_object_add(o, "cpu_steal", s_num(s->cpu_steal));
    size_t n = 0;
    double avg = s_host_busy(self, h, now_ms, &n);
    json_object_object_add(o, "cpu_busy_window", n ? s_num(avg) : NULL);
    json_object_object_add(o, "window_samples", json_object_new_int64((int64_t)n));
    json_object_object_add(o, "memory_total_kib",
                           json_object_new_int64((int64_t)s->memory_total_kib));
    json_object_object_add(o, "memory_available_kib",
                           json_object_new_int64((int64_t)s->memory_available_kib));
    json_object_object_add(o, "load1", s_num(s->load1));
    json_object_object_add(o, "load5", s_num(s->load5));
    json_object_object_add(o, "load15", s_num(s->load15));
    json_object *doms = json_object_new_array();
    for (guint i = 0; i < s->domains->len; i++)
        json_object_array_add(doms, s_dom_json(&g_array_index(s->domains, ctl_stats_dom, i)));
    json_object_object_add(o, "domains", doms);
    return o;
}

json_object *ctl_stats_domain_json(const ctl_stats *self, const char *domain, int64_t now_ms)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->hosts);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const s_host *h = v;
        const ctl_stats_sample *s = ctl_stats_latest(self, h->host, now_ms);
        for (guint i = 0; s && i < s->domains->len; i++) {
            const ctl_stats_dom *d = &g_array_index(s->domains, ctl_stats_dom, i);
            if (strcmp(d->name, domain) != 0)
                continue;
            json_object *o = s_dom_json(d);
            json_object_object_add(o, "host", json_object_new_string(h->host));
            json_object_object_add(o, "age_ms", json_object_new_int64(now_ms - s->received_ms));
            double c = 0, st = 0;
            size_t n = 0;
            if (s_dom_avg(self, h, domain, now_ms, &c, &st, &n)) {
                json_object_object_add(o, "cpu_window", s_num(c));
                json_object_object_add(o, "steal_window", s_num(st));
            }
            json_object_object_add(o, "window_samples", json_object_new_int64((int64_t)n));
            return o;
        }
    }
    return NULL;
}
