/* migrate_private.h — shared between the migration files: the checks made before anything moves
 * (migrate_check.c), etcd I/O of jobs and reservations (job_store.c), the runner (migrate_run.c)
 * and the verbs (migrate_api.c). */
#ifndef DROVER_CTL_MIGRATE_PRIVATE_H
#define DROVER_CTL_MIGRATE_PRIVATE_H

#include "domxml.h"
#include "job.h"
#include "job_action.h"
#include "job_migrate.h"
#include "link_bw.h"
#include "migrate_predict.h"
#include "migrate_run.h"

/* A storage pool a migrating domain's disks live on, to be verified as shared (same path on both
 * hosts, marker written on the source and read back on the destination). */
typedef struct {
    char *name; /* the pool's name on the source */
    char *path; /* its target path (the same on the destination) */
} ctl_mig_pool;
void ctl_mig_pool_free(gpointer p);

/* What the checks decided. */
typedef struct {
    char *destination; /* host id */
    GPtrArray *pools;  /* ctl_mig_pool*: pools to verify */
    uint32_t vcpus;
    uint64_t memory_kib;
} ctl_mig_plan;
void ctl_mig_plan_clear(ctl_mig_plan *p);

/* The checks made before anything moves, on the cached model (no I/O). to = the requested
 * destination or NULL (the scheduler chooses, avoiding the source). On success fills *ret. A
 * refusal names the check that failed: "destination" (unknown, same host, not active, unreachable,
 * no migration URI), "cpu-features" (the missing flags by name), "cpu-model" (host-passthrough
 * needs an identical host CPU), "shared-storage" (a disk outside a pool both hosts see), "room"
 * (the scheduler's explanation). Kinds: not-found, conflict, unavailable, no-room. */
int ctl_mig_check(ctl *c, const ctl_domain *d, const char *to, ctl_mig_plan *ret, drv_error **err);
/* The storage pools (names on src) dx's disks need a destination to have, for planning (the drain
 * plan: issue 17): volume disks' pools, and the pool of src holding each file or dir disk; a disk
 * in no pool of src (a local disk) needs "local disk PATH", which no host has, so the plan says
 * it cannot move instead of failing in the real run. Network disks need nothing. Owned,
 * NULL-terminated, without duplicates. */
char **ctl_mig_disk_pools(const drv_domxml *dx, const ctl_host *src);
/* Recomputes the pools of a domain's disks on a host pair (resume after a restart). */
GPtrArray *ctl_mig_pools(ctl *c, const ctl_domain *d, const char *source, const char *destination,
                         drv_error **err);

/* ------------------------------------------------------------------ the runner (migrate_run.c) */

/* Creates and starts a job for a plan the checks accepted; the domain is busy until it ends.
 * Returns the new job's id (g_free) or NULL with an error. */
char *ctl_migrate_start(ctl *c, const ctl_domain *d, const ctl_mig_plan *plan,
                        const drv_job_policy *policy, drv_error **err);
/* Feeds CANCEL to a job this controller drives: 1, or 0 when it does not drive it. */
int ctl_migrate_cancel(ctl *c, const char *job_id);
/* The live copy of a job this controller drives (borrowed), or NULL. */
const drv_job *ctl_migrate_live(const ctl *c, const char *job_id);
/* The link estimate of a host pair (borrowed; NULL when none, or not loaded yet). */
const drv_link_est *ctl_migrate_link(const ctl *c, const char *source, const char *destination);
/* The dirty rate the domain's last completed migration measured (since this controller leads). */
bool ctl_migrate_last_dirty_rate(const ctl *c, const char *domain, uint64_t *ret_bps);
/* Every job this controller drives (borrowed drv_job*; unref the array only). */
GPtrArray *ctl_migrate_live_all(const ctl *c);

/* ------------------------------------------------------------------ etcd (job_store.c) */

/* A reservation: the destination's room held for a migration. */
typedef struct {
    char *id; /* = the job id */
    char *job_id;
    char *host;
    char *domain;
    uint32_t vcpus;
    uint64_t memory_kib;
    int64_t created_ms;
} ctl_mig_resv;
void ctl_mig_resv_free(gpointer p);

/* Every etcd request goes through the etcd worker (store_async.h). Writes, in order: 0 when
 * queued, -1 when refused at once; a later failure is logged. */
int ctl_job_store_put(ctl *c, const drv_job *job, drv_error **err);
/* Reads: fn runs on the loop with the jobs (borrowed, oldest first; documents that do not parse
 * are skipped with a warning) or the job (borrowed; NULL when jobs/<id> does not exist), or with
 * err. On a refusal returns -1 and never calls fn (data stays the caller's). The elements of the
 * borrowed arrays may be taken by setting them to NULL. */
typedef void (*ctl_job_list_fn)(ctl *c, GPtrArray *jobs, const drv_error *err, void *data);
typedef void (*ctl_job_get_fn)(ctl *c, drv_job *job, const drv_error *err, void *data);
int ctl_job_store_list_async(ctl *c, ctl_job_list_fn fn, void *data, GDestroyNotify data_free,
                             drv_error **err);
int ctl_job_store_get_async(ctl *c, const char *id, ctl_job_get_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err);
/* Every stored job and every reservation (ctl_mig_resv*), both borrowed. */
typedef void (*ctl_job_resv_list_fn)(ctl *c, GPtrArray *jobs, GPtrArray *resv, const drv_error *err,
                                     void *data);
int ctl_job_store_list_with_resv_async(ctl *c, ctl_job_resv_list_fn fn, void *data,
                                       GDestroyNotify data_free, drv_error **err);
/* The list through a store, on the etcd worker's thread (the load). */
int ctl_job_store_list_from(ctl_store *store, GPtrArray **ret, drv_error **err);
int ctl_job_store_put_resv(ctl *c, const ctl_mig_resv *r, drv_error **err);
int ctl_job_store_delete_resv(ctl *c, const char *id, drv_error **err);

/* ------------------------------------------------------------------ etcd (link_store.c) */

/* links/<source>/<destination> := est (fire and forget, in order; failures are logged). */
int ctl_link_store_put(ctl *c, const char *source, const char *destination, const drv_link_est *est,
                       drv_error **err);
/* Deletes links/<pair> (pair = "source/destination", as the table evicted it). */
int ctl_link_store_delete(ctl *c, const char *pair, drv_error **err);
/* Every stored estimate (keys or documents that do not parse are skipped with a warning); fn runs
 * on the loop with the table (*links may be taken: set it to NULL) or with err. On a refusal
 * returns -1 and never calls fn. */
typedef void (*ctl_link_load_fn)(ctl *c, drv_link_table **links, const drv_error *err);
int ctl_link_store_load_async(ctl *c, ctl_link_load_fn fn, drv_error **err);
/* The load through a store, on the etcd worker's thread. */
int ctl_link_store_load_from(ctl_store *store, drv_link_table **ret, drv_error **err);

#endif
