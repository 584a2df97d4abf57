/* sched_place — placement decisions per second and p99 latency at 1,000 and 10,000 hosts with mixed
 * CPU flags. Goal (issue 5): >= 20,000 decisions/s at 10,000 hosts on one core, p99 <= 1 ms.
 * Usage: sched_place [decisions per size] */
#include <stdlib.h>
#include <string.h>

#include "sched_gen.h"

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void s_run(size_t n_hosts, int decisions)
{
    GRand *r = g_rand_new_with_seed(42);
    drv_sched_cluster *c = gen_cluster(r, n_hosts, 8);
    double *lat = g_new0(double, (gsize)decisions);
    int fits = 0;
    const char *feat[4];
    static const char *const anti[] = {"web", "db", "cache"};
    double t0 = gen_now_s(), cpu0 = gen_cpu_s();
    for (int i = 0; i < decisions; i++) {
        /* mixed requests: 0-3 required flags across generations, some groups and labels */
        int nf = g_rand_int_range(r, 0, 4);
        for (int k = 0; k < nf; k++)
            feat[k] = gen_flag(g_rand_int_range(r, 0, 60));
        feat[nf] = NULL;
        drv_sched_request req = {
            .vcpus = (uint32_t)g_rand_int_range(r, 1, 9),
            .memory_kib = (uint64_t)g_rand_int_range(r, 1, 33) * 1024 * 1024,
            .arch = "x86_64",
            .features = feat,
            .anti_affinity_group = g_rand_int_range(r, 0, 10) == 0 ? anti[i % 3] : NULL,
        };
        double a = gen_now_s();
        drv_sched_result *res = NULL;
        drv_sched_place(c, &req, &res, NULL);
        lat[i] = gen_now_s() - a;
        fits += res->fits;
        drv_sched_result_free(&res);
    }
    double total = gen_now_s() - t0, cpu = gen_cpu_s() - cpu0;
    qsort(lat, (size_t)decisions, sizeof(double), s_cmp_double);
    printf("sched_place: %zu hosts, %d decisions (%d fit): %.0f decisions/s wall, %.0f/s per "
           "CPU-second; p50 %.1f us, p99 %.1f us, max %.1f us (wall)\n",
           n_hosts, decisions, fits, decisions / total, decisions / cpu, lat[decisions / 2] * 1e6,
           lat[(size_t)(decisions * 0.99)] * 1e6, lat[decisions - 1] * 1e6);
    g_free(lat);
    drv_sched_cluster_destroy(&c);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    int decisions = argc > 1 ? atoi(argv[1]) : 20000;
    if (decisions < 100)
        decisions = 100;
    s_run(1000, decisions);
    s_run(10000, decisions);
    return 0;
}
