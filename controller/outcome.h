/* outcome.h — lifecycle commands whose outcome was reported "unknown", resolved afterwards.
 *
 * A verb (shutdown, destroy, suspend, resume) stores its intent, then commands the host. When the
 * answer is "unknown outcome" the client is told so and the intent stays stored; this module then
 * learns what really happened and makes the stored desired state agree with it:
 *   - the agent's own answer arrives late (it was stopped, or the network was down): ok → the
 *     intent stands; a failure or an expiry refusal → it certainly did not happen: the desired
 *     state goes back to what it was before the verb;
 *   - the agent answered "unknown outcome" itself (libvirtd's connection broke during the call),
 *     or it restarted (what it had queued is gone), or no answer came by the give-up time: the
 *     host's next authoritative inventory decides (the guest is in the intended state → it
 *     happened; it is in the state from before → it did not).
 * The desired state is only put back while it is still the one the verb stored (a later verb
 * wins). Nothing is decided from an inventory that is not authoritative.
 *
 * Pure verdict (ctl_outcome_verdict) + the table on the controller context (c->outcomes). */
#ifndef DROVER_CTL_OUTCOME_H
#define DROVER_CTL_OUTCOME_H

#include "broker.h"
#include "ctl.h"
#include "model.h"

typedef struct ctl_outcomes ctl_outcomes;

typedef enum {
    CTL_VERDICT_OPEN = 0,    /* not known yet: keep waiting */
    CTL_VERDICT_HAPPENED,    /* the intent stands */
    CTL_VERDICT_NOT_HAPPENED /* the desired state goes back */
} ctl_verdict;

/* What the guest's state (virDomainState; -1 = not on the host) says of a verb that wanted
 * desired_after and came from desired_before. */
ctl_verdict ctl_outcome_verdict(ctl_desired desired_before, ctl_desired desired_after,
                                int vir_state);

ctl_outcomes *ctl_outcomes_new(void);
void ctl_outcomes_destroy(ctl_outcomes **self_p);

/* Records a verb whose reply was unknown_outcome. rep is that reply (its command_id names the
 * command; synthesized says whether the agent itself answered); kind and timeout_ms are the
 * command's (a shutdown's grace: how long it may run past its expiry). */
void ctl_outcome_watch(ctl *c, const char *host, const ctl_reply *rep, const char *verb,
                       const char *domain, ctl_cmd_kind kind, uint32_t timeout_ms,
                       ctl_desired desired_before, ctl_desired desired_after);
/* True when command_id is watched and was sent to host (the broker hands its late reply to
 * ctl_outcome_late; a reply from any other host is dropped). */
bool ctl_outcome_watched(ctl *c, const char *command_id, const char *host);
/* The agent's late answer to a watched command. */
void ctl_outcome_late(ctl *c, const char *host, const char *command_id, const ctl_reply *rep);
/* The host is reachable (or registered) again: every watched command of its agent is sent again
 * under its own id and expiry, so the agent says what became of it. */
void ctl_outcome_host_back(ctl *c, ctl_host *h);
/* The host's inventory is authoritative again (or changed): resolves what it can tell. */
void ctl_outcome_host_known(ctl *c, ctl_host *h);
/* Timers (give-up); returns ms until the next one. */
int64_t ctl_outcome_tick(ctl *c, int64_t now_ms);
/* Stepping down: stops watching (logged); the stored desired states stay as they are. */
void ctl_outcome_forget_all(ctl *c);
/* How many outcomes are not resolved yet (cluster status). */
guint ctl_outcome_open_count(ctl *c);

#endif
