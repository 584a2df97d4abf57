/* lifecycle_run.h — the runner of start and undefine jobs (jobs/job_lifecycle.h, issue 11). `domain
 * start` (once its placement is stored) and `domain undefine` each run as a job stored at
 * jobs/<id>: the runner feeds the pure state machine with what agents and etcd answer and performs
 * the actions it asks for (jobs/<id> written and acknowledged by etcd before the next command,
 * CMD_DEFINE / CMD_START / CMD_UNDEFINE, the desired state rolled back, the domain deleted from
 * etcd, events on topic job.<id>). LOCATE is answered from the model: what the host's inventory
 * shows when it is authoritative, "unknown" otherwise (asked again every second until the job's
 * deadline). The domain is busy while its job runs; the client is answered when the job ends, or
 * with "unknown outcome" as soon as an agent did not answer.
 *
 * State lives in the ctl_lifecycle reached through ctl->lifecycle (no module state). When this
 * controller leads, the runner lists jobs/ on the etcd worker and resumes every start and undefine
 * job that is not terminal (RESTARTED, or START for a pending one); jobs stay in etcd when it stops
 * leading or shuts down. Single-threaded, on the loop. */
#ifndef DROVER_CTL_LIFECYCLE_H
#define DROVER_CTL_LIFECYCLE_H

#include "client_req.h"
#include "ctl.h"
#include "job.h"

/* A new runner for c (owned; ctl_lifecycle_destroy). */
ctl_lifecycle *ctl_lifecycle_new(ctl *c);
/* Answers the clients still waiting ("the controller is shutting down"), frees the runner; jobs
 * stay in etcd. NULL-safe; sets *self_p to NULL. Call before ctl_api_destroy. */
void ctl_lifecycle_destroy(ctl_lifecycle **self_p);

/* Runs a start job for domain, whose placement on host is stored (old_host: the placement before,
 * or NULL; desired_before: the desired state before). r is answered when the job ends (taken). */
void ctl_lifecycle_start(ctl *c, ctl_req *r, const char *domain, const char *host,
                         const char *old_host, ctl_desired desired_before);
/* Runs an undefine job: UNDEFINE on host (NULL: none has it), then the domain is deleted from
 * etcd. r is answered when the job ends (taken). */
void ctl_lifecycle_undefine(ctl *c, ctl_req *r, const char *domain, const char *host);

/* Timers: take-over, locating again, deadlines, etcd writes to retry. Returns ms until it wants to
 * run again. */
int64_t ctl_lifecycle_tick(ctl *c, int64_t now_ms);

/* The live copy of a start / undefine job this controller drives (borrowed), or NULL. */
const drv_job *ctl_lifecycle_live(ctl *c, const char *job_id);
/* Every job it drives (borrowed drv_job*; unref the array only). */
GPtrArray *ctl_lifecycle_live_all(ctl *c);

#endif
