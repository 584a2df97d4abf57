/* ctl_config.c — see ctl_config.h. */
#include "ctl_config.h"

#include "balance_policy.h"
#include "config.h"
#include "curve.h"

#include <string.h>
#include <unistd.h>

void ctl_config_destroy(ctl_config **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_config *c = *self_p;
    g_strfreev(c->etcd_endpoints);
    g_free(c->etcd_ca_file);
    g_free(c->etcd_cert_file);
    g_free(c->etcd_key_file);
    g_free(c->prefix);
    g_free(c->agent_bind);
    g_free(c->client_bind);
    g_free(c->event_bind);
    g_free(c->pid_file);
    g_free(c->log_level);
    g_free(c->name);
    g_free(c->weigher);
    g_free(c->secret_key_file);
    if (c->clients != NULL)
        g_ptr_array_unref(c->clients);
    g_strfreev(c->disk_allow_prefixes);
    g_free(c->metrics_listen);
    g_free(c);
    *self_p = NULL;
}

static const char *const s_role_names[CTL_ROLE_LAST] = {"viewer", "operator", "admin"};

const char *ctl_role_to_string(ctl_role role)
{
    return role < CTL_ROLE_LAST ? s_role_names[role] : "viewer";
}

int ctl_role_from_string(const char *s, ctl_role *ret)
{
    for (int i = 0; s != NULL && i < CTL_ROLE_LAST; i++) {
        if (strcmp(s, s_role_names[i]) == 0) {
            *ret = (ctl_role)i;
            return 0;
        }
    }
    return -1;
}

static void s_client_free(gpointer p)
{
    ctl_client_key *k = p;
    g_free(k->name);
    g_free(k->key);
    g_free(k);
}

const ctl_client_key *ctl_config_client(const ctl_config *self, const char *key)
{
    for (guint i = 0; key != NULL && self->clients != NULL && i < self->clients->len; i++) {
        const ctl_client_key *k = g_ptr_array_index(self->clients, i);
        if (strcmp(k->key, key) == 0)
            return k;
    }
    return NULL;
}

/* [clients]: NAME = ROLE Z85KEY, one line per client key. */
static int s_clients(ctl_config *c, const drv_config *f, drv_error **err)
{
    c->clients = g_ptr_array_new_with_free_func(s_client_free);
    g_auto(GStrv) names = drv_config_keys(f, "clients");
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        g_autofree char *line = NULL;
        if (drv_config_get_string(f, "clients", names[i], "", &line, err) < 0)
            return -1;
        g_auto(GStrv) w = g_strsplit_set(g_strstrip(line), " \t", -1);
        GPtrArray *words = g_ptr_array_new();
        for (size_t j = 0; w[j] != NULL; j++)
            if (w[j][0] != '\0')
                g_ptr_array_add(words, w[j]);
        ctl_role role = CTL_ROLE_VIEWER;
        bool ok = words->len == 2 &&
                  ctl_role_from_string(g_ptr_array_index(words, 0), &role) == 0 &&
                  drv_curve_key_valid(g_ptr_array_index(words, 1));
        if (ok) {
            ctl_client_key *k = g_new0(ctl_client_key, 1);
            k->name = g_strdup(names[i]);
            k->role = role;
            k->key = g_strdup(g_ptr_array_index(words, 1));
            ok = ctl_config_client(c, k->key) == NULL;
            if (ok)
                g_ptr_array_add(c->clients, k);
            else
                s_client_free(k);
        }
        g_ptr_array_unref(words);
        if (!ok)
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "config '%s': [clients] %s: want 'admin|operator|viewer "
                                 "Z85-PUBLIC-KEY' (each key once)",
                                 drv_config_path(f), names[i]);
    }
    return 0;
}

/* Replaces *slot with a copy of value when value is set (a flag given on the command line). */
static void s_override(char **slot, const char *value)
{
    if (value == NULL)
        return;
    g_free(*slot);
    *slot = g_strdup(value);
}

static int s_from_file(ctl_config *c, const drv_config *f, drv_error **err)
{
    const char *g = "controller";
    if (drv_config_get_strv(f, g, "etcd_endpoints", &c->etcd_endpoints, err) < 0 ||
        drv_config_get_string(f, g, "etcd_ca_file", NULL, &c->etcd_ca_file, err) < 0 ||
        drv_config_get_string(f, g, "etcd_cert_file", NULL, &c->etcd_cert_file, err) < 0 ||
        drv_config_get_string(f, g, "etcd_key_file", NULL, &c->etcd_key_file, err) < 0 ||
        drv_config_get_string(f, g, "prefix", "/drover/v1/", &c->prefix, err) < 0 ||
        drv_config_get_string(f, g, "agent_bind", "tcp://127.0.0.1:7701", &c->agent_bind, err) <
            0 ||
        drv_config_get_string(f, g, "client_bind", "tcp://127.0.0.1:7702", &c->client_bind, err) <
            0 ||
        drv_config_get_string(f, g, "event_bind", "tcp://127.0.0.1:7703", &c->event_bind, err) <
            0 ||
        drv_config_get_string(f, g, "pid_file", NULL, &c->pid_file, err) < 0 ||
        drv_config_get_string(f, g, "log_level", "info", &c->log_level, err) < 0 ||
        drv_config_get_string(f, g, "name", NULL, &c->name, err) < 0 ||
        drv_config_get_int(f, g, "heartbeat_interval_ms", 1000, 10, 600000,
                           &c->heartbeat_interval_ms, err) < 0 ||
        drv_config_get_int(f, g, "liveness", 3, 1, 100, &c->liveness, err) < 0 ||
        drv_config_get_int(f, g, "command_timeout_ms", 30000, 100, 3600000, &c->command_timeout_ms,
                           err) < 0 ||
        drv_config_get_int(f, g, "etcd_timeout_ms", 5000, 100, 600000, &c->etcd_timeout_ms, err) <
            0 ||
        drv_config_get_int(f, g, "leader_ttl_s", 5, 2, 3600, &c->leader_ttl_s, err) < 0 ||
        drv_config_get_int(f, g, "etcd_queue_max", 10000, 1, 1000000, &c->etcd_queue_max, err) <
            0 ||
        drv_config_get_int(f, g, "etcd_refuse_after_ms", 30000, 100, 3600000,
                           &c->etcd_refuse_after_ms, err) < 0 ||
        drv_config_get_int(f, g, "hygiene_interval_s", 60, 1, 86400, &c->hygiene_interval_s, err) <
            0 ||
        drv_config_get_int(f, g, "etcd_compact_keep_revisions", 10000, 0, INT64_C(1) << 40,
                           &c->etcd_compact_keep_revisions, err) < 0 ||
        drv_config_get_int(f, g, "job_retention_days", 7, 0, 36500, &c->job_retention_days, err) <
            0)
        return -1;
    g = "scheduler";
    if (drv_config_get_double(f, g, "cpu_ratio", 4.0, 0.1, 64.0, &c->cpu_ratio, err) < 0 ||
        drv_config_get_double(f, g, "memory_ratio", 1.0, 0.1, 16.0, &c->memory_ratio, err) < 0 ||
        drv_config_get_string(f, g, "weigher", "spread", &c->weigher, err) < 0 ||
        drv_config_get_int(f, g, "balance_interval_s", 0, 0, 86400, &c->balance_interval_s, err) <
            0 ||
        drv_config_get_double(f, g, "balance_min_gain", DRV_BALANCE_MIN_GAIN_DEFAULT, 0, 1e6,
                              &c->balance_min_gain, err) < 0 ||
        drv_config_get_double(f, g, "balance_min_score", DRV_BALANCE_MIN_SCORE_DEFAULT, 0, 1e6,
                              &c->balance_min_score, err) < 0 ||
        drv_config_get_int(f, g, "balance_max_moves_per_hour",
                           DRV_BALANCE_MAX_MOVES_PER_HOUR_DEFAULT, 0, 10000,
                           &c->balance_max_moves_per_hour, err) < 0)
        return -1;
    g = "security";
    if (drv_config_get_string(f, g, "secret_key_file", NULL, &c->secret_key_file, err) < 0 ||
        drv_config_get_int(f, g, "max_message_bytes", 16 * 1024 * 1024, 64 * 1024,
                           1024 * 1024 * 1024, &c->max_message_bytes, err) < 0 ||
        drv_config_get_int(f, g, "etcd_max_reply_bytes", (int64_t)DRV_ETCD_DEFAULT_MAX_REPLY_BYTES,
                           4096, 1024 * 1024 * 1024, &c->etcd_max_reply_bytes, err) < 0 ||
        drv_config_get_int(f, g, "etcd_max_watch_line_bytes",
                           (int64_t)DRV_ETCD_DEFAULT_MAX_WATCH_LINE_BYTES, 4096, 1024 * 1024 * 1024,
                           &c->etcd_max_watch_line_bytes, err) < 0 ||
        drv_config_get_strv(f, g, "disk_allow_prefixes", &c->disk_allow_prefixes, err) < 0 ||
        s_clients(c, f, err) < 0)
        return -1;
    g = "metrics";
    if (drv_config_get_string(f, g, "listen", NULL, &c->metrics_listen, err) < 0 ||
        drv_config_get_bool(f, g, "allow_remote", false, &c->metrics_allow_remote, err) < 0)
        return -1;
    if (c->metrics_listen != NULL && c->metrics_listen[0] == '\0')
        g_clear_pointer(&c->metrics_listen, g_free);
    if (strcmp(c->weigher, "spread") != 0 && strcmp(c->weigher, "pack") != 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "config '%s': [scheduler] weigher: '%s' is not spread or pack",
                             drv_config_path(f), c->weigher);
    return 0;
}

int ctl_config_load(int argc, char **argv, ctl_config **ret, drv_error **err)
{
    g_autofree char *config_path = NULL, *etcd = NULL, *agent_bind = NULL, *client_bind = NULL;
    g_autofree char *event_bind = NULL, *prefix = NULL, *pid_file = NULL, *log_level = NULL;
    g_autofree char *name = NULL;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "ini file", "FILE"},
        {"etcd", 0, 0, G_OPTION_ARG_STRING, &etcd, "etcd endpoints (comma list)", "URLS"},
        {"agent-bind", 0, 0, G_OPTION_ARG_STRING, &agent_bind, "agent ROUTER endpoint", "EP"},
        {"client-bind", 0, 0, G_OPTION_ARG_STRING, &client_bind, "client ROUTER endpoint", "EP"},
        {"event-bind", 0, 0, G_OPTION_ARG_STRING, &event_bind, "event PUB endpoint", "EP"},
        {"prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "etcd key prefix", "PREFIX"},
        {"pid-file", 0, 0, G_OPTION_ARG_FILENAME, &pid_file, "write the PID here", "FILE"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &log_level, "debug|info|warn|error", "LEVEL"},
        {"name", 0, 0, G_OPTION_ARG_STRING, &name, "this controller's name", "NAME"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *oc = g_option_context_new("— drover cluster controller");
    g_option_context_add_main_entries(oc, entries, NULL);
    GError *gerr = NULL;
    bool ok = g_option_context_parse(oc, &argc, &argv, &gerr);
    g_option_context_free(oc);
    if (!ok) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "%s", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    if (argc > 1)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "unexpected argument '%s'", argv[1]);

    drv_config *f = NULL;
    if (config_path != NULL) {
        f = drv_config_load(config_path, err);
        if (f == NULL)
            return -1;
    } else {
        f = drv_config_new_empty();
    }
    ctl_config *c = g_new0(ctl_config, 1);
    int rc = s_from_file(c, f, err);
    drv_config_destroy(&f);
    if (rc < 0) {
        ctl_config_destroy(&c);
        return -1;
    }
    if (etcd != NULL) {
        g_strfreev(c->etcd_endpoints);
        c->etcd_endpoints = g_strsplit_set(etcd, ",;", -1);
    }
    s_override(&c->agent_bind, agent_bind);
    s_override(&c->client_bind, client_bind);
    s_override(&c->event_bind, event_bind);
    s_override(&c->prefix, prefix);
    s_override(&c->pid_file, pid_file);
    s_override(&c->log_level, log_level);
    s_override(&c->name, name);
    if (c->etcd_endpoints == NULL || c->etcd_endpoints[0] == NULL ||
        c->etcd_endpoints[0][0] == '\0') {
        g_strfreev(c->etcd_endpoints);
        c->etcd_endpoints = g_new0(char *, 2);
        c->etcd_endpoints[0] = g_strdup("http://127.0.0.1:2379");
    }
    if (c->prefix[0] == '\0' || !g_str_has_suffix(c->prefix, "/")) {
        char *p = g_strconcat(c->prefix, "/", NULL);
        g_free(c->prefix);
        c->prefix = p;
    }
    c->etcd_tls = (drv_etcd_tls){c->etcd_ca_file, c->etcd_cert_file, c->etcd_key_file};
    if (c->name == NULL) {
        char host[256] = "controller";
        gethostname(host, sizeof(host) - 1);
        c->name = g_strdup_printf("%s:%d", host, (int)getpid());
    }
    *ret = c;
    return 0;
}
