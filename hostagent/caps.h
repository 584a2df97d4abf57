/* caps.h — pure parsing of libvirt's capabilities and domain capabilities XML into host facts.
 * No libvirt calls: the XML text comes from virt.c (or a golden file in tests). */
#ifndef DROVER_AGENT_CAPS_H
#define DROVER_AGENT_CAPS_H

#include "error.h"
#include "facts.h"

/* Reads /capabilities/host: arch, CPU vendor, model and features (cpu/feature/@name, plus the bare
 * element names under cpu/features such as <pae/>), and the host UUID. Fields absent from the XML
 * are left as they were. Malformed XML → -1 (DRV_ERR_INVALID naming the line). */
int drv_caps_parse_host(const char *xml, drv_host_facts *facts, drv_error **err);

/* Reads /domainCapabilities/cpu/mode[@name='host-model'] when supported='yes': when present it
 * replaces the vendor, model and feature list (features with policy 'require', or no policy) —
 * the host-model CPU is what a guest can be given, so it is what placement must compare. Returns
 * 1 when a host-model CPU was found, 0 when not (facts untouched), -1 on malformed XML. */
int drv_caps_parse_domcaps(const char *xml, drv_host_facts *facts, drv_error **err);

/* Test-driver overrides ([test] group, for tests only): each non-NULL/non-empty value replaces the
 * reported one; features (NULL-terminated) replace the list when non-NULL. */
void drv_caps_apply_overrides(drv_host_facts *facts, const char *arch, const char *cpu_model,
                              const char *const *features, const char *host_uuid);

/* Reads a storage pool's XML (virStoragePoolGetXMLDesc): pool/@type, name, target/path into pool
 * (fields replaced when present). */
int drv_caps_parse_pool(const char *xml, drv_pool_fact *pool, drv_error **err);

/* Reads a snapshot's XML: creationTime (seconds) and state ("running", "shutoff", ...; owned or
 * NULL). */
int drv_caps_parse_snapshot(const char *xml, int64_t *ret_creation_time, char **ret_state,
                            drv_error **err);

/* The /domain/name of a domain XML, or NULL (malformed or no name). Owned. */
char *drv_caps_domain_name(const char *xml);

#endif
