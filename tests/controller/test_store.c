/* test_store.c — the controller's etcd I/O against a real etcd: CAS writes of definitions with
 * their history, the placement txn that stops two controllers with stale caches from booking the
 * same host, loading the cache, applying watch events (own writes recognised), deleting a domain's
 * keys. */
#include "etcd_fixture.h"
#include "store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static drv_test_etcd *s_etcd;
static int s_round;

typedef struct {
    ctl_store *store;
    char *prefix;
} fixture;

static int s_setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    f->prefix = g_strdup_printf("/drover/store%d-%d/", (int)getpid(), ++s_round);
    char *eps[] = {(char *)drv_test_etcd_endpoint(s_etcd), NULL};
    drv_error *err = NULL;
    f->store = ctl_store_new(eps, f->prefix, 5000, NULL, &err);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture *f = *state;
    ctl_store_destroy(&f->store);
    g_free(f->prefix);
    g_free(f);
    return 0;
}

static ctl_domain *s_domain(const char *name, uint64_t mem_kib)
{
    ctl_domain *d = ctl_domain_new(name);
    d->uuid = g_uuid_string_random();
    d->xml = g_strdup_printf("<domain type='test'><name>%s</name></domain>", name);
    d->revision = 1;
    d->vcpus = 1;
    d->memory_kib = mem_kib;
    return d;
}

/* A second "controller": its own store client and model loaded from etcd. */
static ctl_model *s_load(fixture *f, int64_t *ret_rev)
{
    ctl_model *m = ctl_model_new();
    drv_error *err = NULL;
    int64_t rev = 0;
    assert_int_equal(ctl_store_load(f->store, m, &rev, &err), 0);
    if (ret_rev)
        *ret_rev = rev;
    return m;
}

static void test_define_cas_and_history(void **state)
{
    fixture *f = *state;
    ctl_domain *d = s_domain("web", 1024);
    drv_error *err = NULL;
    assert_int_equal(ctl_store_put_domain(f->store, d, 0, "define", &err), 0);
    assert_true(d->mod_revision > 0);
    int64_t rev1 = d->mod_revision;

    /* a second create of the same name loses */
    ctl_domain *dup = s_domain("web", 1);
    assert_int_equal(ctl_store_put_domain(f->store, dup, 0, "define", &err), -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    assert_non_null(strstr(err->message, "domain 'web'"));
    drv_error_destroy(&err);
    ctl_domain_free(dup);

    /* revision 2 with the right expectation, then a stale writer loses */
    d->revision = 2;
    g_free(d->xml);
    d->xml = g_strdup("<domain type='test'><name>web</name><vcpu>2</vcpu></domain>");
    assert_int_equal(ctl_store_put_domain(f->store, d, rev1, "edit", &err), 0);
    ctl_domain *stale = s_domain("web", 1);
    stale->revision = 2;
    assert_int_equal(ctl_store_put_domain(f->store, stale, rev1, "edit", &err), -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    drv_error_destroy(&err);
    ctl_domain_free(stale);

    assert_int_equal(ctl_store_history_count(f->store, "web", &err), 2);
    char *json = NULL;
    assert_int_equal(ctl_store_history_get(f->store, "web", 2, &json, &err), 1);
    assert_non_null(strstr(json, "<vcpu>2</vcpu>"));
    assert_non_null(strstr(json, "\"comment\":\"edit\""));
    g_free(json);
    assert_int_equal(ctl_store_history_get(f->store, "web", 3, &json, &err), 0);

    /* the stored value loads back */
    ctl_model *m = s_load(f, NULL);
    ctl_domain *back = ctl_model_domain(m, "web");
    assert_non_null(back);
    assert_int_equal(back->revision, 2);
    assert_int_equal(back->mod_revision, d->mod_revision);
    assert_string_equal(back->uuid, d->uuid);
    ctl_model_destroy(&m);
    ctl_domain_free(d);
}

static void test_placement_race_between_stale_caches(void **state)
{
    fixture *f = *state;
    drv_error *err = NULL;
    ctl_host *h = ctl_host_new("h1");
    assert_int_equal(ctl_store_put_host(f->store, h, &err), 0);
    ctl_host_free(h);
    ctl_domain *a = s_domain("a", 1024), *b = s_domain("b", 1024);
    assert_int_equal(ctl_store_put_domain(f->store, a, 0, "define", &err), 0);
    assert_int_equal(ctl_store_put_domain(f->store, b, 0, "define", &err), 0);
    ctl_domain_free(a);
    ctl_domain_free(b);

    /* two controllers read the same state */
    ctl_model *m1 = s_load(f, NULL), *m2 = s_load(f, NULL);
    ctl_host *h1 = ctl_model_host(m1, "h1"), *h2 = ctl_model_host(m2, "h1");
    assert_int_equal(h1->alloc_mod_revision, 0);
    assert_int_equal(h2->alloc_mod_revision, 0);

    /* the first books h1 for a */
    ctl_domain *pa = ctl_domain_copy(ctl_model_domain(m1, "a"));
    pa->host = g_strdup("h1");
    pa->desired = CTL_DESIRED_RUNNING;
    assert_int_equal(
        ctl_store_place(f->store, pa, ctl_model_domain(m1, "a")->mod_revision, h1, "{}", &err), 0);
    assert_int_equal(h1->alloc_mod_revision, pa->mod_revision);

    /* the second, with a stale view of h1's allocations, cannot book h1 for b */
    ctl_domain *pb = ctl_domain_copy(ctl_model_domain(m2, "b"));
    pb->host = g_strdup("h1");
    pb->desired = CTL_DESIRED_RUNNING;
    int64_t b_mod = ctl_model_domain(m2, "b")->mod_revision;
    assert_int_equal(ctl_store_place(f->store, pb, b_mod, h2, "{}", &err), -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    assert_non_null(strstr(err->message, "host 'h1'"));
    drv_error_destroy(&err);

    /* nothing of the loser was written */
    ctl_model *m3 = s_load(f, NULL);
    assert_null(ctl_model_domain(m3, "b")->host);
    assert_string_equal(ctl_model_domain(m3, "a")->host, "h1");
    ctl_model_destroy(&m3);

    /* after re-reading the allocation key it may try again (and here succeeds) */
    assert_int_equal(ctl_store_refresh_alloc(f->store, m2, "h1", &err), 0);
    assert_int_equal(h2->alloc_mod_revision, pa->mod_revision);
    assert_int_equal(ctl_store_place(f->store, pb, b_mod, h2, "{}", &err), 0);

    /* the same domain placed from a stale domain revision loses too */
    ctl_domain *pa2 = ctl_domain_copy(ctl_model_domain(m2, "a"));
    pa2->host = g_strdup("h1");
    assert_int_equal(ctl_store_refresh_alloc(f->store, m2, "h1", &err), 0);
    assert_int_equal(
        ctl_store_place(f->store, pa2, ctl_model_domain(m2, "a")->mod_revision, h2, "{}", &err),
        -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    drv_error_destroy(&err);
    ctl_domain_free(pa);
    ctl_domain_free(pb);
    ctl_domain_free(pa2);
    ctl_model_destroy(&m1);
    ctl_model_destroy(&m2);
}

static void test_watch_applies_foreign_writes_only(void **state)
{
    fixture *f = *state;
    drv_error *err = NULL;
    int64_t rev = 0;
    ctl_model *m = s_load(f, &rev);
    drv_etcd_watch *w = ctl_store_watch(f->store, rev + 1, &err);
    assert_non_null(w);

    /* our own write: the cache already has it, the event is recognised and ignored */
    ctl_domain *d = s_domain("mine", 512);
    assert_int_equal(ctl_store_put_domain(f->store, d, 0, "define", &err), 0);
    ctl_model_put_domain(m, d);
    /* someone else's write */
    ctl_domain *o = s_domain("theirs", 256);
    ctl_model *other = ctl_model_new();
    assert_int_equal(ctl_store_put_domain(f->store, o, 0, "define", &err), 0);
    ctl_domain_free(o);
    ctl_model_destroy(&other);

    int seen_mine = 0, seen_theirs = 0;
    for (int i = 0; i < 4; i++) {
        drv_etcd_event ev;
        memset(&ev, 0, sizeof(ev));
        int rc = drv_etcd_watch_next(w, 2000, &ev, &err);
        assert_true(rc >= 0);
        if (rc == 0)
            break;
        char *name = NULL;
        ctl_change ch = ctl_store_apply(f->store, m, &ev, &name);
        if (ch == CTL_CHANGE_DOMAIN && strcmp(name, "theirs") == 0)
            seen_theirs++;
        if (ch != CTL_CHANGE_NONE && strcmp(name, "mine") == 0)
            seen_mine++;
        g_free(name);
        drv_etcd_event_clear(&ev);
    }
    assert_int_equal(seen_mine, 0);
    assert_int_equal(seen_theirs, 1);
    assert_non_null(ctl_model_domain(m, "theirs"));
    assert_int_equal(ctl_model_domain(m, "theirs")->memory_kib, 256);

    /* a deletion reaches the cache */
    assert_int_equal(ctl_store_delete_domain(f->store, "theirs", &err), 0);
    bool deleted = false;
    for (int i = 0; i < 4 && !deleted; i++) {
        drv_etcd_event ev;
        memset(&ev, 0, sizeof(ev));
        int rc = drv_etcd_watch_next(w, 2000, &ev, &err);
        assert_true(rc >= 0);
        if (rc == 0)
            break;
        char *name = NULL;
        deleted = ctl_store_apply(f->store, m, &ev, &name) == CTL_CHANGE_DOMAIN_DELETED;
        g_free(name);
        drv_etcd_event_clear(&ev);
    }
    assert_true(deleted);
    assert_null(ctl_model_domain(m, "theirs"));
    drv_etcd_watch_destroy(&w);
    ctl_model_destroy(&m);
}

static void test_delete_removes_history_and_snapshots(void **state)
{
    fixture *f = *state;
    drv_error *err = NULL;
    ctl_domain *d = s_domain("gone", 64);
    assert_int_equal(ctl_store_put_domain(f->store, d, 0, "define", &err), 0);
    ctl_snapshot s = {.name = "s1", .xml = "<domainsnapshot/>", .current = true};
    assert_int_equal(ctl_store_put_snapshot(f->store, "gone", &s, &err), 0);
    s.name = "s2";
    s.parent = "s1";
    assert_int_equal(ctl_store_put_snapshot(f->store, "gone", &s, &err), 0);
    GPtrArray *snaps = NULL;
    assert_int_equal(ctl_store_snapshots(f->store, "gone", &snaps, &err), 0);
    assert_int_equal(snaps->len, 2);
    assert_string_equal(((ctl_snapshot *)g_ptr_array_index(snaps, 1))->parent, "s1");
    g_ptr_array_unref(snaps);
    /* a domain whose name extends this one's is not touched */
    ctl_domain *d2 = s_domain("gone2", 64);
    assert_int_equal(ctl_store_put_domain(f->store, d2, 0, "define", &err), 0);

    assert_int_equal(ctl_store_delete_domain(f->store, "gone", &err), 0);
    assert_int_equal(ctl_store_history_count(f->store, "gone", &err), 0);
    assert_int_equal(ctl_store_snapshots(f->store, "gone", &snaps, &err), 0);
    assert_int_equal(snaps->len, 0);
    g_ptr_array_unref(snaps);
    assert_int_equal(ctl_store_history_count(f->store, "gone2", &err), 1);
    ctl_model *m = s_load(f, NULL);
    assert_null(ctl_model_domain(m, "gone"));
    assert_non_null(ctl_model_domain(m, "gone2"));
    ctl_model_destroy(&m);
    ctl_domain_free(d);
    ctl_domain_free(d2);
}

int main(void)
{
    if (!drv_test_etcd_available()) {
        printf("SKIPPED: no etcd binary\n");
        return 77;
    }
    s_etcd = drv_test_etcd_start();
    if (s_etcd == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_define_cas_and_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_placement_race_between_stale_caches, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_watch_applies_foreign_writes_only, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_history_and_snapshots, s_setup,
                                        s_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    drv_test_etcd_destroy(&s_etcd, failed != 0);
    return failed;
}
