/* agent.h — drover-agent's main loop: the DEALER link to the controller (register, heartbeats,
 * liveness, reconnect with capped backoff), command dispatch with the reply cache and command
 * deadlines (expires_at_ms), forwarding of libvirt events, and libvirtd reconnects.
 *
 * The loop never calls libvirt (Redis ae.c/bio.c): every command and every inventory runs on a
 * bounded GThreadPool ([agent] worker_threads), connecting to and disconnecting from libvirtd on a
 * one-thread pool of their own; results come back as completions through a queue and an eventfd.
 * So a hung libvirtd or a long domain job never stops heartbeats. A command still waiting when more
 * than [agent] command_queue_limit wait is refused unrun. Only the thread that calls drv_agent_run
 * touches the ZeroMQ socket. */
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
/* Drops queued commands unrun, cancels running migrations, waits (30 s at most) for running
 * tasks, closes the socket with linger 0, shuts the context down before terminating it, frees the
 * pools and closes libvirt. A task still stuck in libvirt after the wait is left to the process
 * exit (the agent is then not freed). NULL-safe. */
void drv_agent_destroy(drv_agent **self_p);

#endif
