/* test_sched_property.c — properties on random clusters (seeded, reproducible):
 *  1. a placement never exceeds a host's capacity after ratios, the chosen host passes every filter
 *     by an independent check, the weigher's choice is the best fitting host, and "no fit" means
 *     no host passes the independent check;
 *  2. capacity's total equals the number of successive placements that succeed;
 *  3. the N+1 figure k is consistent with placement: after k placements the cluster survives any
 *     single loss, after k+1 it does not;
 *  4. snapshots round-trip through JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

#define N_FLAGS   12
#define N_POOLS   3
#define N_RACKS   3
#define MAX_HOSTS 40

static const char *const s_flags[N_FLAGS] = {"sse4_2", "avx", "avx2", "avx512f", "sha-ni", "aes",
                                             "f16c",   "fma", "bmi2", "adx",     "rdrand", "vmx"};
static const char *const s_pools[N_POOLS] = {"shared", "nfs", "ceph"};
static const char *const s_racks[N_RACKS] = {"rack=r1", "rack=r2", "rack=r3"};

/* The test's own model of each host, kept independently of the library. */
typedef struct {
    char id[24]; /* "h" + any size_t in decimal + NUL: gcc -Wformat-truncation checks the bound */
    bool x86;
    uint32_t cpus;
    uint64_t memory_kib, reserved_kib;
    uint32_t flags, pools;
    int rack;
    bool active, reachable;
    int64_t used_vcpus, used_kib;
    int groups[2]; /* members of anti-affinity groups 0 ("a") and 1 ("b") */
} m_host;

typedef struct {
    drv_sched_cluster *c;
    m_host hosts[MAX_HOSTS];
    size_t n;
    double cpu_ratio, mem_ratio;
    bool pack;
    unsigned next_domain;
} m_cluster;

static const char *s_pick_strs(GRand *r, const char *const *all, size_t n, int pct, uint32_t *mask,
                               const char **out)
{
    size_t k = 0;
    *mask = 0;
    for (size_t i = 0; i < n; i++)
        if (g_rand_int_range(r, 0, 100) < pct) {
            out[k++] = all[i];
            *mask |= 1u << i;
        }
    out[k] = NULL;
    return NULL;
}

static void s_build(m_cluster *m, GRand *r, bool all_active)
{
    memset(m, 0, sizeof(*m));
    static const double cpu_ratios[] = {1.0, 2.0, 4.0};
    drv_sched_config cfg;
    drv_sched_config_init(&cfg);
    cfg.cpu_ratio = m->cpu_ratio = cpu_ratios[g_rand_int_range(r, 0, 3)];
    cfg.memory_ratio = m->mem_ratio = g_rand_boolean(r) ? 1.0 : 1.5;
    cfg.weigher = g_rand_boolean(r) ? DRV_SCHED_WEIGHER_PACK : DRV_SCHED_WEIGHER_SPREAD;
    m->pack = cfg.weigher == DRV_SCHED_WEIGHER_PACK;
    m->c = drv_sched_cluster_new(&cfg);
    m->n = (size_t)g_rand_int_range(r, 1, MAX_HOSTS + 1);
    for (size_t i = 0; i < m->n; i++) {
        m_host *h = &m->hosts[i];
        snprintf(h->id, sizeof(h->id), "h%zu", i);
        h->x86 = g_rand_int_range(r, 0, 10) != 0;
        h->cpus = 2u << g_rand_int_range(r, 0, 4);
        h->memory_kib = (uint64_t)g_rand_int_range(r, 4, 65) * 1024 * 1024;
        h->reserved_kib = (uint64_t)g_rand_int_range(r, 0, 5) * 256 * 1024;
        const char *flags[N_FLAGS + 1], *pools[N_POOLS + 1];
        s_pick_strs(r, s_flags, N_FLAGS, 70, &h->flags, flags);
        s_pick_strs(r, s_pools, N_POOLS, 60, &h->pools, pools);
        h->rack = g_rand_int_range(r, 0, N_RACKS);
        const char *labels[] = {s_racks[h->rack], NULL};
        int st = g_rand_int_range(r, 0, 100);
        h->active = all_active || st < 85;
        h->reachable = all_active || g_rand_int_range(r, 0, 100) < 92;
        drv_sched_host_spec spec = {
            .id = h->id,
            .arch = h->x86 ? "x86_64" : "aarch64",
            .cpus = h->cpus,
            .memory_kib = h->memory_kib,
            .reserved_memory_kib = h->reserved_kib,
            .features = flags,
            .pools = pools,
            .labels = labels,
            .state = h->active ? DRV_SCHED_HOST_ACTIVE
                     : st < 92 ? DRV_SCHED_HOST_PREPARING_MAINTENANCE
                               : DRV_SCHED_HOST_MAINTENANCE,
            .reachable = h->reachable,
        };
        assert_int_equal(drv_sched_cluster_add_host(m->c, &spec, NULL), 0);
    }
}

typedef struct {
    drv_sched_request req;
    const char *flags[N_FLAGS + 1], *pools[N_POOLS + 1], *labels[2];
    uint32_t flag_mask, pool_mask;
    int rack; /* -1 = any */
    int anti; /* -1 = none, else group index */
    bool x86; /* arch required: x86_64 (else any) */
    char name[32];
} m_request;

static void s_random_request(m_cluster *m, GRand *r, m_request *q, bool groups)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->name, sizeof(q->name), "d%u", m->next_domain++);
    q->req.name = q->name;
    q->req.vcpus = (uint32_t)g_rand_int_range(r, 1, 9);
    q->req.memory_kib = (uint64_t)g_rand_int_range(r, 1, 65) * 256 * 1024;
    s_pick_strs(r, s_flags, N_FLAGS, 15, &q->flag_mask, q->flags);
    s_pick_strs(r, s_pools, N_POOLS, 10, &q->pool_mask, q->pools);
    q->req.features = q->flags;
    q->req.pools = q->pools;
    q->rack = g_rand_int_range(r, 0, 100) < 10 ? g_rand_int_range(r, 0, N_RACKS) : -1;
    q->labels[0] = q->rack >= 0 ? s_racks[q->rack] : NULL;
    q->req.labels = q->labels;
    q->x86 = g_rand_int_range(r, 0, 100) < 70;
    q->req.arch = q->x86 ? "x86_64" : NULL;
    q->anti = groups && g_rand_int_range(r, 0, 100) < 25 ? g_rand_int_range(r, 0, 2) : -1;
    q->req.anti_affinity_group = q->anti == 0 ? "a" : q->anti == 1 ? "b" : NULL;
}

static int64_t s_cap_vcpus(const m_cluster *m, const m_host *h)
{
    return (int64_t)((double)h->cpus * m->cpu_ratio);
}

static int64_t s_cap_kib(const m_cluster *m, const m_host *h)
{
    return (int64_t)((double)(h->memory_kib - h->reserved_kib) * m->mem_ratio);
}

/* The independent filter. */
static bool s_model_fits(const m_cluster *m, const m_host *h, const m_request *q)
{
    if (!h->active || !h->reachable)
        return false;
    if (q->x86 && !h->x86)
        return false;
    if ((q->flag_mask & h->flags) != q->flag_mask || (q->pool_mask & h->pools) != q->pool_mask)
        return false;
    if (q->rack >= 0 && h->rack != q->rack)
        return false;
    if (q->anti >= 0 && h->groups[q->anti] > 0)
        return false;
    return s_cap_vcpus(m, h) - h->used_vcpus >= q->req.vcpus &&
           s_cap_kib(m, h) - h->used_kib >= (int64_t)q->req.memory_kib;
}

static m_host *s_model_host(m_cluster *m, const char *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->hosts[i].id, id) == 0)
            return &m->hosts[i];
    fail_msg("unknown host %s", id);
    return NULL;
}

static void s_book(m_cluster *m, const m_request *q, const char *host)
{
    drv_sched_domain_spec d = {
        .name = q->name,
        .host = host,
        .vcpus = q->req.vcpus,
        .memory_kib = q->req.memory_kib,
        .arch = q->req.arch,
        .features = q->flags,
        .pools = q->pools,
        .labels = q->labels,
        .anti_affinity_group = q->req.anti_affinity_group,
        .running = true,
    };
    assert_int_equal(drv_sched_cluster_add_domain(m->c, &d, NULL), 0);
    m_host *h = s_model_host(m, host);
    h->used_vcpus += q->req.vcpus;
    h->used_kib += (int64_t)q->req.memory_kib;
    if (q->anti >= 0)
        h->groups[q->anti]++;
}

static void test_placement_respects_capacity_and_filters(void **state)
{
    (void)state;
    unsigned decisions = 0, fits = 0;
    for (guint32 seed = 1; seed <= 60; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        m_cluster m;
        s_build(&m, r, false);
        for (int i = 0; i < 120; i++) {
            m_request q;
            s_random_request(&m, r, &q, true);
            drv_sched_result *res = NULL;
            assert_int_equal(drv_sched_place(m.c, &q.req, &res, NULL), 0);
            decisions++;
            size_t model_fitting = 0;
            for (size_t k = 0; k < m.n; k++)
                model_fitting += s_model_fits(&m, &m.hosts[k], &q);
            assert_int_equal(res->n_fitting, model_fitting);
            assert_int_equal(res->fits, model_fitting > 0);
            size_t rejected = 0;
            for (int f = 0; f < DRV_SCHED_FILTER_LAST; f++)
                rejected += res->rejected[f];
            assert_int_equal(rejected + res->n_fitting, m.n);
            if (res->fits) {
                fits++;
                m_host *h = s_model_host(&m, res->host);
                assert_true(s_model_fits(&m, h, &q));
                /* the weigher's choice is the best fitting host */
                int64_t left = s_cap_kib(&m, h) - h->used_kib;
                for (size_t k = 0; k < m.n; k++) {
                    if (!s_model_fits(&m, &m.hosts[k], &q))
                        continue;
                    int64_t other = s_cap_kib(&m, &m.hosts[k]) - m.hosts[k].used_kib;
                    if (m.pack)
                        assert_true(left <= other);
                    else
                        assert_true(left >= other);
                }
                s_book(&m, &q, res->host);
                /* nothing exceeds capacity after ratios, by the library's and the model's view */
                for (size_t k = 0; k < m.n; k++) {
                    drv_sched_host_usage u;
                    assert_int_equal(drv_sched_cluster_host_usage(m.c, m.hosts[k].id, &u, NULL), 0);
                    assert_true(u.vcpus_free >= 0);
                    assert_true(u.memory_free_kib >= 0);
                    assert_int_equal(u.vcpus_allocated, m.hosts[k].used_vcpus);
                    assert_true(m.hosts[k].used_vcpus <= s_cap_vcpus(&m, &m.hosts[k]));
                    assert_true(m.hosts[k].used_kib <= s_cap_kib(&m, &m.hosts[k]));
                }
            } else {
                g_autofree char *why = drv_sched_explain(res);
                assert_true(g_str_has_prefix(why, "no host"));
            }
            drv_sched_result_destroy(&res);
        }
        drv_sched_cluster_destroy(&m.c);
        g_rand_free(r);
    }
    /* the generator must exercise both outcomes */
    assert_true(fits > decisions / 10);
    assert_true(fits < decisions);
}

/* Places copies of the shape with drv_sched_place() until one does not fit; returns the count. */
static uint64_t s_fill(drv_sched_cluster *c, const m_request *shape, unsigned *counter,
                       uint64_t limit)
{
    uint64_t n = 0;
    while (n < limit) {
        drv_sched_result *res = NULL;
        assert_int_equal(drv_sched_place(c, &shape->req, &res, NULL), 0);
        bool ok = res->fits;
        if (ok) {
            char name[32];
            snprintf(name, sizeof(name), "fill%u", (*counter)++);
            drv_sched_domain_spec d = {
                .name = name,
                .host = res->host,
                .vcpus = shape->req.vcpus,
                .memory_kib = shape->req.memory_kib,
                .arch = shape->req.arch,
                .features = shape->flags,
                .pools = shape->pools,
                .labels = shape->labels,
                .anti_affinity_group = shape->req.anti_affinity_group,
                .running = true,
            };
            assert_int_equal(drv_sched_cluster_add_domain(c, &d, NULL), 0);
        }
        drv_sched_result_destroy(&res);
        if (!ok)
            break;
        n++;
    }
    return n;
}

static void test_capacity_equals_successive_placements(void **state)
{
    (void)state;
    unsigned nonzero = 0;
    for (guint32 seed = 100; seed < 160; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        m_cluster m;
        s_build(&m, r, false);
        /* some load first */
        for (int i = 0; i < 30; i++) {
            m_request q;
            s_random_request(&m, r, &q, true);
            drv_sched_result *res = NULL;
            assert_int_equal(drv_sched_place(m.c, &q.req, &res, NULL), 0);
            if (res->fits)
                s_book(&m, &q, res->host);
            drv_sched_result_destroy(&res);
        }
        for (int i = 0; i < 4; i++) {
            m_request shape;
            s_random_request(&m, r, &shape, true);
            shape.req.name = NULL;
            drv_sched_capacity *cap = NULL;
            assert_int_equal(drv_sched_capacity_compute(m.c, &shape.req, NULL, &cap, NULL), 0);
            uint64_t sum = 0;
            for (size_t k = 0; k < cap->n_hosts; k++)
                sum += cap->hosts[k].fits;
            if (shape.anti < 0)
                assert_int_equal(sum, cap->total);
            drv_sched_cluster *copy = drv_sched_cluster_copy(m.c);
            unsigned counter = 0;
            uint64_t placed = s_fill(copy, &shape, &counter, cap->total + 5);
            assert_int_equal(placed, cap->total);
            nonzero += placed > 0;
            drv_sched_cluster_destroy(&copy);
            drv_sched_capacity_destroy(&cap);
        }
        drv_sched_cluster_destroy(&m.c);
        g_rand_free(r);
    }
    assert_true(nonzero > 20);
}

static void test_n_plus_one_consistent_with_placement(void **state)
{
    (void)state;
    unsigned checked = 0, bounded = 0;
    for (guint32 seed = 200; seed < 260; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        m_cluster m;
        s_build(&m, r, true);
        for (int i = 0; i < 10; i++) {
            m_request q;
            s_random_request(&m, r, &q, false);
            drv_sched_result *res = NULL;
            assert_int_equal(drv_sched_place(m.c, &q.req, &res, NULL), 0);
            if (res->fits)
                s_book(&m, &q, res->host);
            drv_sched_result_destroy(&res);
        }
        m_request shape;
        s_random_request(&m, r, &shape, false);
        shape.req.name = NULL;
        drv_sched_capacity_opts opts = {.n_plus_one = true, .hosts_down = true};
        drv_sched_capacity *cap = NULL;
        assert_int_equal(drv_sched_capacity_compute(m.c, &shape.req, &opts, &cap, NULL), 0);
        assert_true(cap->n_plus_one_computed);
        assert_int_equal(cap->n_plus_one_now, drv_sched_cluster_survives_one_loss(m.c, NULL));
        assert_true(cap->n_plus_one_total <= cap->total);
        assert_true(cap->hosts_may_fail >= 0 && (size_t)cap->hosts_may_fail <= m.n);
        assert_int_equal(cap->hosts_may_fail == 0, !cap->n_plus_one_now && m.n > 0);
        if (cap->n_plus_one_now) {
            drv_sched_cluster *copy = drv_sched_cluster_copy(m.c);
            unsigned counter = 0;
            uint64_t k = cap->n_plus_one_total;
            assert_int_equal(s_fill(copy, &shape, &counter, k), k);
            assert_true(drv_sched_cluster_survives_one_loss(copy, NULL));
            if (k < cap->total) {
                assert_int_equal(s_fill(copy, &shape, &counter, 1), 1);
                const char *breaker = NULL;
                assert_false(drv_sched_cluster_survives_one_loss(copy, &breaker));
                assert_string_equal(breaker, cap->n_plus_one_breaker);
                bounded++;
            }
            checked++;
            drv_sched_cluster_destroy(&copy);
        }
        drv_sched_capacity_destroy(&cap);
        drv_sched_cluster_destroy(&m.c);
        g_rand_free(r);
    }
    assert_true(checked > 10);
    assert_true(bounded > 5);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    for (guint32 seed = 300; seed < 320; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        m_cluster m;
        s_build(&m, r, false);
        for (int i = 0; i < 40; i++) {
            m_request q;
            s_random_request(&m, r, &q, true);
            drv_sched_result *res = NULL;
            assert_int_equal(drv_sched_place(m.c, &q.req, &res, NULL), 0);
            if (res->fits)
                s_book(&m, &q, res->host);
            drv_sched_result_destroy(&res);
        }
        drv_sched_reservation rs = {
            .id = "mig", .host = m.hosts[0].id, .vcpus = 1, .memory_kib = 1024};
        assert_int_equal(drv_sched_cluster_add_reservation(m.c, &rs, NULL), 0);
        g_autofree char *a = drv_sched_cluster_to_json(m.c);
        drv_sched_cluster *c2 = NULL;
        drv_error *err = NULL;
        if (drv_sched_cluster_from_json(a, &c2, &err) < 0)
            fail_msg("%s", err->message);
        g_autofree char *b = drv_sched_cluster_to_json(c2);
        assert_string_equal(a, b);
        for (size_t k = 0; k < m.n; k++) {
            drv_sched_host_usage u1, u2;
            assert_int_equal(drv_sched_cluster_host_usage(m.c, m.hosts[k].id, &u1, NULL), 0);
            assert_int_equal(drv_sched_cluster_host_usage(c2, m.hosts[k].id, &u2, NULL), 0);
            assert_int_equal(u1.vcpu_capacity, u2.vcpu_capacity);
            assert_int_equal(u1.vcpus_allocated, u2.vcpus_allocated);
            assert_int_equal(u1.memory_capacity_kib, u2.memory_capacity_kib);
            assert_int_equal(u1.memory_allocated_kib, u2.memory_allocated_kib);
            assert_int_equal(u1.n_domains, u2.n_domains);
            assert_int_equal(u1.n_reservations, u2.n_reservations);
            assert_int_equal(u1.state, u2.state);
            assert_int_equal(u1.reachable, u2.reachable);
        }
        drv_sched_cluster_destroy(&c2);
        drv_sched_cluster_destroy(&m.c);
        g_rand_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_respects_capacity_and_filters),
        cmocka_unit_test(test_capacity_equals_successive_placements),
        cmocka_unit_test(test_n_plus_one_consistent_with_placement),
        cmocka_unit_test(test_snapshot_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
