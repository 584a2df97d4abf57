/* domdevices.h — the hot-pluggable devices of a domain XML as names, and the difference between
 * what runs and what is defined (pure: no libvirt, no I/O).
 *
 * Device drift (issue 17): a disk or NIC attached or detached live (`virsh attach-device --live`
 * behind drover's back), or a stored definition whose devices differ from what runs. The agent
 * names the devices of a running domain's live XML, the controller those of the stored definition
 * (both through drv_domxml_parse), and drv_domdevices_diff says in words what differs.
 *
 * One name per device, in document order:
 *   disk / cdrom / floppy / lun   "<device> <target dev>"            "disk vdb", "cdrom hdc"
 *   interface                     "interface <mac> (<source>)"       "interface 52:54:00:0a:0b:0c
 *                                 or, without a MAC, "interface (<source>)"  (network default)"
 *                                 source: network N, bridge B, direct DEV, user, or the type
 *   hostdev                       "hostdev pci 0000:03:00.0", "hostdev usb 046d:c52b", "hostdev T"
 *   filesystem                    "filesystem <target dir>"
 *   rng, watchdog, vsock, shmem, redirdev, memory, smartcard, tpm   "<element>[ <model/name/bus>]"
 * Devices libvirt adds by itself to a running domain (controllers, memballoon, input, video,
 * graphics, serial/console, channels) are not named: they would differ on every guest.
 * A disk without a target is not named (libvirt refuses one). */
#ifndef DROVER_DOMDEVICES_H
#define DROVER_DOMDEVICES_H

struct _xmlNode;

/* The names of the devices under <devices> (NULL-terminated, g_strfreev, never NULL; empty when
 * devices is NULL). */
char **drv_domdevices_names(struct _xmlNode *devices);

/* What differs between the devices a domain runs with (live) and its definition (config), as one
 * owned sentence, or NULL when they are the same (order does not matter):
 *   "disk vdb attached live, not in the definition; interface 52:54:00:0a:0b:0c (network default)
 *    in the definition, not attached live"
 * An interface of the definition without a MAC matches a live one with the same source. */
char *drv_domdevices_diff(char *const *live, char *const *config);

#endif
