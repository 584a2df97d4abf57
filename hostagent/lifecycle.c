/* lifecycle.c — see lifecycle.h. */
#include "lifecycle.h"

#include <glib.h>
#include <libvirt/libvirt.h>

static const char *const s_kind_names[DRV_EV_LAST] = {
    "none",     "defined",     "undefined", "started",  "suspended",    "resumed",    "stopped",
    "shutdown", "pmsuspended", "crashed",   "migrated", "libvirt-down", "libvirt-up",
};

const char *drv_event_kind_to_string(drv_event_kind kind)
{
    if (kind == DRV_EV_DEVICE)
        return "device";
    return (unsigned)kind < DRV_EV_LAST ? s_kind_names[kind] : "none";
}

static const char *const s_defined[] = {"added", "updated", "renamed", "from-snapshot"};
static const char *const s_undefined[] = {"removed", "renamed"};
static const char *const s_started[] = {"booted", "migrated", "restored", "from-snapshot",
                                        "wakeup"};
static const char *const s_suspended[] = {"paused",    "migrated", "ioerror",
                                          "watchdog",  "restored", "from-snapshot",
                                          "api-error", "postcopy", "postcopy-failed"};
static const char *const s_resumed[] = {"unpaused", "migrated", "from-snapshot", "postcopy",
                                        "postcopy-failed"};
static const char *const s_stopped[] = {"shutdown", "destroyed", "crashed",      "migrated",
                                        "saved",    "failed",    "from-snapshot"};
static const char *const s_shutdown[] = {"finished", "guest", "host"};
static const char *const s_pmsuspended[] = {"memory", "disk"};
static const char *const s_crashed[] = {"panicked", "crashloaded"};

#define S_WORD(table, d) ((d) >= 0 && (size_t)(d) < G_N_ELEMENTS(table) ? (table)[d] : "unknown")

drv_event_kind drv_lifecycle_map(int event, int detail, const char **ret_detail_text)
{
    const char *text = "unknown";
    drv_event_kind kind = DRV_EV_NONE;
    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        kind = DRV_EV_DEFINED;
        text = S_WORD(s_defined, detail);
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        kind = DRV_EV_UNDEFINED;
        text = S_WORD(s_undefined, detail);
        break;
    case VIR_DOMAIN_EVENT_STARTED:
        kind = detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED ? DRV_EV_MIGRATED : DRV_EV_STARTED;
        text = S_WORD(s_started, detail);
        break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
        kind = DRV_EV_SUSPENDED;
        text = S_WORD(s_suspended, detail);
        break;
    case VIR_DOMAIN_EVENT_RESUMED:
        kind = DRV_EV_RESUMED;
        text = S_WORD(s_resumed, detail);
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        /* a crash that stopped the domain stays STOPPED (detail "crashed"): it is not running */
        kind = detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED ? DRV_EV_MIGRATED : DRV_EV_STOPPED;
        text = S_WORD(s_stopped, detail);
        break;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
        kind = DRV_EV_SHUTDOWN;
        text = S_WORD(s_shutdown, detail);
        break;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        kind = DRV_EV_PMSUSPENDED;
        text = S_WORD(s_pmsuspended, detail);
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        kind = DRV_EV_CRASHED;
        text = S_WORD(s_crashed, detail);
        break;
    default:
        break;
    }
    if (ret_detail_text != NULL)
        *ret_detail_text = text;
    return kind;
}
