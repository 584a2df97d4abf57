/* migrate.c — `drover domain migrate` and `drover job watch` (see jobs.h): start the job, then ask
 * the controller for it (job.show) every S_POLL_MS until it ends. On a terminal: a progress bar
 * redrawn in place; otherwise one plain line whenever the progress changes; with --json only the
 * final job document. Polling rather than the event stream: nothing published before the
 * subscription would be missed, and a controller restart in the middle is survived. */
#include "jobs.h"

#include "render.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_POLL_MS 250
#define S_BAR     30

/* Calls verb with one argument; 0 and the parsed document, or the exit status (error printed). */
static int s_call(drv_cli_client *c, const char *verb, const char *arg, json_object **ret)
{
    const char *args[] = {arg};
    drv_cli_request req = {.verb = verb, .args = args, .n_args = 1};
    return drv_cli_call_json(c, &req, ret);
}

static const char *s_id(json_object *job)
{
    json_object *v = NULL;
    return json_object_object_get_ex(job, "id", &v) ? json_object_get_string(v) : NULL;
}

static bool s_succeeded(json_object *job)
{
    json_object *v = NULL;
    return json_object_object_get_ex(job, "state", &v) &&
           g_strcmp0(json_object_get_string(v), "succeeded") == 0;
}

/* Watches job (a reference is taken over) until it is terminal; prints as described above. */
static int s_watch(const drv_cli_session *s, drv_cli_client *c, json_object *job)
{
    const drv_cli_invocation *inv = s->inv;
    bool tty = !inv->json && isatty(STDOUT_FILENO);
    g_autofree char *id = g_strdup(s_id(job));
    g_autofree char *last = NULL;
    int rc = 0;
    for (;;) {
        if (!inv->json && !drv_cli_job_is_terminal(job)) {
            GString *line = g_string_new(NULL);
            drv_cli_render_job_progress(job, tty ? S_BAR : 0, line);
            if (tty) {
                printf("\r%s\033[K", line->str);
                fflush(stdout);
            } else if (g_strcmp0(last, line->str) != 0) {
                printf("%s\n", line->str);
                fflush(stdout);
            }
            g_free(last);
            last = g_string_free(line, FALSE);
        }
        if (drv_cli_job_is_terminal(job))
            break;
        g_usleep(S_POLL_MS * 1000);
        json_object *next = NULL;
        if ((rc = s_call(c, "job.show", id, &next)) != 0) {
            if (tty)
                printf("\n");
            json_object_put(job);
            return rc;
        }
        json_object_put(job);
        job = next;
    }
    if (tty)
        printf("\r\033[K");
    return drv_cli_job_finish(inv, job, drv_cli_render_job_outcome);
}

int drv_cli_job_finish(const drv_cli_invocation *inv, json_object *job,
                       void (*render_outcome)(json_object *job, GString *out))
{
    int rc = 0;
    bool ok = s_succeeded(job);
    if (inv->json) { /* the document for scripts; a failure is also said on stderr */
        g_autofree char *j = drv_cli_render_json(job);
        rc = drv_cli_print(j, strlen(j));
    }
    GString *out = g_string_new(NULL);
    render_outcome(job, out);
    if (!ok)
        drv_cli_fail(1, "%s", g_strchomp(out->str));
    else if (!inv->json)
        rc = drv_cli_print(out->str, out->len);
    g_string_free(out, TRUE);
    json_object_put(job);
    return rc != 0 ? rc : ok ? 0 : 1;
}

int drv_cli_migrate_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(s->controller, s->timeout_ms, &e);
    if (c == NULL) {
        int rc = drv_cli_fail(1, "%s", e->message);
        drv_error_free(&e);
        return rc;
    }
    drv_cli_request req;
    drv_cli_invocation_request(inv, NULL, 0, &req);
    drv_cli_reply *reply = NULL;
    int rc = 0;
    json_object *job = NULL;
    if (drv_cli_client_call(c, &req, &reply, &e) < 0) {
        rc = drv_cli_fail(1, "%s", e->message);
        drv_error_free(&e);
    } else if (reply->status != 0) {
        rc = drv_cli_fail_reply(&req, reply);
    } else if ((job = json_tokener_parse(reply->json)) == NULL || s_id(job) == NULL) {
        rc = drv_cli_fail(1, "domain migrate: the controller's answer names no job");
    }
    drv_cli_reply_free(&reply);
    if (rc == 0 && drv_cli_invocation_local(inv, "detach") != NULL) {
        if (inv->json) {
            rc = drv_cli_print_result(inv, json_object_to_json_string(job));
        } else {
            json_object *m = NULL, *to = NULL;
            json_object_object_get_ex(job, "migrate", &m);
            json_object_object_get_ex(m, "destination", &to);
            g_autofree char *line =
                g_strdup_printf("Migration of %s to %s started: job %s\n", req.args[0],
                                to ? json_object_get_string(to) : "?", s_id(job));
            rc = drv_cli_print(line, strlen(line));
        }
        json_object_put(job);
    } else if (rc == 0) {
        rc = s_watch(s, c, job);
    } else {
        json_object_put(job);
    }
    drv_cli_client_destroy(&c);
    return rc;
}

int drv_cli_job_watch_run(const drv_cli_session *s)
{
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(s->controller, s->timeout_ms, &e);
    if (c == NULL) {
        int rc = drv_cli_fail(1, "%s", e->message);
        drv_error_free(&e);
        return rc;
    }
    json_object *job = NULL;
    const char *id = g_ptr_array_index(s->inv->args, 0);
    int rc = s_call(c, "job.show", id, &job);
    if (rc == 0)
        rc = s_watch(s, c, job);
    drv_cli_client_destroy(&c);
    return rc;
}
