/* balance_check.c — the re-check of one planned balance move just before it is launched
 * (balance.h drv_sched_balance_move_check). */
#include "sched_internal.h"

#include <glib.h>

static size_t s_where(const sched_domain *d, void *ctx)
{
    return sched_sim_loc(ctx, d);
}

static const char *s_slot_id(const drv_sched_cluster *c, size_t slot)
{
    return slot < c->hosts->len ? ((const sched_host *)g_ptr_array_index(c->hosts, slot))->id : "?";
}

int drv_sched_balance_move_check(const drv_sched_cluster *cluster, const char *domain,
                                 const char *source, const char *dest, bool n_plus_one,
                                 char **ret_why, drv_error **err)
{
    *ret_why = NULL;
    if (!cluster || !domain || !source || !dest)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "balance check: missing domain or host");
    const sched_domain *d = g_hash_table_lookup(cluster->domain_by_name, domain);
    if (d == NULL) {
        *ret_why = g_strdup_printf("%s no longer exists", domain);
        return 1;
    }
    if (d->host == NULL || g_strcmp0(d->host->id, source) != 0) {
        *ret_why = g_strdup_printf("%s is no longer on %s (now %s)", domain, source,
                                   d->host ? d->host->id : "unplaced");
        return 1;
    }
    if (!d->running) {
        *ret_why = g_strdup_printf("%s no longer runs", domain);
        return 1;
    }
    const sched_host *dst = sched_cluster_host(cluster, dest);
    if (dst == NULL) {
        *ret_why = g_strdup_printf("host %s is no longer in the cluster", dest);
        return 1;
    }
    sched_sim *sim = sched_sim_new(cluster, NULL);
    drv_sched_request req;
    sched_request_from_domain(d, &req);
    const char *avoid[] = {source, NULL};
    req.avoid_hosts = avoid;
    sched_prep p;
    if (sched_prep_init(&p, cluster, &req, s_where, sim, err) < 0) {
        sched_sim_free(sim);
        return -1;
    }
    drv_sched_filter f = sched_prep_check(&p, cluster, &sched_sim_hot(sim)[dst->slot], dst->slot);
    sched_prep_clear(&p);
    int rc = 0;
    if (f != DRV_SCHED_FILTER_LAST) {
        const char *name = drv_sched_filter_to_string(f);
        *ret_why = g_strdup_printf("%s cannot take %s now (%s)", dest, domain, name ? name : "?");
        rc = 1;
    } else if (n_plus_one && sched_sim_survives_one(sim, SIZE_MAX, NULL)) {
        sched_sim_move(sim, d, dst->slot);
        size_t breaker = SIZE_MAX;
        if (!sched_sim_survives_one(sim, SIZE_MAX, &breaker)) {
            *ret_why = g_strdup_printf("moving %s to %s now breaks N+1 (loss of %s)", domain, dest,
                                       s_slot_id(cluster, breaker));
            rc = 1;
        }
    }
    sched_sim_free(sim);
    return rc;
}
