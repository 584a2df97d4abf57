/* migrate_flags.h — the libvirt flags of a live migration, from its parameters. Pure. */
#ifndef DROVER_AGENT_MIGRATE_FLAGS_H
#define DROVER_AGENT_MIGRATE_FLAGS_H

#include "drover.pb-c.h"

#include <stdbool.h>

/* libvirt flags for the given parameters (LIVE|PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE, plus UNSAFE,
 * AUTO_CONVERGE, POSTCOPY as asked), and VIR_MIGRATE_TLS — QEMU's own TLS on the memory stream,
 * with the hosts' migration certificates — for a qemu+tls destination when stream_tls ([agent]
 * migration_stream_tls, default true). */
unsigned long drv_migrate_flags(const Drover__MigrateParams *p, bool stream_tls);

/* True when the destination URI is qemu+tls (the libvirtd-to-libvirtd connection is TLS). */
bool drv_migrate_uses_tls(const Drover__MigrateParams *p);

/* The URI the agent itself opens to reach a migration's destination (not the one the source
 * libvirtd uses): dest_uri with pkipath=PKI_PATH added for a qemu+tls URI when pki_path is set.
 * Newly allocated (g_free); NULL when dest_uri is NULL. */
char *drv_migrate_tool_uri(const char *dest_uri, const char *pki_path);

#endif
