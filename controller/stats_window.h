/* stats_window.h — the controller's statistics window: the last few StatsReports of every host, in
 * memory only (never in etcd; a new leader starts empty and fills within one stats interval). Fed
 * by the broker, read by the API (host/domain stats, cluster balance) and the metrics snapshot.
 * Single-threaded: only the main loop touches it. Plain structs: no protobuf here. */
#ifndef DROVER_CTL_STATS_H
#define DROVER_CTL_STATS_H

#include "balance.h"

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *name;
    bool rates_known;
    double cpu, steal; /* CPUs' worth */
    uint32_t vcpus;
    uint64_t balloon_current_kib, balloon_rss_kib;
    double block_read_bps, block_write_bps, net_rx_bps, net_tx_bps;
} ctl_stats_dom;

typedef struct {
    int64_t received_ms; /* controller's monotonic clock */
    uint64_t sampled_at_ms;
    uint32_t interval_ms, sample_ms;
    uint32_t cpus;
    bool cpu_known;
    double cpu_busy, cpu_iowait, cpu_steal;
    uint64_t memory_total_kib, memory_available_kib;
    double load1, load5, load15;
    GArray *domains; /* ctl_stats_dom (names owned) */
} ctl_stats_sample;

typedef struct ctl_stats ctl_stats;

/* window: samples kept per host (>= 1); max_age_ms: older samples count as unknown. */
ctl_stats *ctl_stats_new(unsigned window, int64_t max_age_ms);
void ctl_stats_destroy(ctl_stats **self_p);
/* Takes *sample (its domains too) and sets *sample_p to NULL. */
void ctl_stats_add(ctl_stats *self, const char *host_id, ctl_stats_sample **sample_p);
/* Forgets a host (removed, or its agent went away: its figures are no longer known). */
void ctl_stats_forget(ctl_stats *self, const char *host_id);
/* The newest sample of host_id if it is not older than max_age_ms at now_ms, else NULL. */
const ctl_stats_sample *ctl_stats_latest(const ctl_stats *self, const char *host_id,
                                         int64_t now_ms);
uint64_t ctl_stats_reports_total(const ctl_stats *self);

/* Window averages over the fresh samples with known rates, as the rebalancer wants them. The
 * arrays' strings are borrowed from the window (valid until the next add/forget); g_free the
 * arrays. A host or domain with no fresh known sample is left out (unknown). */
void ctl_stats_loads(const ctl_stats *self, int64_t now_ms, drv_sched_host_load **ret_hosts,
                     size_t *ret_n_hosts, drv_sched_domain_load **ret_domains,
                     size_t *ret_n_domains);

/* JSON for `drover host stats` / `drover domain stats`: the newest sample and the window's
 * averages; NULL when nothing fresh is known. */
json_object *ctl_stats_host_json(const ctl_stats *self, const char *host_id, int64_t now_ms);
json_object *ctl_stats_domain_json(const ctl_stats *self, const char *domain, int64_t now_ms);

#endif
