/* ctl_io.h — the controller's seam to the outside world (SQLite's VFS, Lua's allocator): one small
 * table of function pointers with a context. The runners (migrate, drain, reconcile, placement,
 * lifecycle, HA) and the verbs reach etcd, the agents, the event socket, the clients' answers and
 * the clock only through the ctl's table, by way of the helpers below; production wires
 * ctl_io_use_production() (io_production.h) (etcd worker, broker, PUB socket, GLib clocks), a unit
 * test wires its fakes (tests/controller/fake_io.h) and injects faults there: etcd completions
 * withheld, a lost agent reply, a clock moved by hand. docs/controller.md "The I/O seam". */
#ifndef DROVER_CTL_IO_H
#define DROVER_CTL_IO_H

#include "agent_cmd.h"
#include "ctl.h"
#include "etcd_worker.h"

#include <json-c/json.h>

struct ctl_io {
    /* An etcd request: work runs where etcd may be waited on (production: the etcd worker thread)
     * with a ctl_store, done runs later on the loop with loop_ctx = the ctl. Same contract as
     * ctl_etcd_worker_submit (refusal: -1, done never called, data_free is the caller's). */
    int (*etcd_submit)(void *ctx, ctl_etcd_work_fn work, ctl_etcd_done_fn done, void *data,
                       GDestroyNotify data_free, drv_error **err);
    /* A command to an agent; fn is called exactly once (its reply, or a synthesized
     * unknown_outcome answer once the command's deadline passed). Same contract as
     * ctl_broker_send. */
    int (*agent_send)(void *ctx, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn,
                      void *data, GDestroyNotify data_free, drv_error **err);
    /* True when the host is registered and reachable (ctl_broker_host_up). */
    bool (*agent_up)(void *ctx, const char *host_id);
    /* True while the agents' socket is bound (a leader that hears its agents): the runners
     * take jobs over only then. */
    bool (*agents_bound)(void *ctx);
    /* An event on the PUB socket; takes object (ctl_events_publish). */
    void (*publish)(void *ctx, const char *topic, const char *type, json_object *object);
    /* The answer to a client's request (status 0 ok, 1 failed, 2 usage, 3 unknown outcome; json
     * the document of an ok, kind/error those of a failure); called once per request. */
    void (*answer)(void *ctx, const char *client, const char *verb, int status, const char *kind,
                   const char *error, const char *json);
    /* True while this controller holds the leader lease (ctl_leader_is). */
    bool (*leading)(void *ctx);
    /* Monotonic and wall-clock milliseconds. */
    int64_t (*now_ms)(void *ctx);
    int64_t (*wall_ms)(void *ctx);
};

/* The helpers every caller uses (they go through c->io with c->io_ctx). */
int ctl_send(ctl *c, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn, void *data,
             GDestroyNotify data_free, drv_error **err);
bool ctl_host_up(ctl *c, const char *host_id);
bool ctl_agents_bound(ctl *c);
void ctl_publish(ctl *c, const char *topic, const char *type, json_object *object);

#endif
