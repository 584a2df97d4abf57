/* test_lease_keeper.c — the leader lease keeper (controller/lease_keeper.c) on fake etcd calls: it
 * keeps the lease alive on its own thread while the caller does nothing at all (a loop stuck in a
 * long turn), says lost when etcd says the lease expired or another lease holds the key, turns
 * unconfirmed when etcd stops answering and held again when it answers, and forgets a dropped
 * lease. The waits are bounded polls on the keeper's state, never assertions on wall time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lease_keeper.h"

#include <glib.h>
#include <string.h>

#define TTL_MS 600

typedef struct {
    gint keepalives;       /* calls */
    gint holders;          /* calls */
    gint keepalive_result; /* 0 ok, 1 expired (NOT_FOUND), 2 etcd unreachable */
    gint64 holder;         /* the lease the fake leader key names (0: absent) */
} s_fake;

static int s_keepalive(void *ctx, int64_t lease, drv_error **err)
{
    s_fake *f = ctx;
    (void)lease;
    g_atomic_int_inc(&f->keepalives);
    switch (g_atomic_int_get(&f->keepalive_result)) {
    case 1:
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "requested lease not found");
    case 2:
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0, "etcd unreachable (fake)");
    default:
        return 0;
    }
}

static int s_holder(void *ctx, int64_t *ret_holder, drv_error **err)
{
    s_fake *f = ctx;
    (void)err;
    g_atomic_int_inc(&f->holders);
    *ret_holder = f->holder; /* set before the keeper starts, never changed */
    return 0;
}

static int64_t s_now(void)
{
    return g_get_monotonic_time() / 1000;
}

/* Polls the keeper's state for up to 10 s; true once it is `want`. */
static bool s_wait_state(ctl_lease_keeper *k, ctl_lease_state want)
{
    for (int i = 0; i < 1000; i++) {
        if (ctl_lease_keeper_state(k, s_now(), NULL, NULL) == want)
            return true;
        g_usleep(10 * 1000);
    }
    return false;
}

static ctl_lease_keeper *s_keeper(s_fake *f)
{
    ctl_lease_keeper_ops ops = {.keepalive = s_keepalive, .holder = s_holder, .ctx = f};
    return ctl_lease_keeper_new(&ops, TTL_MS);
}

static void test_kept_while_caller_sleeps(void **state)
{
    (void)state;
    s_fake f = {.holder = 42};
    ctl_lease_keeper *k = s_keeper(&f);
    assert_int_equal(ctl_lease_keeper_state(k, s_now(), NULL, NULL), CTL_LEASE_NONE);
    g_usleep(3 * TTL_MS * 1000 / 2); /* no lease kept: no etcd call */
    assert_int_equal(g_atomic_int_get(&f.keepalives), 0);

    int64_t start = s_now();
    ctl_lease_keeper_keep(k, 42, start + TTL_MS);
    /* the caller does nothing for 4 ttls (the loop stuck in one long turn): the keeper's own
     * rounds keep the lease alive and push valid_until forward */
    while (ctl_lease_keeper_confirmed(k) < 8 && s_now() < start + 20000)
        g_usleep(20 * 1000);
    assert_true(ctl_lease_keeper_confirmed(k) >= 8);
    int64_t until = 0;
    ctl_lease_state st = ctl_lease_keeper_state(k, s_now(), &until, NULL);
    assert_int_equal(st, CTL_LEASE_HELD);
    assert_true(until > start + TTL_MS);            /* extended past what keep() was told */
    assert_true(g_atomic_int_get(&f.holders) >= 8); /* each round also read the key */
    ctl_lease_keeper_destroy(&k);
    assert_null(k);
}

static void test_lost_when_lease_expired(void **state)
{
    (void)state;
    s_fake f = {.holder = 7, .keepalive_result = 1};
    ctl_lease_keeper *k = s_keeper(&f);
    ctl_lease_keeper_keep(k, 7, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_LOST));
    char *why = NULL;
    assert_int_equal(ctl_lease_keeper_state(k, s_now(), NULL, &why), CTL_LEASE_LOST);
    assert_non_null(why);
    assert_non_null(strstr(why, "expired"));
    g_free(why);
    /* a new keep() starts afresh */
    g_atomic_int_set(&f.keepalive_result, 0);
    ctl_lease_keeper_keep(k, 7, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_HELD));
    ctl_lease_keeper_destroy(&k);
}

static void test_lost_when_key_held_by_another(void **state)
{
    (void)state;
    s_fake f = {.holder = 99};
    ctl_lease_keeper *k = s_keeper(&f);
    ctl_lease_keeper_keep(k, 5, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_LOST));
    char *why = NULL;
    ctl_lease_keeper_state(k, s_now(), NULL, &why);
    assert_non_null(strstr(why, "another lease"));
    g_free(why);
    ctl_lease_keeper_destroy(&k);

    s_fake gone = {.holder = 0};
    k = s_keeper(&gone);
    ctl_lease_keeper_keep(k, 5, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_LOST));
    ctl_lease_keeper_state(k, s_now(), NULL, &why);
    assert_non_null(strstr(why, "gone"));
    g_free(why);
    ctl_lease_keeper_destroy(&k);
}

static void test_unconfirmed_then_held_again(void **state)
{
    (void)state;
    s_fake f = {.holder = 3};
    ctl_lease_keeper *k = s_keeper(&f);
    ctl_lease_keeper_keep(k, 3, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_HELD));
    /* etcd stops answering: never "lost" (etcd did not say so), but once valid_until passes the
     * lease may have expired — unconfirmed, and the keeper keeps retrying */
    g_atomic_int_set(&f.keepalive_result, 2);
    assert_true(s_wait_state(k, CTL_LEASE_UNCONFIRMED));
    gint tries = g_atomic_int_get(&f.keepalives);
    g_usleep(TTL_MS * 1000);
    assert_true(g_atomic_int_get(&f.keepalives) > tries);
    /* etcd answers again and the lease still holds the key */
    g_atomic_int_set(&f.keepalive_result, 0);
    assert_true(s_wait_state(k, CTL_LEASE_HELD));
    ctl_lease_keeper_destroy(&k);
}

static void test_drop_forgets(void **state)
{
    (void)state;
    s_fake f = {.holder = 11};
    ctl_lease_keeper *k = s_keeper(&f);
    ctl_lease_keeper_keep(k, 11, s_now() + TTL_MS);
    assert_true(s_wait_state(k, CTL_LEASE_HELD));
    ctl_lease_keeper_drop(k);
    assert_int_equal(ctl_lease_keeper_state(k, s_now(), NULL, NULL), CTL_LEASE_NONE);
    g_usleep(TTL_MS * 1000 / 2); /* a round in flight at the drop ends */
    gint calls = g_atomic_int_get(&f.keepalives);
    g_usleep(TTL_MS * 1000);
    assert_int_equal(g_atomic_int_get(&f.keepalives), calls); /* nothing kept, nothing sent */
    assert_int_equal(ctl_lease_keeper_state(k, s_now(), NULL, NULL), CTL_LEASE_NONE);
    ctl_lease_keeper_destroy(&k);
    ctl_lease_keeper_destroy(&k); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_while_caller_sleeps),
        cmocka_unit_test(test_lost_when_lease_expired),
        cmocka_unit_test(test_lost_when_key_held_by_another),
        cmocka_unit_test(test_unconfirmed_then_held_again),
        cmocka_unit_test(test_drop_forgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
