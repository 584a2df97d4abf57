/* ctl_config.h — drover-controller's settings: the [controller] and [scheduler] groups of its ini
 * file, overridden by command-line flags. */
#ifndef DROVER_CTL_CONFIG_H
#define DROVER_CTL_CONFIG_H

#include "error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char **etcd_endpoints; /* NULL-terminated */
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
    double cpu_ratio;
    double memory_ratio;
    char *weigher; /* spread | pack */
} ctl_config;

/* Parses argv (GOptionContext; --help prints the usage and exits 0) and the --config file, flags
 * overriding the file. Returns 0 and a new config, or -1 with an error naming the flag or the
 * file/group/key (the caller exits 2). */
int ctl_config_load(int argc, char **argv, ctl_config **ret, drv_error **err);
void ctl_config_destroy(ctl_config **self_p);

#endif
