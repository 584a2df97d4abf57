/* test_ha_plan.c — high availability's pure decisions (jobs/ha_plan.c, jobs/ha_record.c): the
 * verdict on a silent host (restart only on an expired lease, never on silence, an unanswered etcd
 * or a missing lease), the restart planner (priority order when room is short, affinity, CPU flags,
 * storage pools, the restart limit, the fenced host never chosen), the N+1 what-if, and the stored
 * recovery record's JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ha_plan.h"
#include "ha_record.h"

#define GIB (1024ULL * 1024ULL)

static const char *const s_flags_avx[] = {"sse4.2", "avx2", NULL};
static const char *const s_flags_old[] = {"sse4.2", NULL};
static const char *const s_pool_shared[] = {"shared", NULL};

/* h1 (fenced: unreachable), h2 and h3 with mem_gib each, h3 lacking avx2 when old_h3. */
static drv_sched_cluster *s_cluster(uint64_t mem_gib, bool old_h3, bool h3_pool)
{
    drv_sched_cluster *cl = drv_sched_cluster_new(NULL);
    const char *ids[] = {"h1", "h2", "h3"};
    for (int i = 0; i < 3; i++) {
        drv_sched_host_spec hs = {
            .id = ids[i],
            .arch = "x86_64",
            .cpus = 8,
            .memory_kib = mem_gib * GIB,
            .features = (i == 2 && old_h3) ? s_flags_old : s_flags_avx,
            .pools = (i == 2 && !h3_pool) ? NULL : s_pool_shared,
            .state = DRV_SCHED_HOST_ACTIVE,
            .reachable = i != 0,
        };
        assert_int_equal(drv_sched_cluster_add_host(cl, &hs, NULL), 0);
    }
    return cl;
}

static void s_add_dom(drv_sched_cluster *cl, const char *name, const char *host, uint64_t mem_gib,
                      const char *group)
{
    drv_sched_domain_spec ds = {.name = name,
                                .host = host,
                                .vcpus = 1,
                                .memory_kib = mem_gib * GIB,
                                .affinity_group = group,
                                .running = true};
    assert_int_equal(drv_sched_cluster_add_domain(cl, &ds, NULL), 0);
}

static drv_ha_candidate s_cand(const char *name, uint64_t mem_gib, int32_t prio)
{
    static const char *avoid[] = {"h1", NULL};
    drv_ha_candidate c = {
        .req = {.name = name, .vcpus = 1, .memory_kib = mem_gib * GIB, .avoid_hosts = avoid},
        .priority = prio};
    return c;
}

static const drv_ha_decision *s_find(const drv_ha_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->decisions[i].domain, name) == 0)
            return &p->decisions[i];
    fail_msg("no decision for %s", name);
    return NULL;
}

/* ------------------------------------------------------------------ verdicts */

static void test_verdict(void **state)
{
    (void)state;
    /* silent: only an expired lease proves the host fenced itself */
    assert_int_equal(drv_ha_host_verdict(false, DRV_HA_LEASE_EXPIRED), DRV_HA_HOST_FENCED);
    assert_int_equal(drv_ha_host_verdict(false, DRV_HA_LEASE_ALIVE), DRV_HA_HOST_SUSPECTED);
    assert_int_equal(drv_ha_host_verdict(false, DRV_HA_LEASE_UNKNOWN), DRV_HA_HOST_SUSPECTED);
    assert_int_equal(drv_ha_host_verdict(false, DRV_HA_LEASE_NONE), DRV_HA_HOST_UNFENCEABLE);
    /* talking to the controller: healthy, unless etcd says its lease is gone (it fenced) */
    assert_int_equal(drv_ha_host_verdict(true, DRV_HA_LEASE_ALIVE), DRV_HA_HOST_HEALTHY);
    assert_int_equal(drv_ha_host_verdict(true, DRV_HA_LEASE_UNKNOWN), DRV_HA_HOST_HEALTHY);
    assert_int_equal(drv_ha_host_verdict(true, DRV_HA_LEASE_NONE), DRV_HA_HOST_HEALTHY);
    assert_int_equal(drv_ha_host_verdict(true, DRV_HA_LEASE_EXPIRED), DRV_HA_HOST_FENCED);
    assert_string_equal(drv_ha_host_to_string(DRV_HA_HOST_FENCED), "fenced");
    assert_string_equal(drv_ha_lease_to_string(DRV_HA_LEASE_EXPIRED), "expired");
    assert_null(drv_ha_host_to_string(DRV_HA_HOST_LAST));
}

/* ------------------------------------------------------------------ planner */

/* Room for two of three 3 GiB guests (h2, h3 have 4 GiB each): the high priorities restart, the
 * lowest waits with the scheduler's reason; the fenced host is never chosen. */
static void test_priority_when_short(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(4, false, true);
    s_add_dom(cl, "a", "h1", 3, NULL);
    s_add_dom(cl, "b", "h1", 3, NULL);
    s_add_dom(cl, "c", "h1", 3, NULL);
    drv_ha_candidate c[] = {s_cand("a", 3, 0), s_cand("b", 3, 5), s_cand("c", 3, 9)};
    drv_ha_plan *p = NULL;
    assert_int_equal(drv_ha_plan_restarts(cl, c, 3, &p, NULL), 0);
    assert_int_equal(p->n, 3);
    assert_string_equal(p->decisions[0].domain, "c"); /* priority order */
    assert_string_equal(p->decisions[1].domain, "b");
    assert_string_equal(p->decisions[2].domain, "a");
    assert_non_null(s_find(p, "c")->host);
    assert_non_null(s_find(p, "b")->host);
    assert_string_not_equal(s_find(p, "c")->host, s_find(p, "b")->host); /* room booked */
    assert_string_not_equal(s_find(p, "c")->host, "h1");
    assert_null(s_find(p, "a")->host);
    assert_non_null(strstr(s_find(p, "a")->reason, "memory"));
    assert_int_equal(p->n_waiting, 1);
    drv_ha_plan_destroy(&p);
    assert_null(p);
    drv_sched_cluster_destroy(&cl);
}

/* Same priority: by name, so the plan is deterministic. */
static void test_ties_by_name(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(16, false, true);
    drv_ha_candidate c[] = {s_cand("zeta", 1, 1), s_cand("alpha", 1, 1), s_cand("mid", 1, 1)};
    drv_ha_plan *p = NULL;
    assert_int_equal(drv_ha_plan_restarts(cl, c, 3, &p, NULL), 0);
    assert_string_equal(p->decisions[0].domain, "alpha");
    assert_string_equal(p->decisions[1].domain, "mid");
    assert_string_equal(p->decisions[2].domain, "zeta");
    assert_int_equal(p->n_waiting, 0);
    drv_ha_plan_destroy(&p);
    drv_sched_cluster_destroy(&cl);
}

/* CPU flags and storage: h3 lacks avx2 (or the pool), so a guest needing them goes to h2 only. */
static void test_flags_and_pools(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        drv_sched_cluster *cl = s_cluster(16, variant == 0, variant != 1);
        drv_ha_candidate c[4];
        for (int i = 0; i < 4; i++) {
            static const char *names[] = {"g0", "g1", "g2", "g3"};
            c[i] = s_cand(names[i], 1, 0);
            if (variant == 0)
                c[i].req.features = s_flags_avx;
            else
                c[i].req.pools = s_pool_shared;
        }
        drv_ha_plan *p = NULL;
        assert_int_equal(drv_ha_plan_restarts(cl, c, 4, &p, NULL), 0);
        for (size_t i = 0; i < p->n; i++)
            assert_string_equal(p->decisions[i].host, "h2");
        drv_ha_plan_destroy(&p);
        /* and without h2 nothing fits: every one waits, naming the filter */
        assert_int_equal(drv_sched_cluster_set_host_reachable(cl, "h2", false, NULL), 0);
        assert_int_equal(drv_ha_plan_restarts(cl, c, 4, &p, NULL), 0);
        assert_int_equal(p->n_waiting, 4);
        assert_non_null(strstr(p->decisions[0].reason, variant == 0 ? "cpu-features" : "pools"));
        drv_ha_plan_destroy(&p);
        drv_sched_cluster_destroy(&cl);
    }
}

/* Affinity: a guest of group "db" follows the group's running member (on h3). */
static void test_affinity(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(16, false, true);
    s_add_dom(cl, "db-primary", "h3", 1, "db");
    s_add_dom(cl, "db-replica", "h1", 1, "db");
    drv_ha_candidate c = s_cand("db-replica", 1, 0);
    c.req.affinity_group = "db";
    drv_ha_plan *p = NULL;
    assert_int_equal(drv_ha_plan_restarts(cl, &c, 1, &p, NULL), 0);
    assert_string_equal(p->decisions[0].host, "h3");
    drv_ha_plan_destroy(&p);
    drv_sched_cluster_destroy(&cl);
}

/* The restart limit: a guest restarted K times waits without being placed; 0 = no limit. */
static void test_restart_limit(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(16, false, true);
    drv_ha_candidate c[] = {s_cand("flappy", 1, 0), s_cand("steady", 1, 0)};
    c[0].restarts = 3;
    c[0].restart_limit = 3;
    c[1].restarts = 50;
    c[1].restart_limit = 0;
    drv_ha_plan *p = NULL;
    assert_int_equal(drv_ha_plan_restarts(cl, c, 2, &p, NULL), 0);
    assert_null(s_find(p, "flappy")->host);
    assert_string_equal(s_find(p, "flappy")->reason, "restart limit reached (3 of 3)");
    assert_non_null(s_find(p, "steady")->host);
    drv_ha_plan_destroy(&p);
    c[0].restarts = 2; /* one left */
    assert_int_equal(drv_ha_plan_restarts(cl, c, 2, &p, NULL), 0);
    assert_non_null(s_find(p, "flappy")->host);
    drv_ha_plan_destroy(&p);
    drv_sched_cluster_destroy(&cl);
}

/* The N+1 question: if h2 died (h1 already out), what of h2's guests would wait? */
static void test_host_loss_what_if(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(4, false, true);
    drv_ha_candidate c[] = {s_cand("x", 3, 1), s_cand("y", 3, 0)};
    static const char *avoid2[] = {"h2", NULL};
    c[0].req.avoid_hosts = c[1].req.avoid_hosts = avoid2;
    drv_ha_plan *p = NULL;
    assert_int_equal(drv_ha_plan_host_loss(cl, "h2", c, 2, &p, NULL), 0);
    assert_string_equal(s_find(p, "x")->host, "h3");
    assert_null(s_find(p, "y")->host);
    drv_ha_plan_destroy(&p);
    /* the cluster itself is not changed */
    drv_sched_host_usage u;
    assert_int_equal(drv_sched_cluster_host_usage(cl, "h2", &u, NULL), 0);
    assert_true(u.reachable);
    drv_error *err = NULL;
    assert_int_equal(drv_ha_plan_host_loss(cl, "nope", c, 2, &p, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);
    drv_sched_cluster_destroy(&cl);
}

static void test_bad_candidate(void **state)
{
    (void)state;
    drv_sched_cluster *cl = s_cluster(4, false, true);
    drv_ha_candidate c = s_cand(NULL, 1, 0);
    drv_ha_plan *p = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_ha_plan_restarts(cl, &c, 1, &p, &err), -1);
    assert_null(p);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_sched_cluster_destroy(&cl);
}

/* ------------------------------------------------------------------ record */

static void test_record_round_trip(void **state)
{
    (void)state;
    drv_ha_record *r = drv_ha_record_new("h3", 7677971325059745053LL, 1700000000123ULL);
    drv_ha_entry *a = drv_ha_record_add(r, "ha1");
    drv_ha_entry *b = drv_ha_record_add(r, "ha2");
    a = drv_ha_record_find(r, "ha1"); /* the array may have moved */
    drv_ha_entry_set(a, DRV_HA_ENTRY_RESTARTED, "h1", NULL);
    drv_ha_entry_set(b = drv_ha_record_find(r, "ha2"), DRV_HA_ENTRY_WAITING, NULL, "no room");
    b->attempts = 2;
    assert_false(drv_ha_record_done(r));
    char *json = drv_ha_record_to_json(r);
    drv_ha_record *back = NULL;
    assert_int_equal(drv_ha_record_from_json(json, &back, NULL), 0);
    char *again = drv_ha_record_to_json(back);
    assert_string_equal(json, again);
    assert_int_equal(back->lease_id, 7677971325059745053LL);
    assert_int_equal(back->n_entries, 2);
    assert_int_equal(drv_ha_record_find(back, "ha2")->state, DRV_HA_ENTRY_WAITING);
    assert_string_equal(drv_ha_record_find(back, "ha2")->reason, "no room");
    assert_int_equal(drv_ha_record_find(back, "ha2")->attempts, 2);
    drv_ha_entry_set(drv_ha_record_find(back, "ha2"), DRV_HA_ENTRY_DROPPED, NULL, "undefined");
    assert_true(drv_ha_record_done(back));
    g_free(json);
    g_free(again);
    drv_ha_record_destroy(&back);
    drv_ha_record_destroy(&r);
    assert_null(r);
    /* refused documents */
    const char *bad[] = {"",
                         "[]",
                         "{\"host\":\"h1\"}",
                         "{\"entries\":[]}",
                         "{\"host\":\"h1\",\"entries\":[{\"domain\":\"x\",\"state\":\"bogus\"}]}",
                         "{\"host\":\"h1\",\"entries\":[{\"state\":\"pending\"}]}"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        drv_error *err = NULL;
        drv_ha_record *x = NULL;
        assert_int_equal(drv_ha_record_from_json(bad[i], &x, &err), -1);
        assert_null(x);
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        drv_error_destroy(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),           cmocka_unit_test(test_priority_when_short),
        cmocka_unit_test(test_ties_by_name),      cmocka_unit_test(test_flags_and_pools),
        cmocka_unit_test(test_affinity),          cmocka_unit_test(test_restart_limit),
        cmocka_unit_test(test_host_loss_what_if), cmocka_unit_test(test_bad_candidate),
        cmocka_unit_test(test_record_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
