/* stats.c — see stats.h. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

struct drv_stats_sampler {
    char *proc_root;
    bool have_prev;
    drv_stats_host_raw prev_host;
    int64_t prev_ms;
    GHashTable *prev_doms; /* name → drv_stats_dom_raw* (owned) */
};

static void s_dom_raw_free(gpointer p)
{
    drv_stats_dom_raw *d = p;
    g_free(d->name);
    g_free(d);
}

void drv_stats_report_destroy(drv_stats_report **report_p)
{
    if (!report_p || !*report_p)
        return;
    drv_stats_report *r = *report_p;
    for (guint i = 0; r->domains && i < r->domains->len; i++)
        g_free(g_array_index(r->domains, drv_stats_dom_rates, i).name);
    if (r->domains)
        g_array_unref(r->domains);
    g_free(r);
    *report_p = NULL;
}

int drv_stats_parse_proc_stat(const char *text, drv_stats_cpu_raw *ret, drv_error **err)
{
    drv_stats_cpu_raw r = {0};
    bool found = false;
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        const char *l = lines[i];
        if (strncmp(l, "cpu ", 4) == 0) {
            unsigned long long v[8] = {0};
            int n = sscanf(l + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                           &v[3], &v[4], &v[5], &v[6], &v[7]);
            if (n < 4)
                break;
            r.user = v[0], r.nice = v[1], r.system = v[2], r.idle = v[3];
            r.iowait = v[4], r.irq = v[5], r.softirq = v[6], r.steal = v[7];
            found = true;
        } else if (strncmp(l, "cpu", 3) == 0 && g_ascii_isdigit(l[3])) {
            r.cpus++;
        }
    }
    if (!found)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "/proc/stat: no aggregate \"cpu\" line");
    *ret = r;
    return 0;
}

int drv_stats_parse_meminfo(const char *text, uint64_t *ret_total_kib, uint64_t *ret_available_kib,
                            drv_error **err)
{
    unsigned long long total = 0, avail = 0;
    bool have_total = false, have_avail = false;
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        if (sscanf(lines[i], "MemTotal: %llu kB", &total) == 1)
            have_total = true;
        else if (sscanf(lines[i], "MemAvailable: %llu kB", &avail) == 1)
            have_avail = true;
    }
    if (!have_total || !have_avail)
        return drv_error_set(err, DRV_ERR_PROTO, 0,
                             "/proc/meminfo: no MemTotal or MemAvailable line");
    *ret_total_kib = total;
    *ret_available_kib = avail;
    return 0;
}

int drv_stats_parse_loadavg(const char *text, double *ret1, double *ret5, double *ret15,
                            drv_error **err)
{
    double a = 0, b = 0, c = 0;
    if (!text || sscanf(text, "%lf %lf %lf", &a, &b, &c) != 3)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "/proc/loadavg: not three load figures");
    *ret1 = a;
    *ret5 = b;
    *ret15 = c;
    return 0;
}

static uint64_t s_busy(const drv_stats_cpu_raw *c)
{
    return c->user + c->nice + c->system + c->irq + c->softirq + c->steal;
}

static uint64_t s_total(const drv_stats_cpu_raw *c)
{
    return s_busy(c) + c->idle + c->iowait;
}

void drv_stats_host_rates_compute(const drv_stats_host_raw *prev, const drv_stats_host_raw *cur,
                                  drv_stats_host_rates *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->cpus = cur->cpu.cpus;
    ret->memory_total_kib = cur->memory_total_kib;
    ret->memory_available_kib = cur->memory_available_kib;
    ret->load1 = cur->load1;
    ret->load5 = cur->load5;
    ret->load15 = cur->load15;
    if (!prev || s_total(&cur->cpu) <= s_total(&prev->cpu) ||
        s_busy(&cur->cpu) < s_busy(&prev->cpu) || cur->cpu.iowait < prev->cpu.iowait ||
        cur->cpu.steal < prev->cpu.steal)
        return;
    double dt = (double)(s_total(&cur->cpu) - s_total(&prev->cpu));
    ret->cpu_known = true;
    ret->cpu_busy = (double)(s_busy(&cur->cpu) - s_busy(&prev->cpu)) / dt;
    ret->cpu_iowait = (double)(cur->cpu.iowait - prev->cpu.iowait) / dt;
    ret->cpu_steal = (double)(cur->cpu.steal - prev->cpu.steal) / dt;
}

/* (b - a) per second over dt_ms; false when the counter went backwards. */
static bool s_rate(uint64_t a, uint64_t b, uint64_t dt_ms, double *ret)
{
    if (b < a)
        return false;
    *ret = (double)(b - a) * 1000.0 / (double)dt_ms;
    return true;
}

void drv_stats_dom_rates_compute(const drv_stats_dom_raw *prev, const drv_stats_dom_raw *cur,
                                 uint64_t dt_ms, drv_stats_dom_rates *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->name = g_strdup(cur->name);
    ret->vcpus = cur->vcpus;
    ret->balloon_current_kib = cur->balloon_current_kib;
    ret->balloon_rss_kib = cur->balloon_rss_kib;
    if (!prev || dt_ms == 0)
        return;
    double cpu_ns = 0, delay_ns = 0;
    drv_stats_dom_rates r = *ret;
    bool ok = s_rate(prev->cpu_time_ns, cur->cpu_time_ns, dt_ms, &cpu_ns) &&
              s_rate(prev->vcpu_delay_ns, cur->vcpu_delay_ns, dt_ms, &delay_ns) &&
              s_rate(prev->block_rd_bytes, cur->block_rd_bytes, dt_ms, &r.block_read_bps) &&
              s_rate(prev->block_wr_bytes, cur->block_wr_bytes, dt_ms, &r.block_write_bps) &&
              s_rate(prev->net_rx_bytes, cur->net_rx_bytes, dt_ms, &r.net_rx_bps) &&
              s_rate(prev->net_tx_bytes, cur->net_tx_bytes, dt_ms, &r.net_tx_bps);
    if (!ok)
        return; /* restarted or a device replaced: no rate this time */
    r.cpu = cpu_ns / 1e9;
    r.steal = delay_ns / 1e9;
    r.rates_known = true;
    *ret = r;
}

static bool s_suffix(const char *name, const char *prefix, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix), ln = strlen(name);
    if (ln <= lp + ls || strncmp(name, prefix, lp) != 0 || strcmp(name + ln - ls, suffix) != 0)
        return false;
    for (size_t i = lp; i < ln - ls; i++)
        if (!g_ascii_isdigit(name[i]))
            return false;
    return true;
}

int drv_stats_sample_domains(virConnectPtr conn, GArray *out, drv_error **err)
{
    virDomainStatsRecordPtr *recs = NULL;
    unsigned int types = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                         VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_BLOCK |
                         VIR_DOMAIN_STATS_INTERFACE;
    int n =
        virConnectGetAllDomainStats(conn, types, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING);
    if (n < 0) {
        virErrorPtr e = virGetLastError();
        return drv_error_set(err, DRV_ERR_LIBVIRT, 0, "bulk domain stats: %s",
                             e && e->message ? e->message : "failed");
    }
    for (int i = 0; i < n; i++) {
        drv_stats_dom_raw d = {0};
        d.name = g_strdup(virDomainGetName(recs[i]->dom));
        uint64_t wait_ns = 0, delay_ns = 0;
        bool have_delay = false;
        for (int k = 0; k < recs[i]->nparams; k++) {
            const virTypedParameter *p = &recs[i]->params[k];
            uint64_t v = 0;
            switch (p->type) {
            case VIR_TYPED_PARAM_ULLONG:
                v = p->value.ul;
                break;
            case VIR_TYPED_PARAM_UINT:
                v = p->value.ui;
                break;
            case VIR_TYPED_PARAM_LLONG:
                v = p->value.l > 0 ? (uint64_t)p->value.l : 0;
                break;
            default:
                continue;
            }
            const char *f = p->field;
            if (strcmp(f, "cpu.time") == 0)
                d.cpu_time_ns = v;
            else if (strcmp(f, "vcpu.current") == 0)
                d.vcpus = (uint32_t)v;
            else if (strcmp(f, "balloon.current") == 0)
                d.balloon_current_kib = v;
            else if (strcmp(f, "balloon.rss") == 0)
                d.balloon_rss_kib = v;
            else if (s_suffix(f, "vcpu.", ".wait"))
                wait_ns += v;
            else if (s_suffix(f, "vcpu.", ".delay")) {
                delay_ns += v;
                have_delay = true;
            } else if (s_suffix(f, "block.", ".rd.bytes"))
                d.block_rd_bytes += v;
            else if (s_suffix(f, "block.", ".wr.bytes"))
                d.block_wr_bytes += v;
            else if (s_suffix(f, "net.", ".rx.bytes"))
                d.net_rx_bytes += v;
            else if (s_suffix(f, "net.", ".tx.bytes"))
                d.net_tx_bytes += v;
        }
        d.vcpu_delay_ns = have_delay ? delay_ns : wait_ns;
        g_array_append_val(out, d);
    }
    virDomainStatsRecordListFree(recs);
    return 0;
}

drv_stats_sampler *drv_stats_sampler_new(const char *proc_root)
{
    drv_stats_sampler *s = g_new0(drv_stats_sampler, 1);
    s->proc_root = g_strdup(proc_root ? proc_root : "/proc");
    s->prev_doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_dom_raw_free);
    return s;
}

void drv_stats_sampler_destroy(drv_stats_sampler **self_p)
{
    if (!self_p || !*self_p)
        return;
    drv_stats_sampler *s = *self_p;
    g_hash_table_unref(s->prev_doms);
    g_free(s->proc_root);
    g_free(s);
    *self_p = NULL;
}

static int s_read(const drv_stats_sampler *s, const char *file, char **ret, drv_error **err)
{
    g_autofree char *path = g_build_filename(s->proc_root, file, NULL);
    GError *gerr = NULL;
    if (!g_file_get_contents(path, ret, NULL, &gerr)) {
        drv_error_set(err, DRV_ERR_IO, 0, "%s", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    return 0;
}

int drv_stats_sampler_sample(drv_stats_sampler *self, virConnectPtr conn, int64_t now_mono_ms,
                             int64_t now_wall_ms, drv_stats_report **ret, drv_error **err)
{
    g_autofree char *stat = NULL, *mem = NULL, *load = NULL;
    drv_stats_host_raw cur = {0};
    if (s_read(self, "stat", &stat, err) < 0 || s_read(self, "meminfo", &mem, err) < 0 ||
        s_read(self, "loadavg", &load, err) < 0 ||
        drv_stats_parse_proc_stat(stat, &cur.cpu, err) < 0 ||
        drv_stats_parse_meminfo(mem, &cur.memory_total_kib, &cur.memory_available_kib, err) < 0 ||
        drv_stats_parse_loadavg(load, &cur.load1, &cur.load5, &cur.load15, err) < 0)
        return -1;
    GArray *raw = g_array_new(FALSE, TRUE, sizeof(drv_stats_dom_raw));
    if (conn) {
        drv_error *derr = NULL;
        if (drv_stats_sample_domains(conn, raw, &derr) < 0) {
            g_array_unref(raw);
            drv_error_propagate(err, derr);
            return -1;
        }
    }
    drv_stats_report *r = g_new0(drv_stats_report, 1);
    r->sampled_at_ms = (uint64_t)now_wall_ms;
    uint64_t dt_ms = self->have_prev && now_mono_ms > self->prev_ms
                         ? (uint64_t)(now_mono_ms - self->prev_ms)
                         : 0;
    r->interval_ms = (uint32_t)MIN(dt_ms, UINT32_MAX);
    drv_stats_host_rates_compute(self->have_prev ? &self->prev_host : NULL, &cur, &r->host);
    r->domains = g_array_sized_new(FALSE, TRUE, sizeof(drv_stats_dom_rates), raw->len);
    GHashTable *next = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_dom_raw_free);
    for (guint i = 0; i < raw->len; i++) {
        drv_stats_dom_raw *d = &g_array_index(raw, drv_stats_dom_raw, i);
        const drv_stats_dom_raw *prev = g_hash_table_lookup(self->prev_doms, d->name);
        drv_stats_dom_rates dr;
        drv_stats_dom_rates_compute(prev, d, dt_ms, &dr);
        g_array_append_val(r->domains, dr);
        drv_stats_dom_raw *keep = g_memdup2(d, sizeof(*d)); /* takes d->name */
        g_hash_table_replace(next, keep->name, keep);
    }
    g_array_unref(raw);
    g_hash_table_unref(self->prev_doms);
    self->prev_doms = next; /* domains gone since are forgotten */
    self->prev_host = cur;
    self->prev_ms = now_mono_ms;
    self->have_prev = true;
    *ret = r;
    return 0;
}

void drv_stats_host_cpu_from_guests(drv_stats_report *r)
{
    double sum = 0;
    bool known = r->host.cpus > 0;
    for (guint i = 0; known && r->domains != NULL && i < r->domains->len; i++) {
        const drv_stats_dom_rates *d = &g_array_index(r->domains, drv_stats_dom_rates, i);
        known = d->rates_known;
        sum += d->cpu;
    }
    r->host.cpu_known = known;
    r->host.cpu_busy = known ? MIN(1.0, sum / (double)r->host.cpus) : 0;
    r->host.cpu_iowait = 0;
    r->host.cpu_steal = 0;
}
