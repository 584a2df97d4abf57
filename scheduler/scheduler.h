/* scheduler.h — drover's pure scheduler: a cluster snapshot (hosts, domains, reservations, config)
 * goes in, a placement decision with its reasons comes out. No sockets, no clock, no libvirt, no
 * logging: everything here is a function of its arguments, so the controller (live) and the CLI
 * (offline, from a snapshot file) get the same answers.
 *
 * This header is the umbrella: it also includes capacity.h (how many more fit, N+1), balance.h (the
 * rebalancer), drain.h (drain plans) and snapshot.h (the JSON snapshot file format and result →
 * JSON converters).
 *
 * Ownership: every `const char *` and string array passed in is copied; every `const char *`
 * returned is borrowed from the object it came from. Results are owned by the caller and freed with
 * their
 * `_destroy(T **)` function, which is NULL-safe and sets the caller's pointer to NULL.
 *
 * Threads: a drv_sched_cluster is not locked. Any number of threads may call the functions that
 * take a `const drv_sched_cluster *` at once; mutation needs exclusive access.
 *
 * Resource model (per host):
 *   vcpu_capacity       = floor(cpus * cpu_ratio)
 *   memory_capacity_kib = floor((memory_kib - reserved_memory_kib) * memory_ratio)
 *   allocated           = sum over running domains placed on the host + reservations on the host
 *   free                = capacity - allocated   (may be negative after a ratio change)
 * A request fits a host when free_vcpus >= vcpus and free_memory_kib >= memory_kib. */
#ifndef DROVER_SCHEDULER_H
#define DROVER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* ------------------------------------------------------------------------------------------------
 * Enums (each with a _LAST sentinel and a string table). */

/* A host's administrative state. Only ACTIVE hosts receive new domains. */
typedef enum {
    DRV_SCHED_HOST_ACTIVE = 0,            /* "active" */
    DRV_SCHED_HOST_PREPARING_MAINTENANCE, /* "preparing-maintenance": draining, takes nothing new */
    DRV_SCHED_HOST_MAINTENANCE,           /* "maintenance": empty and out of service */
    DRV_SCHED_HOST_STATE_LAST
} drv_sched_host_state;

/* Returns the state's name, or NULL for an out-of-range value. */
const char *drv_sched_host_state_to_string(drv_sched_host_state state);
/* Parses a name from drv_sched_host_state_to_string(); returns -1 (and leaves *ret untouched) for
 * an unknown name. */
int drv_sched_host_state_from_string(const char *name, drv_sched_host_state *ret);

/* How the fitting hosts are ranked. */
typedef enum {
    DRV_SCHED_WEIGHER_SPREAD = 0, /* "spread" (default): most free memory after placement first */
    DRV_SCHED_WEIGHER_PACK, /* "pack": least free memory after placement first (fewest hosts) */
    DRV_SCHED_WEIGHER_LAST
} drv_sched_weigher;

const char *drv_sched_weigher_to_string(drv_sched_weigher weigher);
int drv_sched_weigher_from_string(const char *name, drv_sched_weigher *ret);

/* The filters, in the order they are applied. A host refused by several filters is counted once,
 * under the first one in this order. Names are what the CLI prints and what JSON carries. */
typedef enum {
    DRV_SCHED_FILTER_STATE = 0,     /* "maintenance": admin state is not active */
    DRV_SCHED_FILTER_REACHABLE,     /* "unreachable": the controller lost the host's agent */
    DRV_SCHED_FILTER_AVOID,         /* "avoided": listed in request.avoid_hosts */
    DRV_SCHED_FILTER_ARCH,          /* "arch": host arch differs from request.arch */
    DRV_SCHED_FILTER_FEATURES,      /* "cpu-features": host lacks a required CPU feature */
    DRV_SCHED_FILTER_POOLS,         /* "pools": host does not see a required storage pool */
    DRV_SCHED_FILTER_NETWORKS,      /* "networks": host lacks a libvirt network the domain uses */
    DRV_SCHED_FILTER_LABELS,        /* "labels": host lacks a required key=value label */
    DRV_SCHED_FILTER_ANTI_AFFINITY, /* "anti-affinity": host holds a member of the group */
    DRV_SCHED_FILTER_AFFINITY,      /* "affinity": group has members, none on this host */
    DRV_SCHED_FILTER_MEMORY,        /* "memory": not enough free memory */
    DRV_SCHED_FILTER_VCPUS,         /* "vcpus": not enough free vCPUs */
    DRV_SCHED_FILTER_LAST
} drv_sched_filter;

const char *drv_sched_filter_to_string(drv_sched_filter filter);
int drv_sched_filter_from_string(const char *name, drv_sched_filter *ret);

/* ------------------------------------------------------------------------------------------------
 * Config. */

typedef struct {
    double cpu_ratio;          /* vCPU overcommit, > 0; default 4.0 */
    double memory_ratio;       /* memory overcommit, > 0; default 1.0 */
    drv_sched_weigher weigher; /* default spread */
    unsigned alternates;       /* ranked alternates returned besides the chosen host; default 3,
                                  at most DRV_SCHED_MAX_ALTERNATES */
} drv_sched_config;

#define DRV_SCHED_MAX_ALTERNATES 32

/* Fills *cfg with the defaults above. */
void drv_sched_config_init(drv_sched_config *cfg);

/* ------------------------------------------------------------------------------------------------
 * The cluster snapshot. String arrays are NULL-terminated (NULL means empty). Labels are
 * "key=value" strings (a label without '=' is a key with an empty value). */

typedef struct drv_sched_cluster drv_sched_cluster;

typedef struct {
    const char *id;               /* required, unique */
    const char *arch;             /* e.g. "x86_64"; NULL or "" = unknown (fails any arch request) */
    const char *cpu_model;        /* e.g. "Skylake-Client"; optional, used by the baseline */
    uint32_t cpus;                /* logical CPUs */
    uint64_t memory_kib;          /* total */
    uint64_t reserved_memory_kib; /* kept for the host itself; must be <= memory_kib */
    const char *const *features;  /* CPU feature flags, e.g. "avx2" */
    const char *const *labels;    /* "key=value" */
    const char *const *pools;     /* storage pools the host sees */
    const char *const *networks;  /* libvirt networks defined on the host */
    drv_sched_host_state state;
    bool reachable;
} drv_sched_host_spec;

typedef struct {
    const char *name; /* required, unique */
    const char *host; /* placement: a host id added before, or NULL if not placed */
    uint32_t vcpus;
    uint64_t memory_kib;
    const char *arch;                /* required arch, or NULL for any */
    const char *const *features;     /* required CPU features */
    const char *const *pools;        /* required storage pools */
    const char *const *networks;     /* required libvirt networks (its <interface type=network>) */
    const char *const *labels;       /* required host labels, "key=value" */
    const char *affinity_group;      /* NULL for none */
    const char *anti_affinity_group; /* NULL for none */
    /* true when the domain holds its host's resources (running, paused, starting). A placed domain
     * that is shut off holds no vCPUs or memory, but still counts for (anti-)affinity and still has
     * to move in a drain. */
    bool running;
} drv_sched_domain_spec;

/* Room held on a host for a migration in flight (the destination's share); counted exactly like a
 * running domain's allocation until removed. */
typedef struct {
    const char *id;   /* required, unique (e.g. the job id) */
    const char *host; /* an existing host id */
    uint32_t vcpus;
    uint64_t memory_kib;
} drv_sched_reservation;

/* Returns a new empty cluster using *cfg (NULL, or a cfg drv_sched_cluster_set_config() would
 * refuse = defaults). Never NULL. */
drv_sched_cluster *drv_sched_cluster_new(const drv_sched_config *cfg);
/* Frees the cluster and everything it holds; NULL-safe; sets *cluster_p to NULL. */
void drv_sched_cluster_destroy(drv_sched_cluster **cluster_p);
/* Returns a deep, independent copy (for what-if questions). Never NULL. */
drv_sched_cluster *drv_sched_cluster_copy(const drv_sched_cluster *cluster);

/* Returns the cluster's config (borrowed). */
const drv_sched_config *drv_sched_cluster_get_config(const drv_sched_cluster *cluster);
/* Replaces the config; fails with DRV_ERR_INVALID (cluster unchanged) for a ratio <= 0, an unknown
 * weigher or too many alternates. */
int drv_sched_cluster_set_config(drv_sched_cluster *cluster, const drv_sched_config *cfg,
                                 drv_error **err);

/* Adds a host. Fails with DRV_ERR_EXISTS for a duplicate id, DRV_ERR_INVALID for a missing id, an
 * out-of-range state or reserved > total memory. */
int drv_sched_cluster_add_host(drv_sched_cluster *cluster, const drv_sched_host_spec *host,
                               drv_error **err);
/* Removes a host. Domains placed on it become unplaced (host NULL); its reservations are dropped.
 * DRV_ERR_NOT_FOUND for an unknown id. */
int drv_sched_cluster_remove_host(drv_sched_cluster *cluster, const char *host_id, drv_error **err);
int drv_sched_cluster_set_host_state(drv_sched_cluster *cluster, const char *host_id,
                                     drv_sched_host_state state, drv_error **err);
int drv_sched_cluster_set_host_reachable(drv_sched_cluster *cluster, const char *host_id,
                                         bool reachable, drv_error **err);

/* Adds a domain (placed or not). Fails with DRV_ERR_EXISTS for a duplicate name, DRV_ERR_NOT_FOUND
 * when spec->host names no host, DRV_ERR_INVALID for a missing name. The domain's allocation is
 * counted on its host when running (even if that overcommits the host: the snapshot records facts).
 */
int drv_sched_cluster_add_domain(drv_sched_cluster *cluster, const drv_sched_domain_spec *domain,
                                 drv_error **err);
int drv_sched_cluster_remove_domain(drv_sched_cluster *cluster, const char *name, drv_error **err);
/* Moves a domain to host_id (NULL = unplace). No filter is applied: this records a fact. */
int drv_sched_cluster_move_domain(drv_sched_cluster *cluster, const char *name, const char *host_id,
                                  drv_error **err);
int drv_sched_cluster_set_domain_running(drv_sched_cluster *cluster, const char *name, bool running,
                                         drv_error **err);

int drv_sched_cluster_add_reservation(drv_sched_cluster *cluster,
                                      const drv_sched_reservation *reservation, drv_error **err);
int drv_sched_cluster_remove_reservation(drv_sched_cluster *cluster, const char *id,
                                         drv_error **err);

size_t drv_sched_cluster_n_hosts(const drv_sched_cluster *cluster);
size_t drv_sched_cluster_n_domains(const drv_sched_cluster *cluster);
size_t drv_sched_cluster_n_reservations(const drv_sched_cluster *cluster);
/* Returns the i-th host's id (hosts are kept in insertion order, except that removing a host moves
 * the last one into its slot), or NULL when i is out of range. */
const char *drv_sched_cluster_host_id(const drv_sched_cluster *cluster, size_t i);
bool drv_sched_cluster_has_host(const drv_sched_cluster *cluster, const char *host_id);
bool drv_sched_cluster_has_domain(const drv_sched_cluster *cluster, const char *name);
/* Returns the host a domain is placed on (borrowed), or NULL if unplaced or unknown. */
const char *drv_sched_cluster_domain_host(const drv_sched_cluster *cluster, const char *name);

/* A host's resources as the scheduler sees them (after ratios). */
typedef struct {
    int64_t vcpu_capacity;
    int64_t vcpus_allocated; /* running domains + reservations */
    int64_t vcpus_free;      /* capacity - allocated; negative when overcommitted */
    int64_t memory_capacity_kib;
    int64_t memory_allocated_kib;
    int64_t memory_free_kib;
    size_t n_domains; /* placed here, running or not */
    size_t n_reservations;
    drv_sched_host_state state;
    bool reachable;
} drv_sched_host_usage;

/* Writes host_id's usage to *ret. DRV_ERR_NOT_FOUND for an unknown id. */
int drv_sched_cluster_host_usage(const drv_sched_cluster *cluster, const char *host_id,
                                 drv_sched_host_usage *ret, drv_error **err);

/* ------------------------------------------------------------------------------------------------
 * Placement. */

typedef struct {
    /* The domain being placed, if it already exists in the cluster (re-placement, migration): its
     * own membership is ignored by the (anti-)affinity filters. NULL for a new domain. */
    const char *name;
    uint32_t vcpus;
    uint64_t memory_kib;
    const char *arch;            /* NULL = any */
    const char *const *features; /* required CPU features */
    const char *const *pools;    /* required storage pools */
    const char *const *networks; /* required libvirt networks */
    const char *const *labels;   /* required host labels "key=value" */
    const char *affinity_group;  /* must join a host holding a member, if any member is placed */
    const char *anti_affinity_group; /* must avoid every host holding a member */
    const char *const *avoid_hosts;  /* host ids never to choose (e.g. the migration source) */
} drv_sched_request;

/* The decision. All pointers are owned by the result. */
typedef struct {
    bool fits;
    char *host;        /* chosen host id; NULL when !fits */
    char **alternates; /* next best hosts, best first, NULL-terminated (never NULL) */
    size_t n_alternates;
    size_t n_hosts;   /* hosts considered (the whole cluster) */
    size_t n_fitting; /* hosts that passed every filter */
    /* Hosts refused, counted under the first filter that refused them. */
    size_t rejected[DRV_SCHED_FILTER_LAST];
    /* Details, filled whatever `fits` is (meaningful when the matching rejected[] count is > 0): */
    char **missing_features;   /* union over hosts refused by "cpu-features", sorted, NULL-term. */
    char **missing_pools;      /* union over hosts refused by "pools" */
    char **missing_networks;   /* union over hosts refused by "networks" */
    char **missing_labels;     /* union over hosts refused by "labels" */
    uint64_t memory_short_kib; /* smallest shortfall among hosts refused by "memory" */
    uint64_t vcpus_short;      /* smallest shortfall among hosts refused by "vcpus" */
    /* A copy of the request's sizes and groups, so the result explains itself. */
    uint32_t vcpus;
    uint64_t memory_kib;
    char *arch;
    char *affinity_group;
    char *anti_affinity_group;
} drv_sched_result;

/* Runs the filters and the weigher over every host: O(hosts × feature words), no allocation per
 * host. Returns 0 with *ret set — including when nothing fits (ret->fits false) — or -1 with
 * DRV_ERR_INVALID for a malformed request (vcpus and memory both 0 is allowed). Does not modify the
 * cluster: to book the room, add the domain (or a reservation) afterwards. Ties between equally
 * good hosts go to the host added first. */
int drv_sched_place(const drv_sched_cluster *cluster, const drv_sched_request *request,
                    drv_sched_result **ret, drv_error **err);
void drv_sched_result_destroy(drv_sched_result **result_p);

/* Renders the decision as the one sentence the CLI prints (caller frees with g_free). Examples:
 *   "placed on h3 (alternates: h1, h2)"
 *   "no host has 64 GiB free, the closest is 2 GiB short (3 hosts: memory; 1: maintenance)"
 *   "no host fits: 2 hosts lack CPU features avx512f, sha-ni (2 hosts: cpu-features; 1: memory)"
 * The headline names the filter that refused the most hosts (ties: filter order); the parenthesis
 * lists every refusing filter, most hosts first. */
char *drv_sched_explain(const drv_sched_result *result);

/* Formats a KiB amount as the explanations do: a whole unit exactly ("64 GiB", "512 MiB",
 * "512 KiB"), else one decimal in the largest unit ("806.2 MiB", "1.5 MiB") (caller frees with
 * g_free). */
char *drv_sched_format_kib(uint64_t kib);

/* ------------------------------------------------------------------------------------------------
 * Cluster CPU baseline: the CPU features every ACTIVE host has (reachable or not), optionally only
 * hosts of one arch. */

/* Returns the sorted baseline features as a NULL-terminated array (free with g_strfreev); an empty
 * array when there are no active hosts. arch NULL = all active hosts. */
char **drv_sched_baseline_features(const drv_sched_cluster *cluster, const char *arch);

/* Why a feature must not be required by a migratable <cpu> (invtsc, vmx, svm, hle, rtm), or
 * NULL. */
const char *drv_sched_baseline_unrequirable(const char *feature);

/* Renders the baseline as a libvirt <cpu> element a domain can use to stay migratable to any active
 * host (features drv_sched_baseline_unrequirable names are left out, listed in a comment):
 *   <cpu mode='custom' match='exact'>
 *     <model fallback='allow'>MODEL</model>
 *     <feature policy='require' name='FEATURE'/>   (one per baseline feature)
 *   </cpu>
 * MODEL is `model` when non-NULL; otherwise the cpu_model every active host (of `arch`) shares.
 * Fails with DRV_ERR_INVALID naming two differing models when they differ (or none is known) and
 * `model` is NULL, DRV_ERR_NOT_FOUND when there is no active host. On success *ret_xml is owned
 * (g_free). */
int drv_sched_baseline_cpu_xml(const drv_sched_cluster *cluster, const char *arch,
                               const char *model, char **ret_xml, drv_error **err);

#include "balance.h"
#include "capacity.h"
#include "drain.h"
#include "snapshot.h"

#endif
