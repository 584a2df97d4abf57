/* job_migrate.h — the live-migration job's state machine (issue 7). Pure: (job, event, now_ms) →
 * the job changed in place + actions for the caller (job_action.h). No I/O, no clock.
 *
 * Phases (job.migrate.phase) and the events that move them:
 *   new          start → reserving (RESERVE)                 cancel → cancelled
 *   reserving    reserved-ok → verifying-storage (VERIFY_STORAGE); reserved-failed → failed
 *   verifying    storage-verified → migrating (MIGRATE);      storage-refused → failed
 *   migrating    result-ok → succeeded; result-failed → failed; result-cancelled → failed
 *                cancel → cancelling (CANCEL);                timeout → cancelling (CANCEL)
 *   cancelling   result-* → cancelled (operator) or failed (timeout); result-ok → succeeded
 *                timeout → locating (LOCATE)
 *   locating     domain-found destination → succeeded; source → failed / cancelled;
 *                nowhere → failed; migrating → migrating (or cancelling, CANCEL again)
 *   cancelling, locating: DRV_JOB_LOCATE_LIMIT_MS after the first LOCATE without an answer that
 *                settles it → failed / cancelled, location_unknown (RELEASE, no SET_PLACEMENT)
 *   any in-flight phase: restarted → reserving / verifying re-issue their step, later phases go to
 *                locating (LOCATE: a MIGRATE is never resent blindly)
 * A cancel during reserving / verifying is recorded and takes effect on that step's answer.
 * Every terminal path: [SET_PLACEMENT, REDEFINE_SNAPSHOTS on success] RELEASE PERSIST PUBLISH.
 *
 * Guarantees (tested as properties over random event sequences): the job reaches at most one
 * terminal state and never leaves it; every terminal path that follows a RESERVE emits exactly one
 * RELEASE after it; SET_PLACEMENT is emitted only on the way to succeeded, exactly once; MIGRATE is
 * sent at most once, and once sent the job never concludes without the agent's result or a LOCATE
 * answer, except by the locate limit, which says so (location_unknown: the placement is left as
 * it was, the inventory tells where the domain runs, and a drain does not retry it); so a domain
 * is neither migrated twice nor lost. */
#ifndef DROVER_JOB_MIGRATE_H
#define DROVER_JOB_MIGRATE_H

#include "job.h"
#include "job_action.h"

/* How long reserving or verifying storage may take before TIMEOUT applies. */
#define DRV_JOB_STEP_TIMEOUT_MS 60000
/* Slack after the agent's own timeout, and how long cancelling / locating may take. */
#define DRV_JOB_GRACE_MS 30000
/* How long a job may go on locating (rounds of LOCATE, and of CANCEL + LOCATE once aborting)
 * before it gives up: it then ends failed (cancelled when the operator cancelled it) with
 * migrate.location_unknown set and an error naming both hosts, so `job cancel` always ends a job
 * whose agents keep answering "still migrating" or nothing. Counted from the first LOCATE of the
 * round (migrate.locating_since_ms, stored: a controller restart does not reset it); a "still
 * migrating" answer while not aborting returns to migrating and resets it. */
#define DRV_JOB_LOCATE_LIMIT_MS 120000

/* Creates a pending migration job of domain from source to destination; the reservation id is the
 * job id. policy NULL = libvirt defaults. DRV_ERR_INVALID for a missing id, domain or host, or
 * source == destination. On success *ret is a new job. */
/* The timeout a migration gets when none was asked for (issue 17: a migration at a low bandwidth
 * must not run forever): DRV_JOB_MIGRATE_TIMEOUT_BASE_S plus DRV_JOB_MIGRATE_TIMEOUT_PER_GIB_S per
 * GiB of the guest's memory (rounded up), and with a bandwidth cap at least 4 full copies of that
 * memory at that bandwidth. Never 0. */
#define DRV_JOB_MIGRATE_TIMEOUT_BASE_S    60
#define DRV_JOB_MIGRATE_TIMEOUT_PER_GIB_S 120
uint32_t drv_job_migrate_default_timeout_s(uint64_t memory_kib, uint64_t bandwidth_mibs);
/* policy with its timeout filled in by drv_job_migrate_default_timeout_s when it has none. */
drv_job_policy drv_job_migrate_policy_with_default(const drv_job_policy *policy,
                                                   uint64_t memory_kib);

int drv_job_migrate_new(const char *id, const char *domain, const char *source,
                        const char *destination, const drv_job_policy *policy, const char *owner,
                        uint64_t now_ms, drv_job **ret, drv_error **err);

/* Applies ev to a migration job at now_ms: changes *job in place and appends the actions to perform
 * to actions (it does not clear the list). Returns 1 when the event changed the job, 0 when it does
 * not apply in the job's state (a stale or duplicate event: nothing changes, no action), -1 with
 * DRV_ERR_INVALID for a job that is not a migration or an event kind out of range. */
int drv_job_migrate_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                         drv_job_actions *actions, drv_error **err);

/* Returns the time at which the caller should feed TIMEOUT (see the phases above), or 0 when the
 * job has no deadline now (pending, terminal, or migrating with no policy timeout). */
uint64_t drv_job_migrate_deadline_ms(const drv_job *job);

#endif
