/* migrate_launch.h — the migration runner's entry points for other job runners (drains, restores:
 * controller/drain.c). A drain runs each of its moves as a child migration job through the same
 * runner as `domain migrate`: same checks, reservation, storage verification, placement and
 * snapshot redefinition. Implemented in migrate_run.c (it shares the runner's state). */
#ifndef DROVER_CTL_MIGRATE_LAUNCH_H
#define DROVER_CTL_MIGRATE_LAUNCH_H

#include "job.h"
#include "migrate_run.h"

/* Called once for each job this controller drives when it reaches its terminal state; job is
 * borrowed (valid during the call only). Must not start or feed jobs itself: queue and act later.
 */
typedef void (*ctl_migrate_end_fn)(ctl *c, const drv_job *job, void *ctx);

/* Registers the end hook (one per controller, kept in c->migrations; NULL removes it). */
void ctl_migrate_set_end_hook(ctl *c, ctl_migrate_end_fn fn, void *ctx);

/* Runs the checks of domain.migrate for domain → destination (required) and starts a migration
 * job with id job_id and policy (NULL = libvirt's defaults). Returns 0 once the job is started
 * (it may already have ended: the end hook was then called), or -1 with the refusal (no job, no
 * reservation created): not-found, conflict (busy, not running, destination refused), unavailable,
 * no-room, exists (a job with that id is already driven). */
int ctl_migrate_launch(ctl *c, const char *job_id, const char *domain, const char *destination,
                       const drv_job_policy *policy, drv_error **err);

/* Resumes a stored migration job that the take-over left alone (a drain's child): takes ownership
 * of job, sets its owner, feeds START (pending) or RESTARTED (in flight). Returns 1 when resumed, 0
 * when it is terminal or already driven (job freed). */
int ctl_migrate_resume(ctl *c, drv_job *job);

/* (migrate_run.c) Calls the registered end hook for a job that just ended. */
void ctl_migrate_ended_hook(ctl *c, const drv_job *job);

/* True once this controller leads and has taken the migration jobs over from etcd. */
bool ctl_migrate_is_leading(const ctl *c);

#endif
