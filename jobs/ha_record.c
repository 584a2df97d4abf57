/* ha_record.c — see ha_record.h. */
#include "ha_record.h"

#include <glib.h>
#include <json-c/json.h>
#include <string.h>

static const char *const s_names[DRV_HA_ENTRY_LAST] = {"pending", "starting", "restarted",
                                                       "waiting", "dropped"};

const char *drv_ha_entry_state_to_string(drv_ha_entry_state s)
{
    return (unsigned)s < DRV_HA_ENTRY_LAST ? s_names[s] : NULL;
}

int drv_ha_entry_state_from_string(const char *name, drv_ha_entry_state *ret)
{
    for (int i = 0; name != NULL && i < DRV_HA_ENTRY_LAST; i++) {
        if (strcmp(name, s_names[i]) == 0) {
            *ret = (drv_ha_entry_state)i;
            return 0;
        }
    }
    return -1;
}

drv_ha_record *drv_ha_record_new(const char *host, int64_t lease_id, uint64_t fenced_ms)
{
    drv_ha_record *r = g_new0(drv_ha_record, 1);
    r->host = g_strdup(host);
    r->lease_id = lease_id;
    r->fenced_ms = fenced_ms;
    return r;
}

void drv_ha_record_destroy(drv_ha_record **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_ha_record *r = *self_p;
    for (size_t i = 0; i < r->n_entries; i++) {
        g_free(r->entries[i].domain);
        g_free(r->entries[i].destination);
        g_free(r->entries[i].reason);
    }
    g_free(r->entries);
    g_free(r->host);
    g_free(r);
    *self_p = NULL;
}

drv_ha_entry *drv_ha_record_add(drv_ha_record *self, const char *domain)
{
    self->entries = g_renew(drv_ha_entry, self->entries, self->n_entries + 1);
    drv_ha_entry *e = &self->entries[self->n_entries++];
    memset(e, 0, sizeof(*e));
    e->domain = g_strdup(domain);
    return e;
}

drv_ha_entry *drv_ha_record_find(const drv_ha_record *self, const char *domain)
{
    for (size_t i = 0; i < self->n_entries; i++)
        if (strcmp(self->entries[i].domain, domain) == 0)
            return &self->entries[i];
    return NULL;
}

void drv_ha_entry_set(drv_ha_entry *e, drv_ha_entry_state state, const char *destination,
                      const char *reason)
{
    e->state = state;
    char *d = g_strdup(destination), *r = g_strdup(reason);
    g_free(e->destination);
    g_free(e->reason);
    e->destination = d;
    e->reason = r;
}

bool drv_ha_record_done(const drv_ha_record *self)
{
    for (size_t i = 0; i < self->n_entries; i++)
        if (self->entries[i].state != DRV_HA_ENTRY_RESTARTED &&
            self->entries[i].state != DRV_HA_ENTRY_DROPPED)
            return false;
    return true;
}

static void s_str(json_object *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_object_add(o, k, json_object_new_string(v));
}

char *drv_ha_record_to_json(const drv_ha_record *self)
{
    json_object *o = json_object_new_object();
    s_str(o, "host", self->host);
    json_object_object_add(o, "lease_id", json_object_new_int64(self->lease_id));
    json_object_object_add(o, "fenced_ms", json_object_new_int64((int64_t)self->fenced_ms));
    json_object_object_add(o, "cleaned", json_object_new_boolean(self->cleaned));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < self->n_entries; i++) {
        const drv_ha_entry *e = &self->entries[i];
        json_object *x = json_object_new_object();
        s_str(x, "domain", e->domain);
        s_str(x, "state", drv_ha_entry_state_to_string(e->state));
        s_str(x, "destination", e->destination);
        s_str(x, "reason", e->reason);
        json_object_object_add(x, "attempts", json_object_new_int64(e->attempts));
        json_object_array_add(arr, x);
    }
    json_object_object_add(o, "entries", arr);
    char *out = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

static const char *s_get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t s_int(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

int drv_ha_record_from_json(const char *json, drv_ha_record **ret, drv_error **err)
{
    json_object *o = json != NULL ? json_tokener_parse(json) : NULL;
    json_object *arr = NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object) || s_get(o, "host") == NULL ||
        !json_object_object_get_ex(o, "entries", &arr) ||
        !json_object_is_type(arr, json_type_array)) {
        json_object_put(o);
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "HA recovery record: not an object with host and entries");
    }
    drv_ha_record *r =
        drv_ha_record_new(s_get(o, "host"), s_int(o, "lease_id"), (uint64_t)s_int(o, "fenced_ms"));
    json_object *cl = NULL;
    r->cleaned = json_object_object_get_ex(o, "cleaned", &cl) && json_object_get_boolean(cl);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *x = json_object_array_get_idx(arr, i);
        drv_ha_entry_state st;
        if (s_get(x, "domain") == NULL ||
            drv_ha_entry_state_from_string(s_get(x, "state"), &st) < 0) {
            drv_ha_record_destroy(&r);
            json_object_put(o);
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "HA recovery record: entry %zu has no domain or a bad state", i);
        }
        drv_ha_entry *e = drv_ha_record_add(r, s_get(x, "domain"));
        drv_ha_entry_set(e, st, s_get(x, "destination"), s_get(x, "reason"));
        e->attempts = (unsigned)s_int(x, "attempts");
    }
    json_object_put(o);
    *ret = r;
    return 0;
}
