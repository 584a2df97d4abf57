/* balance.h — the rebalancer: given the cluster snapshot and recent load (per host and per domain),
 * propose a short list of live migrations that most reduce a named objective, each with what it
 * gains, never breaking the placement rules (every filter of drv_sched_place(): state,
 * reachability, arch, CPU features, pools, networks, labels, affinity, anti-affinity, room) nor
 * N+1. Pure: the controller feeds it the stats window and runs the moves as a job.
 *
 * The model (docs/observability.md):
 *   demand(d)        = cpu(d) + steal(d)       CPUs' worth a running domain uses plus what its
 *                                              vCPUs spent waiting for a real CPU
 *   other(h)         = max(0, busy(h) × cpus(h) − Σ cpu(d on h))   the host's own work
 *   pressure(h)      = (other(h) + Σ demand(d on h)) / cpus(h)
 *   memory(h)        = allocated memory / memory capacity (the scheduler's resource model)
 *   score            = cpu_weight × Σ_h max(0, pressure(h) − cpu_threshold)²
 *                    + memory_weight × Σ_h (memory(h) − mean memory)² / n
 * over the scored hosts: active, reachable hosts with a load sample. Lower is better; 0 = nothing
 * to gain. A move takes demand(d) (and its memory) from its host to the destination; the plan is
 * greedy: the best single move, booked, then the next, while one gains at least min_gain.
 *
 * No decision rests on unknown: a host without a load sample is neither source nor destination; a
 * domain without a load sample (or not running, or listed in skip_domains) does not move. */
#include "scheduler.h" /* first: the umbrella includes this header after its core types */

#ifndef DROVER_SCHED_BALANCE_H
#define DROVER_SCHED_BALANCE_H

struct json_object;

/* What the plan minimises. */
typedef enum {
    DRV_SCHED_BALANCE_CPU = 0, /* "cpu": CPU/steal pressure over the threshold only */
    DRV_SCHED_BALANCE_MEMORY,  /* "memory": memory balance only */
    DRV_SCHED_BALANCE_BOTH,    /* "cpu+memory" (default): both terms, weighted */
    DRV_SCHED_BALANCE_LAST
} drv_sched_balance_objective;

const char *drv_sched_balance_objective_to_string(drv_sched_balance_objective o);
int drv_sched_balance_objective_from_string(const char *name, drv_sched_balance_objective *ret);

/* A host's recent load (rates over the stats window). */
typedef struct {
    const char *host;
    double cpu_busy; /* fraction of the host's logical CPUs busy (guests included), 0..1 */
} drv_sched_host_load;

/* A host's CPU demand in CPUs, as the rebalancer counts it: its own work besides its guests
 * (busy × cpus − the guests' CPU, at least 0) plus what its guests used and waited for (CPU +
 * steal). Divided by cpus it is the host's pressure (above 1: guests wait for CPUs). */
double drv_sched_balance_cpu_demand(double host_busy, uint32_t cpus, double guest_cpu,
                                    double guest_steal);

/* A domain's recent load. */
typedef struct {
    const char *domain;
    double cpu;   /* CPUs used (1.0 = one CPU fully busy) */
    double steal; /* CPUs' worth of vCPU time spent waiting for a real CPU (libvirt vcpu delay) */
} drv_sched_domain_load;

typedef struct {
    drv_sched_balance_objective objective; /* default BOTH */
    double cpu_threshold;                  /* pressure above which a host is hot; default 0.8 */
    double cpu_weight;                     /* default 1.0 */
    double memory_weight;                  /* default 1.0 */
    double min_gain;                       /* a move must lower the score by this; default 0.01 */
    unsigned max_moves;                    /* default 3, at most DRV_SCHED_BALANCE_MAX_MOVES */
    bool n_plus_one;                       /* keep N+1 (default true) */
    const char *const *skip_domains;       /* never moved (e.g. in a migration already) */
} drv_sched_balance_opts;

#define DRV_SCHED_BALANCE_MAX_MOVES 32

void drv_sched_balance_opts_init(drv_sched_balance_opts *opts);

typedef struct {
    char *domain;
    char *source;
    char *dest;
    double demand; /* cpu + steal moved */
    double steal;
    uint32_t vcpus;
    uint64_t memory_kib;
    double gain;        /* score before this move − score after it */
    double score_after; /* the plan's score once this and every earlier move are done */
    double source_pressure_before, source_pressure_after;
    double dest_pressure_before, dest_pressure_after;
    char *why; /* one sentence: "h1 CPU pressure 1.50 → 1.00, h2 0.10 → 0.60; gains 0.490" */
} drv_sched_balance_move;

typedef struct {
    drv_sched_balance_objective objective;
    double score_before;
    double score_after;
    double cpu_score_before, cpu_score_after; /* the weighted terms */
    double memory_score_before, memory_score_after;
    drv_sched_balance_move *moves;
    size_t n_moves;
    /* Better moves that a rule refused (e.g. "vm1 → h2 would gain 0.490 but breaks N+1 (loss of
     * h3)"), NULL-terminated, never NULL. */
    char **refused;
    size_t n_refused;
    size_t n_scored_hosts;
    bool n_plus_one_checked;
    bool n_plus_one_now; /* N+1 held before the plan; when false, moves are not held to it */
    char *summary;       /* "2 moves, score 0.640 → 0.010" or "nothing worth moving: ..." */
} drv_sched_balance_plan;

/* Computes the plan. hosts/domains: n_* load samples (entries naming unknown hosts or domains
 * are ignored). opts NULL = defaults. Returns 0 with *ret set (also when nothing is worth moving),
 * -1 with DRV_ERR_INVALID for bad opts (negative weights/threshold, unknown objective, max_moves
 * over the cap). Cost: O(moves × (candidate domains × hosts + N+1 checks of the best few)). */
int drv_sched_balance_plan_compute(const drv_sched_cluster *cluster,
                                   const drv_sched_host_load *hosts, size_t n_hosts,
                                   const drv_sched_domain_load *domains, size_t n_domains,
                                   const drv_sched_balance_opts *opts, drv_sched_balance_plan **ret,
                                   drv_error **err);
void drv_sched_balance_plan_destroy(drv_sched_balance_plan **plan_p);

/* Re-checks one planned move just before it is launched (the world may have changed since the
 * plan; balance_check.c): domain still exists, runs and is on source; dest still passes every
 * placement filter for it (active, reachable, arch, features, pools, networks, labels, affinity,
 * anti-affinity, room); and with n_plus_one, when the cluster survives the loss of any one host
 * now, it still does with the domain on dest. Returns 0 = allowed, 1 = refused with *ret_why (one
 * sentence, g_free), -1 with DRV_ERR_INVALID for missing arguments (*ret_why NULL). */
int drv_sched_balance_move_check(const drv_sched_cluster *cluster, const char *domain,
                                 const char *source, const char *dest, bool n_plus_one,
                                 char **ret_why, drv_error **err);

/* JSON (balance_json.c). The load document: {"hosts":{"h1":{"cpu_busy":0.9}},
 * "domains":{"vm1":{"cpu":1.5,"steal":0.3}}}; the loads borrow strings from `obj`, which must
 * outlive them (free the arrays with g_free). Options: {"objective":"cpu","cpu_threshold":0.8,
 * "cpu_weight":1,"memory_weight":1,"min_gain":0.01,"max_moves":3,"n_plus_one":true}. */
int drv_sched_balance_load_from_json(struct json_object *obj, drv_sched_host_load **ret_hosts,
                                     size_t *ret_n_hosts, drv_sched_domain_load **ret_domains,
                                     size_t *ret_n_domains, drv_error **err);
int drv_sched_balance_opts_from_json(struct json_object *obj, drv_sched_balance_opts *opts,
                                     drv_error **err);
/* Rendering; figures rounded to 3 decimals so golden files compare exactly. */
struct json_object *drv_sched_balance_plan_to_json(const drv_sched_balance_plan *plan);

#endif
