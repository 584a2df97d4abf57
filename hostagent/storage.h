/* storage.h — the agent's provisioning commands on libvirt's storage and network APIs: pools
 * (define, build, start, autostart, info), volumes (create with an optional upload, delete, info),
 * NoCloud seed ISOs (xorriso, label cidata, stored as a volume) and networks (define, start,
 * autostart, info). Runs on the agent's worker pool like every command (commands.h). */
#ifndef DROVER_AGENT_STORAGE_H
#define DROVER_AGENT_STORAGE_H

#include "codec.h"
#include "error.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>

/* True for the command kinds this module carries out. */
bool drv_storage_handles(Drover__CommandKind kind);

/* Carries out cmd on conn; results go to reply->stats as key/value pairs (arena-owned). Returns 0,
 * or -1 with an error naming the pool, volume or network. */
int drv_storage_execute(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                        GPtrArray *arena, drv_error **err);

#endif
