/* place_cost.c — prints the controller's CPU cost of choosing placements (placement.c) on a model
 * of --hosts hosts and --domains placed, running domains: --starts new domains placed one at a
 * time (ctl_placement_choose: a snapshot of the whole model each, then stored in the model as
 * the txn's completion would) and then the same in batches of CTL_PLACE_BATCH_MAX on one
 * snapshot each (ctl_placement_batch). No etcd: the txn's round trip is not in these figures. */
#include "model.h"
#include "place_batch.h"
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_xml[] = "<domain type='kvm'><name>x</name><memory unit='MiB'>256</memory>"
                            "<vcpu>1</vcpu><os><type>hvm</type></os></domain>";

static ctl_domain *s_domain(const char *name, const char *host, ctl_desired want)
{
    ctl_domain *d = ctl_domain_new(name);
    d->host = g_strdup(host);
    d->desired = want;
    d->vcpus = 1;
    d->memory_kib = 256u << 10;
    d->xml = g_strdup(s_xml);
    d->mod_revision = 1;
    return d;
}

static void s_store(ctl_model *m, const ctl_domain *d, const char *host)
{
    ctl_domain *c = ctl_domain_copy(d);
    g_free(c->host);
    c->host = g_strdup(host);
    c->desired = CTL_DESIRED_RUNNING;
    ctl_model_put_domain(m, c);
}

static void s_fill(ctl *c, int hosts, int domains, int starts)
{
    for (int i = 0; i < hosts; i++) {
        g_autofree char *id = g_strdup_printf("sim%04d", i);
        ctl_host *h = ctl_host_new(id);
        h->registered = h->reachable = true;
        ctl_host_set_libvirt(h, true);
        h->facts.cpus = 64;
        h->facts.memory_kib = 256ull << 20;
        h->facts.reserved_memory_kib = 512u << 10;
        h->facts.arch = g_strdup("x86_64");
        ctl_model_put_host(c->model, h);
    }
    for (int i = 0; i < domains; i++) {
        g_autofree char *name = g_strdup_printf("d%06d", i);
        g_autofree char *host = g_strdup_printf("sim%04d", i % hosts);
        ctl_model_put_domain(c->model, s_domain(name, host, CTL_DESIRED_RUNNING));
    }
    for (int i = 0; i < starts; i++) {
        g_autofree char *name = g_strdup_printf("new%06d", i);
        ctl_model_put_domain(c->model, s_domain(name, NULL, CTL_DESIRED_SHUTOFF));
    }
}

int main(int argc, char **argv)
{
    int hosts = 1000, domains = 20000, starts = 320;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--hosts") == 0)
            hosts = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--domains") == 0)
            domains = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--starts") == 0)
            starts = atoi(argv[i + 1]);
    }
    if (hosts <= 0 || domains < 0 || starts <= 0) {
        fprintf(stderr, "usage: place_cost [--hosts N] [--domains D] [--starts S]\n");
        return 2;
    }
    ctl_config cfg = {.cpu_ratio = 4, .memory_ratio = 1, .weigher = (char *)"spread"};
    for (int batched = 0; batched <= 1; batched++) {
        ctl c = {.cfg = &cfg, .model = ctl_model_new()};
        s_fill(&c, hosts, domains, starts);
        int placed = 0;
        gint64 t0 = g_get_monotonic_time();
        for (int i = 0; i < starts;) {
            ctl_placement_batch *b = batched ? ctl_placement_batch_new(&c) : NULL;
            int n = batched ? CTL_PLACE_BATCH_MAX : 1;
            char *hosts_chosen[CTL_PLACE_BATCH_MAX] = {0};
            char names[CTL_PLACE_BATCH_MAX][16];
            int k = 0;
            for (; k < n && i < starts; k++, i++) {
                snprintf(names[k], sizeof(names[k]), "new%06d", i);
                const ctl_domain *d = ctl_model_domain(c.model, names[k]);
                drv_error *err = NULL;
                int rc = batched ? ctl_placement_batch_choose(b, d, &hosts_chosen[k], &err)
                                 : ctl_placement_choose(&c, d, NULL, &hosts_chosen[k], &err);
                if (rc < 0) {
                    fprintf(stderr, "place_cost: %s\n", err->message);
                    drv_error_destroy(&err);
                }
            }
            ctl_placement_batch_free(b);
            for (int j = 0; j < k; j++) { /* the txn's completion: the copies into the model */
                if (hosts_chosen[j] == NULL)
                    continue;
                s_store(c.model, ctl_model_domain(c.model, names[j]), hosts_chosen[j]);
                g_free(hosts_chosen[j]);
                placed++;
            }
        }
        double s = (double)(g_get_monotonic_time() - t0) / 1e6;
        printf("%-44s %d hosts, %d domains: %d placed in %.3f s, %.0f placements/s of CPU\n",
               batched ? "batches of 32 on one snapshot" : "one at a time (a snapshot each)", hosts,
               domains, placed, s, placed / s);
        ctl_model_destroy(&c.model);
    }
    return 0;
}
