/* drain_run.h — host maintenance (issue 8, docs/maintenance.md): the client verbs host.maintenance
 * and host.activate (drain_api.c), and the runner (drain_run.c) that drives drain and restore jobs
 * with the pure executor of jobs/job_drain.h. Each move runs as a child migration job
 * ("<drain>:<domain>:<attempt>") through the migration runner (migrate_launch.h); the runner feeds
 * their outcomes, their progress and, after a controller restart, where each domain is (from the
 * child job in etcd) back to the executor, and performs the actions it asks for (host admin state,
 * jobs/<id>, events on topic job.<id>).
 *
 * One runner per controller process (module state), single-threaded. It takes drain and restore
 * jobs over from etcd once this controller leads and the migration runner has taken its jobs over,
 * and leaves them in etcd when it stops leading or shuts down. */
#ifndef DROVER_CTL_DRAIN_H
#define DROVER_CTL_DRAIN_H

#include "client_req.h"
#include "job.h"
#include "migrate_predict.h"
#include "scheduler.h"

/* Client verbs (api.c's table). */
void ctl_api_host_maintenance(ctl_req *r);
void ctl_api_host_activate(ctl_req *r);

/* Timers: take-over, queued outcomes, progress of the child migrations. Returns ms until it wants
 * to run again (0 when work is queued). */
int64_t ctl_drain_tick(ctl *c, int64_t now_ms);
/* Frees the module's state; jobs stay in etcd for the next leader. */
void ctl_drain_shutdown(ctl *c);

/* True when drain jobs have been taken over from etcd (new drains may be started). */
bool ctl_drain_ready(ctl *c);
/* The scheduler's view for planning h's drain (drain_api.c): what `host maintenance --dry-run`
 * and `host drain-plan` both plan on, so they never disagree. Owned. */
drv_sched_cluster *ctl_drain_plan_cluster(ctl *c, const ctl_host *h);
/* Starts a pending drain or restore job (ownership taken): stores it, feeds START. On failure
 * (storing it) the job is freed and -1 returned with the error. */
int ctl_drain_start(ctl *c, drv_job *job, drv_error **err);
/* The live copy of a drain/restore job this controller drives (borrowed), or NULL. */
const drv_job *ctl_drain_live(const ctl *c, const char *job_id);
/* A drain, restore or balance job in flight (borrowed), or NULL when none runs. */
const drv_job *ctl_drain_in_flight(const ctl *c);
/* The drain or restore job in flight for host (borrowed), or NULL. */
const drv_job *ctl_drain_active_for_host(const ctl *c, const char *host_id);
/* Predicts domain's drain migration source → destination (memory_kib of it) from the pair's link
 * estimate and the domain's last measured dirty rate (drains take no policy: pre-copy, the default
 * max downtime). Fills *ret; its verdict is UNKNOWN while the pair's link is unmeasured. The drain
 * plan's prediction and the executor's launch order (job_drain.h predict_ms) both use it. */
void ctl_drain_predict(const ctl *c, const char *domain, const char *source,
                       const char *destination, uint64_t memory_kib, drv_predict *ret);
/* Feeds CANCEL to a drain/restore job this controller drives: 1, or 0 when it does not drive it. */
int ctl_drain_cancel(ctl *c, const char *job_id);

#endif
