/* cmdreply.c — see cmdreply.h. */
#include "cmdreply.h"

#include "log.h"
#include "pb.h"

#include <glib.h>

static const char *const s_kind_names[] = {
    [DROVER__COMMAND_KIND__CMD_NONE] = "none",
    [DROVER__COMMAND_KIND__CMD_DEFINE] = "define",
    [DROVER__COMMAND_KIND__CMD_UNDEFINE] = "undefine",
    [DROVER__COMMAND_KIND__CMD_CREATE] = "create",
    [DROVER__COMMAND_KIND__CMD_START] = "start",
    [DROVER__COMMAND_KIND__CMD_SHUTDOWN] = "shutdown",
    [DROVER__COMMAND_KIND__CMD_REBOOT] = "reboot",
    [DROVER__COMMAND_KIND__CMD_DESTROY] = "destroy",
    [DROVER__COMMAND_KIND__CMD_SUSPEND] = "suspend",
    [DROVER__COMMAND_KIND__CMD_RESUME] = "resume",
    [DROVER__COMMAND_KIND__CMD_MANAGEDSAVE] = "managedsave",
    [DROVER__COMMAND_KIND__CMD_SETVCPUS] = "setvcpus",
    [DROVER__COMMAND_KIND__CMD_SETMEM] = "setmem",
    [DROVER__COMMAND_KIND__CMD_ATTACH_DEVICE] = "attach-device",
    [DROVER__COMMAND_KIND__CMD_DETACH_DEVICE] = "detach-device",
    [DROVER__COMMAND_KIND__CMD_DUMPXML] = "dumpxml",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_CREATE] = "snapshot-create",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST] = "snapshot-list",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_REVERT] = "snapshot-revert",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_DELETE] = "snapshot-delete",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_REDEFINE] = "snapshot-redefine",
    [DROVER__COMMAND_KIND__CMD_DOMSTATS] = "domstats",
    [DROVER__COMMAND_KIND__CMD_MIGRATE] = "migrate",
    [DROVER__COMMAND_KIND__CMD_MIGRATE_CANCEL] = "migrate-cancel",
    [DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE] = "storage-mark-write",
    [DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK] = "storage-mark-check",
    [DROVER__COMMAND_KIND__CMD_INVENTORY] = "inventory",
    [DROVER__COMMAND_KIND__CMD_SNAPSHOT_DUMPXML] = "snapshot-dumpxml",
    [DROVER__COMMAND_KIND__CMD_MANAGEDSAVE_REMOVE] = "managedsave-remove",
    [DROVER__COMMAND_KIND__CMD_SAVE] = "save",
    [DROVER__COMMAND_KIND__CMD_RESTORE] = "restore",
    [DROVER__COMMAND_KIND__CMD_CONSOLE] = "console",
    [DROVER__COMMAND_KIND__CMD_HA_SET] = "ha-set",
    [DROVER__COMMAND_KIND__CMD_POOL_DEFINE] = "pool-define",
    [DROVER__COMMAND_KIND__CMD_POOL_INFO] = "pool-info",
    [DROVER__COMMAND_KIND__CMD_VOL_CREATE] = "vol-create",
    [DROVER__COMMAND_KIND__CMD_VOL_DELETE] = "vol-delete",
    [DROVER__COMMAND_KIND__CMD_VOL_INFO] = "vol-info",
    [DROVER__COMMAND_KIND__CMD_SEED_CREATE] = "seed-create",
    [DROVER__COMMAND_KIND__CMD_NET_DEFINE] = "net-define",
    [DROVER__COMMAND_KIND__CMD_NET_INFO] = "net-info",
    [DROVER__COMMAND_KIND__CMD_POOL_UNDEFINE] = "pool-undefine",
    [DROVER__COMMAND_KIND__CMD_VOL_CLONE] = "vol-clone",
    [DROVER__COMMAND_KIND__CMD_VOL_RESIZE] = "vol-resize",
    [DROVER__COMMAND_KIND__CMD_VOL_UPLOAD] = "vol-upload",
    [DROVER__COMMAND_KIND__CMD_VOL_WIPE] = "vol-wipe",
};

bool drv_commands_kind_known(Drover__CommandKind kind)
{
    size_t i = (size_t)kind;
    return i < G_N_ELEMENTS(s_kind_names) && s_kind_names[i] != NULL;
}

const char *drv_commands_kind_name(Drover__CommandKind kind)
{
    size_t i = (size_t)kind;
    if (i < G_N_ELEMENTS(s_kind_names) && s_kind_names[i] != NULL)
        return s_kind_names[i];
    return "unknown";
}

void drv_commands_fail(Drover__Reply *reply, GPtrArray *arena, const drv_error *e)
{
    reply->ok = false;
    reply->error_code = e ? e->code : 0;
    reply->error_kind =
        drv_pb_strdup(arena, drv_err_kind_to_string(e ? e->kind : DRV_ERR_INTERNAL));
    reply->message = drv_pb_strdup(arena, e && e->message ? e->message : "unknown error");
}

void drv_cmdreply_pack(Drover__Reply *reply, uint8_t **ret_buf, size_t *ret_len)
{
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_REPLY;
    env.reply = reply;
    drv_error *err = NULL;
    if (drv_codec_pack(&env, 0, ret_buf, ret_len, &err) == 0)
        return;
    Drover__Reply small = DROVER__REPLY__INIT;
    small.command_id = reply->command_id;
    small.ok = false;
    small.error_kind = (char *)drv_err_kind_to_string(err->kind);
    small.message = err->message;
    env.reply = &small;
    drv_error *err2 = NULL;
    if (drv_codec_pack(&env, 0, ret_buf, ret_len, &err2) < 0) {
        *ret_buf = NULL;
        *ret_len = 0;
        drv_error_destroy(&err2);
    }
    drv_error_destroy(&err);
}

/* Wall-clock ms since the command's expiry at now_wall_ms (the agent's clock); <= 0 when it has
 * none or it has not passed yet. */
int64_t drv_cmdreply_expired_ms(const Drover__Command *cmd, int64_t now_wall_ms)
{
    if (cmd->expires_at_ms == 0)
        return 0; /* no expiry (older controllers, tests) */
    return now_wall_ms - cmd->expires_at_ms;
}

/* "start of domain 'vm1'", or "storage-mark-write" for a command without a domain. */
char *drv_cmdreply_what(const Drover__Command *cmd)
{
    const char *kind = drv_commands_kind_name(cmd->kind);
    if (cmd->domain != NULL && *cmd->domain != '\0')
        return g_strdup_printf("%s of domain '%s'", kind, cmd->domain);
    return g_strdup(kind);
}

/* Fills reply as the refusal of an expired command (ago_ms since its expiry). */
void drv_cmdreply_fill_expired(Drover__Reply *reply, GPtrArray *arena, const Drover__Command *cmd,
                               int64_t ago_ms)
{
    g_autofree char *what = drv_cmdreply_what(cmd);
    g_autofree char *msg =
        g_strdup_printf("%s refused: the command expired %.1f s ago (it was not run)", what,
                        (double)ago_ms / 1000.0);
    reply->ok = false;
    reply->expired = true;
    reply->error_kind = drv_pb_strdup(arena, "expired");
    reply->message = drv_pb_strdup(arena, msg);
    drv_info("command %s: %s", cmd->id, reply->message);
}
