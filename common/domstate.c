/* domstate.c — see domstate.h. The words are virsh's (`virsh domstate --reason`). */
#include "domstate.h"

#include <stddef.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const s_states[DRV_DOMSTATE_LAST] = {
    [DRV_DOMSTATE_NOSTATE] = "no state",     [DRV_DOMSTATE_RUNNING] = "running",
    [DRV_DOMSTATE_BLOCKED] = "blocked",      [DRV_DOMSTATE_PAUSED] = "paused",
    [DRV_DOMSTATE_SHUTDOWN] = "in shutdown", [DRV_DOMSTATE_SHUTOFF] = "shut off",
    [DRV_DOMSTATE_CRASHED] = "crashed",      [DRV_DOMSTATE_PMSUSPENDED] = "pmsuspended",
};

/* Index = virDomainRunningReason. */
static const char *const s_running[] = {
    NULL,
    "booted",
    "migrated",
    "restored",
    "from snapshot",
    "unpaused",
    "migration canceled",
    "save canceled",
    "event wakeup",
    "crashed",
    "post-copy",
    "post-copy failed",
};
/* Index = virDomainPausedReason. */
static const char *const s_paused[] = {
    NULL,        "user",        "migrating",     "saving",           "dumping",
    "I/O error", "watchdog",    "from snapshot", "shutting down",    "creating snapshot",
    "crashed",   "starting up", "post-copy",     "post-copy failed", "api error",
};
/* Index = virDomainShutdownReason. */
static const char *const s_shutdown[] = {NULL, "user"};
/* Index = virDomainShutoffReason. */
static const char *const s_shutoff[] = {
    NULL,    "shutdown", "destroyed",     "crashed", "migrated",
    "saved", "failed",   "from snapshot", "daemon",
};
/* Index = virDomainCrashedReason. */
static const char *const s_crashed[] = {NULL, "panicked"};

const char *drv_domstate_name(int state)
{
    return state >= 0 && state < DRV_DOMSTATE_LAST ? s_states[state] : DRV_DOMSTATE_UNKNOWN_NAME;
}

const char *drv_domstate_reason(int state, int reason)
{
    const char *const *table = NULL;
    size_t n = 0;
    switch (state) {
    case DRV_DOMSTATE_RUNNING:
        table = s_running, n = N_OF(s_running);
        break;
    case DRV_DOMSTATE_PAUSED:
        table = s_paused, n = N_OF(s_paused);
        break;
    case DRV_DOMSTATE_SHUTDOWN:
        table = s_shutdown, n = N_OF(s_shutdown);
        break;
    case DRV_DOMSTATE_SHUTOFF:
        table = s_shutoff, n = N_OF(s_shutoff);
        break;
    case DRV_DOMSTATE_CRASHED:
        table = s_crashed, n = N_OF(s_crashed);
        break;
    default: /* no state, blocked and pmsuspended have only "unknown" */
        return NULL;
    }
    return reason > 0 && (size_t)reason < n ? table[reason] : NULL;
}

bool drv_domstate_active(int state)
{
    return state == DRV_DOMSTATE_RUNNING || state == DRV_DOMSTATE_BLOCKED ||
           state == DRV_DOMSTATE_PAUSED || state == DRV_DOMSTATE_SHUTDOWN ||
           state == DRV_DOMSTATE_PMSUSPENDED;
}

bool drv_domstate_off(int state)
{
    return state == DRV_DOMSTATE_SHUTOFF || state == DRV_DOMSTATE_CRASHED ||
           state == DRV_DOMSTATE_NOSTATE;
}
