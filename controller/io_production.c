/* io_production.c — the production table of the controller's I/O seam (ctl_io.h): etcd requests
 * on the etcd worker, agent commands through the broker, events on the PUB socket, answers on the
 * client API socket, leadership from the leader module, GLib's clocks. The only file of the seam
 * that knows those edges; main.c wires it, unit tests wire fakes instead. */
#include "io_production.h"

#include "api.h"
#include "broker.h"
#include "ctl_io.h"
#include "etcd_worker.h"
#include "events.h"
#include "leader.h"

static int s_etcd_submit(void *ctx, ctl_etcd_work_fn work, ctl_etcd_done_fn done, void *data,
                         GDestroyNotify data_free, drv_error **err)
{
    ctl *c = ctx;
    if (c->etcdq == NULL)
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0, "etcd: the controller is stopping");
    return ctl_etcd_worker_submit(c->etcdq, work, done, data, data_free, err);
}

static int s_agent_send(void *ctx, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn,
                        void *data, GDestroyNotify data_free, drv_error **err)
{
    ctl *c = ctx;
    return ctl_broker_send(c->broker, host_id, cmd, fn, data, data_free, err);
}

static bool s_agent_up(void *ctx, const char *host_id)
{
    ctl *c = ctx;
    return ctl_broker_host_up(c->broker, host_id);
}

static bool s_agents_bound(void *ctx)
{
    ctl *c = ctx;
    return c->broker != NULL && ctl_broker_socket(c->broker) != NULL;
}

static void s_publish(void *ctx, const char *topic, const char *type, json_object *object)
{
    ctl *c = ctx;
    ctl_events_publish(c->events, topic, type, object);
}

static void s_answer(void *ctx, const char *client, const char *verb, int status, const char *kind,
                     const char *error, const char *json)
{
    ctl_api_answer(ctx, client, verb, status, kind, error, json);
}

static bool s_leading(void *ctx)
{
    ctl *c = ctx;
    return ctl_leader_is(c->leader);
}

static int64_t s_now_ms(void *ctx)
{
    (void)ctx;
    return g_get_monotonic_time() / 1000;
}

static int64_t s_wall_ms(void *ctx)
{
    (void)ctx;
    return g_get_real_time() / 1000;
}

static const ctl_io s_production = {
    .etcd_submit = s_etcd_submit,
    .agent_send = s_agent_send,
    .agent_up = s_agent_up,
    .agents_bound = s_agents_bound,
    .publish = s_publish,
    .answer = s_answer,
    .leading = s_leading,
    .now_ms = s_now_ms,
    .wall_ms = s_wall_ms,
};

void ctl_io_use_production(ctl *c)
{
    c->io = &s_production;
    c->io_ctx = c;
}
