/* migrate_check.c — the checks made before a migration moves anything (see migrate_private.h).
 * Pure over the cached model: hosts' facts (CPU model and flags, pools), the domain's XML and the
 * scheduler's view of the cluster (allocations and reservations). */
#include "migrate_private.h"

#include "ctl_io.h"
#include "broker.h"
#include "domxml.h"
#include "placement.h"

#include <string.h>

void ctl_mig_pool_free(gpointer p)
{
    ctl_mig_pool *pool = p;
    if (pool == NULL)
        return;
    g_free(pool->name);
    g_free(pool->path);
    g_free(pool);
}

void ctl_mig_plan_clear(ctl_mig_plan *p)
{
    g_clear_pointer(&p->destination, g_free);
    g_clear_pointer(&p->pools, g_ptr_array_unref);
}

/* A path without its trailing slashes ("/" stays "/"); owned. */
static char *s_norm(const char *path)
{
    char *p = g_strdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

static bool s_has(char *const *v, const char *s)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* True if the (not NULL-terminated) array holds s. */
static bool s_arr_has(const GPtrArray *a, const char *s)
{
    for (guint i = 0; i < a->len; i++)
        if (strcmp(g_ptr_array_index(a, i), s) == 0)
            return true;
    return false;
}

/* The active pool of h whose path holds file (longest match), or NULL. */
static const ctl_pool *s_pool_of_file(const ctl_host *h, const char *file)
{
    const ctl_pool *best = NULL;
    size_t best_len = 0;
    for (guint i = 0; h->facts.pools != NULL && i < h->facts.pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(h->facts.pools, i);
        if (!p->active || p->path == NULL || p->path[0] != '/')
            continue;
        g_autofree char *dir = s_norm(p->path);
        size_t n = strlen(dir);
        bool inside = strcmp(dir, "/") == 0 ? true : strncmp(file, dir, n) == 0 && file[n] == '/';
        if (inside && n >= best_len) {
            best = p;
            best_len = n;
        }
    }
    return best;
}

static const ctl_pool *s_pool_named(const ctl_host *h, const char *name)
{
    for (guint i = 0; h->facts.pools != NULL && i < h->facts.pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(h->facts.pools, i);
        if (p->active && g_strcmp0(p->name, name) == 0)
            return p;
    }
    return NULL;
}

/* The active pool of h with the given path, or NULL. */
static const ctl_pool *s_pool_at(const ctl_host *h, const char *path)
{
    g_autofree char *want = s_norm(path);
    for (guint i = 0; h->facts.pools != NULL && i < h->facts.pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(h->facts.pools, i);
        if (!p->active || p->path == NULL)
            continue;
        g_autofree char *have = s_norm(p->path);
        if (strcmp(have, want) == 0)
            return p;
    }
    return NULL;
}

static void s_add_pool(GPtrArray *pools, const ctl_pool *p)
{
    g_autofree char *path = s_norm(p->path);
    for (guint i = 0; i < pools->len; i++) {
        const ctl_mig_pool *q = g_ptr_array_index(pools, i);
        if (strcmp(q->path, path) == 0)
            return;
    }
    ctl_mig_pool *n = g_new0(ctl_mig_pool, 1);
    n->name = g_strdup(p->name);
    n->path = g_steal_pointer(&path);
    g_ptr_array_add(pools, n);
}

static void s_add_name(GPtrArray *v, const char *name)
{
    for (guint i = 0; i < v->len; i++)
        if (strcmp(g_ptr_array_index(v, i), name) == 0)
            return;
    g_ptr_array_add(v, g_strdup(name));
}

char **ctl_mig_disk_pools(const drv_domxml *dx, const ctl_host *src)
{
    GPtrArray *v = g_ptr_array_new();
    for (size_t i = 0; dx != NULL && i < dx->n_disks; i++) {
        const drv_domxml_disk *k = &dx->disks[i];
        if (k->type == DRV_DOMXML_DISK_VOLUME && k->source_pool != NULL) {
            s_add_name(v, k->source_pool);
        } else if ((k->type == DRV_DOMXML_DISK_FILE || k->type == DRV_DOMXML_DISK_DIR) &&
                   k->source_path != NULL) {
            const ctl_pool *p = src != NULL ? s_pool_of_file(src, k->source_path) : NULL;
            if (p != NULL && p->name != NULL) {
                s_add_name(v, p->name);
            } else {
                g_autofree char *local = g_strdup_printf("local disk %s", k->source_path);
                s_add_name(v, local);
            }
        }
    }
    g_ptr_array_add(v, NULL);
    return (char **)g_ptr_array_free(v, FALSE);
}

/* The pools dx's disks need on src, each checked to be present (same path) on dst. */
static GPtrArray *s_pools(const char *name, const drv_domxml *dx, const ctl_host *src,
                          const ctl_host *dst, drv_error **err)
{
    GPtrArray *pools = g_ptr_array_new_with_free_func(ctl_mig_pool_free);
    for (size_t i = 0; i < dx->n_disks; i++) {
        const drv_domxml_disk *k = &dx->disks[i];
        const char *dev = k->target_dev ? k->target_dev : "?";
        const ctl_pool *p = NULL;
        switch (k->type) {
        case DRV_DOMXML_DISK_NETWORK:
            continue; /* remote storage (nbd, rbd, iscsi): the same for every host */
        case DRV_DOMXML_DISK_FILE:
        case DRV_DOMXML_DISK_DIR:
            if (k->source_path == NULL)
                continue; /* an empty cdrom */
            p = s_pool_of_file(src, k->source_path);
            if (p == NULL) {
                drv_error_set(err, DRV_ERR_CONFLICT, 0,
                              "domain '%s': shared-storage check failed: disk %s (%s) is not in "
                              "any storage pool of host '%s'",
                              name, dev, k->source_path, src->id);
                goto fail;
            }
            break;
        case DRV_DOMXML_DISK_VOLUME:
            p = s_pool_named(src, k->source_pool);
            if (p == NULL || p->path == NULL) {
                drv_error_set(err, DRV_ERR_CONFLICT, 0,
                              "domain '%s': shared-storage check failed: disk %s uses pool '%s' "
                              "that host '%s' does not have active",
                              name, dev, k->source_pool ? k->source_pool : "?", src->id);
                goto fail;
            }
            break;
        default:
            drv_error_set(err, DRV_ERR_CONFLICT, 0,
                          "domain '%s': shared-storage check failed: disk %s is a %s disk, which "
                          "cannot be verified as shared",
                          name, dev, drv_domxml_disk_type_to_string(k->type));
            goto fail;
        }
        if (s_pool_at(dst, p->path) == NULL) {
            drv_error_set(err, DRV_ERR_CONFLICT, 0,
                          "domain '%s': shared-storage check failed: disk %s is in pool '%s' "
                          "(%s) of host '%s', and host '%s' has no active pool at that path",
                          name, dev, p->name, p->path, src->id, dst->id);
            goto fail;
        }
        s_add_pool(pools, p);
    }
    return pools;
fail:
    g_ptr_array_unref(pools);
    return NULL;
}

/* The CPU features the running guest needs (owned, NULL-terminated). */
static char **s_required_features(const drv_domxml *dx, const ctl_domain *d, const ctl_host *src)
{
    GPtrArray *out = g_ptr_array_new();
    char *const *own = dx ? dx->cpu_features_required : d->cpu_features;
    for (size_t i = 0; own != NULL && own[i] != NULL; i++)
        g_ptr_array_add(out, g_strdup(own[i]));
    /* a host-model guest got the source host's CPU when it started */
    if (dx != NULL && g_strcmp0(dx->cpu_mode, "host-model") == 0)
        for (size_t i = 0; src->facts.cpu_features && src->facts.cpu_features[i]; i++)
            if (!s_arr_has(out, src->facts.cpu_features[i]))
                g_ptr_array_add(out, g_strdup(src->facts.cpu_features[i]));
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* Missing items of want in have, joined with ", " (owned), or NULL when none. */
static char *s_missing(char *const *want, char *const *have)
{
    GPtrArray *miss = g_ptr_array_new();
    for (size_t i = 0; want != NULL && want[i] != NULL; i++)
        if (!s_has(have, want[i]) && !s_arr_has(miss, want[i]))
            g_ptr_array_add(miss, want[i]);
    g_ptr_array_add(miss, NULL);
    char *out = miss->len > 1 ? g_strjoinv(", ", (char **)miss->pdata) : NULL;
    g_ptr_array_unref(miss);
    return out;
}

static int s_check_cpu(const char *name, const drv_domxml *dx, const ctl_domain *d,
                       const ctl_host *src, const ctl_host *dst, drv_error **err)
{
    if (dx != NULL && g_strcmp0(dx->cpu_mode, "host-passthrough") == 0) {
        g_autofree char *missing = s_missing(src->facts.cpu_features, dst->facts.cpu_features);
        g_autofree char *extra = s_missing(dst->facts.cpu_features, src->facts.cpu_features);
        if (g_strcmp0(src->facts.cpu_model, dst->facts.cpu_model) != 0 || missing || extra)
            return drv_error_set(
                err, DRV_ERR_CONFLICT, 0,
                "domain '%s': cpu-model check failed: a host-passthrough guest needs the same host "
                "CPU, and host '%s' has %s%s%s%s%s where '%s' has %s",
                name, dst->id, dst->facts.cpu_model ? dst->facts.cpu_model : "an unknown model",
                missing ? " without " : "", missing ? missing : "", extra ? " with extra " : "",
                extra ? extra : "", src->id,
                src->facts.cpu_model ? src->facts.cpu_model : "an unknown model");
        return 0;
    }
    g_auto(GStrv) need = s_required_features(dx, d, src);
    g_autofree char *missing = s_missing(need, dst->facts.cpu_features);
    if (missing != NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s': cpu-features check failed: host '%s' lacks CPU "
                             "features the guest uses: %s",
                             name, dst->id, missing);
    return 0;
}

/* The destination itself: known, another host, active, connected, with a migration URI. */
static int s_check_dest(ctl *c, const ctl_domain *d, const ctl_host *dst, drv_error **err)
{
    if (strcmp(dst->id, d->host) == 0)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s': destination check failed: it already runs on host '%s'",
                             d->name, dst->id);
    if (g_strcmp0(dst->admin_state, "active") != 0 && dst->admin_state != NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s': destination check failed: host '%s' is %s, not active",
                             d->name, dst->id, dst->admin_state);
    if (!ctl_host_up(c, dst->id))
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "domain '%s': destination check failed: host '%s' is unreachable",
                             d->name, dst->id);
    if (dst->facts.migration_uri == NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s': destination check failed: host '%s' reported no "
                             "migration URI",
                             d->name, dst->id);
    return 0;
}

/* Room and placement policy on dst alone (the scheduler, every other host avoided). */
static int s_check_room(ctl *c, const ctl_domain *d, const drv_domxml *dx, char *const *features,
                        const char *dst, drv_error **err)
{
    drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
    GPtrArray *others = g_ptr_array_new();
    for (size_t i = 0; i < drv_sched_cluster_n_hosts(cl); i++) {
        const char *id = drv_sched_cluster_host_id(cl, i);
        if (strcmp(id, dst) != 0)
            g_ptr_array_add(others, (gpointer)id);
    }
    g_ptr_array_add(others, NULL);
    drv_sched_request req = {
        .name = d->name,
        .vcpus = d->vcpus,
        .memory_kib = d->memory_kib,
        .arch = dx ? dx->arch : NULL,
        .features = (const char *const *)features,
        .pools = dx ? (const char *const *)dx->storage_pools : NULL,
        .networks = dx ? (const char *const *)dx->networks : NULL,
        .labels = dx ? (const char *const *)dx->labels : NULL,
        .affinity_group = d->affinity_group,
        .anti_affinity_group = d->anti_affinity_group,
        .avoid_hosts = (const char *const *)others->pdata,
    };
    drv_sched_result *res = NULL;
    int rc = drv_sched_place(cl, &req, &res, err);
    if (rc == 0 && !res->fits) {
        /* explain the destination alone: the other hosts were only set aside */
        res->n_hosts -= res->rejected[DRV_SCHED_FILTER_AVOID];
        res->rejected[DRV_SCHED_FILTER_AVOID] = 0;
        g_autofree char *why = drv_sched_explain(res);
        rc = drv_error_set(err, DRV_ERR_NO_ROOM, 0,
                           "domain '%s': room check failed on host '%s': %s", d->name, dst, why);
    }
    drv_sched_result_destroy(&res);
    g_ptr_array_unref(others);
    drv_sched_cluster_destroy(&cl);
    return rc;
}

/* Every check against one destination. */
static int s_check_one(ctl *c, const ctl_domain *d, const drv_domxml *dx, const ctl_host *src,
                       const ctl_host *dst, GPtrArray **ret_pools, drv_error **err)
{
    if (s_check_dest(c, d, dst, err) < 0 || s_check_cpu(d->name, dx, d, src, dst, err) < 0)
        return -1;
    GPtrArray *pools = NULL;
    if (dx != NULL && (pools = s_pools(d->name, dx, src, dst, err)) == NULL)
        return -1;
    g_auto(GStrv) features = s_required_features(dx, d, src);
    if (s_check_room(c, d, dx, features, dst->id, err) < 0) {
        if (pools)
            g_ptr_array_unref(pools);
        return -1;
    }
    *ret_pools = pools ? pools : g_ptr_array_new_with_free_func(ctl_mig_pool_free);
    return 0;
}

int ctl_mig_check(ctl *c, const ctl_domain *d, const char *to, ctl_mig_plan *ret, drv_error **err)
{
    const ctl_host *src = d->host ? ctl_model_host(c->model, d->host) : NULL;
    if (src == NULL)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "domain '%s' is not placed on any host (start it first)", d->name);
    drv_domxml *dx = NULL;
    drv_error *perr = NULL;
    if (drv_domxml_parse(d->xml, strlen(d->xml), &dx, &perr) < 0) {
        drv_error_propagate(err, perr);
        drv_error_prefix(err, "domain '%s': stored XML", d->name);
        return -1;
    }
    int rc = -1;
    GPtrArray *pools = NULL;
    const char *chosen = NULL;
    if (to != NULL) {
        const ctl_host *dst = ctl_model_host(c->model, to);
        if (dst == NULL) {
            drv_error_set(err, DRV_ERR_NOT_FOUND, 0,
                          "domain '%s': destination check failed: host '%s' not found", d->name,
                          to);
            goto out;
        }
        if (s_check_one(c, d, dx, src, dst, &pools, err) < 0)
            goto out;
        chosen = dst->id;
    } else {
        /* the scheduler's choice, avoiding the source; the next-best when storage refuses */
        g_auto(GStrv) features = s_required_features(dx, d, src);
        drv_sched_cluster *cl = ctl_placement_cluster(c, NULL);
        const char *avoid[] = {d->host, NULL};
        drv_sched_request req = {
            .name = d->name,
            .vcpus = d->vcpus,
            .memory_kib = d->memory_kib,
            .arch = dx->arch,
            .features = (const char *const *)features,
            .pools = (const char *const *)dx->storage_pools,
            .networks = (const char *const *)dx->networks,
            .labels = (const char *const *)dx->labels,
            .affinity_group = d->affinity_group,
            .anti_affinity_group = d->anti_affinity_group,
            .avoid_hosts = avoid,
        };
        drv_sched_result *res = NULL;
        if (drv_sched_place(cl, &req, &res, err) < 0) {
            drv_sched_cluster_destroy(&cl);
            goto out;
        }
        if (!res->fits) {
            g_autofree char *why = drv_sched_explain(res);
            drv_error_set(err, DRV_ERR_NO_ROOM, 0,
                          "domain '%s': room check failed: no other host can take it: %s", d->name,
                          why);
        } else {
            drv_error *first = NULL;
            for (size_t i = 0; i <= res->n_alternates && chosen == NULL; i++) {
                const char *id = i == 0 ? res->host : res->alternates[i - 1];
                const ctl_host *dst = ctl_model_host(c->model, id);
                drv_error *e = NULL;
                if (dst != NULL && s_check_one(c, d, dx, src, dst, &pools, &e) == 0)
                    chosen = dst->id;
                else if (first == NULL)
                    first = e;
                else
                    drv_error_destroy(&e);
            }
            if (chosen == NULL)
                drv_error_propagate(err, first);
            else
                drv_error_destroy(&first);
        }
        drv_sched_result_destroy(&res);
        drv_sched_cluster_destroy(&cl);
        if (chosen == NULL)
            goto out;
    }
    ret->destination = g_strdup(chosen);
    ret->pools = g_steal_pointer(&pools);
    ret->vcpus = d->vcpus;
    ret->memory_kib = d->memory_kib;
    rc = 0;
out:
    if (pools)
        g_ptr_array_unref(pools);
    drv_domxml_destroy(&dx);
    return rc;
}

GPtrArray *ctl_mig_pools(ctl *c, const ctl_domain *d, const char *source, const char *destination,
                         drv_error **err)
{
    const ctl_host *src = ctl_model_host(c->model, source);
    const ctl_host *dst = ctl_model_host(c->model, destination);
    if (src == NULL || dst == NULL) {
        drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "host '%s' not found",
                      src == NULL ? source : destination);
        return NULL;
    }
    drv_domxml *dx = NULL;
    if (drv_domxml_parse(d->xml, strlen(d->xml), &dx, err) < 0)
        return NULL;
    GPtrArray *pools = s_pools(d->name, dx, src, dst, err);
    drv_domxml_destroy(&dx);
    return pools;
}
