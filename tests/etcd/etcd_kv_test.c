/* etcd_kv_test.c — key/value calls against a real etcd: put/get, ranges (prefix, limit, keys-only,
 * count-only, at a revision, explicit end), deletes (one, prefix, with previous kvs), binary keys
 * and values, large values, etcd's own errors. */
#include "etcd_test_util.h"

#include <glib.h>
#include <string.h>

#define PUT_STR(c, k, v, rev)                                                                      \
    do {                                                                                           \
        drv_error *e_ = NULL;                                                                      \
        if (drv_etcd_put_str((c), (k), (v), 0, (rev), &e_) < 0)                                    \
            fail_msg("put %s: %s", (k), e_->message);                                              \
    } while (0)

static void test_put_get(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    int64_t rev1 = 0, rev2 = 0;
    PUT_STR(c, "/kv/a", "one", &rev1);
    PUT_STR(c, "/kv/a", "two", &rev2);
    assert_true(rev1 > 0);
    assert_true(rev2 > rev1);

    drv_etcd_range r;
    assert_int_equal(drv_etcd_get(c, "/kv/a", 5, &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_int_equal(r.kvs[0].key_len, 5);
    assert_memory_equal(r.kvs[0].key, "/kv/a", 5);
    assert_string_equal(r.kvs[0].value, "two");
    assert_int_equal(r.kvs[0].value_len, 3);
    assert_int_equal(r.kvs[0].mod_revision, rev2);
    assert_int_equal(r.kvs[0].create_revision, rev1);
    assert_int_equal(r.kvs[0].version, 2);
    assert_true(r.revision >= rev2);
    drv_etcd_range_clear(&r);

    /* A missing key is not an error. */
    assert_int_equal(drv_etcd_get(c, "/kv/missing", 11, &r, &err), 0);
    assert_null(err);
    assert_int_equal(r.n_kvs, 0);
    assert_true(r.revision >= rev2);
    drv_etcd_range_clear(&r);

    char *value = NULL;
    int64_t mod = 0;
    assert_int_equal(drv_etcd_get_str(c, "/kv/a", &value, &mod, &err), 1);
    assert_string_equal(value, "two");
    assert_int_equal(mod, rev2);
    g_free(value);
    value = NULL;
    assert_int_equal(drv_etcd_get_str(c, "/kv/missing", &value, &mod, &err), 0);
    assert_null(value);

    /* An empty value is stored and read back as empty (etcd omits it in JSON). */
    PUT_STR(c, "/kv/empty", "", NULL);
    assert_int_equal(drv_etcd_get_str(c, "/kv/empty", &value, NULL, &err), 1);
    assert_string_equal(value, "");
    g_free(value);

    /* An empty key is refused before anything is sent. */
    assert_int_equal(drv_etcd_put(c, "", 0, "x", 1, 0, NULL, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
    assert_null(c);
}

static void test_range(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    PUT_STR(c, "/rg/a", "A", NULL);
    PUT_STR(c, "/rg/b", "B", NULL);
    PUT_STR(c, "/rg/c", "C", NULL);
    PUT_STR(c, "/rg0", "outside", NULL); /* '0' follows '/' : just past the prefix range */
    PUT_STR(c, "/rf", "outside", NULL);

    drv_etcd_range r;
    drv_etcd_range_opts o = {.prefix = true};
    assert_int_equal(drv_etcd_range_get(c, "/rg/", 4, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 3);
    assert_int_equal(r.count, 3);
    assert_false(r.more);
    assert_string_equal(r.kvs[0].key, "/rg/a");
    assert_string_equal(r.kvs[1].key, "/rg/b");
    assert_string_equal(r.kvs[2].key, "/rg/c");
    assert_string_equal(r.kvs[2].value, "C");
    drv_etcd_range_clear(&r);

    o = (drv_etcd_range_opts){.prefix = true, .limit = 2};
    assert_int_equal(drv_etcd_range_get(c, "/rg/", 4, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 2);
    assert_int_equal(r.count, 3);
    assert_true(r.more);
    assert_string_equal(r.kvs[1].key, "/rg/b");
    drv_etcd_range_clear(&r);

    o = (drv_etcd_range_opts){.prefix = true, .keys_only = true};
    assert_int_equal(drv_etcd_range_get(c, "/rg/", 4, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 3);
    for (size_t i = 0; i < r.n_kvs; i++) {
        assert_int_equal(r.kvs[i].value_len, 0);
        assert_string_equal(r.kvs[i].value, "");
        assert_true(r.kvs[i].mod_revision > 0);
    }
    drv_etcd_range_clear(&r);

    o = (drv_etcd_range_opts){.prefix = true, .count_only = true};
    assert_int_equal(drv_etcd_range_get(c, "/rg/", 4, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 0);
    assert_int_equal(r.count, 3);
    drv_etcd_range_clear(&r);

    /* Explicit [key, range_end). */
    o = (drv_etcd_range_opts){.range_end = "/rg/c", .range_end_len = 5};
    assert_int_equal(drv_etcd_range_get(c, "/rg/a", 5, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 2);
    assert_string_equal(r.kvs[0].key, "/rg/a");
    assert_string_equal(r.kvs[1].key, "/rg/b");
    drv_etcd_range_clear(&r);

    /* At an older revision. */
    int64_t rev_old = 0;
    PUT_STR(c, "/rv/k", "old", &rev_old);
    PUT_STR(c, "/rv/k", "new", NULL);
    o = (drv_etcd_range_opts){.revision = rev_old};
    assert_int_equal(drv_etcd_range_get(c, "/rv/k", 5, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_string_equal(r.kvs[0].value, "old");
    assert_int_equal(r.kvs[0].mod_revision, rev_old);
    drv_etcd_range_clear(&r);
    o = (drv_etcd_range_opts){.revision = rev_old - 1};
    assert_int_equal(drv_etcd_range_get(c, "/rv/k", 5, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 0);
    drv_etcd_range_clear(&r);

    /* A future revision: etcd refuses, and its message and HTTP status reach the caller. */
    o = (drv_etcd_range_opts){.revision = rev_old + 1000000};
    assert_int_equal(drv_etcd_range_get(c, "/rv/k", 5, &o, &r, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_int_equal(err->code, 400);
    assert_non_null(strstr(err->message, "future revision"));
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
}

static void test_delete(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    PUT_STR(c, "/del/one", "1", NULL);
    PUT_STR(c, "/del/p/a", "pa", NULL);
    PUT_STR(c, "/del/p/b", "pb", NULL);
    PUT_STR(c, "/del/q", "stays", NULL);

    int64_t deleted = -1;
    assert_int_equal(drv_etcd_delete(c, "/del/one", 8, false, NULL, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(drv_etcd_delete(c, "/del/one", 8, false, NULL, &deleted, &err), 0);
    assert_int_equal(deleted, 0);

    drv_etcd_range prev;
    assert_int_equal(drv_etcd_delete(c, "/del/p/", 7, true, &prev, &deleted, &err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(prev.n_kvs, 2);
    assert_int_equal(prev.count, 2);
    assert_string_equal(prev.kvs[0].key, "/del/p/a");
    assert_string_equal(prev.kvs[0].value, "pa");
    assert_string_equal(prev.kvs[1].key, "/del/p/b");
    assert_string_equal(prev.kvs[1].value, "pb");
    drv_etcd_range_clear(&prev);

    drv_etcd_range r;
    drv_etcd_range_opts o = {.prefix = true};
    assert_int_equal(drv_etcd_range_get(c, "/del/", 5, &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_string_equal(r.kvs[0].key, "/del/q");
    drv_etcd_range_clear(&r);
    drv_etcd_destroy(&c);
}

static void test_binary(void **state)
{
    drv_etcd *c = etcd_test_client(5000);
    drv_error *err = NULL;
    static const char key[] = {'b', 'i', 'n', '\0', '\xff', '\x01'};
    static const char value[] = {'\0', '\xff', '\0', 'x', '\xfe', '\xff', '\0'};
    assert_int_equal(drv_etcd_put(c, key, sizeof(key), value, sizeof(value), 0, NULL, &err), 0);
    drv_etcd_range r;
    assert_int_equal(drv_etcd_get(c, key, sizeof(key), &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_int_equal(r.kvs[0].key_len, sizeof(key));
    assert_memory_equal(r.kvs[0].key, key, sizeof(key));
    assert_int_equal(r.kvs[0].value_len, sizeof(value));
    assert_memory_equal(r.kvs[0].value, value, sizeof(value));
    assert_int_equal(r.kvs[0].value[sizeof(value)], '\0'); /* NUL after the length */
    drv_etcd_range_clear(&r);

    /* A prefix ending in 0xff: its range end is "/bx" + 1 → "/by", not "/bx\xff" + 1 (overflow). */
    static const char pfx[] = {'/', 'b', 'x', '\xff'};
    static const char k1[] = {'/', 'b', 'x', '\xff'};
    static const char k2[] = {'/', 'b', 'x', '\xff', '\0'};
    static const char k3[] = {'/', 'b', 'x', '\xff', '\xff', '\xff'};
    static const char k_out1[] = {'/', 'b', 'x', '\xfe'};
    static const char k_out2[] = {'/', 'b', 'y'};
    const struct {
        const char *k;
        size_t len;
    } keys[] = {{k1, sizeof(k1)},
                {k2, sizeof(k2)},
                {k3, sizeof(k3)},
                {k_out1, sizeof(k_out1)},
                {k_out2, sizeof(k_out2)}};
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        assert_int_equal(drv_etcd_put(c, keys[i].k, keys[i].len, "v", 1, 0, NULL, &err), 0);
    drv_etcd_range_opts o = {.prefix = true};
    assert_int_equal(drv_etcd_range_get(c, pfx, sizeof(pfx), &o, &r, &err), 0);
    assert_int_equal(r.n_kvs, 3);
    assert_int_equal(r.kvs[0].key_len, sizeof(k1));
    assert_memory_equal(r.kvs[0].key, k1, sizeof(k1));
    assert_int_equal(r.kvs[1].key_len, sizeof(k2));
    assert_memory_equal(r.kvs[1].key, k2, sizeof(k2));
    assert_int_equal(r.kvs[2].key_len, sizeof(k3));
    assert_memory_equal(r.kvs[2].key, k3, sizeof(k3));
    drv_etcd_range_clear(&r);

    /* Deleting that prefix removes exactly the three. */
    int64_t deleted = 0;
    assert_int_equal(drv_etcd_delete(c, pfx, sizeof(pfx), true, NULL, &deleted, &err), 0);
    assert_int_equal(deleted, 3);
    assert_int_equal(drv_etcd_get(c, k_out2, sizeof(k_out2), &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    drv_etcd_range_clear(&r);
    drv_etcd_destroy(&c);
}

static void test_large_values(void **state)
{
    drv_etcd *c = etcd_test_client(10000);
    drv_error *err = NULL;
    size_t mib = 1024 * 1024;
    char *big = g_malloc(2 * mib);
    for (size_t i = 0; i < 2 * mib; i++)
        big[i] = (char)(i * 7 + i / 251);

    assert_int_equal(drv_etcd_put(c, "/big/1m", 7, big, mib, 0, NULL, &err), 0);
    assert_null(err);
    drv_etcd_range r;
    assert_int_equal(drv_etcd_get(c, "/big/1m", 7, &r, &err), 0);
    assert_int_equal(r.n_kvs, 1);
    assert_int_equal(r.kvs[0].value_len, mib);
    assert_memory_equal(r.kvs[0].value, big, mib);
    drv_etcd_range_clear(&r);

    /* Over etcd's request limit: refused with etcd's own message, and the key is unchanged. */
    assert_int_equal(drv_etcd_put(c, "/big/1m", 7, big, 2 * mib, 0, NULL, &err), -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_ETCD);
    assert_true(err->code >= 400);
    assert_true(strstr(err->message, "larger than max") != NULL ||
                strstr(err->message, "too large") != NULL);
    print_message("2 MiB put refused as expected: %s\n", err->message);
    drv_error_destroy(&err);
    assert_int_equal(drv_etcd_get(c, "/big/1m", 7, &r, &err), 0);
    assert_int_equal(r.kvs[0].value_len, mib);
    drv_etcd_range_clear(&r);

    /* The reused connection still works after the refusal. */
    PUT_STR(c, "/big/after", "ok", NULL);
    g_free(big);
    drv_etcd_destroy(&c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_put_get),      cmocka_unit_test(test_range),
    cmocka_unit_test(test_delete),       cmocka_unit_test(test_binary),
    cmocka_unit_test(test_large_values),
};
ETCD_TEST_MAIN(tests)
