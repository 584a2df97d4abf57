/* jobs.h — `drover domain migrate` and `drover job list|show|watch|cancel`: how a job document
 * (jobs/job.h's JSON, docs/migration.md) is shown — a sheet, a table, one progress line or a
 * progress bar, the final sentence — and the loop that follows a job until it ends (cli/watch.c).
 * The render functions are pure (a document in, text out); the watch loop talks to the controller.
 */
#ifndef DROVER_CLI_JOBS_H
#define DROVER_CLI_JOBS_H

#include "session.h"

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>

/* One job as a key/value sheet (job show). */
void drv_cli_render_job(json_object *job, GString *out);
/* {"jobs":[…]} as a table (job list). */
void drv_cli_render_job_list(json_object *doc, GString *out);
/* One line of progress without a newline: "migrating  45%  52.3 MiB/s  remaining 70 MiB  ETA 1.4 s
 * (iteration 2)"; for other phases the phase name. bar_width > 0 prepends a bar of that width. */
void drv_cli_render_job_progress(json_object *job, int bar_width, GString *out);
/* How long the job has run: the controller's "elapsed_ms" (now − created while it runs), else,
 * from an older controller, updated − created. */
uint64_t drv_cli_job_elapsed_ms(json_object *job);
/* "640 ms", "2.4 s", "12 min 3 s", "1 h 5 min": a duration in the unit people read (owned). */
char *drv_cli_duration(uint64_t ms);
/* The final sentence of a terminal job, with a newline: "Migration of vm1 from h1 to h2
 * succeeded in 2.3 s (downtime 120 ms, 170 MiB transferred)", or "... failed: why". */
void drv_cli_render_job_outcome(json_object *job, GString *out);
/* True when the job's state is succeeded, failed or cancelled. */
bool drv_cli_job_is_terminal(json_object *job);

/* `domain migrate`: start the job, then (unless --detach) follow it. Exit status 0 only when the
 * migration succeeded. */
int drv_cli_migrate_run(const drv_cli_session *s);
/* Follows job (consumed) until it ends (cli/watch.c): polls job.show through a controller restart
 * or a leader change, shows a migration's progress line or a drain's per-domain block, then the
 * final sentence (on stderr, as the error, when the job did not succeed; --json: the document).
 * Returns the exit status: 0 only when the job succeeded. */
int drv_cli_job_follow(const drv_cli_session *s, json_object *job);
/* `job watch ID`: follow any job until it ends (exit 0 when it succeeded, 1 otherwise). */
int drv_cli_job_watch_run(const drv_cli_session *s);

/* ---- drain and restore jobs (cli/drain_render.c, cli/maintenance.c; docs/maintenance.md) */

/* True for a drain or restore job document. */
bool drv_cli_job_is_drain(json_object *job);
/* A summary line, then one line per domain: "  web1 h1 -> h2 [####....]  52%  migrating  61.3
 * MiB/s  iteration 2  (attempt 1)" (bar_width 0: no bar); every line ends with a newline. */
void drv_cli_render_drain_progress(json_object *job, int bar_width, GString *out);
/* job show of a drain/restore: host, options, job time, then the progress block. */
void drv_cli_render_drain_sheet(json_object *job, GString *out);
/* The final sentence: "Drain of h1 succeeded in 8.2 s: 3 of 3 domains moved; the host is in
 * maintenance", or "... failed in ...: why". */
void drv_cli_render_drain_outcome(json_object *job, GString *out);
/* `host maintenance` / `host activate`: the request; a dry run's plan; the job started, followed
 * with --wait (exit 0 only when it succeeded: the host is empty / every domain is back). */
int drv_cli_drain_run(const drv_cli_session *s);

#endif
