/* counters.c — see counters.h. */
#include "counters.h"

const double ctl_hist_bounds[CTL_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  10,    60};

void ctl_hist_observe(ctl_hist *h, double seconds)
{
    if (!(seconds >= 0)) /* NaN and clock steps backwards count as 0 */
        seconds = 0;
    for (unsigned i = 0; i < CTL_HIST_BUCKETS; i++) {
        if (seconds <= ctl_hist_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}

uint64_t ctl_hist_cumulative(const ctl_hist *h, unsigned i)
{
    uint64_t n = 0;
    for (unsigned j = 0; j <= i && j < CTL_HIST_BUCKETS; j++)
        n += h->buckets[j];
    return n;
}

static const char *const s_results[CTL_RESULT_LAST] = {"succeeded", "failed", "cancelled"};

const char *ctl_result_to_string(ctl_result r)
{
    return r < CTL_RESULT_LAST ? s_results[r] : "failed";
}

void ctl_counters_job_ended(ctl_counters *k, const drv_job *job, uint64_t now_wall_ms)
{
    ctl_result r = job->state == DRV_JOB_SUCCEEDED   ? CTL_RESULT_SUCCEEDED
                   : job->state == DRV_JOB_CANCELLED ? CTL_RESULT_CANCELLED
                                                     : CTL_RESULT_FAILED;
    double secs = now_wall_ms > job->created_ms ? (double)(now_wall_ms - job->created_ms) / 1e3 : 0;
    if (job->kind == DRV_JOB_KIND_MIGRATE) {
        k->migrations[r]++;
        ctl_hist_observe(&k->migration, secs);
    } else if (job->kind == DRV_JOB_KIND_DRAIN) {
        k->drains[r]++;
        ctl_hist_observe(&k->drain, secs);
    }
}
