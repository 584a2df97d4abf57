/* domstate.h — a domain's state and the reason for it, by name, in virsh's words: libvirt's
 * virDomainState with its virDomain*Reason numbers ("shut off" + "crashed"), and the states only
 * the cluster knows ("saved", "migrating", "pending", "unknown"). Pure: no libvirt, no I/O; the
 * numbers are libvirt's stable ABI values.
 *
 * A state is never shown without its reason when one is known; reason 0 of every libvirt state
 * ("unknown" in libvirt) is shown as no reason, so that the word "unknown" always means the
 * cluster's own state: nobody can tell what runs. */
#ifndef DROVER_DOMSTATE_H
#define DROVER_DOMSTATE_H

#include <stdbool.h>

/* libvirt's virDomainState numbers (the wire's DomainState). */
typedef enum {
    DRV_DOMSTATE_NOSTATE = 0,
    DRV_DOMSTATE_RUNNING = 1,
    DRV_DOMSTATE_BLOCKED = 2,
    DRV_DOMSTATE_PAUSED = 3,
    DRV_DOMSTATE_SHUTDOWN = 4,
    DRV_DOMSTATE_SHUTOFF = 5,
    DRV_DOMSTATE_CRASHED = 6,
    DRV_DOMSTATE_PMSUSPENDED = 7,
    DRV_DOMSTATE_LAST
} drv_domstate;

/* The cluster's own states (never reported by libvirt). */
#define DRV_DOMSTATE_SAVED_NAME     "saved"     /* shut off, with a saved memory image */
#define DRV_DOMSTATE_MIGRATING_NAME "migrating" /* a live migration moves it */
#define DRV_DOMSTATE_PENDING_NAME   "pending"   /* a start or create is placing it */
#define DRV_DOMSTATE_UNKNOWN_NAME   "unknown"   /* its host cannot say (reason: why) */

/* "running", "paused", "shut off", "in shutdown", ... for a libvirt state; "unknown" for a number
 * this build does not know (a newer libvirt's). Borrowed constant. */
const char *drv_domstate_name(int state);
/* "booted", "migrated", "user", "crashed", "destroyed", ... for a libvirt (state, reason) pair;
 * NULL for reason 0 ("unknown" in libvirt) and for numbers this build does not know. */
const char *drv_domstate_reason(int state, int reason);
/* True for the states that hold a host's resources: running, blocked, paused, in shutdown,
 * pmsuspended. */
bool drv_domstate_active(int state);
/* True for the states a guest is in when it is not running at all: shut off, crashed, no state. */
bool drv_domstate_off(int state);

#endif
