/* test_sched_scan.c — the placement scan's whole answer against a reference written from the
 * documented rules (scheduler.h, docs/scheduler.md), on seeded random clusters of 1-300 hosts, so
 * that several 64-host blocks, partial last blocks and host removal (which moves slots) are
 * exercised. Requests mix everything the scan has a loop for: avoid lists, arch (named, absent,
 * unknown), CPU flags spread over more than 64 interned names (one and several words), unknown
 * flags, pools, networks (known and unknown), labels, anti-affinity and affinity groups, both
 * weighers and many ties.
 *
 * Checked exactly for every request: the count per filter (each host under the first filter that
 * refuses it), n_fitting, the chosen host and the ranked alternates (ties to the earlier host),
 * the missing features/pools/networks/labels and the memory and vCPU shortfalls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

#define N_FLAGS   100 /* more than one 64-bit word of interned names */
#define N_POOLS   3
#define N_RACKS   3
#define N_NETS    3
#define MAX_HOSTS 300

static const char *const s_pools[N_POOLS] = {"shared", "nfs", "ceph"};
static const char *const s_nets[N_NETS] = {"lan", "san", "mgmt"};
static const char *const s_racks[N_RACKS] = {"rack=r1", "rack=r2", "rack=r3"};
static const char *const s_arches[] = {"x86_64", "aarch64", NULL};

static const char *s_flag(int i)
{
    static char names[N_FLAGS][16];
    if (!names[i][0])
        snprintf(names[i], sizeof(names[i]), "f%03d", i);
    return names[i];
}

/* The test's view of a host (what it was given, plus group members placed on it). */
typedef struct {
    char id[24];
    const char *arch;
    bool flags[N_FLAGS];
    bool pools[N_POOLS];
    bool nets[N_NETS];
    int rack;
    int anti_members, aff_members;
} m_host;

typedef struct {
    drv_sched_cluster *c;
    m_host hosts[MAX_HOSTS];
    size_t n;
    bool pack;
    unsigned alternates;
} m_cluster;

static m_host *s_host(m_cluster *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->hosts[i].id, id) == 0)
            return &m->hosts[i];
    fail_msg("unknown host %s", id);
    return NULL;
}

static void s_add_host(m_cluster *m, GRand *r, size_t i)
{
    m_host *h = &m->hosts[m->n++];
    memset(h, 0, sizeof(*h));
    snprintf(h->id, sizeof(h->id), "h%zu", i);
    h->arch = s_arches[g_rand_int_range(r, 0, 10) < 8 ? 0 : g_rand_int_range(r, 1, 3)];
    const char *flags[N_FLAGS + 1], *pools[N_POOLS + 1];
    size_t nf = 0, np = 0;
    int keep = g_rand_int_range(r, 60, 100); /* % of flags this host has */
    for (int f = 0; f < N_FLAGS; f++)
        if ((h->flags[f] = g_rand_int_range(r, 0, 100) < keep))
            flags[nf++] = s_flag(f);
    flags[nf] = NULL;
    for (int p = 0; p < N_POOLS; p++)
        if ((h->pools[p] = g_rand_int_range(r, 0, 100) < 70))
            pools[np++] = s_pools[p];
    pools[np] = NULL;
    const char *nets[N_NETS + 1];
    size_t nn = 0;
    for (int k = 0; k < N_NETS; k++)
        if ((h->nets[k] = g_rand_int_range(r, 0, 100) < 75))
            nets[nn++] = s_nets[k];
    nets[nn] = NULL;
    h->rack = g_rand_int_range(r, 0, N_RACKS);
    const char *labels[] = {s_racks[h->rack], NULL};
    int st = g_rand_int_range(r, 0, 100);
    drv_sched_host_spec spec = {
        .id = h->id,
        .arch = h->arch,
        .cpus = 4u << g_rand_int_range(r, 0, 3),
        /* few sizes, so equal free memory (ties) is common */
        .memory_kib = (uint64_t)g_rand_int_range(r, 4, 9) * 4 * 1024 * 1024,
        .reserved_memory_kib = g_rand_boolean(r) ? 1024 * 1024 : 0,
        .features = flags,
        .pools = pools,
        .networks = nets,
        .labels = labels,
        .state = st < 90   ? DRV_SCHED_HOST_ACTIVE
                 : st < 95 ? DRV_SCHED_HOST_PREPARING_MAINTENANCE
                           : DRV_SCHED_HOST_MAINTENANCE,
        .reachable = g_rand_int_range(r, 0, 100) < 95,
    };
    assert_int_equal(drv_sched_cluster_add_host(m->c, &spec, NULL), 0);
}

static void s_build(m_cluster *m, GRand *r)
{
    drv_sched_config cfg;
    drv_sched_config_init(&cfg);
    static const double cpu_ratios[] = {1.0, 2.0, 4.0};
    cfg.cpu_ratio = cpu_ratios[g_rand_int_range(r, 0, 3)];
    cfg.memory_ratio = g_rand_boolean(r) ? 1.0 : 1.5;
    cfg.weigher = g_rand_boolean(r) ? DRV_SCHED_WEIGHER_PACK : DRV_SCHED_WEIGHER_SPREAD;
    cfg.alternates = (unsigned)g_rand_int_range(r, 0, 6);
    m->pack = cfg.weigher == DRV_SCHED_WEIGHER_PACK;
    m->alternates = cfg.alternates;
    m->c = drv_sched_cluster_new(&cfg);
    m->n = 0;
    size_t n = (size_t)g_rand_int_range(r, 1, MAX_HOSTS + 1);
    for (size_t i = 0; i < n; i++)
        s_add_host(m, r, i);
    /* Remove a few hosts: the last host moves into the freed slot. */
    for (int k = g_rand_int_range(r, 0, 4); k > 0 && m->n > 1; k--) {
        size_t victim = (size_t)g_rand_int_range(r, 0, (gint32)m->n);
        assert_int_equal(drv_sched_cluster_remove_host(m->c, m->hosts[victim].id, NULL), 0);
        m->hosts[victim] = m->hosts[--m->n];
    }
    /* Domains: 0-3 per host, some in the anti-affinity group "a" or the affinity group "g"; some
     * shut off (hold no resources, still count for the groups). */
    unsigned next = 0;
    for (size_t i = 0; i < m->n; i++) {
        for (int d = g_rand_int_range(r, 0, 4); d > 0; d--) {
            char name[32];
            snprintf(name, sizeof(name), "d%u", next++);
            int g = g_rand_int_range(r, 0, 100);
            drv_sched_domain_spec ds = {
                .name = name,
                .host = m->hosts[i].id,
                .vcpus = (uint32_t)g_rand_int_range(r, 1, 5),
                .memory_kib = (uint64_t)g_rand_int_range(r, 1, 5) * 1024 * 1024,
                .anti_affinity_group = g < 4 ? "a" : NULL,
                .affinity_group = g >= 4 && g < 6 ? "g" : NULL,
                .running = g_rand_int_range(r, 0, 100) < 90,
            };
            assert_int_equal(drv_sched_cluster_add_domain(m->c, &ds, NULL), 0);
            m->hosts[i].anti_members += g < 4;
            m->hosts[i].aff_members += g >= 4 && g < 6;
        }
    }
}

typedef struct {
    drv_sched_request req;
    const char *flags[5], *pools[2], *nets[3], *labels[2], *avoid[6];
    int flag_idx[4]; /* -1 = the unknown flag */
    size_t n_flags;
    int net_idx[2]; /* -1 = a network no host has */
    size_t n_nets;
    int pool, rack; /* -1 = none */
} m_request;

static void s_request(m_cluster *m, GRand *r, m_request *q)
{
    memset(q, 0, sizeof(*q));
    q->req.vcpus = (uint32_t)g_rand_int_range(r, 0, 13);
    q->req.memory_kib = (uint64_t)g_rand_int_range(r, 0, 25) * 1024 * 1024;
    int a = g_rand_int_range(r, 0, 100);
    q->req.arch = a < 60 ? "x86_64" : a < 70 ? "aarch64" : a < 72 ? "riscv64" : NULL;
    /* 0-4 flags: mostly within one word of interned names, sometimes across words or unknown */
    int shape = g_rand_int_range(r, 0, 100);
    q->n_flags = (size_t)g_rand_int_range(r, 0, 5);
    for (size_t k = 0; k < q->n_flags; k++) {
        int f = shape < 60 ? g_rand_int_range(r, 0, 50) : g_rand_int_range(r, 0, N_FLAGS);
        if (shape >= 97 && k == 0)
            f = -1;
        q->flag_idx[k] = f;
        q->flags[k] = f < 0 ? "no-such-flag" : s_flag(f);
    }
    q->req.features = q->flags;
    q->pool = g_rand_int_range(r, 0, 100) < 15 ? g_rand_int_range(r, 0, N_POOLS) : -1;
    q->pools[0] = q->pool >= 0 ? s_pools[q->pool] : NULL;
    q->req.pools = q->pools;
    if (g_rand_int_range(r, 0, 100) < 20) {
        q->n_nets = (size_t)g_rand_int_range(r, 1, 3);
        for (size_t k = 0; k < q->n_nets; k++) {
            int n = g_rand_int_range(r, 0, 100) < 5 ? -1 : g_rand_int_range(r, 0, N_NETS);
            q->net_idx[k] = n;
            q->nets[k] = n < 0 ? "no-such-net" : s_nets[n];
        }
    }
    q->req.networks = q->nets;
    q->rack = g_rand_int_range(r, 0, 100) < 10 ? g_rand_int_range(r, 0, N_RACKS) : -1;
    q->labels[0] = q->rack >= 0 ? s_racks[q->rack] : NULL;
    q->req.labels = q->labels;
    q->req.anti_affinity_group = g_rand_int_range(r, 0, 100) < 20 ? "a" : NULL;
    q->req.affinity_group = g_rand_int_range(r, 0, 100) < 10 ? "g" : NULL;
    if (g_rand_int_range(r, 0, 100) < 25) {
        size_t k = 0;
        for (; k < 4; k++)
            q->avoid[k] = m->hosts[g_rand_int_range(r, 0, (gint32)m->n)].id;
        q->avoid[k++] = "not-a-host";
        q->avoid[k] = NULL;
        q->req.avoid_hosts = q->avoid;
    }
}

/* The first filter refusing host h for q (DRV_SCHED_FILTER_LAST = fits), by the documented order.
 */
static drv_sched_filter s_first_refusal(const m_host *h, const drv_sched_host_usage *u,
                                        const m_request *q, bool group_placed)
{
    if (u->state != DRV_SCHED_HOST_ACTIVE)
        return DRV_SCHED_FILTER_STATE;
    if (!u->reachable)
        return DRV_SCHED_FILTER_REACHABLE;
    for (size_t k = 0; q->req.avoid_hosts && q->req.avoid_hosts[k]; k++)
        if (strcmp(q->req.avoid_hosts[k], h->id) == 0)
            return DRV_SCHED_FILTER_AVOID;
    if (q->req.arch && (!h->arch || strcmp(q->req.arch, h->arch) != 0))
        return DRV_SCHED_FILTER_ARCH;
    for (size_t k = 0; k < q->n_flags; k++)
        if (q->flag_idx[k] < 0 || !h->flags[q->flag_idx[k]])
            return DRV_SCHED_FILTER_FEATURES;
    if (q->pool >= 0 && !h->pools[q->pool])
        return DRV_SCHED_FILTER_POOLS;
    for (size_t k = 0; k < q->n_nets; k++)
        if (q->net_idx[k] < 0 || !h->nets[q->net_idx[k]])
            return DRV_SCHED_FILTER_NETWORKS;
    if (q->rack >= 0 && h->rack != q->rack)
        return DRV_SCHED_FILTER_LABELS;
    if (q->req.anti_affinity_group && h->anti_members > 0)
        return DRV_SCHED_FILTER_ANTI_AFFINITY;
    if (q->req.affinity_group && group_placed && h->aff_members == 0)
        return DRV_SCHED_FILTER_AFFINITY;
    if (u->memory_free_kib < (int64_t)q->req.memory_kib)
        return DRV_SCHED_FILTER_MEMORY;
    if (u->vcpus_free < (int64_t)q->req.vcpus)
        return DRV_SCHED_FILTER_VCPUS;
    return DRV_SCHED_FILTER_LAST;
}

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Asserts that `got` (NULL-terminated) is exactly the sorted set `want`. */
static void s_assert_names(char **got, GPtrArray *want)
{
    g_ptr_array_sort(want, s_strcmp_p);
    size_t n = 0;
    for (; got[n]; n++) {
        assert_true(n < want->len);
        assert_string_equal(got[n], g_ptr_array_index(want, n));
    }
    assert_int_equal(n, want->len);
}

static void s_add_name(GPtrArray *set, const char *name)
{
    for (guint i = 0; i < set->len; i++)
        if (strcmp(g_ptr_array_index(set, i), name) == 0)
            return;
    g_ptr_array_add(set, (gpointer)name);
}

static void s_check(m_cluster *m, const m_request *q)
{
    drv_sched_result *res = NULL;
    assert_int_equal(drv_sched_place(m->c, &q->req, &res, NULL), 0);
    assert_int_equal(res->n_hosts, m->n);

    bool group_placed = false;
    for (size_t i = 0; i < m->n; i++)
        group_placed |= m->hosts[i].aff_members > 0;
    size_t rejected[DRV_SCHED_FILTER_LAST] = {0};
    g_autoptr(GPtrArray) miss_flags = g_ptr_array_new();
    g_autoptr(GPtrArray) miss_pools = g_ptr_array_new();
    g_autoptr(GPtrArray) miss_nets = g_ptr_array_new();
    g_autoptr(GPtrArray) miss_labels = g_ptr_array_new();
    uint64_t mem_short = UINT64_MAX, vcpu_short = UINT64_MAX;
    const char *rank[MAX_HOSTS];
    int64_t score[MAX_HOSTS];
    size_t n_fit = 0;
    /* In slot order (drv_sched_cluster_host_id), which decides ties. */
    for (size_t slot = 0; slot < m->n; slot++) {
        m_host *h = s_host(m, drv_sched_cluster_host_id(m->c, slot));
        drv_sched_host_usage u;
        assert_int_equal(drv_sched_cluster_host_usage(m->c, h->id, &u, NULL), 0);
        drv_sched_filter f = s_first_refusal(h, &u, q, group_placed);
        if (f == DRV_SCHED_FILTER_LAST) {
            int64_t left = u.memory_free_kib - (int64_t)q->req.memory_kib;
            int64_t s = m->pack ? -left : left;
            size_t pos = n_fit++; /* stable insertion: after equal scores */
            while (pos > 0 && score[pos - 1] < s) {
                score[pos] = score[pos - 1];
                rank[pos] = rank[pos - 1];
                pos--;
            }
            score[pos] = s;
            rank[pos] = h->id;
            continue;
        }
        rejected[f]++;
        if (f == DRV_SCHED_FILTER_FEATURES)
            for (size_t k = 0; k < q->n_flags; k++)
                if (q->flag_idx[k] < 0 || !h->flags[q->flag_idx[k]])
                    s_add_name(miss_flags, q->flags[k]);
        if (f == DRV_SCHED_FILTER_POOLS)
            s_add_name(miss_pools, q->pools[0]);
        if (f == DRV_SCHED_FILTER_NETWORKS)
            for (size_t k = 0; k < q->n_nets; k++)
                if (q->net_idx[k] < 0 || !h->nets[q->net_idx[k]])
                    s_add_name(miss_nets, q->nets[k]);
        if (f == DRV_SCHED_FILTER_LABELS)
            s_add_name(miss_labels, q->labels[0]);
        if (f == DRV_SCHED_FILTER_MEMORY &&
            (uint64_t)((int64_t)q->req.memory_kib - u.memory_free_kib) < mem_short)
            mem_short = (uint64_t)((int64_t)q->req.memory_kib - u.memory_free_kib);
        if (f == DRV_SCHED_FILTER_VCPUS &&
            (uint64_t)((int64_t)q->req.vcpus - u.vcpus_free) < vcpu_short)
            vcpu_short = (uint64_t)((int64_t)q->req.vcpus - u.vcpus_free);
    }

    for (int f = 0; f < DRV_SCHED_FILTER_LAST; f++)
        if (res->rejected[f] != rejected[f])
            fail_msg("filter %s: %zu refused, expected %zu", drv_sched_filter_to_string(f),
                     res->rejected[f], rejected[f]);
    assert_int_equal(res->n_fitting, n_fit);
    assert_int_equal(res->fits, n_fit > 0);
    if (n_fit) {
        assert_string_equal(res->host, rank[0]);
        size_t n_alt = n_fit - 1 < m->alternates ? n_fit - 1 : m->alternates;
        assert_int_equal(res->n_alternates, n_alt);
        for (size_t i = 0; i < n_alt; i++)
            assert_string_equal(res->alternates[i], rank[i + 1]);
        assert_null(res->alternates[n_alt]);
    } else {
        assert_null(res->host);
        assert_null(res->alternates[0]);
    }
    s_assert_names(res->missing_features, miss_flags);
    s_assert_names(res->missing_pools, miss_pools);
    s_assert_names(res->missing_networks, miss_nets);
    s_assert_names(res->missing_labels, miss_labels);
    assert_int_equal(res->memory_short_kib, mem_short == UINT64_MAX ? 0 : mem_short);
    assert_int_equal(res->vcpus_short, vcpu_short == UINT64_MAX ? 0 : vcpu_short);
    drv_sched_result_destroy(&res);
}

static void test_scan_matches_reference(void **state)
{
    (void)state;
    size_t multi_block = 0, requests = 0;
    for (guint32 seed = 1; seed <= 40; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        m_cluster *m = g_new0(m_cluster, 1);
        s_build(m, r);
        multi_block += m->n > 64;
        for (int i = 0; i < 150; i++) {
            m_request q;
            s_request(m, r, &q);
            s_check(m, &q);
            requests++;
        }
        drv_sched_cluster_destroy(&m->c);
        g_free(m);
        g_rand_free(r);
    }
    /* the generator must reach past one 64-host block */
    assert_true(multi_block > 10);
    assert_int_equal(requests, 40 * 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
