/* cmdreply.h — the parts of answering a controller Command that need no libvirt: command kind
 * names, failure replies, the expiry refusal and packing a reply (a reply too large for a frame
 * becomes a failure that says so). Shared by drover-agent and bench/agent_sim, so both speak
 * exactly the same protocol. */
#ifndef DROVER_AGENT_CMDREPLY_H
#define DROVER_AGENT_CMDREPLY_H

#include "codec.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Sets reply->ok = false with the error's kind, code and message (copied into arena). */
void drv_commands_fail(Drover__Reply *reply, GPtrArray *arena, const drv_error *e);
/* Human name of a command kind ("define", "snapshot-create", ...); "unknown" out of range. */
const char *drv_commands_kind_name(Drover__CommandKind kind);
/* True for a kind this build knows by name. */
bool drv_commands_kind_known(Drover__CommandKind kind);

/* Packs a reply into a new buffer (g_free); a reply too large for a frame becomes a failure reply
 * that says so. *ret_buf is NULL only when even that cannot be packed. */
void drv_cmdreply_pack(Drover__Reply *reply, uint8_t **ret_buf, size_t *ret_len);
/* Wall-clock ms since the command's expiry; <= 0 when it has none or it has not passed yet. */
int64_t drv_cmdreply_expired_ms(const Drover__Command *cmd, int64_t now_wall_ms);
/* "start of domain 'vm1'", or "storage-mark-write" for a command without a domain. Owned. */
char *drv_cmdreply_what(const Drover__Command *cmd);
/* Fills reply as the refusal of an expired command (ago_ms since its expiry). */
void drv_cmdreply_fill_expired(Drover__Reply *reply, GPtrArray *arena, const Drover__Command *cmd,
                               int64_t ago_ms);

#endif
