/* provision.h — pure building blocks of provisioning (docs/provisioning.md): the `--disk` and
 * `--boot` specs, cloud-config validation (libyaml), the NoCloud meta-data, and the libvirt XML of
 * a provisioned domain, a storage pool, a volume and a network. No I/O: strings in, strings out;
 * every refusal is a DRV_ERR_INVALID error that names the offending input. */
#ifndef DROVER_COMMON_PROVISION_H
#define DROVER_COMMON_PROVISION_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --disk pool=P,size=S[,backing=VOL][,format=qcow2|raw] */
typedef struct {
    char *pool;
    uint64_t size_bytes;
    char *backing; /* a volume of the same pool, or NULL */
    char *format;  /* "qcow2" (default) or "raw" */
} drv_prov_disk;

int drv_prov_disk_parse(const char *spec, drv_prov_disk *ret, drv_error **err);
void drv_prov_disk_clear(drv_prov_disk *d);

/* --boot kernel=PATH,initrd=PATH[,cmdline=ARGS] (cmdline runs to the end of the spec, so it may
 * hold commas). */
typedef struct {
    char *kernel;
    char *initrd;
    char *cmdline;
} drv_prov_boot;

int drv_prov_boot_parse(const char *spec, drv_prov_boot *ret, drv_error **err);
void drv_prov_boot_clear(drv_prov_boot *b);

/* user-data must start with the line "#cloud-config" and be YAML whose (first) document is a
 * mapping. 0, or -1 with an error saying where the YAML is wrong (line and column). */
int drv_prov_cloud_config_check(const char *text, size_t len, drv_error **err);
/* user-data with ssh_key (one public key line) added as a top-level ssh_authorized_keys entry
 * (owned). The key must not contain a newline; the result must still pass
 * drv_prov_cloud_config_check (a user-data whose top level is a flow mapping cannot take it).
 * NULL with a DRV_ERR_INVALID error otherwise. */
char *drv_prov_user_data_with_key(const char *user_data, const char *ssh_key, drv_error **err);
/* "instance-id: \"NAME\"\nlocal-hostname: \"NAME\"\n" (owned), NAME a YAML double-quoted scalar. */
char *drv_prov_meta_data(const char *name);

/* What a provisioned domain is made of (strings borrowed). */
typedef struct {
    const char *name;
    const char *uuid;
    const char *virt_type; /* "kvm" or "qemu" (TCG) */
    uint32_t vcpus;
    uint64_t memory_kib;
    const char *disk_path;
    const char *disk_format;
    const char *seed_path;     /* CD-ROM, or NULL */
    const char *network;       /* libvirt network name, or NULL */
    const char *cpu_xml;       /* a <cpu> element (the cluster baseline), or NULL */
    const char *serial_log;    /* serial console appended to this file; NULL = a pty */
    const char *emulator;      /* or NULL */
    const drv_prov_boot *boot; /* direct kernel boot, or NULL (boot from the disk) */
} drv_prov_domain;

/* The domain XML (owned): virtio disk and NIC, the seed as an IDE CD-ROM, serial console, ACPI,
 * a virtio balloon. -1 with an error when a required member is missing. */
int drv_prov_domain_xml(const drv_prov_domain *spec, char **ret, drv_error **err);
/* <pool type='dir'> at path (owned). */
char *drv_prov_pool_xml(const char *name, const char *path);
/* <volume> of capacity_bytes in format, over backing_path (format backing_format) or none. */
char *drv_prov_vol_xml(const char *name, uint64_t capacity_bytes, const char *format,
                       const char *backing_path, const char *backing_format);
/* A network: forward to an existing bridge (bridge != NULL), or NAT on subnet "A.B.C.0/24"
 * (gateway .1, DHCP .100-.199). -1 with an error for a bad subnet. */
int drv_prov_net_xml(const char *name, const char *bridge, const char *subnet, char **ret,
                     drv_error **err);

/* The <cpu> element for `domain create --cpu MODE` (owned): "baseline" (and NULL, the default)
 * → baseline_xml, the cluster baseline (scheduler.h drv_sched_baseline_cpu_xml), which must then
 * be given; "host-model" → <cpu mode='host-model'/> (libvirt's: the host's CPU, as migratable as
 * the hosts are alike). -1 with a DRV_ERR_INVALID error otherwise. */
int drv_prov_cpu_xml(const char *mode, const char *baseline_xml, char **ret, drv_error **err);

/* `vol upload`: the image travels in one client request (whose default size limit is 16 MiB,
 * [controller] max_message_bytes) and from the controller to the agent in 1 MiB chunks; an
 * image above this is refused by the CLI and the controller. */
#define DRV_PROV_UPLOAD_MAX_BYTES (15u * 1024u * 1024u)

/* "qcow2" when data starts with the qcow2 magic (QFI\xfb), else "raw" (static). */
const char *drv_prov_image_format(const void *data, size_t len);

/* The wipe algorithms of libvirt's virStorageVolWipePattern (as `virsh vol-wipe --algorithm`),
 * NULL-terminated, in libvirt's order. */
extern const char *const drv_prov_wipe_algorithms[];
/* 0 when name is one of them, else -1 with a DRV_ERR_INVALID error listing them. */
int drv_prov_wipe_algorithm_check(const char *name, drv_error **err);

/* A pool or volume name drover accepts: non-empty, under 128 bytes, not starting with '.', no '/'
 * (it becomes a file name and an etcd key segment). */
bool drv_prov_name_ok(const char *name);

#endif
