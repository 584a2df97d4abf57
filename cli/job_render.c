/* job_render.c — how jobs are shown (see jobs.h). Pure. */
#include "jobs.h"

#include "render.h"

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

static bool s_bool(json_object *o, const char *k)
{
    json_object *v = s_get(o, k);
    return v != NULL && json_object_get_boolean(v);
}

/* "1.5 s", "850 ms". */
static char *s_ms(uint64_t ms)
{
    if (ms < 1000)
        return g_strdup_printf("%" PRIu64 " ms", ms);
    return g_strdup_printf("%.1f s", (double)ms / 1000.0);
}

/* Bytes as "170.2 MiB". */
static char *s_bytes(uint64_t b)
{
    if (b < 1024)
        return g_strdup_printf("%" PRIu64 " B", b);
    if (b < 1024ull * 1024)
        return g_strdup_printf("%.1f KiB", (double)b / 1024.0);
    if (b < 1024ull * 1024 * 1024)
        return g_strdup_printf("%.1f MiB", (double)b / (1024.0 * 1024.0));
    return g_strdup_printf("%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
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
    const char *st = s_str(job, "state");
    return g_strcmp0(st, "succeeded") == 0 || g_strcmp0(st, "failed") == 0 ||
           g_strcmp0(st, "cancelled") == 0;
}

static void s_kv(GString *out, const char *k, const char *v)
{
    g_string_append_printf(out, "%-16s %s\n", k, v ? v : "-");
}

void drv_cli_render_job(json_object *job, GString *out)
{
    json_object *m = s_get(job, "migrate");
    s_kv(out, "Id:", s_str(job, "id"));
    s_kv(out, "Kind:", s_str(job, "kind"));
    s_kv(out, "State:", s_str(job, "state"));
    g_autofree char *created = s_time_utc(s_u64(job, "created_ms"));
    s_kv(out, "Created:", created);
    if (s_str(job, "error") != NULL)
        s_kv(out, "Error:", s_str(job, "error"));
    if (m == NULL && drv_cli_job_is_drain(job)) { /* cli/drain_render.c */
        drv_cli_render_drain_sheet(job, out);
        return;
    }
    if (m == NULL) {
        s_kv(out, "Updated:", NULL);
        return;
    }
    s_kv(out, "Domain:", s_str(m, "domain"));
    s_kv(out, "Source:", s_str(m, "source"));
    s_kv(out, "Destination:", s_str(m, "destination"));
    s_kv(out, "Phase:", s_str(m, "phase"));
    json_object *pol = s_get(m, "policy");
    g_autofree char *down = s_u64(pol, "max_downtime_ms")
                                ? g_strdup_printf("%" PRIu64 " ms", s_u64(pol, "max_downtime_ms"))
                                : g_strdup("default");
    g_autofree char *bw = s_u64(pol, "bandwidth_mibs")
                              ? g_strdup_printf("%" PRIu64 " MiB/s", s_u64(pol, "bandwidth_mibs"))
                              : g_strdup("unlimited");
    g_autofree char *tmo = s_u64(pol, "timeout_s")
                               ? g_strdup_printf("%" PRIu64 " s", s_u64(pol, "timeout_s"))
                               : g_strdup("none");
    g_autofree char *policy = g_strdup_printf(
        "max downtime %s, bandwidth %s, auto-converge %s, post-copy %s, timeout %s", down, bw,
        s_bool(pol, "auto_converge") ? "yes" : "no", s_bool(pol, "postcopy") ? "yes" : "no", tmo);
    s_kv(out, "Policy:", policy);
    if (!drv_cli_job_is_terminal(job)) {
        GString *p = g_string_new(NULL);
        drv_cli_render_job_progress(job, 0, p);
        s_kv(out, "Progress:", p->str);
        g_string_free(p, TRUE);
    }
    if (g_strcmp0(s_str(job, "state"), "succeeded") == 0) {
        json_object *res = s_get(m, "result");
        g_autofree char *dt = s_ms(s_u64(res, "downtime_ms"));
        g_autofree char *mig = s_ms(s_u64(res, "time_ms"));
        g_autofree char *total = s_ms(s_u64(job, "updated_ms") - s_u64(job, "created_ms"));
        g_autofree char *bytes = s_bytes(s_u64(res, "bytes"));
        s_kv(out, "Downtime:", dt);
        s_kv(out, "Migration time:", mig);
        s_kv(out, "Job time:", total);
        s_kv(out, "Transferred:", bytes);
        if (s_bool(res, "postcopy_used"))
            s_kv(out, "Post-copy:", "used (pre-copy did not converge)");
    }
}

void drv_cli_render_job_list(json_object *doc, GString *out)
{
    static const char *const headers[] = {"ID",     "KIND", "STATE", "PHASE",
                                          "DOMAIN", "FROM", "TO",    "CREATED"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *jobs = s_get(doc, "jobs");
    for (size_t i = 0; jobs != NULL && i < json_object_array_length(jobs); i++) {
        json_object *j = json_object_array_get_idx(jobs, i);
        json_object *m = s_get(j, "migrate");
        g_autofree char *created = s_time_utc(s_u64(j, "created_ms"));
        const char *cells[] = {
            s_str(j, "id"),     s_str(j, "kind"),   s_str(j, "state"),       s_str(m, "phase"),
            s_str(m, "domain"), s_str(m, "source"), s_str(m, "destination"), created};
        json_object *dr = s_get(j, "drain"); /* drain / restore: the host, the domain count */
        json_object *es = s_get(dr, "entries");
        g_autofree char *n_doms =
            dr ? g_strdup_printf("%zu domain%s", es ? json_object_array_length(es) : 0,
                                 es && json_object_array_length(es) == 1 ? "" : "s")
               : NULL;
        if (m == NULL && dr != NULL) {
            bool restore = g_strcmp0(s_str(j, "kind"), "restore") == 0;
            cells[3] = "-";
            cells[4] = n_doms;
            cells[5] = restore ? "-" : s_str(dr, "host");
            cells[6] = restore ? s_str(dr, "host") : "-";
        }
        drv_cli_table_add(t, cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

void drv_cli_render_job_progress(json_object *job, int bar_width, GString *out)
{
    json_object *m = s_get(job, "migrate");
    json_object *p = s_get(m, "progress");
    const char *phase = s_str(m, "phase") ? s_str(m, "phase") : s_str(job, "state");
    uint64_t total = s_u64(p, "data_total"), remaining = s_u64(p, "data_remaining");
    uint64_t bps = s_u64(p, "memory_bps");
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
    g_autofree char *rem = s_bytes(remaining);
    g_string_append_printf(out, "%3u%%  %.1f MiB/s  remaining %s", pct,
                           (double)bps / (1024.0 * 1024.0), rem);
    if (bps > 0) {
        g_autofree char *eta = s_ms(remaining * 1000 / bps);
        g_string_append_printf(out, "  ETA %s", eta);
    }
    g_string_append_printf(out, "  (%s, iteration %" PRIu64 ")", phase, s_u64(p, "iteration"));
}

void drv_cli_render_job_outcome(json_object *job, GString *out)
{
    json_object *m = s_get(job, "migrate");
    const char *state = s_str(job, "state") ? s_str(job, "state") : "?";
    g_autofree char *total = s_ms(s_u64(job, "updated_ms") - s_u64(job, "created_ms"));
    if (m == NULL) {
        g_string_append_printf(out, "Job %s %s%s%s\n", s_str(job, "id") ?: "?", state,
                               s_str(job, "error") ? ": " : "", s_str(job, "error") ?: "");
        return;
    }
    g_string_append_printf(out, "Migration of %s from %s to %s %s in %s", s_str(m, "domain") ?: "?",
                           s_str(m, "source") ?: "?", s_str(m, "destination") ?: "?", state, total);
    if (strcmp(state, "succeeded") == 0) {
        json_object *res = s_get(m, "result");
        g_autofree char *down = s_ms(s_u64(res, "downtime_ms"));
        g_autofree char *mig = s_ms(s_u64(res, "time_ms"));
        g_autofree char *bytes = s_bytes(s_u64(res, "bytes"));
        g_string_append_printf(out, " (downtime %s, migration %s, %s transferred%s)\n", down, mig,
                               bytes, s_bool(res, "postcopy_used") ? ", post-copy" : "");
    } else if (s_str(job, "error") == NULL && strcmp(state, "cancelled") == 0) {
        g_string_append_c(out, '\n'); /* an operator's cancel needs no reason */
    } else {
        g_string_append_printf(out, ": %s\n", s_str(job, "error") ?: "no reason given");
    }
}
