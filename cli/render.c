/* render.c — see render.h. */
#include "render.h"
#include "config.h"
#include "json_get.h"

#include "jobs.h"

#include <inttypes.h>
#include <string.h>

/* ------------------------------------------------------------------ table */

struct drv_cli_table {
    size_t n_columns;
    GPtrArray *rows; /* char ** (n_columns strings each, g_strfreev) ; row 0 = headers */
};

drv_cli_table *drv_cli_table_new(const char *const *headers, size_t n_columns)
{
    drv_cli_table *self = g_new0(drv_cli_table, 1);
    self->n_columns = n_columns;
    self->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    drv_cli_table_add(self, headers);
    return self;
}

void drv_cli_table_add(drv_cli_table *self, const char *const *cells)
{
    char **row = g_new0(char *, self->n_columns + 1);
    for (size_t i = 0; i < self->n_columns; i++)
        row[i] = g_strdup(cells[i] != NULL ? cells[i] : "-");
    g_ptr_array_add(self->rows, row);
}

void drv_cli_table_render(const drv_cli_table *self, GString *out)
{
    size_t *width = g_new0(size_t, self->n_columns);
    for (guint r = 0; r < self->rows->len; r++) {
        char **row = g_ptr_array_index(self->rows, r);
        for (size_t c = 0; c < self->n_columns; c++)
            width[c] = MAX(width[c], (size_t)g_utf8_strlen(row[c], -1));
    }
    for (guint r = 0; r < self->rows->len; r++) {
        char **row = g_ptr_array_index(self->rows, r);
        GString *line = g_string_new(NULL);
        for (size_t c = 0; c < self->n_columns; c++) {
            g_string_append(line, row[c]);
            if (c + 1 < self->n_columns) {
                size_t pad = width[c] - (size_t)g_utf8_strlen(row[c], -1) + 2;
                for (size_t i = 0; i < pad; i++)
                    g_string_append_c(line, ' ');
            }
        }
        while (line->len > 0 && line->str[line->len - 1] == ' ')
            g_string_truncate(line, line->len - 1);
        g_string_append_printf(out, "%s\n", line->str);
        g_string_free(line, TRUE);
    }
    g_free(width);
}

void drv_cli_table_destroy(drv_cli_table **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_ptr_array_unref((*self_p)->rows);
    g_free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ small helpers */

char *drv_cli_render_json(json_object *doc)
{
    const char *s = json_object_to_json_string_ext(
        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    return g_strdup_printf("%s\n", s);
}

static bool s_has_num(json_object *o, const char *key)
{
    json_object *v = drv_json_get(o, key);
    return v != NULL &&
           (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double) ||
            (json_object_is_type(v, json_type_string) &&
             g_ascii_isdigit(json_object_get_string(v)[0])));
}

/* Any scalar as text ("-" for missing/null); owned. */
static char *s_text(json_object *v)
{
    if (v == NULL || json_object_is_type(v, json_type_null))
        return g_strdup("-");
    if (json_object_is_type(v, json_type_string))
        return g_strdup(json_object_get_string(v));
    if (json_object_is_type(v, json_type_boolean))
        return g_strdup(json_object_get_boolean(v) ? "yes" : "no");
    if (json_object_is_type(v, json_type_array)) {
        GString *s = g_string_new(NULL);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            g_autofree char *t = s_text(json_object_array_get_idx(v, i));
            g_string_append_printf(s, "%s%s", i ? " " : "", t);
        }
        if (s->len == 0)
            g_string_append_c(s, '-');
        return g_string_free(s, FALSE);
    }
    return g_strdup(
        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static char *s_field(json_object *o, const char *key)
{
    return s_text(drv_json_get(o, key));
}

static char *s_size_field(json_object *o, const char *key)
{
    if (!s_has_num(o, key))
        return g_strdup("-");
    return drv_format_size_kib(drv_json_get_u64(o, key, 0));
}

static char *s_time_ms(int64_t ms)
{
    if (ms <= 0)
        return g_strdup("-");
    GDateTime *t = g_date_time_new_from_unix_utc(ms / 1000);
    if (t == NULL)
        return g_strdup("-");
    char *s = g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC");
    g_date_time_unref(t);
    return s;
}

/* "Key:" padded to a fixed column, then the value. */
static void s_kv(GString *out, const char *key, const char *value)
{
    g_autofree char *k = g_strdup_printf("%s:", key);
    g_string_append_printf(out, "%-16s %s\n", k, value != NULL && value[0] ? value : "-");
}

static void s_kv_take(GString *out, const char *key, char *value)
{
    s_kv(out, key, value);
    g_free(value);
}

static const char *s_yes_no(bool b)
{
    return b ? "yes" : "no";
}

/* ------------------------------------------------------------------ generic view */

static void s_generic(json_object *doc, const char *prefix, GString *out);

/* "hosts_reachable" → "Hosts reachable"; nested keys keep their parent: "Config vcpu ratio". */
static char *s_label(const char *prefix, const char *key)
{
    char *l = prefix ? g_strdup_printf("%s %s", prefix, key) : g_strdup(key);
    if (g_str_has_suffix(l, "_kib"))
        l[strlen(l) - 4] = '\0';
    g_strdelimit(l, "_", ' ');
    l[0] = g_ascii_toupper(l[0]);
    return l;
}

/* An array of objects as a table whose columns are the scalar keys of its first element. */
static void s_generic_table(json_object *arr, GString *out)
{
    json_object *first = json_object_array_get_idx(arr, 0);
    GPtrArray *keys = g_ptr_array_new();
    json_object_object_foreach(first, k, v)
    {
        if (!json_object_is_type(v, json_type_object))
            g_ptr_array_add(keys, k);
    }
    if (keys->len == 0) {
        g_ptr_array_free(keys, TRUE);
        return;
    }
    const char **headers = g_new0(const char *, keys->len);
    char **upper = g_new0(char *, keys->len + 1);
    for (guint i = 0; i < keys->len; i++) {
        upper[i] = g_ascii_strup(g_ptr_array_index(keys, i), -1);
        headers[i] = upper[i];
    }
    drv_cli_table *t = drv_cli_table_new(headers, keys->len);
    for (size_t r = 0; r < json_object_array_length(arr); r++) {
        json_object *row = json_object_array_get_idx(arr, r);
        char **cells = g_new0(char *, keys->len + 1);
        for (guint i = 0; i < keys->len; i++) {
            const char *key = g_ptr_array_index(keys, i);
            cells[i] = g_str_has_suffix(key, "_kib") ? s_size_field(row, key) : s_field(row, key);
        }
        drv_cli_table_add(t, (const char *const *)cells);
        g_strfreev(cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
    g_strfreev(upper);
    g_free(headers);
    g_ptr_array_free(keys, TRUE);
}

static void s_generic(json_object *doc, const char *prefix, GString *out)
{
    if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
        g_autofree char *t = s_text(doc);
        g_string_append_printf(out, "%s\n", t);
        return;
    }
    json_object_object_foreach(doc, key, val)
    {
        g_autofree char *label = s_label(prefix, key);
        if (val != NULL && json_object_is_type(val, json_type_object)) {
            s_generic(val, label, out);
        } else if (val != NULL && json_object_is_type(val, json_type_array) &&
                   json_object_array_length(val) > 0 &&
                   json_object_is_type(json_object_array_get_idx(val, 0), json_type_object)) {
            g_string_append_printf(out, "%s:\n", label);
            s_generic_table(val, out);
        } else if (g_str_has_suffix(key, "_kib") && s_has_num(doc, key)) {
            s_kv_take(out, label, s_size_field(doc, key));
        } else {
            s_kv_take(out, label, s_text(val));
        }
    }
}

/* ------------------------------------------------------------------ hosts */

/* After a paged list (controller/api_list.c): how many of the matches were shown and the token
 * for the next page; nothing when the list is whole. */
static void s_page_hint(json_object *doc, const char *what, GString *out)
{
    const char *next = drv_json_get_str(doc, "continue", NULL);
    if (next == NULL)
        return;
    json_object *items = drv_json_get(doc, what);
    size_t shown = items != NULL ? json_object_array_length(items) : 0;
    g_string_append_printf(out, "(%zu of %" PRId64 " %s shown; next page: --continue %s)\n", shown,
                           drv_json_get_int(doc, "total", 0), what, next);
}

static void s_host_list(json_object *doc, GString *out)
{
    static const char *const headers[] = {
        "ID", "STATE", "REACHABLE", "CPUS", "MEM(free/total)", "VCPUS(alloc)", "DOMAINS"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *hosts = drv_json_get(doc, "hosts");
    for (size_t i = 0; hosts != NULL && i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i);
        g_autofree char *cpus = s_field(h, "cpus");
        g_autofree char *free_kib = s_size_field(h, "free_memory_kib");
        g_autofree char *total_kib = s_size_field(h, "memory_kib");
        g_autofree char *mem = g_strdup_printf("%s / %s", free_kib, total_kib);
        g_autofree char *vcpus = s_field(h, "allocated_vcpus");
        g_autofree char *doms = s_field(h, "domains");
        /* reachable, but what it reports is not the truth: say why */
        const char *inv = drv_json_get_str(h, "inventory_reason", NULL);
        bool up = drv_json_get_bool(h, "reachable", false);
        g_autofree char *reach =
            up && inv != NULL ? g_strdup_printf("yes (%s)", inv) : g_strdup(s_yes_no(up));
        const char *cells[] = {drv_json_get_str(h, "id", NULL),
                               drv_json_get_str(h, "state", NULL),
                               reach,
                               cpus,
                               mem,
                               vcpus,
                               doms};
        drv_cli_table_add(t, cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
    s_page_hint(doc, "hosts", out);
}

/* A host's labels as "rack=r1 zone=a" (owned; "" when none). */
static char *s_labels_text(json_object *h)
{
    json_object *labels = drv_json_get(h, "labels");
    GString *l = g_string_new(NULL);
    if (labels != NULL && json_object_is_type(labels, json_type_object)) {
        json_object_object_foreach(labels, k, v)
        {
            g_autofree char *t = s_text(v);
            g_string_append_printf(l, "%s%s=%s", l->len ? " " : "", k, t);
        }
    }
    return g_string_free(l, FALSE);
}

static void s_host(json_object *h, GString *out)
{
    s_kv(out, "ID", drv_json_get_str(h, "id", NULL));
    s_kv(out, "State", drv_json_get_str(h, "state", NULL));
    s_kv(out, "Reachable", s_yes_no(drv_json_get_bool(h, "reachable", false)));
    if (drv_json_get_str(h, "inventory_reason", NULL) != NULL)
        s_kv_take(out, "Inventory",
                  g_strdup_printf("not authoritative (%s)",
                                  drv_json_get_str(h, "inventory_reason", NULL)));
    s_kv(out, "Arch", drv_json_get_str(h, "arch", NULL));
    s_kv_take(out, "CPUs", s_field(h, "cpus"));
    g_autofree char *total = s_size_field(h, "memory_kib");
    g_autofree char *free_kib = s_size_field(h, "free_memory_kib");
    g_autofree char *reserved = s_size_field(h, "reserved_memory_kib");
    s_kv_take(out, "Memory",
              g_strdup_printf("%s (free %s, reserved for the host %s)", total, free_kib, reserved));
    g_autofree char *alloc_mem = s_size_field(h, "allocated_memory_kib");
    s_kv_take(out, "Allocated",
              g_strdup_printf("%" PRId64 " vCPUs, %s", drv_json_get_int(h, "allocated_vcpus", 0),
                              alloc_mem));
    json_object *names = drv_json_get(h, "domain_names");
    if (names != NULL) {
        g_autofree char *list = s_text(names);
        s_kv_take(out, "Domains",
                  g_strdup_printf("%" PRId64 " (%s)", drv_json_get_int(h, "domains", 0), list));
    } else {
        s_kv_take(out, "Domains", s_field(h, "domains"));
    }
    s_kv_take(out, "CPU",
              g_strdup_printf("%s %s", drv_json_get_str(h, "cpu_vendor", "-"),
                              drv_json_get_str(h, "cpu_model", "-")));
    s_kv_take(out, "CPU features", s_field(h, "cpu_features"));
    s_kv(out, "Hypervisor", drv_json_get_str(h, "hypervisor_type", NULL));
    int64_t lv = drv_json_get_int(h, "libvirt_version", 0),
            hv = drv_json_get_int(h, "hypervisor_version", 0);
    s_kv_take(out, "Versions",
              g_strdup_printf("libvirt %" PRId64 ".%" PRId64 ".%" PRId64 ", hypervisor %" PRId64
                              ".%" PRId64 ".%" PRId64,
                              lv / 1000000, lv / 1000 % 1000, lv % 1000, hv / 1000000,
                              hv / 1000 % 1000, hv % 1000));
    s_kv(out, "Host UUID", drv_json_get_str(h, "host_uuid", NULL));
    s_kv(out, "Libvirt URI", drv_json_get_str(h, "libvirt_uri", NULL));
    s_kv(out, "Migration URI", drv_json_get_str(h, "migration_uri", NULL));
    json_object *pools = drv_json_get(h, "pools");
    GString *p = g_string_new(NULL);
    for (size_t i = 0; pools != NULL && i < json_object_array_length(pools); i++) {
        json_object *pool = json_object_array_get_idx(pools, i);
        g_string_append_printf(
            p, "%s%s (%s %s%s)", i ? ", " : "", drv_json_get_str(pool, "name", "?"),
            drv_json_get_str(pool, "type", "?"), drv_json_get_str(pool, "path", "?"),
            drv_json_get_bool(pool, "active", false) ? "" : ", inactive");
    }
    s_kv(out, "Pools", p->str);
    g_string_free(p, TRUE);
    g_autofree char *labels = s_labels_text(h);
    s_kv(out, "Labels", labels);
    s_kv_take(out, "Last seen", s_time_ms(drv_json_get_int(h, "last_seen_ms", 0)));
    s_kv_take(out, "Registered", s_time_ms(drv_json_get_int(h, "registered_at_ms", 0)));
    json_object *skew = drv_json_get(h, "clock_skew_ms");
    if (skew != NULL) {
        int64_t ms = json_object_get_int64(skew);
        int64_t abs_ms = ms < 0 ? -ms : ms;
        s_kv_take(out, "Clock",
                  abs_ms < 1000
                      ? g_strdup("within 1 s of the controller's")
                      : g_strdup_printf("%.1f s %s the controller's (set up NTP)",
                                        (double)abs_ms / 1000.0, ms > 0 ? "ahead of" : "behind"));
    }
}

/* ------------------------------------------------------------------ domains */

/* "shut off (crashed)", "saved (managed save)", "unknown (libvirt disconnected)": the state with
 * its reason in words, never a bare state when a reason is known. */
static char *s_state_text(json_object *d)
{
    const char *state = drv_json_get_str(d, "state", "-");
    const char *reason = drv_json_get_str(d, "reason", NULL);
    return reason && reason[0] ? g_strdup_printf("%s (%s)", state, reason) : g_strdup(state);
}

/* "-", "on", "on p5", "waiting: no host has ..." (owned). */
static char *s_ha_text(json_object *d)
{
    json_object *ha = drv_json_get(d, "ha");
    if (ha == NULL || !drv_json_get_bool(ha, "enabled", false))
        return g_strdup("-");
    const char *waiting = drv_json_get_str(d, "ha_waiting", NULL);
    int64_t prio = drv_json_get_int(ha, "priority", 0);
    if (waiting != NULL)
        return g_strdup_printf("ha-waiting: %s", waiting);
    return prio != 0 ? g_strdup_printf("on p%" PRId64, prio) : g_strdup("on");
}

static void s_domain_list(json_object *doc, GString *out)
{
    static const char *const headers[] = {"NAME",   "STATE",   "HOST", "VCPUS",
                                          "MEMORY", "DESIRED", "HA"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *doms = drv_json_get(doc, "domains");
    GString *drift = g_string_new(NULL);
    for (size_t i = 0; doms != NULL && i < json_object_array_length(doms); i++) {
        json_object *d = json_object_array_get_idx(doms, i);
        g_autofree char *vcpus = s_field(d, "vcpus");
        g_autofree char *mem = s_size_field(d, "memory_kib");
        g_autofree char *st = s_state_text(d);
        g_autofree char *ha = s_ha_text(d);
        const char *cells[] = {drv_json_get_str(d, "name", NULL),
                               st,
                               drv_json_get_str(d, "host", NULL),
                               vcpus,
                               mem,
                               drv_json_get_str(d, "desired_state", NULL),
                               ha};
        drv_cli_table_add(t, cells);
        if (drv_json_get_str(d, "drift", NULL) != NULL)
            g_string_append_printf(drift, "drift: %s: %s\n", drv_json_get_str(d, "name", "?"),
                                   drv_json_get_str(d, "drift", NULL));
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
    g_string_append(out, drift->str);
    g_string_free(drift, TRUE);
    s_page_hint(doc, "domains", out);
}

static void s_domain_info(json_object *d, GString *out)
{
    s_kv(out, "Name", drv_json_get_str(d, "name", NULL));
    s_kv(out, "UUID", drv_json_get_str(d, "uuid", NULL));
    s_kv_take(out, "State", s_state_text(d));
    s_kv(out, "Desired state", drv_json_get_str(d, "desired_state", NULL));
    s_kv(out, "Host", drv_json_get_str(d, "host", NULL));
    s_kv_take(out, "vCPUs", s_field(d, "vcpus"));
    s_kv_take(out, "Memory", s_size_field(d, "memory_kib"));
    s_kv(out, "Autostart", drv_json_get_bool(d, "autostart", false) ? "enable" : "disable");
    s_kv(out, "Persistent", s_yes_no(!drv_json_get_bool(d, "transient", false)));
    s_kv_take(out, "Revision",
              s_field(d, drv_json_get(d, "xml_revision") ? "xml_revision" : "revision"));
    if (drv_json_get(d, "history_len") != NULL)
        s_kv_take(out, "History", s_field(d, "history_len"));
    s_kv_take(out, "CPU features", s_field(d, "cpu_features"));
    s_kv(out, "Affinity", drv_json_get_str(d, "affinity_group", NULL));
    s_kv(out, "Anti-affinity", drv_json_get_str(d, "anti_affinity_group", NULL));
    s_kv(out, "Drift", drv_json_get_str(d, "drift", NULL));
    json_object *ha = drv_json_get(d, "ha");
    if (ha != NULL && drv_json_get_bool(ha, "enabled", false))
        s_kv_take(out, "HA",
                  g_strdup_printf(
                      "enabled, priority %" PRId64 ", restart limit %" PRId64 ", restarts %" PRId64,
                      drv_json_get_int(ha, "priority", 0), drv_json_get_int(ha, "restart_limit", 0),
                      drv_json_get_int(ha, "restarts", 0)));
    else
        s_kv(out, "HA", "disabled");
    s_kv(out, "HA waiting", drv_json_get_str(d, "ha_waiting", NULL));
}

static void s_history(json_object *doc, GString *out)
{
    static const char *const headers[] = {"REVISION", "TIME", "SHA256", "COMMENT"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *revs = drv_json_get(doc, "revisions");
    for (size_t i = 0; revs != NULL && i < json_object_array_length(revs); i++) {
        json_object *r = json_object_array_get_idx(revs, i);
        g_autofree char *rev = s_field(r, "revision");
        g_autofree char *time = s_time_ms(drv_json_get_int(r, "time_ms", 0));
        g_autofree char *sha = g_strndup(drv_json_get_str(r, "xml_sha256", "-"), 12);
        const char *cells[] = {rev, time, sha, drv_json_get_str(r, "comment", NULL)};
        drv_cli_table_add(t, cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

static void s_snapshot_list(json_object *doc, GString *out)
{
    static const char *const headers[] = {"NAME", "CREATION TIME", "STATE", "PARENT", "CURRENT"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *snaps = drv_json_get(doc, "snapshots");
    for (size_t i = 0; snaps != NULL && i < json_object_array_length(snaps); i++) {
        json_object *s = json_object_array_get_idx(snaps, i);
        g_autofree char *time = s_time_ms(drv_json_get_int(s, "creation_time", 0) * 1000);
        const char *parent = drv_json_get_str(s, "parent", NULL);
        const char *cells[] = {drv_json_get_str(s, "name", NULL), time,
                               drv_json_get_str(s, "state", NULL),
                               parent && parent[0] ? parent : NULL,
                               drv_json_get_bool(s, "current", false) ? "yes" : "no"};
        drv_cli_table_add(t, cells);
    }
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

/* ------------------------------------------------------------------ cluster */

static void s_cpu_baseline(const drv_cli_invocation *inv, json_object *doc, GString *out)
{
    if (drv_cli_invocation_local(inv, "xml") != NULL) {
        const char *xml = drv_json_get_str(doc, "cpu_xml", "");
        g_string_append_printf(out, "%s%s", xml, g_str_has_suffix(xml, "\n") ? "" : "\n");
        return;
    }
    json_object *f = drv_json_get(doc, "features");
    if (drv_json_get_str(doc, "model", NULL) != NULL)
        s_kv(out, "Model", drv_json_get_str(doc, "model", NULL));
    if (drv_json_get_str(doc, "cpu_xml", NULL) == NULL &&
        drv_json_get_str(doc, "error", NULL) != NULL)
        s_kv_take(out, "CPU element",
                  g_strdup_printf("none: %s", drv_json_get_str(doc, "error", NULL)));
    s_kv_take(out, "Features",
              g_strdup_printf("%zu", f != NULL ? json_object_array_length(f) : (size_t)0));
    for (size_t i = 0; f != NULL && i < json_object_array_length(f); i++) {
        g_autofree char *t = s_text(json_object_array_get_idx(f, i));
        g_string_append_printf(out, "  %s\n", t);
    }
}

/* ------------------------------------------------------------------ messages */

static const char *s_arg(const drv_cli_invocation *inv, guint i)
{
    return i < inv->args->len ? g_ptr_array_index(inv->args, i) : "?";
}

/* Expands {name}, {domain}, {host}, {revision}, {autostart}, {labels} ("k=v k=v"), {argN} and any
 * other member of the result document in the verb's template. */
static void s_message(const drv_cli_invocation *inv, json_object *doc, GString *out)
{
    const char *tpl = inv->verb->done ? inv->verb->done : "done";
    for (const char *p = tpl; *p != '\0';) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close == NULL) {
            g_string_append_c(out, *p++);
            continue;
        }
        g_autofree char *key = g_strndup(p + 1, (gsize)(close - p - 1));
        p = close + 1;
        if (g_str_has_prefix(key, "arg")) {
            char *end = NULL;
            const char *arg = s_arg(inv, (guint)g_ascii_strtoull(key + 3, &end, 10));
            if (strcmp(end, ":size") == 0) { /* a KiB argument shown as a size */
                g_autofree char *size = drv_format_size_kib(g_ascii_strtoull(arg, NULL, 10));
                g_string_append(out, size);
            } else {
                g_string_append(out, arg);
            }
        } else if (strcmp(key, "labels") == 0) {
            g_autofree char *l = s_labels_text(doc);
            g_string_append(out, l[0] ? l : "none");
        } else if (strcmp(key, "ha") == 0) {
            json_object *ha = drv_json_get(doc, "ha");
            if (ha != NULL && drv_json_get_bool(ha, "enabled", false))
                g_string_append_printf(out, "enabled, priority %" PRId64 ", restart limit %" PRId64,
                                       drv_json_get_int(ha, "priority", 0),
                                       drv_json_get_int(ha, "restart_limit", 0));
            else
                g_string_append(out, "disabled");
        } else if (strcmp(key, "autostart") == 0) {
            g_string_append(out,
                            drv_json_get_bool(doc, "autostart", false) ? "enabled" : "disabled");
        } else if (strcmp(key, "name") == 0 && drv_json_get(doc, "name") == NULL) {
            /* fall back on the NAME argument when the document does not say */
            g_string_append(out, inv->args->len ? s_arg(inv, 0) : "?");
        } else {
            g_autofree char *t = s_field(doc, key);
            g_string_append(out, strcmp(t, "-") == 0 ? "?" : t);
        }
    }
    g_string_append_c(out, '\n');
}

/* ------------------------------------------------------------------ capacity and drain plan */

/* The shape asked about, from the request options (the document does not repeat it). */
static char *s_shape(const drv_cli_invocation *inv)
{
    const char *vcpus = drv_cli_invocation_option(inv, "vcpus");
    const char *mem = drv_cli_invocation_option(inv, "memory_kib");
    const char *flags = drv_cli_invocation_option(inv, "flags");
    g_autofree char *size = drv_format_size_kib(mem ? g_ascii_strtoull(mem, NULL, 10) : 0);
    return g_strdup_printf("%s vCPUs, %s%s%s%s", vcpus ? vcpus : "?", size,
                           flags ? " (CPU features " : "", flags ? flags : "", flags ? ")" : "");
}

/* Scheduler capacity JSON (docs/scheduler.md): totals, N+1, hosts that may fail, a row per host. */
static void s_capacity(const drv_cli_invocation *inv, json_object *doc, GString *out)
{
    g_autofree char *shape = s_shape(inv);
    g_string_append_printf(out, "Domains of %s that fit: %" PRId64 "\n", shape,
                           drv_json_get_int(doc, "total", 0));
    if (drv_json_get(doc, "n_plus_one_total") != NULL) {
        if (!drv_json_get_bool(doc, "n_plus_one_now", false))
            g_string_append_printf(
                out, "Keeping N+1: 0 (the cluster already cannot absorb the loss of %s)\n",
                drv_json_get_str(doc, "n_plus_one_breaker", "one host"));
        else if (drv_json_get_str(doc, "n_plus_one_breaker", NULL) != NULL)
            g_string_append_printf(out,
                                   "Keeping N+1: %" PRId64 " (one more and the loss of %s could "
                                   "not be absorbed)\n",
                                   drv_json_get_int(doc, "n_plus_one_total", 0),
                                   drv_json_get_str(doc, "n_plus_one_breaker", NULL));
        else
            g_string_append_printf(out, "Keeping N+1: %" PRId64 "\n",
                                   drv_json_get_int(doc, "n_plus_one_total", 0));
    }
    if (drv_json_get(doc, "hosts_may_fail") != NULL)
        g_string_append_printf(out,
                               "Hosts that may be down at once with every domain still placed: "
                               "%" PRId64 "\n",
                               drv_json_get_int(doc, "hosts_may_fail", 0));
    static const char *const headers[] = {"HOST", "FITS", "LIMITED BY", "VCPUS FREE",
                                          "MEMORY FREE"};
    drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
    json_object *hosts = drv_json_get(doc, "hosts");
    for (size_t i = 0; hosts != NULL && i < json_object_array_length(hosts); i++) {
        json_object *h = json_object_array_get_idx(hosts, i);
        g_autofree char *fits = s_field(h, "fits");
        g_autofree char *limit =
            drv_json_get_str(h, "rejected_by", NULL) != NULL
                ? g_strdup_printf("%s: %s", drv_json_get_str(h, "limit", "filter"),
                                  drv_json_get_str(h, "rejected_by", NULL))
                : g_strdup(drv_json_get_str(h, "limit", NULL));
        g_autofree char *vcpus = s_field(h, "vcpus_free");
        int64_t mem = drv_json_get_int(h, "memory_free_kib", 0);
        g_autofree char *mem_s = drv_format_size_kib((uint64_t)(mem < 0 ? -mem : mem));
        g_autofree char *mem_signed = mem < 0 ? g_strdup_printf("-%s", mem_s) : g_strdup(mem_s);
        const char *cells[] = {drv_json_get_str(h, "host", NULL), fits, limit, vcpus, mem_signed};
        drv_cli_table_add(t, cells);
    }
    g_string_append_c(out, '\n');
    drv_cli_table_render(t, out);
    drv_cli_table_destroy(&t);
}

/* Scheduler drain-plan JSON: a row per domain (largest first), then what cannot move and why. */
static void s_drain_plan(json_object *doc, GString *out)
{
    json_object *steps = drv_json_get(doc, "steps");
    size_t n = steps != NULL ? json_object_array_length(steps) : 0;
    int64_t unmovable = drv_json_get_int(doc, "unmovable", 0);
    g_string_append_printf(
        out, "Drain plan for %s: %zu domain%s, %" PRId64 " can move, %" PRId64 " cannot\n",
        drv_json_get_str(doc, "host", "?"), n, n == 1 ? "" : "s", (int64_t)n - unmovable,
        unmovable);
    if (n > 0) {
        static const char *const headers[] = {"DOMAIN", "VCPUS", "MEMORY", "RUNNING",
                                              "DESTINATION"};
        drv_cli_table *t = drv_cli_table_new(headers, G_N_ELEMENTS(headers));
        for (size_t i = 0; i < n; i++) {
            json_object *st = json_object_array_get_idx(steps, i);
            g_autofree char *vcpus = s_field(st, "vcpus");
            g_autofree char *mem = s_size_field(st, "memory_kib");
            const char *cells[] = {drv_json_get_str(st, "domain", NULL), vcpus, mem,
                                   s_yes_no(drv_json_get_bool(st, "running", false)),
                                   drv_json_get_str(st, "dest", "(cannot move)")};
            drv_cli_table_add(t, cells);
        }
        g_string_append_c(out, '\n');
        drv_cli_table_render(t, out);
        drv_cli_table_destroy(&t);
    }
    for (size_t i = 0; i < n; i++) {
        json_object *st = json_object_array_get_idx(steps, i);
        if (drv_json_get_str(st, "dest", NULL) == NULL)
            g_string_append_printf(out, "cannot move %s: %s\n", drv_json_get_str(st, "domain", "?"),
                                   drv_json_get_str(st, "reason", "no reason given"));
    }
    if (drv_json_get(doc, "n_plus_one_after") != NULL) {
        if (drv_json_get_bool(doc, "n_plus_one_after", false))
            g_string_append(out, "N+1 after the drain: yes\n");
        else
            g_string_append_printf(out,
                                   "N+1 after the drain: no (the loss of %s could not be "
                                   "absorbed)\n",
                                   drv_json_get_str(doc, "n_plus_one_breaker", "one host"));
    }
}

/* ------------------------------------------------------------------ dispatch */

void drv_cli_render(const drv_cli_invocation *inv, json_object *doc, GString *out)
{
    switch (inv->verb->show) {
    case DRV_CLI_SHOW_MESSAGE:
        s_message(inv, doc, out);
        return;
    case DRV_CLI_SHOW_HOST_LIST:
        s_host_list(doc, out);
        return;
    case DRV_CLI_SHOW_HOST:
        s_host(doc, out);
        return;
    case DRV_CLI_SHOW_DOMAIN_LIST:
        s_domain_list(doc, out);
        return;
    case DRV_CLI_SHOW_DOMAIN_INFO:
        s_domain_info(doc, out);
        return;
    case DRV_CLI_SHOW_DOMAIN_STATE: {
        g_autofree char *st = s_state_text(doc);
        g_string_append_printf(out, "%s\n", st);
        return;
    }
    case DRV_CLI_SHOW_XML: {
        const char *xml = drv_json_get_str(doc, "xml", "");
        g_string_append_printf(out, "%s%s", xml, g_str_has_suffix(xml, "\n") ? "" : "\n");
        return;
    }
    case DRV_CLI_SHOW_HISTORY:
        s_history(doc, out);
        return;
    case DRV_CLI_SHOW_SNAPSHOT_LIST:
        s_snapshot_list(doc, out);
        return;
    case DRV_CLI_SHOW_CPU_BASELINE:
        s_cpu_baseline(inv, doc, out);
        return;
    case DRV_CLI_SHOW_JSON: {
        g_autofree char *j = drv_cli_render_json(doc);
        g_string_append(out, j);
        return;
    }
    case DRV_CLI_SHOW_CAPACITY:
        s_capacity(inv, doc, out);
        return;
    case DRV_CLI_SHOW_DRAIN_PLAN:
        s_drain_plan(doc, out);
        return;
    case DRV_CLI_SHOW_HOST_STATS:
        drv_cli_render_host_stats(doc, out);
        return;
    case DRV_CLI_SHOW_DOMAIN_STATS:
        drv_cli_render_domain_stats(doc, out);
        return;
    case DRV_CLI_SHOW_BALANCE_PLAN:
        drv_cli_render_balance_plan(doc, out);
        return;
    case DRV_CLI_SHOW_TOP:
        drv_cli_render_top(doc, 20, out);
        return;
    case DRV_CLI_SHOW_JOB:
        drv_cli_render_job(doc, out);
        return;
    case DRV_CLI_SHOW_JOB_LIST:
        drv_cli_render_job_list(doc, out);
        return;
    case DRV_CLI_SHOW_CLUSTER_STATUS:
    case DRV_CLI_SHOW_EVENT:
    default:
        s_generic(doc, NULL, out);
        return;
    }
}

void drv_cli_render_event(const char *topic, json_object *doc, uint64_t timestamp_ms, GString *out)
{
    GDateTime *t = g_date_time_new_from_unix_utc((gint64)(timestamp_ms / 1000));
    g_autofree char *when = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("-");
    if (t)
        g_date_time_unref(t);
    g_string_append_printf(out, "%s.%03u %s %s", when, (unsigned)(timestamp_ms % 1000), topic,
                           drv_json_get_str(doc, "type", "event"));
    json_object *obj = drv_json_get(doc, "object");
    static const char *const keys[] = {"state",         "reason", "reachable", "host",
                                       "desired_state", "drift",  "message"};
    for (size_t i = 0; obj != NULL && i < G_N_ELEMENTS(keys); i++) {
        json_object *v = drv_json_get(obj, keys[i]);
        if (v == NULL || json_object_is_type(v, json_type_null))
            continue;
        g_autofree char *txt = s_text(v);
        if (strchr(txt, ' ') != NULL)
            g_string_append_printf(out, " %s=\"%s\"", keys[i], txt);
        else
            g_string_append_printf(out, " %s=%s", keys[i], txt);
    }
    g_string_append_c(out, '\n');
}

void drv_cli_render_result(const drv_cli_invocation *inv, const char *json_text, GString *out)
{
    json_object *doc = NULL;
    if (json_text != NULL && json_text[0] != '\0') {
        doc = json_tokener_parse(json_text);
        if (doc == NULL) { /* not JSON: show what the controller said */
            g_string_append_printf(out, "%s%s", json_text,
                                   g_str_has_suffix(json_text, "\n") ? "" : "\n");
            return;
        }
    }
    if (inv->json) {
        if (doc == NULL) {
            g_string_append(out, "{}\n");
            return;
        }
        g_autofree char *j = drv_cli_render_json(doc);
        g_string_append(out, j);
    } else {
        drv_cli_render(inv, doc, out);
    }
    json_object_put(doc);
}
