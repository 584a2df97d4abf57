/* migrate.c — `drover domain migrate` (see jobs.h): start the job, then (unless --detach) follow
 * it with drv_cli_job_follow (cli/watch.c). */
#include "jobs.h"
#include "json_get.h"

#include "render.h"

#include <string.h>

int drv_cli_migrate_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    drv_cli_request req;
    json_object *job = NULL;
    int rc = drv_cli_session_call(s, &req, &job);
    if (rc != 0)
        return rc;
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
