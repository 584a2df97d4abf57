/* drain.c — drain plans: every domain of a host, largest first, placed by the same filters and
 * weigher as drv_sched_place() over a simulation that books each planned move, so later domains see
 * the room (and the anti-affinity members) earlier moves took. */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

typedef struct {
    sched_sim *sim;
    size_t drained;
} s_where_ctx;

/* Group members still on the drained host do not pin (affinity) or block anything: they leave. */
static size_t s_where(const sched_domain *d, void *ctx)
{
    const s_where_ctx *w = ctx;
    size_t slot = sched_sim_loc(w->sim, d);
    return slot == w->drained ? SIZE_MAX : slot;
}

static int s_domain_cmp(const void *a, const void *b)
{
    const sched_domain *x = *(const sched_domain *const *)a, *y = *(const sched_domain *const *)b;
    if (x->memory_kib != y->memory_kib)
        return x->memory_kib > y->memory_kib ? -1 : 1;
    if (x->vcpus != y->vcpus)
        return x->vcpus > y->vcpus ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Tries the chosen host and the alternates in rank order; keeps the first after which the cluster
 * (minus the drained host) survives any single loss. Returns the slot or SIZE_MAX; *ret_breaker
 * gets the breaker of the last refused candidate. */
static size_t s_pick_n1(const drv_sched_cluster *c, sched_sim *sim, const sched_domain *d,
                        const drv_sched_result *r, size_t drained, size_t *ret_breaker)
{
    for (size_t i = 0; i <= r->n_alternates; i++) {
        const char *id = i == 0 ? r->host : r->alternates[i - 1];
        size_t slot = sched_cluster_host(c, id)->slot;
        sched_sim_move(sim, d, slot);
        size_t breaker = SIZE_MAX;
        if (sched_sim_survives_one(sim, drained, &breaker))
            return slot;
        sched_sim_move(sim, d, drained);
        *ret_breaker = breaker;
    }
    return SIZE_MAX;
}

/* How many refused hosts a reason names before "and N more". */
#define S_REASON_HOSTS 6

/* The reason a domain cannot move under N+1 (issue 17: the real filters first): every other host
 * the filters refused, by name with its first refusal ("h2 memory 806 MiB short, h3
 * cpu-features"), then the candidates that fit but after which the loss of one host could not be
 * absorbed ("N+1 not kept on h4 (loss of h2)"). */
static char *s_n1_reason(const drv_sched_cluster *c, sched_sim *sim, const sched_prep *p,
                         const drv_sched_result *r, size_t drained, size_t breaker)
{
    GString *s = g_string_new("no destination: ");
    const sched_hot *hot = sched_sim_hot(sim);
    size_t named = 0, more = 0;
    for (size_t slot = 0; slot < c->hosts->len; slot++) {
        if (slot == drained)
            continue;
        drv_sched_filter f = sched_prep_check(p, c, &hot[slot], slot);
        if (f >= DRV_SCHED_FILTER_LAST)
            continue;
        if (named == S_REASON_HOSTS) {
            more++;
            continue;
        }
        const sched_host *h = g_ptr_array_index(c->hosts, slot);
        g_string_append_printf(s, "%s%s %s", named ? ", " : "", h->id,
                               drv_sched_filter_to_string(f));
        if (f == DRV_SCHED_FILTER_MEMORY) {
            g_autofree char *k = drv_sched_format_kib(
                (uint64_t)((int64_t)p->memory_kib - hot[slot].free_memory_kib));
            g_string_append_printf(s, " %s short", k);
        } else if (f == DRV_SCHED_FILTER_VCPUS) {
            g_string_append_printf(s, " %" G_GINT64_FORMAT " short",
                                   (gint64)p->vcpus - (gint64)hot[slot].free_vcpus);
        }
        named++;
    }
    if (more)
        g_string_append_printf(s, " and %zu more", more);
    g_string_append(s, named ? "; N+1 not kept on " : "N+1 not kept on ");
    for (size_t i = 0; i <= r->n_alternates; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", i == 0 ? r->host : r->alternates[i - 1]);
    g_string_append_printf(
        s, " (loss of %s)",
        breaker != SIZE_MAX ? ((sched_host *)g_ptr_array_index(c->hosts, breaker))->id : "?");
    return g_string_free(s, FALSE);
}

int drv_sched_drain_plan_compute(const drv_sched_cluster *cluster, const char *host_id,
                                 const drv_sched_drain_opts *opts, drv_sched_drain_plan **ret,
                                 drv_error **err)
{
    sched_host *h = sched_cluster_host(cluster, host_id);
    if (!h)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "drain plan: host %s is not in the cluster",
                             host_id ? host_id : "(null)");
    bool n1 = opts && opts->n_plus_one;
    size_t n = h->domains->len;
    g_autofree sched_domain **doms = g_new0(sched_domain *, n + 1);
    if (n > 0) { /* an empty GPtrArray has no pdata */
        memcpy(doms, h->domains->pdata, n * sizeof(*doms));
        qsort(doms, n, sizeof(*doms), s_domain_cmp);
    }

    sched_sim *sim = sched_sim_new(cluster, NULL);
    sched_sim_block(sim, h->slot);
    s_where_ctx wctx = {.sim = sim, .drained = h->slot};
    const char *avoid[] = {h->id, NULL};

    drv_sched_drain_plan *plan = g_new0(drv_sched_drain_plan, 1);
    plan->host = g_strdup(h->id);
    plan->steps = g_new0(drv_sched_drain_step, n + 1);
    plan->n_steps = n;
    for (size_t i = 0; i < n; i++) {
        const sched_domain *d = doms[i];
        drv_sched_drain_step *st = &plan->steps[i];
        st->domain = g_strdup(d->name);
        st->vcpus = d->vcpus;
        st->memory_kib = d->memory_kib;
        st->running = d->running;

        drv_sched_request req;
        sched_request_from_domain(d, &req);
        req.avoid_hosts = avoid;
        if (!d->running) {
            req.vcpus = 0;
            req.memory_kib = 0;
        }
        sched_prep p;
        sched_prep_init(&p, cluster, &req, s_where, &wctx, NULL);
        st->result = sched_result_build(cluster, sched_sim_hot(sim), &p, &req);
        /* the host being drained is no candidate: it is not "1: maintenance" among the refusals */
        drv_sched_filter self_f =
            sched_prep_check(&p, cluster, &sched_sim_hot(sim)[h->slot], h->slot);
        if (self_f < DRV_SCHED_FILTER_LAST && st->result->rejected[self_f] > 0)
            st->result->rejected[self_f]--;
        /* the result reports the domain's real size even for a shut-off domain */
        st->result->vcpus = d->vcpus;
        st->result->memory_kib = d->memory_kib;

        if (!st->result->fits) {
            sched_prep_clear(&p);
            st->reason = drv_sched_explain(st->result);
            plan->n_unmovable++;
            continue;
        }
        size_t slot;
        if (n1) {
            size_t breaker = SIZE_MAX;
            slot = s_pick_n1(cluster, sim, d, st->result, h->slot, &breaker);
            if (slot == SIZE_MAX) {
                st->reason = s_n1_reason(cluster, sim, &p, st->result, h->slot, breaker);
                sched_prep_clear(&p);
                plan->n_unmovable++;
                continue;
            }
            sched_prep_clear(&p);
        } else {
            sched_prep_clear(&p);
            slot = sched_cluster_host(cluster, st->result->host)->slot;
            sched_sim_move(sim, d, slot);
        }
        st->dest = g_strdup(((sched_host *)g_ptr_array_index(cluster->hosts, slot))->id);
    }
    if (n1) {
        size_t breaker = SIZE_MAX;
        plan->n_plus_one_checked = true;
        plan->n_plus_one_after = sched_sim_survives_one(sim, h->slot, &breaker);
        if (!plan->n_plus_one_after)
            plan->n_plus_one_breaker =
                g_strdup(((sched_host *)g_ptr_array_index(cluster->hosts, breaker))->id);
    }
    sched_sim_free(sim);
    *ret = plan;
    return 0;
}

void drv_sched_drain_plan_destroy(drv_sched_drain_plan **plan_p)
{
    if (!plan_p || !*plan_p)
        return;
    drv_sched_drain_plan *plan = *plan_p;
    for (size_t i = 0; i < plan->n_steps; i++) {
        g_free(plan->steps[i].domain);
        g_free(plan->steps[i].dest);
        g_free(plan->steps[i].reason);
        drv_sched_result_destroy(&plan->steps[i].result);
    }
    g_free(plan->steps);
    g_free(plan->host);
    g_free(plan->n_plus_one_breaker);
    g_free(plan);
    *plan_p = NULL;
}
