/* job.h — drover's long-running jobs as data: a live migration, a host drain, or the restore that
 * moves a drain's domains back. This is what `jobs/<id>` holds in etcd (docs/jobs.md). Pure: no
 * I/O, no clock (times are passed in as `now_ms`).
 *
 * A job is a plain struct the caller may read freely; it is created by drv_job_migrate_new(),
 * drv_job_drain_new(), drv_job_restore_new(), drv_job_start_new() or drv_job_undefine_new()
 * (job_migrate.h, job_drain.h, job_lifecycle.h) or parsed from JSON
 * (drv_job_from_json_string()), changed only by the state machines, and freed with
 * drv_job_destroy(). Every string in it is owned by the job (g_free). */
#ifndef DROVER_JOB_H
#define DROVER_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "error.h"

/* Version written in every job document; a document with another version is refused. */
#define DRV_JOB_FORMAT_VERSION 1

/* ------------------------------------------------------------------------------------------------
 * Enums, each with a _LAST sentinel and a string table. to_string returns NULL when out of range;
 * from_string returns 0, or -1 (and leaves *ret untouched) for an unknown name. */

typedef enum {
    DRV_JOB_KIND_MIGRATE = 0, /* "migrate": one live migration */
    DRV_JOB_KIND_DRAIN,       /* "drain": empty a host before maintenance */
    DRV_JOB_KIND_RESTORE,     /* "restore": move a drain's domains back to their origin */
    DRV_JOB_KIND_START,       /* "start": define on the placed host, start, clean the old host */
    DRV_JOB_KIND_UNDEFINE,    /* "undefine": undefine on the host, then forget it in etcd */
    DRV_JOB_KIND_BALANCE,     /* "balance": the rebalancer's moves, each from its own host */
    DRV_JOB_KIND_LAST
} drv_job_kind;

typedef enum {
    DRV_JOB_PENDING = 0, /* "pending": created, not started */
    DRV_JOB_RUNNING,     /* "running" */
    DRV_JOB_SUCCEEDED,   /* "succeeded" (terminal) */
    DRV_JOB_FAILED,      /* "failed" (terminal), error says why */
    DRV_JOB_CANCELLED,   /* "cancelled" (terminal) */
    DRV_JOB_STATE_LAST
} drv_job_state;

/* Where a migration job is inside the "running" state (persisted, so a new leader resumes it). */
typedef enum {
    DRV_JOB_PHASE_NEW = 0,    /* "new": not started */
    DRV_JOB_PHASE_RESERVING,  /* "reserving": destination room being reserved */
    DRV_JOB_PHASE_VERIFYING,  /* "verifying-storage": shared-storage marker being checked */
    DRV_JOB_PHASE_MIGRATING,  /* "migrating": the source agent runs the migration */
    DRV_JOB_PHASE_CANCELLING, /* "cancelling": cancel sent, waiting for the agent's result */
    DRV_JOB_PHASE_LOCATING,   /* "locating": asking both agents where the domain is */
    DRV_JOB_PHASE_DONE,       /* "done": the job is terminal */
    DRV_JOB_PHASE_LAST
} drv_job_phase;

/* What a drain does with the domains the plan cannot move. */
typedef enum {
    DRV_JOB_UNMOVABLE_REFUSE = 0, /* "refuse" (default): refuse the whole drain up front */
    DRV_JOB_UNMOVABLE_LEAVE,      /* "leave": leave them running there, report; host stays
                                     preparing-maintenance and the job fails */
    DRV_JOB_UNMOVABLE_SHUTDOWN,   /* "shutdown": shut them down; the host may enter maintenance */
    DRV_JOB_UNMOVABLE_LAST
} drv_job_unmovable;

/* A drain or restore entry: one domain. */
typedef enum {
    DRV_JOB_ENTRY_PLANNED = 0, /* "planned": waiting for a slot (also between attempts) */
    DRV_JOB_ENTRY_MIGRATING,   /* "migrating": an attempt is in flight */
    DRV_JOB_ENTRY_DONE,        /* "done": the domain runs on `destination` */
    DRV_JOB_ENTRY_FAILED,      /* "failed": gave up, the domain is still on `origin` (error says) */
    DRV_JOB_ENTRY_SKIPPED,     /* "skipped": unmovable, handled per on_unmovable */
    DRV_JOB_ENTRY_STATE_LAST
} drv_job_entry_state;

/* A domain's desired state as a start job remembers it (the controller's names). */
typedef enum {
    DRV_JOB_DESIRED_SHUTOFF = 0, /* "shutoff" */
    DRV_JOB_DESIRED_RUNNING,     /* "running" */
    DRV_JOB_DESIRED_PAUSED,      /* "paused" */
    DRV_JOB_DESIRED_LAST
} drv_job_desired;

/* Where a start or undefine job is (job_lifecycle.h; persisted, so a new leader resumes it). */
typedef enum {
    DRV_JOB_STEP_NEW = 0,    /* "new": not started */
    DRV_JOB_STEP_DEFINING,   /* "defining": DEFINE sent to host */
    DRV_JOB_STEP_STARTING,   /* "starting": START sent to host */
    DRV_JOB_STEP_LOCATING,   /* "locating": finding out what host has (after a restart or a lost
                                reply) */
    DRV_JOB_STEP_CLEANING,   /* "cleaning": start: looking at old_host's stale definition */
    DRV_JOB_STEP_UNDEFINING, /* "undefining": UNDEFINE sent (start: to old_host; undefine: host) */
    DRV_JOB_STEP_FORGETTING, /* "forgetting": undefine: the domain is being deleted from etcd */
    DRV_JOB_STEP_DONE,       /* "done": the job is terminal */
    DRV_JOB_STEP_LAST
} drv_job_step;

const char *drv_job_kind_to_string(drv_job_kind kind);
int drv_job_kind_from_string(const char *name, drv_job_kind *ret);
const char *drv_job_state_to_string(drv_job_state state);
int drv_job_state_from_string(const char *name, drv_job_state *ret);
const char *drv_job_phase_to_string(drv_job_phase phase);
int drv_job_phase_from_string(const char *name, drv_job_phase *ret);
const char *drv_job_unmovable_to_string(drv_job_unmovable how);
int drv_job_unmovable_from_string(const char *name, drv_job_unmovable *ret);
const char *drv_job_entry_state_to_string(drv_job_entry_state state);
int drv_job_entry_state_from_string(const char *name, drv_job_entry_state *ret);
const char *drv_job_desired_to_string(drv_job_desired desired);
int drv_job_desired_from_string(const char *name, drv_job_desired *ret);
const char *drv_job_step_to_string(drv_job_step step);
int drv_job_step_from_string(const char *name, drv_job_step *ret);

/* True for the kinds that hold a list of moves (drv_job_drain): drain, restore and balance. */
bool drv_job_kind_is_batch(drv_job_kind kind);

/* True for succeeded, failed and cancelled. */
bool drv_job_state_is_terminal(drv_job_state state);

/* ------------------------------------------------------------------------------------------------
 * The model. */

/* libvirt's job statistics as the agent last reported them (proto Progress). */
typedef struct {
    uint64_t data_total;     /* bytes */
    uint64_t data_processed; /* bytes */
    uint64_t data_remaining; /* bytes */
    uint64_t memory_bps;     /* transfer rate, bytes/s */
    uint64_t iteration;      /* memory pass */
    uint64_t elapsed_ms;
} drv_job_progress;

/* The agent's MigrateResult of a successful migration. */
typedef struct {
    uint64_t downtime_ms;
    uint64_t time_ms;
    uint64_t bytes;     /* data processed */
    bool postcopy_used; /* the agent switched the migration to post-copy */
    /* issue 15: the agent's stage times (0 = not reported) */
    uint64_t dirty_rate_bps; /* the guest's dirty rate measured before the move */
    uint64_t setup_ms;       /* the call → first memory sent */
    uint64_t transfer_ms;    /* first memory sent → the call returned */
    /* the prediction the agent made with them and the link estimate, and applied (predicted:
     * there was one); its error against the measured migration (setup_ms + transfer_ms) */
    bool predicted;
    uint8_t verdict; /* drv_predict_verdict */
    uint32_t throttle_pct;
    bool applied_auto_converge, applied_postcopy; /* the policy the agent migrated with */
    uint64_t predicted_time_ms, predicted_downtime_ms, predicted_bytes;
    uint32_t time_error_permille, downtime_error_permille;
} drv_job_result;

/* The migration policy (`drover domain migrate` options); 0 / false = libvirt's default. */
typedef struct {
    uint64_t max_downtime_ms;
    uint64_t bandwidth_mibs;
    bool auto_converge;
    bool postcopy;
    uint32_t timeout_s; /* the agent aborts after this; 0 = no limit */
} drv_job_policy;

typedef struct {
    char *domain;
    char *source;         /* host id the domain runs on */
    char *destination;    /* host id it moves to */
    char *reservation_id; /* the scheduler reservation holding the destination's room */
    drv_job_policy policy;
    drv_job_phase phase;
    uint64_t phase_ms; /* when the phase was entered (for drv_job_migrate_deadline_ms) */
    bool reserved;     /* a reservation may exist: RESERVE issued and RELEASE not yet */
    /* since when the job has been trying to learn where the domain is (locating, and the
     * cancelling / locating rounds that follow an abort; 0 = not locating); the job gives up after
     * DRV_JOB_LOCATE_LIMIT_MS (job_migrate.h) */
    uint64_t locating_since_ms;
    /* the job gave up locating: it ended without knowing on which host the domain runs */
    bool location_unknown;
    drv_job_progress progress;
    drv_job_result result; /* meaningful once succeeded */
} drv_job_migrate;

/* Drain (and restore) options. */
typedef struct {
    unsigned max_parallel;          /* concurrent migrations cluster-wide; default 8 */
    unsigned per_source;            /* concurrent migrations out of one host; default 2 */
    unsigned per_dest;              /* concurrent migrations into one host; default 2 */
    drv_job_unmovable on_unmovable; /* default refuse */
    bool n_plus_one; /* the plan was made keeping N+1 (recorded; the scheduler applies it) */
    /* on_unmovable=shutdown: how long the drain waits for each guest's ACPI shutdown (seconds;
     * default 120), and whether it then destroys the ones still running (force; default no: the
     * drain fails naming them and the host stays preparing-maintenance). */
    unsigned shutdown_timeout_s;
    bool force;
} drv_job_drain_opts;

#define DRV_JOB_DRAIN_MAX_PARALLEL_DEFAULT       8
#define DRV_JOB_DRAIN_PER_SOURCE_DEFAULT         2
#define DRV_JOB_DRAIN_PER_DEST_DEFAULT           2
#define DRV_JOB_DRAIN_SHUTDOWN_TIMEOUT_S_DEFAULT 120

/* Fills *opts with the defaults above. */
void drv_job_drain_opts_init(drv_job_drain_opts *opts);

typedef struct {
    char *domain;
    char *origin;      /* host the domain is moved from */
    char *planned;     /* the plan's destination (NULL for an unmovable domain) */
    char **alternates; /* next-best destinations from the plan, best first; NULL-terminated,
                          never NULL (g_strfreev) */
    unsigned attempts; /* migrations launched so far (1 = first try, 2 = the retry) */
    char *destination; /* destination of the current / last attempt, NULL before the first */
    drv_job_entry_state state;
    char *error; /* why it failed or was skipped; the last attempt's failure; else NULL */
    drv_job_progress progress; /* of the current / last attempt */
} drv_job_entry;

typedef struct {
    char *host; /* drain: the host being emptied; restore: the host domains return to;
                   balance: NULL (each entry names its own origin and destination) */
    drv_job_drain_opts opts;
    char *restore_of;       /* restore: id of the drain job it reverses; else NULL */
    drv_job_entry *entries; /* in plan order (largest first) */
    size_t n_entries;
    /* on_unmovable=shutdown (stored): when the shutdowns were sent, and when the force destroy of
     * the guests still running after shutdown_timeout_s was sent; 0 = not yet */
    uint64_t shutdown_sent_ms;
    uint64_t destroy_sent_ms;
    /* runtime, not stored: since when the executor waits for a host whose inventory is not
     * authoritative or that still runs something (job_drain.h); 0 = not waiting */
    uint64_t waiting_since_ms;
} drv_job_drain;

/* A start or undefine job (job_lifecycle.h). */
typedef struct {
    char *domain;
    char *host;     /* start: the destination the placement chose; undefine: the host it is
                       undefined on, NULL when no reachable host has it (forget only) */
    char *old_host; /* start: the previous placement when another host, else NULL; undefine: NULL */
    drv_job_desired desired_before; /* start: restored when the start did not happen */
    drv_job_step step;
    uint64_t step_ms;  /* when the step was entered (for drv_job_lifecycle_deadline_ms) */
    unsigned commands; /* agent commands and etcd deletes issued so far (bounded) */
} drv_job_lifecycle;

typedef struct {
    char *id;
    drv_job_kind kind;
    drv_job_state state;
    uint64_t created_ms;
    uint64_t updated_ms; /* last persisted change */
    char *owner;         /* id of the controller instance running it; NULL = none */
    bool cancel_requested;
    char *error;                 /* when failed (or why cancelled), else NULL */
    drv_job_migrate migrate;     /* kind migrate only (all zero otherwise) */
    drv_job_drain drain;         /* kinds drain, restore and balance only (all zero otherwise) */
    drv_job_lifecycle lifecycle; /* kinds start and undefine only (all zero otherwise) */
} drv_job;

/* A new pending job of kind with its common fields set (created_ms = updated_ms = now_ms; owner
 * NULL when NULL or ""); the kind's own part is all zero, for its constructor to fill. Owned. */
drv_job *drv_job_new(const char *id, drv_job_kind kind, const char *owner, uint64_t now_ms);
/* Frees a job and everything it holds; NULL-safe; sets *job_p to NULL. */
void drv_job_destroy(drv_job **job_p);
/* Returns a deep, independent copy. Never NULL. */
drv_job *drv_job_copy(const drv_job *job);
/* Returns the entry for domain (borrowed), or NULL. Drain and restore jobs only. */
drv_job_entry *drv_job_find_entry(const drv_job *job, const char *domain);
/* Replaces the job's owner (the controller instance that resumes it). */
void drv_job_set_owner(drv_job *job, const char *owner);
/* Checks a job's internal consistency: required fields per kind, enums in range, a terminal state
 * iff phase / step "done" (migrate, start, undefine), an entry per domain at most once, non-zero
 * caps. DRV_ERR_INVALID
 * naming the job and the field. drv_job_from_json() runs it on every document it loads. */
int drv_job_validate(const drv_job *job, drv_error **err);

/* ------------------------------------------------------------------------------------------------
 * JSON (job_json.c). The document is one object; object keys are written in a fixed order and
 * optional strings (owner, error, ...) are omitted when NULL, so to_json(from_json(doc)) == doc for
 * any document this module wrote. Loading is strict: unknown keys, wrong types, negative numbers,
 * unknown enum names, a wrong version or an inconsistent job are refused with DRV_ERR_INVALID and a
 * message naming the job, the field and the cause. */

/* Returns a new JSON object for the job (caller owns a reference). */
json_object *drv_job_to_json(const drv_job *job);
/* drv_job_to_json plus "elapsed_ms": how long the job has run at now_ms (a running one), or ran
 * (a finished one: until its last update). For API answers and events, not for etcd. */
json_object *drv_job_to_api_json(const drv_job *job, uint64_t now_ms);
/* The job's run time at now_ms: now − created while it runs, updated − created once it ended;
 * 0 when the clock is behind created_ms. */
uint64_t drv_job_elapsed_ms(const drv_job *job, uint64_t now_ms);
/* Returns the job as pretty-printed JSON text ending in a newline (g_free). */
char *drv_job_to_json_string(const drv_job *job);
/* Parses a job object. On success *ret is a new job. */
int drv_job_from_json(json_object *obj, drv_job **ret, drv_error **err);
/* Parses job text (e.g. an etcd value); len -1 = NUL-terminated. On success *ret is a new job. */
int drv_job_from_json_string(const char *text, ssize_t len, drv_job **ret, drv_error **err);

#endif
