/* ctl.h — the controller's shared context: one per process, owned by main.c, handed to every
 * module (broker, api, reconcile, leader, events). Single-threaded: only the main loop touches it.
 */
#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include "counters.h"
#include "ctl_config.h"
#include "etcd.h"
#include "model.h"
#include "store.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ctl_broker ctl_broker;
typedef struct ctl_api ctl_api;
typedef struct ctl_events ctl_events;
typedef struct ctl_leader ctl_leader;
typedef struct ctl_etcd_worker ctl_etcd_worker;
typedef struct ctl_lifecycle ctl_lifecycle;
typedef struct ctl_migrations ctl_migrations;
typedef struct ctl_drains ctl_drains;
typedef struct ctl_outcomes ctl_outcomes;
typedef struct ctl_doubts ctl_doubts;
typedef struct ctl_zap ctl_zap;
typedef struct ctl_ha ctl_ha;
typedef struct ctl_presence ctl_presence;
typedef struct ctl_hygiene ctl_hygiene;
typedef struct ctl_stats ctl_stats;
typedef struct ctl_metrics ctl_metrics;
typedef struct ctl_io ctl_io;

typedef struct ctl {
    /* the outside world: etcd requests, agents, events, the clock (ctl_io.h); every module goes
     * through it, so a unit test can hand the controller fakes */
    const ctl_io *io;
    void *io_ctx;
    ctl_config *cfg;
    void *zctx;
    ctl_model *model;
    ctl_store *store; /* key names and parsing on the loop; blocking calls only at start/exit */
    ctl_etcd_worker *etcdq; /* every etcd request of the loop goes through it (store_async.h) */
    drv_etcd_watch *watch;
    ctl_broker *broker;
    ctl_api *api;
    ctl_events *events;
    ctl_leader *leader;
    ctl_ha *ha;                 /* high availability: fencing verdicts and restarts (ha.h) */
    ctl_presence *presence;     /* every controller announced and listed (presence.h) */
    ctl_hygiene *hygiene;       /* etcd status, compaction, job retention (hygiene.h) */
    ctl_lifecycle *lifecycle;   /* start and undefine jobs (lifecycle_run.h) */
    ctl_migrations *migrations; /* migration jobs, reservations, link estimates (migrate_run.c) */
    ctl_drains *drains;         /* drain, restore and balance jobs (drain_run.c) */
    ctl_outcomes *outcomes;     /* verbs whose outcome is not known yet (outcome.h) */
    ctl_stats *stats;           /* the agents' statistics window, memory only (stats_window.h) */
    ctl_metrics *metrics;       /* the /metrics endpoint, NULL when off (metrics.h) */
    ctl_doubts *doubts;         /* desired-state writes etcd may still apply (store_doubt.h) */
    char *instance;             /* random per controller start */
    bool loaded;                /* cache rebuilt from etcd */
    bool loading;               /* a load is under way on the etcd worker */
    /* placements are chosen one at a time, each on a cache that holds the one before it: the
     * next waits here while one is on its way to etcd (api_domain.c) */
    bool placing;
    GQueue placement_waiters; /* ctl_req* */
    /* a placement txn was answered: the next waiting placement may choose (the client API's
     * queue, api.h ctl_api_placement_release; wired by main.c). ctl_placement_turn_over calls it.
     */
    void (*placement_released)(struct ctl *c);
    uint64_t next_id; /* command / operation counter */
    /* security (docs/security.md) */
    char curve_secret[41]; /* this controller's CURVE key pair, z85 */
    char curve_public[41];
    ctl_zap *zap;              /* ZAP handler: who may connect (zap.h) */
    uint64_t replies_dropped;  /* agent replies to no command, or from another host than its */
    uint64_t messages_refused; /* agent messages whose key, routing id or host id disagree */
    ctl_counters counters;     /* for /metrics (counters.h) */
} ctl;

/* Monotonic and wall-clock milliseconds, from c's clock (through the I/O seam: ctl_io.c). */
int64_t ctl_now_ms(const ctl *c);
int64_t ctl_wall_ms(const ctl *c);
/* A new unique command id: 128 random bits in lowercase hex (owned). */
char *ctl_new_id(ctl *c);
/* True when this controller holds the leader key (through the I/O seam: ctl_io.c). */
bool ctl_is_leader(const ctl *c);

#endif
