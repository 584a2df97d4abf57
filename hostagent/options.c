/* options.c — see options.h. GOptionContext for flags, drv_config (GKeyFile) for the file. */
#include "options.h"

#include "config.h"

#include <string.h>
#include <unistd.h>

void drv_agent_options_destroy(drv_agent_options **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_agent_options *o = *self_p;
    g_free(o->config_path);
    g_free(o->host_id);
    g_strfreev(o->controllers);
    g_free(o->libvirt_uri);
    g_free(o->migration_uri);
    g_free(o->pid_file);
    g_free(o->secret_key_file);
    g_free(o->controller_key);
    g_strfreev(o->label_keys);
    g_strfreev(o->label_values);
    g_free(o->test_cpu_model);
    g_strfreev(o->test_cpu_features);
    g_strfreev(o->mask_cpu_features);
    g_strfreev(o->etcd_endpoints);
    g_free(o->etcd_ca_file);
    g_free(o->etcd_cert_file);
    g_free(o->etcd_key_file);
    g_free(o->etcd_prefix);
    g_free(o->state_file);
    g_free(o->migration_pki_path);
    g_free(o->test_host_uuid);
    g_free(o->test_arch);
    g_free(o);
    *self_p = NULL;
}

/* Config keys and their flag overrides. */
typedef struct {
    char *config;
    char *host_id;
    char *controller;
    char *libvirt_uri;
    int heartbeat_ms;
    char *log_level;
    char *pid_file;
    char *key_file;
    char *controller_key;
} s_flags;

static void s_flags_clear(s_flags *f)
{
    g_free(f->config);
    g_free(f->host_id);
    g_free(f->controller);
    g_free(f->libvirt_uri);
    g_free(f->log_level);
    g_free(f->pid_file);
    g_free(f->key_file);
    g_free(f->controller_key);
}

static int s_parse_flags(int argc, char **argv, s_flags *f, drv_error **err)
{
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &f->config, "Configuration file", "FILE"},
        {"host-id", 0, 0, G_OPTION_ARG_STRING, &f->host_id, "Host id (default: hostname)", "ID"},
        {"key-file", 0, 0, G_OPTION_ARG_FILENAME, &f->key_file,
         "This agent's CURVE secret key file (mode 0600)", "FILE"},
        {"controller-key", 0, 0, G_OPTION_ARG_STRING, &f->controller_key,
         "The controller's CURVE public key (z85, or a file holding it)", "KEY"},
        {"controller", 0, 0, G_OPTION_ARG_STRING, &f->controller,
         "Controller endpoint(s), comma-separated (tcp://HOST:PORT)", "LIST"},
        {"libvirt-uri", 0, 0, G_OPTION_ARG_STRING, &f->libvirt_uri,
         "libvirt URI (default qemu:///system)", "URI"},
        {"heartbeat-ms", 0, 0, G_OPTION_ARG_INT, &f->heartbeat_ms,
         "Heartbeat interval in ms (default 1000)", "MS"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &f->log_level, "debug, info, warn or error",
         "LEVEL"},
        {"pid-file", 0, 0, G_OPTION_ARG_FILENAME, &f->pid_file, "Write the PID to FILE", "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("- drover host agent");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_help_enabled(ctx, TRUE);
    /* --help: GOption prints and exits(0) itself; a copy of argv because GOption rearranges it */
    char **args = g_new0(char *, (size_t)argc + 1);
    for (int i = 0; i < argc; i++)
        args[i] = argv[i];
    int n = argc;
    char **argp = args;
    GError *gerr = NULL;
    bool ok = g_option_context_parse(ctx, &n, &argp, &gerr);
    g_option_context_free(ctx);
    if (!ok) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "usage: %s", gerr->message);
        g_error_free(gerr);
        g_free(args);
        return -1;
    }
    if (n > 1) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "usage: unexpected argument '%s'", argp[1]);
        g_free(args);
        return -1;
    }
    g_free(args);
    return 0;
}

static int s_get_str(drv_config *c, const char *group, const char *key, const char *def, char **ret,
                     drv_error **err)
{
    char *v = NULL;
    if (drv_config_get_string(c, group, key, def, &v, err) < 0)
        return -1;
    if (v != NULL && *v == '\0')
        g_clear_pointer(&v, g_free);
    *ret = v ? v : g_strdup(def);
    return 0;
}

int drv_agent_options_parse(int argc, char **argv, drv_agent_options **ret, drv_error **err)
{
    s_flags f = {0};
    f.heartbeat_ms = -1;
    if (s_parse_flags(argc, argv, &f, err) < 0) {
        s_flags_clear(&f);
        return -1;
    }
    drv_config *c = f.config ? drv_config_load(f.config, err) : drv_config_new_empty();
    if (c == NULL) {
        s_flags_clear(&f);
        return -1;
    }
    drv_agent_options *o = g_new0(drv_agent_options, 1);
    o->config_path = g_strdup(f.config);
    const char *path = drv_config_path(c);
    char hostname[256] = "localhost";
    gethostname(hostname, sizeof(hostname) - 1);
    g_autofree char *controller = NULL;
    g_autofree char *reserved = NULL;
    g_autofree char *host_cpu = NULL;
    g_autofree char *level = NULL;
    g_autofree char *default_mig = g_strdup_printf("qemu+tcp://%s/system", hostname);
    int64_t hb = 0, liveness = 0, workers = 0, queue_limit = 0, fence_after = 0, ttl = 0,
            stats_ms = 0;
    char **features = NULL;

    if (s_get_str(c, "agent", "host_id", hostname, &o->host_id, err) < 0 ||
        s_get_str(c, "agent", "controller", NULL, &controller, err) < 0 ||
        s_get_str(c, "agent", "libvirt_uri", "qemu:///system", &o->libvirt_uri, err) < 0 ||
        drv_config_get_int(c, "agent", "heartbeat_interval_ms", 1000, 10, 600000, &hb, err) < 0 ||
        drv_config_get_int(c, "agent", "liveness", 3, 1, 100, &liveness, err) < 0 ||
        drv_config_get_int(c, "agent", "worker_threads", 8, 1, 256, &workers, err) < 0 ||
        drv_config_get_int(c, "agent", "command_queue_limit", 256, 1, 100000, &queue_limit, err) <
            0 ||
        drv_config_get_int(c, "agent", "stats_interval_ms", 10000, 0, 3600000, &stats_ms, err) <
            0 ||
        s_get_str(c, "agent", "reserved_memory", NULL, &reserved, err) < 0 ||
        s_get_str(c, "agent", "stats_host_cpu", "proc", &host_cpu, err) < 0 ||
        s_get_str(c, "agent", "migration_uri", default_mig, &o->migration_uri, err) < 0 ||
        s_get_str(c, "agent", "log_level", "info", &level, err) < 0 ||
        s_get_str(c, "agent", "secret_key_file", NULL, &o->secret_key_file, err) < 0 ||
        s_get_str(c, "agent", "controller_key", NULL, &o->controller_key, err) < 0 ||
        s_get_str(c, "test", "cpu_model", NULL, &o->test_cpu_model, err) < 0 ||
        drv_config_get_strv(c, "test", "cpu_features", &features, err) < 0 ||
        s_get_str(c, "test", "host_uuid", NULL, &o->test_host_uuid, err) < 0 ||
        s_get_str(c, "test", "arch", NULL, &o->test_arch, err) < 0 ||
        drv_config_get_int(c, "test", "clock_offset_ms", 0, -86400000, 86400000,
                           &o->test_clock_offset_ms, err) < 0 ||
        drv_config_get_strv(c, "agent", "mask_cpu_features", &o->mask_cpu_features, err) < 0 ||
        drv_config_get_strv(c, "agent", "etcd_endpoints", &o->etcd_endpoints, err) < 0 ||
        s_get_str(c, "agent", "etcd_prefix", "/drover/v1/", &o->etcd_prefix, err) < 0 ||
        s_get_str(c, "agent", "etcd_ca_file", NULL, &o->etcd_ca_file, err) < 0 ||
        s_get_str(c, "agent", "etcd_cert_file", NULL, &o->etcd_cert_file, err) < 0 ||
        s_get_str(c, "agent", "etcd_key_file", NULL, &o->etcd_key_file, err) < 0 ||
        drv_config_get_int(c, "agent", "fence_after_s", 10, 1, 3600, &fence_after, err) < 0 ||
        drv_config_get_int(c, "agent", "lease_ttl_s", 0, 0, 7200, &ttl, err) < 0 ||
        s_get_str(c, "agent", "state_file", NULL, &o->state_file, err) < 0 ||
        s_get_str(c, "agent", "migration_pki_path", NULL, &o->migration_pki_path, err) < 0 ||
        drv_config_get_bool(c, "agent", "migration_stream_tls", true, &o->migration_stream_tls,
                            err) < 0)
        goto fail;
    if (o->etcd_endpoints != NULL && o->etcd_endpoints[0] == NULL)
        g_clear_pointer(&o->etcd_endpoints, g_strfreev);
    o->fence_after_s = (uint32_t)fence_after;
    o->lease_ttl_s = ttl > 0 ? (uint32_t)ttl : (uint32_t)fence_after + 5;
    if (o->lease_ttl_s < o->fence_after_s + 4) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "config '%s': [agent] lease_ttl_s (%u) must be at least fence_after_s (%u) "
                      "+ 4: the guests must be gone before the lease can expire",
                      path, o->lease_ttl_s, o->fence_after_s);
        goto fail;
    }

    if (reserved != NULL && drv_parse_size_kib(reserved, 1024, &o->reserved_memory_kib) < 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "config '%s': [agent] reserved_memory: '%s' is not a size (e.g. 1GiB)", path,
                      reserved);
        goto fail;
    }
    if (features != NULL && features[0] != NULL) {
        o->test_cpu_features = features;
        features = NULL;
    }
    g_strfreev(features);
    features = NULL;

    /* labels */
    char **keys = drv_config_keys(c, "labels");
    size_t nkeys = g_strv_length(keys);
    o->label_keys = g_new0(char *, nkeys + 1);
    o->label_values = g_new0(char *, nkeys + 1);
    for (size_t i = 0; i < nkeys; i++) {
        o->label_keys[i] = g_strdup(keys[i]);
        if (s_get_str(c, "labels", keys[i], "", &o->label_values[i], err) < 0) {
            g_strfreev(keys);
            goto fail;
        }
    }
    g_strfreev(keys);

    /* flags override the file */
    if (f.host_id != NULL) {
        g_free(o->host_id);
        o->host_id = g_strdup(f.host_id);
    }
    if (f.controller != NULL) {
        g_free(controller);
        controller = g_strdup(f.controller);
    }
    if (f.libvirt_uri != NULL) {
        g_free(o->libvirt_uri);
        o->libvirt_uri = g_strdup(f.libvirt_uri);
    }
    if (f.heartbeat_ms != -1) {
        if (f.heartbeat_ms < 10 || f.heartbeat_ms > 600000) {
            drv_error_set(err, DRV_ERR_INVALID, 0,
                          "usage: --heartbeat-ms %d is out of range [10, 600000]", f.heartbeat_ms);
            goto fail;
        }
        hb = f.heartbeat_ms;
    }
    if (f.log_level != NULL) {
        g_free(level);
        level = g_strdup(f.log_level);
    }
    o->pid_file = g_strdup(f.pid_file);
    if (f.key_file != NULL) {
        g_free(o->secret_key_file);
        o->secret_key_file = g_strdup(f.key_file);
    }
    if (f.controller_key != NULL) {
        g_free(o->controller_key);
        o->controller_key = g_strdup(f.controller_key);
    }
    o->heartbeat_interval_ms = (uint32_t)hb;
    o->liveness = (uint32_t)liveness;
    o->worker_threads = (uint32_t)workers;
    o->command_queue_limit = (uint32_t)queue_limit;
    o->stats_interval_ms = (uint32_t)stats_ms;
    if (strcmp(host_cpu, "proc") != 0 && strcmp(host_cpu, "guests") != 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "%s: [agent] stats_host_cpu = '%s': proc (the host's /proc/stat) or guests "
                      "(the sum of its guests' CPU, for hosts sharing one kernel)",
                      path ? path : "config", host_cpu);
        goto fail;
    }
    o->stats_host_cpu_from_guests = strcmp(host_cpu, "guests") == 0;
    if (drv_log_level_from_string(level, &o->log_level) < 0) {
        if (f.log_level != NULL)
            drv_error_set(err, DRV_ERR_INVALID, 0,
                          "usage: --log-level '%s' is not debug, info, warn or error", level);
        else
            drv_error_set(err, DRV_ERR_INVALID, 0,
                          "config '%s': [agent] log_level: '%s' is not debug, info, warn or error",
                          path, level);
        goto fail;
    }
    if (controller == NULL) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "config '%s': [agent] controller: missing (or pass --controller)", path);
        goto fail;
    }
    {
        char **parts = g_strsplit_set(controller, ",; ", -1);
        GPtrArray *eps = g_ptr_array_new();
        for (char **p = parts; *p; p++)
            if (**p != '\0')
                g_ptr_array_add(eps, g_strdup(*p));
        g_strfreev(parts);
        g_ptr_array_add(eps, NULL);
        o->controllers = (char **)g_ptr_array_free(eps, FALSE);
    }
    for (size_t i = 0; o->controllers[i] != NULL || i == 0; i++) {
        if (o->controllers[i] != NULL && strstr(o->controllers[i], "://") != NULL)
            continue;
        if (f.controller != NULL)
            drv_error_set(
                err, DRV_ERR_INVALID, 0,
                "usage: --controller '%s' is not an endpoint list (tcp://HOST:PORT[,...])",
                controller);
        else
            drv_error_set(err, DRV_ERR_INVALID, 0,
                          "config '%s': [agent] controller: '%s' is not an endpoint list "
                          "(tcp://HOST:PORT[,...])",
                          path, controller);
        goto fail;
    }
    if (o->host_id == NULL || *o->host_id == '\0') {
        drv_error_set(err, DRV_ERR_INVALID, 0, "config '%s': [agent] host_id: empty", path);
        goto fail;
    }
    drv_config_destroy(&c);
    s_flags_clear(&f);
    *ret = o;
    return 0;
fail:
    g_strfreev(features);
    drv_config_destroy(&c);
    s_flags_clear(&f);
    drv_agent_options_destroy(&o);
    return -1;
}
