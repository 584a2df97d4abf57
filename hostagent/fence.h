/* fence.h — the agent's self-fence timing (docs/ha.md), pure: the clock is passed in.
 *
 * The agent renews its own etcd lease (TTL lease_ttl_s) about every second. It fences — destroys
 * its HA guests — when no renewal has succeeded for fence_after_s, measured from when the last
 * successful keep-alive was SENT (etcd renewed the lease no earlier than that), or at once when
 * etcd says the lease is gone. The lease can expire no earlier than lease_ttl_s after that send, so
 * with lease_ttl_s ≥ fence_after_s + DRV_FENCE_MARGIN_S the guests are gone before any controller
 * can see the lease expired and restart them elsewhere. */
#ifndef DROVER_AGENT_FENCE_H
#define DROVER_AGENT_FENCE_H

#include "error.h"

#include <stdbool.h>
#include <stdint.h>

/* Time the agent keeps between fencing and the earliest possible expiry: destroying the guests
 * (1–2 s each on the testbed, in parallel) and a scheduling delay. */
#define DRV_FENCE_MARGIN_S 4

typedef struct {
    int64_t fence_after_ms;
    int64_t lease_ttl_ms;
} drv_fence_cfg;

/* DRV_ERR_INVALID naming both settings when the TTL leaves less than the margin. */
int drv_fence_cfg_check(const drv_fence_cfg *cfg, drv_error **err);

typedef struct {
    int64_t last_renew_sent_ms; /* monotonic: send time of the last successful renewal */
    bool lease_lost;            /* etcd answered that the lease no longer exists */
    bool fenced;                /* this episode already fenced (until a renewal succeeds) */
} drv_fence_state;

/* True when the agent must fence now: not yet fenced in this episode, and the lease is lost or
 * now - last_renew_sent_ms ≥ fence_after_ms. */
bool drv_fence_due(const drv_fence_cfg *cfg, const drv_fence_state *st, int64_t now_ms);
/* Milliseconds until drv_fence_due could become true (0 when due, INT64_MAX when fenced). */
int64_t drv_fence_wait_ms(const drv_fence_cfg *cfg, const drv_fence_state *st, int64_t now_ms);
/* A renewal sent at sent_ms succeeded: the episode ends (a later silence fences again). */
void drv_fence_renewed(drv_fence_state *st, int64_t sent_ms);
/* At start: the monotonic time of the last renewal a previous agent process made (it persisted
 * its wall-clock time last_wall_ms; 0 = none known, which counts as renewed now). A restarted agent
 * thus fences at once when its predecessor's lease may already have run out. */
int64_t drv_fence_start_renewed_ms(int64_t now_ms, int64_t now_wall_ms, int64_t last_wall_ms);

#endif
