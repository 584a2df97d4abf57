/* capacity.c — how many more domains of a shape fit (per host, total), N+1, and how many hosts may
 * fail at once. See docs/scheduler.md for the method and its costs. */
#include <string.h>

#include "sched_internal.h"

static const char *const s_limit_names[DRV_SCHED_LIMIT_LAST] = {
    [DRV_SCHED_LIMIT_MEMORY] = "memory",       [DRV_SCHED_LIMIT_VCPUS] = "vcpus",
    [DRV_SCHED_LIMIT_BOTH] = "memory+vcpus",   [DRV_SCHED_LIMIT_FILTER] = "filter",
    [DRV_SCHED_LIMIT_GROUP] = "anti-affinity",
};

const char *drv_sched_limit_to_string(drv_sched_limit limit)
{
    return (unsigned)limit < DRV_SCHED_LIMIT_LAST ? s_limit_names[limit] : NULL;
}

/* Domains of the shape that fit in the free resources of one host, ignoring groups. */
static uint64_t s_fits(const sched_prep *p, const sched_hot *h, drv_sched_limit *ret_limit)
{
    uint64_t by_mem = UINT64_MAX, by_cpu = UINT64_MAX;
    if (p->memory_kib)
        by_mem = h->free_memory_kib <= 0 ? 0 : (uint64_t)h->free_memory_kib / p->memory_kib;
    if (p->vcpus)
        by_cpu = h->free_vcpus <= 0 ? 0 : (uint64_t)h->free_vcpus / p->vcpus;
    if (ret_limit)
        *ret_limit = by_mem < by_cpu   ? DRV_SCHED_LIMIT_MEMORY
                     : by_cpu < by_mem ? DRV_SCHED_LIMIT_VCPUS
                                       : DRV_SCHED_LIMIT_BOTH;
    return by_mem < by_cpu ? by_mem : by_cpu;
}

/* The host-by-host figures; returns the plain sum. */
static uint64_t s_per_host(const drv_sched_cluster *c, const sched_prep *p, drv_sched_capacity *cap)
{
    uint64_t sum = 0;
    cap->n_hosts = c->hosts->len;
    cap->hosts = g_new0(drv_sched_host_capacity, cap->n_hosts + 1);
    for (size_t slot = 0; slot < c->hosts->len; slot++) {
        const sched_host *h = g_ptr_array_index(c->hosts, slot);
        const sched_hot *hot = &c->hot[slot];
        drv_sched_host_capacity *hc = &cap->hosts[slot];
        hc->host = g_strdup(h->id);
        hc->vcpus_free = hot->free_vcpus;
        hc->memory_free_kib = hot->free_memory_kib;
        hc->rejected_by = DRV_SCHED_FILTER_LAST;
        drv_sched_filter f = sched_prep_check(p, c, hot, slot);
        if (f != DRV_SCHED_FILTER_LAST && f != DRV_SCHED_FILTER_MEMORY &&
            f != DRV_SCHED_FILTER_VCPUS) {
            hc->limit = DRV_SCHED_LIMIT_FILTER;
            hc->rejected_by = f;
            continue;
        }
        hc->fits = s_fits(p, hot, &hc->limit);
        if (p->anti_name && hc->fits > 1) {
            hc->fits = 1;
            hc->limit = DRV_SCHED_LIMIT_GROUP;
        }
        sum += hc->fits;
    }
    return sum;
}

/* Successive placements by the scan (exact drv_sched_place() semantics, groups included), booking
 * each in sim and updating the shape's group marks. Records the slots in seq when non-NULL. */
static uint64_t s_simulate(const drv_sched_cluster *c, sched_prep *p, sched_sim *sim, GArray *seq,
                           uint64_t limit)
{
    uint64_t placed = 0;
    sched_scan_out out;
    while (placed < limit) {
        sched_scan(c, sched_sim_hot(sim), p, 1, &out, NULL);
        if (!out.n_best)
            break;
        size_t slot = out.best[0];
        sched_sim_add_virtual(sim, slot);
        if (p->anti_name) {
            if (!p->anti_marks)
                p->anti_marks = g_new0(uint64_t, p->n_slot_words);
            sched_bit_set(p->anti_marks, slot);
        }
        if (p->aff_name) {
            if (!p->aff_marks)
                p->aff_marks = g_new0(uint64_t, p->n_slot_words);
            sched_bit_set(p->aff_marks, slot);
        }
        if (seq)
            g_array_append_val(seq, slot);
        placed++;
    }
    return placed;
}

/* A binary heap of candidate slots ordered like the weigher (ties: lower slot first). */
typedef struct {
    size_t *slots;
    size_t n;
    const sched_hot *hot;
    bool pack;
} s_heap;

static bool s_heap_before(const s_heap *hp, size_t a, size_t b)
{
    int64_t ma = hp->hot[a].free_memory_kib, mb = hp->hot[b].free_memory_kib;
    if (ma != mb)
        return hp->pack ? ma < mb : ma > mb;
    return a < b;
}

static void s_heap_down(s_heap *hp, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && s_heap_before(hp, hp->slots[l], hp->slots[m]))
            m = l;
        if (r < hp->n && s_heap_before(hp, hp->slots[r], hp->slots[m]))
            m = r;
        if (m == i)
            return;
        size_t t = hp->slots[i];
        hp->slots[i] = hp->slots[m];
        hp->slots[m] = t;
        i = m;
    }
}

/* The same sequence as s_simulate for a shape without groups, in O(total × log hosts). */
static void s_sequence_fast(const drv_sched_cluster *c, const sched_prep *p, GArray *seq)
{
    g_autofree sched_hot *hot = g_new0(sched_hot, c->hosts->len + 1);
    if (c->hosts->len)
        memcpy(hot, c->hot, sizeof(sched_hot) * c->hosts->len);
    s_heap hp = {.slots = g_new0(size_t, c->hosts->len + 1),
                 .hot = hot,
                 .pack = c->cfg.weigher == DRV_SCHED_WEIGHER_PACK};
    for (size_t slot = 0; slot < c->hosts->len; slot++)
        if (sched_prep_check(p, c, &hot[slot], slot) == DRV_SCHED_FILTER_LAST)
            hp.slots[hp.n++] = slot;
    for (size_t i = hp.n / 2 + 1; i-- > 0;)
        s_heap_down(&hp, i);
    while (hp.n) {
        size_t slot = hp.slots[0];
        g_array_append_val(seq, slot);
        hot[slot].free_vcpus -= (int32_t)p->vcpus;
        hot[slot].free_memory_kib -= (int64_t)p->memory_kib;
        if (sched_prep_check(p, c, &hot[slot], slot) != DRV_SCHED_FILTER_LAST)
            hp.slots[0] = hp.slots[--hp.n];
        s_heap_down(&hp, 0);
    }
    g_free(hp.slots);
}

/* Whether N+1 holds after the first k placements of seq; on false, *breaker = the slot. */
static bool s_n1_at(const drv_sched_cluster *c, const sched_prep *p, const GArray *seq, uint64_t k,
                    size_t *breaker)
{
    sched_sim *sim = sched_sim_new(c, p);
    for (uint64_t i = 0; i < k; i++)
        sched_sim_add_virtual(sim, g_array_index(seq, size_t, i));
    bool ok = sched_sim_survives_one(sim, SIZE_MAX, breaker);
    sched_sim_free(sim);
    return ok;
}

typedef struct {
    size_t slot;
    uint64_t memory_kib;
} s_host_load;

static int s_load_cmp(const void *a, const void *b)
{
    const s_host_load *x = a, *y = b;
    if (x->memory_kib != y->memory_kib)
        return x->memory_kib > y->memory_kib ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* The largest f such that the f hosts running the most memory can fail together (see header). */
static int64_t s_hosts_may_fail(const drv_sched_cluster *c)
{
    size_t n = c->hosts->len;
    sched_sim *sim = sched_sim_new(c, NULL);
    if (!sched_sim_survives_one(sim, SIZE_MAX, NULL)) {
        sched_sim_free(sim);
        return 0;
    }
    g_autofree s_host_load *loads = g_new0(s_host_load, n + 1);
    for (size_t slot = 0; slot < n; slot++) {
        const sched_host *h = g_ptr_array_index(c->hosts, slot);
        loads[slot].slot = slot;
        for (guint i = 0; i < h->domains->len; i++) {
            const sched_domain *d = g_ptr_array_index(h->domains, i);
            if (d->running)
                loads[slot].memory_kib += d->memory_kib;
        }
    }
    qsort(loads, n, sizeof(*loads), s_load_cmp);
    g_autofree size_t *failed = g_new0(size_t, n + 1);
    for (size_t i = 0; i < n; i++)
        failed[i] = loads[i].slot;
    /* f = 1 holds (single losses survive); binary search assumes that failing a superset of the
     * heaviest hosts never becomes feasible again. */
    size_t lo = n ? 1 : 0, hi = n;
    if (n && sched_sim_restart_ok(sim, failed, n))
        lo = n;
    while (hi > lo + 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (sched_sim_restart_ok(sim, failed, mid))
            lo = mid;
        else
            hi = mid;
    }
    sched_sim_free(sim);
    return (int64_t)lo;
}

int drv_sched_capacity_compute(const drv_sched_cluster *cluster, const drv_sched_request *shape,
                               const drv_sched_capacity_opts *opts, drv_sched_capacity **ret,
                               drv_error **err)
{
    if (!shape)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "capacity: no shape");
    if (shape->vcpus == 0 && shape->memory_kib == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "capacity: a shape with 0 vCPUs and 0 memory fits without limit");
    drv_sched_request req = *shape;
    req.name = NULL;
    sched_prep p;
    if (sched_prep_init(&p, cluster, &req, NULL, NULL, err) < 0) {
        sched_prep_clear(&p);
        return -1;
    }
    drv_sched_capacity *cap = g_new0(drv_sched_capacity, 1);
    uint64_t sum = s_per_host(cluster, &p, cap);
    bool groups = p.aff_name || p.anti_name;
    GArray *seq = NULL;
    bool want_n1 = opts && opts->n_plus_one;

    if (!groups) {
        cap->total = sum;
        if (want_n1) {
            seq = g_array_sized_new(FALSE, FALSE, sizeof(size_t), (guint)MIN(sum, 1u << 20));
            s_sequence_fast(cluster, &p, seq);
        }
    } else {
        sched_sim *sim = sched_sim_new(cluster, &p);
        seq = g_array_new(FALSE, FALSE, sizeof(size_t));
        cap->total = s_simulate(cluster, &p, sim, seq, sum);
        sched_sim_free(sim);
        /* restore the marks the simulation extended */
        sched_prep_marks(&p, cluster, NULL, NULL);
    }

    if (want_n1) {
        cap->n_plus_one_computed = true;
        size_t breaker = SIZE_MAX;
        uint64_t total = seq->len;
        cap->n_plus_one_now = s_n1_at(cluster, &p, seq, 0, &breaker);
        if (!cap->n_plus_one_now) {
            cap->n_plus_one_total = 0;
        } else if (s_n1_at(cluster, &p, seq, total, &breaker)) {
            cap->n_plus_one_total = total;
            breaker = SIZE_MAX;
        } else {
            uint64_t lo = 0, hi = total; /* lo holds, hi breaks (breaker from hi) */
            size_t hi_breaker = breaker;
            while (hi - lo > 1) {
                uint64_t mid = lo + (hi - lo) / 2;
                size_t b = SIZE_MAX;
                if (s_n1_at(cluster, &p, seq, mid, &b))
                    lo = mid;
                else {
                    hi = mid;
                    hi_breaker = b;
                }
            }
            cap->n_plus_one_total = lo;
            breaker = hi_breaker;
        }
        if (breaker != SIZE_MAX)
            cap->n_plus_one_breaker =
                g_strdup(((sched_host *)g_ptr_array_index(cluster->hosts, breaker))->id);
    }
    if (seq)
        g_array_unref(seq);
    if (opts && opts->hosts_down) {
        cap->hosts_down_computed = true;
        cap->hosts_may_fail = s_hosts_may_fail(cluster);
    }
    sched_prep_clear(&p);
    *ret = cap;
    return 0;
}

void drv_sched_capacity_destroy(drv_sched_capacity **capacity_p)
{
    if (!capacity_p || !*capacity_p)
        return;
    drv_sched_capacity *cap = *capacity_p;
    for (size_t i = 0; i < cap->n_hosts; i++)
        g_free(cap->hosts[i].host);
    g_free(cap->hosts);
    g_free(cap->n_plus_one_breaker);
    g_free(cap);
    *capacity_p = NULL;
}

bool drv_sched_cluster_survives_one_loss(const drv_sched_cluster *cluster, const char **ret_breaker)
{
    sched_sim *sim = sched_sim_new(cluster, NULL);
    size_t slot = SIZE_MAX;
    bool ok = sched_sim_survives_one(sim, SIZE_MAX, &slot);
    sched_sim_free(sim);
    if (!ok && ret_breaker)
        *ret_breaker = ((sched_host *)g_ptr_array_index(cluster->hosts, slot))->id;
    return ok;
}
