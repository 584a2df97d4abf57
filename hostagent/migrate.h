/* migrate.h — live peer-to-peer migration of one domain (virDomainMigrateToURI3) with progress from
 * job stats every second, abort on cancel or timeout, and a switch to post-copy when pre-copy does
 * not converge. Runs on a worker thread. */
#ifndef DROVER_AGENT_MIGRATE_H
#define DROVER_AGENT_MIGRATE_H

#include "commands.h"

#include "migrate_flags.h"

/* Migrates dom as cmd->migrate says; fills reply (MigrateResult on success and on cancel). Blocks
 * until libvirt's migration job ends. */
int drv_migrate_run(const drv_cmd_env *env, virDomainPtr dom, const Drover__Command *cmd,
                    Drover__Reply *reply, GPtrArray *arena, drv_error **err);

/* Asks the running migration of domain (by name) or of job_id to abort: sets its flag, and its
 * monitor calls virDomainAbortJob within a second (and again every second until the job ends,
 * unless it switched to post-copy). No libvirt call here: safe on the agent's loop. Returns 0 when
 * one was found, -1 with DRV_ERR_NOT_FOUND otherwise. Thread-safe. */
int drv_migrate_cancel(const char *domain, const char *job_id, drv_error **err);

/* Asks every running migration to abort (agent shutdown); flags only, like drv_migrate_cancel. */
void drv_migrate_cancel_all(void);

#endif
