/* sched_internal.h — the scheduler's private data model, shared by its .c files only. Not
 * installed, not included by other folders.
 *
 * Layout: hosts live in a GPtrArray of sched_host (pointer-stable) and, for the placement loop, in
 * parallel flat arrays indexed by host slot: `hot` (free resources, arch, blocked state) and four
 * bitset tables (features, pools, networks, labels; `stride` uint64 words per host). Names are
 * interned into per-kind tables so a "required ⊆ host" test is a few word ANDs. */
#ifndef DROVER_SCHED_INTERNAL_H
#define DROVER_SCHED_INTERNAL_H

#include <glib.h>

#include "scheduler.h"

/* An intern table: name → bit index (dense, from 0). */
typedef struct {
    GHashTable *index; /* char* (owned by names) → GUINT_TO_POINTER(bit + 1) */
    GPtrArray *names;  /* bit → char* (owned) */
} sched_intern;

/* A bitset table: `stride` words per host slot. */
typedef struct {
    sched_intern names;
    size_t stride;  /* words per host */
    uint64_t *bits; /* cap_hosts × stride */
} sched_bitset_table;

typedef struct sched_group sched_group;
typedef struct sched_host sched_host;

typedef struct sched_domain {
    char *name;
    sched_host *host; /* NULL = unplaced */
    uint32_t vcpus;
    uint64_t memory_kib;
    char *arch;
    char **features; /* NULL-terminated, owned */
    char **pools;
    char **networks;
    char **labels;
    char *affinity_group;
    char *anti_affinity_group;
    sched_group *aff; /* group objects (owned by the cluster), NULL for none */
    sched_group *anti;
    bool running;
} sched_domain;

struct sched_group {
    char *name;
    GPtrArray *members; /* sched_domain* (borrowed) */
};

typedef struct {
    char *id;
    sched_host *host;
    uint32_t vcpus;
    uint64_t memory_kib;
} sched_reservation;

struct sched_host {
    char *id;
    char *arch;
    char *cpu_model;
    uint32_t cpus;
    uint64_t memory_kib;
    uint64_t reserved_memory_kib;
    char **features; /* as given, for rendering */
    char **labels;
    char **pools;
    char **networks;
    drv_sched_host_state state;
    bool reachable;
    size_t slot;             /* index into hot / bitset tables */
    GPtrArray *domains;      /* sched_domain* placed here (borrowed) */
    GPtrArray *reservations; /* sched_reservation* (borrowed) */
    int64_t vcpus_used;      /* running domains + reservations */
    int64_t memory_used_kib;
};

/* What the placement scan reads per host: 16 bytes, so 10,000 hosts stay in L2. Every test reads
 * all of it, so one record per host (rather than an array per field) costs no extra cache lines;
 * free resources are already net of ratios and allocations (sched_host_refresh). scan.c reads
 * `arch` and `block` as one 32-bit word: keep them adjacent. */
typedef struct {
    int64_t free_memory_kib;
    int32_t free_vcpus;
    uint16_t arch;  /* interned arch + 1; 0 = unknown */
    uint16_t block; /* 0 = usable; else 1 + DRV_SCHED_FILTER_STATE / _REACHABLE */
} sched_hot;

struct drv_sched_cluster {
    drv_sched_config cfg;
    GPtrArray *hosts;           /* sched_host*, owned, by slot */
    GHashTable *host_by_id;     /* id → sched_host* */
    GPtrArray *domains;         /* sched_domain*, owned, insertion order */
    GHashTable *domain_by_name; /* name → sched_domain* */
    GPtrArray *reservations;    /* sched_reservation*, owned */
    GHashTable *res_by_id;
    GHashTable *aff_groups; /* name → sched_group* (owned) */
    GHashTable *anti_groups;
    sched_intern arches;
    sched_bitset_table features, pools, networks, labels;
    sched_hot *hot; /* cap_hosts */
    size_t cap_hosts;
};

/* ---- interning and bitsets (cluster.c) */
/* Returns the bit for name, or -1 when it was never interned. */
static inline long sched_intern_lookup(const sched_intern *in, const char *name)
{
    gpointer v = g_hash_table_lookup(in->index, name);
    return v ? (long)GPOINTER_TO_UINT(v) - 1 : -1;
}
static inline const uint64_t *sched_bits_row(const sched_bitset_table *t, size_t slot)
{
    return t->bits + slot * t->stride;
}

sched_host *sched_cluster_host(const drv_sched_cluster *c, const char *id);
/* Recomputes hot[h->slot] from h (capacity after ratios minus allocations). */
void sched_host_refresh(drv_sched_cluster *c, sched_host *h);
int64_t sched_host_vcpu_capacity(const drv_sched_cluster *c, const sched_host *h);
int64_t sched_host_memory_capacity(const drv_sched_cluster *c, const sched_host *h);

/* ---- prepared request (place.c) */

/* Where a domain is for group marks: a host slot or SIZE_MAX. Lets planners overlay moves. */
typedef size_t (*sched_where_fn)(const sched_domain *d, void *ctx);

typedef struct {
    uint32_t vcpus;
    uint64_t memory_kib;
    uint32_t arch; /* 0 = any; else interned + 1; UINT32_MAX = matches no host */
    /* Required bits per table, only the non-zero words listed. */
    struct sched_req_bits {
        uint64_t *want; /* stride words */
        size_t *words;  /* indexes of non-zero words */
        size_t n_words;
        bool impossible;    /* a name no host has */
        GPtrArray *unknown; /* names never interned (borrowed from the request) */
    } feat, pool, net, label;
    const sched_domain *self;
    sched_group *aff; /* NULL if no such group or no request group */
    sched_group *anti;
    const char *aff_name; /* request names (borrowed) */
    const char *anti_name;
    uint64_t *avoid;      /* host-slot bitmap or NULL */
    uint64_t *anti_marks; /* hosts holding an anti-affinity member, or NULL */
    uint64_t *aff_marks;  /* hosts holding an affinity member, NULL = no constraint */
    size_t n_slot_words;
} sched_prep;

/* Interns the request against the cluster. `where` (NULL = the cluster's placements) decides where
 * group members are for the marks. Fails (DRV_ERR_INVALID) only on a malformed request. */
int sched_prep_init(sched_prep *p, const drv_sched_cluster *c, const drv_sched_request *req,
                    sched_where_fn where, void *where_ctx, drv_error **err);
void sched_prep_clear(sched_prep *p);
/* Recomputes the group marks with another `where`. */
void sched_prep_marks(sched_prep *p, const drv_sched_cluster *c, sched_where_fn where, void *ctx);

static inline bool sched_bit(const uint64_t *bm, size_t i)
{
    return (bm[i >> 6] >> (i & 63)) & 1u;
}
static inline void sched_bit_set(uint64_t *bm, size_t i)
{
    bm[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline bool s_req_bits_ok(const struct sched_req_bits *rb, const sched_bitset_table *t,
                                 size_t slot)
{
    if (rb->impossible)
        return false;
    const uint64_t *row = sched_bits_row(t, slot);
    for (size_t k = 0; k < rb->n_words; k++) {
        size_t w = rb->words[k];
        if (rb->want[w] & ~row[w])
            return false;
    }
    return true;
}

/* The first filter refusing host `slot` with free resources `hot` (DRV_SCHED_FILTER_LAST = fits).
 */
static inline drv_sched_filter sched_prep_check(const sched_prep *p, const drv_sched_cluster *c,
                                                const sched_hot *h, size_t slot)
{
    if (h->block)
        return (drv_sched_filter)(h->block - 1);
    if (p->avoid && sched_bit(p->avoid, slot))
        return DRV_SCHED_FILTER_AVOID;
    if (p->arch && h->arch != p->arch)
        return DRV_SCHED_FILTER_ARCH;
    if (!s_req_bits_ok(&p->feat, &c->features, slot))
        return DRV_SCHED_FILTER_FEATURES;
    if (!s_req_bits_ok(&p->pool, &c->pools, slot))
        return DRV_SCHED_FILTER_POOLS;
    if (!s_req_bits_ok(&p->net, &c->networks, slot))
        return DRV_SCHED_FILTER_NETWORKS;
    if (!s_req_bits_ok(&p->label, &c->labels, slot))
        return DRV_SCHED_FILTER_LABELS;
    if (p->anti_marks && sched_bit(p->anti_marks, slot))
        return DRV_SCHED_FILTER_ANTI_AFFINITY;
    if (p->aff_marks && !sched_bit(p->aff_marks, slot))
        return DRV_SCHED_FILTER_AFFINITY;
    if (h->free_memory_kib < (int64_t)p->memory_kib)
        return DRV_SCHED_FILTER_MEMORY;
    if (h->free_vcpus < (int64_t)p->vcpus)
        return DRV_SCHED_FILTER_VCPUS;
    return DRV_SCHED_FILTER_LAST;
}

/* One full scan: filters, per-filter counts, details and the top (1 + alternates) hosts. */
typedef struct {
    size_t rejected[DRV_SCHED_FILTER_LAST];
    size_t n_fitting;
    size_t best[DRV_SCHED_MAX_ALTERNATES + 1]; /* slots, best first */
    int64_t best_score[DRV_SCHED_MAX_ALTERNATES + 1];
    size_t n_best;
    uint64_t memory_short_kib; /* UINT64_MAX = none */
    uint64_t vcpus_short;
} sched_scan_out;

/* Where sched_scan puts the unions of missing bits over the hosts each name filter refused
 * (stride words of its table each, or NULL = not wanted). */
typedef struct {
    uint64_t *feat, *pool, *net, *label;
} sched_scan_miss;

/* Scans all hosts with free resources `hot` (c->hot for the live view). want = how many of the best
 * to keep (>= 1). miss (or NULL) receives the missing names' bits. */
void sched_scan(const drv_sched_cluster *c, const sched_hot *hot, const sched_prep *p, size_t want,
                sched_scan_out *out, const sched_scan_miss *miss);

/* Builds a drv_sched_result from a scan (details included). */
drv_sched_result *sched_result_build(const drv_sched_cluster *c, const sched_hot *hot,
                                     const sched_prep *p, const drv_sched_request *req);

/* A request describing an existing domain (borrows the domain's strings). */
void sched_request_from_domain(const sched_domain *d, drv_sched_request *req);

/* ---- restart simulation (capacity.c), shared with drain.c */
typedef struct sched_sim sched_sim;
/* A simulation over a copy of the cluster's free resources; `extra_prep` (may be NULL) describes
 * virtual domains added with sched_sim_add_virtual(). */
sched_sim *sched_sim_new(const drv_sched_cluster *c, const sched_prep *extra_prep);
void sched_sim_free(sched_sim *s);
sched_hot *sched_sim_hot(sched_sim *s);
/* Records a virtual domain of the shape on slot (books its room). */
void sched_sim_add_virtual(sched_sim *s, size_t slot);
/* Records that real domain d now runs on slot (books room there, releases its old host's); moving
 * it back to its cluster host removes the overlay. */
void sched_sim_move(sched_sim *s, const sched_domain *d, size_t slot);
/* Where d is in the simulation (slot or SIZE_MAX). */
size_t sched_sim_loc(const sched_sim *s, const sched_domain *d);
/* Blocks a host in the simulation (as if in maintenance); its domains still need a home if it
 * fails. */
void sched_sim_block(sched_sim *s, size_t slot);
/* Whether every running domain (real and virtual) on the failed slots can be restarted on other
 * usable hosts. */
bool sched_sim_restart_ok(sched_sim *s, const size_t *failed, size_t n_failed);
/* Whether the loss of any single host (except skip_slot; SIZE_MAX = none) is survivable; on false
 * *ret_slot = the first breaker. */
bool sched_sim_survives_one(sched_sim *s, size_t skip_slot, size_t *ret_slot);

#endif
