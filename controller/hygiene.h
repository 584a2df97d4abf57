/* hygiene.h — etcd hygiene at scale (issue 19, docs/scale.md). Every hygiene_interval_s, on the
 * etcd worker (the loop never waits):
 *  - any controller reads etcd's status (DB size, size in use, revision) and drover's key counts
 *    (domains, history entries, jobs, hosts), shown by `cluster status` under "etcd" with the
 *    time they were read;
 *  - the leader deletes finished jobs unchanged for job_retention_days (jobs/job_retention.h: never
 *    one created after a job that still runs; at most 500 per round), and compacts etcd's revision
 *    history to current − etcd_compact_keep_revisions (0 = never) once that is at least a tenth of
 *    keep past the last compaction. drover's own history (`domain history`) is in its own keys,
 *    not in etcd's revisions, and is not touched by the compaction. */
#ifndef DROVER_CTL_HYGIENE_H
#define DROVER_CTL_HYGIENE_H

#include "ctl.h"

#include <json-c/json.h>

typedef struct ctl_hygiene ctl_hygiene;

ctl_hygiene *ctl_hygiene_new(ctl *c);
void ctl_hygiene_destroy(ctl_hygiene **self_p);
/* Starts a round when due. Returns ms until the next. */
int64_t ctl_hygiene_tick(ctl *c, int64_t now_ms);
/* The last round's figures as `cluster status`'s "etcd" object (owned); "read_ms" 0 = never. */
json_object *ctl_hygiene_status(ctl *c);

#endif
