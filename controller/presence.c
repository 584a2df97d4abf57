/* presence.c — see presence.h. */
#include "presence.h"

#include "leader.h"
#include "json_get.h"
#include "log.h"
#include "store_async.h"

#include <string.h>

#define S_PERIOD_MS 2000
#define S_TTL_S     10

struct ctl_presence {
    ctl *c;
    int64_t lease;
    bool in_flight;
    int64_t next_ms;
    GPtrArray *seen; /* json_object*: the entries last read */
};

typedef struct {
    char *key;
    char *value;
    char *prefix;
    int64_t lease;   /* in: held (0 = none); out: held after the round */
    GPtrArray *docs; /* out: char* values under prefix */
} s_round;

static void s_round_free(gpointer p)
{
    s_round *r = p;
    g_free(r->key);
    g_free(r->value);
    g_free(r->prefix);
    if (r->docs != NULL)
        g_ptr_array_unref(r->docs);
    g_free(r);
}

static void s_json_free(gpointer p)
{
    json_object_put(p);
}

ctl_presence *ctl_presence_new(ctl *c)
{
    ctl_presence *self = g_new0(ctl_presence, 1);
    self->c = c;
    self->seen = g_ptr_array_new_with_free_func(s_json_free);
    return self;
}

void ctl_presence_destroy(ctl_presence **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_ptr_array_unref((*self_p)->seen);
    g_free(*self_p);
    *self_p = NULL;
}

/* On the etcd worker: renew (or grant) the lease, put our entry, read every entry. */
static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_round *r = data;
    drv_etcd *e = ctl_store_etcd(store);
    if (r->lease != 0) {
        drv_error *ke = NULL;
        if (drv_etcd_lease_keepalive(e, r->lease, NULL, &ke) < 0) {
            bool gone = ke->kind == DRV_ERR_NOT_FOUND;
            if (!gone) {
                drv_error_propagate(err, ke);
                return -1;
            }
            drv_error_destroy(&ke);
            r->lease = 0;
        }
    }
    if (r->lease == 0 && drv_etcd_lease_grant(e, S_TTL_S, &r->lease, err) < 0)
        return -1;
    if (drv_etcd_put(e, r->key, strlen(r->key), r->value, strlen(r->value), r->lease, NULL, err) <
        0)
        return -1;
    drv_etcd_range_opts opts = {.prefix = true};
    drv_etcd_range rg = {0};
    if (drv_etcd_range_get(e, r->prefix, strlen(r->prefix), &opts, &rg, err) < 0)
        return -1;
    r->docs = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < rg.n_kvs; i++)
        g_ptr_array_add(r->docs, g_strndup(rg.kvs[i].value, rg.kvs[i].value_len));
    drv_etcd_range_clear(&rg);
    return 0;
}

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    ctl_presence *self = c->presence;
    s_round *r = data;
    self->in_flight = false;
    if (err != NULL) {
        drv_debug("presence: %s", err->message);
        return;
    }
    self->lease = r->lease;
    g_ptr_array_set_size(self->seen, 0);
    for (guint i = 0; i < r->docs->len; i++) {
        json_object *o = json_tokener_parse(g_ptr_array_index(r->docs, i));
        if (o != NULL && json_object_is_type(o, json_type_object))
            g_ptr_array_add(self->seen, o);
        else
            json_object_put(o);
    }
}

int64_t ctl_presence_tick(ctl *c, int64_t now_ms)
{
    ctl_presence *self = c->presence;
    if (self->in_flight || now_ms < self->next_ms)
        return self->in_flight ? S_PERIOD_MS : self->next_ms - now_ms;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(c->cfg->name));
    json_object_object_add(o, "instance", json_object_new_string(c->instance));
    json_object_object_add(o, "client_bind", json_object_new_string(c->cfg->client_bind));
    json_object_object_add(o, "agent_bind", json_object_new_string(c->cfg->agent_bind));
    json_object_object_add(o, "seen_ms", json_object_new_int64(ctl_wall_ms(c)));
    s_round *r = g_new0(s_round, 1);
    r->key = ctl_store_key(c->store, "controllers/%s", c->cfg->name);
    r->value = g_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    r->prefix = ctl_store_key(c->store, "controllers/");
    r->lease = self->lease;
    json_object_put(o);
    drv_error *err = NULL;
    if (ctl_async_submit(c, s_work, s_done, r, s_round_free, &err) < 0) {
        drv_error_destroy(&err);
        s_round_free(r);
    } else {
        self->in_flight = true;
    }
    self->next_ms = now_ms + S_PERIOD_MS;
    return S_PERIOD_MS;
}

json_object *ctl_presence_list(ctl *c)
{
    ctl_presence *self = c->presence;
    const char *leader = ctl_leader_name(c->leader);
    json_object *arr = json_object_new_array();
    bool me = false;
    for (guint i = 0; self != NULL && i < self->seen->len; i++) {
        json_object *o = g_ptr_array_index(self->seen, i);
        const char *name = drv_json_get_str(o, "name", NULL);
        json_object *x = json_object_new_object();
        json_object_object_foreach(o, k, v) json_object_object_add(x, k, json_object_get(v));
        bool self_entry = g_strcmp0(name, c->cfg->name) == 0;
        me = me || self_entry;
        json_object_object_add(x, "leading", json_object_new_boolean(g_strcmp0(name, leader) == 0));
        json_object_object_add(x, "self", json_object_new_boolean(self_entry));
        json_object_array_add(arr, x);
    }
    if (!me) { /* not announced yet (etcd down): still say who answers */
        json_object *x = json_object_new_object();
        json_object_object_add(x, "name", json_object_new_string(c->cfg->name));
        json_object_object_add(x, "instance", json_object_new_string(c->instance));
        json_object_object_add(x, "client_bind", json_object_new_string(c->cfg->client_bind));
        json_object_object_add(x, "leading", json_object_new_boolean(ctl_is_leader(c)));
        json_object_object_add(x, "self", json_object_new_boolean(true));
        json_object_array_add(arr, x);
    }
    return arr;
}
