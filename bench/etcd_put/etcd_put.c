/* etcd_put — how fast drover can write to etcd through drv_etcd (one reused curl handle).
 *
 * Prints (1) sequential puts/s and (2) committed placements/s, where a placement is what the
 * scheduler commits: a compare on the host key's mod_revision plus a put of the domain's placement,
 * with many placements batched into one txn (the host keys touched are rewritten in the same txn,
 * so a concurrent writer would lose its compare). Also shows one placement per txn for comparison.
 *
 * Starts its own etcd with data on /dev/shm (tests/support fixture) unless --endpoint is given.
 *   etcd_put [--endpoint URL] [--puts N] [--placements N] [--batch N] [--hosts N] */
#include "etcd.h"
#include "etcd_fixture.h"

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* etcd's default --max-txn-ops: each of compare, success and failure may hold at most this many. */
#define S_MAX_TXN_OPS 128

typedef struct {
    char key[64];
    int64_t mod_revision;
    int64_t booked;
} s_host;

static double s_now_s(void)
{
    return (double)g_get_monotonic_time() / 1e6;
}

static int s_bench_puts(drv_etcd *c, int n, drv_error **err)
{
    char value[128];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    double t0 = s_now_s();
    for (int i = 0; i < n; i++) {
        char key[64];
        g_snprintf(key, sizeof(key), "/bench/put/%08d", i);
        if (drv_etcd_put_str(c, key, value, 0, NULL, err) < 0)
            return -1;
    }
    double dt = s_now_s() - t0;
    printf("sequential puts:   %d puts of 127 B in %.3f s = %.0f puts/s (%.3f ms/put)\n", n, dt,
           n / dt, dt * 1000.0 / n);
    return 0;
}

static int s_reload_hosts(drv_etcd *c, s_host *hosts, int n_hosts, drv_error **err)
{
    for (int h = 0; h < n_hosts; h++) {
        g_autofree char *value = NULL;
        int64_t mod = 0;
        int rc = drv_etcd_get_str(c, hosts[h].key, &value, &mod, err);
        if (rc < 0)
            return -1;
        hosts[h].mod_revision = rc == 1 ? mod : 0;
        hosts[h].booked = rc == 1 ? g_ascii_strtoll(value + strlen("booked="), NULL, 10) : 0;
    }
    return 0;
}

/* Commits n placements, batch per txn, over n_hosts hosts; prints the rate. */
static int s_bench_placements(drv_etcd *c, const char *run, int n, int batch, int n_hosts,
                              drv_error **err)
{
    s_host *hosts = g_new0(s_host, n_hosts);
    for (int h = 0; h < n_hosts; h++) {
        g_snprintf(hosts[h].key, sizeof(hosts[h].key), "/bench/%s/hosts/h%03d", run, h);
        if (drv_etcd_put_str(c, hosts[h].key, "booked=0", 0, &hosts[h].mod_revision, err) < 0)
            goto fail;
    }
    int max_ops = batch + (batch < n_hosts ? batch : n_hosts);
    drv_etcd_cmp *cmps = g_new0(drv_etcd_cmp, n_hosts);
    drv_etcd_op *ops = g_new0(drv_etcd_op, max_ops);
    char(*dom_keys)[64] = g_malloc0(sizeof(char[64]) * (size_t)batch);
    char(*dom_vals)[96] = g_malloc0(sizeof(char[96]) * (size_t)batch);
    char(*host_vals)[32] = g_malloc0(sizeof(char[32]) * (size_t)n_hosts);
    int *touched = g_new0(int, n_hosts);
    int placed = 0, txns = 0, conflicts = 0;
    double t0 = s_now_s();
    while (placed < n) {
        int b = n - placed < batch ? n - placed : batch;
        int n_ops = 0, n_cmps = 0;
        memset(touched, 0, sizeof(int) * (size_t)n_hosts);
        for (int j = 0; j < b; j++) {
            int d = placed + j, h = d % n_hosts;
            g_snprintf(dom_keys[j], sizeof(dom_keys[j]), "/bench/%s/domains/vm%07d", run, d);
            g_snprintf(dom_vals[j], sizeof(dom_vals[j]),
                       "{\"host\":\"h%03d\",\"vcpus\":2,\"memory_kib\":2097152}", h);
            ops[n_ops++] = (drv_etcd_op){.kind = DRV_ETCD_OP_PUT,
                                         .key = dom_keys[j],
                                         .key_len = strlen(dom_keys[j]),
                                         .value = dom_vals[j],
                                         .value_len = strlen(dom_vals[j])};
            touched[h]++;
        }
        for (int h = 0; h < n_hosts; h++) {
            if (touched[h] == 0)
                continue;
            cmps[n_cmps++] = (drv_etcd_cmp){.target = DRV_ETCD_CMP_MOD,
                                            .result = DRV_ETCD_EQUAL,
                                            .key = hosts[h].key,
                                            .key_len = strlen(hosts[h].key),
                                            .number = hosts[h].mod_revision};
            g_snprintf(host_vals[h], sizeof(host_vals[h]), "booked=%" PRId64,
                       hosts[h].booked + touched[h]);
            ops[n_ops++] = (drv_etcd_op){.kind = DRV_ETCD_OP_PUT,
                                         .key = hosts[h].key,
                                         .key_len = strlen(hosts[h].key),
                                         .value = host_vals[h],
                                         .value_len = strlen(host_vals[h])};
        }
        drv_etcd_txn_result res;
        if (drv_etcd_txn(c, cmps, (size_t)n_cmps, ops, (size_t)n_ops, NULL, 0, &res, err) < 0)
            goto fail_loop;
        txns++;
        if (!res.succeeded) {
            /* Someone else booked one of these hosts: re-read and retry the batch. */
            conflicts++;
            drv_etcd_txn_result_clear(&res);
            if (s_reload_hosts(c, hosts, n_hosts, err) < 0)
                goto fail_loop;
            continue;
        }
        for (int h = 0; h < n_hosts; h++) {
            if (touched[h] == 0)
                continue;
            hosts[h].mod_revision = res.revision;
            hosts[h].booked += touched[h];
        }
        drv_etcd_txn_result_clear(&res);
        placed += b;
    }
    double dt = s_now_s() - t0;
    printf("placements:        %d committed in %.3f s, %d per txn over %d hosts = %.0f "
           "placements/s (%.0f txn/s, %.2f ms/txn, %d conflicts)\n",
           placed, dt, batch, n_hosts, placed / dt, txns / dt, dt * 1000.0 / txns, conflicts);
    g_free(cmps);
    g_free(ops);
    g_free(dom_keys);
    g_free(dom_vals);
    g_free(host_vals);
    g_free(touched);
    g_free(hosts);
    return 0;
fail_loop:
    g_free(cmps);
    g_free(ops);
    g_free(dom_keys);
    g_free(dom_vals);
    g_free(host_vals);
    g_free(touched);
fail:
    g_free(hosts);
    return -1;
}

int main(int argc, char **argv)
{
    g_autofree char *endpoint = NULL;
    int puts = 2000, placements = 20000, batch = 100, n_hosts = 16;
    GOptionEntry entries[] = {
        {"endpoint", 'e', 0, G_OPTION_ARG_STRING, &endpoint,
         "etcd to use (default: start one on /dev/shm)", "URL"},
        {"puts", 'p', 0, G_OPTION_ARG_INT, &puts, "sequential puts (default 2000)", "N"},
        {"placements", 'n', 0, G_OPTION_ARG_INT, &placements,
         "placements to commit (default 20000)", "N"},
        {"batch", 'b', 0, G_OPTION_ARG_INT, &batch, "placements per txn (default 100)", "N"},
        {"hosts", 'H', 0, G_OPTION_ARG_INT, &n_hosts, "host keys (default 16)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("— etcd write throughput through drv_etcd");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *gerr = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "etcd_put: %s\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    int batch_ops = batch + (batch < n_hosts ? batch : n_hosts);
    if (puts < 1 || placements < 1 || batch < 1 || n_hosts < 1 || batch_ops > S_MAX_TXN_OPS ||
        n_hosts > S_MAX_TXN_OPS) {
        fprintf(stderr,
                "etcd_put: need counts >= 1 and batch + min(batch, hosts) <= %d (etcd's "
                "--max-txn-ops); got batch %d, hosts %d\n",
                S_MAX_TXN_OPS, batch, n_hosts);
        return 2;
    }

    drv_test_etcd *etcd = NULL;
    if (endpoint == NULL) {
        etcd = drv_test_etcd_start();
        if (etcd == NULL)
            return 1;
        endpoint = g_strdup(drv_test_etcd_endpoint(etcd));
        printf("etcd:              own etcd at %s, data in %s (tmpfs)\n", endpoint,
               drv_test_etcd_data_dir(etcd));
    } else {
        printf("etcd:              %s\n", endpoint);
    }
    const char *endpoints[] = {endpoint};
    drv_error *err = NULL;
    drv_etcd *c = drv_etcd_new(endpoints, 1, 10000, NULL, &err);
    int rc = c != NULL ? 0 : -1;
    if (rc == 0)
        rc = s_bench_puts(c, puts, &err);
    if (rc == 0)
        rc = s_bench_placements(c, "single", placements > 2000 ? 2000 : placements, 1, n_hosts,
                                &err);
    if (rc == 0)
        rc = s_bench_placements(c, "batched", placements, batch, n_hosts, &err);
    if (rc < 0)
        fprintf(stderr, "etcd_put: %s\n", err != NULL ? err->message : "failed");
    drv_error_destroy(&err);
    drv_etcd_destroy(&c);
    drv_test_etcd_destroy(&etcd, rc < 0);
    return rc < 0 ? 1 : 0;
}
