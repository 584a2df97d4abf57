/* migrate.c — `drover domain migrate` (see jobs.h): start the job, then (unless --detach) follow
 * it with drv_cli_job_follow (cli/watch.c). */
#include "jobs.h"
#include "json_get.h"

#include "render.h"

#include <inttypes.h>
#include <string.h>

/* --dry-run: the destination and the prediction (issue 15, docs/migration.md). Takes doc. */
static int s_dry_run_print(const drv_cli_invocation *inv, json_object *doc)
{
    int rc;
    if (inv->json) {
        rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
        json_object_put(doc);
        return rc;
    }
    json_object *p = drv_json_get(doc, "prediction");
    json_object *link = drv_json_get(doc, "link");
    const double mib = 1024.0 * 1024.0;
    GString *o = g_string_new(NULL);
    g_string_append_printf(o, "Migration of %s from %s to %s (dry run, nothing moved)\n",
                           drv_json_get_str(doc, "domain", "?"),
                           drv_json_get_str(doc, "source", "?"),
                           drv_json_get_str(doc, "destination", "?"));
    if (link != NULL)
        g_string_append_printf(
            o, "Link:        %.1f MiB/s, fixed cost %" PRId64 " ms (%" PRId64 " samples)\n",
            (double)drv_json_get_int(link, "bandwidth_bps", 0) / mib,
            drv_json_get_int(link, "fixed_ms", 0), drv_json_get_int(link, "samples", 0));
    else
        g_string_append(o, "Link:        not measured yet (no completed migration of the pair)\n");
    json_object *known = drv_json_get(doc, "dirty_rate_known");
    if (known != NULL && json_object_get_boolean(known))
        g_string_append_printf(o, "Dirty rate:  %.1f MiB/s (measured by its last migration)\n",
                               (double)drv_json_get_int(doc, "dirty_rate_bps", 0) / mib);
    else
        g_string_append(o, "Dirty rate:  not measured yet (predicted as idle)\n");
    g_string_append_printf(
        o, "Prediction:  %s, %.1f s, pause %" PRId64 " ms, %.1f MiB sent\n",
        drv_json_get_str(p, "verdict", "?"), (double)drv_json_get_int(p, "time_ms", 0) / 1000.0,
        drv_json_get_int(p, "downtime_ms", 0), (double)drv_json_get_int(p, "bytes", 0) / mib);
    g_string_append_printf(o, "Why:         %s\n", drv_json_get_str(p, "reason", ""));
    json_object *ac = drv_json_get(p, "applied_auto_converge");
    json_object *pc = drv_json_get(p, "applied_postcopy");
    g_string_append_printf(o, "Policy:      %s%s\n",
                           ac && json_object_get_boolean(ac) ? "auto-converge" : "no auto-converge",
                           pc && json_object_get_boolean(pc) ? ", post-copy allowed"
                                                             : ", pre-copy only");
    rc = drv_cli_print(o->str, o->len);
    g_string_free(o, TRUE);
    json_object_put(doc);
    return rc;
}

int drv_cli_migrate_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    drv_cli_request req;
    json_object *job = NULL;
    int rc = drv_cli_session_call(s, &req, &job);
    if (rc != 0)
        return rc;
    json_object *dry = drv_json_get(job, "dry_run");
    if (dry != NULL && json_object_get_boolean(dry))
        return s_dry_run_print(inv, job);
    const char *id = drv_json_get_str(job, "id", NULL);
    if (id == NULL) {
        json_object_put(job);
        return drv_cli_fail(1, "domain migrate: the controller's answer names no job");
    }
    if (drv_cli_invocation_local(inv, "detach") == NULL)
        return drv_cli_job_follow(s, job);
    if (inv->json) {
        rc = drv_cli_print_result(inv, json_object_to_json_string(job));
    } else {
        const char *to = drv_json_get_str(drv_json_get(job, "migrate"), "destination", "?");
        g_autofree char *line =
            g_strdup_printf("Migration of %s to %s started: job %s\n", req.args[0], to, id);
        rc = drv_cli_print(line, strlen(line));
    }
    json_object_put(job);
    return rc;
}
