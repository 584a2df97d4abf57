/* api_private.h — shared between api.c (transport, dispatch, host and cluster verbs) and
 * api_domain.c (domain and snapshot verbs). */
#ifndef DROVER_CTL_API_PRIVATE_H
#define DROVER_CTL_API_PRIVATE_H

#include "api.h"
#include "broker.h"
#include "client_req.h"

#include <json-c/json.h>

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
