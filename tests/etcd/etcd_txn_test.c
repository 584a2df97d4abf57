/* etcd_txn_test.c — transactions against a real etcd: compare-and-swap between two clients (one
 * wins, the other sees the winner's value), create-if-absent raced by two threads (exactly one wins
 * each round), mixed ops and their responses, etcd's refusal of a bad txn. */
#include "etcd_test_util.h"

#include <glib.h>
#include <string.h>

static void test_cas_conflict(void **state)
{
    drv_etcd *a = etcd_test_client(5000);
    drv_etcd *b = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t rev = 0;
    assert_int_equal(drv_etcd_put_str(a, "/cas/host", "free=8", 0, &rev, &err), 0);

    /* Both read the same mod_revision, then both try to book. */
    int64_t seen_a = 0, seen_b = 0;
    assert_int_equal(drv_etcd_get_str(a, "/cas/host", NULL, &seen_a, &err), 1);
    assert_int_equal(drv_etcd_get_str(b, "/cas/host", NULL, &seen_b, &err), 1);
    assert_int_equal(seen_a, rev);
    assert_int_equal(seen_b, rev);

    drv_etcd_cmp cmp_a = {.target = DRV_ETCD_CMP_MOD,
                          .result = DRV_ETCD_EQUAL,
                          .key = "/cas/host",
                          .key_len = 9,
                          .number = seen_a};
    drv_etcd_op put_a = {.kind = DRV_ETCD_OP_PUT,
                         .key = "/cas/host",
                         .key_len = 9,
                         .value = "free=6 by a",
                         .value_len = 11};
    drv_etcd_txn_result ra;
    assert_int_equal(drv_etcd_txn(a, &cmp_a, 1, &put_a, 1, NULL, 0, &ra, &err), 0);
    assert_true(ra.succeeded);
    assert_true(ra.revision > rev);
    assert_int_equal(ra.n_responses, 1);
    drv_etcd_txn_result_clear(&ra);

    drv_etcd_cmp cmp_b = cmp_a;
    cmp_b.number = seen_b;
    drv_etcd_op put_b = {.kind = DRV_ETCD_OP_PUT,
                         .key = "/cas/host",
                         .key_len = 9,
                         .value = "free=4 by b",
                         .value_len = 11};
    drv_etcd_op get_b = {.kind = DRV_ETCD_OP_GET, .key = "/cas/host", .key_len = 9};
    drv_etcd_txn_result rb;
    /* A lost compare is not an error; the failure branch shows what won. */
    assert_int_equal(drv_etcd_txn(b, &cmp_b, 1, &put_b, 1, &get_b, 1, &rb, &err), 0);
    assert_null(err);
    assert_false(rb.succeeded);
    assert_int_equal(rb.n_responses, 1);
    assert_int_equal(rb.responses[0].n_kvs, 1);
    assert_string_equal(rb.responses[0].kvs[0].value, "free=6 by a");
    int64_t winner_rev = rb.responses[0].kvs[0].mod_revision;
    drv_etcd_txn_result_clear(&rb);

    /* b retries with the fresh revision and wins. */
    cmp_b.number = winner_rev;
    assert_int_equal(drv_etcd_txn(b, &cmp_b, 1, &put_b, 1, NULL, 0, &rb, &err), 0);
    assert_true(rb.succeeded);
    drv_etcd_txn_result_clear(&rb);
    char *value = NULL;
    assert_int_equal(drv_etcd_get_str(a, "/cas/host", &value, NULL, &err), 1);
    assert_string_equal(value, "free=4 by b");
    g_free(value);
    drv_etcd_destroy(&a);
    drv_etcd_destroy(&b);
}

typedef struct {
    const char *key;
    int id;
    int rounds;
    int wins;    /* rounds this thread won */
    int errors;  /* calls that failed */
    GArray *won; /* round numbers won */
} racer;

static GMutex s_race_lock;
static GCond s_race_cond;
static int s_race_ready;
static int s_race_round;

/* Both racers wait here so each round's two txns leave at the same moment. */
static void s_race_barrier(int round)
{
    g_mutex_lock(&s_race_lock);
    s_race_ready++;
    if (s_race_ready == 2 * (round + 1)) {
        s_race_round = round + 1;
        g_cond_broadcast(&s_race_cond);
    }
    while (s_race_round < round + 1)
        g_cond_wait(&s_race_cond, &s_race_lock);
    g_mutex_unlock(&s_race_lock);
}

static gpointer s_racer_main(gpointer data)
{
    racer *r = data;
    const char *endpoints[] = {drv_test_etcd_endpoint(etcd_test_server)};
    drv_error *err = NULL;
    drv_etcd *c = drv_etcd_new(endpoints, 1, 5000, NULL, &err);
    if (c == NULL) {
        r->errors = r->rounds;
        drv_error_destroy(&err);
        return NULL;
    }
    char who[16];
    g_snprintf(who, sizeof(who), "racer-%d", r->id);
    for (int round = 0; round < r->rounds; round++) {
        char key[64];
        g_snprintf(key, sizeof(key), "%s/%d", r->key, round);
        drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_CREATE,
                            .result = DRV_ETCD_EQUAL,
                            .key = key,
                            .key_len = strlen(key),
                            .number = 0};
        drv_etcd_op put = {.kind = DRV_ETCD_OP_PUT,
                           .key = key,
                           .key_len = strlen(key),
                           .value = who,
                           .value_len = strlen(who)};
        drv_etcd_txn_result res;
        s_race_barrier(round);
        if (drv_etcd_txn(c, &cmp, 1, &put, 1, NULL, 0, &res, &err) < 0) {
            r->errors++;
            drv_error_destroy(&err);
            continue;
        }
        if (res.succeeded) {
            r->wins++;
            g_array_append_val(r->won, round);
        }
        drv_etcd_txn_result_clear(&res);
    }
    drv_etcd_destroy(&c);
    return NULL;
}

static void test_create_if_absent_race(void **state)
{
    const int rounds = 30;
    racer r[2];
    for (int i = 0; i < 2; i++)
        r[i] = (racer){.key = "/race/k",
                       .id = i,
                       .rounds = rounds,
                       .won = g_array_new(FALSE, FALSE, sizeof(int))};
    GThread *t0 = g_thread_new("racer0", s_racer_main, &r[0]);
    GThread *t1 = g_thread_new("racer1", s_racer_main, &r[1]);
    g_thread_join(t0);
    g_thread_join(t1);
    assert_int_equal(r[0].errors, 0);
    assert_int_equal(r[1].errors, 0);
    /* Exactly one winner per round. */
    assert_int_equal(r[0].wins + r[1].wins, rounds);
    print_message("create-if-absent race: racer-0 won %d, racer-1 won %d of %d rounds\n", r[0].wins,
                  r[1].wins, rounds);

    /* And the stored value is the winner's. */
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    for (int i = 0; i < 2; i++) {
        for (guint j = 0; j < r[i].won->len; j++) {
            char key[64], *value = NULL;
            g_snprintf(key, sizeof(key), "/race/k/%d", g_array_index(r[i].won, int, j));
            assert_int_equal(drv_etcd_get_str(c, key, &value, NULL, &err), 1);
            char want[16];
            g_snprintf(want, sizeof(want), "racer-%d", i);
            assert_string_equal(value, want);
            g_free(value);
        }
        g_array_free(r[i].won, TRUE);
    }
    drv_etcd_range all;
    drv_etcd_range_opts o = {.prefix = true, .count_only = true};
    assert_int_equal(drv_etcd_range_get(c, "/race/k/", 8, &o, &all, &err), 0);
    assert_int_equal(all.count, rounds);
    drv_etcd_range_clear(&all);
    drv_etcd_destroy(&c);
}

static void test_mixed_ops(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    assert_int_equal(drv_etcd_put_str(c, "/mix/old/a", "1", 0, NULL, &err), 0);
    assert_int_equal(drv_etcd_put_str(c, "/mix/old/b", "2", 0, NULL, &err), 0);
    assert_int_equal(drv_etcd_put_str(c, "/mix/v", "expected", 0, NULL, &err), 0);

    drv_etcd_cmp cmps[] = {
        {.target = DRV_ETCD_CMP_VALUE,
         .result = DRV_ETCD_EQUAL,
         .key = "/mix/v",
         .key_len = 6,
         .value = "expected",
         .value_len = 8},
        {.target = DRV_ETCD_CMP_VERSION,
         .result = DRV_ETCD_GREATER,
         .key = "/mix/v",
         .key_len = 6,
         .number = 0},
    };
    drv_etcd_op ops[] = {
        {.kind = DRV_ETCD_OP_PUT, .key = "/mix/new", .key_len = 8, .value = "n", .value_len = 1},
        {.kind = DRV_ETCD_OP_GET, .key = "/mix/old/", .key_len = 9, .prefix = true},
        {.kind = DRV_ETCD_OP_DELETE, .key = "/mix/old/", .key_len = 9, .prefix = true},
    };
    drv_etcd_txn_result res;
    assert_int_equal(drv_etcd_txn(c, cmps, 2, ops, 3, NULL, 0, &res, &err), 0);
    assert_true(res.succeeded);
    assert_int_equal(res.n_responses, 3);
    assert_int_equal(res.responses[0].n_kvs, 0);
    assert_int_equal(res.responses[1].n_kvs, 2);
    assert_string_equal(res.responses[1].kvs[0].key, "/mix/old/a");
    assert_string_equal(res.responses[1].kvs[1].value, "2");
    assert_int_equal(res.responses[2].count, 2); /* deleted */
    int64_t txn_rev = res.revision;
    drv_etcd_txn_result_clear(&res);

    int64_t mod = 0;
    assert_int_equal(drv_etcd_get_str(c, "/mix/new", NULL, &mod, &err), 1);
    assert_int_equal(mod, txn_rev); /* one txn, one revision */
    drv_etcd_range r;
    drv_etcd_range_opts o = {.prefix = true, .count_only = true};
    assert_int_equal(drv_etcd_range_get(c, "/mix/old/", 9, &o, &r, &err), 0);
    assert_int_equal(r.count, 0);
    drv_etcd_range_clear(&r);

    /* Value compare that fails: nothing applied, no error. */
    cmps[0].value = "other";
    cmps[0].value_len = 5;
    drv_etcd_op del_v = {.kind = DRV_ETCD_OP_DELETE, .key = "/mix/v", .key_len = 6};
    assert_int_equal(drv_etcd_txn(c, cmps, 1, &del_v, 1, NULL, 0, &res, &err), 0);
    assert_false(res.succeeded);
    drv_etcd_txn_result_clear(&res);
    assert_int_equal(drv_etcd_get_str(c, "/mix/v", NULL, NULL, &err), 1);

    /* etcd refuses a txn that puts one key twice; its message comes through. */
    drv_etcd_op dup[] = {
        {.kind = DRV_ETCD_OP_PUT, .key = "/mix/d", .key_len = 6, .value = "1", .value_len = 1},
        {.kind = DRV_ETCD_OP_PUT, .key = "/mix/d", .key_len = 6, .value = "2", .value_len = 1},
    };
    assert_int_equal(drv_etcd_txn(c, NULL, 0, dup, 2, NULL, 0, &res, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_int_equal(err->code, 400);
    assert_non_null(strstr(err->message, "duplicate key"));
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cas_conflict),
    cmocka_unit_test(test_create_if_absent_race),
    cmocka_unit_test(test_mixed_ops),
};
ETCD_TEST_MAIN(tests)
