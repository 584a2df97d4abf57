/* test_place_batch.c — unit test of placements chosen together on one snapshot (placement.c
 * ctl_placement_batch): each choice books its domain for the ones after it, so a batch never
 * books a host beyond its room, places exactly what fits, refuses the rest with "no room", keeps
 * a placed domain on its host (its own allocation not in its way), and chooses what one-by-one
 * placements, each stored before the next, would. */
#include "model.h"
#include "placement.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char s_xml[] = "<domain type='test'><name>x</name><memory unit='GiB'>1</memory>"
                            "<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

static ctl_host *s_host(ctl_model *m, const char *id, uint64_t mem_gib)
{
    ctl_host *h = ctl_host_new(id);
    h->registered = true;
    h->reachable = true;
    ctl_host_set_libvirt(h, true);
    h->facts.cpus = 64;
    h->facts.memory_kib = mem_gib << 20;
    h->facts.arch = g_strdup("x86_64");
    return ctl_model_put_host(m, h);
}

static ctl_domain *s_domain(ctl_model *m, const char *name, const char *host, ctl_desired want)
{
    ctl_domain *d = ctl_domain_new(name);
    d->host = g_strdup(host);
    d->desired = want;
    d->vcpus = 1;
    d->memory_kib = 1u << 20;
    d->xml = g_strdup(s_xml);
    d->mod_revision = 1;
    return ctl_model_put_domain(m, d);
}

/* Stores the placement as the txn's completion would (a copy on host, desired running). */
static void s_store(ctl_model *m, const ctl_domain *d, const char *host)
{
    ctl_domain *c = ctl_domain_copy(d);
    g_free(c->host);
    c->host = g_strdup(host);
    c->desired = CTL_DESIRED_RUNNING;
    ctl_model_put_domain(m, c);
}

static void test_batch_never_overbooks(void **state)
{
    (void)state;
    ctl_config cfg = {.cpu_ratio = 4, .memory_ratio = 1, .weigher = (char *)"spread"};
    ctl c = {.cfg = &cfg, .model = ctl_model_new()};
    s_host(c.model, "h1", 8); /* room for 8 domains of 1 GiB */
    s_host(c.model, "h2", 6);
    s_domain(c.model, "old", "h2", CTL_DESIRED_RUNNING); /* books 1 GiB of h2: room for 5 */
    char names[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "d%02d", i);
        s_domain(c.model, names[i], NULL, CTL_DESIRED_SHUTOFF);
    }
    ctl_placement_batch *b = ctl_placement_batch_new(&c);
    char *chosen[20] = {0};
    int on1 = 0, on2 = 0, refused = 0;
    for (int i = 0; i < 20; i++) {
        drv_error *err = NULL;
        int rc =
            ctl_placement_batch_choose(b, ctl_model_domain(c.model, names[i]), &chosen[i], &err);
        if (rc < 0) {
            assert_int_equal(err->kind, DRV_ERR_NO_ROOM);
            drv_error_destroy(&err);
            refused++;
            continue;
        }
        on1 += strcmp(chosen[i], "h1") == 0;
        on2 += strcmp(chosen[i], "h2") == 0;
    }
    ctl_placement_batch_free(b);
    assert_int_equal(on1, 8);
    assert_int_equal(on2, 5);
    assert_int_equal(refused, 7);

    /* the same choices as one placement at a time, each stored before the next is chosen */
    for (int i = 0; i < 20; i++) {
        char *host = NULL;
        drv_error *err = NULL;
        const ctl_domain *d = ctl_model_domain(c.model, names[i]);
        int rc = ctl_placement_choose(&c, d, NULL, &host, &err);
        if (chosen[i] == NULL) {
            assert_int_equal(rc, -1);
            drv_error_destroy(&err);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(host, chosen[i]);
            s_store(c.model, d, host);
        }
        g_free(host);
        g_free(chosen[i]);
    }
    ctl_model_destroy(&c.model);
}

static void test_batch_keeps_a_placed_domain(void **state)
{
    (void)state;
    ctl_config cfg = {.cpu_ratio = 4, .memory_ratio = 1, .weigher = (char *)"spread"};
    ctl c = {.cfg = &cfg, .model = ctl_model_new()};
    s_host(c.model, "h1", 2);
    s_host(c.model, "h2", 4); /* emptier: spread would choose it for a new domain */
    s_domain(c.model, "a", "h1", CTL_DESIRED_RUNNING); /* h1 full with a and b */
    s_domain(c.model, "b", "h1", CTL_DESIRED_RUNNING);
    ctl_placement_batch *bt = ctl_placement_batch_new(&c);
    char *host = NULL;
    drv_error *err = NULL;
    /* a starts again where it is placed: its own allocation does not count against it */
    assert_int_equal(ctl_placement_batch_choose(bt, ctl_model_domain(c.model, "a"), &host, &err),
                     0);
    assert_string_equal(host, "h1");
    g_free(host);
    /* and it is booked there again: a new domain goes to h2 */
    s_domain(c.model, "n1", NULL, CTL_DESIRED_SHUTOFF);
    assert_int_equal(ctl_placement_batch_choose(bt, ctl_model_domain(c.model, "n1"), &host, &err),
                     0);
    assert_string_equal(host, "h2");
    g_free(host);
    ctl_placement_batch_free(bt);
    ctl_model_destroy(&c.model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_never_overbooks),
        cmocka_unit_test(test_batch_keeps_a_placed_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
