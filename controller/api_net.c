/* api_net.c — networks as cluster objects (docs/provisioning.md): net.define stores
 * networks/<name> (intent first), then defines, starts and autostarts it on every up host;
 * net.list lists the records; net.info adds each host's view (active, bridge). */
#include "api_prov.h"

#include "prov_fanout.h"
#include "log.h"
#include "prov_store.h"
#include "provision.h"

#include <string.h>

typedef struct {
    ctl_req *r;
    char *name;
    char *xml;
    json_object *doc;
} s_net;

static void s_net_free(s_net *n)
{
    g_free(n->name);
    g_free(n->xml);
    if (n->doc != NULL)
        json_object_put(n->doc);
    g_free(n);
}

/* The hosts that defined the network now have it: added to their cached facts at once, so the
 * scheduler's networks filter (placement.c) sees it before the agents next re-register. */
static void s_note_defined(ctl *c, const char *name, json_object *hosts)
{
    for (size_t i = 0; i < json_object_array_length(hosts); i++) {
        json_object *e = json_object_array_get_idx(hosts, i);
        const char *id = ctl_prov_str(e, "host");
        ctl_host *h = id != NULL ? ctl_model_host(c->model, id) : NULL;
        if (h == NULL || !ctl_prov_bool(e, "ok") ||
            (h->facts.networks != NULL &&
             g_strv_contains((const char *const *)h->facts.networks, name)))
            continue;
        size_t len = h->facts.networks != NULL ? g_strv_length(h->facts.networks) : 0;
        h->facts.networks = g_renew(char *, h->facts.networks, len + 2);
        h->facts.networks[len] = g_strdup(name);
        h->facts.networks[len + 1] = NULL;
    }
}

static void s_defined(ctl *c, json_object *hosts, int n_ok, void *data)
{
    s_net *n = data;
    s_note_defined(c, n->name, hosts);
    (void)n_ok;
    json_object *doc = json_object_get(n->doc);
    json_object_object_add(doc, "hosts", hosts);
    ctl_req_ok(n->r, doc);
    s_net_free(n);
}

static void s_hosts_done(ctl *c, json_object *hosts, int n_ok, void *data)
{
    s_net *n = data;
    (void)c;
    (void)n_ok;
    json_object *doc = json_object_get(n->doc);
    json_object_object_add(doc, "hosts", hosts);
    ctl_req_ok(n->r, doc);
    s_net_free(n);
}

static void s_stored(ctl *c, const drv_error *err, bool attempted, void *data)
{
    s_net *n = data;
    if (err != NULL) {
        ctl_req_failf(n->r, err->kind, "network '%s': %s%s", n->name,
                      attempted ? "may not be stored: " : "", err->message);
        s_net_free(n);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_NET_DEFINE, .name = n->name, .xml = n->xml};
    ctl_fanout(c, &cmd, s_defined, n);
}

void ctl_api_net_define(ctl_req *r)
{
    const char *bridge = ctl_req_opt(r, "bridge"), *nat = ctl_req_opt(r, "nat");
    s_net *n = g_new0(s_net, 1);
    n->r = r;
    n->name = g_strdup(r->args[0]);
    drv_error *err = NULL;
    if (drv_prov_net_xml(n->name, bridge, nat, &n->xml, &err) < 0) {
        ctl_req_fail(r, err);
        s_net_free(n);
        return;
    }
    n->doc = json_object_new_object();
    json_object_object_add(n->doc, "name", json_object_new_string(n->name));
    json_object_object_add(n->doc, "mode", json_object_new_string(bridge ? "bridge" : "nat"));
    json_object_object_add(n->doc, bridge ? "bridge" : "subnet",
                           json_object_new_string(bridge ? bridge : nat));
    json_object_object_add(n->doc, "xml", json_object_new_string(n->xml));
    g_autofree char *key = g_strdup_printf("networks/%s", n->name);
    if (ctl_prov_put(r->c, key, n->doc, true, s_stored, n, &err) < 0) {
        ctl_req_fail(r, err);
        s_net_free(n);
    }
}

static void s_listed(ctl *c, GPtrArray *docs, const drv_error *err, void *data)
{
    ctl_req *r = data;
    (void)c;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "%s", err->message);
        return;
    }
    json_object *a = json_object_new_array();
    for (guint i = 0; i < docs->len; i++)
        json_object_array_add(a, json_object_get(g_ptr_array_index(docs, i)));
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "networks", a);
    ctl_req_ok(r, doc);
}

void ctl_api_net_list(ctl_req *r)
{
    drv_error *err = NULL;
    if (ctl_prov_list(r->c, "networks/", s_listed, r, &err) < 0)
        ctl_req_fail(r, err);
}

static void s_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_net *n = data;
    if (err != NULL || doc == NULL) {
        ctl_req_failf(n->r, err ? err->kind : DRV_ERR_NOT_FOUND, "network '%s' %s", n->name,
                      err ? err->message : "not found");
        s_net_free(n);
        return;
    }
    n->doc = json_object_get(doc);
    ctl_cmd cmd = {.kind = CTL_CMD_NET_INFO, .name = n->name};
    ctl_fanout(c, &cmd, s_hosts_done, n);
}

void ctl_api_net_info(ctl_req *r)
{
    s_net *n = g_new0(s_net, 1);
    n->r = r;
    n->name = g_strdup(r->args[0]);
    g_autofree char *key = g_strdup_printf("networks/%s", n->name);
    drv_error *err = NULL;
    if (ctl_prov_get(r->c, key, s_got, n, &err) < 0) {
        ctl_req_fail(r, err);
        s_net_free(n);
    }
}
