/* view.h — every JSON document the controller reads or writes: the etcd values (hosts/<id>,
 * domains/<name>, history/..., snapshots/...) and the client API's result objects (docs/api.md).
 * The only file that builds JSON. */
#ifndef DROVER_CTL_VIEW_H
#define DROVER_CTL_VIEW_H

#include "error.h"
#include "etcd.h"
#include "model.h"

#include <json-c/json.h>

/* etcd values: owned strings (g_free). */
char *ctl_view_host_store(const ctl_host *h);
char *ctl_view_domain_store(const ctl_domain *d);
/* Parse an etcd value into a new object; -1 with an error naming the key on garbage. */
int ctl_view_host_parse(const char *id, const char *json, ctl_host **ret, drv_error **err);
int ctl_view_domain_parse(const char *name, const char *json, ctl_domain **ret, drv_error **err);

char *ctl_view_history_store(const char *xml, int64_t time_ms, const char *comment);
/* Returns a new json object {"xml","time_ms","comment"} or NULL with an error. */
json_object *ctl_view_parse(const char *what, const char *json, drv_error **err);

typedef struct {
    char *name;
    char *parent;
    int64_t creation_time;
    char *state;
    bool current;
    char *xml;
} ctl_snapshot;
void ctl_snapshot_clear(ctl_snapshot *s);
char *ctl_view_snapshot_store(const ctl_snapshot *s);
int ctl_view_snapshot_parse(const char *json, ctl_snapshot *ret, drv_error **err);
json_object *ctl_view_snapshot_api(const ctl_snapshot *s);

/* Client API objects (new references). */
json_object *ctl_view_host_api(ctl_model *m, const ctl_host *h, bool with_domain_names);
json_object *ctl_view_domain_api(ctl_model *m, const ctl_domain *d);
json_object *ctl_view_domain_state_api(ctl_model *m, const ctl_domain *d);
/* Result documents of the client verbs (docs/api.md). GPtrArray arguments are borrowed. */
json_object *ctl_view_hosts(ctl_model *m, GPtrArray *hosts);     /* {"hosts":[…]} */
json_object *ctl_view_domains(ctl_model *m, GPtrArray *domains); /* {"domains":[…]} */
json_object *ctl_view_domain_info(ctl_model *m, const ctl_domain *d, int64_t history_len);
json_object *ctl_view_xml(const char *name, const char *xml, bool live);
json_object *ctl_view_undefined(const char *name);
/* {"name","revisions":[{"revision","time_ms","xml_sha256","comment"}]} from history/<name>/ kvs. */
json_object *ctl_view_history(const char *name, const drv_etcd_range *r);
/* A history entry's JSON plus "name" and "revision"; NULL with an error on garbage. */
json_object *ctl_view_history_entry(const char *name, int64_t revision, const char *json,
                                    drv_error **err);
/* The XML of a history entry (owned) or NULL. */
char *ctl_view_history_xml(const char *json);
json_object *ctl_view_snapshot_ref(const char *domain, const char *name);
json_object *ctl_view_snapshots(const char *domain, GPtrArray *snapshots, const char *source);

typedef struct {
    const char *leader;
    bool is_leader;
    const char *name;
    const char *instance;
    const char *prefix;
    int hosts, hosts_reachable, domains, domains_running;
    int outcomes_unknown; /* verbs whose outcome is still being learnt (outcome.h) */
    int stores_unknown;   /* desired-state writes etcd may still apply (store_doubt.h) */
} ctl_status;
json_object *ctl_view_status(const ctl_status *st);
/* {"features":[…],"cpu_xml":xml|null[,"error":error]}. */
json_object *ctl_view_baseline(char *const *features, const char *cpu_xml, const char *error);
/* Event objects for things that are not (or no longer) a host/domain of the model. */
json_object *ctl_view_named(const char *key, const char *name);
json_object *ctl_view_unmanaged(const char *name, const char *host, const char *state);

/* {"type":type,"object":object} — takes ownership of object. */
json_object *ctl_view_event(const char *type, json_object *object);
/* Serialises (plain, no spaces) and drops the reference; owned string (g_free). */
char *ctl_view_finish(json_object *o);

#endif
