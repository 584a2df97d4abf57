/* stats_cost.c — what the agents' statistics cost the controller's loop at scale, in process:
 *   ingest   one round of reports (every host's sample with its domains) into the window
 *            (ctl_stats_add; the protobuf decode in broker.c is not included)
 *   loads    the window averages the rebalancer reads (ctl_stats_loads)
 *   render   one GET /metrics body (ctl_metrics_render) over the model and the window
 * Prints each figure (median of --rounds). Usage: stats_cost [--hosts 1000]
 * [--domains-per-host 20] [--rounds 7]. Build Release for figures worth quoting. */
#include "ctl.h"
#include "ctl_io.h"
#include "io_production.h"
#include "metrics.h"
#include "stats_window.h"
#include "etcd_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), s_cmp);
    return v[n / 2];
}

static double s_ms(int64_t t0_us)
{
    return (double)(g_get_monotonic_time() - t0_us) / 1000.0;
}

int main(int argc, char **argv)
{
    int hosts = 1000, per = 20, rounds = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--hosts") == 0)
            hosts = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--domains-per-host") == 0)
            per = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--hosts N] [--domains-per-host D] [--rounds R]\n", argv[0]);
            return 2;
        }
    }
    if (hosts < 1 || per < 0 || rounds < 1 || rounds > 1000)
        return 2;
    ctl_config cfg = {.cpu_ratio = 4.0, .memory_ratio = 1.0};
    ctl c = {0};
    ctl_io_use_production(&c);
    c.cfg = &cfg;
    c.model = ctl_model_new();
    c.stats = ctl_stats_new(6, 600000);
    char *endpoints[] = {"http://127.0.0.1:1", NULL}; /* never contacted */
    ctl_etcd_worker_opts wopts = {.name = "bench", .max_queue = 10};
    drv_error *err = NULL;
    c.etcdq = ctl_etcd_worker_new(endpoints, "/bench/", 1000, NULL, &wopts, &c, &err);
    if (c.etcdq == NULL) {
        fprintf(stderr, "stats_cost: %s\n", err->message);
        return 1;
    }
    for (int h = 0; h < hosts; h++) {
        char id[32];
        g_snprintf(id, sizeof(id), "h%04d", h);
        ctl_host *ho = ctl_host_new(id);
        ho->reachable = true;
        ho->registered = true;
        ctl_host_set_libvirt(ho, true);
        ho->facts.cpus = 64;
        ho->facts.memory_kib = 256u << 20;
        ctl_model_put_host(c.model, ho);
        for (int d = 0; d < per; d++) {
            char name[48];
            g_snprintf(name, sizeof(name), "vm-%04d-%02d", h, d);
            ctl_domain *dom = ctl_domain_new(name);
            dom->host = g_strdup(id);
            dom->desired = CTL_DESIRED_RUNNING;
            dom->vcpus = 2;
            dom->memory_kib = 4u << 20;
            dom->xml = g_strdup("<domain/>");
            ctl_model_put_domain(c.model, dom);
        }
    }
    double *ingest = g_new0(double, rounds), *loads = g_new0(double, rounds);
    double *render = g_new0(double, rounds);
    size_t bytes = 0;
    for (int r = 0; r < rounds + 6; r++) { /* the first 6 fill the window */
        int64_t t0 = g_get_monotonic_time();
        for (int h = 0; h < hosts; h++) {
            char id[32];
            g_snprintf(id, sizeof(id), "h%04d", h);
            ctl_stats_sample *s = g_new0(ctl_stats_sample, 1);
            s->received_ms = ctl_now_ms(&c);
            s->interval_ms = 10000;
            s->cpus = 64;
            s->cpu_known = true;
            s->cpu_busy = 0.3 + 0.001 * (h % 500);
            s->memory_total_kib = 256u << 20;
            s->memory_available_kib = 100u << 20;
            s->domains = g_array_sized_new(FALSE, TRUE, sizeof(ctl_stats_dom), (guint)per);
            for (int d = 0; d < per; d++) {
                ctl_stats_dom x = {.name = g_strdup_printf("vm-%04d-%02d", h, d),
                                   .rates_known = true,
                                   .cpu = 0.5 + 0.01 * d,
                                   .steal = 0.01 * (d % 3),
                                   .vcpus = 2};
                g_array_append_val(s->domains, x);
            }
            ctl_stats_add(c.stats, id, &s);
        }
        double t_ingest = s_ms(t0);
        t0 = g_get_monotonic_time();
        drv_sched_host_load *hl = NULL;
        drv_sched_domain_load *dl = NULL;
        size_t nh = 0, nd = 0;
        ctl_stats_loads(c.stats, ctl_now_ms(&c), &hl, &nh, &dl, &nd);
        double t_loads = s_ms(t0);
        g_free(hl);
        g_free(dl);
        t0 = g_get_monotonic_time();
        GString *out = ctl_metrics_render(&c, ctl_now_ms(&c));
        double t_render = s_ms(t0);
        bytes = out->len;
        g_string_free(out, TRUE);
        if (r >= 6) {
            ingest[r - 6] = t_ingest;
            loads[r - 6] = t_loads;
            render[r - 6] = t_render;
        }
    }
    printf("hosts %d, domains %d, window 6 samples, median of %d rounds\n", hosts, hosts * per,
           rounds);
    printf("ingest one round of reports (ctl_stats_add)      %.2f ms\n", s_median(ingest, rounds));
    printf("rebalancer loads (ctl_stats_loads)              %.2f ms\n", s_median(loads, rounds));
    printf("one /metrics render (ctl_metrics_render)        %.2f ms (%zu bytes)\n",
           s_median(render, rounds), bytes);
    printf("loop share at one round per 10 s + one scrape per 15 s: %.2f %%\n",
           (s_median(ingest, rounds) / 10000.0 + s_median(render, rounds) / 15000.0) * 100.0);
    g_free(ingest);
    g_free(loads);
    g_free(render);
    ctl_etcd_worker_destroy(&c.etcdq);
    ctl_stats_destroy(&c.stats);
    ctl_model_destroy(&c.model);
    return 0;
}
