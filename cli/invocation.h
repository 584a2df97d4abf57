/* invocation.h — turns drover's command line into what to do: help text to print, or a verb with
 * its client-API request (arguments converted: sizes to KiB, seconds to ms) and the CLI-only
 * options. Pure: reads no file, no environment, contacts no one; every refusal is a DRV_ERR_INVALID
 * error (a usage error, exit status 2) whose message names the verb and the offending word. */
#ifndef DROVER_CLI_INVOCATION_H
#define DROVER_CLI_INVOCATION_H

#include "client.h"
#include "error.h"
#include "verbs.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    /* help requested: the text to print (exit 0); verb may still be set */
    char *help_text;
    const drv_cli_verb *verb;
    /* global options; NULL / 0 when not given */
    char *controller;
    char *events_url;
    bool json;
    long timeout_ms;
    /* the request */
    GPtrArray *args;       /* char * */
    GPtrArray *opt_keys;   /* char *, API keys */
    GPtrArray *opt_values; /* char *, converted values */
    char *body_path;       /* FILE or "-" for verbs with a body argument */
    GHashTable *local;     /* CLI-only option name → value ("1" for flags) */
} drv_cli_invocation;

/* Parses argv[1..argc-1]. On success *ret is owned by the caller (drv_cli_invocation_destroy). */
int drv_cli_invocation_parse(int argc, char **argv, drv_cli_invocation **ret, drv_error **err);
void drv_cli_invocation_destroy(drv_cli_invocation **self_p);

/* The value of an API option already in the request, or NULL. */
const char *drv_cli_invocation_option(const drv_cli_invocation *self, const char *api_key);
/* The value of a CLI-only option (e.g. "from-file"), or NULL. */
const char *drv_cli_invocation_local(const drv_cli_invocation *self, const char *name);

/* Fills req (borrowing self's strings) for self's verb with the given body. */
void drv_cli_invocation_request(const drv_cli_invocation *self, const void *body, size_t body_len,
                                drv_cli_request *req);

/* Parses a size for the API: "512M", "2GiB", "1.5G", "1T"; a plain number is KiB (as in virsh).
 * Returns -1 for anything else (hex, exponents, unknown units). */
int drv_cli_parse_size_kib(const char *text, uint64_t *ret_kib);
/* Parses a duration in seconds ("30", "0.5") into ms; -1 on garbage or a value <= 0. */
int drv_cli_parse_seconds_ms(const char *text, long *ret_ms);

#endif
