/* render.h — how drover shows result documents to people: aligned tables, key/value sheets and
 * one-line messages, chosen by the verb table's `show`; and the pretty JSON printed for --json.
 * Pure: a document in, text out (times are shown in UTC so the output is reproducible). */
#ifndef DROVER_CLI_RENDER_H
#define DROVER_CLI_RENDER_H

#include "invocation.h"

#include <glib.h>
#include <json-c/json.h>
#include <stdint.h>

/* Appends the people's view of doc (the result of inv's verb) to out. */
void drv_cli_render(const drv_cli_invocation *inv, json_object *doc, GString *out);
/* Appends one line for an event from the stream (topic frame, ClusterEvent json, timestamp). */
void drv_cli_render_event(const char *topic, json_object *doc, uint64_t timestamp_ms, GString *out);
/* Pretty JSON (two-space indent, no escaped slashes) with a final newline. Owned (g_free). */
char *drv_cli_render_json(json_object *doc);

/* stats_render.c: `host stats` and `domain stats` documents (docs/observability.md). */
void drv_cli_render_host_stats(json_object *doc, GString *out);
void drv_cli_render_domain_stats(json_object *doc, GString *out);
/* cluster.balance's plan: summary, score before/after, the moves with what each gains. */
void drv_cli_render_balance_plan(json_object *doc, GString *out);
/* `drover top`: cluster.stats as hosts with CPU and memory bars, then the max_domains busiest
 * domains (CPU + steal). */
void drv_cli_render_top(json_object *doc, unsigned max_domains, GString *out);

/* An aligned text table: columns separated by two spaces, no trailing blanks. */
typedef struct drv_cli_table drv_cli_table;
drv_cli_table *drv_cli_table_new(const char *const *headers, size_t n_columns);
/* Adds a row of n_columns cells (NULL cells print as "-"); cells are copied. */
void drv_cli_table_add(drv_cli_table *self, const char *const *cells);
void drv_cli_table_render(const drv_cli_table *self, GString *out);
void drv_cli_table_destroy(drv_cli_table **self_p);

/* The output of a successful verb from its result document text: with --json the pretty document
 * (an unparsable document verbatim, an empty one as {}), else the people's view. */
void drv_cli_render_result(const drv_cli_invocation *inv, const char *json_text, GString *out);

#endif
