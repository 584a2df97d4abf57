/* verbs.h — the one table of drover's verbs. Help, usage checks, request building and dispatch all
 * read it, so a verb cannot exist in one of them and be missing from another.
 *
 * A verb is GROUP NAME (e.g. "domain" "start"), its positional arguments, its options, a one-line
 * description, the client-API verb it maps to (docs/api.md), how it runs and how its result is
 * shown. */
#ifndef DROVER_CLI_VERBS_H
#define DROVER_CLI_VERBS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define DRV_CLI_MAX_ARGS 4
#define DRV_CLI_MAX_OPTS 16

typedef enum {
    DRV_CLI_OPT_FLAG,    /* --live → "1" */
    DRV_CLI_OPT_UINT,    /* --vcpus 4 → "4" */
    DRV_CLI_OPT_SIZE,    /* --memory 2GiB → KiB as a decimal string (plain number = KiB) */
    DRV_CLI_OPT_SECONDS, /* --timeout 30 → milliseconds as a decimal string */
    DRV_CLI_OPT_STRING,  /* --topic domain. → verbatim */
    DRV_CLI_OPT_LIST,    /* --flags avx2,sse4.2 → verbatim comma list */
    DRV_CLI_OPT_FILE, /* --cloud-init FILE → the file's content (read when the request is sent) */
    DRV_CLI_OPT_KIND_LAST
} drv_cli_opt_kind;

typedef struct {
    const char *name; /* long name without "--"; NULL ends the list */
    drv_cli_opt_kind kind;
    const char *api_key; /* ClientRequest option key; NULL = used by the CLI itself */
    const char *metavar; /* "S", "SIZE", ... (NULL for flags) */
    bool required;
    const char *help;
} drv_cli_opt;

typedef enum {
    DRV_CLI_ARG_STRING, /* sent as-is */
    DRV_CLI_ARG_UINT,   /* checked to be a non-negative integer, sent as-is */
    DRV_CLI_ARG_SIZE,   /* 512M, 2GiB, plain number = KiB → sent as KiB */
    DRV_CLI_ARG_BODY,   /* FILE or '-' (stdin): its content becomes the request body */
    DRV_CLI_ARG_REST,   /* one or more remaining arguments, each sent as-is */
    DRV_CLI_ARG_KIND_LAST
} drv_cli_arg_kind;

typedef struct {
    const char *name; /* "NAME"; NULL ends the list */
    drv_cli_arg_kind kind;
    bool optional; /* only the last ones may be optional */
} drv_cli_arg;

typedef enum {
    DRV_CLI_RUN_REMOTE,    /* one request, one reply, render it */
    DRV_CLI_RUN_EDIT,      /* info + dumpxml, $EDITOR, domain.edit with expect_revision */
    DRV_CLI_RUN_DIFF,      /* history (+ history-show twice): a unified diff (cli/diff.c) */
    DRV_CLI_RUN_CONSOLE,   /* domain.console polled ~10×/s: the serial console (cli/console.c) */
    DRV_CLI_RUN_EVENTS,    /* SUB to the event stream */
    DRV_CLI_RUN_CAPACITY,  /* remote, or offline with --from-file */
    DRV_CLI_RUN_MIGRATE,   /* domain.migrate, then watch the job unless --detach (cli/migrate.c) */
    DRV_CLI_RUN_JOB_WATCH, /* job.show until the job ends (cli/migrate.c) */
    DRV_CLI_RUN_DRAIN,     /* host.maintenance / host.activate, then watch the job with --wait
                              (cli/maintenance.c) */
    DRV_CLI_RUN_KEYGEN,    /* writes a CURVE key pair, offline (cli/main.c) */
    DRV_CLI_RUN_TOP,       /* cluster.stats every --interval, redrawn (cli/top.c) */
} drv_cli_run;

typedef enum {
    DRV_CLI_SHOW_MESSAGE, /* one line from the verb's `done` template */
    DRV_CLI_SHOW_HOST_LIST,
    DRV_CLI_SHOW_HOST,
    DRV_CLI_SHOW_DOMAIN_LIST,
    DRV_CLI_SHOW_DOMAIN_INFO,
    DRV_CLI_SHOW_DOMAIN_STATE,
    DRV_CLI_SHOW_XML, /* the document's "xml" verbatim */
    DRV_CLI_SHOW_HISTORY,
    DRV_CLI_SHOW_SNAPSHOT_LIST,
    DRV_CLI_SHOW_CLUSTER_STATUS,
    DRV_CLI_SHOW_CPU_BASELINE,
    DRV_CLI_SHOW_JSON, /* the document itself (export-snapshot) */
    DRV_CLI_SHOW_CAPACITY,
    DRV_CLI_SHOW_DRAIN_PLAN,
    DRV_CLI_SHOW_EVENT,
    DRV_CLI_SHOW_JOB,          /* a job document (cli/job_render.c) */
    DRV_CLI_SHOW_JOB_LIST,     /* {"jobs":[…]} */
    DRV_CLI_SHOW_HOST_STATS,   /* host.stats (cli/stats_render.c) */
    DRV_CLI_SHOW_DOMAIN_STATS, /* domain.stats */
    DRV_CLI_SHOW_BALANCE_PLAN, /* cluster.balance (cli/stats_render.c) */
    DRV_CLI_SHOW_TOP,          /* cluster.stats as `drover top` shows it */
    DRV_CLI_SHOW_LAST
} drv_cli_show;

typedef struct {
    const char *group; /* "domain" */
    const char *name;  /* "start" */
    drv_cli_arg args[DRV_CLI_MAX_ARGS + 1];
    drv_cli_opt opts[DRV_CLI_MAX_OPTS + 1];
    const char *summary;  /* one line */
    const char *api_verb; /* "domain.start"; NULL when the verb never calls the controller */
    drv_cli_run run;
    drv_cli_show show;
    /* DRV_CLI_SHOW_MESSAGE: template where {name}, {domain}, {host}, {revision}, {autostart},
     * {arg0}, {arg1} are replaced from the result document / arguments ({arg1:size}: KiB shown
     * as a size). */
    const char *done;
    /* Options always sent, "key=value,key=value" (capacity always asks for hosts-down). */
    const char *fixed_opts;
} drv_cli_verb;

/* The global options (--controller, --events, --json, --timeout, --help), accepted before the group
 * and after the verb (a verb's own option of the same name wins after the verb). */
extern const drv_cli_opt drv_cli_global_opts[];

/* The verb table; n is set to its length. */
const drv_cli_verb *drv_cli_verbs(size_t *ret_n);
/* Finds GROUP NAME; NULL when unknown. */
const drv_cli_verb *drv_cli_verb_find(const char *group, const char *name);
/* A verb may have a second form (same GROUP NAME, e.g. `domain create FILE` and `domain create
 * NAME --vcpus ...`): returns the form after verb when words name an option (--x) that only it
 * knows, else verb. */
const drv_cli_verb *drv_cli_verb_form(const drv_cli_verb *verb, int n, char **words);
/* True if some verb belongs to group. */
bool drv_cli_group_exists(const char *group);
/* Finds an option of the verb (or of the global table when verb is NULL) by long name. */
const drv_cli_opt *drv_cli_opt_find(const drv_cli_opt *opts, const char *name);

/* The controller's message for api_verb with every "option KEY" (an API option key) replaced by the
 * CLI flag that sends it ("--max-parallel"), so an error names what the operator typed. Owned. */
char *drv_cli_verbs_flag_words(const char *api_verb, const char *message);

/* "drover domain start NAME" style synopsis, owned by the caller (g_free). */
char *drv_cli_verb_synopsis(const drv_cli_verb *verb);
/* Help texts (owned, g_free): the whole tool, one group, one verb. */
char *drv_cli_help_all(void);
char *drv_cli_help_group(const char *group);
char *drv_cli_help_verb(const drv_cli_verb *verb);

#endif
