/* maintenance.c — `drover host maintenance` and `drover host activate` (see jobs.h,
 * docs/maintenance.md): the request; a dry run's plan or the host; the job started, followed with
 * --wait by drv_cli_job_follow (cli/watch.c: one line per domain). */
#include "jobs.h"
#include "json_get.h"

#include "render.h"

#include <string.h>

int drv_cli_drain_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    drv_cli_request req;
    json_object *doc = NULL;
    int rc = drv_cli_session_call(s, &req, &doc);
    if (rc != 0)
        return rc;
    bool wait = drv_cli_invocation_local(inv, "wait") != NULL;
    if (drv_json_get_str(doc, "kind", NULL) == NULL) {
        /* a dry run's plan, or the host (plain activate) */
        const char *refused = drv_json_get_str(doc, "refused", NULL);
        if (inv->json) {
            rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
        } else {
            GString *out = g_string_new(NULL);
            json_object *dry = drv_json_get(doc, "dry_run");
            bool balance = strcmp(req.verb, "cluster.balance") == 0;
            if (balance) { /* the plan; its "refused" is the list of moves a rule refused */
                drv_cli_render(inv, doc, out);
                g_string_append(out, dry != NULL && !json_object_get_boolean(dry)
                                         ? "Nothing to move: no job started\n"
                                         : "Dry run: nothing changed\n");
            } else if (strcmp(req.verb, "host.activate") == 0) {
                g_string_append_printf(out, "Host '%s' is now %s\n",
                                       drv_json_get_str(doc, "id", "?"),
                                       drv_json_get_str(doc, "state", "?"));
            } else {
                drv_cli_render(inv, doc, out);
                if (refused != NULL)
                    g_string_append_printf(out, "The drain would be refused: %s\n", refused);
                json_object *pred = drv_json_get(doc, "prediction");
                json_object *ms = pred ? drv_json_get(pred, "drain_ms") : NULL;
                if (pred != NULL && ms != NULL)
                    g_string_append_printf(out, "Predicted drain time: %.1f s (longest first)\n",
                                           (double)json_object_get_int64(ms) / 1000.0);
                else if (pred != NULL)
                    g_string_append(out, "Predicted drain time: unknown (a pair's link is not "
                                         "measured yet)\n");
                g_string_append(out, "Dry run: nothing changed\n");
            }
            rc = drv_cli_print(out->str, out->len);
            g_string_free(out, TRUE);
        }
        json_object_put(doc);
    } else if (wait) {
        if (!inv->json && drv_json_get(doc, "plan") != NULL) {
            GString *out = g_string_new(NULL);
            drv_cli_render_balance_plan(drv_json_get(doc, "plan"), out);
            drv_cli_print(out->str, out->len);
            g_string_free(out, TRUE);
        }
        rc = drv_cli_job_follow(s, doc);
    } else {
        if (inv->json) {
            rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
        } else {
            json_object *d = drv_json_get(doc, "drain"), *es = drv_json_get(d, "entries");
            bool balance = g_strcmp0(drv_json_get_str(doc, "kind", NULL), "balance") == 0;
            GString *out = g_string_new(NULL);
            if (balance && drv_json_get(doc, "plan") != NULL)
                drv_cli_render_balance_plan(drv_json_get(doc, "plan"), out);
            if (balance)
                g_string_append_printf(out,
                                       "Balance started: job %s (%zu moves); follow it with: "
                                       "drover job watch %s\n",
                                       drv_json_get_str(doc, "id", "?"),
                                       es ? json_object_array_length(es) : 0,
                                       drv_json_get_str(doc, "id", "?"));
            drv_cli_print(out->str, out->len);
            g_string_free(out, TRUE);
            g_autofree char *line =
                balance
                    ? g_strdup("")
                    : g_strdup_printf(
                          "%s of %s started: job %s (%zu domains); follow it with: drover job "
                          "watch %s\n",
                          g_strcmp0(drv_json_get_str(doc, "kind", NULL), "restore") == 0
                              ? "Restore"
                              : "Maintenance",
                          drv_json_get_str(d, "host", "?"), drv_json_get_str(doc, "id", "?"),
                          es ? json_object_array_length(es) : 0, drv_json_get_str(doc, "id", "?"));
            rc = drv_cli_print(line, strlen(line));
        }
        json_object_put(doc);
    }
    return rc;
}
