/* sched_capacity — capacity with N+1 (and hosts-may-fail) at 1,000 hosts holding 8 domains each.
 * Goal (issue 5): <= 1 s. Usage: sched_capacity [hosts] */
#include <stdlib.h>

#include "sched_gen.h"

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    GRand *r = g_rand_new_with_seed(7);
    drv_sched_cluster *c = gen_cluster(r, n, 8);
    const char *feat[] = {gen_flag(40), NULL};
    drv_sched_request shape = {.vcpus = 2, .memory_kib = 4 * 1024 * 1024, .features = feat};
    drv_sched_capacity_opts plain = {0}, full = {.n_plus_one = true, .hosts_down = true};
    drv_sched_capacity *cap = NULL;

    double t0 = gen_now_s();
    drv_sched_capacity_compute(c, &shape, &plain, &cap, NULL);
    double t_plain = gen_now_s() - t0;
    drv_sched_capacity_destroy(&cap);

    t0 = gen_now_s();
    drv_sched_capacity_compute(c, &shape, &full, &cap, NULL);
    double t_full = gen_now_s() - t0;
    printf("sched_capacity: %zu hosts, %zu domains: %llu more of 2 vCPU/4 GiB (+flag) fit; "
           "N+1 keeps %llu (now %s); %lld hosts may fail at once\n",
           n, drv_sched_cluster_n_domains(c), (unsigned long long)cap->total,
           (unsigned long long)cap->n_plus_one_total, cap->n_plus_one_now ? "yes" : "no",
           (long long)cap->hosts_may_fail);
    printf("sched_capacity: plain %.2f ms, with N+1 and hosts-may-fail %.1f ms\n", t_plain * 1e3,
           t_full * 1e3);
    drv_sched_capacity_destroy(&cap);
    drv_sched_cluster_destroy(&c);
    g_rand_free(r);
    return 0;
}
