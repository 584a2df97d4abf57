/* stats.h — the agent's statistics: raw counters from /proc (host CPU, memory, load) and from
 * libvirt's bulk stats (virConnectGetAllDomainStats: cpu time, vCPU wait/delay, balloon, block,
 * interface), and the rates between two samples. The parsers and the rate function are pure (unit
 * tested); drv_stats_sample_domains() calls libvirt and runs only on the agent's stats thread.
 *
 * A drv_stats_sampler keeps the previous sample; it is not locked: one thread uses it. */
#ifndef DROVER_AGENT_STATS_H
#define DROVER_AGENT_STATS_H

#include "error.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

/* /proc/stat's aggregate "cpu" line, in jiffies. */
typedef struct {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
    uint32_t cpus; /* "cpuN" lines */
} drv_stats_cpu_raw;

typedef struct {
    drv_stats_cpu_raw cpu;
    uint64_t memory_total_kib, memory_available_kib;
    double load1, load5, load15;
} drv_stats_host_raw;

/* One running domain's counters. */
typedef struct {
    char *name;
    uint64_t cpu_time_ns;
    uint64_t vcpu_delay_ns; /* Σ vcpu.N.delay, or Σ vcpu.N.wait when no delay is reported */
    uint32_t vcpus;
    uint64_t balloon_current_kib, balloon_rss_kib;
    uint64_t block_rd_bytes, block_wr_bytes;
    uint64_t net_rx_bytes, net_tx_bytes;
} drv_stats_dom_raw;

/* Rates (what goes on the wire). */
typedef struct {
    uint32_t cpus;
    bool cpu_known;
    double cpu_busy, cpu_iowait, cpu_steal; /* fractions of all CPUs */
    uint64_t memory_total_kib, memory_available_kib;
    double load1, load5, load15;
} drv_stats_host_rates;

typedef struct {
    char *name;
    bool rates_known;
    double cpu, steal; /* CPUs' worth */
    uint32_t vcpus;
    uint64_t balloon_current_kib, balloon_rss_kib;
    double block_read_bps, block_write_bps, net_rx_bps, net_tx_bps;
} drv_stats_dom_rates;

typedef struct {
    uint64_t sampled_at_ms; /* wall clock */
    uint32_t interval_ms;   /* since the previous sample; 0 on the first */
    uint32_t sample_ms;     /* how long sampling took */
    drv_stats_host_rates host;
    GArray *domains; /* drv_stats_dom_rates */
} drv_stats_report;

void drv_stats_report_destroy(drv_stats_report **report_p);

/* Parsers of /proc/stat, /proc/meminfo and /proc/loadavg text. -1 (DRV_ERR_PROTO) when the text
 * lacks the expected line. */
int drv_stats_parse_proc_stat(const char *text, drv_stats_cpu_raw *ret, drv_error **err);
int drv_stats_parse_meminfo(const char *text, uint64_t *ret_total_kib, uint64_t *ret_available_kib,
                            drv_error **err);
int drv_stats_parse_loadavg(const char *text, double *ret1, double *ret5, double *ret15,
                            drv_error **err);

/* Host rates between prev (NULL = none yet) and cur: CPU fractions from jiffy deltas (not known
 * when there is no prev or no jiffy passed). Pure. */
void drv_stats_host_rates_compute(const drv_stats_host_raw *prev, const drv_stats_host_raw *cur,
                                  drv_stats_host_rates *ret);
/* The host's CPU figures taken from its guests instead of /proc (`[agent] stats_host_cpu =
 * guests`): busy = the sum of the domains' CPU rates over the host's CPUs (at most 1), iowait and
 * steal 0. For hosts that share a kernel with others (the testbed's network namespaces all read one
 * machine's /proc/stat, so every host would report the same busy figure) and whose only work is
 * their guests. Not known while a domain's rates are not (its first sample, a restart) or the host
 * has no CPU count. Pure. */
void drv_stats_host_cpu_from_guests(drv_stats_report *r);
/* Domain rates over dt_ms between prev (NULL = first sample of this domain) and cur. A counter
 * that went backwards (the domain restarted) makes rates_known false. Copies cur->name. Pure. */
void drv_stats_dom_rates_compute(const drv_stats_dom_raw *prev, const drv_stats_dom_raw *cur,
                                 uint64_t dt_ms, drv_stats_dom_rates *ret);

/* Reads the running domains' counters with one virConnectGetAllDomainStats call (state, cpu,
 * vcpu, balloon, block, interface). Appends drv_stats_dom_raw to out (free the names). */
int drv_stats_sample_domains(virConnectPtr conn, GArray *out, drv_error **err);

typedef struct drv_stats_sampler drv_stats_sampler;

/* proc_root: where stat, meminfo and loadavg are read ("/proc" normally; a test may point
 * elsewhere). */
drv_stats_sampler *drv_stats_sampler_new(const char *proc_root);
void drv_stats_sampler_destroy(drv_stats_sampler **self_p);
/* One sample: /proc and, when conn is not NULL, libvirt; rates against the previous sample.
 * now_mono_ms is the monotonic clock (the rates' time base), now_wall_ms the report's time.
 * Returns 0 with *ret set, or -1 when /proc cannot be read. */
int drv_stats_sampler_sample(drv_stats_sampler *self, virConnectPtr conn, int64_t now_mono_ms,
                             int64_t now_wall_ms, drv_stats_report **ret, drv_error **err);

#endif
