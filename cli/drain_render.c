/* drain_render.c — how drain and restore jobs are shown (see jobs.h): the per-domain progress
 * block of `job watch` / `host maintenance --wait`, the sheet of `job show`, the final sentence.
 * Pure (a document in, text out). */
#include "jobs.h"

#include <inttypes.h>
#include <string.h>

static json_object *s_get(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, k, &v))
        return NULL;
    return v;
}

static const char *s_str(json_object *o, const char *k)
{
    json_object *v = s_get(o, k);
    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static uint64_t s_u64(json_object *o, const char *k)
{
    json_object *v = s_get(o, k);
    if (v == NULL)
        return 0;
    int64_t n = json_object_get_int64(v);
    return n > 0 ? (uint64_t)n : 0;
}

static char *s_ms(uint64_t ms)
{
    if (ms < 1000)
        return g_strdup_printf("%" PRIu64 " ms", ms);
    return g_strdup_printf("%.1f s", (double)ms / 1000.0);
}

bool drv_cli_job_is_drain(json_object *job)
{
    const char *k = s_str(job, "kind");
    return s_get(job, "drain") != NULL &&
           (g_strcmp0(k, "drain") == 0 || g_strcmp0(k, "restore") == 0);
}

static json_object *s_entries(json_object *job)
{
    json_object *e = s_get(s_get(job, "drain"), "entries");
    return e != NULL && json_object_is_type(e, json_type_array) ? e : NULL;
}

/* "drain of h1 running: 1 done, 2 migrating, 0 planned, 0 failed, 0 skipped" */
static void s_summary(json_object *job, GString *out)
{
    static const char *const states[] = {"done", "migrating", "planned", "failed", "skipped"};
    unsigned n[G_N_ELEMENTS(states)] = {0};
    json_object *es = s_entries(job);
    for (size_t i = 0; es != NULL && i < json_object_array_length(es); i++) {
        const char *st = s_str(json_object_array_get_idx(es, i), "state");
        for (size_t k = 0; k < G_N_ELEMENTS(states); k++)
            n[k] += g_strcmp0(st, states[k]) == 0;
    }
    g_string_append_printf(out, "%s of %s %s:", s_str(job, "kind") ?: "job",
                           s_str(s_get(job, "drain"), "host") ?: "?", s_str(job, "state") ?: "?");
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
        wname = MAX(wname, (int)strlen(s_str(e, "domain") ?: "?"));
        const char *to = s_str(e, "destination") ?: s_str(e, "planned");
        wdest = MAX(wdest, (int)strlen(to ?: "-"));
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(es, i);
        const char *state = s_str(e, "state") ?: "?";
        const char *to = s_str(e, "destination") ?: s_str(e, "planned");
        json_object *p = s_get(e, "progress");
        uint64_t total = s_u64(p, "data_total"), remaining = s_u64(p, "data_remaining");
        bool migrating = strcmp(state, "migrating") == 0;
        unsigned pct = strcmp(state, "done") == 0 ? 100
                       : migrating && total > 0 && remaining <= total
                           ? (unsigned)((total - remaining) * 100 / total)
                           : 0;
        g_string_append_printf(out, "  %-*s %s -> %-*s ", wname, s_str(e, "domain") ?: "?",
                               s_str(e, "origin") ?: "?", wdest, to ?: "-");
        if (bar_width > 0) {
            int fill = (int)(pct * (unsigned)bar_width / 100);
            g_string_append_c(out, '[');
            for (int k = 0; k < bar_width; k++)
                g_string_append_c(out, k < fill ? '#' : '.');
            g_string_append(out, "] ");
        }
        g_string_append_printf(out, "%3u%%  %s", pct, state);
        if (migrating && s_u64(p, "memory_bps") > 0)
            g_string_append_printf(out, "  %.1f MiB/s  iteration %" PRIu64,
                                   (double)s_u64(p, "memory_bps") / (1024.0 * 1024.0),
                                   s_u64(p, "iteration"));
        if (s_u64(e, "attempts") > 1 || migrating)
            g_string_append_printf(out, "  (attempt %" PRIu64 ")", s_u64(e, "attempts"));
        if (s_str(e, "error") != NULL && strcmp(state, "done") != 0)
            g_string_append_printf(out, ": %s", s_str(e, "error"));
        g_string_append_c(out, '\n');
    }
}

void drv_cli_render_drain_sheet(json_object *job, GString *out)
{
    json_object *d = s_get(job, "drain");
    json_object *o = s_get(d, "options");
    g_string_append_printf(out, "%-16s %s\n", "Host:", s_str(d, "host") ?: "-");
    if (s_str(d, "restore_of") != NULL)
        g_string_append_printf(out, "%-16s %s\n", "Restores:", s_str(d, "restore_of"));
    g_string_append_printf(
        out,
        "%-16s max parallel %" PRIu64 ", per source %" PRIu64 ", per destination %" PRIu64
        ", unmovable: %s%s\n",
        "Options:", s_u64(o, "max_parallel"), s_u64(o, "per_source"), s_u64(o, "per_dest"),
        s_str(o, "on_unmovable") ?: "refuse",
        s_get(o, "n_plus_one") && json_object_get_boolean(s_get(o, "n_plus_one")) ? ", N+1" : "");
    g_autofree char *total = s_ms(s_u64(job, "updated_ms") - s_u64(job, "created_ms"));
    g_string_append_printf(out, "%-16s %s\n", "Job time:", total);
    drv_cli_render_drain_progress(job, 0, out);
}

void drv_cli_render_drain_outcome(json_object *job, GString *out)
{
    const char *state = s_str(job, "state") ?: "?";
    g_autofree char *total = s_ms(s_u64(job, "updated_ms") - s_u64(job, "created_ms"));
    json_object *d = s_get(job, "drain");
    json_object *es = s_entries(job);
    size_t n = es ? json_object_array_length(es) : 0, done = 0;
    for (size_t i = 0; i < n; i++)
        done += g_strcmp0(s_str(json_object_array_get_idx(es, i), "state"), "done") == 0;
    bool drain = g_strcmp0(s_str(job, "kind"), "drain") == 0;
    g_string_append_printf(out, "%s of %s %s in %s: %zu of %zu domain%s moved",
                           drain ? "Drain" : "Restore", s_str(d, "host") ?: "?", state, total, done,
                           n, n == 1 ? "" : "s");
    if (strcmp(state, "succeeded") == 0)
        g_string_append(out, drain ? "; the host is in maintenance\n" : "; the host is active\n");
    else
        g_string_append_printf(out, ": %s\n", s_str(job, "error") ?: "no reason given");
}
