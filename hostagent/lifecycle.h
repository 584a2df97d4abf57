/* lifecycle.h — pure mapping of libvirt domain lifecycle events (virDomainEventType + detail) to
 * drover's event kinds (the proto's EventKind numbers) and words for logs and the controller. */
#ifndef DROVER_AGENT_LIFECYCLE_H
#define DROVER_AGENT_LIFECYCLE_H

typedef enum {
    DRV_EV_NONE = 0,
    DRV_EV_DEFINED,
    DRV_EV_UNDEFINED,
    DRV_EV_STARTED,
    DRV_EV_SUSPENDED,
    DRV_EV_RESUMED,
    DRV_EV_STOPPED,
    DRV_EV_SHUTDOWN,
    DRV_EV_PMSUSPENDED,
    DRV_EV_CRASHED,
    DRV_EV_MIGRATED, /* started (incoming) or stopped (outgoing) because of a migration */
    DRV_EV_LIBVIRT_DOWN,
    DRV_EV_LIBVIRT_UP,
    DRV_EV_LAST,
    /* outside the dense range (the proto's number): a device attached or detached live (libvirt's
     * DEVICE_ADDED / DEVICE_REMOVED events), detail_text "added" or "removed" */
    DRV_EV_DEVICE = 70,
} drv_event_kind;

/* Maps a virDomainEventType and its detail to a kind; ret_detail_text (borrowed, never NULL) gets
 * the detail in words ("booted", "destroyed", "migrated", "unknown" for a detail this build does
 * not know). Unknown event types map to DRV_EV_NONE. */
drv_event_kind drv_lifecycle_map(int event, int detail, const char **ret_detail_text);
/* "defined", "started", ... ; "none" out of range. */
const char *drv_event_kind_to_string(drv_event_kind kind);

#endif
