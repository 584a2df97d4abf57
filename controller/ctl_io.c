/* ctl_io.c — see ctl_io.h: the helpers every caller uses, through c->io (the production table
 * is io_production.c). */
#include "ctl_io.h"

int ctl_send(ctl *c, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn, void *data,
             GDestroyNotify data_free, drv_error **err)
{
    return c->io->agent_send(c->io_ctx, host_id, cmd, fn, data, data_free, err);
}

bool ctl_host_up(ctl *c, const char *host_id)
{
    return c->io->agent_up(c->io_ctx, host_id);
}

bool ctl_agents_bound(ctl *c)
{
    return c->io->agents_bound(c->io_ctx);
}

void ctl_publish(ctl *c, const char *topic, const char *type, json_object *object)
{
    c->io->publish(c->io_ctx, topic, type, object);
}

int64_t ctl_now_ms(const ctl *c)
{
    return c->io->now_ms(c->io_ctx);
}

int64_t ctl_wall_ms(const ctl *c)
{
    return c->io->wall_ms(c->io_ctx);
}

bool ctl_is_leader(const ctl *c)
{
    return c->io->leading(c->io_ctx);
}
