/* baseline.c — the cluster CPU baseline: features every active host has, and the libvirt <cpu>
 * element that keeps a domain migratable to any of them. */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

static bool s_host_in(const sched_host *h, const char *arch)
{
    if (h->state != DRV_SCHED_HOST_ACTIVE)
        return false;
    return !arch || g_strcmp0(h->arch, arch) == 0;
}

static int s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **drv_sched_baseline_features(const drv_sched_cluster *cluster, const char *arch)
{
    const sched_bitset_table *t = &cluster->features;
    g_autofree uint64_t *acc = g_new0(uint64_t, t->stride);
    bool any = false;
    for (guint i = 0; i < cluster->hosts->len; i++) {
        const sched_host *h = g_ptr_array_index(cluster->hosts, i);
        if (!s_host_in(h, arch))
            continue;
        const uint64_t *row = sched_bits_row(t, h->slot);
        for (size_t w = 0; w < t->stride; w++)
            acc[w] = any ? acc[w] & row[w] : row[w];
        any = true;
    }
    GPtrArray *out = g_ptr_array_new();
    for (size_t w = 0; any && w < t->stride; w++)
        for (size_t b = 0; b < 64; b++)
            if ((acc[w] >> b) & 1u)
                g_ptr_array_add(out, g_strdup(g_ptr_array_index(t->names.names, w * 64 + b)));
    if (out->len)
        qsort(out->pdata, out->len, sizeof(char *), s_strcmp_p);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* Features a migratable <cpu> must not require, with why (issue 17: `invtsc` in the baseline
 * made XML that could not start: "host doesn't support invariant TSC"). */
static const struct {
    const char *name, *why;
} s_unrequirable[] = {
    {"invtsc", "an invariant TSC blocks live migration"},
    {"vmx", "nested virtualization blocks live migration"},
    {"svm", "nested virtualization blocks live migration"},
    {"hle", "TSX, disabled by microcode on many hosts"},
    {"rtm", "TSX, disabled by microcode on many hosts"},
};

const char *drv_sched_baseline_unrequirable(const char *feature)
{
    for (size_t i = 0; i < G_N_ELEMENTS(s_unrequirable); i++)
        if (g_strcmp0(feature, s_unrequirable[i].name) == 0)
            return s_unrequirable[i].why;
    return NULL;
}

int drv_sched_baseline_cpu_xml(const drv_sched_cluster *cluster, const char *arch,
                               const char *model, char **ret_xml, drv_error **err)
{
    const char *common = NULL;
    const sched_host *first = NULL;
    for (guint i = 0; i < cluster->hosts->len; i++) {
        const sched_host *h = g_ptr_array_index(cluster->hosts, i);
        if (!s_host_in(h, arch))
            continue;
        if (!first) {
            first = h;
            common = h->cpu_model;
            continue;
        }
        if (!model && g_strcmp0(common, h->cpu_model) != 0)
            return drv_error_set(
                err, DRV_ERR_INVALID, 0,
                "cpu baseline: hosts %s and %s have different CPU models (%s, %s); "
                "name the model to use",
                first->id, h->id, common ? common : "unknown",
                h->cpu_model ? h->cpu_model : "unknown");
    }
    if (!first)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "cpu baseline: no active host%s%s",
                             arch ? " of arch " : "", arch ? arch : "");
    if (!model)
        model = common;
    if (!model)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "cpu baseline: the CPU model of host %s is unknown; name the model "
                             "to use",
                             first->id);
    g_auto(GStrv) features = drv_sched_baseline_features(cluster, arch);
    GString *s = g_string_new("<cpu mode='custom' match='exact'>\n");
    g_autofree char *m = g_markup_printf_escaped("  <model fallback='allow'>%s</model>\n", model);
    g_string_append(s, m);
    GString *left = g_string_new(NULL);
    for (size_t i = 0; features[i]; i++) {
        const char *why = drv_sched_baseline_unrequirable(features[i]);
        if (why != NULL) {
            g_string_append_printf(left, "%s%s (%s)", left->len ? ", " : "", features[i], why);
            continue;
        }
        g_autofree char *f =
            g_markup_printf_escaped("  <feature policy='require' name='%s'/>\n", features[i]);
        g_string_append(s, f);
    }
    if (left->len) { /* said, not silently dropped ("--" cannot occur: names are [a-z0-9_.-]) */
        g_autofree char *c = g_markup_escape_text(left->str, -1);
        g_string_append_printf(s, "  <!-- left out: %s -->\n", c);
    }
    g_string_free(left, TRUE);
    g_string_append(s, "</cpu>\n");
    *ret_xml = g_string_free(s, FALSE);
    return 0;
}
