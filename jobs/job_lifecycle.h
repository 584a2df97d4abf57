/* job_lifecycle.h — `domain start` and `domain undefine` as jobs (issue 11). Pure: (job, event,
 * now_ms) → the job changed in place + actions for the caller (job_action.h). No I/O, no clock.
 *
 * A start job begins once the placement (host + desired running) is stored:
 *   new        start → defining (PERSIST DEFINE@host)
 *   defining   reply-ok → starting (PERSIST START@host); reply-failed → failed
 *   starting   reply-ok → clean or succeed; reply-failed → locating (it may run anyway)
 *   defining, starting: reply-unknown → locating (PERSIST LOCATE@host)
 *   locating   found running → clean or succeed; defined → START again (roll forward, when the
 *              desired state is still running); nowhere → DEFINE again; unknown → wait (the caller
 *              asks again) until the deadline, then failed. After a start that failed, defined /
 *              nowhere → failed.
 *   cleaning   (LOCATE@old_host) found defined → undefining (UNDEFINE@old_host); nowhere or
 *              running → end (a guest running there is never touched); unknown → wait, then end
 *              leaving the stale definition
 *   undefining reply-* → end
 *   restarted: new → nothing (feed START); defining / starting / locating → locating;
 *              cleaning / undefining → cleaning. A DEFINE or START is never resent blindly.
 * Every failed start rolls the desired state back (SET_DESIRED desired_before) before its final
 * PERSIST.
 *
 * An undefine job:
 *   new        start → undefining (PERSIST UNDEFINE@host), or forgetting (PERSIST FORGET) when no
 *              host has it
 *   undefining reply-ok → forgetting; reply-failed → failed (still defined, nothing forgotten);
 *              reply-unknown → locating
 *   locating   defined → UNDEFINE again; nowhere → forgetting; running → failed; unknown → wait,
 *              then failed
 *   forgetting reply-ok → succeeded; reply-failed → failed; reply-unknown → FORGET again
 *   restarted: undefining / locating → locating; forgetting → FORGET again (idempotent).
 *
 * Every command (DEFINE, START, UNDEFINE, FORGET) follows a PERSIST of the step that sent it, and
 * a job sends at most DRV_JOB_LIFECYCLE_MAX_COMMANDS of them. Events that do not apply in the
 * job's step are ignored (0). */
#ifndef DROVER_JOB_LIFECYCLE_H
#define DROVER_JOB_LIFECYCLE_H

#include "job.h"
#include "job_action.h"

/* How long a job waits for a host whose inventory is not authoritative (locating, cleaning). */
#define DRV_JOB_LOCATE_WAIT_MS 60000
/* Commands one job may send before it gives up (a normal start sends 3, an undefine 2). */
#define DRV_JOB_LIFECYCLE_MAX_COMMANDS 8

/* Creates a pending start job: domain placed on host (stored), old_host its previous placement
 * (NULL or equal to host: none), desired_before the desired state before the placement.
 * DRV_ERR_INVALID for a missing id, domain or host. On success *ret is a new job. */
int drv_job_start_new(const char *id, const char *domain, const char *host, const char *old_host,
                      drv_job_desired desired_before, const char *owner, uint64_t now_ms,
                      drv_job **ret, drv_error **err);
/* Creates a pending undefine job: host is where the domain is to be undefined first, NULL when no
 * reachable host has it (only forgotten in etcd). */
int drv_job_undefine_new(const char *id, const char *domain, const char *host, const char *owner,
                         uint64_t now_ms, drv_job **ret, drv_error **err);

/* Applies ev to a start or undefine job at now_ms: changes *job in place and appends the actions
 * to perform to actions. Returns 1 when the event changed the job, 0 when it does not apply in the
 * job's step, -1 with DRV_ERR_INVALID for another kind of job or an event kind out of range. */
int drv_job_lifecycle_step(drv_job *job, const drv_job_event *ev, uint64_t now_ms,
                           drv_job_actions *actions, drv_error **err);

/* When the caller should feed TIMEOUT (locating, cleaning), or 0 when the job has no deadline. */
uint64_t drv_job_lifecycle_deadline_ms(const drv_job *job);

/* The host a job in locating / cleaning looks at (borrowed), or NULL in other steps. */
const char *drv_job_lifecycle_locate_host(const drv_job *job);

#endif
