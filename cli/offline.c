/* offline.c — see offline.h. The shape and options come from the same request the live path sends
 * (vcpus, memory_kib, flags, arch, n_plus_one, hosts_down), so both documents are the same. */
#include "offline.h"

#include "session.h"

#include <string.h>

#ifdef DROVER_CLI_HAVE_SCHEDULER
#include "scheduler.h"

int drv_cli_offline_capacity(const char *path, const drv_cli_capacity_query *query,
                             json_object **ret_doc, drv_error **err)
{
    if (query->vcpus > G_MAXUINT32)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "--vcpus %" G_GUINT64_FORMAT " is too large",
                             query->vcpus);
    char *text = NULL;
    size_t len = 0;
    if (drv_cli_read_input(path, &text, &len, err) < 0)
        return -1;
    drv_sched_cluster *cluster = NULL;
    int rc = drv_sched_cluster_from_json(text, &cluster, err);
    g_free(text);
    if (rc < 0) {
        if (strcmp(path, "-") == 0)
            drv_error_prefix(err, "snapshot from standard input");
        else
            drv_error_prefix(err, "snapshot file '%s'", path);
        return -1;
    }
    char **flags = query->flags_csv != NULL ? g_strsplit(query->flags_csv, ",", -1) : NULL;
    drv_sched_request shape = {0};
    shape.vcpus = (uint32_t)query->vcpus;
    shape.memory_kib = query->memory_kib;
    shape.features = (const char *const *)flags;
    shape.arch = query->arch;
    drv_sched_capacity_opts opts = {.n_plus_one = query->n_plus_one,
                                    .hosts_down = query->hosts_down};
    drv_sched_capacity *cap = NULL;
    rc = drv_sched_capacity_compute(cluster, &shape, &opts, &cap, err);
    if (rc == 0) {
        *ret_doc = drv_sched_capacity_to_json(cap);
        drv_sched_capacity_destroy(&cap);
    }
    g_strfreev(flags);
    drv_sched_cluster_destroy(&cluster);
    return rc;
}

#else

int drv_cli_offline_capacity(const char *path, const drv_cli_capacity_query *query,
                             json_object **ret_doc, drv_error **err)
{
    (void)query;
    (void)ret_doc;
    return drv_error_set(err, DRV_ERR_INTERNAL, 0,
                         "cannot plan offline from '%s': drover was built without the scheduler",
                         path);
}

#endif
