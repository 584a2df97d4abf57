/* view.c — see view.h. */
#include "view.h"

#include "domstate.h"
#include "domxml.h"
#include "json_get.h"
#include "log.h"

#include <string.h>

static void s_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void s_i64(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

static void s_bool(json_object *o, const char *key, bool v)
{
    json_object_object_add(o, key, json_object_new_boolean(v));
}

static json_object *s_strv(char *const *v)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        json_object_array_add(a, json_object_new_string(v[i]));
    return a;
}

/* The record readers: lenient (json_get.h), a stored value of another type reads as absent. */
static char *s_get_str(json_object *o, const char *key)
{
    return g_strdup(drv_json_get_str(o, key, NULL));
}

char *ctl_view_finish(json_object *o)
{
    char *s = g_strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

json_object *ctl_view_parse(const char *what, const char *json, drv_error **err)
{
    enum json_tokener_error jerr = json_tokener_success;
    json_object *o = json_tokener_parse_verbose(json ? json : "", &jerr);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        drv_error_set(err, DRV_ERR_INVALID, 0, "%s: not a JSON object (%s)", what,
                      jerr == json_tokener_success ? "wrong type" : json_tokener_error_desc(jerr));
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------ hosts */

static void s_facts_to(json_object *o, const ctl_facts *f)
{
    s_str(o, "hostname", f->hostname);
    s_str(o, "arch", f->arch);
    s_i64(o, "cpus", f->cpus);
    s_i64(o, "memory_kib", (int64_t)f->memory_kib);
    s_i64(o, "reserved_memory_kib", (int64_t)f->reserved_memory_kib);
    s_i64(o, "free_memory_kib", (int64_t)f->free_memory_kib);
    s_str(o, "cpu_vendor", f->cpu_vendor);
    s_str(o, "cpu_model", f->cpu_model);
    json_object_object_add(o, "cpu_features", s_strv(f->cpu_features));
    s_str(o, "host_uuid", f->host_uuid);
    s_str(o, "hypervisor_type", f->hypervisor_type);
    s_i64(o, "libvirt_version", (int64_t)f->libvirt_version);
    s_i64(o, "hypervisor_version", (int64_t)f->hypervisor_version);
    s_str(o, "migration_uri", f->migration_uri);
    s_str(o, "libvirt_uri", f->libvirt_uri);
    json_object *pools = json_object_new_array();
    for (guint i = 0; f->pools != NULL && i < f->pools->len; i++) {
        const ctl_pool *p = g_ptr_array_index(f->pools, i);
        json_object *po = json_object_new_object();
        s_str(po, "name", p->name);
        s_str(po, "type", p->type);
        s_str(po, "path", p->path);
        s_bool(po, "active", p->active);
        json_object_array_add(pools, po);
    }
    json_object_object_add(o, "pools", pools);
    json_object_object_add(o, "networks", s_strv(f->networks));
}

static void s_facts_from(ctl_facts *f, json_object *o)
{
    f->hostname = s_get_str(o, "hostname");
    f->arch = s_get_str(o, "arch");
    f->cpus = (uint32_t)drv_json_get_int(o, "cpus", 0);
    f->memory_kib = (uint64_t)drv_json_get_int(o, "memory_kib", 0);
    f->reserved_memory_kib = (uint64_t)drv_json_get_int(o, "reserved_memory_kib", 0);
    f->free_memory_kib = (uint64_t)drv_json_get_int(o, "free_memory_kib", 0);
    f->cpu_vendor = s_get_str(o, "cpu_vendor");
    f->cpu_model = s_get_str(o, "cpu_model");
    f->cpu_features = drv_json_get_strv(o, "cpu_features");
    f->host_uuid = s_get_str(o, "host_uuid");
    f->hypervisor_type = s_get_str(o, "hypervisor_type");
    f->libvirt_version = (uint64_t)drv_json_get_int(o, "libvirt_version", 0);
    f->hypervisor_version = (uint64_t)drv_json_get_int(o, "hypervisor_version", 0);
    f->migration_uri = s_get_str(o, "migration_uri");
    f->libvirt_uri = s_get_str(o, "libvirt_uri");
    f->networks = drv_json_get_strv(o, "networks");
    json_object *pools = NULL;
    if (json_object_object_get_ex(o, "pools", &pools) &&
        json_object_is_type(pools, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(pools); i++) {
            json_object *po = json_object_array_get_idx(pools, i);
            ctl_pool *p = g_new0(ctl_pool, 1);
            p->name = s_get_str(po, "name");
            p->type = s_get_str(po, "type");
            p->path = s_get_str(po, "path");
            p->active = drv_json_get_bool(po, "active", false);
            g_ptr_array_add(f->pools, p);
        }
    }
}

static json_object *s_labels(const ctl_host *h)
{
    json_object *o = json_object_new_object();
    GList *keys = g_list_sort(g_hash_table_get_keys(h->labels), (GCompareFunc)strcmp);
    for (GList *k = keys; k != NULL; k = k->next)
        s_str(o, k->data, g_hash_table_lookup(h->labels, k->data));
    g_list_free(keys);
    return o;
}

char *ctl_view_host_store(const ctl_host *h)
{
    json_object *o = json_object_new_object();
    s_str(o, "id", h->id);
    s_str(o, "state", h->admin_state);
    s_bool(o, "reachable", h->reachable);
    s_facts_to(o, &h->facts);
    json_object_object_add(o, "labels", s_labels(h));
    s_i64(o, "last_seen_ms", h->last_seen_ms);
    s_i64(o, "registered_at_ms", h->registered_at_ms);
    return ctl_view_finish(o);
}

int ctl_view_host_parse(const char *id, const char *json, ctl_host **ret, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("host '%s'", id);
    json_object *o = ctl_view_parse(what, json, err);
    if (o == NULL)
        return -1;
    ctl_host *h = ctl_host_new(id);
    g_free(h->admin_state);
    h->admin_state = s_get_str(o, "state");
    if (h->admin_state == NULL)
        h->admin_state = g_strdup("active");
    h->reachable = drv_json_get_bool(o, "reachable", false);
    s_facts_from(&h->facts, o);
    json_object *labels = NULL;
    if (json_object_object_get_ex(o, "labels", &labels) &&
        json_object_is_type(labels, json_type_object)) {
        json_object_object_foreach(labels, k, v)
        {
            if (v != NULL && json_object_is_type(v, json_type_string))
                g_hash_table_replace(h->labels, g_strdup(k), g_strdup(json_object_get_string(v)));
        }
    }
    h->last_seen_ms = drv_json_get_int(o, "last_seen_ms", 0);
    h->registered_at_ms = drv_json_get_int(o, "registered_at_ms", 0);
    json_object_put(o);
    *ret = h;
    return 0;
}

json_object *ctl_view_host_api(ctl_model *m, const ctl_host *h, bool with_domain_names)
{
    json_object *o = json_object_new_object();
    s_str(o, "id", h->id);
    s_str(o, "state", h->admin_state);
    s_bool(o, "reachable", h->registered && h->reachable);
    s_bool(o, "registered", h->registered);
    const char *unknown = ctl_host_unknown_reason(h);
    s_bool(o, "inventory_authoritative", unknown == NULL);
    if (unknown != NULL)
        s_str(o, "inventory_reason", unknown);
    uint32_t vcpus = 0, n = 0;
    uint64_t mem = 0;
    ctl_model_host_alloc(m, h->id, NULL, &vcpus, &mem, &n);
    s_facts_to(o, &h->facts);
    s_i64(o, "allocated_vcpus", vcpus);
    s_i64(o, "allocated_memory_kib", (int64_t)mem);
    s_i64(o, "domains", n);
    json_object_object_add(o, "labels", s_labels(h));
    /* the last message heard (this process, in memory), else the last stored transition */
    s_i64(o, "last_seen_ms", MAX(h->last_seen_ms, h->last_heard_ms));
    s_i64(o, "registered_at_ms", h->registered_at_ms);
    /* its clock minus this controller's (a lower bound; clock_skew.h), null when not known */
    int64_t skew = 0;
    json_object_object_add(o, "clock_skew_ms",
                           ctl_clock_skew_get(&h->skew, &skew) ? json_object_new_int64(skew)
                                                               : NULL);
    if (with_domain_names) {
        json_object *names = json_object_new_array();
        GPtrArray *doms = ctl_model_domains_on(m, h->id);
        for (guint i = 0; i < doms->len; i++) {
            const ctl_domain *d = g_ptr_array_index(doms, i);
            json_object_array_add(names, json_object_new_string(d->name));
        }
        g_ptr_array_unref(doms);
        json_object_object_add(o, "domain_names", names);
        json_object *found = json_object_new_array();
        GList *keys = g_list_sort(g_hash_table_get_keys(h->inventory), (GCompareFunc)strcmp);
        for (GList *k = keys; k != NULL; k = k->next) {
            const ctl_actual *a = g_hash_table_lookup(h->inventory, k->data);
            json_object *ao = json_object_new_object();
            s_str(ao, "name", a->name);
            s_str(ao, "state", ctl_vir_state_to_string(a->state));
            if (drv_domstate_reason(a->state, a->reason) != NULL)
                s_str(ao, "reason", drv_domstate_reason(a->state, a->reason));
            s_bool(ao, "managed", ctl_model_domain(m, a->name) != NULL);
            json_object_array_add(found, ao);
        }
        g_list_free(keys);
        json_object_object_add(o, "inventory", found);
    }
    return o;
}

/* ------------------------------------------------------------------ domains */

/* "ha": {"enabled", "priority", "restart_limit", "restarts"}, only for a domain with a policy. */
static void s_ha(json_object *o, const ctl_domain *d)
{
    if (!d->ha && d->ha_priority == 0 && d->ha_restart_limit == 0 && d->ha_restarts == 0)
        return;
    json_object *ha = json_object_new_object();
    json_object_object_add(ha, "enabled", json_object_new_boolean(d->ha));
    json_object_object_add(ha, "priority", json_object_new_int64(d->ha_priority));
    json_object_object_add(ha, "restart_limit", json_object_new_int64(d->ha_restart_limit));
    json_object_object_add(ha, "restarts", json_object_new_int64(d->ha_restarts));
    json_object_object_add(o, "ha", ha);
}

char *ctl_view_domain_store(const ctl_domain *d)
{
    json_object *o = json_object_new_object();
    s_str(o, "name", d->name);
    s_str(o, "uuid", d->uuid);
    s_i64(o, "revision", d->revision);
    s_str(o, "desired_state", ctl_desired_to_string(d->desired));
    s_str(o, "host", d->host);
    s_i64(o, "vcpus", d->vcpus);
    s_i64(o, "vcpus_current", d->vcpus_current);
    s_i64(o, "memory_kib", (int64_t)d->memory_kib);
    json_object_object_add(o, "cpu_features", s_strv(d->cpu_features));
    s_bool(o, "autostart", d->autostart);
    s_bool(o, "transient", d->transient);
    s_str(o, "affinity_group", d->affinity_group);
    s_str(o, "anti_affinity_group", d->anti_affinity_group);
    s_ha(o, d);
    s_i64(o, "created_ms", d->created_ms);
    if (d->saved_path != NULL)
        s_str(o, "saved_path", d->saved_path);
    s_str(o, "xml", d->xml);
    return ctl_view_finish(o);
}

/* The devices of a stored definition by name (device drift), NULL when it does not parse. */
static char **s_devices(const char *xml)
{
    drv_domxml *dx = NULL;
    if (xml == NULL || drv_domxml_parse(xml, strlen(xml), &dx, NULL) < 0)
        return NULL;
    char **names = g_steal_pointer(&dx->devices);
    drv_domxml_destroy(&dx);
    return names;
}

int ctl_view_domain_parse(const char *name, const char *json, ctl_domain **ret, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("domain '%s'", name);
    json_object *o = ctl_view_parse(what, json, err);
    if (o == NULL)
        return -1;
    ctl_domain *d = ctl_domain_new(name);
    d->uuid = s_get_str(o, "uuid");
    d->xml = s_get_str(o, "xml");
    d->revision = drv_json_get_int(o, "revision", 0);
    g_autofree char *desired = s_get_str(o, "desired_state");
    if (ctl_desired_from_string(desired, &d->desired) < 0)
        d->desired = CTL_DESIRED_SHUTOFF;
    d->host = s_get_str(o, "host");
    d->vcpus = (uint32_t)drv_json_get_int(o, "vcpus", 0);
    d->vcpus_current = (uint32_t)drv_json_get_int(o, "vcpus_current", 0);
    d->saved_path = s_get_str(o, "saved_path");
    d->memory_kib = (uint64_t)drv_json_get_int(o, "memory_kib", 0);
    d->cpu_features = drv_json_get_strv(o, "cpu_features");
    d->devices = s_devices(d->xml);
    d->autostart = drv_json_get_bool(o, "autostart", false);
    d->transient = drv_json_get_bool(o, "transient", false);
    d->affinity_group = s_get_str(o, "affinity_group");
    d->anti_affinity_group = s_get_str(o, "anti_affinity_group");
    json_object *ha = NULL;
    if (json_object_object_get_ex(o, "ha", &ha) && json_object_is_type(ha, json_type_object)) {
        d->ha = drv_json_get_bool(ha, "enabled", false);
        d->ha_priority = (int32_t)drv_json_get_int(ha, "priority", 0);
        d->ha_restart_limit = (uint32_t)drv_json_get_int(ha, "restart_limit", 0);
        d->ha_restarts = (uint32_t)drv_json_get_int(ha, "restarts", 0);
    }
    d->created_ms = drv_json_get_int(o, "created_ms", 0);
    json_object_put(o);
    if (d->xml == NULL) {
        ctl_domain_free(d);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "domain '%s': stored value has no xml", name);
    }
    *ret = d;
    return 0;
}

json_object *ctl_view_domain_api(ctl_model *m, const ctl_domain *d)
{
    json_object *o = json_object_new_object();
    const char *state, *reason;
    ctl_model_domain_state(m, d, &state, &reason);
    s_str(o, "name", d->name);
    s_str(o, "uuid", d->uuid);
    s_str(o, "desired_state", ctl_desired_to_string(d->desired));
    s_str(o, "state", state);
    if (reason != NULL) /* absent when libvirt gives none */
        s_str(o, "reason", reason);
    if (d->saved_path != NULL)
        s_str(o, "saved_path", d->saved_path);
    s_str(o, "host", d->host);
    s_i64(o, "vcpus", d->vcpus);
    s_i64(o, "memory_kib", (int64_t)d->memory_kib);
    s_bool(o, "autostart", d->autostart);
    s_bool(o, "transient", d->transient);
    s_i64(o, "revision", d->revision);
    json_object_object_add(o, "cpu_features", s_strv(d->cpu_features));
    s_str(o, "affinity_group", d->affinity_group);
    s_str(o, "anti_affinity_group", d->anti_affinity_group);
    s_ha(o, d);
    s_str(o, "ha_waiting", d->ha_waiting);
    g_autofree char *drift = ctl_model_domain_drift(m, d);
    s_str(o, "drift", drift);
    s_str(o, "busy", d->busy);
    return o;
}

json_object *ctl_view_domain_state_api(ctl_model *m, const ctl_domain *d)
{
    json_object *o = json_object_new_object();
    const char *state, *reason;
    ctl_model_domain_state(m, d, &state, &reason);
    s_str(o, "name", d->name);
    s_str(o, "state", state);
    if (reason != NULL)
        s_str(o, "reason", reason);
    s_str(o, "desired_state", ctl_desired_to_string(d->desired));
    s_str(o, "host", d->host);
    return o;
}

/* ------------------------------------------------------------------ history, snapshots, events */

char *ctl_view_history_store(const char *xml, int64_t time_ms, const char *comment)
{
    json_object *o = json_object_new_object();
    s_str(o, "xml", xml);
    s_i64(o, "time_ms", time_ms);
    s_str(o, "comment", comment);
    return ctl_view_finish(o);
}

void ctl_snapshot_clear(ctl_snapshot *s)
{
    g_free(s->name);
    g_free(s->parent);
    g_free(s->state);
    g_free(s->xml);
    memset(s, 0, sizeof(*s));
}

char *ctl_view_snapshot_store(const ctl_snapshot *s)
{
    json_object *o = ctl_view_snapshot_api(s);
    s_str(o, "xml", s->xml);
    return ctl_view_finish(o);
}

int ctl_view_snapshot_parse(const char *json, ctl_snapshot *ret, drv_error **err)
{
    json_object *o = ctl_view_parse("snapshot", json, err);
    if (o == NULL)
        return -1;
    memset(ret, 0, sizeof(*ret));
    ret->name = s_get_str(o, "name");
    ret->parent = s_get_str(o, "parent");
    ret->creation_time = drv_json_get_int(o, "creation_time", 0);
    ret->state = s_get_str(o, "state");
    ret->current = drv_json_get_bool(o, "current", false);
    ret->xml = s_get_str(o, "xml");
    json_object_put(o);
    return 0;
}

json_object *ctl_view_snapshot_api(const ctl_snapshot *s)
{
    json_object *o = json_object_new_object();
    s_str(o, "name", s->name);
    s_str(o, "parent", s->parent && s->parent[0] ? s->parent : NULL);
    s_i64(o, "creation_time", s->creation_time);
    s_str(o, "state", s->state);
    s_bool(o, "current", s->current);
    return o;
}

json_object *ctl_view_event(const char *type, json_object *object)
{
    json_object *o = json_object_new_object();
    s_str(o, "type", type);
    json_object_object_add(o, "object", object);
    return o;
}

/* ------------------------------------------------------------------ verb results */

json_object *ctl_view_hosts(ctl_model *m, GPtrArray *hosts)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < hosts->len; i++)
        json_object_array_add(arr, ctl_view_host_api(m, g_ptr_array_index(hosts, i), false));
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "hosts", arr);
    return doc;
}

json_object *ctl_view_domains(ctl_model *m, GPtrArray *domains)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; i < domains->len; i++)
        json_object_array_add(arr, ctl_view_domain_api(m, g_ptr_array_index(domains, i)));
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "domains", arr);
    return doc;
}

json_object *ctl_view_domain_info(ctl_model *m, const ctl_domain *d, int64_t history_len)
{
    json_object *o = ctl_view_domain_api(m, d);
    s_i64(o, "xml_revision", d->revision);
    s_i64(o, "history_len", history_len);
    return o;
}

json_object *ctl_view_xml(const char *name, const char *xml, bool live)
{
    json_object *o = json_object_new_object();
    s_str(o, "name", name);
    s_str(o, "xml", xml);
    s_bool(o, "live", live);
    return o;
}

json_object *ctl_view_undefined(const char *name)
{
    json_object *o = json_object_new_object();
    s_str(o, "name", name);
    s_bool(o, "undefined", true);
    return o;
}

json_object *ctl_view_history(const char *name, const drv_etcd_range *r)
{
    json_object *revs = json_object_new_array();
    for (size_t i = 0; i < r->n_kvs; i++) {
        /* a key with a NUL, or whose last part is not a revision, would alias another entry */
        const char *key = r->kvs[i].key;
        const char *slash =
            key != NULL && memchr(key, '\0', r->kvs[i].key_len) == NULL ? strrchr(key, '/') : NULL;
        if (slash != NULL &&
            (slash[1] == '\0' || strspn(slash + 1, "0123456789") != strlen(slash + 1))) {
            drv_warn("domain '%s': ignoring history key '%s': not a revision", name, key);
            slash = NULL;
        }
        json_object *h =
            slash != NULL ? ctl_view_parse("history entry", r->kvs[i].value, NULL) : NULL;
        if (h == NULL || slash == NULL) {
            json_object_put(h);
            continue;
        }
        g_autofree char *xml = s_get_str(h, "xml");
        g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, xml ? xml : "", -1);
        g_autofree char *comment = s_get_str(h, "comment");
        json_object *e = json_object_new_object();
        s_i64(e, "revision", g_ascii_strtoll(slash + 1, NULL, 10));
        s_i64(e, "time_ms", drv_json_get_int(h, "time_ms", 0));
        s_str(e, "xml_sha256", sha);
        s_str(e, "comment", comment);
        json_object_array_add(revs, e);
        json_object_put(h);
    }
    json_object *doc = json_object_new_object();
    s_str(doc, "name", name);
    json_object_object_add(doc, "revisions", revs);
    return doc;
}

json_object *ctl_view_history_entry(const char *name, int64_t revision, const char *json,
                                    drv_error **err)
{
    json_object *o = ctl_view_parse("history entry", json, err);
    if (o == NULL)
        return NULL;
    s_str(o, "name", name);
    s_i64(o, "revision", revision);
    return o;
}

char *ctl_view_history_xml(const char *json)
{
    json_object *o = ctl_view_parse("history entry", json, NULL);
    if (o == NULL)
        return NULL;
    char *xml = s_get_str(o, "xml");
    json_object_put(o);
    return xml;
}

json_object *ctl_view_snapshot_ref(const char *domain, const char *name)
{
    json_object *o = json_object_new_object();
    s_str(o, "domain", domain);
    s_str(o, "name", name);
    return o;
}

json_object *ctl_view_snapshots(const char *domain, GPtrArray *snapshots, const char *source)
{
    json_object *arr = json_object_new_array();
    for (guint i = 0; snapshots != NULL && i < snapshots->len; i++)
        json_object_array_add(arr, ctl_view_snapshot_api(g_ptr_array_index(snapshots, i)));
    json_object *doc = json_object_new_object();
    s_str(doc, "domain", domain);
    json_object_object_add(doc, "snapshots", arr);
    s_str(doc, "source", source);
    return doc;
}

json_object *ctl_view_status(const ctl_status *st)
{
    json_object *o = json_object_new_object();
    s_str(o, "leader", st->leader);
    s_bool(o, "is_leader", st->is_leader);
    s_str(o, "name", st->name);
    s_str(o, "instance", st->instance);
    s_str(o, "prefix", st->prefix);
    s_i64(o, "hosts", st->hosts);
    s_i64(o, "hosts_reachable", st->hosts_reachable);
    s_i64(o, "domains", st->domains);
    s_i64(o, "domains_running", st->domains_running);
    s_i64(o, "outcomes_unknown", st->outcomes_unknown);
    s_i64(o, "stores_unknown", st->stores_unknown);
    return o;
}

json_object *ctl_view_baseline(char *const *features, const char *cpu_xml, const char *error)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "features", s_strv(features));
    s_str(o, "cpu_xml", cpu_xml);
    if (error != NULL)
        s_str(o, "error", error);
    return o;
}

json_object *ctl_view_named(const char *key, const char *name)
{
    json_object *o = json_object_new_object();
    s_str(o, key, name);
    return o;
}

json_object *ctl_view_unmanaged(const char *name, const char *host, const char *state)
{
    json_object *o = ctl_view_named("name", name);
    s_str(o, "host", host);
    s_str(o, "state", state);
    return o;
}
