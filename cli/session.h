/* session.h — what the verbs that run share once the command line is parsed: where the controller
 * is, how long to wait, and how a failure is reported (stderr "error: <message>", exit status 1,
 * or the controller's status). Each run function returns the process exit status. */
#ifndef DROVER_CLI_SESSION_H
#define DROVER_CLI_SESSION_H

#include "client.h"
#include "invocation.h"

#include <json-c/json.h>

typedef struct {
    const drv_cli_invocation *inv;
    const char *controller; /* resolved endpoint */
    const char *events_url; /* resolved endpoint */
    long timeout_ms;        /* resolved receive timeout */
} drv_cli_session;

/* Prints "error: <message>" on stderr; returns status. */
int drv_cli_fail(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Prints *err's message as drv_cli_fail does and frees it; returns 1. */
int drv_cli_fail_error(drv_error **err);
/* A client of the session's controller with the receive timeout timeout_ms: 0 and *ret
 * (drv_cli_client_destroy), or the exit status with the error printed. */
int drv_cli_connect(const drv_cli_session *s, long timeout_ms, drv_cli_client **ret);
/* Reports a reply whose status is not 0 and returns the exit status it maps to (1 or 2). */
int drv_cli_fail_reply(const drv_cli_request *req, const drv_cli_reply *reply);
/* One request; on a failure (no answer, a non-zero status, a document that is not JSON) prints it
 * and returns the exit status, else 0 with *ret_doc (owned, json_object_put). */
int drv_cli_call_json(drv_cli_client *c, const drv_cli_request *req, json_object **ret_doc);
/* The invocation's own request (no body) on a connection of its own: 0 with *ret_req (its strings
 * borrowed from s->inv) and *ret_doc (owned), or the exit status (error printed). */
int drv_cli_session_call(const drv_cli_session *s, drv_cli_request *ret_req, json_object **ret_doc);
/* Writes text to stdout; 0, or 1 with an error printed when stdout fails (e.g. a closed pipe). */
int drv_cli_print(const char *text, size_t len);

/* Prints a successful verb's result document (--json or the people's view); 0 or 1. */
int drv_cli_print_result(const drv_cli_invocation *inv, const char *json_text);
/* Reads FILE, or standard input for "-", into *ret (g_free); the error names the file. */
int drv_cli_read_input(const char *path, char **ret, size_t *ret_len, drv_error **err);

/* `domain edit`: see docs/cli.md. */
int drv_cli_edit_run(const drv_cli_session *s);
/* `domain diff NAME [REV1 [REV2]]` (cli/diff.c). */
int drv_cli_diff_run(const drv_cli_session *s);
/* `domain console NAME [--force]` (cli/console.c). */
int drv_cli_console_run(const drv_cli_session *s);
/* `top [--once] [--interval S] [--domains N]` (cli/top.c). */
int drv_cli_top_run(const drv_cli_session *s);
/* `events`: see docs/cli.md. */
int drv_cli_events_run(const drv_cli_session *s);

#endif
