/* job_busy.h — busy from the first instant (issue 12): every domain that a stored job is moving is
 * marked busy in the cache as soon as the state is loaded from etcd, before any host registers and
 * before the job runners take their jobs over (a drain waits up to 15 s for its hosts). Meanwhile a
 * guest that migrated while no controller ran may look "shut off" on its old host; busy, no verb
 * acts on it. The runners clear the mark when the job ends, as for a job they started. */
#ifndef DROVER_CTL_JOB_BUSY_H
#define DROVER_CTL_JOB_BUSY_H

#include "ctl.h"
#include "model.h"

/* Pure: marks busy ("migrate") the domain of every job in jobs (drv_job*, borrowed) that a runner
 * will resume: a stand-alone migration that is not terminal, and a drain's or restore's child
 * migration that is not terminal and is the current attempt of an entry still migrating in a drain
 * or restore that is not terminal (an orphaned child is never resumed, so never marked); and
 * ("start" / "undefine") the domain of every start or undefine job that is not terminal. Domains
 * already busy, or not in the model, are left alone. Returns how many were marked. */
guint ctl_job_busy_mark(ctl_model *m, GPtrArray *jobs);

/* Pure: ctl_job_busy_mark, and also clears the "migrate" mark of every domain that neither a job in
 * jobs (as above) nor a migration in live (drv_job*, those this process runs now; may be NULL)
 * moves: a mark left from an earlier leadership, or set at load for a job that another leader has
 * ended since. Other verbs' marks are left alone. Returns how many marks were cleared. */
guint ctl_job_busy_refresh(ctl_model *m, GPtrArray *jobs, GPtrArray *live);

#endif
