/* api_private.h — shared between api.c (transport, dispatch, host and cluster verbs) and
 * api_domain.c (domain and snapshot verbs). */
#ifndef DROVER_CTL_API_PRIVATE_H
#define DROVER_CTL_API_PRIVATE_H

#include "api.h"
#include "broker.h"

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

/* Domain and snapshot verbs (api_domain.c). */
typedef void (*ctl_verb_fn)(ctl_req *r);
void ctl_api_domain_define(ctl_req *r);
/* api_save.c: save / restore / managedsave-remove. */
void ctl_api_domain_save(ctl_req *r);
void ctl_api_domain_restore(ctl_req *r);
void ctl_api_domain_save_remove(ctl_req *r);
/* api_console.c: one poll of a serial console session. */
void ctl_api_domain_console(ctl_req *r);
/* Shared by api_domain.c and api_save.c. The named domain (args[0]; r->domain set), or NULL with
 * r answered "not found". */
ctl_domain *ctl_api_domain_arg(ctl_req *r);
/* True when d is idle; else r is answered "conflict" (a verb in progress). */
bool ctl_api_domain_idle(ctl_req *r, const ctl_domain *d);
/* d's placed host when its agent is connected; else r is answered and NULL returned. */
const char *ctl_api_domain_up_host(ctl_req *r, const ctl_domain *d);
/* Places r->domain (checked by the caller: defined, idle, not running, state known) and starts it
 * through a start job; r->pin_host (may be NULL) is the only host it may go to. Answers r. */
void ctl_api_domain_place_and_start(ctl_req *r, const ctl_domain *d);
/* Why d cannot be started plainly (owned sentence naming the verb to use), or NULL: it has a
 * saved memory image (managed save on its host, or a `domain save` file). */
char *ctl_api_domain_saved_refusal(ctl *c, const ctl_domain *d);
void ctl_api_domain_undefine(ctl_req *r);
void ctl_api_domain_create(ctl_req *r);
void ctl_api_domain_start(ctl_req *r);
void ctl_api_domain_lifecycle(ctl_req *r); /* shutdown reboot destroy suspend resume */
/* api_list.c: filtered, paged lists. */
void ctl_api_domain_list(ctl_req *r);
void ctl_api_host_list(ctl_req *r);
void ctl_api_domain_info(ctl_req *r);
/* api_stats.c */
void ctl_api_host_stats(ctl_req *r);
void ctl_api_domain_stats(ctl_req *r);
void ctl_api_cluster_stats(ctl_req *r); /* every host's, for `drover top` */
/* api_balance.c */
void ctl_api_cluster_balance(ctl_req *r);
void ctl_api_domain_state(ctl_req *r);
void ctl_api_domain_dumpxml(ctl_req *r);
void ctl_api_domain_edit(ctl_req *r);
void ctl_api_domain_history(ctl_req *r);
void ctl_api_domain_history_show(ctl_req *r);
void ctl_api_domain_rollback(ctl_req *r);
void ctl_api_domain_modify(ctl_req *r); /* setvcpus setmem attach-device detach-device */
void ctl_api_domain_autostart(ctl_req *r);
void ctl_api_domain_ha(ctl_req *r);    /* ha_api.c */
void ctl_api_host_ha_plan(ctl_req *r); /* ha_api.c */
void ctl_api_snapshot_create(ctl_req *r);
void ctl_api_snapshot_list(ctl_req *r);
void ctl_api_snapshot_revert(ctl_req *r);
void ctl_api_snapshot_delete(ctl_req *r);
/* The agents' allow-list (api_hostkeys.c). */
void ctl_api_host_enroll(ctl_req *r);
void ctl_api_host_remove(ctl_req *r);

#endif
