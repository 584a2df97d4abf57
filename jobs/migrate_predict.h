/* migrate_predict.h — predicts how a live migration will go before it starts (issue 15), and picks
 * the policy per VM within what its migration policy allows. Pure: numbers in, a prediction out. No
 * libvirt, no clock, no allocation.
 *
 * The model (QEMU's pre-copy as QEMU 7.2 runs it, docs/migration.md "Prediction"):
 *   - pass 0 sends the guest's memory M at the bandwidth B (the link's, measured from completed
 *     migrations, or the policy's cap when lower);
 *   - while a pass of t seconds runs the guest dirties min(W, D·t) bytes (D: the dirty rate
 * measured before the move over a period P, W = min(M, D·P): the working set), which the next pass
 *     sends;
 *   - pre-copy ends when what is left fits in the max downtime at B: the final pause is
 *     left / B + the switch-over cost (QEMU's own test leaves that cost out, so the real pause can
 *     exceed the max downtime: the prediction says so);
 *   - auto-converge: QEMU throttles the vCPUs each time two passes dirtied more than half of what
 *     they sent, starting at 20 % and adding 10 % up to 99 % (cpu-throttle-initial/-increment,
 *     tailslow off); a throttled guest dirties D·BURST·(1 - throttle) (see
 * DRV_PREDICT_THROTTLE_BURST);
 *   - post-copy: the agent switches once pre-copy stops shrinking after 3 passes
 *     (migrate_monitor.h); then the guest runs on the destination and the rest (at most W) is
 * pulled at B; the pause is the switch-over cost only. Every time includes the per-migration fixed
 * cost (connection, destination QEMU start, finish), measured per host pair or the default below.
 *
 * Choice, within what is allowed: pre-copy when it converges within the max downtime (and the
 * timeout); else auto-converge when allowed and it converges; else post-copy when allowed; else
 * "cannot converge" (the reason says which limit). Auto-converge is preferred to post-copy: it
 * slows the guest for a while but never leaves it split across two hosts. */
#ifndef DROVER_JOBS_MIGRATE_PREDICT_H
#define DROVER_JOBS_MIGRATE_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

/* libvirt's / QEMU's default max downtime when a policy sets none. */
#define DRV_PREDICT_DEFAULT_DOWNTIME_MS 300
/* The per-migration fixed cost when no completed migration of the pair measured one: peer-to-peer
 * set-up and finish measured on the testbed (docs/migration.md). */
#define DRV_PREDICT_DEFAULT_FIXED_MS 1400
/* The pause's own cost beyond the last dirty pages (device state, the last bitmap sync, the
 * destination taking over) when no completed migration of the pair measured one: an idle 128 MiB
 * TCG guest paused 284 ms on the testbed (tests/jobs/fixtures/migrations.txt). */
#define DRV_PREDICT_DEFAULT_SWITCHOVER_MS 280
/* The dirty-rate calculation's period when none is given (virDomainStartDirtyRateCalc seconds). */
#define DRV_PREDICT_DEFAULT_PERIOD_MS 1000
/* A throttled guest's dirty rate is the measured one times this, times (1 - throttle): the 1 s
 * calculation counts distinct pages, so a guest that re-dirties its working set many times a
 * second looks slower than it runs; fitted on the recorded auto-converge migration (throttle 90 %
 * after 40 s, 54 MiB still dirty at 40 MiB/s). */
#define DRV_PREDICT_THROTTLE_BURST 4
/* Passes after which a pre-copy that has not converged is given up (QEMU itself never gives up). */
#define DRV_PREDICT_MAX_PASSES             30
#define DRV_PREDICT_THROTTLE_INITIAL_PCT   20
#define DRV_PREDICT_THROTTLE_INCREMENT_PCT 10
#define DRV_PREDICT_THROTTLE_MAX_PCT       99
#define DRV_PREDICT_POSTCOPY_AFTER_PASSES  3

typedef struct {
    uint64_t memory_bytes;    /* the guest's memory */
    uint64_t dirty_bps;       /* measured dirty rate, bytes/s (0: idle) */
    uint64_t dirty_period_ms; /* the period it was measured over; 0 = 1000. The working set (what
                                 can be dirty at once) is dirty_bps x this, at most the memory */
    uint64_t bandwidth_bps;   /* the link's, bytes/s (measured); 0 = unknown */
    uint64_t fixed_ms;        /* per-migration fixed cost; 0 = DRV_PREDICT_DEFAULT_FIXED_MS */
    uint64_t switchover_ms;   /* the pause's own cost; 0 = DRV_PREDICT_DEFAULT_SWITCHOVER_MS */
} drv_predict_input;

typedef struct {
    uint64_t max_downtime_ms; /* 0 = DRV_PREDICT_DEFAULT_DOWNTIME_MS */
    uint64_t bandwidth_bps;   /* the policy's cap, bytes/s; 0 = none */
    bool allow_auto_converge;
    bool allow_postcopy;
    uint32_t timeout_s; /* 0 = none */
} drv_predict_policy;

typedef enum {
    DRV_PREDICT_PRECOPY = 0,   /* "pre-copy": converges as it is */
    DRV_PREDICT_AUTO_CONVERGE, /* "auto-converge": converges once throttled (throttle_pct) */
    DRV_PREDICT_POSTCOPY,      /* "post-copy": needs the switch to post-copy */
    DRV_PREDICT_CANNOT,        /* "cannot-converge": not within the limits the policy allows */
    DRV_PREDICT_UNKNOWN,       /* "unknown": no bandwidth known, nothing predicted */
    DRV_PREDICT_VERDICT_LAST
} drv_predict_verdict;

typedef struct {
    drv_predict_verdict verdict;
    uint32_t passes;        /* memory passes, the last (stop-and-copy) one included */
    uint32_t throttle_pct;  /* auto-converge: the throttle at the end; else 0 */
    uint64_t time_ms;       /* whole migration, fixed cost included */
    uint64_t downtime_ms;   /* the final pause */
    uint64_t bytes;         /* memory sent */
    uint64_t bandwidth_bps; /* the bandwidth the prediction used */
    char reason[200];       /* one line: why this verdict */
} drv_predict;

/* Predicts pre-copy alone, with auto-converge or with post-copy (mode = the verdict to try:
 * PRECOPY, AUTO_CONVERGE or POSTCOPY), ignoring what the policy allows. Fills *ret; its verdict is
 * mode when that converges within the max downtime (post-copy: always, with the pull time), else
 * CANNOT; UNKNOWN when no bandwidth is known. */
void drv_predict_mode(const drv_predict_input *in, const drv_predict_policy *pol,
                      drv_predict_verdict mode, drv_predict *ret);

/* Picks the policy (see the top): *ret is the first of pre-copy, auto-converge (when allowed),
 * post-copy (when allowed) that converges within the max downtime and the timeout; else CANNOT
 * with the pre-copy numbers and the reason. */
void drv_predict_choose(const drv_predict_input *in, const drv_predict_policy *pol,
                        drv_predict *ret);

/* The libvirt policy a verdict applies, within what is allowed: pre-copy → no auto-converge
 * (post-copy stays allowed when it was, as the agent monitor's fallback should the guest dirty
 * faster than measured); auto-converge → auto-converge (post-copy as allowed); post-copy →
 * post-copy without auto-converge (no throttling of a guest that will be pulled anyway);
 * cannot-converge and unknown → what is allowed, unchanged. */
void drv_predict_apply(drv_predict_verdict v, bool allow_auto_converge, bool allow_postcopy,
                       bool *ret_auto_converge, bool *ret_postcopy);

/* "pre-copy", "auto-converge", "post-copy", "cannot-converge", "unknown". */
const char *drv_predict_verdict_to_string(drv_predict_verdict v);
/* The inverse; -1 for an unknown name. */
int drv_predict_verdict_from_string(const char *name, drv_predict_verdict *ret);

/* The relative error of a prediction against a measured value, in per mille of the measured value
 * (|predicted - measured| * 1000 / measured); 0 when measured is 0 and predicted too, else 1000
 * when measured is 0. */
uint32_t drv_predict_error_permille(uint64_t predicted, uint64_t measured);

/* The fixed cost a completed migration shows: its time beyond its bytes at the bandwidth and its
 * pause (time_ms - bytes / bandwidth - downtime_ms), 0 when that is negative or nothing is known.
 */
uint64_t drv_predict_fixed_ms(uint64_t time_ms, uint64_t bytes, uint64_t downtime_ms,
                              uint64_t bandwidth_bps);

#endif
