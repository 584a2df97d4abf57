/* test_model_index.c — unit test of the model's per-host indexes (model.c: domains placed on a
 * host, hosts reporting a domain): after every one of thousands of random operations (place,
 * move, re-put of the same object with another host, report, unreport, clear, undefine, host
 * removal and re-adding, a reload adopting the runtime), everything the indexes answer
 * (ctl_model_domains_on, ctl_model_hosts_reporting, ctl_model_host_alloc,
 * ctl_model_domain_elsewhere) equals a brute-force walk of the whole model. */
#include "model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define N_HOSTS   7 /* host ids h0..h6; h6 is never stored (domains may still be placed there) */
#define N_DOMAINS 25

static const char *s_host_id(guint32 i)
{
    static char ids[N_HOSTS][8];
    snprintf(ids[i], sizeof(ids[i]), "h%u", i);
    return ids[i];
}

static const char *s_dom_name(guint32 i)
{
    static char names[N_DOMAINS][8];
    snprintf(names[i], sizeof(names[i]), "d%02u", i);
    return names[i];
}

/* Brute force: names of the domains placed on host_id, sorted. */
static GPtrArray *s_walk_on(ctl_model *m, const char *host_id)
{
    GPtrArray *out = g_ptr_array_new();
    GPtrArray *all = ctl_model_domains(m);
    for (guint i = 0; i < all->len; i++) {
        const ctl_domain *d = g_ptr_array_index(all, i);
        if (g_strcmp0(d->host, host_id) == 0)
            g_ptr_array_add(out, d->name);
    }
    g_ptr_array_unref(all);
    return out;
}

/* Brute force: ids of the stored hosts whose inventory lists name, sorted. */
static GPtrArray *s_walk_reporting(ctl_model *m, const char *name)
{
    GPtrArray *out = g_ptr_array_new();
    GPtrArray *hosts = ctl_model_hosts(m);
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        if (g_hash_table_contains(h->inventory, name))
            g_ptr_array_add(out, h->id);
    }
    g_ptr_array_unref(hosts);
    return out;
}

/* Brute force of ctl_model_host_alloc (model.h's definition of booked). */
static void s_walk_alloc(ctl_model *m, const char *host_id, uint32_t *vcpus, uint64_t *mem,
                         uint32_t *n)
{
    *vcpus = 0;
    *mem = 0;
    *n = 0;
    ctl_host *h = ctl_model_host(m, host_id);
    GPtrArray *all = ctl_model_domains(m);
    for (guint i = 0; i < all->len; i++) {
        const ctl_domain *d = g_ptr_array_index(all, i);
        if (g_strcmp0(d->host, host_id) != 0)
            continue;
        const ctl_actual *a = h != NULL ? g_hash_table_lookup(h->inventory, d->name) : NULL;
        if (d->desired != CTL_DESIRED_SHUTOFF || (a != NULL && ctl_vir_state_active(a->state))) {
            *vcpus += d->vcpus;
            *mem += d->memory_kib;
            (*n)++;
        }
    }
    g_ptr_array_unref(all);
}

/* Brute force of ctl_model_domain_elsewhere: the first other host by id reporting d active. */
static const char *s_walk_elsewhere(ctl_model *m, const ctl_domain *d)
{
    const char *found = NULL;
    GPtrArray *hosts = ctl_model_hosts(m);
    for (guint i = 0; i < hosts->len && found == NULL; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        if (g_strcmp0(h->id, d->host) == 0)
            continue;
        const ctl_actual *a = g_hash_table_lookup(h->inventory, d->name);
        if (a != NULL && ctl_vir_state_active(a->state))
            found = h->id;
    }
    g_ptr_array_unref(hosts);
    return found;
}

static void s_check(ctl_model *m)
{
    for (guint32 i = 0; i < N_HOSTS; i++) {
        const char *id = s_host_id(i);
        GPtrArray *want = s_walk_on(m, id);
        GPtrArray *got = ctl_model_domains_on(m, id);
        assert_int_equal(got->len, want->len);
        for (guint k = 0; k < got->len; k++) {
            const ctl_domain *d = g_ptr_array_index(got, k);
            assert_string_equal(d->name, g_ptr_array_index(want, k));
            assert_ptr_equal(d, ctl_model_domain(m, d->name)); /* the stored object */
        }
        g_ptr_array_unref(want);
        g_ptr_array_unref(got);
        uint32_t wv, gv, wn, gn;
        uint64_t wm, gm;
        s_walk_alloc(m, id, &wv, &wm, &wn);
        ctl_model_host_alloc(m, id, NULL, &gv, &gm, &gn);
        assert_int_equal(gv, wv);
        assert_int_equal(gm, wm);
        assert_int_equal(gn, wn);
    }
    for (guint32 i = 0; i < N_DOMAINS; i++) {
        const char *name = s_dom_name(i);
        GPtrArray *want = s_walk_reporting(m, name);
        GPtrArray *got = ctl_model_hosts_reporting(m, name);
        assert_int_equal(got->len, want->len);
        for (guint k = 0; k < got->len; k++) {
            const ctl_host *h = g_ptr_array_index(got, k);
            assert_string_equal(h->id, g_ptr_array_index(want, k));
            assert_ptr_equal(h, ctl_model_host(m, h->id));
        }
        g_ptr_array_unref(want);
        g_ptr_array_unref(got);
        const ctl_domain *d = ctl_model_domain(m, name);
        if (d != NULL)
            assert_string_equal(ctl_model_domain_elsewhere(m, d) ? ctl_model_domain_elsewhere(m, d)
                                                                 : "(none)",
                                s_walk_elsewhere(m, d) ? s_walk_elsewhere(m, d) : "(none)");
    }
}

static ctl_host *s_new_host(GRand *r, guint32 i)
{
    ctl_host *h = ctl_host_new(s_host_id(i));
    h->reachable = g_rand_boolean(r);
    /* a fresh object may come with entries of its own (dropped when it replaces a stored one) */
    if (g_rand_int_range(r, 0, 4) == 0) {
        ctl_actual *a = g_new0(ctl_actual, 1);
        a->name = g_strdup(s_dom_name(g_rand_int_range(r, 0, N_DOMAINS)));
        a->state = CTL_VIR_RUNNING;
        g_hash_table_replace(h->inventory, g_strdup(a->name), a);
    }
    return h;
}

static ctl_domain *s_new_domain(GRand *r, const char *name)
{
    ctl_domain *d = ctl_domain_new(name);
    guint32 where = g_rand_int_range(r, 0, N_HOSTS + 1);
    d->host = where < N_HOSTS ? g_strdup(s_host_id(where)) : NULL;
    d->desired = (ctl_desired)g_rand_int_range(r, 0, CTL_DESIRED_LAST);
    d->vcpus = g_rand_int_range(r, 1, 9);
    d->memory_kib = (uint64_t)g_rand_int_range(r, 1, 17) << 20;
    d->revision = g_rand_int_range(r, 1, 5);
    return d;
}

/* One random operation on m (which may be replaced by a reload). */
static void s_random_op(GRand *r, ctl_model **mp)
{
    ctl_model *m = *mp;
    const char *name = s_dom_name(g_rand_int_range(r, 0, N_DOMAINS));
    guint32 hi = g_rand_int_range(r, 0, N_HOSTS);
    ctl_host *h = ctl_model_host(m, s_host_id(hi));
    ctl_domain *d = ctl_model_domain(m, name);
    switch (g_rand_int_range(r, 0, 11)) {
    case 0: /* define / replace with a new object (placement, move, unplace) */
    case 1:
        ctl_model_put_domain(m, s_new_domain(r, name));
        break;
    case 2: /* a copy edited and put back (how placement and migration store a move) */
        if (d != NULL) {
            ctl_domain *c = ctl_domain_copy(d);
            g_free(c->host);
            c->host = g_strdup(s_host_id(g_rand_int_range(r, 0, N_HOSTS)));
            ctl_model_put_domain(m, c);
        }
        break;
    case 3: /* the stored object itself changed and put again */
        if (d != NULL) {
            g_free(d->host);
            d->host = g_rand_boolean(r) ? g_strdup(s_host_id(hi)) : NULL;
            ctl_model_put_domain(m, d);
        }
        break;
    case 4: /* undefine */
        ctl_model_remove_domain(m, name);
        break;
    case 5: /* a host's agent reports a domain (any state) */
    case 6:
        if (h != NULL) {
            ctl_actual *a = g_new0(ctl_actual, 1);
            a->name = g_strdup(name);
            a->state = g_rand_boolean(r) ? CTL_VIR_RUNNING : CTL_VIR_SHUTOFF;
            ctl_model_report(m, h, a);
        }
        break;
    case 7: /* an undefined event */
        if (h != NULL)
            ctl_model_unreport(m, h, name);
        break;
    case 8: /* a full inventory replaces the old one, or the controller forgets it */
        if (h != NULL)
            ctl_model_clear_reports(m, h);
        break;
    case 9: /* host stored (new or replacing the entry), or removed */
        if (hi == N_HOSTS - 1)
            break; /* h6 is never stored */
        if (g_rand_boolean(r))
            ctl_model_put_host(m, s_new_host(r, hi));
        else
            ctl_model_remove_host(m, s_host_id(hi));
        break;
    case 10: { /* a reload from etcd: fresh objects, the runtime (inventories) adopted */
        if (g_rand_int_range(r, 0, 10) != 0)
            break;
        ctl_model *fresh = ctl_model_new();
        GPtrArray *hosts = ctl_model_hosts(m);
        for (guint i = 0; i < hosts->len; i++)
            ctl_model_put_host(fresh, ctl_host_new(((ctl_host *)g_ptr_array_index(hosts, i))->id));
        g_ptr_array_unref(hosts);
        GPtrArray *doms = ctl_model_domains(m);
        for (guint i = 0; i < doms->len; i++)
            ctl_model_put_domain(fresh, ctl_domain_copy(g_ptr_array_index(doms, i)));
        g_ptr_array_unref(doms);
        ctl_model_adopt_runtime(fresh, m);
        s_check(m); /* the old model, its inventories swapped for the fresh empty ones */
        ctl_model_destroy(&m);
        *mp = fresh;
        break;
    }
    }
}

static void test_index_matches_brute_force(void **state)
{
    (void)state;
    for (guint32 seed = 1; seed <= 20; seed++) {
        GRand *r = g_rand_new_with_seed(seed);
        ctl_model *m = ctl_model_new();
        for (guint32 i = 0; i + 1 < N_HOSTS; i++)
            ctl_model_put_host(m, s_new_host(r, i));
        for (int op = 0; op < 600; op++) {
            s_random_op(r, &m);
            s_check(m);
        }
        ctl_model_destroy(&m);
        g_rand_free(r);
    }
}

/* The index is what the answers come from: a domain placed on a host is found there and only
 * there, the moment it moves; a report elsewhere is found at once. */
static void test_index_follows_a_move(void **state)
{
    (void)state;
    ctl_model *m = ctl_model_new();
    ctl_host *h1 = ctl_model_put_host(m, ctl_host_new("h1"));
    ctl_host *h2 = ctl_model_put_host(m, ctl_host_new("h2"));
    ctl_domain *d = ctl_domain_new("web");
    d->host = g_strdup("h1");
    d->desired = CTL_DESIRED_RUNNING;
    d->vcpus = 2;
    ctl_model_put_domain(m, d);
    GPtrArray *on1 = ctl_model_domains_on(m, "h1");
    assert_int_equal(on1->len, 1);
    g_ptr_array_unref(on1);
    ctl_domain *moved = ctl_domain_copy(d);
    g_free(moved->host);
    moved->host = g_strdup("h2");
    ctl_model_put_domain(m, moved);
    on1 = ctl_model_domains_on(m, "h1");
    GPtrArray *on2 = ctl_model_domains_on(m, "h2");
    assert_int_equal(on1->len, 0);
    assert_int_equal(on2->len, 1);
    assert_ptr_equal(g_ptr_array_index(on2, 0), moved);
    g_ptr_array_unref(on1);
    g_ptr_array_unref(on2);
    ctl_actual *a = g_new0(ctl_actual, 1);
    a->name = g_strdup("web");
    a->state = CTL_VIR_RUNNING;
    ctl_model_report(m, h1, a); /* still running on the source */
    assert_string_equal(ctl_model_domain_elsewhere(m, moved), "h1");
    ctl_model_unreport(m, h1, "web");
    assert_null(ctl_model_domain_elsewhere(m, moved));
    (void)h2;
    ctl_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_matches_brute_force),
        cmocka_unit_test(test_index_follows_a_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
