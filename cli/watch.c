/* watch.c — following a job until it ends (see jobs.h): `drover job watch`, `domain migrate`
 * without --detach, `host maintenance|activate --wait`. It asks the controller for the job
 * (job.show) every S_POLL_MS: polling rather than the event stream, so nothing published before a
 * subscription is missed. A controller restart or a leader change is ridden out: when the
 * controller does not answer (S_WATCH_TIMEOUT_MS per request, whether or not the connection was
 * established: job.show is read-only) or answers "unavailable" (not the
 * leader, still loading), the watch asks again, with a fresh connection, for up to S_FAILOVER_MS.
 *
 * What is shown depends on the job: a migration has one progress line (a bar of S_MIGRATE_BAR on a
 * terminal), a drain or restore one line per domain (bars of S_DRAIN_BAR). On a terminal the block
 * is redrawn in place; otherwise a line is printed whenever it changes; with --json only the final
 * job document. Then the final sentence. */
#include "jobs.h"
#include "json_get.h"

#include "render.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_POLL_MS     250
#define S_MIGRATE_BAR 30
#define S_DRAIN_BAR   24
/* How long a watch keeps asking through a controller restart or a leader change. */
#define S_FAILOVER_MS (90 * 1000)
/* Receive timeout of the watch's job.show requests (it answers in milliseconds). */
#define S_WATCH_TIMEOUT_MS 5000

/* How one kind of job is shown: its progress block (lines ending in a newline) and the final
 * sentence. */
typedef struct {
    void (*render_progress)(json_object *job, int bar_width, GString *out);
    void (*render_outcome)(json_object *job, GString *out);
    int bar_width;
} s_view;

/* A migration's one line, while it runs; nothing once it ended (the final sentence replaces it). */
static void s_migrate_progress(json_object *job, int bar_width, GString *out)
{
    if (drv_cli_job_is_terminal(job))
        return;
    drv_cli_render_job_progress(job, bar_width, out);
    g_string_append_c(out, '\n');
}

static const s_view s_migrate_view = {s_migrate_progress, drv_cli_render_job_outcome,
                                      S_MIGRATE_BAR};
static const s_view s_drain_view = {drv_cli_render_drain_progress, drv_cli_render_drain_outcome,
                                    S_DRAIN_BAR};

/* job.show while following a job, patient as described above; anything but no answer or
 * "unavailable" ends the watch (error printed). *c may be replaced. */
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
            /* job.show changes nothing: no answer over an established connection (the
             * controller died with the request) is as safe to repeat as no connection */
            bool retry = e->kind == DRV_ERR_UNAVAILABLE || e->kind == DRV_ERR_UNKNOWN_OUTCOME;
            if (!retry || late)
                return drv_cli_fail_error(&e);
            drv_error_destroy(&e);
            /* the request may be stuck with a peer that died: start over */
            drv_cli_client_destroy(c);
            int rc = drv_cli_connect(s, MIN(s->timeout_ms, S_WATCH_TIMEOUT_MS), c);
            if (rc != 0)
                return rc;
            continue;
        }
        if (reply->status != 0 && g_strcmp0(reply->error_kind, "unavailable") == 0 && !late) {
            drv_cli_reply_destroy(&reply);
            g_usleep(S_POLL_MS * 1000);
            continue;
        }
        int rc = 0;
        if (reply->status != 0)
            rc = drv_cli_fail_reply(&req, reply);
        else if ((*ret = json_tokener_parse(reply->json)) == NULL)
            rc = drv_cli_fail(1, "job.show: the controller sent a document that is not JSON");
        drv_cli_reply_destroy(&reply);
        return rc;
    }
}

/* Shows block in place of the one shown last (on a terminal) or its changed lines; *last becomes
 * block's lines. */
static void s_draw(bool tty, const char *block, GPtrArray *last)
{
    g_autofree char *text = g_strchomp(g_strdup(block));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1); /* none for "" */
    guint n = g_strv_length(lines);
    if (tty && last->len > 0)
        printf("\033[%uA", last->len); /* back to the first line of the last block */
    for (guint i = 0; i < n; i++) {
        bool same = i < last->len && strcmp(g_ptr_array_index(last, i), lines[i]) == 0;
        if (tty)
            printf("\r%s\033[K\n", lines[i]);
        else if (!same)
            printf("%s\n", lines[i]);
    }
    if (tty && n < last->len)
        printf("\033[J"); /* the last block was longer: clear the rest */
    fflush(stdout);
    g_ptr_array_set_size(last, 0);
    for (guint i = 0; i < n; i++)
        g_ptr_array_add(last, g_strdup(lines[i]));
}

/* The end of watching a job (job consumed): the document for --json and the final sentence (on
 * stderr, as the error, when the job did not succeed). 0 only when the job succeeded. */
static int s_finish(const drv_cli_invocation *inv, json_object *job, const s_view *view)
{
    int rc = 0;
    bool ok = g_strcmp0(drv_json_get_str(job, "state", NULL), "succeeded") == 0;
    if (inv->json) { /* the document for scripts; a failure is also said on stderr */
        g_autofree char *j = drv_cli_render_json(job);
        rc = drv_cli_print(j, strlen(j));
    }
    GString *out = g_string_new(NULL);
    view->render_outcome(job, out);
    if (!ok)
        drv_cli_fail(1, "%s", g_strchomp(out->str));
    else if (!inv->json)
        rc = drv_cli_print(out->str, out->len);
    g_string_free(out, TRUE);
    json_object_put(job);
    return rc != 0 ? rc : ok ? 0 : 1;
}

int drv_cli_job_follow(const drv_cli_session *s, json_object *job)
{
    const drv_cli_invocation *inv = s->inv;
    const s_view *view = drv_cli_job_is_drain(job) ? &s_drain_view : &s_migrate_view;
    bool tty = !inv->json && isatty(STDOUT_FILENO);
    g_autofree char *id = g_strdup(drv_json_get_str(job, "id", NULL));
    drv_cli_client *c = NULL;
    int rc = drv_cli_connect(s, MIN(s->timeout_ms, S_WATCH_TIMEOUT_MS), &c);
    if (rc != 0) {
        json_object_put(job);
        return rc;
    }
    GPtrArray *last = g_ptr_array_new_with_free_func(g_free); /* lines shown last time */
    for (;;) {
        if (!inv->json) {
            GString *block = g_string_new(NULL);
            view->render_progress(job, tty ? view->bar_width : 0, block);
            s_draw(tty, block->str, last);
            g_string_free(block, TRUE);
        }
        if (drv_cli_job_is_terminal(job))
            break;
        g_usleep(S_POLL_MS * 1000);
        json_object *next = NULL;
        if ((rc = s_show_patient(s, &c, id, &next)) != 0)
            break;
        json_object_put(job);
        job = next;
    }
    g_ptr_array_unref(last);
    drv_cli_client_destroy(&c);
    if (rc != 0) {
        json_object_put(job);
        return rc;
    }
    return s_finish(inv, job, view);
}

int drv_cli_job_watch_run(const drv_cli_session *s)
{
    drv_cli_client *c = NULL;
    int rc = drv_cli_connect(s, s->timeout_ms, &c);
    if (rc != 0)
        return rc;
    const char *args[] = {g_ptr_array_index(s->inv->args, 0)};
    drv_cli_request req = {.verb = "job.show", .args = args, .n_args = 1};
    json_object *job = NULL;
    rc = drv_cli_call_json(c, &req, &job);
    drv_cli_client_destroy(&c);
    return rc != 0 ? rc : drv_cli_job_follow(s, job);
}
