/* counters.h — what the controller counts for /metrics (metrics.h): histograms of durations and
 * plain counters, bumped on the loop by the modules that see the events (main loop turns, etcd
 * completions, agent commands, migration and drain jobs). Memory only; they start at zero with
 * the process, as Prometheus counters may. Single-threaded: only the main loop touches them. */
#ifndef DROVER_CTL_COUNTERS_H
#define DROVER_CTL_COUNTERS_H

#include "job.h"

#include <stdint.h>

/* Upper bounds (seconds) of the histogram buckets, then +Inf. */
#define CTL_HIST_BUCKETS 14
extern const double ctl_hist_bounds[CTL_HIST_BUCKETS];

typedef struct {
    uint64_t buckets[CTL_HIST_BUCKETS]; /* observations <= bound i (not cumulative) */
    uint64_t count;                     /* all observations (the +Inf bucket) */
    double sum;                         /* seconds */
} ctl_hist;

void ctl_hist_observe(ctl_hist *h, double seconds);
/* Observations <= ctl_hist_bounds[i] (cumulative, as Prometheus buckets are). */
uint64_t ctl_hist_cumulative(const ctl_hist *h, unsigned i);

/* Ends of jobs, by result. */
typedef enum {
    CTL_RESULT_SUCCEEDED = 0,
    CTL_RESULT_FAILED,
    CTL_RESULT_CANCELLED,
    CTL_RESULT_LAST
} ctl_result;
const char *ctl_result_to_string(ctl_result r);

#define CTL_CMD_KINDS 64 /* ctl_cmd_kind values counted (broker.h); larger ones count as 0 */

typedef struct {
    ctl_hist loop_turn;     /* one turn of the main loop: handling what poll returned plus timers */
    ctl_hist loop_turn_cpu; /* the same turn's CPU time (without the time it was not scheduled) */
    ctl_hist etcd;          /* an etcd request of the loop: queued → answered (etcd_worker.h) */
    ctl_hist migration;     /* a migration job: created → terminal (wall clock) */
    ctl_hist drain;         /* a drain job: created → terminal */
    uint64_t migrations[CTL_RESULT_LAST];
    uint64_t drains[CTL_RESULT_LAST];
    uint64_t commands_sent[CTL_CMD_KINDS];
    uint64_t commands_failed[CTL_CMD_KINDS]; /* answered not ok, or never answered in time */
} ctl_counters;

/* A migration or drain job reached a terminal state (other kinds are not counted): its result and
 * its duration since it was created (wall clock, as the job records it). */
void ctl_counters_job_ended(ctl_counters *k, const drv_job *job, uint64_t now_wall_ms);

#endif
