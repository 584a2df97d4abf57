/* domxml.h — libvirt domain XML → the facts drover needs (pure: no libvirt, no I/O).
 *
 * The controller uses it to validate a definition before storing it and to build scheduler requests
 * (vCPUs, memory, arch, required CPU features, storage pools, affinity), and to give a definition
 * that has none the UUID the controller chose. Parsing uses libxml2 with XPath; it never touches
 * the network, never substitutes external entities and never prints libxml2 messages: they end up
 * in the returned error instead.
 *
 * drover's own settings live in the domain's <metadata> under the namespace DRV_DOMXML_NS (libvirt
 * keeps foreign metadata verbatim, so they travel with the definition):
 *
 *   <metadata>
 *     <drover:drover xmlns:drover="https://drover.dev/xml/1">
 *       <drover:affinity-group>db-pair</drover:affinity-group>   run with the group's other members
 *       <drover:anti-affinity-group>web</drover:anti-affinity-group> never on a host with another
 * member <drover:labels>rack=r1,ssd=yes</drover:labels>  host labels required (comma-separated k=v)
 *     </drover:drover>
 *   </metadata>
 *
 * Every element is optional; text is trimmed; an empty element counts as absent. */
#ifndef DROVER_DOMXML_H
#define DROVER_DOMXML_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRV_DOMXML_NS        "https://drover.dev/xml/1"
#define DRV_DOMXML_NS_PREFIX "drover"

/* <disk device=...>; libvirt's default is "disk". */
typedef enum {
    DRV_DOMXML_DISK_DEVICE_DISK = 0, /* "disk" */
    DRV_DOMXML_DISK_DEVICE_CDROM,    /* "cdrom" */
    DRV_DOMXML_DISK_DEVICE_FLOPPY,   /* "floppy" */
    DRV_DOMXML_DISK_DEVICE_LUN,      /* "lun" */
    DRV_DOMXML_DISK_DEVICE_LAST
} drv_domxml_disk_device;

/* <disk type=...>; libvirt's default is "file". */
typedef enum {
    DRV_DOMXML_DISK_FILE = 0, /* "file": source_path = <source file=> */
    DRV_DOMXML_DISK_BLOCK,    /* "block": source_path = <source dev=> */
    DRV_DOMXML_DISK_NETWORK,  /* "network": source_protocol + source_path = <source name=> */
    DRV_DOMXML_DISK_VOLUME,   /* "volume": source_pool + source_volume */
    DRV_DOMXML_DISK_DIR,      /* "dir": source_path = <source dir=> */
    DRV_DOMXML_DISK_OTHER,    /* any other libvirt type (nvme, vhostuser, ...): no source parsed */
    DRV_DOMXML_DISK_TYPE_LAST
} drv_domxml_disk_type;

const char *drv_domxml_disk_device_to_string(drv_domxml_disk_device device);
const char *drv_domxml_disk_type_to_string(drv_domxml_disk_type type);

typedef struct {
    drv_domxml_disk_device device;
    drv_domxml_disk_type type;
    char *source_path;     /* see drv_domxml_disk_type; NULL when absent (an empty cdrom) */
    char *source_protocol; /* network disks: nbd, rbd, iscsi, ...; else NULL */
    char *source_pool;     /* volume disks; else NULL */
    char *source_volume;   /* volume disks; else NULL */
    char *target_dev;      /* "vda"; NULL when absent */
    char *target_bus;      /* "virtio"; NULL when absent */
    bool readonly;         /* <readonly/> */
    bool shareable;        /* <shareable/> */
} drv_domxml_disk;

typedef struct drv_domxml {
    char *name;                   /* <name>, never NULL */
    bool name_untrimmed;          /* <name>'s text had leading or trailing whitespace */
    char *uuid;                   /* <uuid> in canonical lowercase 8-4-4-4-12 form, or NULL */
    char *type;                   /* <domain type=>: kvm, qemu, test, ... never NULL */
    uint32_t vcpus;               /* <vcpu> (the maximum), > 0 */
    uint32_t vcpus_current;       /* <vcpu current=>, else vcpus */
    uint64_t memory_kib;          /* <memory> converted to KiB (rounded up), > 0 */
    uint64_t current_memory_kib;  /* <currentMemory>, else memory_kib; clamped to memory_kib */
    char *arch;                   /* <os><type arch=>, or NULL */
    char *cpu_mode;               /* <cpu mode=>: custom, host-model, host-passthrough, maximum;
                                     "custom" when <cpu> has no mode; NULL without <cpu> */
    char *cpu_model;              /* <cpu><model>, or NULL */
    char **cpu_features_required; /* <feature policy=require|force> (or no policy); NULL-terminated,
                                     never NULL; a custom model's implied features are NOT added */
    char **cpu_features_disabled; /* <feature policy=disable|forbid>; NULL-terminated, never NULL */
    drv_domxml_disk *disks;       /* in document order */
    size_t n_disks;
    char **storage_pools;      /* distinct pools of volume disks, NULL-terminated, never NULL */
    char **networks;           /* distinct <interface type='network'><source network=> names,
                                  NULL-terminated, never NULL */
    char **devices;            /* the hot-pluggable devices by name (domdevices.h),
                                  NULL-terminated, never NULL */
    bool has_serial_file;      /* a <serial type='file'> device */
    char *description;         /* <description>, or NULL */
    char *affinity_group;      /* drover metadata (see above), or NULL */
    char *anti_affinity_group; /* drover metadata, or NULL */
    char **labels;             /* drover metadata: required host labels "key=value",
                                  NULL-terminated, never NULL */
} drv_domxml;

/* Parses a domain definition of len bytes (need not be NUL-terminated). On success *ret is owned by
 * the caller (drv_domxml_destroy). Fails with DRV_ERR_INVALID when the XML is not well-formed
 * (err->line = the line, message = libxml2's), the root is not <domain>, or a field is missing or
 * wrong: the message names the field (name, type, uuid, memory, currentMemory, vcpu, cpu feature,
 * disk) and err->line points at the element when there is one. */
int drv_domxml_parse(const char *xml, size_t len, drv_domxml **ret, drv_error **err);
/* A domain name drover accepts (the parse checks it too): not empty, no '/' (it becomes an etcd
 * key segment and part of volume file names) and no control characters (it goes into logs and
 * cloud-init's meta-data). DRV_ERR_INVALID naming the rule otherwise. */
int drv_domxml_name_check(const char *name, drv_error **err);

/* Returns in *ret_xml (g_free) the definition with <uuid>uuid</uuid> inserted after <name> when it
 * has none; the rest of the document is kept as written (no XML declaration is added). When the
 * definition already has the same UUID it is returned unchanged; a different UUID is
 * DRV_ERR_CONFLICT. A malformed uuid argument or document is DRV_ERR_INVALID. */
int drv_domxml_set_uuid(const char *xml, const char *uuid, char **ret_xml, drv_error **err);

/* Validates a UUID (32 hex digits, with or without the four dashes of the 8-4-4-4-12 form) and
 * returns its canonical lowercase dashed form (g_free) in *ret; -1 when malformed (no error object:
 * the caller names the field). ret may be NULL to only validate. */
int drv_domxml_uuid_normalize(const char *uuid, char **ret);

/* Frees everything; NULL-safe; sets *self_p to NULL. */
void drv_domxml_destroy(drv_domxml **self_p);
/* For g_autoptr(drv_domxml). */
static inline void drv_domxml_autoptr_cleanup(drv_domxml *x)
{
    drv_domxml_destroy(&x);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(drv_domxml, drv_domxml_autoptr_cleanup)

#endif
