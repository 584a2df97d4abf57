/* metrics_render.c — the Prometheus text of /metrics (metrics.h), built on the loop from the
 * cached model, the stats window and the counters. Every family has HELP and TYPE; label values
 * are escaped; a figure that is not known (no fresh stats sample) is left out, never shown as 0. */
#include "metrics.h"

#include "ctl_io.h"
#include "broker.h"
#include "domstate.h"
#include "etcd_worker.h"
#include "stats_window.h"

#include <math.h>
#include <string.h>

/* Appends a label value with \\, \" and \n escaped. */
static void s_label(GString *out, const char *v)
{
    for (const char *p = v != NULL ? v : ""; *p != '\0'; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

static void s_family(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_num(GString *out, double v)
{
    if (isnan(v))
        g_string_append(out, "NaN");
    else if (isinf(v))
        g_string_append(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        g_string_append_printf(out, "%.0f", v);
    else
        g_string_append_printf(out, "%.6g", v);
}

/* name{k1="v1",k2="v2"} value — k2 may be NULL. */
static void s_sample(GString *out, const char *name, const char *k1, const char *v1, const char *k2,
                     const char *v2, double value)
{
    g_string_append(out, name);
    if (k1 != NULL) {
        g_string_append_printf(out, "{%s=\"", k1);
        s_label(out, v1);
        g_string_append_c(out, '"');
        if (k2 != NULL) {
            g_string_append_printf(out, ",%s=\"", k2);
            s_label(out, v2);
            g_string_append_c(out, '"');
        }
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ' ');
    s_num(out, value);
    g_string_append_c(out, '\n');
}

static void s_hist(GString *out, const char *name, const char *help, const ctl_hist *h)
{
    s_family(out, name, "histogram", help);
    g_autofree char *bucket = g_strdup_printf("%s_bucket", name);
    for (unsigned i = 0; i < CTL_HIST_BUCKETS; i++) {
        char le[32];
        g_snprintf(le, sizeof(le), "%g", ctl_hist_bounds[i]);
        s_sample(out, bucket, "le", le, NULL, NULL, (double)ctl_hist_cumulative(h, i));
    }
    s_sample(out, bucket, "le", "+Inf", NULL, NULL, (double)h->count);
    g_string_append_printf(out, "%s_sum ", name);
    s_num(out, h->sum);
    g_string_append_printf(out, "\n%s_count %" G_GUINT64_FORMAT "\n", name, h->count);
}

static const char *s_host_state(const ctl_host *h)
{
    if (!h->reachable)
        return "unreachable";
    if (h->libvirt_down)
        return "libvirt_down";
    return "up";
}

static void s_cluster(GString *out, ctl *c, GPtrArray *hosts, GPtrArray *doms)
{
    s_family(out, "drover_leader", "gauge", "1 when this controller holds the leader key");
    s_sample(out, "drover_leader", NULL, NULL, NULL, NULL, ctl_is_leader(c) ? 1 : 0);
    s_family(out, "drover_state_loaded", "gauge", "1 once the cache was loaded from etcd");
    s_sample(out, "drover_state_loaded", NULL, NULL, NULL, NULL, c->loaded ? 1 : 0);

    static const char *const states[] = {"up", "libvirt_down", "unreachable"};
    s_family(out, "drover_hosts", "gauge", "Hosts by liveness state");
    for (size_t s = 0; s < G_N_ELEMENTS(states); s++) {
        unsigned n = 0;
        for (guint i = 0; i < hosts->len; i++)
            n += strcmp(s_host_state(g_ptr_array_index(hosts, i)), states[s]) == 0;
        s_sample(out, "drover_hosts", "state", states[s], NULL, NULL, n);
    }
    static const char *const admin[] = {"active", "preparing-maintenance", "maintenance"};
    s_family(out, "drover_hosts_admin", "gauge", "Hosts by administrative state");
    for (size_t s = 0; s < G_N_ELEMENTS(admin); s++) {
        unsigned n = 0;
        for (guint i = 0; i < hosts->len; i++) {
            const ctl_host *h = g_ptr_array_index(hosts, i);
            n += g_strcmp0(h->admin_state ? h->admin_state : "active", admin[s]) == 0;
        }
        s_sample(out, "drover_hosts_admin", "admin_state", admin[s], NULL, NULL, n);
    }
    unsigned agents = 0;
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        agents += c->broker != NULL && ctl_host_up(c, h->id);
    }
    s_family(out, "drover_agents_connected", "gauge",
             "Agents registered with this controller and reachable");
    s_sample(out, "drover_agents_connected", NULL, NULL, NULL, NULL, agents);

    /* domains by actual state: every name, zeros included, then any other */
    GHashTable *by = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *names = g_ptr_array_new();
    for (int s = 0; s < DRV_DOMSTATE_LAST; s++)
        g_ptr_array_add(names, (gpointer)drv_domstate_name(s));
    g_ptr_array_add(names, (gpointer)DRV_DOMSTATE_SAVED_NAME);
    g_ptr_array_add(names, (gpointer)DRV_DOMSTATE_MIGRATING_NAME);
    g_ptr_array_add(names, (gpointer)DRV_DOMSTATE_PENDING_NAME);
    g_ptr_array_add(names, (gpointer)DRV_DOMSTATE_UNKNOWN_NAME);
    for (guint i = 0; i < names->len; i++)
        g_hash_table_insert(by, g_ptr_array_index(names, i), GUINT_TO_POINTER(0));
    for (guint i = 0; i < doms->len; i++) {
        const char *state = NULL, *reason = NULL;
        ctl_model_domain_state(c->model, g_ptr_array_index(doms, i), &state, &reason);
        gpointer old = NULL;
        if (!g_hash_table_lookup_extended(by, state, NULL, &old))
            g_ptr_array_add(names, (gpointer)state);
        g_hash_table_insert(by, (gpointer)state, GUINT_TO_POINTER(GPOINTER_TO_UINT(old) + 1));
    }
    s_family(out, "drover_domains", "gauge", "Domains by actual state (unknown: not proven)");
    for (guint i = 0; i < names->len; i++) {
        const char *n = g_ptr_array_index(names, i);
        s_sample(out, "drover_domains", "state", n, NULL, NULL,
                 GPOINTER_TO_UINT(g_hash_table_lookup(by, n)));
    }
    g_ptr_array_unref(names);
    g_hash_table_unref(by);
}

static void s_hosts(GString *out, ctl *c, GPtrArray *hosts, int64_t now_ms)
{
    guint n = hosts->len;
    GHashTable *alloc = ctl_model_hosts_alloc(c->model);
    struct {
        const char *name, *help;
    } fam[] = {
        {"drover_host_up", "1 when the host is reachable and its libvirt connected"},
        {"drover_host_cpus", "Logical CPUs of the host"},
        {"drover_host_memory_bytes", "Memory of the host"},
        {"drover_host_reserved_memory_bytes", "Memory kept for the host itself"},
        {"drover_host_capacity_vcpus", "vCPUs the scheduler may place (cpus x cpu_ratio)"},
        {"drover_host_capacity_memory_bytes",
         "Memory the scheduler may place ((memory - reserved) x memory_ratio)"},
        {"drover_host_allocated_vcpus", "vCPUs booked by the domains placed on the host"},
        {"drover_host_allocated_memory_bytes", "Memory booked by the domains placed on the host"},
        {"drover_host_allocated_domains", "Domains booked on the host"},
    };
    for (size_t f = 0; f < G_N_ELEMENTS(fam); f++) {
        s_family(out, fam[f].name, "gauge", fam[f].help);
        for (guint i = 0; i < n; i++) {
            const ctl_host *h = g_ptr_array_index(hosts, i);
            const ctl_host_alloc *a = g_hash_table_lookup(alloc, h->id);
            ctl_host_alloc none = {0};
            if (a == NULL)
                a = &none;
            uint64_t mem = h->facts.memory_kib * 1024, res = h->facts.reserved_memory_kib * 1024;
            if (res > mem)
                res = mem;
            double v = 0;
            switch (f) {
            case 0:
                v = strcmp(s_host_state(h), "up") == 0;
                break;
            case 1:
                v = h->facts.cpus;
                break;
            case 2:
                v = (double)mem;
                break;
            case 3:
                v = (double)res;
                break;
            case 4:
                v = floor(h->facts.cpus * c->cfg->cpu_ratio);
                break;
            case 5:
                v = floor((double)(mem - res) * c->cfg->memory_ratio);
                break;
            case 6:
                v = a->vcpus;
                break;
            case 7:
                v = (double)a->memory_kib * 1024;
                break;
            default:
                v = a->domains;
                break;
            }
            s_sample(out, fam[f].name, "host", h->id, NULL, NULL, v);
        }
    }
    g_hash_table_unref(alloc);

    /* the agents' own figures, newest fresh sample (left out when none) */
    struct {
        const char *name, *help;
    } st[] = {
        {"drover_host_cpu_busy_ratio", "Fraction of the host's CPUs busy (newest sample)"},
        {"drover_host_cpu_iowait_ratio", "Fraction of the host's CPUs waiting for I/O"},
        {"drover_host_cpu_steal_ratio", "Fraction of the host's CPUs stolen (it is a guest)"},
        {"drover_host_memory_available_bytes", "MemAvailable of the host"},
        {"drover_host_load1", "1-minute load average of the host"},
        {"drover_host_stats_age_seconds", "Age of the host's newest statistics sample"},
    };
    for (size_t f = 0; f < G_N_ELEMENTS(st); f++) {
        s_family(out, st[f].name, "gauge", st[f].help);
        for (guint i = 0; i < n; i++) {
            const ctl_host *h = g_ptr_array_index(hosts, i);
            const ctl_stats_sample *s = ctl_stats_latest(c->stats, h->id, now_ms);
            if (s == NULL || (f < 3 && !s->cpu_known))
                continue;
            double v = f == 0   ? s->cpu_busy
                       : f == 1 ? s->cpu_iowait
                       : f == 2 ? s->cpu_steal
                       : f == 3 ? (double)s->memory_available_kib * 1024
                       : f == 4 ? s->load1
                                : (double)(now_ms - s->received_ms) / 1e3;
            s_sample(out, st[f].name, "host", h->id, NULL, NULL, v);
        }
    } /* the host's clock minus this controller's (a lower bound: clock_skew.h); none when unknown
       */
    s_family(out, "drover_host_clock_skew_seconds", "gauge",
             "How far the host's clock is ahead of the controller's (negative: behind), a lower "
             "bound from its agent's send times");
    for (guint i = 0; i < n; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        int64_t skew = 0;
        if (ctl_clock_skew_get(&h->skew, &skew))
            s_sample(out, "drover_host_clock_skew_seconds", "host", h->id, NULL, NULL,
                     (double)skew / 1e3);
    }
}

static void s_domains(GString *out, ctl *c, int64_t now_ms)
{
    drv_sched_host_load *hl = NULL;
    drv_sched_domain_load *dl = NULL;
    size_t nh = 0, nd = 0;
    ctl_stats_loads(c->stats, now_ms, &hl, &nh, &dl, &nd);
    s_family(out, "drover_host_cpu_pressure_ratio", "gauge",
             "Fraction of the host's CPUs busy, averaged over the stats window");
    for (size_t i = 0; i < nh; i++)
        s_sample(out, "drover_host_cpu_pressure_ratio", "host", hl[i].host, NULL, NULL,
                 hl[i].cpu_busy);
    /* the rebalancer's pressure: demand (the host's other work + its guests' CPU and steal) over
     * its CPUs (scheduler/balance.h) */
    s_family(out, "drover_host_cpu_demand_ratio", "gauge",
             "CPU demand over the host's CPUs, window average: its guests' CPU and steal plus its "
             "other work, the rebalancer's pressure (above 1: guests wait for CPUs)");
    GHashTable *by_dom = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < nd; i++)
        g_hash_table_insert(by_dom, (gpointer)dl[i].domain, &dl[i]);
    for (size_t i = 0; i < nh; i++) {
        const ctl_host *h = ctl_model_host(c->model, hl[i].host);
        if (h == NULL || h->facts.cpus == 0)
            continue;
        double cpu = 0, steal = 0;
        GPtrArray *on = ctl_model_domains_on(c->model, h->id);
        for (guint k = 0; k < on->len; k++) {
            const ctl_domain *d = g_ptr_array_index(on, k);
            const drv_sched_domain_load *l = g_hash_table_lookup(by_dom, d->name);
            if (l != NULL) {
                cpu += l->cpu;
                steal += l->steal;
            }
        }
        g_ptr_array_unref(on);
        double demand = drv_sched_balance_cpu_demand(hl[i].cpu_busy, h->facts.cpus, cpu, steal);
        s_sample(out, "drover_host_cpu_demand_ratio", "host", h->id, NULL, NULL,
                 demand / (double)h->facts.cpus);
    }
    g_hash_table_unref(by_dom);
    s_family(out, "drover_domain_cpu_usage", "gauge",
             "CPUs' worth of time the domain's vCPUs ran (1 = one CPU), window average");
    for (size_t i = 0; i < nd; i++) {
        const ctl_domain *d = ctl_model_domain(c->model, dl[i].domain);
        s_sample(out, "drover_domain_cpu_usage", "domain", dl[i].domain, "host",
                 d != NULL && d->host != NULL ? d->host : "", dl[i].cpu);
    }
    s_family(out, "drover_domain_cpu_steal", "gauge",
             "CPUs' worth of time the domain's vCPUs waited for a host CPU, window average");
    for (size_t i = 0; i < nd; i++) {
        const ctl_domain *d = ctl_model_domain(c->model, dl[i].domain);
        s_sample(out, "drover_domain_cpu_steal", "domain", dl[i].domain, "host",
                 d != NULL && d->host != NULL ? d->host : "", dl[i].steal);
    }
    g_free(hl);
    g_free(dl);
}

static void s_counters(GString *out, ctl *c)
{
    const ctl_counters *k = &c->counters;
    s_family(out, "drover_migrations_total", "counter", "Migration jobs ended, by result");
    for (int r = 0; r < CTL_RESULT_LAST; r++)
        s_sample(out, "drover_migrations_total", "result", ctl_result_to_string(r), NULL, NULL,
                 (double)k->migrations[r]);
    s_hist(out, "drover_migration_duration_seconds", "Migration jobs: created to ended",
           &k->migration);
    s_family(out, "drover_drains_total", "counter", "Drain jobs ended, by result");
    for (int r = 0; r < CTL_RESULT_LAST; r++)
        s_sample(out, "drover_drains_total", "result", ctl_result_to_string(r), NULL, NULL,
                 (double)k->drains[r]);
    s_hist(out, "drover_drain_duration_seconds", "Drain jobs: created to ended", &k->drain);
    s_hist(out, "drover_etcd_request_duration_seconds",
           "etcd requests of the controller's loop: sent to answered",
           ctl_etcd_worker_latency(c->etcdq));
    s_family(out, "drover_etcd_queue_requests", "gauge", "etcd requests waiting or in flight");
    s_sample(out, "drover_etcd_queue_requests", NULL, NULL, NULL, NULL,
             ctl_etcd_worker_pending(c->etcdq));
    s_hist(out, "drover_loop_turn_duration_seconds",
           "One turn of the controller's main loop (its latency to new work)", &k->loop_turn);
    s_hist(out, "drover_loop_turn_cpu_seconds",
           "CPU time of one turn of the controller's main loop (its own work, without the time "
           "the machine did not run it)",
           &k->loop_turn_cpu);
    s_family(out, "drover_commands_total", "counter", "Commands sent to agents, by kind");
    for (unsigned i = 0; i < CTL_CMD_KINDS; i++)
        if (k->commands_sent[i] > 0)
            s_sample(out, "drover_commands_total", "kind", ctl_cmd_kind_to_string(i), NULL, NULL,
                     (double)k->commands_sent[i]);
    s_family(out, "drover_commands_failed_total", "counter",
             "Agent commands that failed or were never answered in time, by kind");
    for (unsigned i = 0; i < CTL_CMD_KINDS; i++)
        if (k->commands_failed[i] > 0)
            s_sample(out, "drover_commands_failed_total", "kind", ctl_cmd_kind_to_string(i), NULL,
                     NULL, (double)k->commands_failed[i]);
    s_family(out, "drover_stats_reports_total", "counter",
             "Statistics reports received from agents");
    s_sample(out, "drover_stats_reports_total", NULL, NULL, NULL, NULL,
             (double)ctl_stats_reports_total(c->stats));
    s_family(out, "drover_agent_messages_refused_total", "counter",
             "Agent messages refused (key, routing id or host id disagree)");
    s_sample(out, "drover_agent_messages_refused_total", NULL, NULL, NULL, NULL,
             (double)c->messages_refused);
    s_family(out, "drover_agent_replies_dropped_total", "counter",
             "Agent replies to no command, or from another host than the command's");
    s_sample(out, "drover_agent_replies_dropped_total", NULL, NULL, NULL, NULL,
             (double)c->replies_dropped);
}

GString *ctl_metrics_render(ctl *c, int64_t now_ms)
{
    GString *out = g_string_sized_new(16384);
    GPtrArray *hosts = ctl_model_hosts(c->model);
    GPtrArray *doms = ctl_model_domains(c->model);
    s_cluster(out, c, hosts, doms);
    s_hosts(out, c, hosts, now_ms);
    s_domains(out, c, now_ms);
    s_counters(out, c);
    g_ptr_array_unref(doms);
    g_ptr_array_unref(hosts);
    return out;
}
