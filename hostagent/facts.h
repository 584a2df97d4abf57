/* facts.h — what a host is (drv_host_facts) and what runs on it (drv_dom_info), as plain C structs.
 * Filled by caps.c (pure XML parsing) and virt.c (libvirt calls); converted to protobuf by wire.c.
 */
#ifndef DROVER_AGENT_FACTS_H
#define DROVER_AGENT_FACTS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *name;
    char *type; /* dir, netfs, logical, ... */
    char *path; /* target path */
    bool active;
} drv_pool_fact;

typedef struct {
    char *host_id;
    char *hostname;
    char *arch;
    uint32_t cpus;
    uint64_t memory_kib;
    uint64_t free_memory_kib;
    uint64_t reserved_memory_kib;
    char *cpu_vendor;
    char *cpu_model;
    GPtrArray *cpu_features; /* char *, sorted, unique */
    char *host_uuid;
    uint64_t libvirt_version; /* major*1000000 + minor*1000 + micro */
    uint64_t hypervisor_version;
    char *hypervisor_type;
    char *migration_uri;
    char *libvirt_uri;
    GPtrArray *pools;        /* drv_pool_fact * */
    GPtrArray *networks;     /* char * */
    GPtrArray *label_keys;   /* char *, parallel to label_values */
    GPtrArray *label_values; /* char * */
} drv_host_facts;

/* Mirrors virDomainState (and the proto's DomainState). */
typedef enum {
    DRV_DOM_NOSTATE = 0,
    DRV_DOM_RUNNING,
    DRV_DOM_BLOCKED,
    DRV_DOM_PAUSED,
    DRV_DOM_SHUTDOWN,
    DRV_DOM_SHUTOFF,
    DRV_DOM_CRASHED,
    DRV_DOM_PMSUSPENDED,
    DRV_DOM_LAST
} drv_dom_state;

typedef struct {
    char *name;
    char *uuid;
    drv_dom_state state;
    int reason;
    bool persistent;
    bool autostart;
    char *xml_hash; /* SHA-256 (hex) of the inactive XML */
    uint32_t vcpus;
    uint64_t memory_kib;
    uint64_t cpu_time_ns;
    bool has_managed_save;
    /* an active domain: the hot-pluggable devices of its live XML by name (common/domdevices.h),
     * NULL-terminated; NULL when not read (inactive, or the live XML could not be had) */
    char **live_devices;
} drv_dom_info;

/* An empty facts struct with its arrays allocated. Never fails. */
drv_host_facts *drv_host_facts_new(void);
/* NULL-safe; sets *self_p to NULL. */
void drv_host_facts_destroy(drv_host_facts **self_p);
/* Adds a CPU feature (copied) keeping the list sorted and unique. */
void drv_host_facts_add_feature(drv_host_facts *self, const char *feature);
/* Replaces the feature list with a NULL-terminated list (sorted, duplicates dropped). */
void drv_host_facts_set_features(drv_host_facts *self, const char *const *features);

/* The CPU identity as "key=value" lines (arch, cpu_vendor, cpu_model, host_uuid, cpu_features as a
 * comma list): the golden-file format of the tests and the agent's debug log. Owned. */
char *drv_host_facts_cpu_summary(const drv_host_facts *self);

drv_dom_info *drv_dom_info_new(void);
void drv_dom_info_free(drv_dom_info *info);
void drv_dom_info_destroy(drv_dom_info **info_p);
/* SHA-256 (lower-case hex) of an XML document; the inventory's xml_hash. Owned (g_free). */
char *drv_dom_xml_hash(const char *xml);
/* "running", "shut off", ... (virsh's words, common/domstate.h); "unknown" out of range. */
const char *drv_dom_state_to_string(drv_dom_state state);

#endif
