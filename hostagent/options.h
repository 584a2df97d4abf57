/* options.h — drover-agent's settings: the config file (--config) with command-line flags on top.
 * Pure apart from reading the file: no sockets, no libvirt. */
#ifndef DROVER_AGENT_OPTIONS_H
#define DROVER_AGENT_OPTIONS_H

#include "error.h"
#include "log.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *config_path;              /* NULL when none was given */
    char *host_id;                  /* [agent] host_id, default: hostname */
    char **controllers;             /* [agent] controller: endpoint list, NULL-terminated, ≥ 1 */
    char *libvirt_uri;              /* [agent] libvirt_uri, default qemu:///system */
    uint32_t heartbeat_interval_ms; /* [agent] heartbeat_interval_ms, default 1000 */
    uint32_t liveness;              /* [agent] liveness, default 3 */
    uint32_t worker_threads;      /* [agent] worker_threads: libvirt work in parallel, default 8 */
    uint32_t command_queue_limit; /* [agent] command_queue_limit: waiting commands, default 256 */
    uint32_t stats_interval_ms;   /* [agent] stats_interval_ms: 0 = no stats, default 10000 */
    bool stats_host_cpu_from_guests; /* [agent] stats_host_cpu = guests (default proc; stats.h) */
    uint64_t reserved_memory_kib;    /* [agent] reserved_memory, size text */
    char *migration_uri; /* [agent] migration_uri, default qemu+tcp://<hostname>/system */
    /* [agent] migration_pki_path: a directory holding cacert.pem, clientcert.pem and clientkey.pem,
     * the client certificate the agent itself presents when it connects to a qemu+tls destination
     * (for its completed-job statistics); NULL = libvirt's default (/etc/pki) */
    char *migration_pki_path;
    /* [agent] migration_stream_tls, default true: a migration to a qemu+tls destination encrypts
     * the memory stream too (VIR_MIGRATE_TLS; QEMU needs its migration certificates on both hosts)
     */
    bool migration_stream_tls;
    drv_log_level log_level; /* [agent] log_level, default info */
    char *pid_file;          /* --pid-file only */
    char *secret_key_file;   /* [agent] secret_key_file / --key-file: own CURVE key (0600) */
    char *controller_key;    /* [agent] controller_key / --controller-key: z85 or a file */
    char **label_keys;       /* [labels], NULL-terminated, parallel to label_values */
    char **label_values;
    /* [agent] mask_cpu_features: flags never reported (NULL or empty = none) */
    char **mask_cpu_features;
    /* HA self-fence (docs/ha.md): the agent's own etcd lease. No etcd_endpoints = no fencing (the
     * controller then never restarts this host's HA guests elsewhere). */
    char **etcd_endpoints; /* [agent] etcd_endpoints, NULL when not set */
    char *etcd_prefix;     /* [agent] etcd_prefix, default /drover/v1/ */
    /* [agent] etcd_ca_file, etcd_cert_file, etcd_key_file: TLS to etcd; NULL when unset */
    char *etcd_ca_file, *etcd_cert_file, *etcd_key_file;
    uint32_t fence_after_s; /* [agent] fence_after_s, default 10 */
    uint32_t lease_ttl_s;   /* [agent] lease_ttl_s, default fence_after_s + 5 */
    char *state_file;       /* [agent] state_file: lease id and HA domains across restarts */
    /* [test] — for libvirt's test driver only */
    char *test_cpu_model;
    char **test_cpu_features; /* NULL when not set */
    char *test_host_uuid;
    char *test_arch;
    int64_t test_clock_offset_ms; /* [test] clock_offset_ms: the agent's wall clock is off by it */
} drv_agent_options;

/* Parses argv (flags: --config, --host-id, --controller, --libvirt-uri, --heartbeat-ms,
 * --log-level, --pid-file) and the config file. On a usage or config error returns -1 with an
 * error naming the flag, or the file, group and key. --help prints the usage and exits 0. */
int drv_agent_options_parse(int argc, char **argv, drv_agent_options **ret, drv_error **err);
void drv_agent_options_destroy(drv_agent_options **self_p);

#endif
