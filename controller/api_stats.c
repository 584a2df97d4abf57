/* api_stats.c — `host.stats HOST` and `domain.stats NAME`: the agents' statistics window
 * (stats_window.h) as the API shows it (docs/observability.md). A host or domain that exists but
 * has no fresh sample answers known: false with why — never zeros. */
#include "api_private.h"

#include "stats_window.h"

static json_object *s_unknown(const char *key, const char *name, const char *why)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, key, json_object_new_string(name));
    json_object_object_add(o, "known", json_object_new_boolean(false));
    json_object_object_add(o, "reason", json_object_new_string(why));
    return o;
}

void ctl_api_host_stats(ctl_req *r)
{
    const char *id = r->args[0];
    ctl_host *h = ctl_model_host(r->c->model, id);
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", id);
        return;
    }
    json_object *o = ctl_stats_host_json(r->c->stats, id, ctl_now_ms(r->c));
    if (o == NULL) {
        ctl_req_ok(r, s_unknown("host", id,
                                h->reachable ? "no statistics from its agent in the last 60 s"
                                             : "host unreachable"));
        return;
    }
    json_object_object_add(o, "known", json_object_new_boolean(true));
    ctl_req_ok(r, o);
}

void ctl_api_domain_stats(ctl_req *r)
{
    const char *name = r->args[0];
    ctl_domain *d = ctl_model_domain(r->c->model, name);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' not found", name);
        return;
    }
    json_object *o = ctl_stats_domain_json(r->c->stats, name, ctl_now_ms(r->c));
    if (o == NULL) {
        const char *state = NULL, *reason = NULL;
        ctl_model_domain_state(r->c->model, d, &state, &reason);
        g_autofree char *why =
            g_strdup_printf("no fresh statistics: it is %s%s%s%s on no host that reported it "
                            "in the last 60 s",
                            state, reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
        ctl_req_ok(r, s_unknown("name", name, why));
        return;
    }
    json_object_object_add(o, "known", json_object_new_boolean(true));
    ctl_req_ok(r, o);
}

void ctl_api_cluster_stats(ctl_req *r)
{
    json_object *arr = json_object_new_array();
    GPtrArray *hosts = ctl_model_hosts(r->c->model);
    int64_t now = ctl_now_ms(r->c);
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        json_object *o = ctl_stats_host_json(r->c->stats, h->id, now);
        if (o == NULL)
            o = s_unknown("host", h->id,
                          h->reachable ? "no statistics from its agent in the last 60 s"
                                       : "host unreachable");
        else
            json_object_object_add(o, "known", json_object_new_boolean(true));
        json_object_object_add(o, "reachable", json_object_new_boolean(h->reachable));
        json_object_array_add(arr, o);
    }
    g_ptr_array_unref(hosts);
    json_object *doc = json_object_new_object();
    json_object_object_add(doc, "hosts", arr);
    ctl_req_ok(r, doc);
}
