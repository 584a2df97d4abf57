/* jobs.h — `drover domain migrate` and `drover job list|show|watch|cancel`: how a job document
 * (jobs/job.h's JSON, docs/migration.md) is shown — a sheet, a table, one progress line or a
 * progress bar, the final sentence — and the loop that watches a job until it ends. The render
 * functions are pure (a document in, text out); the watch loop talks to the controller. */
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
/* The final sentence of a terminal job, with a newline: "Migration of vm1 from h1 to h2
 * succeeded in 2.3 s (downtime 120 ms, 170 MiB transferred)", or "... failed: why". */
void drv_cli_render_job_outcome(json_object *job, GString *out);
/* True when the job's state is succeeded, failed or cancelled. */
bool drv_cli_job_is_terminal(json_object *job);

/* `domain migrate`: start the job, then (unless --detach) watch it. Exit status 0 only when the
 * migration succeeded. */
int drv_cli_migrate_run(const drv_cli_session *s);
/* `job watch ID`: watch a job until it ends (exit 0 when it succeeded, 1 otherwise). */
int drv_cli_job_watch_run(const drv_cli_session *s);

#endif
