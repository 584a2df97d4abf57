/* lease.h — the agent's own etcd lease (docs/ha.md), kept alive on a thread of its own so that etcd
 * being slow or unreachable never delays the agent's loop (the loop only reads a snapshot).
 *
 * The thread grants a lease of ttl_s, publishes it as `<prefix>fence/<host>` = {"lease_id",
 * "ttl_s", "fence_after_s"} (a key WITHOUT the lease: the controller reads the id and asks etcd
 * whether that lease still lives), and sends a keep-alive every second, each bounded by one
 * second. It never revokes the lease (an agent that stops leaves its guests running; the lease
 * must not expire early). A lease etcd no longer knows is counted as lost and a new one granted.
 *
 * It also owns the state file (state_path, may be NULL): the lease id, the wall-clock time of the
 * last renewal and the HA domains, written after each change, so a restarted agent resumes its
 * lease — or fences at once when it ran out (fence.h). */
#ifndef DROVER_AGENT_LEASE_H
#define DROVER_AGENT_LEASE_H

#include "error.h"
#include "etcd.h"

#include <stdint.h>

typedef struct drv_lease drv_lease;

typedef struct {
    int64_t lease_id;           /* 0 while none is held */
    int64_t last_renew_sent_ms; /* monotonic send time of the last successful grant/renewal */
    uint64_t lost;              /* leases etcd said were gone, since start (a counter) */
    uint64_t renewals;
} drv_lease_status;

/* What a previous agent process left in its state file (all zero/NULL when none). */
typedef struct {
    int64_t lease_id;
    int64_t last_renew_wall_ms;
    char **ha_domains; /* NULL-terminated or NULL */
} drv_lease_saved;

/* Reads the state file (missing or unreadable → all zero, not an error). Owned strings. */
void drv_lease_saved_read(const char *state_path, drv_lease_saved *ret);
void drv_lease_saved_clear(drv_lease_saved *s);

/* Starts the thread. endpoints NULL-terminated; resume_lease_id / resume_wall_ms: the saved lease
 * to keep alive first and its last renewal (0 = grant a new one). Returns NULL with an error when
 * no etcd client can be made. */
drv_lease *drv_lease_new(char *const *endpoints, const drv_etcd_tls *tls, const char *prefix,
                         const char *host_id, int64_t ttl_s, int64_t fence_after_s,
                         const char *state_path, int64_t resume_lease_id, int64_t resume_wall_ms,
                         drv_error **err);
/* Stops the thread (within about a second) without revoking the lease; NULL-safe. */
void drv_lease_destroy(drv_lease **self_p);
void drv_lease_status_get(drv_lease *self, drv_lease_status *ret);
/* The HA domains to persist (copied). */
void drv_lease_set_ha(drv_lease *self, char *const *names);

#endif
