/* sched_place — placement decisions per second and p99 latency at 1,000 and 10,000 hosts with mixed
 * CPU flags. Goal (issue 5): >= 20,000 decisions/s at 10,000 hosts on one core, p99 <= 1 ms.
 * Usage: sched_place [decisions per size [hosts[w] ...]]   (default: 20000 1000 10000 10000w)
 *
 * "w" (wide) runs the migration-like workload: 128 flag names interned (two words per feature
 * row, as with real libvirt flag lists), requests needing flags from both words, the "shared"
 * pool every other time, and one avoided host (the source).
 *
 * Besides wall and CPU time it prints user-space instructions per decision when the kernel offers
 * a hardware instruction counter (perf_event_open; often not inside VMs). Without one, count them
 * with `valgrind --tool=callgrind --toggle-collect=drv_sched_place sched_place 300 10000` and
 * divide the total by the decisions: that figure is free of machine noise. */
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched_gen.h"

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A user-space instruction counter for this thread, disabled; -1 when there is none. */
static int s_counter_open(void)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

/* The i-th request of a run: 0-3 required flags across generations, some anti-affinity groups;
 * wide: also 1-2 of the extra flags, a pool every other time and one avoided host. `avoid` holds
 * room for a host id. */
static void s_request(GRand *r, int i, bool wide, size_t n_hosts, const char **feat, char *avoid,
                      drv_sched_request *req)
{
    static const char *const anti[] = {"web", "db", "cache"};
    static const char *const pools[] = {"shared", NULL};
    static const char *avoid_list[2];
    int nf = g_rand_int_range(r, 0, 4);
    for (int k = 0; k < nf; k++)
        feat[k] = gen_flag(g_rand_int_range(r, 0, 60));
    for (int k = wide ? g_rand_int_range(r, 1, 3) : 0; k > 0; k--)
        feat[nf++] = gen_extra_flag(g_rand_int_range(r, 0, GEN_N_FLAGS));
    feat[nf] = NULL;
    *req = (drv_sched_request){
        .vcpus = (uint32_t)g_rand_int_range(r, 1, 9),
        .memory_kib = (uint64_t)g_rand_int_range(r, 1, 33) * 1024 * 1024,
        .arch = "x86_64",
        .features = feat,
        .anti_affinity_group = g_rand_int_range(r, 0, 10) == 0 ? anti[i % 3] : NULL,
    };
    if (wide) {
        snprintf(avoid, 32, "h%d", g_rand_int_range(r, 0, (gint32)n_hosts));
        avoid_list[0] = avoid;
        req->avoid_hosts = avoid_list;
        req->pools = i % 2 ? pools : NULL;
    }
}

/* Instructions per decision over `decisions` requests of the same kind as the timed run, or a
 * negative value without a counter. */
static double s_instructions(drv_sched_cluster *c, size_t n_hosts, bool wide, int decisions)
{
    int fd = s_counter_open();
    if (fd < 0)
        return -1;
    GRand *r = g_rand_new_with_seed(4242);
    const char *feat[6];
    char avoid[32];
    uint64_t total = 0;
    for (int i = 0; i < decisions; i++) {
        drv_sched_request req;
        s_request(r, i, wide, n_hosts, feat, avoid, &req);
        drv_sched_result *res = NULL;
        uint64_t before = 0, after = 0;
        if (read(fd, &before, sizeof(before)) != sizeof(before))
            break;
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        drv_sched_place(c, &req, &res, NULL);
        ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
        if (read(fd, &after, sizeof(after)) != sizeof(after))
            break;
        total += after - before;
        drv_sched_result_destroy(&res);
    }
    g_rand_free(r);
    close(fd);
    return (double)total / decisions;
}

static void s_run(size_t n_hosts, bool wide, int decisions)
{
    GRand *r = g_rand_new_with_seed(42);
    drv_sched_cluster *c = gen_cluster_wide(r, n_hosts, 8, wide);
    double *lat = g_new0(double, (gsize)decisions);
    int fits = 0;
    const char *feat[6];
    char avoid[32];
    double t0 = gen_now_s(), cpu0 = gen_cpu_s();
    for (int i = 0; i < decisions; i++) {
        drv_sched_request req;
        s_request(r, i, wide, n_hosts, feat, avoid, &req);
        double a = gen_now_s();
        drv_sched_result *res = NULL;
        drv_sched_place(c, &req, &res, NULL);
        lat[i] = gen_now_s() - a;
        fits += res->fits;
        drv_sched_result_destroy(&res);
    }
    double total = gen_now_s() - t0, cpu = gen_cpu_s() - cpu0;
    qsort(lat, (size_t)decisions, sizeof(double), s_cmp_double);
    printf("sched_place: %zu hosts%s, %d decisions (%d fit): %.0f decisions/s wall, %.0f/s per "
           "CPU-second; p50 %.1f us, p99 %.1f us, max %.1f us (wall)\n",
           n_hosts, wide ? " (wide)" : "", decisions, fits, decisions / total, decisions / cpu,
           lat[decisions / 2] * 1e6, lat[(size_t)(decisions * 0.99)] * 1e6,
           lat[decisions - 1] * 1e6);
    double ins = s_instructions(c, n_hosts, wide, decisions < 2000 ? decisions : 2000);
    if (ins >= 0)
        printf("sched_place: %zu hosts%s: %.0f instructions per decision (%.1f per host)\n",
               n_hosts, wide ? " (wide)" : "", ins, ins / (double)n_hosts);
    else
        printf("sched_place: %zu hosts: no hardware instruction counter here (see the header "
               "comment for callgrind)\n",
               n_hosts);
    g_free(lat);
    drv_sched_cluster_destroy(&c);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    int decisions = argc > 1 ? atoi(argv[1]) : 20000;
    if (decisions < 100)
        decisions = 100;
    if (argc > 2) {
        for (int i = 2; i < argc; i++) {
            char *end = NULL;
            size_t n = (size_t)strtoul(argv[i], &end, 10);
            s_run(n, end && *end == 'w', decisions);
        }
        return 0;
    }
    s_run(1000, false, decisions);
    s_run(10000, false, decisions);
    s_run(10000, true, decisions);
    return 0;
}
