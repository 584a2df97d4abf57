/* placement.c — see placement.h. */
#include "placement.h"

#include "domxml.h"
#include "log.h"
#include "migrate_run.h"

#include <string.h>

static char **s_labels(const ctl_host *h)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, h->labels);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(out, g_strdup_printf("%s=%s", (char *)k, (char *)v));
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

static char **s_pools(const ctl_host *h)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; h->facts.pools != NULL && i < h->facts.pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(h->facts.pools, i);
        if (p->name != NULL)
            g_ptr_array_add(out, g_strdup(p->name));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* Whether d books its resources where it is placed, exactly as ctl_model_host_alloc counts it. */
static bool s_booked(ctl *c, const ctl_domain *d)
{
    if (d->host == NULL)
        return false;
    if (d->desired != CTL_DESIRED_SHUTOFF)
        return true;
    ctl_host *h = ctl_model_host(c->model, d->host);
    const ctl_actual *a = h != NULL ? g_hash_table_lookup(h->inventory, d->name) : NULL;
    return a != NULL && ctl_vir_state_active(a->state);
}

/* d into cl, placed on host (kept only when cl has it), booking its resources when running. */
static void s_add_domain(drv_sched_cluster *cl, const ctl_domain *d, const char *host, bool running)
{
    drv_sched_domain_spec ds = {
        .name = d->name,
        .host = drv_sched_cluster_has_host(cl, host) ? host : NULL,
        .vcpus = d->vcpus,
        .memory_kib = d->memory_kib,
        .features = (const char *const *)d->cpu_features,
        .affinity_group = d->affinity_group,
        .anti_affinity_group = d->anti_affinity_group,
        .running = running,
    };
    drv_error *err = NULL;
    if (drv_sched_cluster_add_domain(cl, &ds, &err) < 0) {
        drv_warn("scheduler: domain '%s' left out: %s", d->name, err->message);
        drv_error_destroy(&err);
    }
}

drv_sched_cluster *ctl_placement_cluster(ctl *c, const char *starting)
{
    drv_sched_config cfg;
    drv_sched_config_init(&cfg);
    cfg.cpu_ratio = c->cfg->cpu_ratio;
    cfg.memory_ratio = c->cfg->memory_ratio;
    cfg.weigher =
        strcmp(c->cfg->weigher, "pack") == 0 ? DRV_SCHED_WEIGHER_PACK : DRV_SCHED_WEIGHER_SPREAD;
    drv_sched_cluster *cl = drv_sched_cluster_new(&cfg);
    GPtrArray *hosts = ctl_model_hosts(c->model);
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        g_auto(GStrv) labels = s_labels(h);
        g_auto(GStrv) pools = s_pools(h);
        drv_sched_host_spec hs = {
            .id = h->id,
            .arch = h->facts.arch,
            .cpu_model = h->facts.cpu_model,
            .cpus = h->facts.cpus,
            .memory_kib = h->facts.memory_kib,
            .reserved_memory_kib = h->facts.reserved_memory_kib <= h->facts.memory_kib
                                       ? h->facts.reserved_memory_kib
                                       : h->facts.memory_kib,
            .features = (const char *const *)h->facts.cpu_features,
            .labels = (const char *const *)labels,
            .pools = (const char *const *)pools,
            .networks = (const char *const *)h->facts.networks,
            /* a host whose inventory is not authoritative has unknown free room: left out as
             * unreachable (ctl_placement_choose names the real reason) */
            .reachable = ctl_host_unknown_reason(h) == NULL,
        };
        if (drv_sched_host_state_from_string(h->admin_state, &hs.state) < 0)
            hs.state = DRV_SCHED_HOST_ACTIVE;
        drv_error *err = NULL;
        if (drv_sched_cluster_add_host(cl, &hs, &err) < 0) {
            drv_warn("scheduler: host '%s' left out: %s", h->id, err->message);
            drv_error_destroy(&err);
        }
    }
    /* unordered: sorting 20,000 domains for every placement cost more than placing (the
     * scheduler's answer does not depend on the order domains were added in) */
    GPtrArray *doms = ctl_model_domains_unordered(c->model);
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        bool running = (starting == NULL || strcmp(starting, d->name) != 0) && s_booked(c, d);
        s_add_domain(cl, d, d->host, running);
    }
    g_ptr_array_unref(doms);
    /* a host another writer booked (a lost placement read its alloc/ key) counts at least that
     * until the watch brings the domains it placed: a retry never books it on the stale cache */
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        if (h->alloc_floor_revision == 0 || !drv_sched_cluster_has_host(cl, h->id))
            continue;
        uint32_t vcpus = 0, n = 0;
        uint64_t mem = 0;
        ctl_model_host_alloc(c->model, h->id, starting, &vcpus, &mem, &n);
        if (h->alloc_floor_vcpus <= vcpus && h->alloc_floor_memory_kib <= mem)
            continue;
        g_autofree char *id = g_strdup_printf("alloc-floor:%s", h->id);
        drv_sched_reservation sr = {
            .id = id,
            .host = h->id,
            .vcpus = h->alloc_floor_vcpus > vcpus ? h->alloc_floor_vcpus - vcpus : 0,
            .memory_kib = h->alloc_floor_memory_kib > mem ? h->alloc_floor_memory_kib - mem : 0};
        drv_error *err = NULL;
        if (drv_sched_cluster_add_reservation(cl, &sr, &err) < 0) {
            drv_warn("scheduler: booked floor of host '%s' left out: %s", h->id, err->message);
            drv_error_destroy(&err);
        }
    }
    g_ptr_array_unref(hosts);
    ctl_migrate_add_reservations(c, cl); /* destinations of migrations in flight */
    return cl;
}

/* "; counted as unreachable: h3 (inventory not authoritative: libvirt disconnected), ..." for the
 * hosts the snapshot left out whose agent is connected but whose inventory is not authoritative;
 * "" when there are none (owned). */
static char *s_unknown_hosts_note(ctl *c)
{
    GString *s = g_string_new(NULL);
    GPtrArray *hosts = ctl_model_hosts(c->model);
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        const char *why = ctl_host_unknown_reason(h);
        if (why == NULL || strcmp(why, CTL_UNKNOWN_UNREACHABLE) == 0)
            continue;
        g_string_append_printf(s, "%s%s (inventory not authoritative: %s)",
                               s->len ? ", " : "; counted as unreachable: ", h->id, why);
    }
    g_ptr_array_unref(hosts);
    return g_string_free(s, FALSE);
}

/* Places req on cl; 1 and *ret_host when it fits, 0 and *ret_why when not, -1 on error. */
static int s_place(drv_sched_cluster *cl, const drv_sched_request *req, char **ret_host,
                   char **ret_why, drv_error **err)
{
    drv_sched_result *res = NULL;
    if (drv_sched_place(cl, req, &res, err) < 0)
        return -1;
    int fits = res->fits;
    if (fits)
        *ret_host = g_strdup(res->host);
    else if (ret_why != NULL)
        *ret_why = drv_sched_explain(res);
    drv_sched_result_destroy(&res);
    return fits;
}

/* ctl_placement_choose on the snapshot cl (in which d books nothing). */
static int s_choose_in(ctl *c, drv_sched_cluster *cl, const ctl_domain *d, char *const *avoid,
                       char **ret_host, drv_error **err)
{
    drv_domxml *dx = NULL;
    drv_error *perr = NULL;
    if (drv_domxml_parse(d->xml, strlen(d->xml), &dx, &perr) < 0) {
        drv_warn("domain '%s': stored XML does not parse: %s", d->name, perr->message);
        drv_error_destroy(&perr);
    }
    drv_sched_request req = {
        .name = d->name,
        .vcpus = d->vcpus,
        .memory_kib = d->memory_kib,
        .arch = dx ? dx->arch : NULL,
        .features = (const char *const *)d->cpu_features,
        .pools = dx ? (const char *const *)dx->storage_pools : NULL,
        .networks = dx ? (const char *const *)dx->networks : NULL,
        .labels = dx ? (const char *const *)dx->labels : NULL,
        .affinity_group = d->affinity_group,
        .anti_affinity_group = d->anti_affinity_group,
        .avoid_hosts = (const char *const *)avoid,
    };
    int rc = -1;
    char *host = NULL;
    g_autofree char *why = NULL;
    bool avoided = false;
    for (size_t i = 0; avoid != NULL && d->host != NULL && avoid[i] != NULL; i++)
        avoided = avoided || strcmp(avoid[i], d->host) == 0;
    if (d->host != NULL && !avoided && drv_sched_cluster_has_host(cl, d->host)) {
        /* keep the placement when its host can take the domain: consider only that host */
        GPtrArray *others = g_ptr_array_new();
        for (size_t i = 0; i < drv_sched_cluster_n_hosts(cl); i++) {
            const char *id = drv_sched_cluster_host_id(cl, i);
            if (strcmp(id, d->host) != 0)
                g_ptr_array_add(others, (gpointer)id);
        }
        g_ptr_array_add(others, NULL);
        drv_sched_request only = req;
        only.avoid_hosts = (const char *const *)others->pdata;
        int fits = s_place(cl, &only, &host, NULL, err);
        g_ptr_array_unref(others);
        if (fits < 0)
            goto out;
        if (fits > 0) {
            rc = 0;
            goto out;
        }
    }
    int fits = s_place(cl, &req, &host, &why, err);
    if (fits < 0)
        goto out;
    if (fits == 0) {
        g_autofree char *note = s_unknown_hosts_note(c);
        drv_error_set(err, DRV_ERR_NO_ROOM, 0, "domain '%s': %s%s", d->name, why, note);
        goto out;
    }
    rc = 0;
out:
    drv_domxml_destroy(&dx);
    if (rc == 0)
        *ret_host = host;
    else
        g_free(host);
    return rc;
}

int ctl_placement_choose(ctl *c, const ctl_domain *d, char *const *avoid, char **ret_host,
                         drv_error **err)
{
    drv_sched_cluster *cl = ctl_placement_cluster(c, d->name);
    int rc = s_choose_in(c, cl, d, avoid, ret_host, err);
    drv_sched_cluster_destroy(&cl);
    return rc;
}

struct ctl_placement_batch {
    ctl *c;
    drv_sched_cluster *cl;
};

ctl_placement_batch *ctl_placement_batch_new(ctl *c)
{
    ctl_placement_batch *b = g_new0(ctl_placement_batch, 1);
    b->c = c;
    b->cl = ctl_placement_cluster(c, NULL);
    return b;
}

int ctl_placement_batch_choose(ctl_placement_batch *b, const ctl_domain *d, char **ret_host,
                               drv_error **err)
{
    /* as ctl_placement_cluster(c, d->name) has it: its own allocation does not stand in its way */
    drv_error *e = NULL;
    if (drv_sched_cluster_remove_domain(b->cl, d->name, &e) < 0)
        drv_error_destroy(&e);
    s_add_domain(b->cl, d, d->host, false);
    int rc = s_choose_in(b->c, b->cl, d, NULL, ret_host, err);
    if (drv_sched_cluster_remove_domain(b->cl, d->name, &e) < 0)
        drv_error_destroy(&e);
    if (rc == 0)
        s_add_domain(b->cl, d, *ret_host, true); /* booked for the choices after it */
    else
        s_add_domain(b->cl, d, d->host, s_booked(b->c, d)); /* as it was */
    return rc;
}

void ctl_placement_batch_free(ctl_placement_batch *b)
{
    if (b == NULL)
        return;
    drv_sched_cluster_destroy(&b->cl);
    g_free(b);
}

char *ctl_placement_alloc_json(ctl *c, const char *host_id)
{
    uint32_t vcpus = 0, n = 0;
    uint64_t mem = 0;
    ctl_model_host_alloc(c->model, host_id, NULL, &vcpus, &mem, &n);
    return g_strdup_printf("{\"vcpus\":%u,\"memory_kib\":%llu,\"domains\":%u}", vcpus,
                           (unsigned long long)mem, n);
}

void ctl_placement_turn_over(ctl *c)
{
    c->placing = false;
    if (c->placement_released != NULL)
        c->placement_released(c);
}
