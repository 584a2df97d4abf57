/* agent_cmd.h — what the controller asks an agent and what comes back: command kinds, the
 * command, its reply, the reply callback. The broker (broker.h) carries them; the I/O seam
 * (ctl_io.h) and every runner use them without depending on the broker. */
#ifndef DROVER_CTL_AGENT_CMD_H
#define DROVER_CTL_AGENT_CMD_H

#include "ctl.h"
#include "view.h"

/* Command kinds: the wire's CommandKind numbers. */
typedef enum {
    CTL_CMD_DEFINE = 1,
    CTL_CMD_UNDEFINE = 2,
    CTL_CMD_CREATE = 3,
    CTL_CMD_START = 4,
    CTL_CMD_SHUTDOWN = 5,
    CTL_CMD_REBOOT = 6,
    CTL_CMD_DESTROY = 7,
    CTL_CMD_SUSPEND = 8,
    CTL_CMD_RESUME = 9,
    CTL_CMD_MANAGEDSAVE = 10,
    CTL_CMD_SETVCPUS = 11,
    CTL_CMD_SETMEM = 12,
    CTL_CMD_ATTACH_DEVICE = 13,
    CTL_CMD_DETACH_DEVICE = 14,
    CTL_CMD_DUMPXML = 15,
    CTL_CMD_SNAPSHOT_CREATE = 16,
    CTL_CMD_SNAPSHOT_LIST = 17,
    CTL_CMD_SNAPSHOT_REVERT = 18,
    CTL_CMD_SNAPSHOT_DELETE = 19,
    CTL_CMD_SNAPSHOT_REDEFINE = 20,
    CTL_CMD_INVENTORY = 26,
    CTL_CMD_SNAPSHOT_DUMPXML = 27,
    CTL_CMD_HA_SET = 32, /* names: the HA domains the agent fences (controller/ha.c) */
    /* live migration (controller/migrate.c) */
    CTL_CMD_DOMSTATS = 21,
    CTL_CMD_MIGRATE = 22,
    CTL_CMD_MIGRATE_CANCEL = 23,
    CTL_CMD_STORAGE_MARK_WRITE = 24,
    CTL_CMD_STORAGE_MARK_CHECK = 25,
    CTL_CMD_MANAGEDSAVE_REMOVE = 28,
    CTL_CMD_SAVE = 29,
    CTL_CMD_RESTORE = 30,
    CTL_CMD_CONSOLE = 31,
    /* provisioning (controller/provision*.c) */
    CTL_CMD_POOL_DEFINE = 33,
    CTL_CMD_POOL_INFO = 34,
    CTL_CMD_VOL_CREATE = 35,
    CTL_CMD_VOL_DELETE = 36,
    CTL_CMD_VOL_INFO = 37,
    CTL_CMD_SEED_CREATE = 38,
    CTL_CMD_NET_DEFINE = 39,
    CTL_CMD_NET_INFO = 40,
    CTL_CMD_POOL_UNDEFINE = 41,
    CTL_CMD_VOL_CLONE = 42,
    CTL_CMD_VOL_RESIZE = 43,
    CTL_CMD_VOL_UPLOAD = 44,
    CTL_CMD_VOL_WIPE = 45,
} ctl_cmd_kind;

const char *ctl_cmd_kind_to_string(ctl_cmd_kind kind);

/* CMD_MIGRATE's parameters (the wire's MigrateParams; controller/migrate.c). */
typedef struct {
    const char *dest_uri;
    const char *dest_host;
    uint64_t max_downtime_ms;
    uint64_t bandwidth_mibs;
    bool auto_converge;
    bool postcopy;
    uint32_t timeout_s;
    bool unsafe;
    uint32_t dirty_rate_calc_s; /* measure the dirty rate first (0 = not) */
    bool choose_policy;         /* then predict and keep the policy the prediction picks */
    uint64_t link_bandwidth_bps, link_fixed_ms;
} ctl_migrate_params;

/* A migration's outcome (the wire's MigrateResult). */
typedef struct {
    uint64_t time_elapsed_ms;
    uint64_t downtime_ms;
    uint64_t data_total;
    uint64_t data_processed;
    uint64_t memory_bps;
    bool postcopy_used;
    bool cancelled;
    uint64_t dirty_rate_bps;       /* issue 15: the prediction's input and the stage times */
    const char *dirty_rate_source; /* "calc", "precopy" or ""; borrowed */
    uint64_t dirty_calc_ms, setup_ms, transfer_ms, dest_stats_ms;
    const char *predicted_verdict; /* "" or NULL: no prediction; borrowed */
    uint32_t predicted_throttle_pct;
    uint64_t predicted_time_ms, predicted_downtime_ms, predicted_bytes;
    const char *predicted_reason; /* borrowed */
    bool applied_auto_converge, applied_postcopy;
} ctl_migrate_result;

typedef struct {
    ctl_cmd_kind kind;
    const char *domain;
    const char *xml;
    const char *name;
    uint32_t modify; /* 1 live, 2 config */
    uint64_t value;
    uint32_t timeout_ms;
    bool inactive;
    bool current;
    bool shrink;                       /* CMD_VOL_RESIZE */
    const ctl_migrate_params *migrate; /* CMD_MIGRATE */
    const char *job_id;                /* CMD_MIGRATE, CMD_MIGRATE_CANCEL */
    const char *path;                  /* CMD_STORAGE_MARK_*, SAVE, RESTORE, MANAGEDSAVE_REMOVE */
    const uint8_t *console_input;      /* CMD_CONSOLE (name: session id, current: force, inactive:
                                          close) */
    size_t console_input_len;
    const char *pool;   /* CMD_POOL_*, CMD_VOL_*, CMD_SEED_CREATE */
    const char *volume; /* CMD_VOL_*, CMD_SEED_CREATE */
    const void *data;   /* CMD_VOL_CREATE: content to upload */
    size_t data_len;
    char *const *file_names; /* CMD_SEED_CREATE: NULL-terminated, with file_contents */
    char *const *file_contents;
    /* a resend of a command whose outcome was declared unknown (outcome.h): same id and expiry,
     * no callback (the answer goes to outcome.h); the agent's reply cache answers it once more
     * or refuses it as expired, never runs it twice */
    const char *resend_id;
    int64_t resend_expires_at_ms;
    const char *const *names; /* CMD_HA_SET, NULL-terminated */
} ctl_cmd;

/* An agent's answer, converted from the wire. */
typedef struct {
    const char *command_id; /* the command answered */
    int64_t expires_at_ms;  /* synthesized: the command's expiry (wall clock) */
    bool ok;
    const char *error_kind; /* drv_err_kind name */
    const char *message;
    int error_code;
    bool timed_out;
    const char *xml;
    const uint8_t *console_output; /* CMD_CONSOLE: borrowed, console_output_len bytes */
    size_t console_output_len;
    bool console_closed;
    const ctl_actual *domain; /* state after the command, NULL when not sent */
    GPtrArray *snapshots;     /* ctl_snapshot* */

    /* CMD_MIGRATE's result, NULL when not sent */
    const ctl_migrate_result *migrate;
    /* made up by the broker (timeout, host dropped): the agent never answered */
    bool synthesized;
    /* synthesized and the command may have run (or may still): report "unknown outcome" and
     * reconcile from what the host reports, never "failed" */
    bool unknown_outcome;
    /* the agent refused the command because it had expired: it certainly did not run */
    bool expired;
    /* the reply's key/value results (domstats, CMD_POOL_*, CMD_VOL_*, CMD_NET_*): char* → char* */
    GHashTable *stats;
} ctl_reply;

/* Called exactly once per command: with the agent's reply, or a synthesized answer with
 * unknown_outcome set (no answer in time, host dropped, controller shutting down). data is the
 * caller's. Every command carries an expiry (now + command_timeout_ms, wall clock) after which
 * the agent refuses to start it. */
typedef void (*ctl_reply_fn)(ctl *c, const char *host_id, const ctl_reply *reply, void *data);

/* One Progress message from an agent (the wire's Progress), converted by the broker. */
typedef struct {
    const char *job_id;
    const char *domain;
    uint64_t data_total;
    uint64_t data_processed;
    uint64_t data_remaining;
    uint64_t memory_bps;
    uint64_t iteration;
    uint64_t elapsed_ms;
    bool postcopy;
} ctl_migrate_progress;

/* The wire EventKind of a device attached or detached live (EVENT_DEVICE; broker.c checks it). */
#define CTL_EVENT_KIND_DEVICE 70

#endif
