/* client_req.h — one client request and how it is answered (exactly once, through the I/O seam's
 * answer: ctl_io.h). The client API (api.c) makes them; verbs and job runners answer them. */
#ifndef DROVER_CTL_CLIENT_REQ_H
#define DROVER_CTL_CLIENT_REQ_H

#include "agent_cmd.h"
#include "ctl.h"
#include "error.h"

#include <json-c/json.h>

struct ctl_req;
/* The next step of a verb once etcd answered (err NULL on success). */
typedef void (*ctl_req_then_fn)(struct ctl_req *r, const drv_error *err, bool attempted);

/* One client request, alive until it is answered (exactly once) by ctl_req_ok/ctl_req_fail. */
typedef struct ctl_req {
    ctl *c;
    char *client; /* ROUTER identity */
    char *verb;
    char **args; /* NULL-terminated */
    size_t n_args;
    GHashTable *opts; /* char* → char* */
    char *body;       /* NUL-terminated copy */
    size_t body_len;
    /* state of an asynchronous verb */
    char *domain;
    char *host;
    char *old_host;
    char *name;
    int step;
    ctl_desired desired_after;
    bool set_desired;
    uint32_t modify;
    uint64_t value;
    GHashTable *saved_labels;   /* host.label: the labels before, restored when not stored */
    ctl_desired desired_before; /* intent-first verbs: restored when the action surely failed */
    char *xml;                  /* a definition on its way to etcd */
    char *comment;
    ctl_req_then_fn then;     /* continuation after an etcd write */
    int attempts;             /* etcd writes tried for the current step */
    int64_t expect_revision;  /* edit: the revision the client edited */
    int64_t store_mod;        /* a desired-state write: the domain's mod_revision it compared */
    ctl_desired store_before; /* ... and the desired state it replaced */
    char *pin_host;    /* start: the only host it may be placed on (a managed save), or NULL */
    char *saved_path;  /* save: the file the image goes to */
    char **kept_disks; /* undefine --remove-storage: disks outside cluster pools (kept) */
} ctl_req;

/* Answers with status 0 and the document (ownership taken), frees r. */
void ctl_req_ok(ctl_req *r, json_object *doc);
/* Answers with status 1 and err's kind/message (err is freed), frees r. */
void ctl_req_fail(ctl_req *r, drv_error *err);
/* Answers with status 1 (kind, printf message), frees r. */
void ctl_req_failf(ctl_req *r, drv_err_kind kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Answers with status 2 (usage), frees r. */
void ctl_req_usage(ctl_req *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Answers with status 1 and an agent's failure, prefixed with "domain 'x': <what> on host 'h':";
 * with status 3 ("unknown outcome") when the reply says the command may have run. */
void ctl_req_fail_reply(ctl_req *r, const char *what, const char *host, const ctl_reply *rep);
/* Options: NULL when absent; booleans are "1"/"true"/"yes". */
const char *ctl_req_opt(const ctl_req *r, const char *key);
bool ctl_req_flag(const ctl_req *r, const char *key);
/* Answers with status (0 ok, 1 failed, 2 usage, 3 unknown outcome), kind, error and json (any may
 * be NULL), frees r. The others below are made of it. */
void ctl_req_send(ctl_req *r, int status, const char *kind, const char *error, const char *json);
/* The reply status of a failure of kind: 3 ("unknown outcome") for DRV_ERR_UNKNOWN_OUTCOME, else 1.
 */
int ctl_req_fail_status(drv_err_kind kind);

#endif
