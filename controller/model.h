/* model.h — the controller's cache of the cluster: hosts and domains as stored in etcd (the durable
 * part) plus what this process learnt from agents (registration, liveness, inventories). Pure data:
 * no sockets, no etcd, no clock (times are passed in). */
#ifndef DROVER_CTL_MODEL_H
#define DROVER_CTL_MODEL_H

#include "clock_skew.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CTL_DESIRED_SHUTOFF = 0,
    CTL_DESIRED_RUNNING,
    CTL_DESIRED_PAUSED,
    CTL_DESIRED_LAST
} ctl_desired;

const char *ctl_desired_to_string(ctl_desired d);
/* Returns 0 and *ret, or -1 for an unknown name. */
int ctl_desired_from_string(const char *s, ctl_desired *ret);

/* libvirt's virDomainState numbers (same as the wire's DomainState; common/domstate.h). */
enum {
    CTL_VIR_NOSTATE = 0,
    CTL_VIR_RUNNING = 1,
    CTL_VIR_BLOCKED = 2,
    CTL_VIR_PAUSED = 3,
    CTL_VIR_SHUTDOWN = 4,
    CTL_VIR_SHUTOFF = 5,
    CTL_VIR_CRASHED = 6,
    CTL_VIR_PMSUSPENDED = 7,
};
/* "running", "paused", "shut off", ... for a virDomainState number (drv_domstate_name). */
const char *ctl_vir_state_to_string(int state);
/* True for states that hold the host's resources (running, blocked, paused, shutdown, pmsuspended).
 */
bool ctl_vir_state_active(int state);

typedef struct {
    char *name;
    char *type;
    char *path;
    bool active;
} ctl_pool;
void ctl_pool_free(gpointer p);

/* What an agent reported about its host at registration. */
typedef struct {
    char *hostname;
    char *arch;
    uint32_t cpus;
    uint64_t memory_kib;
    uint64_t free_memory_kib;
    uint64_t reserved_memory_kib;
    char *cpu_vendor;
    char *cpu_model;
    char **cpu_features; /* NULL-terminated */
    char *host_uuid;
    uint64_t libvirt_version;
    uint64_t hypervisor_version;
    char *hypervisor_type;
    char *migration_uri;
    char *libvirt_uri;
    GPtrArray *pools; /* ctl_pool* */
    char **networks;  /* NULL-terminated */
} ctl_facts;

void ctl_facts_clear(ctl_facts *f);
void ctl_facts_copy(ctl_facts *dst, const ctl_facts *src);

/* One domain as a host's agent reports it. */
typedef struct {
    char *name;
    char *uuid;
    int state; /* virDomainState */
    int reason;
    bool persistent;
    uint32_t vcpus;
    uint64_t memory_kib;
    bool managed_save; /* libvirt holds a managed save image of it on this host */
    char **devices;    /* active: the devices of its live XML by name (common/domdevices.h),
                          NULL-terminated; NULL when the agent did not report them */
} ctl_actual;

void ctl_actual_free(ctl_actual *a);

typedef struct {
    char *id;
    ctl_facts facts;
    GHashTable *labels; /* char* → char* */
    char *admin_state;  /* active | preparing-maintenance | maintenance */
    bool reachable;     /* as stored in etcd */
    int64_t registered_at_ms;
    int64_t last_seen_ms;       /* wall clock of the last stored transition / registration */
    int64_t mod_revision;       /* of hosts/<id> */
    int64_t alloc_mod_revision; /* of alloc/<id> (0 when absent) */
    /* What alloc/<id> said when a placement lost its compare on it (another writer booked the
     * host): booked at least this much until the watch brings that write (its domains) into the
     * cache; floor_revision 0 = none (controller/placement.c) */
    uint32_t alloc_floor_vcpus;
    uint64_t alloc_floor_memory_kib;
    int64_t alloc_floor_revision;
    /* runtime, this process only */
    bool registered;         /* has registered with this controller process */
    int64_t last_traffic_ms; /* monotonic */
    int64_t last_heard_ms;   /* wall clock of the last message (not stored: heartbeats stay off
                                etcd); the API's last_seen is the later of this and last_seen_ms */
    char *agent_instance;
    GHashTable *inventory; /* name → ctl_actual* (what the agent last reported); changed only
                              through ctl_model_report / unreport / clear_reports (indexed) */
    /* The inventory is the truth about what runs there: the last Register/Inventory came with
     * libvirt connected and nothing since (libvirt-down, unreachable) made it stale. False on
     * controller start. Set and cleared with ctl_host_set_libvirt / ctl_host_inventory_stale. */
    bool inventory_authoritative;
    bool libvirt_down; /* the agent's last word: its libvirtd is disconnected */
    char **fenced;     /* HA guests its agent says it fenced (Register), NULL-terminated or NULL */
    int64_t fenced_at_ms;
    ctl_clock_skew skew; /* its clock vs this controller's, from its messages (clock_skew.h) */
    bool skew_warned;    /* the skew was past CTL_SKEW_WARN_MS when last looked at */
} ctl_host;

typedef struct {
    char *name;
    char *uuid;
    char *xml;
    int64_t revision;
    ctl_desired desired;
    char *host;             /* placement, NULL when never placed */
    uint32_t vcpus;         /* <vcpu>: the maximum */
    uint32_t vcpus_current; /* <vcpu current=>, else vcpus; 0 when not stored (older records) */
    uint64_t memory_kib;
    char **cpu_features; /* NULL-terminated */
    char **devices;      /* the devices of xml by name (common/domdevices.h), NULL-terminated;
                            NULL when not known */
    bool autostart;
    bool transient;
    char *affinity_group;
    char *anti_affinity_group;
    int64_t created_ms;
    char *saved_path;     /* `domain save`: the memory image in shared storage, NULL when none */
    int64_t mod_revision; /* of domains/<name> */
    /* HA policy (docs/ha.md): restarted elsewhere after its host is fenced */
    bool ha;
    int32_t ha_priority;       /* higher restarts first when room is short */
    uint32_t ha_restart_limit; /* restarts allowed before it stays ha-waiting; 0 = no limit */
    uint32_t ha_restarts;      /* restarts by HA since the policy was last enabled */
    /* runtime */
    char *busy; /* verb of the operation in flight, NULL when idle */
    /* the revision the running instance was started from, when a later one was stored while it
     * ran (an edit waiting for a restart); 0 when not known to differ. Kept across replacements
     * of the entry (ctl_model_put_domain), cleared when it stops or starts again. */
    int64_t running_revision;
    char *ha_waiting; /* why HA cannot restart it now (controller/ha.c), NULL otherwise */
} ctl_domain;

typedef struct ctl_model ctl_model;

ctl_model *ctl_model_new(void);
void ctl_model_destroy(ctl_model **self_p);

ctl_host *ctl_host_new(const char *id);
void ctl_host_free(ctl_host *h);

/* Reasons for the state "unknown" (libvirt's state + reason pairs: never a guess). */
#define CTL_UNKNOWN_UNREACHABLE  "host unreachable"
#define CTL_UNKNOWN_LIBVIRT_DOWN "libvirt disconnected"
#define CTL_UNKNOWN_NO_INVENTORY "inventory not yet received"

/* Why what h's agent reports cannot be taken as what runs on h (a borrowed constant above): h is
 * NULL or unreachable, has not registered with this process, or its libvirtd is disconnected (the
 * agent's domain list is then empty but not authoritative). NULL when its inventory is
 * authoritative: a domain absent from it does not run there. */
const char *ctl_host_unknown_reason(const ctl_host *h);
/* The agent said whether libvirt is connected (Register, Inventory, a libvirt-down event):
 * connected → the inventory it sent is authoritative; else it is not, until the next one. */
void ctl_host_set_libvirt(ctl_host *h, bool connected);
/* The name of a domain h's inventory shows active (running, paused, ...; the first by name,
 * borrowed), or NULL when none: with an authoritative inventory, NULL means nothing runs on h. */
const char *ctl_host_active_domain(const ctl_host *h);
/* The inventory may have missed changes (the host was unreachable): not authoritative until the
 * agent sends a full one again. */
void ctl_host_inventory_stale(ctl_host *h);
ctl_domain *ctl_domain_new(const char *name);
void ctl_domain_free(ctl_domain *d);
/* A deep copy of the stored part (busy is not copied). */
ctl_domain *ctl_domain_copy(const ctl_domain *d);

/* Lookups return borrowed pointers or NULL. */
ctl_host *ctl_model_host(ctl_model *self, const char *id);
ctl_domain *ctl_model_domain(ctl_model *self, const char *name);
/* Marks the domain busy with verb (NULL: idle); nothing when it is not known. */
void ctl_model_set_busy(ctl_model *m, const char *name, const char *verb);
/* Takes ownership. A host/domain of the same name is replaced; for hosts, the runtime part of the
 * old entry (registration, inventory, traffic) is carried over. Returns the stored pointer. */
ctl_host *ctl_model_put_host(ctl_model *self, ctl_host *h);
/* For domains, busy and running_revision are carried over; a new revision stored while the
 * domain is active on its host records the old one as running_revision ("restart pending"). */
ctl_domain *ctl_model_put_domain(ctl_model *self, ctl_domain *d);
/* Moves the runtime part (registrations, inventories, traffic, busy flags) of old's hosts and
 * domains to the entries of the same name in self (a model freshly loaded from etcd). */
void ctl_model_adopt_runtime(ctl_model *self, ctl_model *old);
void ctl_model_remove_host(ctl_model *self, const char *id);
/* The allow-list of agents (etcd hostkeys/<id>): each host id bound to one CURVE public key (z85),
 * each key to one host id. bind replaces the host's old key and any other host's binding of the
 * same key; the lookups return borrowed strings or NULL. */
void ctl_model_bind_key(ctl_model *self, const char *host_id, const char *key);
void ctl_model_unbind_key(ctl_model *self, const char *host_id);
const char *ctl_model_key_host(ctl_model *self, const char *key);
const char *ctl_model_host_key(ctl_model *self, const char *host_id);
guint ctl_model_n_keys(const ctl_model *self);
void ctl_model_remove_domain(ctl_model *self, const char *name);
/* Sorted (by name) borrowed lists; free the array with g_ptr_array_unref. */
GPtrArray *ctl_model_hosts(ctl_model *self);
GPtrArray *ctl_model_domains(ctl_model *self);
/* The same, in no particular order: for a walk that does not need the order (a sort of 20,000
 * domains on every registration of 1,000 hosts kept the loop busy for seconds, docs/scale.md). */
GPtrArray *ctl_model_domains_unordered(ctl_model *self);
/* The domains placed on host_id (d->host), sorted by name, borrowed; O(domains there) from the
 * model's per-host index. Free the array with g_ptr_array_unref. */
GPtrArray *ctl_model_domains_on(ctl_model *self, const char *host_id);
/* The stored hosts whose inventory lists the domain `name` (any state), sorted by id, borrowed. */
GPtrArray *ctl_model_hosts_reporting(ctl_model *self, const char *name);
/* Changes of a host's inventory go through these (the model indexes who reports what):
 * report takes ownership of a and replaces the entry of its name; unreport removes one; clear
 * empties h's inventory. h may be a host not (or no longer) stored: then only its table changes. */
void ctl_model_report(ctl_model *self, ctl_host *h, ctl_actual *a);
void ctl_model_unreport(ctl_model *self, ctl_host *h, const char *name);
void ctl_model_clear_reports(ctl_model *self, ctl_host *h);
guint ctl_model_n_hosts(const ctl_model *self);
guint ctl_model_n_domains(const ctl_model *self);

/* Resources booked on a host: domains placed there whose desired state is running/paused or that
 * the host reports active, excluding `except` (a domain name or NULL). */
void ctl_model_host_alloc(ctl_model *self, const char *host_id, const char *except,
                          uint32_t *ret_vcpus, uint64_t *ret_memory_kib, uint32_t *ret_domains);
/* ctl_model_host_alloc of every host in one pass over the domains (for /metrics: O(domains), not
 * O(hosts × domains)): host id (borrowed from the domains: valid until the model changes) →
 * ctl_host_alloc* (owned by the table). Hosts with nothing booked are absent. */
typedef struct {
    uint32_t vcpus;
    uint64_t memory_kib;
    uint32_t domains;
} ctl_host_alloc;
GHashTable *ctl_model_hosts_alloc(ctl_model *self);
/* Actual state of a domain and the reason for it, both borrowed words (common/domstate.h):
 *   - "unknown" (reason: why) when its placed host cannot say what runs there;
 *   - "migrating" while a live migration moves it, "pending" (reason: the verb) while a start or
 *     create places it and it does not run yet;
 *   - "saved" (reason "managed save" / "save file") when it is off with a memory image;
 *   - else what the host's authoritative inventory reports, with libvirt's reason ("shut off",
 *     "crashed"; reason NULL when libvirt gives none); "shut off" when it was never placed or is
 *     absent from an authoritative inventory. */
void ctl_model_domain_state(ctl_model *self, const ctl_domain *d, const char **ret_state,
                            const char **ret_reason);
/* The reasons of the cluster's "saved" state. */
#define CTL_SAVED_MANAGED "managed save"
#define CTL_SAVED_FILE    "save file"
/* True when the domain is known not to run: "shut off", "crashed", "no state" or "saved". */
bool ctl_model_domain_is_off(ctl_model *self, const ctl_domain *d);
/* The placed host's inventory entry of d (borrowed) or NULL. */
const ctl_actual *ctl_model_domain_actual(ctl_model *self, const ctl_domain *d);
/* Why d's state is "unknown" (ctl_host_unknown_reason of its host), or NULL when it is known. */
const char *ctl_model_domain_unknown_reason(ctl_model *self, const ctl_domain *d);
/* A sentence when actual ≠ desired or the domain runs where it is not placed (owned), else NULL. */
char *ctl_model_domain_drift(ctl_model *self, const ctl_domain *d);
/* The id of a host other than d->host whose agent reports d active, or NULL (borrowed). */
const char *ctl_model_domain_elsewhere(ctl_model *self, const ctl_domain *d);

#endif
