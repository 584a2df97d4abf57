/* job_action.h — what goes into the job state machines (events) and what comes out (actions for the
 * caller to perform). The machines (job_migrate.h, job_drain.h) are pure: the controller performs
 * the actions, in order, and feeds back what happened as events.
 *
 * Performing actions: in list order; stop at the first that fails and retry later (a failed PERSIST
 * means etcd still holds the previous version: on recovery, reload it and feed RESTARTED). The
 * machines put PERSIST before any command that must not run twice (MIGRATE, LAUNCH) and after the
 * idempotent clean-up of a terminal path (RELEASE, SET_PLACEMENT, REDEFINE_SNAPSHOTS), so a crash
 * at any point resumes safely. */
#ifndef DROVER_JOB_ACTION_H
#define DROVER_JOB_ACTION_H

#include "job.h"
#include "scheduler.h"

/* Progress is persisted at most this often (it is published every time). */
#define DRV_JOB_PROGRESS_PERSIST_MS 5000

/* ------------------------------------------------------------------------------------------------
 * Events. */

typedef enum {
    DRV_JOB_EV_START = 0,        /* "start": begin a pending job */
    DRV_JOB_EV_RESERVED_OK,      /* "reserved-ok": the destination's room is reserved */
    DRV_JOB_EV_RESERVED_FAILED,  /* "reserved-failed": no room (message says why) */
    DRV_JOB_EV_STORAGE_VERIFIED, /* "storage-verified": the destination read the source's marker */
    DRV_JOB_EV_STORAGE_REFUSED,  /* "storage-refused": not the same shared storage (message) */
    DRV_JOB_EV_PROGRESS,         /* "progress": the agent's job statistics (progress) */
    DRV_JOB_EV_RESULT_OK,        /* "result-ok": the migration succeeded (result) */
    DRV_JOB_EV_RESULT_FAILED,    /* "result-failed": it failed, domain on the source (message) */
    DRV_JOB_EV_RESULT_CANCELLED, /* "result-cancelled": it was aborted, domain on the source */
    DRV_JOB_EV_CANCEL,           /* "cancel": the operator asked to cancel */
    DRV_JOB_EV_TIMEOUT,          /* "timeout": the caller's deadline passed */
    DRV_JOB_EV_RESTARTED,        /* "restarted": a (new) controller took the job over from etcd */
    DRV_JOB_EV_DOMAIN_FOUND,     /* "domain-found": answer to LOCATE (where) */
    /* start / undefine (job_lifecycle.h): the answer to the command in flight */
    DRV_JOB_EV_REPLY_OK,      /* "reply-ok": the agent (or etcd, for FORGET) did it */
    DRV_JOB_EV_REPLY_FAILED,  /* "reply-failed": it certainly did not happen (message) */
    DRV_JOB_EV_REPLY_UNKNOWN, /* "reply-unknown": no answer; it may or may not have happened */
    DRV_JOB_EV_LAST
} drv_job_event_kind;

/* Where LOCATE found the domain. */
typedef enum {
    DRV_JOB_WHERE_SOURCE = 0,  /* "source": running on the source, no migration in progress */
    DRV_JOB_WHERE_DESTINATION, /* "destination": running (or defined) on the destination */
    DRV_JOB_WHERE_NOWHERE,     /* "nowhere": on neither host */
    DRV_JOB_WHERE_MIGRATING,   /* "migrating": the source still runs a migration job for it */
    /* start / undefine: what the LOCATE action's host has (its authoritative inventory) */
    DRV_JOB_WHERE_RUNNING, /* "running": the domain is active there */
    DRV_JOB_WHERE_DEFINED, /* "defined": defined there, not running */
    DRV_JOB_WHERE_UNKNOWN, /* "unknown": the host's inventory is not authoritative (absent =
                              "nowhere") */
    DRV_JOB_WHERE_LAST
} drv_job_where;

const char *drv_job_event_kind_to_string(drv_job_event_kind kind);
int drv_job_event_kind_from_string(const char *name, drv_job_event_kind *ret);
const char *drv_job_where_to_string(drv_job_where where);
int drv_job_where_from_string(const char *name, drv_job_where *ret);

typedef struct {
    drv_job_event_kind kind;
    const char *domain;        /* drain / restore: the entry the event is about (required for
                                  PROGRESS, RESULT_*, DOMAIN_FOUND); migrate: ignored */
    unsigned attempt;          /* drain / restore: the attempt it answers (the LAUNCH action's
                                  attempt); 0 = the current one */
    const char *message;       /* why, for *_FAILED, STORAGE_REFUSED; optional */
    drv_job_progress progress; /* PROGRESS */
    drv_job_result result;     /* RESULT_OK */
    drv_job_where where;       /* DOMAIN_FOUND */
    bool desired_running;      /* DOMAIN_FOUND of a start job: the stored desired state is still
                                  running */
} drv_job_event;

/* ------------------------------------------------------------------------------------------------
 * Actions. */

typedef enum {
    DRV_JOB_ACT_RESERVE = 0,        /* "reserve": reserve the domain's vCPUs+memory on destination
                                       under reservation_id (idempotent: same id, same room) */
    DRV_JOB_ACT_VERIFY_STORAGE,     /* "verify-storage": write a marker on source's pool, check
                                       it from destination; answer STORAGE_VERIFIED/REFUSED */
    DRV_JOB_ACT_MIGRATE,            /* "migrate": send CMD_MIGRATE (job's policy, unsafe = storage
                                       verified) to source */
    DRV_JOB_ACT_CANCEL,             /* "cancel": send CMD_MIGRATE_CANCEL to source (drain: cancel
                                       the entry's migration job_id) */
    DRV_JOB_ACT_LOCATE,             /* "locate": ask source and destination agents where domain
                                       is; answer DOMAIN_FOUND */
    DRV_JOB_ACT_RELEASE,            /* "release": delete reservation_id (idempotent) */
    DRV_JOB_ACT_SET_PLACEMENT,      /* "set-placement": domain's placement := destination */
    DRV_JOB_ACT_REDEFINE_SNAPSHOTS, /* "redefine-snapshots": destination agent redefines every
                                       snapshot of domain from etcd */
    DRV_JOB_ACT_LAUNCH,             /* "launch": (drain) migrate domain source → destination as
                                       migration job_id (attempt); answer RESULT_* */
    DRV_JOB_ACT_SHUTDOWN,           /* "shutdown": (drain) shut domain down on source */
    DRV_JOB_ACT_SET_HOST_STATE,     /* "set-host-state": host's admin state := host_state */
    DRV_JOB_ACT_PUBLISH,            /* "publish": publish the job (event topic job.<id>) */
    DRV_JOB_ACT_PERSIST,            /* "persist": write the job to etcd jobs/<id> */
    /* start / undefine (job_lifecycle.h); LOCATE there: look at `host`'s inventory */
    DRV_JOB_ACT_DEFINE,   /* "define": send CMD_DEFINE (the stored XML) to host; answer REPLY_* */
    DRV_JOB_ACT_START,    /* "start": send CMD_START to host; answer REPLY_* */
    DRV_JOB_ACT_UNDEFINE, /* "undefine": send CMD_UNDEFINE to host; answer REPLY_* (not-found
                             counts as ok) */
    DRV_JOB_ACT_SET_DESIRED, /* "set-desired": the domain's desired state := desired */
    DRV_JOB_ACT_FORGET,      /* "forget": delete the domain from etcd; answer REPLY_* */
    DRV_JOB_ACT_DESTROY,     /* "destroy": (drain, --force) destroy domain on source: it did not
                                shut down within the shutdown timeout */
    DRV_JOB_ACT_LAST
} drv_job_action_kind;

const char *drv_job_action_kind_to_string(drv_job_action_kind kind);

/* One action. Strings are owned by the action list; NULL when not relevant to the kind. */
typedef struct {
    drv_job_action_kind kind;
    char *job_id; /* the job emitting it; LAUNCH / CANCEL of a drain: the migration's id */
    char *domain;
    char *source;
    char *destination;
    char *reservation_id; /* RESERVE, RELEASE */
    char *host;           /* SET_HOST_STATE; DEFINE, START, UNDEFINE, LOCATE of start/undefine */
    drv_sched_host_state host_state;
    drv_job_desired desired; /* SET_DESIRED */
    unsigned attempt;        /* LAUNCH, CANCEL, LOCATE of a drain entry */
    char *message;           /* PUBLISH: one line for humans */
} drv_job_action;

typedef struct drv_job_actions drv_job_actions;

/* Returns a new empty list. Never NULL. */
drv_job_actions *drv_job_actions_new(void);
/* Frees the list and its actions; NULL-safe; sets *actions_p to NULL. */
void drv_job_actions_destroy(drv_job_actions **actions_p);
/* Removes every action. */
void drv_job_actions_clear(drv_job_actions *actions);
size_t drv_job_actions_len(const drv_job_actions *actions);
/* Returns the i-th action (borrowed, valid until the list changes), or NULL when out of range. */
const drv_job_action *drv_job_actions_get(const drv_job_actions *actions, size_t i);
/* Number of actions of a kind. */
size_t drv_job_actions_count(const drv_job_actions *actions, drv_job_action_kind kind);
/* Appends a copy of *action (strings are copied). Returns the stored action (borrowed). */
drv_job_action *drv_job_actions_add(drv_job_actions *actions, const drv_job_action *action);
/* Renders the list as "kind domain src→dst; ..." for logs and test messages (g_free). */
char *drv_job_actions_describe(const drv_job_actions *actions);

#endif
