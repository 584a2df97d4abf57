/* stats_render.c — `drover host stats`, `drover domain stats` and `drover cluster balance` for
 * people (render.h): the
 * newest sample and the window's averages; "unknown" with the reason when nothing fresh is known.
 * CPU figures are CPUs' worth (1.00 = one CPU) for domains and percentages for hosts. */
#include "render.h"

#include "json_get.h"
#include "config.h"

#include <inttypes.h>

static void s_kv(GString *out, const char *k, const char *v)
{
    g_string_append_printf(out, "%-18s %s\n", k, v != NULL ? v : "-");
}

static char *s_num(json_object *o, const char *key, const char *fmt, double scale)
{
    json_object *v = drv_json_get(o, key);
    if (v == NULL ||
        (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)))
        return g_strdup("-");
    return g_strdup_printf(fmt, json_object_get_double(v) * scale);
}

static char *s_kib(json_object *o, const char *key)
{
    json_object *v = drv_json_get(o, key);
    return v != NULL ? drv_format_size_kib(drv_json_get_u64(o, key, 0)) : g_strdup("-");
}

static bool s_unknown(json_object *doc, const char *key, GString *out)
{
    if (drv_json_get_bool(doc, "known", true))
        return false;
    g_string_append_printf(out, "%s: statistics unknown (%s)\n", drv_json_get_str(doc, key, "?"),
                           drv_json_get_str(doc, "reason", "no fresh sample"));
    return true;
}

static void s_domain_row(drv_cli_table *t, json_object *d, const char *host)
{
    bool known = drv_json_get_bool(d, "rates_known", false);
    g_autofree char *cpu = known ? s_num(d, "cpu", "%.2f", 1) : g_strdup("unknown");
    g_autofree char *steal = known ? s_num(d, "steal", "%.2f", 1) : g_strdup("unknown");
    g_autofree char *vcpus = g_strdup_printf("%" PRId64, drv_json_get_int(d, "vcpus", 0));
    g_autofree char *mem = s_kib(d, "balloon_current_kib");
    g_autofree char *rd = known ? s_num(d, "block_read_bps", "%.0f", 1) : g_strdup("-");
    g_autofree char *wr = known ? s_num(d, "block_write_bps", "%.0f", 1) : g_strdup("-");
    g_autofree char *rx = known ? s_num(d, "net_rx_bps", "%.0f", 1) : g_strdup("-");
    g_autofree char *tx = known ? s_num(d, "net_tx_bps", "%.0f", 1) : g_strdup("-");
    const char *cells[] = {
        drv_json_get_str(d, "name", "?"), host, vcpus, cpu, steal, mem, rd, wr, rx, tx};
    drv_cli_table_add(t, cells);
}

static const char *const s_dom_headers[] = {"DOMAIN",     "HOST",      "VCPUS",      "CPU",
                                            "STEAL",      "MEMORY",    "BLK-RD-B/S", "BLK-WR-B/S",
                                            "NET-RX-B/S", "NET-TX-B/S"};

void drv_cli_render_host_stats(json_object *doc, GString *out)
{
    if (s_unknown(doc, "host", out))
        return;
    const char *host = drv_json_get_str(doc, "host", "?");
    s_kv(out, "Host", host);
    g_autofree char *age = s_num(doc, "age_ms", "%.1f s ago", 0.001);
    g_autofree char *interval = s_num(doc, "interval_ms", "every %.1f s", 0.001);
    g_autofree char *when = g_strdup_printf("%s (%s)", age, interval);
    s_kv(out, "Sampled", when);
    g_autofree char *cpus = g_strdup_printf("%" PRId64, drv_json_get_int(doc, "cpus", 0));
    s_kv(out, "CPUs", cpus);
    if (drv_json_get_bool(doc, "cpu_known", false)) {
        g_autofree char *busy = s_num(doc, "cpu_busy", "%.1f%%", 100);
        g_autofree char *io = s_num(doc, "cpu_iowait", "%.1f%%", 100);
        g_autofree char *st = s_num(doc, "cpu_steal", "%.1f%%", 100);
        g_autofree char *line = g_strdup_printf("%s busy, %s iowait, %s steal", busy, io, st);
        s_kv(out, "CPU", line);
    } else {
        s_kv(out, "CPU", "unknown (no rate yet)");
    }
    g_autofree char *win = s_num(doc, "cpu_busy_window", "%.1f%%", 100);
    g_autofree char *winline = g_strdup_printf("%s busy over %" PRId64 " samples", win,
                                               drv_json_get_int(doc, "window_samples", 0));
    s_kv(out, "CPU (window)", winline);
    g_autofree char *avail = s_kib(doc, "memory_available_kib");
    g_autofree char *total = s_kib(doc, "memory_total_kib");
    g_autofree char *mem = g_strdup_printf("%s available of %s", avail, total);
    s_kv(out, "Memory", mem);
    g_autofree char *l1 = s_num(doc, "load1", "%.2f", 1);
    g_autofree char *l5 = s_num(doc, "load5", "%.2f", 1);
    g_autofree char *l15 = s_num(doc, "load15", "%.2f", 1);
    g_autofree char *load = g_strdup_printf("%s %s %s", l1, l5, l15);
    s_kv(out, "Load", load);
    json_object *doms = drv_json_get(doc, "domains");
    size_t n = doms != NULL ? json_object_array_length(doms) : 0;
    if (n == 0) {
        g_string_append(out, "\nno domains running\n");
        return;
    }
    g_string_append_c(out, '\n');
    drv_cli_table *t = drv_cli_table_new(s_dom_headers, G_N_ELEMENTS(s_dom_headers));
    for (size_t i = 0; i < n; i++)
        s_domain_row(t, json_object_array_get_idx(doms, i), host);
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

void drv_cli_render_domain_stats(json_object *doc, GString *out)
{
    if (s_unknown(doc, "name", out))
        return;
    s_kv(out, "Domain", drv_json_get_str(doc, "name", "?"));
    s_kv(out, "Host", drv_json_get_str(doc, "host", "?"));
    g_autofree char *age = s_num(doc, "age_ms", "%.1f s ago", 0.001);
    s_kv(out, "Sampled", age);
    g_autofree char *vcpus = g_strdup_printf("%" PRId64, drv_json_get_int(doc, "vcpus", 0));
    s_kv(out, "vCPUs", vcpus);
    if (drv_json_get_bool(doc, "rates_known", false)) {
        g_autofree char *cpu = s_num(doc, "cpu", "%.2f", 1);
        g_autofree char *st = s_num(doc, "steal", "%.2f", 1);
        g_autofree char *line = g_strdup_printf("%s CPUs used, %s CPUs waiting (steal)", cpu, st);
        s_kv(out, "CPU", line);
    } else {
        s_kv(out, "CPU", "unknown (no rate yet, or its counters were reset)");
    }
    g_autofree char *wc = s_num(doc, "cpu_window", "%.2f", 1);
    g_autofree char *ws = s_num(doc, "steal_window", "%.2f", 1);
    g_autofree char *wline = g_strdup_printf("%s used, %s steal over %" PRId64 " samples", wc, ws,
                                             drv_json_get_int(doc, "window_samples", 0));
    s_kv(out, "CPU (window)", wline);
    g_autofree char *cur = s_kib(doc, "balloon_current_kib");
    g_autofree char *rss = s_kib(doc, "balloon_rss_kib");
    g_autofree char *mem = g_strdup_printf("%s (balloon), %s resident", cur, rss);
    s_kv(out, "Memory", mem);
    g_autofree char *rd = s_num(doc, "block_read_bps", "%.0f B/s", 1);
    g_autofree char *wr = s_num(doc, "block_write_bps", "%.0f B/s", 1);
    g_autofree char *blk = g_strdup_printf("read %s, write %s", rd, wr);
    s_kv(out, "Disk", blk);
    g_autofree char *rx = s_num(doc, "net_rx_bps", "%.0f B/s", 1);
    g_autofree char *tx = s_num(doc, "net_tx_bps", "%.0f B/s", 1);
    g_autofree char *net = g_strdup_printf("rx %s, tx %s", rx, tx);
    s_kv(out, "Network", net);
}

void drv_cli_render_balance_plan(json_object *doc, GString *out)
{
    g_string_append_printf(out, "%s\n", drv_json_get_str(doc, "summary", ""));
    g_autofree char *before = s_num(doc, "score_before", "%.3f", 1);
    g_autofree char *after = s_num(doc, "score_after", "%.3f", 1);
    g_autofree char *cb = s_num(doc, "cpu_score_before", "%.3f", 1);
    g_autofree char *ca = s_num(doc, "cpu_score_after", "%.3f", 1);
    g_autofree char *mb = s_num(doc, "memory_score_before", "%.3f", 1);
    g_autofree char *ma = s_num(doc, "memory_score_after", "%.3f", 1);
    g_autofree char *score =
        g_strdup_printf("%s → %s (cpu %s → %s, memory %s → %s)", before, after, cb, ca, mb, ma);
    s_kv(out, "Objective", drv_json_get_str(doc, "objective", "?"));
    s_kv(out, "Score", score);
    g_autofree char *scored = g_strdup_printf("%" PRId64 " (hosts with a fresh load sample)",
                                              drv_json_get_int(doc, "scored_hosts", 0));
    s_kv(out, "Scored hosts", scored);
    json_object *moves = drv_json_get(doc, "moves");
    size_t n = moves != NULL ? json_object_array_length(moves) : 0;
    if (n > 0) {
        static const char *const headers[] = {"DOMAIN", "FROM", "TO", "DEMAND", "GAIN", "WHY"};
        drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_array_get_idx(moves, i);
            g_autofree char *demand = s_num(m, "demand", "%.2f", 1);
            g_autofree char *gain = s_num(m, "gain", "%.3f", 1);
            const char *cells[] = {drv_json_get_str(m, "domain", "?"),
                                   drv_json_get_str(m, "source", "?"),
                                   drv_json_get_str(m, "dest", "?"),
                                   demand,
                                   gain,
                                   drv_json_get_str(m, "why", "")};
            drv_cli_table_add(t, cells);
        }
        g_string_append_c(out, '\n');
        drv_cli_table_render(t, out);
        drv_cli_table_destroy(&t);
    }
    json_object *refused = drv_json_get(doc, "refused");
    size_t nr = refused != NULL ? json_object_array_length(refused) : 0;
    if (nr > 0)
        g_string_append(out, "\nRefused by a rule:\n");
    for (size_t i = 0; i < nr; i++)
        g_string_append_printf(out, "  %s\n",
                               json_object_get_string(json_object_array_get_idx(refused, i)));
}

/* "[#####     ]" for a fraction 0..1 (clamped), width cells. */
static char *s_bar(double f, int width)
{
    if (!(f >= 0))
        f = 0;
    if (f > 1)
        f = 1;
    int full = (int)(f * width + 0.5);
    GString *b = g_string_new("[");
    for (int i = 0; i < width; i++)
        g_string_append_c(b, i < full ? '#' : ' ');
    g_string_append_c(b, ']');
    return g_string_free(b, FALSE);
}

typedef struct {
    json_object *dom;
    const char *host;
    double load;
} s_top_dom;

static int s_top_cmp(gconstpointer a, gconstpointer b)
{
    const s_top_dom *x = a, *y = b;
    if (x->load != y->load)
        return x->load < y->load ? 1 : -1;
    return g_strcmp0(drv_json_get_str(x->dom, "name", ""), drv_json_get_str(y->dom, "name", ""));
}

static double s_dbl(json_object *o, const char *key)
{
    json_object *v = drv_json_get(o, key);
    return v != NULL ? json_object_get_double(v) : 0;
}

void drv_cli_render_top(json_object *doc, unsigned max_domains, GString *out)
{
    static const char *const hh[] = {"HOST", "CPUS", "CPU", "", "MEMORY", "", "LOAD", "DOMAINS"};
    drv_cli_table *t = drv_cli_table_new(hh, G_N_ELEMENTS(hh));
    GArray *doms = g_array_new(FALSE, TRUE, sizeof(s_top_dom));
    json_object *hosts = drv_json_get(doc, "hosts");
    size_t n = hosts != NULL ? json_object_array_length(hosts) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *h = json_object_array_get_idx(hosts, i);
        const char *id = drv_json_get_str(h, "host", "?");
        if (!drv_json_get_bool(h, "known", false)) {
            const char *cells[] = {id,  "-", "unknown", drv_json_get_str(h, "reason", ""),
                                   "-", "",  "-",       "-"};
            drv_cli_table_add(t, cells);
            continue;
        }
        double busy = s_dbl(h, "cpu_busy");
        bool cpu_known = drv_json_get_bool(h, "cpu_known", false);
        double total = s_dbl(h, "memory_total_kib"), avail = s_dbl(h, "memory_available_kib");
        double used = total > 0 ? (total - avail) / total : 0;
        g_autofree char *cpus = g_strdup_printf("%" PRId64, drv_json_get_int(h, "cpus", 0));
        g_autofree char *cpu = cpu_known ? g_strdup_printf("%.0f%%", busy * 100) : g_strdup("?");
        g_autofree char *cbar = cpu_known ? s_bar(busy, 20) : g_strdup("");
        g_autofree char *mem = total > 0 ? g_strdup_printf("%.0f%%", used * 100) : g_strdup("?");
        g_autofree char *mbar = total > 0 ? s_bar(used, 20) : g_strdup("");
        g_autofree char *load = s_num(h, "load1", "%.2f", 1);
        json_object *hd = drv_json_get(h, "domains");
        size_t nd = hd != NULL ? json_object_array_length(hd) : 0;
        g_autofree char *ndom = g_strdup_printf("%zu", nd);
        const char *cells[] = {id, cpus, cpu, cbar, mem, mbar, load, ndom};
        drv_cli_table_add(t, cells);
        for (size_t j = 0; j < nd; j++) {
            json_object *d = json_object_array_get_idx(hd, j);
            s_top_dom x = {.dom = d,
                           .host = id,
                           .load = drv_json_get_bool(d, "rates_known", false)
                                       ? s_dbl(d, "cpu") + s_dbl(d, "steal")
                                       : -1};
            g_array_append_val(doms, x);
        }
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
    g_array_sort(doms, s_top_cmp);
    if (doms->len > 0 && max_domains > 0) {
        drv_cli_table *td = drv_cli_table_new(s_dom_headers, G_N_ELEMENTS(s_dom_headers));
        for (guint i = 0; i < doms->len && i < max_domains; i++) {
            const s_top_dom *x = &g_array_index(doms, s_top_dom, i);
            s_domain_row(td, x->dom, x->host);
        }
        g_string_append_c(out, '\n');
        drv_cli_table_render(td, out);
        drv_cli_table_destroy(&td);
    }
    g_array_unref(doms);
}
