/* sched_gen.h — synthetic clusters for the scheduler benchmarks (header-only; no CMakeLists here,
 * so bench/CMakeLists.txt does not pick this folder up). Hosts come from a few CPU generations with
 * cumulative flag sets plus random extras, so requests with flags see a mixed cluster. */
#ifndef DROVER_BENCH_SCHED_GEN_H
#define DROVER_BENCH_SCHED_GEN_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "scheduler.h"

#define GEN_N_FLAGS 64

static inline double gen_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: what the benchmark costs on one core, even on a shared machine. */
static inline double gen_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline const char *gen_flag(int i)
{
    static char names[GEN_N_FLAGS][16];
    if (!names[i][0])
        snprintf(names[i], sizeof(names[i]), "flag%02d", i);
    return names[i];
}

/* Names of the optional extra flags (gen_cluster_wide). */
static inline const char *gen_extra_flag(int i)
{
    static char names[GEN_N_FLAGS][16];
    if (!names[i][0])
        snprintf(names[i], sizeof(names[i]), "xflag%02d", i);
    return names[i];
}

/* Adds n hosts ("h0".."h<n-1>") with domains_per_host running domains each (2 vCPUs, 2-8 GiB).
 * With `wide`, each host also has each of GEN_N_FLAGS extra flags with probability 0.7, so the
 * cluster interns 128 names: two words per feature row, as with real libvirt flag lists. */
static inline drv_sched_cluster *gen_cluster_wide(GRand *r, size_t n, int domains_per_host,
                                                  bool wide)
{
    drv_sched_cluster *c = drv_sched_cluster_new(NULL);
    const char *flags[2 * GEN_N_FLAGS + 1];
    static const char *const pools[] = {"shared", NULL};
    const char *dom_flags[] = {gen_flag(0), gen_flag(5), gen_flag(10), NULL};
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "h%zu", i);
        int gen = g_rand_int_range(r, 0, 4); /* generation: 32, 40, 48 or 56 base flags */
        int k = 0;
        for (int f = 0; f < 32 + 8 * gen; f++)
            flags[k++] = gen_flag(f);
        for (int f = 56; f < GEN_N_FLAGS; f++)
            if (g_rand_boolean(r))
                flags[k++] = gen_flag(f);
        for (int f = 0; wide && f < GEN_N_FLAGS; f++)
            if (g_rand_int_range(r, 0, 10) < 7)
                flags[k++] = gen_extra_flag(f);
        flags[k] = NULL;
        char rack[32];
        snprintf(rack, sizeof(rack), "rack=r%d", g_rand_int_range(r, 0, 20));
        const char *labels[] = {rack, NULL};
        drv_sched_host_spec h = {
            .id = id,
            .arch = "x86_64",
            .cpu_model = "Skylake-Server",
            .cpus = 32,
            .memory_kib = (uint64_t)g_rand_int_range(r, 2, 5) * 64 * 1024 * 1024,
            .reserved_memory_kib = 4 * 1024 * 1024,
            .features = flags,
            .pools = pools,
            .labels = labels,
            .state = g_rand_int_range(r, 0, 100) < 2 ? DRV_SCHED_HOST_MAINTENANCE
                                                     : DRV_SCHED_HOST_ACTIVE,
            .reachable = true,
        };
        drv_sched_cluster_add_host(c, &h, NULL);
        for (int d = 0; d < domains_per_host; d++) {
            char name[48];
            snprintf(name, sizeof(name), "%s-vm%d", id, d);
            drv_sched_domain_spec ds = {
                .name = name,
                .host = id,
                .vcpus = 2,
                .memory_kib = (uint64_t)g_rand_int_range(r, 1, 5) * 2 * 1024 * 1024,
                .features = dom_flags, /* flags every generation has */
                .running = true,
            };
            drv_sched_cluster_add_domain(c, &ds, NULL);
        }
    }
    return c;
}

static inline drv_sched_cluster *gen_cluster(GRand *r, size_t n, int domains_per_host)
{
    return gen_cluster_wide(r, n, domains_per_host, false);
}

#endif
