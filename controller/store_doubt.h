/* store_doubt.h — desired-state writes whose etcd outcome is unknown, undone if they landed.
 *
 * A lifecycle verb stores its intent, then commands the host. When etcd received the write but
 * no answer came (it was stopped, or its connection broke), the verb fails with "nothing was
 * commanded" — yet etcd may still apply the write once it runs again, and the stored intent would
 * then say "shut off" of a guest nobody stopped. This module watches such a write: once the
 * domain's record moves past the revision the write was compared against and holds the written
 * desired state, the write landed, and the desired state from before goes back (only while it is
 * still the written one: a later verb wins). Once etcd has answered again for a while and the
 * record is still at the old revision, the write did not land and nothing is done.
 *
 * Only the leader writes; a process that is not leading keeps the doubt and acts when it leads
 * again, or drops it at its time limit (logged).
 *
 * Pure verdict (ctl_doubt_verdict) + the table on the controller context (c->doubts). */
#ifndef DROVER_CTL_STORE_DOUBT_H
#define DROVER_CTL_STORE_DOUBT_H

#include "ctl.h"
#include "model.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ctl_doubts ctl_doubts;

typedef enum {
    CTL_DOUBT_OPEN = 0,   /* not known yet */
    CTL_DOUBT_LANDED,     /* etcd applied the write: put the desired state back */
    CTL_DOUBT_NOT_LANDED, /* it did not (or something else replaced it): nothing to do */
} ctl_doubt_verdict_t;

/* What the domain's record now (exists, cur_mod, cur_desired) says of a write of `written`
 * compared against mod_before; settled: etcd has answered again long enough for a write it held
 * to have been applied and seen. */
ctl_doubt_verdict_t ctl_doubt_verdict(int64_t mod_before, ctl_desired written, bool exists,
                                      int64_t cur_mod, ctl_desired cur_desired, bool settled);

ctl_doubts *ctl_doubts_new(void);
void ctl_doubts_destroy(ctl_doubts **self_p);

/* Records a write of domain's desired state (written, over before) compared against mod_before
 * whose outcome is unknown. */
void ctl_doubt_desired(ctl *c, const char *domain, int64_t mod_before, ctl_desired written,
                       ctl_desired before);
/* A new verb stores an intent for domain: its doubt, if any, is dropped (the new intent wins). */
void ctl_doubt_superseded(ctl *c, const char *domain);
/* Decides what it can on the model; returns ms until it should look again. */
int64_t ctl_doubt_tick(ctl *c, int64_t now_ms);
/* Writes not decided yet (cluster status). */
guint ctl_doubt_open_count(ctl *c);

#endif
