/* clock_skew.h — how far a host's wall clock is from the controller's, estimated from the agent's
 * own time in its Register and Heartbeat messages (pure). A sample is the agent's send time minus
 * this controller's time when it read the message: the message's transit and queueing only lower
 * it, so every sample, and their maximum, is a lower bound of (host clock − controller clock). A
 * command's expiry stated in the host's clock with that bound is never later than the controller
 * meant (the agent refuses it no later than intended; docs/protocol.md). */
#ifndef DROVER_CTL_CLOCK_SKEW_H
#define DROVER_CTL_CLOCK_SKEW_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_CLOCK_SKEW_SAMPLES 8

typedef struct {
    int64_t samples[CTL_CLOCK_SKEW_SAMPLES];
    unsigned n;    /* samples held (≤ CTL_CLOCK_SKEW_SAMPLES) */
    unsigned next; /* where the next one goes (a ring: the last CTL_CLOCK_SKEW_SAMPLES) */
} ctl_clock_skew;

/* Forgets every sample (a new agent process: a new clock, perhaps). */
void ctl_clock_skew_reset(ctl_clock_skew *k);
/* One message: the agent's wall ms when it sent it (0 = the agent does not say: ignored) and
 * this controller's wall ms when it read it. */
void ctl_clock_skew_add(ctl_clock_skew *k, int64_t agent_wall_ms, int64_t ctl_wall_ms);
/* The estimate (the largest recent sample), false when none is known. */
bool ctl_clock_skew_get(const ctl_clock_skew *k, int64_t *ret_ms);
/* A controller wall-clock time (0 = none) in the host's clock: + the estimate, when known. */
int64_t ctl_clock_skew_to_host(const ctl_clock_skew *k, int64_t ctl_wall_ms);

#endif
