/* etcd_lease_test.c — leases against a real etcd: grant, keepalive, time-to-live, revoke (which
 * deletes the attached key), expiry of a short lease removing its key, keepalive on a dead lease.
 */
#include "etcd_test_util.h"

#include <glib.h>
#include <string.h>

static void test_grant_keepalive_ttl_revoke(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t id = 0, ttl = 0;
    assert_int_equal(drv_etcd_lease_grant(c, 30, &id, &err), 0);
    assert_true(id != 0);
    assert_int_equal(drv_etcd_lease_ttl(c, id, &ttl, &err), 0);
    assert_true(ttl > 0 && ttl <= 30);
    assert_int_equal(drv_etcd_lease_keepalive(c, id, &ttl, &err), 0);
    assert_int_equal(ttl, 30);

    assert_int_equal(drv_etcd_put_str(c, "/lease/leader", "me", id, NULL, &err), 0);
    drv_etcd_range r;
    assert_int_equal(drv_etcd_get(c, "/lease/leader", 13, &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_int_equal(r.kvs[0].lease, id);
    drv_etcd_range_clear(&r);

    assert_int_equal(drv_etcd_lease_revoke(c, id, &err), 0);
    assert_int_equal(drv_etcd_get_str(c, "/lease/leader", NULL, NULL, &err), 0);
    assert_int_equal(drv_etcd_lease_ttl(c, id, &ttl, &err), 0);
    assert_int_equal(ttl, -1);

    /* A keepalive on a revoked lease is NOT_FOUND; revoking it again is etcd's 404. */
    assert_int_equal(drv_etcd_lease_keepalive(c, id, &ttl, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);
    assert_int_equal(drv_etcd_lease_revoke(c, id, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_int_equal(err->code, 404);
    assert_non_null(strstr(err->message, "lease not found"));
    drv_error_destroy(&err);

    /* A put on an unknown lease is refused by etcd. */
    assert_int_equal(drv_etcd_put_str(c, "/lease/x", "v", id, NULL, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    drv_error_destroy(&err);

    assert_int_equal(drv_etcd_lease_grant(c, 0, &id, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
}

static void test_expiry_removes_key(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t short_id = 0, kept_id = 0, ttl = 0;
    assert_int_equal(drv_etcd_lease_grant(c, 1, &short_id, &err), 0);
    assert_int_equal(drv_etcd_lease_grant(c, 2, &kept_id, &err), 0);
    assert_int_equal(drv_etcd_put_str(c, "/lease/short", "v", short_id, NULL, &err), 0);
    assert_int_equal(drv_etcd_put_str(c, "/lease/kept", "v", kept_id, NULL, &err), 0);

    /* Keep one lease alive while the other runs out; wait (bounded) for the short key to go. */
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        g_usleep(200 * 1000);
        assert_int_equal(drv_etcd_lease_keepalive(c, kept_id, &ttl, &err), 0);
        int rc = drv_etcd_get_str(c, "/lease/short", NULL, NULL, &err);
        assert_true(rc >= 0);
        gone = rc == 0;
    }
    assert_true(gone);
    assert_int_equal(drv_etcd_lease_ttl(c, short_id, &ttl, &err), 0);
    assert_int_equal(ttl, -1);
    assert_int_equal(drv_etcd_lease_keepalive(c, short_id, &ttl, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_NOT_FOUND);
    drv_error_destroy(&err);

    /* The lease that was kept alive still holds its key. */
    assert_int_equal(drv_etcd_get_str(c, "/lease/kept", NULL, NULL, &err), 1);
    assert_int_equal(drv_etcd_lease_revoke(c, kept_id, &err), 0);
    assert_int_equal(drv_etcd_get_str(c, "/lease/kept", NULL, NULL, &err), 0);
    drv_etcd_destroy(&c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grant_keepalive_ttl_revoke),
    cmocka_unit_test(test_expiry_removes_key),
};
ETCD_TEST_MAIN(tests)
