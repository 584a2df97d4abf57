/* maintenance.c — `drover host maintenance`, `drover host activate` and the per-domain view of
 * `drover job watch` for drain and restore jobs (see jobs.h, docs/maintenance.md). Like
 * cli/migrate.c it polls job.show every S_POLL_MS until the job ends: on a terminal the block of
 * per-domain bars is redrawn in place; otherwise each line is printed when it changes; with --json
 * only the final job document. */
#include "jobs.h"

#include "render.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_POLL_MS 250
#define S_BAR     24
/* How long a watch keeps asking through a controller restart or a leader change. */
#define S_FAILOVER_MS (90 * 1000)
/* Receive timeout of the watch's job.show requests (it answers in milliseconds). */
#define S_WATCH_TIMEOUT_MS 5000

static const char *s_str(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o != NULL && json_object_object_get_ex(o, k, &v) &&
                   json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int s_show(drv_cli_client *c, const char *id, json_object **ret)
{
    const char *args[] = {id};
    drv_cli_request req = {.verb = "job.show", .args = args, .n_args = 1};
    return drv_cli_call_json(c, &req, ret);
}

/* job.show while following a job: across a controller restart or a leader change (no answer,
 * or "unavailable": not the leader, still loading) it asks again, with a fresh connection, for up
 * to S_FAILOVER_MS; anything else ends the watch (error printed). *c may be replaced. */
static int s_show_patient(const drv_cli_session *s, drv_cli_client **c, const char *id,
                          json_object **ret)
{
    int64_t deadline_ms = g_get_monotonic_time() / 1000 + S_FAILOVER_MS;
    const char *args[] = {id};
    drv_cli_request req = {.verb = "job.show", .args = args, .n_args = 1};
    for (;;) {
        drv_cli_reply *reply = NULL;
        drv_error *e = NULL;
        bool late = g_get_monotonic_time() / 1000 >= deadline_ms;
        if (drv_cli_client_call(*c, &req, &reply, &e) < 0) {
            if (e->kind != DRV_ERR_UNAVAILABLE || late) {
                int rc = drv_cli_fail(1, "%s", e->message);
                drv_error_free(&e);
                return rc;
            }
            drv_error_free(&e);
            /* the request may be stuck with a peer that died: start over */
            drv_cli_client_destroy(c);
            *c = drv_cli_client_new(s->controller, MIN(s->timeout_ms, S_WATCH_TIMEOUT_MS), &e);
            if (*c == NULL) {
                int rc = drv_cli_fail(1, "%s", e->message);
                drv_error_free(&e);
                return rc;
            }
            continue;
        }
        if (reply->status != 0 && g_strcmp0(reply->error_kind, "unavailable") == 0 && !late) {
            drv_cli_reply_free(&reply);
            g_usleep(S_POLL_MS * 1000);
            continue;
        }
        int rc = 0;
        if (reply->status != 0)
            rc = drv_cli_fail_reply(&req, reply);
        else if ((*ret = json_tokener_parse(reply->json)) == NULL)
            rc = drv_cli_fail(1, "job.show: the controller sent a document that is not JSON");
        drv_cli_reply_free(&reply);
        return rc;
    }
}

/* Watches a drain/restore job (reference taken over) until it is terminal. */
static int s_watch(const drv_cli_session *s, json_object *job)
{
    const drv_cli_invocation *inv = s->inv;
    bool tty = !inv->json && isatty(STDOUT_FILENO);
    g_autofree char *id = g_strdup(s_str(job, "id"));
    drv_error *e = NULL;
    drv_cli_client *c =
        drv_cli_client_new(s->controller, MIN(s->timeout_ms, S_WATCH_TIMEOUT_MS), &e);
    if (c == NULL) {
        int rc = drv_cli_fail(1, "%s", e->message);
        drv_error_free(&e);
        json_object_put(job);
        return rc;
    }
    GPtrArray *last = g_ptr_array_new_with_free_func(g_free); /* lines printed last time */
    int rc = 0;
    for (;;) {
        if (!inv->json) {
            GString *block = g_string_new(NULL);
            drv_cli_render_drain_progress(job, tty ? S_BAR : 0, block);
            g_auto(GStrv) lines = g_strsplit(g_strchomp(block->str), "\n", -1);
            g_string_free(block, TRUE);
            if (tty && last->len > 0)
                printf("\033[%uA", last->len);
            guint n = g_strv_length(lines);
            for (guint i = 0; i < n; i++) {
                bool same = i < last->len && strcmp(g_ptr_array_index(last, i), lines[i]) == 0;
                if (tty)
                    printf("\r%s\033[K\n", lines[i]);
                else if (!same)
                    printf("%s\n", lines[i]);
            }
            fflush(stdout);
            g_ptr_array_set_size(last, 0);
            for (guint i = 0; i < n; i++)
                g_ptr_array_add(last, g_strdup(lines[i]));
        }
        if (drv_cli_job_is_terminal(job))
            break;
        g_usleep(S_POLL_MS * 1000);
        json_object *next = NULL;
        if ((rc = s_show_patient(s, &c, id, &next)) != 0) {
            json_object_put(job);
            g_ptr_array_unref(last);
            drv_cli_client_destroy(&c);
            return rc;
        }
        json_object_put(job);
        job = next;
    }
    g_ptr_array_unref(last);
    drv_cli_client_destroy(&c);
    return drv_cli_job_finish(inv, job, drv_cli_render_drain_outcome);
}

int drv_cli_drain_run(const drv_cli_session *s)
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
    json_object *doc = NULL;
    int rc = drv_cli_call_json(c, &req, &doc);
    if (rc != 0) {
        drv_cli_client_destroy(&c);
        return rc;
    }
    bool wait = drv_cli_invocation_local(inv, "wait") != NULL;
    if (s_str(doc, "kind") == NULL) {
        /* a dry run's plan, or the host (plain activate) */
        json_object *refused = NULL;
        json_object_object_get_ex(doc, "refused", &refused);
        if (inv->json) {
            rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
        } else {
            GString *out = g_string_new(NULL);
            if (strcmp(req.verb, "host.activate") == 0) {
                g_string_append_printf(out, "Host '%s' is now %s\n", s_str(doc, "id") ?: "?",
                                       s_str(doc, "state") ?: "?");
            } else {
                drv_cli_render(inv, doc, out);
                if (refused != NULL && json_object_is_type(refused, json_type_string))
                    g_string_append_printf(out, "The drain would be refused: %s\n",
                                           json_object_get_string(refused));
                g_string_append(out, "Dry run: nothing changed\n");
            }
            rc = drv_cli_print(out->str, out->len);
            g_string_free(out, TRUE);
        }
        json_object_put(doc);
    } else if (wait) {
        rc = s_watch(s, doc);
    } else {
        if (inv->json) {
            rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
        } else {
            json_object *d = NULL, *es = NULL;
            json_object_object_get_ex(doc, "drain", &d);
            if (d != NULL)
                json_object_object_get_ex(d, "entries", &es);
            g_autofree char *line = g_strdup_printf(
                "%s of %s started: job %s (%zu domains); follow it with: drover job watch %s\n",
                g_strcmp0(s_str(doc, "kind"), "restore") == 0 ? "Restore" : "Maintenance",
                s_str(d, "host") ?: "?", s_str(doc, "id") ?: "?",
                es ? json_object_array_length(es) : 0, s_str(doc, "id") ?: "?");
            rc = drv_cli_print(line, strlen(line));
        }
        json_object_put(doc);
    }
    drv_cli_client_destroy(&c);
    return rc;
}

int drv_cli_job_watch_any_run(const drv_cli_session *s)
{
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(s->controller, s->timeout_ms, &e);
    if (c == NULL) {
        int rc = drv_cli_fail(1, "%s", e->message);
        drv_error_free(&e);
        return rc;
    }
    json_object *job = NULL;
    int rc = s_show(c, g_ptr_array_index(s->inv->args, 0), &job);
    if (rc == 0 && drv_cli_job_is_drain(job)) {
        rc = s_watch(s, job);
        drv_cli_client_destroy(&c);
        return rc;
    }
    json_object_put(job);
    drv_cli_client_destroy(&c);
    return rc != 0 ? rc : drv_cli_job_watch_run(s);
}
