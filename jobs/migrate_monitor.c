/* migrate_monitor.c — see migrate_monitor.h. */
#include "migrate_monitor.h"

#include <glib.h>
#include <inttypes.h>
#include <string.h>

static const char *const s_names[DRV_MIGRATE_DECISION_LAST] = {
    [DRV_MIGRATE_CONTINUE] = "continue",
    [DRV_MIGRATE_SWITCH_POSTCOPY] = "switch-postcopy",
    [DRV_MIGRATE_ABORT_TIMEOUT] = "abort-timeout",
    [DRV_MIGRATE_ABORT_STALLED] = "abort-stalled",
};

const char *drv_migrate_decision_to_string(drv_migrate_decision d)
{
    return (unsigned)d < DRV_MIGRATE_DECISION_LAST ? s_names[d] : "unknown";
}

drv_migrate_monitor_params drv_migrate_monitor_params_default(bool postcopy_allowed,
                                                              uint32_t timeout_s)
{
    drv_migrate_monitor_params p = {
        .postcopy_allowed = postcopy_allowed,
        .timeout_s = timeout_s,
        .postcopy_after_iterations = DRV_MIGRATE_POSTCOPY_AFTER_DEFAULT,
        .stall_after_ms = DRV_MIGRATE_STALL_AFTER_MS_DEFAULT,
    };
    return p;
}

void drv_migrate_monitor_init(drv_migrate_monitor_state *st)
{
    memset(st, 0, sizeof(*st));
}

void drv_migrate_monitor_postcopy_started(drv_migrate_monitor_state *st)
{
    st->postcopy = true;
}

/* Tracks the lowest remaining data seen and when it was reached. Only a real step counts as a
 * new low: at least 1/16 below the last one (a pre-copy whose dirty rate matches the bandwidth
 * hovers and shaves a few pages off now and then; that is not progress). */
static void s_track(const drv_migrate_monitor_sample *s, drv_migrate_monitor_state *st)
{
    if (!st->have_best ||
        s->data_remaining < st->best_remaining - st->best_remaining / DRV_MIGRATE_PROGRESS_STEP) {
        st->have_best = true;
        st->best_remaining = s->data_remaining;
        st->best_at_ms = s->elapsed_ms;
    }
}

drv_migrate_decision drv_migrate_monitor_decide(const drv_migrate_monitor_params *p,
                                                const drv_migrate_monitor_sample *s,
                                                drv_migrate_monitor_state *st)
{
    if (st->postcopy || st->aborted != DRV_MIGRATE_CONTINUE)
        return DRV_MIGRATE_CONTINUE;

    if (p->timeout_s > 0 && s->elapsed_ms >= (uint64_t)p->timeout_s * 1000) {
        st->aborted = DRV_MIGRATE_ABORT_TIMEOUT;
        g_snprintf(st->reason, sizeof(st->reason),
                   "not finished after the %" PRIu32 " s timeout (%" PRIu64 " ms elapsed)",
                   p->timeout_s, s->elapsed_ms);
        return DRV_MIGRATE_ABORT_TIMEOUT;
    }
    if (!s->have_stats)
        return DRV_MIGRATE_CONTINUE;

    bool shrinking = !st->have_prev || s->data_remaining < st->prev_remaining;
    uint64_t prev = st->prev_remaining;
    st->have_prev = true;
    st->prev_remaining = s->data_remaining;
    s_track(s, st);

    if (p->postcopy_allowed && s->iteration > p->postcopy_after_iterations && !shrinking) {
        g_snprintf(st->reason, sizeof(st->reason),
                   "pre-copy not converging: iteration %" PRIu64 " (> %" PRIu32 "), %" PRIu64
                   " bytes remaining, %" PRIu64 " before",
                   s->iteration, p->postcopy_after_iterations, s->data_remaining, prev);
        return DRV_MIGRATE_SWITCH_POSTCOPY;
    }
    if (p->stall_after_ms > 0 && s->elapsed_ms - st->best_at_ms >= p->stall_after_ms) {
        g_snprintf(st->reason, sizeof(st->reason),
                   "pre-copy stalled: the remaining data has not gone below %" PRIu64
                   " bytes for %" PRIu64 " ms (iteration %" PRIu64 ")%s",
                   st->best_remaining, s->elapsed_ms - st->best_at_ms, s->iteration,
                   p->postcopy_allowed ? "" : "; post-copy is not allowed");
        if (p->postcopy_allowed)
            return DRV_MIGRATE_SWITCH_POSTCOPY;
        st->aborted = DRV_MIGRATE_ABORT_STALLED;
        return DRV_MIGRATE_ABORT_STALLED;
    }
    return DRV_MIGRATE_CONTINUE;
}
