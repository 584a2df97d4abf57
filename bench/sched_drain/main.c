/* sched_drain — drain plan of a host holding 100 domains in a 1,000-host cluster.
 * Goal (issue 5): <= 10 ms. Usage: sched_drain [hosts] */
#include <stdlib.h>

#include "sched_gen.h"

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
    GRand *r = g_rand_new_with_seed(9);
    drv_sched_cluster *c = gen_cluster(r, n, 4);
    /* a big host holding 100 domains of mixed sizes */
    const char *feat[] = {gen_flag(3), gen_flag(20), NULL};
    drv_sched_host_spec big = {.id = "big",
                               .arch = "x86_64",
                               .cpus = 256,
                               .memory_kib = 2048ull * 1024 * 1024,
                               .features = feat,
                               .reachable = true};
    drv_sched_cluster_add_host(c, &big, NULL);
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof(name), "big-vm%d", i);
        drv_sched_domain_spec d = {.name = name,
                                   .host = "big",
                                   .vcpus = (uint32_t)g_rand_int_range(r, 1, 9),
                                   .memory_kib = (uint64_t)g_rand_int_range(r, 1, 17) * 1024 * 1024,
                                   .features = feat,
                                   .anti_affinity_group = i % 10 == 0 ? "ha" : NULL,
                                   .running = true};
        drv_sched_cluster_add_domain(c, &d, NULL);
    }
    drv_sched_cluster_set_host_state(c, "big", DRV_SCHED_HOST_PREPARING_MAINTENANCE, NULL);

    const int reps = 20;
    drv_sched_drain_plan *plan = NULL;
    double t0 = gen_now_s();
    for (int i = 0; i < reps; i++) {
        drv_sched_drain_plan_destroy(&plan);
        drv_sched_drain_plan_compute(c, "big", NULL, &plan, NULL);
    }
    double t = (gen_now_s() - t0) / reps;
    printf("sched_drain: %zu hosts, 100 domains: %zu unmovable; plan in %.2f ms\n", n + 1,
           plan->n_unmovable, t * 1e3);
    drv_sched_drain_plan_destroy(&plan);

    drv_sched_drain_opts opts = {.n_plus_one = true};
    t0 = gen_now_s();
    drv_sched_drain_plan_compute(c, "big", &opts, &plan, NULL);
    t = gen_now_s() - t0;
    printf("sched_drain: with N+1: %zu unmovable, N+1 after: %s; plan in %.1f ms\n",
           plan->n_unmovable, plan->n_plus_one_after ? "yes" : "no", t * 1e3);
    drv_sched_drain_plan_destroy(&plan);
    drv_sched_cluster_destroy(&c);
    g_rand_free(r);
    return 0;
}
