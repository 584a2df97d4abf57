/* migrate_run.h — live migration as a job (docs/migration.md): the client verbs domain.migrate,
 * job.list, job.show, job.cancel; the checks made before anything moves (destination, CPU
 * features, shared storage, room); the destination's reservation in etcd (reservations/<id>,
 * counted by the scheduler); and the job runner that feeds the pure state machine of
 * jobs/job_migrate.h with what agents answer and performs the actions it asks for (jobs/<id> in
 * etcd, events on topic job.<id>).
 *
 * One runner per controller process (module state); single-threaded like the rest of the
 * controller. It takes jobs over from etcd when this controller leads (reaping reservations whose
 * job is terminal or missing first) and leaves them there when it stops leading or shuts down. */
#ifndef DROVER_CTL_MIGRATE_H
#define DROVER_CTL_MIGRATE_H

#include "client_req.h"
#include "ctl.h"
#include "scheduler.h"

#include <stdbool.h>
#include <stdint.h>

/* Client verbs (api.c's table). */
void ctl_api_domain_migrate(ctl_req *r);
void ctl_api_job_list(ctl_req *r);
void ctl_api_job_show(ctl_req *r);
void ctl_api_job_cancel(ctl_req *r);

/* A Progress message from host_id (broker.c). Unknown jobs are ignored. */
void ctl_migrate_on_progress(ctl *c, const char *host_id, const ctl_migrate_progress *p);
/* Timers: takes jobs over when this controller starts leading, feeds deadlines to the state
 * machine, retries locating. Returns ms until it wants to run again. */
int64_t ctl_migrate_tick(ctl *c, int64_t now_ms);
/* Adds every reservation held in etcd to a scheduler cluster built from the model
 * (placement.c), so a destination's room is booked while a migration runs. */
void ctl_migrate_add_reservations(ctl *c, drv_sched_cluster *cl);
/* Shutdown: from now on commands failed by the broker leave their jobs as they are in etcd (the
 * next leader resumes them); then frees the module's state. Call before ctl_broker_destroy. */
void ctl_migrate_shutdown(ctl *c);

#endif
