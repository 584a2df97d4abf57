/* prov_fanout.h — one command sent to every registered, reachable host at once, the replies
 * gathered into one JSON array [{"host","ok","error"?, <the reply's stats>...}] handed to a
 * callback when the last host answered (or failed). Used by pool/network verbs that act on every
 * host. */
#ifndef DROVER_CTL_PROV_FANOUT_H
#define DROVER_CTL_PROV_FANOUT_H

#include "broker.h"

#include <json-c/json.h>

/* hosts: the array (owned by the callee: json_object_put it), n_ok: hosts that succeeded. */
typedef void (*ctl_fanout_fn)(ctl *c, json_object *hosts, int n_ok, void *data);

/* Sends cmd (copied as far as its strings go) to every up host; fn runs once on the loop. With no
 * host up, fn runs at once with an empty array. */
void ctl_fanout(ctl *c, const ctl_cmd *cmd, ctl_fanout_fn fn, void *data);
/* The first registered, reachable host (by id), or NULL (borrowed). */
const char *ctl_fanout_first_up(ctl *c);

#endif
