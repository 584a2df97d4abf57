/* prov_fanout.c — see prov_fanout.h. */
#include "prov_fanout.h"
#include "ctl_io.h"

#include <string.h>

typedef struct {
    ctl_fanout_fn fn;
    void *data;
    json_object *hosts;
    int waiting;
    int n_ok;
} s_fan;

typedef struct {
    s_fan *fan;
    json_object *entry; /* borrowed from fan->hosts */
} s_one;

static void s_entry_fill(json_object *entry, const ctl_reply *rep)
{
    json_object_object_add(entry, "ok", json_object_new_boolean(rep->ok));
    if (!rep->ok) {
        json_object_object_add(entry, "error",
                               json_object_new_string(rep->message ? rep->message : "failed"));
        if (rep->error_kind != NULL)
            json_object_object_add(entry, "error_kind", json_object_new_string(rep->error_kind));
    }
    if (rep->stats == NULL)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, rep->stats);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *key = k, *val = v;
        if (strcmp(key, "active") == 0)
            json_object_object_add(entry, key, json_object_new_boolean(strcmp(val, "1") == 0));
        else if (g_ascii_isdigit(val[0]) && strspn(val, "0123456789") == strlen(val))
            json_object_object_add(entry, key,
                                   json_object_new_int64(g_ascii_strtoll(val, NULL, 10)));
        else
            json_object_object_add(entry, key, json_object_new_string(val));
    }
}

static void s_finish_one(ctl *c, s_fan *f)
{
    if (--f->waiting > 0)
        return;
    f->fn(c, f->hosts, f->n_ok, f->data);
    g_free(f);
}

static void s_replied(ctl *c, const char *host_id, const ctl_reply *rep, void *data)
{
    s_one *o = data;
    (void)host_id;
    s_entry_fill(o->entry, rep);
    if (rep->ok)
        o->fan->n_ok++;
    s_fan *f = o->fan;
    g_free(o);
    s_finish_one(c, f);
}

static bool s_up(ctl *c, const ctl_host *h)
{
    return h->registered && h->reachable && ctl_host_up(c, h->id);
}

const char *ctl_fanout_first_up(ctl *c)
{
    GPtrArray *hosts = ctl_model_hosts(c->model);
    const char *id = NULL;
    for (guint i = 0; i < hosts->len && id == NULL; i++) {
        ctl_host *h = g_ptr_array_index(hosts, i);
        if (s_up(c, h) && g_strcmp0(h->admin_state, "maintenance") != 0)
            id = h->id;
    }
    g_ptr_array_unref(hosts);
    return id;
}

void ctl_fanout(ctl *c, const ctl_cmd *cmd, ctl_fanout_fn fn, void *data)
{
    s_fan *f = g_new0(s_fan, 1);
    f->fn = fn;
    f->data = data;
    f->hosts = json_object_new_array();
    f->waiting = 1; /* held until every command is sent */
    GPtrArray *hosts = ctl_model_hosts(c->model);
    for (guint i = 0; i < hosts->len; i++) {
        ctl_host *h = g_ptr_array_index(hosts, i);
        if (!s_up(c, h))
            continue;
        json_object *entry = json_object_new_object();
        json_object_object_add(entry, "host", json_object_new_string(h->id));
        json_object_array_add(f->hosts, entry);
        s_one *o = g_new0(s_one, 1);
        o->fan = f;
        o->entry = entry;
        f->waiting++;
        drv_error *err = NULL;
        if (ctl_send(c, h->id, cmd, s_replied, o, NULL, &err) < 0) {
            ctl_reply fail = {.ok = false, .message = err->message};
            s_entry_fill(entry, &fail);
            drv_error_destroy(&err);
            g_free(o);
            f->waiting--;
        }
    }
    g_ptr_array_unref(hosts);
    s_finish_one(c, f);
}
