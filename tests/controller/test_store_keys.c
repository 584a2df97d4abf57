/* test_store_keys.c — keys read from etcd are checked before the prefix is stripped (store.c): a
 * key shorter than the prefix, one with a NUL (which would alias another domain), one outside the
 * prefix, or one naming an invalid host or domain name is skipped, never applied; a valid key is
 * (so the test can fail). And a crafted name cannot forge a log line (log.c). No etcd is
 * contacted: ctl_store_new does not connect, ctl_store_apply works on the cache only. */
#include "log.h"
#include "model.h"
#include "store.h"
#include "view.h"

#include <glib.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    ctl_store *store;
    ctl_model *m;
    char *value; /* a valid stored domain document */
} fixture;

static int s_setup(void **state)
{
    fixture *f = g_new0(fixture, 1);
    char *eps[] = {"http://127.0.0.1:9", NULL};
    drv_error *err = NULL;
    f->store = ctl_store_new(eps, "/drover/v1/", 1000, NULL, &err);
    assert_non_null(f->store);
    f->m = ctl_model_new();
    ctl_domain *d = ctl_domain_new("vm1");
    d->uuid = g_strdup("6f1b1c52-5a43-4bc8-9a1e-1d2f3a4b5c6d");
    d->xml = g_strdup("<domain type='test'><name>vm1</name></domain>");
    d->revision = 1;
    d->vcpus = 1;
    d->memory_kib = 1024;
    f->value = ctl_view_domain_store(d);
    ctl_domain_free(d);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fixture *f = *state;
    ctl_model_destroy(&f->m);
    ctl_store_destroy(&f->store);
    g_free(f->value);
    g_free(f);
    return 0;
}

static ctl_change s_apply(fixture *f, const char *key, size_t key_len, int64_t rev)
{
    drv_etcd_event ev = {.type = DRV_ETCD_EVENT_PUT};
    ev.kv.key = g_malloc(key_len + 1);
    memcpy(ev.kv.key, key, key_len);
    ev.kv.key[key_len] = '\0';
    ev.kv.key_len = key_len;
    ev.kv.value = g_strdup(f->value);
    ev.kv.value_len = strlen(f->value);
    ev.kv.mod_revision = rev;
    char *name = NULL;
    ctl_change ch = ctl_store_apply(f->store, f->m, &ev, &name);
    g_free(name);
    drv_etcd_event_clear(&ev);
    return ch;
}

static void test_hostile_keys_are_skipped(void **state)
{
    fixture *f = *state;
    /* shorter than the prefix, the prefix itself, empty, outside it */
    assert_int_equal(s_apply(f, "/dro", 4, 2), CTL_CHANGE_NONE);
    assert_int_equal(s_apply(f, "/drover/v1/", 11, 2), CTL_CHANGE_NONE);
    assert_int_equal(s_apply(f, "", 0, 2), CTL_CHANGE_NONE);
    assert_int_equal(s_apply(f, "/other/v1/domains/vm1", 21, 2), CTL_CHANGE_NONE);
    /* a NUL: read as a C string this is domains/vm1 */
    const char nul[] = "/drover/v1/domains/vm1\0evil";
    assert_int_equal(s_apply(f, nul, sizeof(nul) - 1, 2), CTL_CHANGE_NONE);
    const char nul2[] = "/drover/v1/domains\0/vm1";
    assert_int_equal(s_apply(f, nul2, sizeof(nul2) - 1, 2), CTL_CHANGE_NONE);
    /* invalid names: whitespace, control characters, a leading dot, too long */
    const char *bad[] = {"/drover/v1/domains/ vm1", "/drover/v1/domains/vm1\n",
                         "/drover/v1/hosts/h\x1b[31m", "/drover/v1/domains/.vm1",
                         "/drover/v1/hostkeys/~h1"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        assert_int_equal(s_apply(f, bad[i], strlen(bad[i]), 2), CTL_CHANGE_NONE);
    g_autofree char *longname = g_strdup_printf("/drover/v1/domains/%0100d", 1);
    assert_int_equal(s_apply(f, longname, strlen(longname), 2), CTL_CHANGE_NONE);
    assert_null(ctl_model_domain(f->m, "vm1"));
    assert_int_equal(ctl_model_n_domains(f->m), 0);

    /* the same document under a valid key is applied */
    const char *good = "/drover/v1/domains/vm1";
    assert_int_equal(s_apply(f, good, strlen(good), 3), CTL_CHANGE_DOMAIN);
    assert_non_null(ctl_model_domain(f->m, "vm1"));
    /* and a NUL key does not overwrite it */
    assert_int_equal(s_apply(f, nul, sizeof(nul) - 1, 4), CTL_CHANGE_NONE);
    assert_int_equal(ctl_model_domain(f->m, "vm1")->mod_revision, 3);
}

static void test_apply_domain_kv_refuses_another_key(void **state)
{
    fixture *f = *state;
    /* asked for vm2, etcd answers with vm1's key: nothing is loaded under either name */
    drv_etcd_kv kv = {.key = g_strdup("/drover/v1/domains/vm1"),
                      .key_len = strlen("/drover/v1/domains/vm1"),
                      .value = g_strdup(f->value),
                      .value_len = strlen(f->value),
                      .mod_revision = 5};
    drv_etcd_range r = {.kvs = &kv, .n_kvs = 1};
    ctl_store_apply_domain_kv(f->store, f->m, "vm2", &r);
    assert_null(ctl_model_domain(f->m, "vm2"));
    assert_null(ctl_model_domain(f->m, "vm1"));
    g_free(kv.key);
    g_free(kv.value);
}

/* Runs drv_warn with a crafted name, stderr sent to a file; returns what was printed. */
static char *s_log_capture(const char *name)
{
    fflush(stderr);
    char path[] = "/tmp/drv-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    drv_warn("domain '%s': refused", name);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    return text;
}

static void test_log_cannot_be_forged(void **state)
{
    (void)state;
    g_autofree char *text =
        s_log_capture("vm1\n2026-12-04T06:00:00.000Z error drover-controller: forged\r\x1b[2K");
    /* one line, ending in its own newline; the injected ones are escaped */
    size_t len = strlen(text);
    size_t first_nl = strcspn(text, "\n");
    assert_true(len > 0);
    assert_int_equal(first_nl + 1, len);
    assert_null(strchr(text, '\r'));
    assert_null(strchr(text, '\x1b'));
    assert_non_null(strstr(text, "vm1\\x0a2026-12-04T06:00:00.000Z error"));
    assert_non_null(strstr(text, "\\x0d\\x1b[2K"));
}

int main(void)
{
    drv_log_init("test_store_keys", DRV_LOG_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_keys_are_skipped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_apply_domain_kv_refuses_another_key, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_log_cannot_be_forged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
