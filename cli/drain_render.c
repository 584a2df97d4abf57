/* drain_render.c — how drain and restore jobs are shown (see jobs.h): the per-domain progress
 * block of `job watch` / `host maintenance --wait`, the sheet of `job show`, the final sentence.
 * Pure (a document in, text out). */
#include "jobs.h"
#include "json_get.h"

#include <inttypes.h>
#include <string.h>

static char *s_ms(uint64_t ms)
{
    return drv_cli_duration(ms);
}

bool drv_cli_job_is_drain(json_object *job)
{
    const char *k = drv_json_get_str(job, "kind", NULL);
    return drv_json_get(job, "drain") != NULL &&
           (g_strcmp0(k, "drain") == 0 || g_strcmp0(k, "restore") == 0 ||
            g_strcmp0(k, "balance") == 0);
}

static json_object *s_entries(json_object *job)
{
    json_object *e = drv_json_get(drv_json_get(job, "drain"), "entries");
    return e != NULL && json_object_is_type(e, json_type_array) ? e : NULL;
}

/* "drain of h1 running: 1 done, 2 migrating, 0 planned, 0 failed, 0 skipped" */
static void s_summary(json_object *job, GString *out)
{
    static const char *const states[] = {"done", "migrating", "planned", "failed", "skipped"};
    unsigned n[G_N_ELEMENTS(states)] = {0};
    json_object *es = s_entries(job);
    for (size_t i = 0; es != NULL && i < json_object_array_length(es); i++) {
        const char *st = drv_json_get_str(json_object_array_get_idx(es, i), "state", NULL);
        for (size_t k = 0; k < G_N_ELEMENTS(states); k++)
            n[k] += g_strcmp0(st, states[k]) == 0;
    }
    g_string_append_printf(out, "%s of %s %s:", drv_json_get_str(job, "kind", "job"),
                           drv_json_get_str(drv_json_get(job, "drain"), "host", "the cluster"),
                           drv_json_get_str(job, "state", "?"));
    for (size_t k = 0; k < G_N_ELEMENTS(states); k++)
        g_string_append_printf(out, "%s %u %s", k ? "," : "", n[k], states[k]);
}

void drv_cli_render_drain_progress(json_object *job, int bar_width, GString *out)
{
    s_summary(job, out);
    g_string_append_c(out, '\n');
    json_object *es = s_entries(job);
    size_t n = es ? json_object_array_length(es) : 0;
    int wname = 6, wdest = 4;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(es, i);
        wname = MAX(wname, (int)strlen(drv_json_get_str(e, "domain", "?")));
        const char *to =
            drv_json_get_str(e, "destination", NULL) ?: drv_json_get_str(e, "planned", NULL);
        wdest = MAX(wdest, (int)strlen(to ?: "-"));
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(es, i);
        const char *state = drv_json_get_str(e, "state", "?");
        const char *to =
            drv_json_get_str(e, "destination", NULL) ?: drv_json_get_str(e, "planned", NULL);
        json_object *p = drv_json_get(e, "progress");
        uint64_t total = drv_json_get_u64(p, "data_total", 0),
                 remaining = drv_json_get_u64(p, "data_remaining", 0);
        bool migrating = strcmp(state, "migrating") == 0;
        unsigned pct = strcmp(state, "done") == 0 ? 100
                       : migrating && total > 0 && remaining <= total
                           ? (unsigned)((total - remaining) * 100 / total)
                           : 0;
        g_string_append_printf(out, "  %-*s %s -> %-*s ", wname, drv_json_get_str(e, "domain", "?"),
                               drv_json_get_str(e, "origin", "?"), wdest, to ?: "-");
        if (bar_width > 0) {
            int fill = (int)(pct * (unsigned)bar_width / 100);
            g_string_append_c(out, '[');
            for (int k = 0; k < bar_width; k++)
                g_string_append_c(out, k < fill ? '#' : '.');
            g_string_append(out, "] ");
        }
        g_string_append_printf(out, "%3u%%  %s", pct, state);
        if (migrating && drv_json_get_u64(p, "memory_bps", 0) > 0)
            g_string_append_printf(out, "  %.1f MiB/s  iteration %" PRIu64,
                                   (double)drv_json_get_u64(p, "memory_bps", 0) / (1024.0 * 1024.0),
                                   drv_json_get_u64(p, "iteration", 0));
        if (drv_json_get_u64(e, "attempts", 0) > 1 || migrating)
            g_string_append_printf(out, "  (attempt %" PRIu64 ")",
                                   drv_json_get_u64(e, "attempts", 0));
        if (drv_json_get_str(e, "error", NULL) != NULL && strcmp(state, "done") != 0)
            g_string_append_printf(out, ": %s", drv_json_get_str(e, "error", NULL));
        g_string_append_c(out, '\n');
    }
}

void drv_cli_render_drain_sheet(json_object *job, GString *out)
{
    json_object *d = drv_json_get(job, "drain");
    json_object *o = drv_json_get(d, "options");
    bool balance = g_strcmp0(drv_json_get_str(job, "kind", NULL), "balance") == 0;
    if (!balance) /* a balance's moves each name their own hosts */
        g_string_append_printf(out, "%-16s %s\n", "Host:", drv_json_get_str(d, "host", "-"));
    if (drv_json_get_str(d, "restore_of", NULL) != NULL)
        g_string_append_printf(out, "%-16s %s\n",
                               "Restores:", drv_json_get_str(d, "restore_of", NULL));
    g_string_append_printf(
        out,
        "%-16s max parallel %" PRIu64 ", per source %" PRIu64 ", per destination %" PRIu64
        "%s%s%s\n",
        "Options:", drv_json_get_u64(o, "max_parallel", 0), drv_json_get_u64(o, "per_source", 0),
        drv_json_get_u64(o, "per_dest", 0), balance ? "" : ", unmovable: ",
        balance ? "" : drv_json_get_str(o, "on_unmovable", "refuse"),
        drv_json_get(o, "n_plus_one") && json_object_get_boolean(drv_json_get(o, "n_plus_one"))
            ? ", N+1"
            : "");
    g_autofree char *total = s_ms(drv_cli_job_elapsed_ms(job));
    g_string_append_printf(out, "%-16s %s\n", "Job time:", total);
    drv_cli_render_drain_progress(job, 0, out);
}

void drv_cli_render_drain_outcome(json_object *job, GString *out)
{
    const char *state = drv_json_get_str(job, "state", "?");
    g_autofree char *total = s_ms(drv_cli_job_elapsed_ms(job));
    json_object *d = drv_json_get(job, "drain");
    json_object *es = s_entries(job);
    size_t n = es ? json_object_array_length(es) : 0, done = 0;
    for (size_t i = 0; i < n; i++)
        done += g_strcmp0(drv_json_get_str(json_object_array_get_idx(es, i), "state", NULL),
                          "done") == 0;
    bool drain = g_strcmp0(drv_json_get_str(job, "kind", NULL), "drain") == 0;
    if (g_strcmp0(drv_json_get_str(job, "kind", NULL), "balance") == 0) {
        g_string_append_printf(out, "Balance %s in %s: %zu of %zu move%s made", state, total, done,
                               n, n == 1 ? "" : "s");
        if (strcmp(state, "succeeded") == 0)
            g_string_append_c(out, '\n');
        else
            g_string_append_printf(out, ": %s\n",
                                   drv_json_get_str(job, "error", "no reason given"));
        return;
    }
    g_string_append_printf(out, "%s of %s %s in %s: %zu of %zu domain%s moved",
                           drain ? "Drain" : "Restore", drv_json_get_str(d, "host", "?"), state,
                           total, done, n, n == 1 ? "" : "s");
    if (strcmp(state, "succeeded") == 0)
        g_string_append(out, drain ? "; the host is in maintenance\n" : "; the host is active\n");
    else
        g_string_append_printf(out, ": %s\n", drv_json_get_str(job, "error", "no reason given"));
}
