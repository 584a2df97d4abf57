/* metrics.h — the controller's Prometheus endpoint: GET /metrics over HTTP (libmicrohttpd), off
 * unless [metrics] listen is set, refused outside loopback unless [metrics] allow_remote = true.
 *
 * It runs in the main loop, never on a thread of its own: libmicrohttpd is started without an
 * internal thread (MHD_USE_EPOLL), its one epoll descriptor is polled with the loop's sockets and
 * ctl_metrics_run() does the HTTP work that is ready (non-blocking sockets). A request renders
 * the text from the loop's own state (metrics_render.c), so nothing is shared across threads and
 * no lock is taken; the render is a walk over the cached hosts, domains and the stats window. */
#ifndef DROVER_CTL_METRICS_H
#define DROVER_CTL_METRICS_H

#include "ctl.h"
#include "error.h"

#include <glib.h>
#include <stdint.h>

/* NULL with *err unset when [metrics] listen is unset (off); NULL with *err set when the address
 * is invalid, outside loopback without allow_remote, or cannot be bound. */
ctl_metrics *ctl_metrics_new(ctl *c, drv_error **err);
void ctl_metrics_destroy(ctl_metrics **self_p);
/* The descriptor to poll for input (epoll), and the port actually bound. */
int ctl_metrics_fd(const ctl_metrics *self);
unsigned ctl_metrics_port(const ctl_metrics *self);
/* Does the HTTP work that is ready; returns ms until it wants to run again (INT64_MAX: only when
 * the descriptor is readable). */
int64_t ctl_metrics_run(ctl_metrics *self);
uint64_t ctl_metrics_requests(const ctl_metrics *self);

/* Splits "HOST:PORT" ("[V6]:PORT") into a socket address; *ret_loopback says whether it is in
 * 127.0.0.0/8 or ::1. Returns 0, or -1 with an error. (Exposed for the unit test.) */
struct sockaddr_storage;
int ctl_metrics_parse_listen(const char *listen, struct sockaddr_storage *ret, bool *ret_loopback,
                             drv_error **err);

/* The Prometheus text exposition (version 0.0.4) of the controller's state at now_ms: cluster,
 * hosts, domains, jobs, etcd, loop, agents, commands (docs/observability.md lists the series). */
GString *ctl_metrics_render(ctl *c, int64_t now_ms);

#endif
