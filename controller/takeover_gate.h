/* takeover_gate.h — the leadership gate a job runner passes on each tick (migrate_run.c,
 * drain_run.c, lifecycle_run.c). While this controller may not run jobs (not the leader, state not
 * loaded, or what the runner waits for not ready) the runner's in-memory runs are dropped, once:
 * the jobs stay in etcd for the next leader. Once it may, the stored jobs are read once — the
 * take-over, on the etcd worker — and only then does the runner work. A failed read is retried
 * after S_RETRY. Loop thread only; one gate per runner. */
#ifndef DROVER_CTL_TAKEOVER_GATE_H
#define DROVER_CTL_TAKEOVER_GATE_H

#include "ctl.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool leading;    /* the stored jobs were taken over: the runner works */
    bool listing;    /* the take-over read is on the etcd worker */
    int64_t next_ms; /* no take-over read before this (after a failed one) */
} ctl_takeover_gate;

typedef struct {
    const char *what;                     /* "migration jobs", for the log */
    guint (*count)(ctl *c);               /* runs held now */
    void (*drop)(ctl *c);                 /* forget every run (and what goes with them) */
    int (*list)(ctl *c, drv_error **err); /* starts the take-over read; its completion calls
                                           * ctl_takeover_gate_listed */
} ctl_takeover_ops;

/* One tick: 0 when the gate is open (the runner works now), else how long (ms) until it should be
 * asked again. may_lead: this controller may run the runner's jobs now. */
int64_t ctl_takeover_gate_tick(ctl_takeover_gate *g, const ctl_takeover_ops *ops, ctl *c,
                               int64_t now_ms, bool may_lead);
/* The take-over read ended: true when the caller now takes the jobs over and then opens the gate
 * (ctl_takeover_gate_open); false when not (err: warned, read again later; !may_lead: the
 * controller stepped down meanwhile, the tick starts over when it may lead). */
bool ctl_takeover_gate_listed(ctl_takeover_gate *g, const ctl_takeover_ops *ops, ctl *c,
                              bool may_lead, const drv_error *err);
void ctl_takeover_gate_open(ctl_takeover_gate *g);

#endif
