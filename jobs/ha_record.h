/* ha_record.h — the stored recovery of one fenced host (etcd `harecover/<host>`, docs/ha.md): which
 * HA domains were on it when its lease expired and where each stands. It is written before any
 * agent is commanded (intent first) and after every step, so a new leader resumes it. Pure: JSON in
 * and out, no I/O, no clock. */
#ifndef DROVER_HA_RECORD_H
#define DROVER_HA_RECORD_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DRV_HA_ENTRY_PENDING = 0, /* "pending": not placed yet (also between attempts) */
    DRV_HA_ENTRY_STARTING,    /* "starting": placed on destination, define+start commanded */
    DRV_HA_ENTRY_RESTARTED,   /* "restarted": runs on destination (terminal) */
    DRV_HA_ENTRY_WAITING,     /* "waiting": does not fit (reason says why); retried */
    DRV_HA_ENTRY_DROPPED, /* "dropped": no longer HA / desired shut off / undefined (terminal) */
    DRV_HA_ENTRY_LAST
} drv_ha_entry_state;

const char *drv_ha_entry_state_to_string(drv_ha_entry_state s);
int drv_ha_entry_state_from_string(const char *name, drv_ha_entry_state *ret);

typedef struct {
    char *domain;
    drv_ha_entry_state state;
    char *destination; /* STARTING / RESTARTED */
    char *reason;      /* WAITING, or the last failure */
    unsigned attempts;
} drv_ha_entry;

typedef struct {
    char *host;       /* the fenced host */
    int64_t lease_id; /* its expired fencing lease */
    uint64_t fenced_ms;
    drv_ha_entry *entries;
    size_t n_entries;
    bool cleaned; /* the host came back and its stale definitions were removed */
} drv_ha_record;

drv_ha_record *drv_ha_record_new(const char *host, int64_t lease_id, uint64_t fenced_ms);
void drv_ha_record_destroy(drv_ha_record **self_p);
/* Adds an entry in state pending; returns it (borrowed). */
drv_ha_entry *drv_ha_record_add(drv_ha_record *self, const char *domain);
drv_ha_entry *drv_ha_record_find(const drv_ha_record *self, const char *domain);
/* Sets an entry's state, destination and reason (copied; NULL clears). */
void drv_ha_entry_set(drv_ha_entry *e, drv_ha_entry_state state, const char *destination,
                      const char *reason);
/* True when every entry is restarted or dropped. */
bool drv_ha_record_done(const drv_ha_record *self);
/* JSON text (owned) and back; a document that is not a record is DRV_ERR_INVALID. */
char *drv_ha_record_to_json(const drv_ha_record *self);
int drv_ha_record_from_json(const char *json, drv_ha_record **ret, drv_error **err);

#endif
