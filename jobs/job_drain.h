/* job_drain.h — the drain executor (issue 8): empties a host through concurrent live migrations,
 * under caps, with one retry per domain on the next-best destination; and the restore job that
 * moves a finished drain's domains back. Pure: (job, event, cluster facts, now_ms) → the job
 * changed in place + actions (job_action.h). No I/O, no clock.
 *
 * Each LAUNCH action is one migration of one domain; the caller runs it (normally as a migrate job
 * with id action.job_id driven by job_migrate.h, which reserves, verifies storage, migrates and
 * sets the placement) and feeds its outcome back as RESULT_OK / RESULT_FAILED / RESULT_CANCELLED
 * with event.domain and event.attempt set. Events about an older attempt are ignored.
 *
 * Host state: a drain sets its host preparing-maintenance at start and maintenance only when every
 * domain is done (or was skipped under on_unmovable=shutdown); the job succeeds only then.
 * on_unmovable=shutdown sends each skipped domain a shutdown at start and waits
 * opts.shutdown_timeout_s for facts.domain_runs to say it is off; then, with opts.force, it
 * destroys those still running (DESTROY) and waits DRV_JOB_DRAIN_UNKNOWN_WAIT_MS for them to be
 * off; without force (or when even the destroy did not end them) those entries fail and the job
 * fails naming them, the host staying preparing-maintenance. With
 * on_unmovable=leave the skipped domains keep running there, the host stays preparing-maintenance
 * and the job fails naming them. A restore sets its host active at start. A balance touches no
 * host state: it succeeds when every move is done, else fails (or is cancelled) naming the moves
 * that were not made and why.
 *
 * Resume: after a controller restart feed RESTARTED; entries still "migrating" are never launched
 * again: a LOCATE is emitted for each and DOMAIN_FOUND decides (destination → done; source → the
 * attempt counts as failed; nowhere → failed; migrating → keep waiting for the result). With
 * child migrate jobs, answer a LOCATE from the child job in etcd (action.job_id), not the agents:
 * child non-terminal → DOMAIN_FOUND migrating (it resumes itself; feed its result when it ends);
 * child terminal → its RESULT_*, except a child that gave up locating (migrate.location_unknown)
 * → DOMAIN_FOUND unknown with its error as message: the entry fails, never retried; no child job
 * (the crash came before it was created) → DOMAIN_FOUND source. Answering "source" while a child
 * still runs would launch a second move. */
#ifndef DROVER_JOB_DRAIN_H
#define DROVER_JOB_DRAIN_H

#include "job.h"
#include "job_action.h"
#include "scheduler.h"

/* Launches per domain: the first try and one retry on the next-best destination. */
#define DRV_JOB_DRAIN_MAX_ATTEMPTS 2

/* Migrations in flight on one host that this job did not launch (other jobs, manual migrations). */
typedef struct {
    const char *host;
    unsigned as_source;
    unsigned as_dest;
} drv_job_host_load;

/* What the executor needs to know about the cluster now. All optional (NULL facts = nothing else in
 * flight, every destination usable). The job's own migrating entries are counted by the executor:
 * never include them here. */
typedef struct {
    const drv_job_host_load *hosts;
    size_t n_hosts;
    unsigned cluster_inflight; /* migrations in flight cluster-wide not launched by this job */
    /* Whether host can take domain right now (active, reachable, room, ...): the planned
     * destination or an alternate that fails it is skipped. NULL = every destination is usable. */
    bool (*dest_usable)(void *ctx, const char *domain, const char *host);
    /* Why host's inventory is not authoritative now ("libvirt disconnected", "host unreachable";
     * borrowed), or NULL when what its agent reports is the truth. Nothing is launched from or to
     * such a host (the domain's state there is unknown: a cold move could leave it running, a
     * second start would run it twice), and a drain's host is not declared empty while its
     * inventory is not authoritative. NULL = every inventory is authoritative. */
    const char *(*host_unknown)(void *ctx, const char *host);
    /* A domain the host's inventory shows active (running, paused, ...) there, or NULL when none
     * (borrowed). A drain's host enters maintenance only when this says none. NULL = none. */
    const char *(*host_runs)(void *ctx, const char *host);
    /* The predicted time of domain's migration source → destination (migrate_predict.h, from the
     * pair's link estimate), or false when it cannot be predicted (link not measured yet). When
     * every entry waiting to launch has one, entries are tried longest predicted first
     * (drain_order.h drv_drain_priority: the LPT order the drain plan's prediction shows), else in
     * plan order (largest first). NULL = no predictions: plan order. */
    bool (*predict_ms)(void *ctx, const char *domain, const char *source, const char *destination,
                       uint64_t *ret_ms);
    /* Whether domain may still run on host: its inventory shows it in any state but shut off
     * (an unknown state counts as running), or the inventory is not authoritative. Used for the
     * domains on_unmovable=shutdown shuts down. NULL = none runs. */
    bool (*domain_runs)(void *ctx, const char *host, const char *domain);
    /* The last look before e is launched to dest: why the move must not happen now (owned
     * sentence, g_free), or NULL when it may. The entry then fails with that reason, nothing is
     * launched (a balance re-checks its plan here: the domain still on its origin, the destination
     * still fit for it, N+1 kept). Called only for the launch itself, never to order entries.
     * NULL = every move may happen. */
    char *(*move_refused)(void *ctx, const drv_job *job, const drv_job_entry *e, const char *dest);
    void *ctx;
} drv_job_drain_facts;

/* How long a drain waits for an origin whose inventory is not authoritative (before launching
 * from it) or for its host to be seen empty (before entering maintenance). Then the waiting
 * entries fail ("not moved") and the job fails; the host stays preparing-maintenance. */
#define DRV_JOB_DRAIN_UNKNOWN_WAIT_MS 60000

/* Creates a pending drain job from the scheduler's plan (entries in plan order; alternates from
 * each step's placement, without the drained host). opts NULL = defaults. Unmovable domains
 * (step.dest NULL): with on_unmovable=refuse the drain is refused with DRV_ERR_NO_ROOM naming every
 * such domain and why, before anything moves; otherwise they become "skipped" entries carrying the
 * reason. DRV_ERR_INVALID for a missing id or plan, or a zero cap. On success *ret is a new job. */
int drv_job_drain_new(const char *id, const drv_sched_drain_plan *plan,
                      const drv_job_drain_opts *opts, const char *owner, uint64_t now_ms,
                      drv_job **ret, drv_error **err);

/* Creates a pending balance job from the rebalancer's plan (scheduler/balance.h): one entry per
 * move, in plan order, from the move's source to its destination, with no alternates (a move
 * whose destination fails is not retried elsewhere: the plan's gain was for that destination).
 * opts NULL = defaults (on_unmovable is not used). DRV_ERR_INVALID for a missing id or plan or a
 * zero cap; DRV_ERR_CONFLICT naming the plan's summary when it has no move. On success *ret is a
 * new job. */
int drv_job_balance_new(const char *id, const drv_sched_balance_plan *plan,
                        const drv_job_drain_opts *opts, const char *owner, uint64_t now_ms,
                        drv_job **ret, drv_error **err);

/* Returns the host a domain is on now (borrowed), or NULL when it no longer exists. */
typedef const char *(*drv_job_locate_fn)(void *ctx, const char *domain);

/* Creates a pending restore job (`host activate --restore`) from a finished drain job: one entry
 * per domain the drain moved ("done"), from where it is now (where(ctx, domain); NULL where = the
 * drain's destination) back to the drained host, with the drain's caps. Domains that no longer
 * exist or are already back are left out. DRV_ERR_INVALID when drain is not a drain job,
 * DRV_ERR_CONFLICT when it has not finished. On success *ret is a new job. */
int drv_job_restore_new(const char *id, const drv_job *drain, drv_job_locate_fn where, void *ctx,
                        const char *owner, uint64_t now_ms, drv_job **ret, drv_error **err);

/* Applies ev (NULL = none: just re-evaluate, e.g. when other jobs' migrations ended, or a wait for
 * an inventory to be checked again: call it every few hundred ms) to a drain or
 * restore job, launches what the caps allow (per source, per destination, cluster-wide, counting
 * facts and the job's own migrating entries; entries in plan order, or longest predicted first when
 * facts predict every waiting one), and ends the job when nothing
 * is left in flight. Appends actions (does not clear the list). Returns 1 when the job changed or
 * actions were emitted, 0 when nothing applied, -1 with DRV_ERR_INVALID for a job that is not a
 * drain or restore, or an event kind out of range. */
int drv_job_drain_step(drv_job *job, const drv_job_event *ev, const drv_job_drain_facts *facts,
                       uint64_t now_ms, drv_job_actions *actions, drv_error **err);

/* Returns the id of the migration launched for entry e at attempt ("<job>:<domain>:<attempt>";
 * g_free). */
char *drv_job_drain_child_id(const drv_job *job, const drv_job_entry *e, unsigned attempt);

/* True when no entry still runs on the drained host: every entry done, or skipped under
 * on_unmovable=shutdown. (For a restore or a balance: every entry done.) */
bool drv_job_drain_host_empty(const drv_job *job);

#endif
