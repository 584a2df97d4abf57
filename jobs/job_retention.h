/* job_retention.h — which stored jobs the retention policy removes from etcd (the leader's etcd
 * hygiene, controller/hygiene.c). A job goes when it is terminal (succeeded, failed, cancelled),
 * has not changed for keep_ms, and was created before every job that still runs — so nothing a
 * running job started or refers to (a drain's migrations, the drain a restore reverses) is removed
 * under it. Pure: no I/O, no clock (now_ms is given). */
#ifndef DROVER_JOB_RETENTION_H
#define DROVER_JOB_RETENTION_H

#include "job.h"

#include <glib.h>

/* The ids (owned strings, oldest first) of at most max jobs of `jobs` (drv_job*, any order) that
 * may be deleted at now_ms; keep_ms 0 keeps every job. A clock behind a job's updated_ms keeps it.
 */
GPtrArray *drv_job_retention_pick(GPtrArray *jobs, uint64_t now_ms, uint64_t keep_ms, guint max);

#endif
