/* place.c — placement: a request is interned once (sched_prep), then one pass over the hosts'
 * flat arrays (sched_scan, scan.c) applies the filters, counts refusals and keeps the best hosts by
 * the weigher; the result and its one-sentence explanation are built here. */
#include <string.h>

#include "sched_internal.h"

#include "config.h"

/* ------------------------------------------------------------------------------------------------
 * Prepared requests. */

static size_t s_where_placed(const sched_domain *d, void *ctx)
{
    (void)ctx;
    return d->host ? d->host->slot : SIZE_MAX;
}

static void s_req_bits_init(struct sched_req_bits *rb, const sched_bitset_table *t,
                            const char *const *names, bool labels)
{
    memset(rb, 0, sizeof(*rb));
    rb->want = g_new0(uint64_t, t->stride);
    rb->words = g_new0(size_t, t->stride);
    for (size_t i = 0; names && names[i]; i++) {
        g_autofree char *norm = NULL;
        const char *name = names[i];
        if (labels && !strchr(name, '='))
            name = norm = g_strconcat(name, "=", NULL);
        long bit = sched_intern_lookup(&t->names, name);
        if (bit < 0) {
            rb->impossible = true;
            if (!rb->unknown)
                rb->unknown = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(rb->unknown, g_strdup(name));
            continue;
        }
        rb->want[bit / 64] |= (uint64_t)1 << (bit % 64);
    }
    for (size_t w = 0; w < t->stride; w++)
        if (rb->want[w])
            rb->words[rb->n_words++] = w;
}

static void s_req_bits_clear(struct sched_req_bits *rb)
{
    g_clear_pointer(&rb->want, g_free);
    g_clear_pointer(&rb->words, g_free);
    g_clear_pointer(&rb->unknown, g_ptr_array_unref);
}

void sched_prep_marks(sched_prep *p, const drv_sched_cluster *c, sched_where_fn where, void *ctx)
{
    if (!where)
        where = s_where_placed;
    g_clear_pointer(&p->anti_marks, g_free);
    g_clear_pointer(&p->aff_marks, g_free);
    if (p->anti) {
        for (guint i = 0; i < p->anti->members->len; i++) {
            const sched_domain *m = g_ptr_array_index(p->anti->members, i);
            size_t slot = m == p->self ? SIZE_MAX : where(m, ctx);
            if (slot == SIZE_MAX)
                continue;
            if (!p->anti_marks)
                p->anti_marks = g_new0(uint64_t, p->n_slot_words);
            sched_bit_set(p->anti_marks, slot);
        }
    }
    if (p->aff) {
        for (guint i = 0; i < p->aff->members->len; i++) {
            const sched_domain *m = g_ptr_array_index(p->aff->members, i);
            size_t slot = m == p->self ? SIZE_MAX : where(m, ctx);
            if (slot == SIZE_MAX)
                continue;
            if (!p->aff_marks)
                p->aff_marks = g_new0(uint64_t, p->n_slot_words);
            sched_bit_set(p->aff_marks, slot);
        }
    }
    (void)c;
}

int sched_prep_init(sched_prep *p, const drv_sched_cluster *c, const drv_sched_request *req,
                    sched_where_fn where, void *where_ctx, drv_error **err)
{
    memset(p, 0, sizeof(*p));
    if (!req)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "scheduler: no request");
    p->vcpus = req->vcpus;
    p->memory_kib = req->memory_kib;
    if (req->arch && *req->arch) {
        long a = sched_intern_lookup(&c->arches, req->arch);
        p->arch = a < 0 ? UINT32_MAX : (uint32_t)a + 1;
    }
    s_req_bits_init(&p->feat, &c->features, req->features, false);
    s_req_bits_init(&p->pool, &c->pools, req->pools, false);
    s_req_bits_init(&p->net, &c->networks, req->networks, false);
    s_req_bits_init(&p->label, &c->labels, req->labels, true);
    p->self = req->name ? g_hash_table_lookup(c->domain_by_name, req->name) : NULL;
    p->aff_name = req->affinity_group && *req->affinity_group ? req->affinity_group : NULL;
    p->anti_name =
        req->anti_affinity_group && *req->anti_affinity_group ? req->anti_affinity_group : NULL;
    p->aff = p->aff_name ? g_hash_table_lookup(c->aff_groups, p->aff_name) : NULL;
    p->anti = p->anti_name ? g_hash_table_lookup(c->anti_groups, p->anti_name) : NULL;
    p->n_slot_words = (c->hosts->len + 63) / 64 + 1;
    if (req->avoid_hosts && req->avoid_hosts[0]) {
        p->avoid = g_new0(uint64_t, p->n_slot_words);
        for (size_t i = 0; req->avoid_hosts[i]; i++) {
            sched_host *h = sched_cluster_host(c, req->avoid_hosts[i]);
            if (h)
                sched_bit_set(p->avoid, h->slot);
        }
    }
    sched_prep_marks(p, c, where, where_ctx);
    return 0;
}

void sched_prep_clear(sched_prep *p)
{
    s_req_bits_clear(&p->feat);
    s_req_bits_clear(&p->pool);
    s_req_bits_clear(&p->net);
    s_req_bits_clear(&p->label);
    g_clear_pointer(&p->avoid, g_free);
    g_clear_pointer(&p->anti_marks, g_free);
    g_clear_pointer(&p->aff_marks, g_free);
}

void sched_request_from_domain(const sched_domain *d, drv_sched_request *req)
{
    memset(req, 0, sizeof(*req));
    req->name = d->name;
    req->vcpus = d->vcpus;
    req->memory_kib = d->memory_kib;
    req->arch = d->arch;
    req->features = (const char *const *)d->features;
    req->pools = (const char *const *)d->pools;
    req->networks = (const char *const *)d->networks;
    req->labels = (const char *const *)d->labels;
    req->affinity_group = d->affinity_group;
    req->anti_affinity_group = d->anti_affinity_group;
}

/* ------------------------------------------------------------------------------------------------
 * Results. */

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **s_bits_names(const uint64_t *bits, const sched_bitset_table *t,
                           const struct sched_req_bits *rb, size_t rejected)
{
    GPtrArray *out = g_ptr_array_new();
    if (rejected) {
        for (size_t w = 0; w < t->stride; w++)
            for (size_t b = 0; b < 64 && bits[w] >> b; b++)
                if ((bits[w] >> b) & 1u)
                    g_ptr_array_add(out, g_strdup(g_ptr_array_index(t->names.names, w * 64 + b)));
        for (guint i = 0; rb->unknown && i < rb->unknown->len; i++)
            g_ptr_array_add(out, g_strdup(g_ptr_array_index(rb->unknown, i)));
        if (out->len)
            qsort(out->pdata, out->len, sizeof(char *), s_strcmp_p);
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

drv_sched_result *sched_result_build(const drv_sched_cluster *c, const sched_hot *hot,
                                     const sched_prep *p, const drv_sched_request *req)
{
    sched_scan_out out;
    g_autofree uint64_t *feat_miss = g_new0(uint64_t, c->features.stride);
    g_autofree uint64_t *pool_miss = g_new0(uint64_t, c->pools.stride);
    g_autofree uint64_t *net_miss = g_new0(uint64_t, c->networks.stride);
    g_autofree uint64_t *label_miss = g_new0(uint64_t, c->labels.stride);
    const sched_scan_miss miss = {
        .feat = feat_miss, .pool = pool_miss, .net = net_miss, .label = label_miss};
    sched_scan(c, hot, p, 1 + c->cfg.alternates, &out, &miss);

    drv_sched_result *r = g_new0(drv_sched_result, 1);
    r->n_hosts = c->hosts->len;
    r->n_fitting = out.n_fitting;
    memcpy(r->rejected, out.rejected, sizeof(r->rejected));
    r->fits = out.n_best > 0;
    r->alternates = g_new0(char *, out.n_best + 1);
    if (r->fits) {
        r->host = g_strdup(((sched_host *)g_ptr_array_index(c->hosts, out.best[0]))->id);
        for (size_t i = 1; i < out.n_best; i++)
            r->alternates[r->n_alternates++] =
                g_strdup(((sched_host *)g_ptr_array_index(c->hosts, out.best[i]))->id);
    }
    r->missing_features =
        s_bits_names(feat_miss, &c->features, &p->feat, out.rejected[DRV_SCHED_FILTER_FEATURES]);
    r->missing_pools =
        s_bits_names(pool_miss, &c->pools, &p->pool, out.rejected[DRV_SCHED_FILTER_POOLS]);
    r->missing_networks =
        s_bits_names(net_miss, &c->networks, &p->net, out.rejected[DRV_SCHED_FILTER_NETWORKS]);
    r->missing_labels =
        s_bits_names(label_miss, &c->labels, &p->label, out.rejected[DRV_SCHED_FILTER_LABELS]);
    r->memory_short_kib = out.memory_short_kib == UINT64_MAX ? 0 : out.memory_short_kib;
    r->vcpus_short = out.vcpus_short == UINT64_MAX ? 0 : out.vcpus_short;
    r->vcpus = req->vcpus;
    r->memory_kib = req->memory_kib;
    r->arch = g_strdup(req->arch && *req->arch ? req->arch : NULL);
    r->affinity_group = g_strdup(p->aff_name);
    r->anti_affinity_group = g_strdup(p->anti_name);
    return r;
}

int drv_sched_place(const drv_sched_cluster *cluster, const drv_sched_request *request,
                    drv_sched_result **ret, drv_error **err)
{
    sched_prep p;
    if (sched_prep_init(&p, cluster, request, NULL, NULL, err) < 0) {
        sched_prep_clear(&p);
        return -1;
    }
    *ret = sched_result_build(cluster, cluster->hot, &p, request);
    sched_prep_clear(&p);
    return 0;
}

void drv_sched_result_destroy(drv_sched_result **result_p)
{
    if (!result_p || !*result_p)
        return;
    drv_sched_result *r = *result_p;
    g_free(r->host);
    g_strfreev(r->alternates);
    g_strfreev(r->missing_features);
    g_strfreev(r->missing_pools);
    g_strfreev(r->missing_networks);
    g_strfreev(r->missing_labels);
    g_free(r->arch);
    g_free(r->affinity_group);
    g_free(r->anti_affinity_group);
    g_free(r);
    *result_p = NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Explanations. */

char *drv_sched_format_kib(uint64_t kib)
{
    if (kib >= 1024ull * 1024 * 1024 && kib % (1024ull * 1024 * 1024) == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " TiB",
                               (guint64)(kib / (1024ull * 1024 * 1024)));
    if (kib >= 1024 * 1024 && kib % (1024 * 1024) == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " GiB", kib / (1024 * 1024));
    if (kib >= 1024 && kib % 1024 == 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT " MiB", kib / 1024);
    if (kib < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " KiB", kib);
    return drv_format_size_kib(kib); /* not a whole unit: "806.2 MiB", never "825528 KiB" */
}

static void s_join(GString *s, char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", v[i]);
}

/* "N host(s) <verb>" with singular/plural verb forms. */
static void s_count(GString *s, size_t n, const char *one, const char *many)
{
    g_string_append_printf(s, "%zu host%s %s", n, n == 1 ? "" : "s", n == 1 ? one : many);
}

static void s_headline(GString *s, const drv_sched_result *r, drv_sched_filter f)
{
    size_t n = r->rejected[f];
    switch (f) {
    case DRV_SCHED_FILTER_MEMORY: {
        g_autofree char *need = drv_sched_format_kib(r->memory_kib);
        g_autofree char *shortfall = drv_sched_format_kib(r->memory_short_kib);
        g_string_append_printf(s, "no host has %s free, the closest is %s short", need, shortfall);
        return;
    }
    case DRV_SCHED_FILTER_VCPUS:
        g_string_append_printf(
            s, "no host has %u vCPUs free, the closest is %" G_GUINT64_FORMAT " short", r->vcpus,
            r->vcpus_short);
        return;
    default:
        break;
    }
    g_string_append(s, "no host fits: ");
    switch (f) {
    case DRV_SCHED_FILTER_STATE:
        s_count(s, n, "is", "are");
        g_string_append(s, " in maintenance");
        break;
    case DRV_SCHED_FILTER_REACHABLE:
        s_count(s, n, "is", "are");
        g_string_append(s, " unreachable");
        break;
    case DRV_SCHED_FILTER_AVOID:
        s_count(s, n, "is", "are");
        g_string_append(s, " to be avoided");
        break;
    case DRV_SCHED_FILTER_ARCH:
        s_count(s, n, "is not", "are not");
        g_string_append_printf(s, " %s", r->arch ? r->arch : "of the requested arch");
        break;
    case DRV_SCHED_FILTER_FEATURES:
        s_count(s, n, "lacks", "lack");
        g_string_append(s, " CPU features ");
        s_join(s, r->missing_features);
        break;
    case DRV_SCHED_FILTER_POOLS:
        s_count(s, n, "lacks", "lack");
        g_string_append(s, " storage pools ");
        s_join(s, r->missing_pools);
        break;
    case DRV_SCHED_FILTER_NETWORKS:
        s_count(s, n, "lacks", "lack");
        g_string_append(s, " networks ");
        s_join(s, r->missing_networks);
        break;
    case DRV_SCHED_FILTER_LABELS:
        s_count(s, n, "lacks", "lack");
        g_string_append(s, " labels ");
        s_join(s, r->missing_labels);
        break;
    case DRV_SCHED_FILTER_ANTI_AFFINITY:
        s_count(s, n, "already holds", "already hold");
        g_string_append_printf(s, " a member of anti-affinity group %s",
                               r->anti_affinity_group ? r->anti_affinity_group : "?");
        break;
    case DRV_SCHED_FILTER_AFFINITY:
        s_count(s, n, "holds", "hold");
        g_string_append_printf(s, " no member of affinity group %s",
                               r->affinity_group ? r->affinity_group : "?");
        break;
    default:
        break;
    }
}

char *drv_sched_explain(const drv_sched_result *r)
{
    GString *s = g_string_new(NULL);
    if (r->fits) {
        g_string_append_printf(s, "placed on %s", r->host);
        if (r->n_alternates) {
            g_string_append(s, " (alternates: ");
            s_join(s, r->alternates);
            g_string_append_c(s, ')');
        }
        return g_string_free(s, FALSE);
    }
    if (r->n_hosts == 0) {
        g_string_append(s, "no host fits: the cluster has no hosts");
        return g_string_free(s, FALSE);
    }
    /* Filters by refusal count, most first; ties in filter order (stable insertion sort). */
    drv_sched_filter order[DRV_SCHED_FILTER_LAST];
    size_t n = 0;
    for (int f = 0; f < DRV_SCHED_FILTER_LAST; f++) {
        if (!r->rejected[f])
            continue;
        size_t pos = n++;
        while (pos > 0 && r->rejected[order[pos - 1]] < r->rejected[f]) {
            order[pos] = order[pos - 1];
            pos--;
        }
        order[pos] = (drv_sched_filter)f;
    }
    if (n == 0) {
        g_string_append(s, "no host fits");
        return g_string_free(s, FALSE);
    }
    s_headline(s, r, order[0]);
    g_string_append(s, " (");
    for (size_t i = 0; i < n; i++) {
        size_t cnt = r->rejected[order[i]];
        if (i == 0)
            g_string_append_printf(s, "%zu host%s: %s", cnt, cnt == 1 ? "" : "s",
                                   drv_sched_filter_to_string(order[i]));
        else
            g_string_append_printf(s, "; %zu: %s", cnt, drv_sched_filter_to_string(order[i]));
    }
    g_string_append_c(s, ')');
    return g_string_free(s, FALSE);
}
