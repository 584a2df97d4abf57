/* migrate_predict.c — see migrate_predict.h. */
#include "migrate_predict.h"

#include <glib.h>
#include <inttypes.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

static const char *const s_names[DRV_PREDICT_VERDICT_LAST] = {
    [DRV_PREDICT_PRECOPY] = "pre-copy",   [DRV_PREDICT_AUTO_CONVERGE] = "auto-converge",
    [DRV_PREDICT_POSTCOPY] = "post-copy", [DRV_PREDICT_CANNOT] = "cannot-converge",
    [DRV_PREDICT_UNKNOWN] = "unknown",
};

const char *drv_predict_verdict_to_string(drv_predict_verdict v)
{
    return (unsigned)v < DRV_PREDICT_VERDICT_LAST ? s_names[v] : "unknown";
}

int drv_predict_verdict_from_string(const char *name, drv_predict_verdict *ret)
{
    for (int i = 0; name && i < DRV_PREDICT_VERDICT_LAST; i++)
        if (strcmp(name, s_names[i]) == 0) {
            *ret = (drv_predict_verdict)i;
            return 0;
        }
    return -1;
}

uint32_t drv_predict_error_permille(uint64_t predicted, uint64_t measured)
{
    if (measured == 0)
        return predicted == 0 ? 0 : 1000;
    uint64_t d = predicted > measured ? predicted - measured : measured - predicted;
    double e = (double)d * 1000.0 / (double)measured;
    return e > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(e + 0.5);
}

/* The bandwidth the migration gets: the link's, or the policy's cap when lower. 0 = unknown. */
static uint64_t s_bandwidth(const drv_predict_input *in, const drv_predict_policy *pol)
{
    uint64_t b = in->bandwidth_bps;
    if (pol->bandwidth_bps > 0 && (b == 0 || pol->bandwidth_bps < b))
        b = pol->bandwidth_bps;
    return b;
}

static uint64_t s_ms(double s)
{
    return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
}

/* The simulation's state: where the passes have got to. */
typedef struct {
    double bw;         /* bytes/s */
    double dirty;      /* bytes/s */
    double ws;         /* bytes */
    double down_s;     /* max downtime */
    double switch_s;   /* the pause's own cost */
    double left;       /* bytes the next pass sends */
    double elapsed_s;  /* since the first pass began (fixed cost excluded) */
    double sent;       /* bytes */
    uint32_t passes;   /* passes sent */
    uint32_t throttle; /* percent */
    uint32_t high;     /* passes that dirtied more than half of what they sent */
} s_sim;

static void s_sim_init(s_sim *s, const drv_predict_input *in, const drv_predict_policy *pol,
                       uint64_t bw)
{
    memset(s, 0, sizeof(*s));
    s->bw = (double)bw;
    s->dirty = (double)in->dirty_bps;
    double period_s =
        (double)(in->dirty_period_ms ? in->dirty_period_ms : DRV_PREDICT_DEFAULT_PERIOD_MS) /
        1000.0;
    s->ws = MIN((double)in->memory_bytes, s->dirty * period_s);
    s->switch_s =
        (double)(in->switchover_ms ? in->switchover_ms : DRV_PREDICT_DEFAULT_SWITCHOVER_MS) /
        1000.0;
    s->down_s =
        (double)(pol->max_downtime_ms ? pol->max_downtime_ms : DRV_PREDICT_DEFAULT_DOWNTIME_MS) /
        1000.0;
    s->left = (double)in->memory_bytes;
}

/* True when what is left fits in the max downtime: pre-copy stops and copies it. */
static bool s_sim_fits(const s_sim *s)
{
    return s->left / s->bw <= s->down_s;
}

/* Sends one pass; what the guest dirtied meanwhile is left for the next. Applies QEMU's
 * auto-converge throttle when throttling. Returns the bytes dirtied. */
static double s_sim_pass(s_sim *s, bool throttling)
{
    double t = s->left / s->bw;
    double eff = s->throttle == 0
                     ? s->dirty
                     : s->dirty * DRV_PREDICT_THROTTLE_BURST * (double)(100 - s->throttle) / 100.0;
    double dirtied = MIN(s->ws, eff * t);
    s->sent += s->left;
    s->elapsed_s += t;
    s->passes++;
    if (throttling && dirtied > s->left / 2) {
        if (++s->high >= 2) {
            s->high = 0;
            s->throttle = s->throttle == 0 ? DRV_PREDICT_THROTTLE_INITIAL_PCT
                                           : MIN(s->throttle + DRV_PREDICT_THROTTLE_INCREMENT_PCT,
                                                 (uint32_t)DRV_PREDICT_THROTTLE_MAX_PCT);
        }
    }
    double prev = s->left;
    s->left = dirtied;
    return prev;
}

/* Fills ret for a pre-copy that converged now: the stop-and-copy pass. */
static void s_converged(const s_sim *s, uint64_t fixed_ms, drv_predict_verdict v, drv_predict *ret)
{
    double pause_s = s->left / s->bw;
    ret->verdict = v;
    ret->passes = s->passes + 1;
    ret->throttle_pct = s->throttle;
    ret->downtime_ms = s_ms(pause_s + s->switch_s);
    ret->time_ms = fixed_ms + s_ms(s->elapsed_s + pause_s + s->switch_s);
    ret->bytes = (uint64_t)(s->sent + s->left);
}

static void s_fill_stalled(const s_sim *s, uint64_t fixed_ms, drv_predict *ret)
{
    ret->verdict = DRV_PREDICT_CANNOT;
    ret->passes = s->passes;
    ret->throttle_pct = s->throttle;
    ret->downtime_ms = s_ms(s->left / s->bw + s->switch_s);
    ret->time_ms = fixed_ms + s_ms(s->elapsed_s);
    ret->bytes = (uint64_t)s->sent;
}

void drv_predict_mode(const drv_predict_input *in, const drv_predict_policy *pol,
                      drv_predict_verdict mode, drv_predict *ret)
{
    memset(ret, 0, sizeof(*ret));
    uint64_t bw = s_bandwidth(in, pol);
    uint64_t fixed_ms = in->fixed_ms ? in->fixed_ms : DRV_PREDICT_DEFAULT_FIXED_MS;
    ret->bandwidth_bps = bw;
    if (bw == 0) {
        ret->verdict = DRV_PREDICT_UNKNOWN;
        g_strlcpy(ret->reason, "no bandwidth known for this pair of hosts", sizeof(ret->reason));
        return;
    }
    s_sim s;
    s_sim_init(&s, in, pol, bw);
    bool throttling = mode == DRV_PREDICT_AUTO_CONVERGE;
    /* post-copy: the monitor switches at its first sample in libvirt's iteration > 3, and libvirt
     * counts pass 0 as iteration 1: once 3 passes were sent (on testbed 62 the switch came 7 s
     * into a 40 MiB/s transfer, 280 MiB sent, at "iteration 4 (> 3)") */
    uint32_t max_passes =
        mode == DRV_PREDICT_POSTCOPY ? DRV_PREDICT_POSTCOPY_AFTER_PASSES : DRV_PREDICT_MAX_PASSES;
    while (s.passes < max_passes) {
        if (s.passes > 0 && s_sim_fits(&s)) {
            s_converged(&s, fixed_ms, mode == DRV_PREDICT_POSTCOPY ? DRV_PREDICT_PRECOPY : mode,
                        ret);
            g_snprintf(ret->reason, sizeof(ret->reason),
                       "converges after %" PRIu32 " passes: %.1f MiB left fit in %.0f ms at %.1f "
                       "MiB/s%s",
                       ret->passes, s.left / MIB, s.down_s * 1000, s.bw / MIB,
                       s.throttle ? " once throttled" : "");
            return;
        }
        double prev = s_sim_pass(&s, throttling);
        /* No progress and no throttle left to add: it never will. */
        if (mode != DRV_PREDICT_POSTCOPY && s.passes >= 2 && s.left >= prev &&
            (!throttling || s.throttle >= DRV_PREDICT_THROTTLE_MAX_PCT))
            break;
    }
    if (mode == DRV_PREDICT_POSTCOPY && !s_sim_fits(&s)) {
        /* The agent's monitor samples every second: the switch comes at the first sample after
         * the passes it waits for; meanwhile pre-copy goes on at the bandwidth. */
        double switch_s = (double)(uint64_t)s.elapsed_s + 1.0;
        s.sent += (switch_s - s.elapsed_s) * s.bw;
        double pull_s = s.ws / s.bw; /* the rest, pulled / pushed at the bandwidth */
        ret->verdict = DRV_PREDICT_POSTCOPY;
        ret->passes = s.passes;
        ret->downtime_ms = s_ms(s.switch_s);
        ret->time_ms = fixed_ms + s_ms(switch_s + pull_s + s.switch_s);
        ret->bytes = (uint64_t)(s.sent + s.ws);
        g_snprintf(ret->reason, sizeof(ret->reason),
                   "switches to post-copy after %" PRIu32 " passes: %.1f MiB/s dirtied against "
                   "%.1f MiB/s",
                   s.passes, s.dirty / MIB, s.bw / MIB);
        return;
    }
    if (mode == DRV_PREDICT_POSTCOPY) {
        s_converged(&s, fixed_ms, DRV_PREDICT_PRECOPY, ret);
        g_strlcpy(ret->reason, "converges before post-copy is needed", sizeof(ret->reason));
        return;
    }
    s_fill_stalled(&s, fixed_ms, ret);
    g_snprintf(ret->reason, sizeof(ret->reason),
               "%s: %.1f MiB/s dirtied against %.1f MiB/s leaves %.1f MiB, %" PRIu64
               " ms of pause (max %.0f ms)",
               throttling ? "does not converge even throttled to 99 %"
                          : "pre-copy does not converge",
               s.dirty / MIB, s.bw / MIB, s.left / MIB, ret->downtime_ms, s.down_s * 1000);
}

/* True when p ends within the policy's timeout (none: always). */
static bool s_in_time(const drv_predict *p, const drv_predict_policy *pol)
{
    return pol->timeout_s == 0 || p->time_ms <= (uint64_t)pol->timeout_s * 1000;
}

void drv_predict_choose(const drv_predict_input *in, const drv_predict_policy *pol,
                        drv_predict *ret)
{
    drv_predict pre, ac, pc;
    drv_predict_mode(in, pol, DRV_PREDICT_PRECOPY, &pre);
    if (pre.verdict == DRV_PREDICT_UNKNOWN ||
        (pre.verdict == DRV_PREDICT_PRECOPY && s_in_time(&pre, pol))) {
        *ret = pre;
        return;
    }
    if (pol->allow_auto_converge) {
        drv_predict_mode(in, pol, DRV_PREDICT_AUTO_CONVERGE, &ac);
        if (ac.verdict != DRV_PREDICT_CANNOT && s_in_time(&ac, pol)) {
            *ret = ac;
            return;
        }
    }
    if (pol->allow_postcopy) {
        drv_predict_mode(in, pol, DRV_PREDICT_POSTCOPY, &pc);
        if (s_in_time(&pc, pol)) {
            *ret = pc;
            return;
        }
    }
    *ret = pre;
    ret->verdict = DRV_PREDICT_CANNOT;
    if (pre.verdict == DRV_PREDICT_PRECOPY) /* converges, but too late */
        g_snprintf(ret->reason, sizeof(ret->reason),
                   "pre-copy needs %" PRIu64 " ms, more than the %" PRIu32 " s timeout",
                   pre.time_ms, pol->timeout_s);
    else if (!pol->allow_auto_converge && !pol->allow_postcopy) {
        size_t n = strlen(ret->reason);
        g_strlcpy(ret->reason + n, "; the policy allows neither auto-converge nor post-copy",
                  sizeof(ret->reason) - n);
    }
}

uint64_t drv_predict_fixed_ms(uint64_t time_ms, uint64_t bytes, uint64_t downtime_ms,
                              uint64_t bandwidth_bps)
{
    if (bandwidth_bps == 0)
        return 0;
    uint64_t data_ms = s_ms((double)bytes / (double)bandwidth_bps);
    return time_ms > data_ms + downtime_ms ? time_ms - data_ms - downtime_ms : 0;
}

void drv_predict_apply(drv_predict_verdict v, bool allow_auto_converge, bool allow_postcopy,
                       bool *ret_auto_converge, bool *ret_postcopy)
{
    bool ac = allow_auto_converge, pc = allow_postcopy;
    switch (v) {
    case DRV_PREDICT_PRECOPY:
        ac = false;
        break;
    case DRV_PREDICT_AUTO_CONVERGE:
        ac = allow_auto_converge;
        break;
    case DRV_PREDICT_POSTCOPY:
        ac = false;
        pc = allow_postcopy;
        break;
    case DRV_PREDICT_CANNOT:
    case DRV_PREDICT_UNKNOWN:
    case DRV_PREDICT_VERDICT_LAST:
        break;
    }
    *ret_auto_converge = ac;
    *ret_postcopy = pc;
}
