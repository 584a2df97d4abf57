/* ctl_config.h — drover-controller's settings: the [controller] and [scheduler] groups of its ini
 * file, overridden by command-line flags. */
#ifndef DROVER_CTL_CONFIG_H
#define DROVER_CTL_CONFIG_H

#include "error.h"
#include "etcd.h"

#include <glib.h>

#include <stdbool.h>
#include <stdint.h>

/* A client's role: each API verb needs one (api.c); a higher role may do all a lower one may. */
typedef enum { CTL_ROLE_VIEWER = 0, CTL_ROLE_OPERATOR, CTL_ROLE_ADMIN, CTL_ROLE_LAST } ctl_role;

const char *ctl_role_to_string(ctl_role role);
int ctl_role_from_string(const char *s, ctl_role *ret);

/* One allowed client key ([clients] NAME = ROLE Z85-PUBLIC-KEY). */
typedef struct {
    char *name;
    ctl_role role;
    char *key; /* z85 */
} ctl_client_key;

typedef struct {
    char **etcd_endpoints; /* NULL-terminated */
    /* TLS to etcd (https endpoints): etcd_ca_file, etcd_cert_file, etcd_key_file; NULL when unset
     */
    char *etcd_ca_file, *etcd_cert_file, *etcd_key_file;
    drv_etcd_tls etcd_tls; /* points at the three above */
    char *prefix;          /* always ends with '/' */
    char *agent_bind;
    char *client_bind;
    char *event_bind;
    char *pid_file;
    char *log_level;
    char *name; /* shown as the leader's name; default hostname:pid */
    int64_t heartbeat_interval_ms;
    int64_t liveness;
    int64_t command_timeout_ms;
    int64_t etcd_timeout_ms;
    int64_t leader_ttl_s;
    int64_t etcd_queue_max;       /* etcd requests waiting at most before new ones are refused */
    int64_t etcd_refuse_after_ms; /* etcd unreachable this long → writes refused at once */
    /* etcd hygiene (hygiene.h) */
    int64_t hygiene_interval_s;          /* a round every this many seconds */
    int64_t etcd_compact_keep_revisions; /* etcd revisions kept by the compaction; 0 = never */
    int64_t job_retention_days;          /* finished jobs kept this long; 0 = for ever */
    double cpu_ratio;
    double memory_ratio;
    char *weigher; /* spread | pack */
    /* continuous balance ([scheduler] balance_*; jobs/balance_policy.h, docs/observability.md) */
    int64_t balance_interval_s; /* the leader runs the rebalancer this often; 0 = off (default) */
    double balance_min_gain;    /* a plan is started only when its moves gain this much */
    double balance_min_score;   /* ... and its score before is at least this */
    int64_t balance_max_moves_per_hour; /* moves the policy launches in any sliding hour */
    /* [security] */
    char *secret_key_file;             /* the controller's CURVE secret key (required) */
    GPtrArray *clients;                /* ctl_client_key*: the client allow-list ([clients]) */
    int64_t max_message_bytes;         /* ZMQ_MAXMSGSIZE on the controller's sockets */
    int64_t etcd_max_reply_bytes;      /* an etcd reply body over this aborts its call */
    int64_t etcd_max_watch_line_bytes; /* a watch line over this drops the stream */
    char **disk_allow_prefixes; /* file/block disk sources allowed outside the hosts' pools */
    /* [metrics] (docs/observability.md) */
    char *metrics_listen;      /* HOST:PORT of /metrics; NULL = off (the default) */
    bool metrics_allow_remote; /* a listen address outside loopback is refused unless set */
} ctl_config;

/* The client entry of a z85 public key, or NULL (borrowed). */
const ctl_client_key *ctl_config_client(const ctl_config *self, const char *key);

/* Parses argv (GOptionContext; --help prints the usage and exits 0) and the --config file, flags
 * overriding the file. Returns 0 and a new config, or -1 with an error naming the flag or the
 * file/group/key (the caller exits 2). */
int ctl_config_load(int argc, char **argv, ctl_config **ret, drv_error **err);
void ctl_config_destroy(ctl_config **self_p);

#endif
