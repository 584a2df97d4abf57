/* commands.h — carries out one controller Command on libvirt and fills its Reply. Runs on a thread
 * of the agent's worker pool, never on its loop: any of these calls may wait on libvirtd (a domain
 * job lock, a frozen daemon). Every libvirt call goes through the shared connection of drv_virt. */
#ifndef DROVER_AGENT_COMMANDS_H
#define DROVER_AGENT_COMMANDS_H

#include "cmdreply.h"
#include "codec.h"
#include "virt.h"

#include <stdbool.h>

/* Progress sink for long commands: called on the worker thread; p is borrowed. */
typedef void (*drv_progress_fn)(void *user_data, Drover__Progress *p);

typedef struct drv_console_table drv_console_table;

typedef struct {
    drv_virt *virt;
    drv_console_table *consoles; /* CMD_CONSOLE sessions (console.h) */
    drv_progress_fn progress;
    void *progress_data;
    const char *migration_pki_path; /* [agent] migration_pki_path, borrowed; NULL = libvirt's */
    bool migration_stream_tls;      /* [agent] migration_stream_tls (default true) */
} drv_cmd_env;

/* Executes cmd and fills reply (already initialised, command_id set): ok, or error_kind/error_code/
 * message ("domain 'NAME': <libvirt message>"), plus the kind's payload (xml, snapshots, stats,
 * domain state after the command, migrate result). Allocations go to arena. Never fails otherwise.
 * CMD_INVENTORY and CMD_MIGRATE_CANCEL are handled by the loop, not here. */
void drv_commands_execute(const drv_cmd_env *env, const Drover__Command *cmd, Drover__Reply *reply,
                          GPtrArray *arena);

#endif
