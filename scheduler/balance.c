/* balance.c — the rebalancer (balance.h): a greedy search over single live migrations, each checked
 * by the placement filters against a simulation that books the moves planned before it, scored by
 * the objective, and held to N+1 by the same restart check the drain planner uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

#define S_MAX_SOURCES 8  /* hottest hosts searched for a move per step */
#define S_MAX_TRIES   16 /* best candidates tried against N+1 per step */
#define S_MAX_REFUSED 16 /* refusal notes kept */

/* Figures as the JSON rendering shows them (3 decimals, half away from zero). */
#define S_R3(x) (round((x)*1000.0) / 1000.0)

static const char *const s_objective_names[DRV_SCHED_BALANCE_LAST] = {
    [DRV_SCHED_BALANCE_CPU] = "cpu",
    [DRV_SCHED_BALANCE_MEMORY] = "memory",
    [DRV_SCHED_BALANCE_BOTH] = "cpu+memory",
};

const char *drv_sched_balance_objective_to_string(drv_sched_balance_objective o)
{
    return (unsigned)o < DRV_SCHED_BALANCE_LAST ? s_objective_names[o] : NULL;
}

int drv_sched_balance_objective_from_string(const char *name, drv_sched_balance_objective *ret)
{
    for (int i = 0; name && i < DRV_SCHED_BALANCE_LAST; i++)
        if (strcmp(name, s_objective_names[i]) == 0) {
            *ret = (drv_sched_balance_objective)i;
            return 0;
        }
    return -1;
}

void drv_sched_balance_opts_init(drv_sched_balance_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->objective = DRV_SCHED_BALANCE_BOTH;
    opts->cpu_threshold = 0.8;
    opts->cpu_weight = 1.0;
    opts->memory_weight = 1.0;
    opts->min_gain = 0.01;
    opts->max_moves = 3;
    opts->n_plus_one = true;
}

/* The search state: per host slot, what the score reads. */
typedef struct {
    const drv_sched_cluster *c;
    sched_sim *sim;
    size_t n;
    bool *scored;    /* active, reachable, with a load sample */
    double *cpus;    /* logical CPUs (>= 1 for scored hosts) */
    double *demand;  /* other + Σ demand of the domains there (in the simulation) */
    double *mem_cap; /* memory capacity, KiB */
    double cpu_w, mem_w, thr;
    size_t n_scored;
    GHashTable *dload; /* domain name → const drv_sched_domain_load* */
    GHashTable *moved; /* sched_domain* already moved by the plan */
    GHashTable *skip;  /* names never to move */
} s_state;

static double s_pressure(const s_state *st, size_t slot)
{
    return st->demand[slot] / st->cpus[slot];
}

static double s_mem_frac(const s_state *st, size_t slot, int64_t delta_kib)
{
    if (st->mem_cap[slot] <= 0)
        return 0;
    const sched_hot *hot = &sched_sim_hot(st->sim)[slot];
    double used = st->mem_cap[slot] - (double)hot->free_memory_kib + (double)delta_kib;
    return used / st->mem_cap[slot];
}

static double s_over(double pressure, double thr)
{
    double x = pressure - thr;
    return x > 0 ? x * x : 0;
}

/* The two weighted terms of the score now. */
static void s_score(const s_state *st, double *ret_cpu, double *ret_mem)
{
    double cpu = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (!st->scored[i])
            continue;
        cpu += s_over(s_pressure(st, i), st->thr);
        double m = s_mem_frac(st, i, 0);
        s1 += m;
        s2 += m * m;
    }
    double var = 0;
    if (st->n_scored > 0) {
        double mean = s1 / (double)st->n_scored;
        var = s2 / (double)st->n_scored - mean * mean;
        if (var < 0)
            var = 0;
    }
    *ret_cpu = st->cpu_w * cpu;
    *ret_mem = st->mem_w * var;
}

/* The score change (after − before) of moving demand `dem` and memory `mem` from src to dst, in
 * O(1) given the memory sums s1 (Σ fraction) and s2 (Σ fraction²). */
static double s_delta(const s_state *st, size_t src, size_t dst, double dem, int64_t mem, double s1,
                      double s2)
{
    double d_cpu = 0;
    if (st->cpu_w > 0) {
        double ps = s_pressure(st, src), pd = s_pressure(st, dst);
        double ps2 = (st->demand[src] - dem) / st->cpus[src];
        double pd2 = (st->demand[dst] + dem) / st->cpus[dst];
        d_cpu = st->cpu_w * (s_over(ps2, st->thr) + s_over(pd2, st->thr) - s_over(ps, st->thr) -
                             s_over(pd, st->thr));
    }
    double d_mem = 0;
    if (st->mem_w > 0 && st->n_scored > 0) {
        double n = (double)st->n_scored;
        double ms = s_mem_frac(st, src, 0), md = s_mem_frac(st, dst, 0);
        double ms2 = s_mem_frac(st, src, -mem), md2 = s_mem_frac(st, dst, mem);
        double t1 = s1 - ms - md + ms2 + md2;
        double t2 = s2 - ms * ms - md * md + ms2 * ms2 + md2 * md2;
        double before = s2 / n - (s1 / n) * (s1 / n), after = t2 / n - (t1 / n) * (t1 / n);
        d_mem = st->mem_w * (after - before);
    }
    return d_cpu + d_mem;
}

typedef struct {
    const sched_domain *d;
    size_t src, dst;
    double demand, steal;
    double gain;
} s_cand;

static int s_cand_cmp(const void *a, const void *b)
{
    const s_cand *x = a, *y = b;
    if (fabs(x->gain - y->gain) > 1e-12)
        return x->gain > y->gain ? -1 : 1;
    int r = strcmp(x->d->name, y->d->name);
    if (r)
        return r;
    return x->dst < y->dst ? -1 : x->dst > y->dst;
}

static size_t s_where(const sched_domain *d, void *ctx)
{
    return sched_sim_loc(ctx, d);
}

typedef struct {
    size_t slot;
    double excess;
} s_src;

static int s_src_cmp(const void *a, const void *b)
{
    const s_src *x = a, *y = b;
    if (x->excess != y->excess)
        return x->excess > y->excess ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static const char *s_host_id(const drv_sched_cluster *c, size_t slot)
{
    return ((const sched_host *)g_ptr_array_index(c->hosts, slot))->id;
}

/* Gathers the candidate moves of one step: running, sampled, unmoved domains of the hottest hosts
 * to every scored host that passes the filters, gaining at least min_gain. */
static GArray *s_candidates(s_state *st, double min_gain)
{
    GArray *cands = g_array_new(FALSE, FALSE, sizeof(s_cand));
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->scored[i]) {
            double m = s_mem_frac(st, i, 0);
            s1 += m;
            s2 += m * m;
        }
    double mean_m = st->n_scored ? s1 / (double)st->n_scored : 0;
    g_autofree s_src *srcs = g_new0(s_src, st->n + 1);
    size_t n_src = 0;
    for (size_t i = 0; i < st->n; i++) {
        if (!st->scored[i])
            continue;
        double ex = st->cpu_w * s_over(s_pressure(st, i), st->thr);
        double dm = s_mem_frac(st, i, 0) - mean_m;
        if (dm > 0)
            ex += st->mem_w * dm * dm;
        if (ex > 0)
            srcs[n_src++] = (s_src){.slot = i, .excess = ex};
    }
    qsort(srcs, n_src, sizeof(*srcs), s_src_cmp);
    if (n_src > S_MAX_SOURCES)
        n_src = S_MAX_SOURCES;
    sched_hot *hot = sched_sim_hot(st->sim);
    for (size_t k = 0; k < n_src; k++) {
        size_t src = srcs[k].slot;
        const sched_host *h = g_ptr_array_index(st->c->hosts, src);
        /* domains the plan moved in are on src too, but a domain moves at most once */
        for (guint i = 0; i < h->domains->len; i++) {
            const sched_domain *d = g_ptr_array_index(h->domains, i);
            if (!d->running || sched_sim_loc(st->sim, d) != src ||
                g_hash_table_contains(st->moved, d) || g_hash_table_contains(st->skip, d->name))
                continue;
            const drv_sched_domain_load *l = g_hash_table_lookup(st->dload, d->name);
            if (!l)
                continue;
            drv_sched_request req;
            sched_request_from_domain(d, &req);
            const char *avoid[] = {h->id, NULL};
            req.avoid_hosts = avoid;
            sched_prep p;
            if (sched_prep_init(&p, st->c, &req, s_where, st->sim, NULL) < 0)
                continue;
            double dem = l->cpu + l->steal;
            for (size_t dst = 0; dst < st->n; dst++) {
                if (dst == src || !st->scored[dst])
                    continue;
                if (sched_prep_check(&p, st->c, &hot[dst], dst) != DRV_SCHED_FILTER_LAST)
                    continue;
                double gain = -s_delta(st, src, dst, dem, (int64_t)d->memory_kib, s1, s2);
                if (gain < min_gain)
                    continue;
                s_cand cd = {
                    .d = d, .src = src, .dst = dst, .demand = dem, .steal = l->steal, .gain = gain};
                g_array_append_val(cands, cd);
            }
            sched_prep_clear(&p);
        }
    }
    if (cands->len)
        qsort(cands->data, cands->len, sizeof(s_cand), s_cand_cmp);
    return cands;
}

static void s_apply(s_state *st, const s_cand *cd, bool undo)
{
    size_t from = undo ? cd->dst : cd->src, to = undo ? cd->src : cd->dst;
    sched_sim_move(st->sim, cd->d, to);
    st->demand[from] -= cd->demand;
    st->demand[to] += cd->demand;
}

static int s_check_opts(const drv_sched_balance_opts *o, drv_error **err)
{
    if ((unsigned)o->objective >= DRV_SCHED_BALANCE_LAST)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "balance: unknown objective %d",
                             (int)o->objective);
    if (!(o->cpu_threshold >= 0) || !(o->cpu_weight >= 0) || !(o->memory_weight >= 0) ||
        !(o->min_gain >= 0))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "balance: threshold, weights and min_gain must be >= 0");
    if (o->max_moves > DRV_SCHED_BALANCE_MAX_MOVES)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "balance: at most %d moves (asked %u)",
                             DRV_SCHED_BALANCE_MAX_MOVES, o->max_moves);
    return 0;
}

int drv_sched_balance_plan_compute(const drv_sched_cluster *cluster,
                                   const drv_sched_host_load *hosts, size_t n_hosts,
                                   const drv_sched_domain_load *domains, size_t n_domains,
                                   const drv_sched_balance_opts *opts, drv_sched_balance_plan **ret,
                                   drv_error **err)
{
    drv_sched_balance_opts defaults;
    drv_sched_balance_opts_init(&defaults);
    const drv_sched_balance_opts *o = opts ? opts : &defaults;
    if (s_check_opts(o, err) < 0)
        return -1;

    s_state st = {.c = cluster, .n = cluster->hosts->len, .thr = o->cpu_threshold};
    st.cpu_w = o->objective == DRV_SCHED_BALANCE_MEMORY ? 0 : o->cpu_weight;
    st.mem_w = o->objective == DRV_SCHED_BALANCE_CPU ? 0 : o->memory_weight;
    st.sim = sched_sim_new(cluster, NULL);
    st.scored = g_new0(bool, st.n + 1);
    st.cpus = g_new0(double, st.n + 1);
    st.demand = g_new0(double, st.n + 1);
    st.mem_cap = g_new0(double, st.n + 1);
    st.dload = g_hash_table_new(g_str_hash, g_str_equal);
    st.moved = g_hash_table_new(NULL, NULL);
    st.skip = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; o->skip_domains && o->skip_domains[i]; i++)
        g_hash_table_add(st.skip, (gpointer)o->skip_domains[i]);
    for (size_t i = 0; i < n_domains; i++)
        if (domains[i].domain)
            g_hash_table_insert(st.dload, (gpointer)domains[i].domain, (gpointer)&domains[i]);
    for (size_t i = 0; i < n_hosts; i++) {
        sched_host *h = hosts[i].host ? sched_cluster_host(cluster, hosts[i].host) : NULL;
        if (!h || h->state != DRV_SCHED_HOST_ACTIVE || !h->reachable || h->cpus == 0)
            continue;
        size_t s = h->slot;
        if (st.scored[s])
            continue;
        st.scored[s] = true;
        st.n_scored++;
        st.cpus[s] = h->cpus;
        st.mem_cap[s] = (double)sched_host_memory_capacity(cluster, h);
        double guest_cpu = 0, guest_demand = 0;
        for (guint k = 0; k < h->domains->len; k++) {
            const sched_domain *d = g_ptr_array_index(h->domains, k);
            const drv_sched_domain_load *l = g_hash_table_lookup(st.dload, d->name);
            if (l && d->running) {
                guest_cpu += l->cpu;
                guest_demand += l->cpu + l->steal;
            }
        }
        st.demand[s] = drv_sched_balance_cpu_demand(hosts[i].cpu_busy, h->cpus, guest_cpu,
                                                    guest_demand - guest_cpu);
    }

    drv_sched_balance_plan *plan = g_new0(drv_sched_balance_plan, 1);
    plan->objective = o->objective;
    plan->n_scored_hosts = st.n_scored;
    plan->moves = g_new0(drv_sched_balance_move, o->max_moves + 1);
    GPtrArray *refused = g_ptr_array_new();
    s_score(&st, &plan->cpu_score_before, &plan->memory_score_before);
    plan->score_before = plan->cpu_score_before + plan->memory_score_before;
    bool hold_n1 = false;
    if (o->n_plus_one) {
        plan->n_plus_one_checked = true;
        plan->n_plus_one_now = sched_sim_survives_one(st.sim, SIZE_MAX, NULL);
        hold_n1 = plan->n_plus_one_now;
    }
    double score = plan->score_before, best_seen = 0;
    while (plan->n_moves < o->max_moves) {
        GArray *cands = s_candidates(&st, o->min_gain);
        const s_cand *chosen = NULL;
        for (guint i = 0; i < cands->len && i < S_MAX_TRIES; i++) {
            const s_cand *cd = &g_array_index(cands, s_cand, i);
            if (cd->gain > best_seen)
                best_seen = cd->gain;
            s_apply(&st, cd, false);
            size_t breaker = SIZE_MAX;
            if (!hold_n1 || sched_sim_survives_one(st.sim, SIZE_MAX, &breaker)) {
                chosen = cd;
                break;
            }
            s_apply(&st, cd, true);
            if (refused->len < S_MAX_REFUSED)
                g_ptr_array_add(
                    refused,
                    g_strdup_printf("%s → %s would gain %.3f but breaks N+1 (loss of %s)",
                                    cd->d->name, s_host_id(cluster, cd->dst), S_R3(cd->gain),
                                    breaker != SIZE_MAX ? s_host_id(cluster, breaker) : "?"));
        }
        if (!chosen) {
            g_array_unref(cands);
            break;
        }
        drv_sched_balance_move *mv = &plan->moves[plan->n_moves++];
        mv->domain = g_strdup(chosen->d->name);
        mv->source = g_strdup(s_host_id(cluster, chosen->src));
        mv->dest = g_strdup(s_host_id(cluster, chosen->dst));
        mv->demand = chosen->demand;
        mv->steal = chosen->steal;
        mv->vcpus = chosen->d->vcpus;
        mv->memory_kib = chosen->d->memory_kib;
        mv->source_pressure_after = s_pressure(&st, chosen->src);
        mv->dest_pressure_after = s_pressure(&st, chosen->dst);
        mv->source_pressure_before =
            mv->source_pressure_after + chosen->demand / st.cpus[chosen->src];
        mv->dest_pressure_before = mv->dest_pressure_after - chosen->demand / st.cpus[chosen->dst];
        double c_after, m_after;
        s_score(&st, &c_after, &m_after);
        mv->score_after = c_after + m_after;
        mv->gain = score - mv->score_after;
        score = mv->score_after;
        g_autofree char *mem = drv_sched_format_kib(mv->memory_kib);
        mv->why =
            g_strdup_printf("moves %.2f CPUs (%.2f of it steal) and %s: %s pressure %.2f → "
                            "%.2f, %s %.2f → %.2f; gains %.3f",
                            mv->demand, mv->steal, mem, mv->source, mv->source_pressure_before,
                            mv->source_pressure_after, mv->dest, mv->dest_pressure_before,
                            mv->dest_pressure_after, S_R3(mv->gain));
        g_hash_table_add(st.moved, (gpointer)chosen->d);
        g_array_unref(cands);
    }
    s_score(&st, &plan->cpu_score_after, &plan->memory_score_after);
    plan->score_after = plan->cpu_score_after + plan->memory_score_after;
    plan->n_refused = refused->len;
    g_ptr_array_add(refused, NULL);
    plan->refused = (char **)g_ptr_array_free(refused, FALSE);
    if (plan->n_moves > 0)
        plan->summary = g_strdup_printf("%zu move%s, score %.3f → %.3f", plan->n_moves,
                                        plan->n_moves == 1 ? "" : "s", S_R3(plan->score_before),
                                        S_R3(plan->score_after));
    else if (plan->n_refused > 0)
        plan->summary = g_strdup_printf("no move allowed: score %.3f; the best move breaks a rule "
                                        "(%s)",
                                        S_R3(plan->score_before), plan->refused[0]);
    else if (best_seen > 0 || plan->score_before > 0)
        plan->summary =
            g_strdup_printf("nothing worth moving: score %.3f, no move gains %.3f or more",
                            S_R3(plan->score_before), o->min_gain);
    else
        plan->summary = g_strdup_printf("nothing worth moving: no host over %.2f CPU pressure, "
                                        "memory even (score 0.000)",
                                        o->cpu_threshold);

    g_hash_table_unref(st.dload);
    g_hash_table_unref(st.moved);
    g_hash_table_unref(st.skip);
    g_free(st.scored);
    g_free(st.cpus);
    g_free(st.demand);
    g_free(st.mem_cap);
    sched_sim_free(st.sim);
    *ret = plan;
    return 0;
}

void drv_sched_balance_plan_destroy(drv_sched_balance_plan **plan_p)
{
    if (!plan_p || !*plan_p)
        return;
    drv_sched_balance_plan *plan = *plan_p;
    for (size_t i = 0; i < plan->n_moves; i++) {
        g_free(plan->moves[i].domain);
        g_free(plan->moves[i].source);
        g_free(plan->moves[i].dest);
        g_free(plan->moves[i].why);
    }
    g_free(plan->moves);
    g_strfreev(plan->refused);
    g_free(plan->summary);
    g_free(plan);
    *plan_p = NULL;
}

double drv_sched_balance_cpu_demand(double host_busy, uint32_t cpus, double guest_cpu,
                                    double guest_steal)
{
    double busy = host_busy > 0 ? host_busy : 0;
    double other = busy * (double)cpus - guest_cpu;
    return (other > 0 ? other : 0) + guest_cpu + guest_steal;
}
