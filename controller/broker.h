/* broker.h — the agents' side of the controller: a ROUTER socket (agent_bind) where each agent's
 * DEALER (identity = host id) registers, heartbeats, answers commands and forwards libvirt events.
 * Tracks liveness (unreachable after liveness × interval without traffic; only transitions are
 * stored) and the commands in flight (each answered by exactly one reply, or failed after
 * command_timeout_ms or when its host drops). protobuf-c types stay in broker.c. */
#ifndef DROVER_CTL_BROKER_H
#define DROVER_CTL_BROKER_H

#include "agent_cmd.h"
#include "ctl.h"

/* What the broker tells the rest of the controller: the consumers main.c wires (the transport
 * does not know them). Every member may be NULL (nothing to tell). */
typedef struct {
    /* a host reachable again / registered: resolve the commands whose outcome was unknown */
    void (*host_back)(ctl *c, ctl_host *h);
    /* a host's reachability or libvirt connection changed */
    void (*reachability)(ctl *c, ctl_host *h);
    /* a host's inventory arrived (registered_now: with its registration) */
    void (*inventory)(ctl *c, ctl_host *h, bool registered_now);
    /* a libvirt lifecycle event of a domain (kind: the wire's EventKind) */
    void (*domain_event)(ctl *c, ctl_host *h, int kind, const char *domain, const char *detail);
    /* a reply to no pending command: true when it answers one whose outcome was declared unknown
     * (then late is called with it) */
    bool (*late_watched)(ctl *c, const char *command_id, const char *host);
    void (*late)(ctl *c, const char *host, const char *command_id, const ctl_reply *rep);
    /* the broker stopped (this controller stepped down): no later answer will come */
    void (*stopped)(ctl *c);
    /* a migration's progress from its source's agent */
    void (*migrate_progress)(ctl *c, const char *host_id, const ctl_migrate_progress *p);
} ctl_broker_handlers;

/* handlers is borrowed and must outlive the broker (main.c's static table); NULL: tell nobody. */
ctl_broker *ctl_broker_new(ctl *c, const ctl_broker_handlers *handlers);
void ctl_broker_destroy(ctl_broker **self_p);
/* Binds the ROUTER on agent_bind (when becoming leader). Returns 0 when bound, 1 when the
 * endpoint is still held by this process's own previous ROUTER (zmq_close() releases the
 * listening socket later, on ZeroMQ's I/O thread, so a leadership regained at once can find it
 * still bound): call again on a later turn of the loop, within CTL_BROKER_REBIND_MS of the stop.
 * -1 with *err on any other failure (or after that time). */
int ctl_broker_start(ctl_broker *self, drv_error **err);
#define CTL_BROKER_REBIND_MS 10000
/* Closes the ROUTER (stepping down): fails the commands in flight, forgets registrations. The
 * agents, whose DEALER may also be connected to the other controllers, see the connection close
 * and send only to the one that binds next: a follower must not keep the endpoint bound. */
void ctl_broker_stop(ctl_broker *self);
/* The ROUTER socket for zmq_poll, NULL when not started. */
void *ctl_broker_socket(ctl_broker *self);
/* Handles every queued agent message (non-blocking). */
void ctl_broker_handle(ctl_broker *self);
/* Timers: heartbeats out, liveness, command deadlines. Returns ms until the next timer. */
int64_t ctl_broker_tick(ctl_broker *self, int64_t now_ms);
/* Sends a command to a registered, reachable host. On failure (unknown/unreachable host, send
 * error) returns -1 with an error naming the host and does NOT call fn. */
int ctl_broker_send(ctl_broker *self, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn,
                    void *data, GDestroyNotify data_free, drv_error **err);
/* True when the host is registered with this process and reachable. */
bool ctl_broker_host_up(ctl_broker *self, const char *host_id);

#endif
