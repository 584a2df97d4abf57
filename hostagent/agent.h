/* agent.h — drover-agent's main loop: the DEALER link to the controller (register, heartbeats,
 * liveness, reconnect with capped backoff), command dispatch with the reply cache, worker threads
 * for long commands, forwarding of libvirt events, and libvirtd reconnects. Only the thread that
 * calls drv_agent_run touches the ZeroMQ socket; other threads hand it packed messages through a
 * queue and an eventfd. */
#ifndef DROVER_AGENT_AGENT_H
#define DROVER_AGENT_AGENT_H

#include "error.h"
#include "options.h"

typedef struct drv_agent drv_agent;

/* Creates the agent (ZeroMQ context, libvirt handle and its event thread); connects nothing yet.
 * opts is borrowed and must outlive the agent. */
drv_agent *drv_agent_new(const drv_agent_options *opts, drv_error **err);
/* Runs until signal_fd (a signalfd for SIGTERM/SIGINT) becomes readable. Returns 0. */
int drv_agent_run(drv_agent *self, int signal_fd);
/* Cancels running migrations, waits (bounded) for workers, closes the socket with linger 0,
 * shuts the context down before terminating it, closes libvirt. NULL-safe. */
void drv_agent_destroy(drv_agent **self_p);

#endif
