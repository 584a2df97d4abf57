/* etcd_worker.h — etcd off the controller's loop (Redis bio.c; CZMQ zactor). A worker thread owns
 * its own ctl_store (its own libcurl handle) and runs requests one at a time, in the order they
 * were submitted, so writes keep their order per key (and across keys). Each request is a pair of
 * functions: `work` runs on the worker thread and may block on etcd (it must not touch the model
 * or anything else the loop owns: give it copies); `done` runs later on the loop thread, from
 * ctl_etcd_worker_dispatch, with the result. The loop polls ctl_etcd_worker_fd().
 *
 * The queue is bounded; while etcd has been unreachable for longer than `refuse_after_ms`, new
 * requests are refused at once (DRV_ERR_UNAVAILABLE naming how long), so a client gets a clear
 * error instead of a write that may happen minutes later. A request that waited in the queue past
 * its own deadline is not sent: its done gets DRV_ERR_TIMEOUT with `attempted` false, meaning etcd
 * never saw it. */
#ifndef DROVER_CTL_ETCD_WORKER_H
#define DROVER_CTL_ETCD_WORKER_H

#include "counters.h"
#include "error.h"
#include "store.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ctl_etcd_worker ctl_etcd_worker;

/* Runs on the worker. Returns 0 or -1 with *err set. */
typedef int (*ctl_etcd_work_fn)(ctl_store *store, void *data, drv_error **err);
/* Runs on the loop. err is NULL on success (borrowed otherwise). attempted is false only when the
 * request was never sent to etcd (expired in the queue, worker shutting down). */
typedef void (*ctl_etcd_done_fn)(void *loop_ctx, void *data, const drv_error *err, bool attempted);

typedef struct {
    const char *name;          /* thread name, in messages */
    size_t max_queue;          /* requests waiting at most */
    int64_t refuse_after_ms;   /* etcd unreachable this long → refuse new requests */
    int64_t queue_deadline_ms; /* a request not started within this → not sent (0 = none) */
} ctl_etcd_worker_opts;

/* Starts the thread with its own store (same endpoints and prefix). loop_ctx is handed to every
 * done. */
ctl_etcd_worker *ctl_etcd_worker_new(char *const *endpoints, const char *prefix, long timeout_ms,
                                     const drv_etcd_tls *tls, const ctl_etcd_worker_opts *opts,
                                     void *loop_ctx, drv_error **err);
/* Stops the thread: requests not yet started get done(attempted=false) on the next dispatch or at
 * destroy; waits for the one in progress (bounded by the etcd timeout). */
void ctl_etcd_worker_destroy(ctl_etcd_worker **self_p);

/* Queues a request. On refusal (queue full, etcd unreachable past the limit) returns -1 with an
 * error and does not call done; data_free(data) is then the caller's. On success the worker owns
 * data and frees it with data_free after done ran. */
int ctl_etcd_worker_submit(ctl_etcd_worker *self, ctl_etcd_work_fn work, ctl_etcd_done_fn done,
                           void *data, GDestroyNotify data_free, drv_error **err);
/* Readable when completions are waiting. */
int ctl_etcd_worker_fd(const ctl_etcd_worker *self);
/* Runs every waiting completion's done on the calling (loop) thread. Returns how many ran. */
unsigned ctl_etcd_worker_dispatch(ctl_etcd_worker *self);
/* Requests queued or running. */
unsigned ctl_etcd_worker_pending(const ctl_etcd_worker *self);
/* Monotonic ms since etcd last answered a request successfully, 0 when the last one succeeded
 * (or none failed yet). */
int64_t ctl_etcd_worker_unreachable_ms(const ctl_etcd_worker *self);

/* Durations of the requests that reached etcd (each request's work on the worker, from send to
 * answer); updated on the loop as completions are dispatched. */
const ctl_hist *ctl_etcd_worker_latency(const ctl_etcd_worker *self);

#endif
