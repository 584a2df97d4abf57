/* job_render.c — how jobs are shown (see jobs.h). Pure. */
#include "jobs.h"
#include "config.h"
#include "json_get.h"

#include "render.h"

#include <inttypes.h>
#include <string.h>

/* "1.5 s", "850 ms". */
char *drv_cli_duration(uint64_t ms)
{
    if (ms < 1000)
        return g_strdup_printf("%" PRIu64 " ms", ms);
    if (ms < 60 * 1000)
        return g_strdup_printf("%.1f s", (double)ms / 1000.0);
    uint64_t s = ms / 1000;
    if (s < 3600)
        return g_strdup_printf("%" PRIu64 " min %" PRIu64 " s", s / 60, s % 60);
    return g_strdup_printf("%" PRIu64 " h %" PRIu64 " min", s / 3600, s % 3600 / 60);
}

static char *s_ms(uint64_t ms)
{
    return drv_cli_duration(ms);
}

static char *s_time_utc(uint64_t ms)
{
    if (ms == 0)
        return g_strdup("-");
    GDateTime *t = g_date_time_new_from_unix_utc((gint64)(ms / 1000));
    char *s = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("-");
    if (t)
        g_date_time_unref(t);
    return s;
}

bool drv_cli_job_is_terminal(json_object *job)
{
    const char *st = drv_json_get_str(job, "state", NULL);
    return g_strcmp0(st, "succeeded") == 0 || g_strcmp0(st, "failed") == 0 ||
           g_strcmp0(st, "cancelled") == 0;
}

static void s_kv(GString *out, const char *k, const char *v)
{
    g_string_append_printf(out, "%-16s %s\n", k, v ? v : "-");
}

void drv_cli_render_job(json_object *job, GString *out)
{
    json_object *m = drv_json_get(job, "migrate");
    s_kv(out, "Id:", drv_json_get_str(job, "id", NULL));
    s_kv(out, "Kind:", drv_json_get_str(job, "kind", NULL));
    s_kv(out, "State:", drv_json_get_str(job, "state", NULL));
    g_autofree char *created = s_time_utc(drv_json_get_u64(job, "created_ms", 0));
    s_kv(out, "Created:", created);
    if (drv_json_get_str(job, "error", NULL) != NULL)
        s_kv(out, "Error:", drv_json_get_str(job, "error", NULL));
    if (m == NULL && drv_cli_job_is_drain(job)) { /* cli/drain_render.c */
        drv_cli_render_drain_sheet(job, out);
        return;
    }
    json_object *l = drv_json_get(job, "lifecycle"); /* start and undefine jobs */
    if (m == NULL && l != NULL) {
        s_kv(out, "Domain:", drv_json_get_str(l, "domain", NULL));
        s_kv(out, "Host:", drv_json_get_str(l, "host", NULL));
        if (drv_json_get_str(l, "old_host", NULL) != NULL)
            s_kv(out, "Old host:", drv_json_get_str(l, "old_host", NULL));
        s_kv(out, "Step:", drv_json_get_str(l, "step", NULL));
        g_autofree char *updated = s_time_utc(drv_json_get_u64(job, "updated_ms", 0));
        s_kv(out, "Updated:", updated);
        return;
    }
    if (m == NULL) {
        s_kv(out, "Updated:", NULL);
        return;
    }
    s_kv(out, "Domain:", drv_json_get_str(m, "domain", NULL));
    s_kv(out, "Source:", drv_json_get_str(m, "source", NULL));
    s_kv(out, "Destination:", drv_json_get_str(m, "destination", NULL));
    s_kv(out, "Phase:", drv_json_get_str(m, "phase", NULL));
    json_object *pol = drv_json_get(m, "policy");
    g_autofree char *down =
        drv_json_get_u64(pol, "max_downtime_ms", 0)
            ? g_strdup_printf("%" PRIu64 " ms", drv_json_get_u64(pol, "max_downtime_ms", 0))
            : g_strdup("default");
    g_autofree char *bw =
        drv_json_get_u64(pol, "bandwidth_mibs", 0)
            ? g_strdup_printf("%" PRIu64 " MiB/s", drv_json_get_u64(pol, "bandwidth_mibs", 0))
            : g_strdup("unlimited");
    g_autofree char *tmo =
        drv_json_get_u64(pol, "timeout_s", 0)
            ? g_strdup_printf("%" PRIu64 " s", drv_json_get_u64(pol, "timeout_s", 0))
            : g_strdup("none");
    g_autofree char *policy =
        g_strdup_printf("max downtime %s, bandwidth %s, auto-converge %s, post-copy %s, timeout %s",
                        down, bw, drv_json_get_bool(pol, "auto_converge", false) ? "yes" : "no",
                        drv_json_get_bool(pol, "postcopy", false) ? "yes" : "no", tmo);
    s_kv(out, "Policy:", policy);
    if (!drv_cli_job_is_terminal(job)) {
        GString *p = g_string_new(NULL);
        drv_cli_render_job_progress(job, 0, p);
        s_kv(out, "Progress:", p->str);
        g_string_free(p, TRUE);
    }
    if (g_strcmp0(drv_json_get_str(job, "state", NULL), "succeeded") == 0) {
        json_object *res = drv_json_get(m, "result");
        g_autofree char *dt = s_ms(drv_json_get_u64(res, "downtime_ms", 0));
        g_autofree char *mig = s_ms(drv_json_get_u64(res, "time_ms", 0));
        g_autofree char *total = s_ms(drv_cli_job_elapsed_ms(job));
        g_autofree char *bytes = drv_format_size(drv_json_get_u64(res, "bytes", 0));
        s_kv(out, "Downtime:", dt);
        s_kv(out, "Migration time:", mig);
        s_kv(out, "Job time:", total);
        s_kv(out, "Transferred:", bytes);
        if (drv_json_get_bool(res, "postcopy_used", false))
            s_kv(out, "Post-copy:", "used (pre-copy did not converge)");
    }
}

void drv_cli_render_job_list(json_object *doc, GString *out)
{
    static const char *const headers[] = {"ID",     "KIND", "STATE", "PHASE",
                                          "DOMAIN", "FROM", "TO",    "CREATED"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *jobs = drv_json_get(doc, "jobs");
    for (size_t i = 0; jobs != NULL && i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        json_object *m = drv_json_get(j, "migrate");
        g_autofree char *created = s_time_utc(drv_json_get_u64(j, "created_ms", 0));
        const char *cells[] = {
            drv_json_get_str(j, "id", NULL),          drv_json_get_str(j, "kind", NULL),
            drv_json_get_str(j, "state", NULL),       drv_json_get_str(m, "phase", NULL),
            drv_json_get_str(m, "domain", NULL),      drv_json_get_str(m, "source", NULL),
            drv_json_get_str(m, "destination", NULL), created};
        json_object *dr =
            drv_json_get(j, "drain"); /* drain / restore: the host, the domain count */
        json_object *es = drv_json_get(dr, "entries");
        g_autofree char *n_doms =
            dr ? g_strdup_printf("%zu domain%s", es ? json_object_array_length(es) : 0,
                                 es && json_object_array_length(es) == 1 ? "" : "s")
               : NULL;
        json_object *l = drv_json_get(j, "lifecycle"); /* start / undefine */
        if (m == NULL && l != NULL) {
            cells[3] = drv_json_get_str(l, "step", NULL);
            cells[4] = drv_json_get_str(l, "domain", NULL);
            cells[5] =
                drv_json_get_str(l, "old_host", NULL) ? drv_json_get_str(l, "old_host", NULL) : "-";
            cells[6] = drv_json_get_str(l, "host", NULL) ? drv_json_get_str(l, "host", NULL) : "-";
        }
        if (m == NULL && dr != NULL) {
            bool restore = g_strcmp0(drv_json_get_str(j, "kind", NULL), "restore") == 0;
            cells[3] = "-";
            cells[4] = n_doms;
            cells[5] = restore ? "-" : drv_json_get_str(dr, "host", "-"); /* balance: none */
            cells[6] = restore ? drv_json_get_str(dr, "host", NULL) : "-";
        }
        drv_cli_table_add(t, cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

uint64_t drv_cli_job_elapsed_ms(json_object *job)
{
    if (drv_json_get(job, "elapsed_ms") != NULL)
        return drv_json_get_u64(job, "elapsed_ms", 0);
    uint64_t created = drv_json_get_u64(job, "created_ms", 0);
    uint64_t updated = drv_json_get_u64(job, "updated_ms", 0);
    return updated > created ? updated - created : 0;
}

void drv_cli_render_job_progress(json_object *job, int bar_width, GString *out)
{
    json_object *m = drv_json_get(job, "migrate");
    json_object *p = drv_json_get(m, "progress");
    const char *phase = drv_json_get_str(m, "phase", NULL) ? drv_json_get_str(m, "phase", NULL)
                                                           : drv_json_get_str(job, "state", NULL);
    uint64_t total = drv_json_get_u64(p, "data_total", 0),
             remaining = drv_json_get_u64(p, "data_remaining", 0);
    uint64_t bps = drv_json_get_u64(p, "memory_bps", 0);
    bool moving = g_strcmp0(phase, "migrating") == 0 || g_strcmp0(phase, "cancelling") == 0;
    unsigned pct =
        total > 0 && remaining <= total ? (unsigned)((total - remaining) * 100 / total) : 0;
    if (bar_width > 0) {
        int fill = moving ? (int)(pct * (unsigned)bar_width / 100) : 0;
        g_string_append_c(out, '[');
        for (int i = 0; i < bar_width; i++)
            g_string_append_c(out, i < fill ? '#' : '.');
        g_string_append(out, "] ");
    }
    if (!moving || total == 0) {
        g_string_append(out, phase ? phase : "?");
        return;
    }
    g_autofree char *rem = drv_format_size(remaining);
    g_string_append_printf(out, "%3u%%  %.1f MiB/s  remaining %s", pct,
                           (double)bps / (1024.0 * 1024.0), rem);
    if (bps > 0) {
        g_autofree char *eta = s_ms(remaining * 1000 / bps);
        g_string_append_printf(out, "  ETA %s", eta);
    }
    g_string_append_printf(out, "  (%s, iteration %" PRIu64 ")", phase,
                           drv_json_get_u64(p, "iteration", 0));
}

void drv_cli_render_job_outcome(json_object *job, GString *out)
{
    json_object *m = drv_json_get(job, "migrate");
    const char *state =
        drv_json_get_str(job, "state", NULL) ? drv_json_get_str(job, "state", NULL) : "?";
    g_autofree char *total =
        s_ms(drv_json_get_u64(job, "updated_ms", 0) - drv_json_get_u64(job, "created_ms", 0));
    if (m == NULL) {
        g_string_append_printf(out, "Job %s %s%s%s\n", drv_json_get_str(job, "id", "?"), state,
                               drv_json_get_str(job, "error", NULL) ? ": " : "",
                               drv_json_get_str(job, "error", ""));
        return;
    }
    g_string_append_printf(out, "Migration of %s from %s to %s %s in %s",
                           drv_json_get_str(m, "domain", "?"), drv_json_get_str(m, "source", "?"),
                           drv_json_get_str(m, "destination", "?"), state, total);
    if (strcmp(state, "succeeded") == 0) {
        json_object *res = drv_json_get(m, "result");
        g_autofree char *down = s_ms(drv_json_get_u64(res, "downtime_ms", 0));
        g_autofree char *mig = s_ms(drv_json_get_u64(res, "time_ms", 0));
        g_autofree char *bytes = drv_format_size(drv_json_get_u64(res, "bytes", 0));
        g_string_append_printf(out, " (downtime %s, migration %s, %s transferred%s)\n", down, mig,
                               bytes,
                               drv_json_get_bool(res, "postcopy_used", false) ? ", post-copy" : "");
    } else if (drv_json_get_str(job, "error", NULL) == NULL && strcmp(state, "cancelled") == 0) {
        g_string_append_c(out, '\n'); /* an operator's cancel needs no reason */
    } else {
        g_string_append_printf(out, ": %s\n", drv_json_get_str(job, "error", "no reason given"));
    }
}
