/* migrate_monitor.h — the policy decisions of a running live migration, taken once per sample of
 * libvirt's job stats: keep going, switch to post-copy, or abort (timeout, or pre-copy that makes
 * no progress). Pure: (params, sample, state) → decision, with state updated in place. No libvirt,
 * no clock (the sample carries the elapsed time), no allocation.
 *
 * Rules, in this order:
 *   1. Once post-copy has started nothing is ever aborted: the guest already runs on the
 * destination and an abort would lose it. Once an abort was decided, later samples just CONTINUE
 * (the caller waits for libvirt's job to end).
 *   2. Timeout: elapsed ≥ timeout_s (0 = none) → ABORT_TIMEOUT.
 *   3. Not converging: post-copy allowed, iteration > postcopy_after_iterations and the remaining
 *      data did not shrink since the previous sample → SWITCH_POSTCOPY.
 *   4. Stalled: the remaining data has not reached a new low (at least 1/DRV_MIGRATE_PROGRESS_STEP
 *      below the previous low) for stall_after_ms → SWITCH_POSTCOPY when allowed, else
 *      ABORT_STALLED.
 * SWITCH_POSTCOPY is repeated on later samples until the caller reports the switch with
 * drv_migrate_monitor_postcopy_started (a refused switch is retried). */
#ifndef DROVER_JOBS_MIGRATE_MONITOR_H
#define DROVER_JOBS_MIGRATE_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#define DRV_MIGRATE_POSTCOPY_AFTER_DEFAULT 3     /* iterations */
#define DRV_MIGRATE_STALL_AFTER_MS_DEFAULT 30000 /* no new low in the remaining data */
#define DRV_MIGRATE_PROGRESS_STEP          16    /* a new low is 1/16 below the previous one */

typedef struct {
    bool postcopy_allowed;
    uint32_t timeout_s;                 /* 0 = no timeout */
    uint32_t postcopy_after_iterations; /* rule 3 */
    uint64_t stall_after_ms;            /* rule 4; 0 = no stall detection */
} drv_migrate_monitor_params;

typedef struct {
    uint64_t elapsed_ms; /* since the migration call began */
    bool have_stats;     /* false: libvirt gave no job stats this time (only rules 1-2 apply) */
    uint64_t iteration;
    uint64_t data_remaining; /* bytes */
} drv_migrate_monitor_sample;

typedef enum {
    DRV_MIGRATE_CONTINUE = 0,
    DRV_MIGRATE_SWITCH_POSTCOPY,
    DRV_MIGRATE_ABORT_TIMEOUT,
    DRV_MIGRATE_ABORT_STALLED,
    DRV_MIGRATE_DECISION_LAST
} drv_migrate_decision;

typedef struct {
    bool postcopy;                /* the switch happened (drv_migrate_monitor_postcopy_started) */
    drv_migrate_decision aborted; /* ABORT_* once decided, else CONTINUE */
    bool have_prev;
    uint64_t prev_remaining;
    bool have_best;
    uint64_t best_remaining;
    uint64_t best_at_ms;
    char reason[192]; /* why the last non-CONTINUE decision was taken */
} drv_migrate_monitor_state;

/* Parameters with the defaults above for the given policy. */
drv_migrate_monitor_params drv_migrate_monitor_params_default(bool postcopy_allowed,
                                                              uint32_t timeout_s);
/* A fresh state (all zero). */
void drv_migrate_monitor_init(drv_migrate_monitor_state *st);
/* Decides on one sample; fills st->reason for every decision other than CONTINUE. */
drv_migrate_decision drv_migrate_monitor_decide(const drv_migrate_monitor_params *p,
                                                const drv_migrate_monitor_sample *s,
                                                drv_migrate_monitor_state *st);
/* The caller switched the migration to post-copy. */
void drv_migrate_monitor_postcopy_started(drv_migrate_monitor_state *st);
/* "continue", "switch-postcopy", "abort-timeout", "abort-stalled". */
const char *drv_migrate_decision_to_string(drv_migrate_decision d);

#endif
