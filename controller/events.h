/* events.h — the controller's PUB socket: one event = a topic frame ("host.<id>", "domain.<name>",
 * "job.<id>") and an Envelope{cluster_event{topic, json, timestamp_ms}} (docs/api.md). */
#ifndef DROVER_CTL_EVENTS_H
#define DROVER_CTL_EVENTS_H

#include "ctl.h"
#include "job.h"

/* A CURVE server (curve_secret, z85) in the ZAP domain DRV_ZAP_DOMAIN_EVENTS: client keys only. */
ctl_events *ctl_events_new(void *zctx, const char *endpoint, const char *curve_secret,
                           drv_error **err);
void ctl_events_destroy(ctl_events **self_p);
/* Publishes {"type":type,"object":object}; takes ownership of object. Never blocks; failures are
 * logged at debug (PUB drops when nobody listens). */
void ctl_events_publish(ctl_events *self, const char *topic, const char *type, json_object *object);
/* Shorthands that render the current object from the model. A "state-changed" of a domain is
 * published only when its state, reason, host or desired state differ from the last one
 * published for it (no duplicate for one change). */
void ctl_events_host(ctl *c, const ctl_host *h, const char *type);
void ctl_events_domain(ctl *c, const ctl_domain *d, const char *type);
/* For a domain that is gone (or never known): {"name":name, ...extra}. Takes ownership of extra
 * (may be NULL). */
void ctl_events_domain_name(ctl *c, const char *name, const char *type, json_object *extra);
/* A job's event on topic job.<id>: the job as the API shows it, plus "message" when not NULL. */
void ctl_events_job(ctl *c, const drv_job *job, const char *type, const char *message);

#endif
