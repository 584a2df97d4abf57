/* api.c — see api.h. The client edge: protobuf-c types stay in this file. Host and cluster verbs
 * live here; domain and snapshot verbs in api_domain.c. */
#include "api_private.h"
#include "ctl_io.h"
#include "api_prov.h"
#include "ha.h"
#include "hygiene.h"
#include "presence.h"

#include "codec.h"
#include "curve.h"
#include "drain_run.h"
#include "events.h"
#include "leader.h"
#include "store_async.h"
#include "log.h"
#include "migrate_run.h"
#include "outcome.h"
#include "store_doubt.h"
#include "placement.h"
#include "view.h"
#include "zap.h"

#include <string.h>
#include <zmq.h>

struct ctl_api {
    ctl *c;
    void *router;
};

/* ------------------------------------------------------------------ requests and replies */

/* Why an answer from this process may be stale, or NULL: a standby's cache (only the leader
 * hears agents), or a leader that has not heard from etcd for a while. */
static char *s_stale(ctl *c)
{
    const char *leader = ctl_leader_name(c->leader);
    if (!ctl_is_leader(c) && leader != NULL && strcmp(leader, c->cfg->name) == 0)
        /* its own key, from before an etcd outage: leadership is being taken back */
        return g_strdup_printf("answered by controller '%s' from its cache while it takes its "
                               "leadership back after an etcd outage; domain states may be stale",
                               c->cfg->name);
    if (!ctl_is_leader(c))
        return g_strdup_printf("answered by standby controller '%s' from its cache (the leader is "
                               "'%s'); domain states are not known here",
                               c->cfg->name, leader ? leader : "not known");
    int64_t down = c->etcdq != NULL ? ctl_etcd_worker_unreachable_ms(c->etcdq) : 0;
    if (down >= 1000)
        return g_strdup_printf("etcd has not answered for %lld s: definitions come from the "
                               "controller's cache",
                               (long long)(down / 1000));
    return NULL;
}

void ctl_api_answer(ctl *c, const char *client, const char *verb, int status, const char *kind,
                    const char *error, const char *json)
{
    ctl_api *api = c->api;
    if (api == NULL || api->router == NULL)
        return;
    Drover__ClientReply rep = DROVER__CLIENT_REPLY__INIT;
    rep.status = status;
    rep.error_kind = (char *)(kind ? kind : "");
    rep.error = (char *)(error ? error : "");
    rep.json = (char *)(json ? json : "");
    g_autofree char *stale = s_stale(c);
    rep.stale = stale != NULL ? stale : (char *)"";
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_CLIENT_REPLY;
    env.client_reply = &rep;
    drv_error *err = NULL;
    if (drv_wire_send(api->router, client, &env, ZMQ_DONTWAIT, &err) < 0) {
        drv_warn("reply to %s (%s): %s", client, verb, err->message);
        if (err->kind == DRV_ERR_PROTO && json != NULL && status == 0) {
            /* too large for one frame (a whole `domain list` at 20,000 domains is 6 MB): the
             * client is told so at once instead of waiting for an answer that never comes */
            g_autofree char *msg = g_strdup_printf(
                "the answer (%zu bytes of JSON) is larger than one reply frame may be; ask for "
                "it in pages (--limit N, then --continue TOKEN) or narrow it (--host, --state, "
                "--label)",
                strlen(json));
            rep.status = ctl_req_fail_status(DRV_ERR_INVALID);
            rep.error_kind = (char *)drv_err_kind_to_string(DRV_ERR_INVALID);
            rep.error = msg;
            rep.json = (char *)"";
            drv_error_destroy(&err);
            if (drv_wire_send(api->router, client, &env, ZMQ_DONTWAIT, &err) < 0)
                drv_warn("reply to %s (%s): %s", client, verb, err->message);
        }
        drv_error_destroy(&err);
    }
    if (status != 0)
        drv_info("%s: %s", verb, error);
    else
        drv_debug("%s: ok", verb);
}

/* ------------------------------------------------------------------ host and cluster verbs */

static ctl_host *s_host_arg(ctl_req *r)
{
    ctl_host *h = ctl_model_host(r->c->model, r->args[0]);
    if (h == NULL)
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' not found", r->args[0]);
    return h;
}

static void s_host_show(ctl_req *r)
{
    ctl_host *h = s_host_arg(r);
    if (h != NULL)
        ctl_req_ok(r, ctl_view_host_api(r->c->model, h, true));
}

static void s_copy_labels(GHashTable *dst, GHashTable *src)
{
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, src);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_replace(dst, g_strdup(k), g_strdup(v));
}

/* The labels are stored (or not: then the cache gets the old ones back). */
static void s_host_labelled(ctl *c, const drv_error *err, bool attempted, void *data)
{
    ctl_req *r = data;
    ctl_host *h = ctl_model_host(c->model, r->host);
    if (err != NULL) {
        if (h != NULL && !attempted) {
            g_hash_table_remove_all(h->labels);
            s_copy_labels(h->labels, r->saved_labels);
        }
        ctl_req_failf(r, err->kind, "host '%s': labels %s: %s", r->host,
                      attempted ? "may not be stored" : "not stored", err->message);
        return;
    }
    if (h == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "host '%s' was removed meanwhile", r->host);
        return;
    }
    ctl_events_host(c, h, "labelled");
    ctl_req_ok(r, ctl_view_host_api(c->model, h, false));
}

static void s_host_label(ctl_req *r)
{
    ctl_host *h = s_host_arg(r);
    if (h == NULL)
        return;
    g_free(r->host);
    r->host = g_strdup(h->id);
    r->saved_labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s_copy_labels(r->saved_labels, h->labels);
    for (size_t i = 1; i < r->n_args; i++) {
        const char *a = r->args[i];
        const char *eq = strchr(a, '=');
        size_t n = strlen(a);
        if (eq == NULL && (n < 2 || a[n - 1] != '-')) {
            ctl_req_usage(r, "host '%s': label '%s' is neither key=value nor key-", h->id, a);
            return;
        }
        if (eq == a || (eq == NULL && n == 1)) {
            ctl_req_usage(r, "host '%s': label '%s' has an empty key", h->id, a);
            return;
        }
    }
    for (size_t i = 1; i < r->n_args; i++) {
        const char *a = r->args[i];
        const char *eq = strchr(a, '=');
        if (eq != NULL) {
            g_hash_table_replace(h->labels, g_strndup(a, (size_t)(eq - a)), g_strdup(eq + 1));
        } else {
            g_autofree char *key = g_strndup(a, strlen(a) - 1);
            g_hash_table_remove(h->labels, key);
        }
    }
    drv_error *err = NULL;
    if (ctl_async_put_host_then(r->c, h, s_host_labelled, r, NULL, &err) < 0) {
        g_hash_table_remove_all(h->labels);
        s_copy_labels(h->labels, r->saved_labels);
        ctl_req_fail(r, err);
    }
}

static void s_cluster_status(ctl_req *r)
{
    ctl *c = r->c;
    ctl_status st = {.leader = ctl_leader_name(c->leader),
                     .is_leader = ctl_is_leader(c),
                     .name = c->cfg->name,
                     .instance = c->instance,
                     .prefix = c->cfg->prefix};
    GPtrArray *hosts = ctl_model_hosts(c->model);
    for (guint i = 0; i < hosts->len; i++) {
        ctl_host *h = g_ptr_array_index(hosts, i);
        st.hosts_reachable += h->registered && h->reachable;
    }
    GPtrArray *doms = ctl_model_domains_unordered(c->model);
    for (guint i = 0; i < doms->len; i++) {
        const char *state, *reason;
        ctl_model_domain_state(c->model, g_ptr_array_index(doms, i), &state, &reason);
        st.domains_running += strcmp(state, "running") == 0;
    }
    st.outcomes_unknown = (int)ctl_outcome_open_count(c);
    st.stores_unknown = (int)ctl_doubt_open_count(c);
    st.hosts = (int)hosts->len;
    st.domains = (int)doms->len;
    g_ptr_array_unref(hosts);
    g_ptr_array_unref(doms);
    json_object *doc = ctl_view_status(&st);
    json_object *sec = json_object_new_object();
    json_object_object_add(sec, "curve", json_object_new_boolean(true));
    json_object_object_add(sec, "public_key", json_object_new_string(c->curve_public));
    json_object_object_add(sec, "enrolled_hosts",
                           json_object_new_int64((int64_t)ctl_model_n_keys(c->model)));
    json_object_object_add(sec, "refused_handshakes",
                           json_object_new_int64((int64_t)ctl_zap_refused(c->zap)));
    json_object_object_add(sec, "refused_agent_messages",
                           json_object_new_int64((int64_t)c->messages_refused));
    json_object_object_add(sec, "dropped_replies",
                           json_object_new_int64((int64_t)c->replies_dropped));
    json_object_object_add(doc, "security", sec);
    json_object_object_add(doc, "controllers", ctl_presence_list(c));
    json_object_object_add(doc, "ha_recoveries", ctl_ha_status(c));
    json_object_object_add(doc, "etcd", ctl_hygiene_status(c));
    ctl_req_ok(r, doc);
}

static void s_cpu_baseline(ctl_req *r)
{
    drv_sched_cluster *cl = ctl_placement_cluster(r->c, NULL);
    const char *arch = ctl_req_opt(r, "arch");
    g_auto(GStrv) features = drv_sched_baseline_features(cl, arch);
    g_autofree char *xml = NULL;
    drv_error *err = NULL;
    int rc = drv_sched_baseline_cpu_xml(cl, arch, ctl_req_opt(r, "model"), &xml, &err);
    drv_sched_cluster_destroy(&cl);
    ctl_req_ok(r, ctl_view_baseline(features, rc == 0 ? xml : NULL, rc == 0 ? NULL : err->message));
    drv_error_destroy(&err);
}

static void s_export_snapshot(ctl_req *r)
{
    drv_sched_cluster *cl = ctl_placement_cluster(r->c, NULL);
    json_object *doc = drv_sched_cluster_to_json_object(cl);
    drv_sched_cluster_destroy(&cl);
    ctl_req_ok(r, doc);
}

static void s_capacity(ctl_req *r)
{
    uint64_t mem = 0, vcpus = 0;
    const char *v = ctl_req_opt(r, "vcpus"), *m = ctl_req_opt(r, "memory_kib");
    if ((v != NULL && !g_ascii_string_to_unsigned(v, 10, 0, UINT32_MAX, &vcpus, NULL)) ||
        (m != NULL && !g_ascii_string_to_unsigned(m, 10, 0, UINT64_MAX, &mem, NULL))) {
        ctl_req_usage(r, "capacity: vcpus and memory_kib must be whole numbers");
        return;
    }
    if (vcpus == 0 && mem == 0) {
        ctl_req_usage(r, "capacity: give a shape (vcpus and/or memory_kib)");
        return;
    }
    g_auto(GStrv) flags =
        g_strsplit(ctl_req_opt(r, "flags") ? ctl_req_opt(r, "flags") : "", ",", -1);
    GPtrArray *feats = g_ptr_array_new();
    for (size_t i = 0; flags[i] != NULL; i++)
        if (flags[i][0] != '\0')
            g_ptr_array_add(feats, flags[i]);
    g_ptr_array_add(feats, NULL);
    drv_sched_request shape = {.vcpus = (uint32_t)vcpus,
                               .memory_kib = mem,
                               .features = (const char *const *)feats->pdata,
                               .arch = ctl_req_opt(r, "arch")};
    drv_sched_capacity_opts opts = {.n_plus_one = ctl_req_flag(r, "n_plus_one"),
                                    .hosts_down = ctl_req_flag(r, "hosts_down")};
    drv_sched_cluster *cl = ctl_placement_cluster(r->c, NULL);
    drv_sched_capacity *cap = NULL;
    drv_error *err = NULL;
    int rc = drv_sched_capacity_compute(cl, &shape, &opts, &cap, &err);
    g_ptr_array_unref(feats);
    drv_sched_cluster_destroy(&cl);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = drv_sched_capacity_to_json(cap);
    drv_sched_capacity_destroy(&cap);
    ctl_req_ok(r, doc);
}

static void s_drain_plan(ctl_req *r)
{
    ctl_host *h = s_host_arg(r);
    if (h == NULL)
        return;
    drv_sched_cluster *cl = ctl_drain_plan_cluster(r->c, h);
    drv_sched_drain_opts opts = {.n_plus_one = ctl_req_flag(r, "n_plus_one")};
    drv_sched_drain_plan *plan = NULL;
    drv_error *err = NULL;
    int rc = drv_sched_drain_plan_compute(cl, h->id, &opts, &plan, &err);
    drv_sched_cluster_destroy(&cl);
    if (rc < 0) {
        ctl_req_fail(r, err);
        return;
    }
    json_object *doc = drv_sched_drain_plan_to_json(plan);
    drv_sched_drain_plan_destroy(&plan);
    ctl_req_ok(r, doc);
}

/* ------------------------------------------------------------------ dispatch */

typedef struct {
    const char *verb;
    int min_args;
    int max_args;
    const char *usage;
    bool leader_only;
    ctl_verb_fn fn;
    ctl_role role; /* the least role that may call it */
} s_verb;

static const s_verb s_verbs[] = {
    {"host.list", 0, 0, "", true, ctl_api_host_list, CTL_ROLE_VIEWER},
    {"host.show", 1, 1, "HOST", true, s_host_show, CTL_ROLE_VIEWER},
    {"host.label", 2, 64, "HOST key=value|key- ...", true, s_host_label, CTL_ROLE_OPERATOR},
    {"host.drain-plan", 1, 1, "HOST", true, s_drain_plan, CTL_ROLE_VIEWER},
    {"host.stats", 1, 1, "HOST", true, ctl_api_host_stats, CTL_ROLE_VIEWER},
    {"domain.stats", 1, 1, "NAME", true, ctl_api_domain_stats, CTL_ROLE_VIEWER},
    {"host.ha-plan", 1, 1, "HOST", true, ctl_api_host_ha_plan, CTL_ROLE_VIEWER},
    {"host.enroll", 2, 2, "HOST PUBLIC-KEY", true, ctl_api_host_enroll, CTL_ROLE_ADMIN},
    {"host.remove", 1, 1, "HOST", true, ctl_api_host_remove, CTL_ROLE_ADMIN},
    {"domain.define", 0, 0, "(XML in body)", true, ctl_api_domain_define, CTL_ROLE_OPERATOR},
    {"domain.undefine", 1, 1, "NAME", true, ctl_api_domain_undefine, CTL_ROLE_OPERATOR},
    {"domain.create", 0, 0, "(XML in body)", true, ctl_api_domain_create, CTL_ROLE_OPERATOR},
    {"domain.start", 1, 1, "NAME", true, ctl_api_domain_start, CTL_ROLE_OPERATOR},
    {"domain.shutdown", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.reboot", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.destroy", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.suspend", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.resume", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.managedsave", 1, 1, "NAME", true, ctl_api_domain_lifecycle, CTL_ROLE_OPERATOR},
    {"domain.managedsave-remove", 1, 1, "NAME", true, ctl_api_domain_save_remove,
     CTL_ROLE_OPERATOR},
    {"domain.save", 1, 1, "NAME", true, ctl_api_domain_save, CTL_ROLE_OPERATOR},
    {"domain.restore", 1, 1, "NAME", true, ctl_api_domain_restore, CTL_ROLE_OPERATOR},
    {"domain.console", 1, 1, "NAME (typed input in body)", true, ctl_api_domain_console,
     CTL_ROLE_OPERATOR},
    {"domain.list", 0, 0, "", true, ctl_api_domain_list, CTL_ROLE_VIEWER},
    {"domain.info", 1, 1, "NAME", true, ctl_api_domain_info, CTL_ROLE_VIEWER},
    {"domain.state", 1, 1, "NAME", true, ctl_api_domain_state, CTL_ROLE_VIEWER},
    {"domain.dumpxml", 1, 1, "NAME", true, ctl_api_domain_dumpxml, CTL_ROLE_OPERATOR},
    {"domain.edit", 1, 1, "NAME (XML in body)", true, ctl_api_domain_edit, CTL_ROLE_OPERATOR},
    {"domain.history", 1, 1, "NAME", true, ctl_api_domain_history, CTL_ROLE_VIEWER},
    {"domain.history-show", 2, 2, "NAME REV", true, ctl_api_domain_history_show, CTL_ROLE_OPERATOR},
    {"domain.rollback", 2, 2, "NAME REV", true, ctl_api_domain_rollback, CTL_ROLE_OPERATOR},
    {"domain.setvcpus", 2, 2, "NAME COUNT", true, ctl_api_domain_modify, CTL_ROLE_OPERATOR},
    {"domain.setmem", 2, 2, "NAME KIB", true, ctl_api_domain_modify, CTL_ROLE_OPERATOR},
    {"domain.setmaxmem", 2, 2, "NAME KIB", true, ctl_api_domain_modify, CTL_ROLE_OPERATOR},
    {"domain.attach-device", 1, 1, "NAME (device XML in body)", true, ctl_api_domain_modify,
     CTL_ROLE_OPERATOR},
    {"domain.detach-device", 1, 1, "NAME (device XML in body)", true, ctl_api_domain_modify,
     CTL_ROLE_OPERATOR},
    {"domain.autostart", 1, 1, "NAME", true, ctl_api_domain_autostart, CTL_ROLE_OPERATOR},
    {"domain.ha", 1, 1, "NAME", true, ctl_api_domain_ha, CTL_ROLE_OPERATOR},
    {"snapshot.create", 1, 2, "DOMAIN [NAME]", true, ctl_api_snapshot_create, CTL_ROLE_OPERATOR},
    {"snapshot.list", 1, 1, "DOMAIN", true, ctl_api_snapshot_list, CTL_ROLE_VIEWER},
    {"snapshot.revert", 2, 2, "DOMAIN NAME", true, ctl_api_snapshot_revert, CTL_ROLE_OPERATOR},
    {"snapshot.delete", 2, 2, "DOMAIN NAME", true, ctl_api_snapshot_delete, CTL_ROLE_OPERATOR},
    {"cluster.status", 0, 0, "", false, s_cluster_status, CTL_ROLE_VIEWER},
    {"cluster.cpu-baseline", 0, 0, "", true, s_cpu_baseline, CTL_ROLE_VIEWER},
    {"cluster.stats", 0, 0, "", true, ctl_api_cluster_stats, CTL_ROLE_VIEWER},
    {"cluster.balance", 0, 0, "[--dry-run]", true, ctl_api_cluster_balance, CTL_ROLE_VIEWER},
    {"cluster.export-snapshot", 0, 0, "", true, s_export_snapshot, CTL_ROLE_VIEWER},
    {"capacity", 0, 0, "", true, s_capacity, CTL_ROLE_VIEWER},
    {"domain.migrate", 1, 1, "NAME", true, ctl_api_domain_migrate, CTL_ROLE_OPERATOR},
    {"job.list", 0, 0, "", true, ctl_api_job_list, CTL_ROLE_VIEWER},
    {"job.show", 1, 1, "ID", true, ctl_api_job_show, CTL_ROLE_VIEWER},
    {"job.cancel", 1, 1, "ID", true, ctl_api_job_cancel, CTL_ROLE_OPERATOR},
    {"host.maintenance", 1, 1, "HOST", true, ctl_api_host_maintenance, CTL_ROLE_OPERATOR},
    {"host.activate", 1, 1, "HOST", true, ctl_api_host_activate, CTL_ROLE_OPERATOR},
    /* provisioning (api_pool.c, api_vol.c, api_net.c, api_provision.c) */
    {"pool.define", 1, 1, "NAME --path P [--shared]", true, ctl_api_pool_define, CTL_ROLE_OPERATOR},
    {"pool.undefine", 1, 1, "NAME", true, ctl_api_pool_undefine, CTL_ROLE_OPERATOR},
    {"pool.list", 0, 0, "", true, ctl_api_pool_list, CTL_ROLE_VIEWER},
    {"pool.info", 1, 1, "NAME", true, ctl_api_pool_info, CTL_ROLE_VIEWER},
    {"vol.create", 2, 2, "POOL NAME --size S", true, ctl_api_vol_create, CTL_ROLE_OPERATOR},
    {"vol.list", 1, 1, "POOL", true, ctl_api_vol_list, CTL_ROLE_VIEWER},
    {"vol.info", 2, 2, "POOL NAME", true, ctl_api_vol_info, CTL_ROLE_VIEWER},
    {"vol.delete", 2, 2, "POOL NAME", true, ctl_api_vol_delete, CTL_ROLE_OPERATOR},
    {"vol.clone", 3, 3, "POOL SRC NEW", true, ctl_api_vol_clone, CTL_ROLE_OPERATOR},
    {"vol.resize", 3, 3, "POOL NAME KIB [--shrink]", true, ctl_api_vol_resize, CTL_ROLE_OPERATOR},
    {"vol.upload", 2, 2, "POOL NAME (image in body)", true, ctl_api_vol_upload, CTL_ROLE_OPERATOR},
    {"vol.wipe", 2, 2, "POOL NAME [--algorithm A]", true, ctl_api_vol_wipe, CTL_ROLE_OPERATOR},
    {"net.define", 1, 1, "NAME --bridge BR | --nat SUBNET", true, ctl_api_net_define,
     CTL_ROLE_OPERATOR},
    {"net.list", 0, 0, "", true, ctl_api_net_list, CTL_ROLE_VIEWER},
    {"net.info", 1, 1, "NAME", true, ctl_api_net_info, CTL_ROLE_VIEWER},
    {"domain.provision", 1, 1, "NAME --memory KIB --disk SPEC", true, ctl_api_domain_provision,
     CTL_ROLE_OPERATOR},
};

/* Verbs that only read the cache: a standby answers them too (marked stale). */
static bool s_is_read(ctl_verb_fn fn)
{
    static const ctl_verb_fn reads[] = {
        ctl_api_host_list,
        s_host_show,
        s_drain_plan,
        ctl_api_host_ha_plan,
        ctl_api_domain_list,
        ctl_api_domain_state,
        s_cpu_baseline,
        s_export_snapshot,
        s_capacity,
        ctl_api_domain_info,
        ctl_api_domain_history,
        ctl_api_domain_history_show,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(reads); i++)
        if (reads[i] == fn)
            return true;
    return false;
}

static void s_dispatch(ctl_api *self, char *client, const ctl_client_key *who,
                       const Drover__ClientRequest *cr)
{
    ctl_req *r = g_new0(ctl_req, 1);
    r->c = self->c;
    r->client = client;
    r->verb = g_strdup(cr->verb ? cr->verb : "");
    r->n_args = cr->n_args;
    r->args = g_new0(char *, cr->n_args + 1);
    for (size_t i = 0; i < cr->n_args; i++)
        r->args[i] = g_strdup(cr->args[i]);
    r->opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (size_t i = 0; i < cr->n_options; i++)
        if (cr->options[i]->key != NULL)
            g_hash_table_replace(r->opts, g_strdup(cr->options[i]->key),
                                 g_strdup(cr->options[i]->value ? cr->options[i]->value : ""));
    r->body_len = cr->body.len;
    r->body = g_strndup((const char *)cr->body.data, cr->body.len);
    drv_debug("request %s (%zu args)", r->verb, r->n_args);

    const s_verb *v = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(s_verbs); i++)
        if (strcmp(s_verbs[i].verb, r->verb) == 0)
            v = &s_verbs[i];
    if (v == NULL) {
        ctl_req_usage(r, "unknown verb '%s'", r->verb);
        return;
    }
    if (who == NULL) { /* the ZAP handler let it in, but the key is no longer allowed */
        ctl_req_failf(r, DRV_ERR_DENIED, "%s: this client key is not allowed", r->verb);
        return;
    }
    if (who->role < v->role) {
        drv_warn("client '%s' (role %s) refused %s: it needs role %s", who->name,
                 ctl_role_to_string(who->role), r->verb, ctl_role_to_string(v->role));
        ctl_req_failf(r, DRV_ERR_DENIED, "%s needs role %s; client '%s' has role %s", r->verb,
                      ctl_role_to_string(v->role), who->name, ctl_role_to_string(who->role));
        return;
    }
    if (v->fn == ctl_api_cluster_balance && !ctl_req_flag(r, "dry_run") &&
        who->role < CTL_ROLE_OPERATOR) { /* the dry run only reads; running it moves domains */
        ctl_req_failf(r, DRV_ERR_DENIED,
                      "%s without --dry-run needs role %s; client '%s' has role %s", r->verb,
                      ctl_role_to_string(CTL_ROLE_OPERATOR), who->name,
                      ctl_role_to_string(who->role));
        return;
    }
    if ((int)r->n_args < v->min_args || (int)r->n_args > v->max_args) {
        ctl_req_usage(r, "usage: %s %s", r->verb, v->usage);
        return;
    }
    for (size_t i = 0; i < r->n_args; i++) {
        if (v->fn == ctl_api_host_enroll && i == 1)
            continue; /* a z85 key, which may hold '/': checked by the verb */
        if (r->args[i][0] == '\0' || strchr(r->args[i], '/') != NULL ||
            !g_utf8_validate(r->args[i], -1, NULL)) {
            ctl_req_usage(r, "%s: argument '%s' is not a valid name", r->verb, r->args[i]);
            return;
        }
    }
    bool read = s_is_read(v->fn);
    if (v->leader_only && !read && !ctl_is_leader(self->c)) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "not the leader (leader is %s)",
                      ctl_leader_name(self->c->leader));
        return;
    }
    if (v->leader_only && !self->c->loaded) {
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE, "controller is still loading its state from etcd");
        return;
    }
    v->fn(r);
}

ctl_api *ctl_api_new(ctl *c, drv_error **err)
{
    void *router = zmq_socket(c->zctx, ZMQ_ROUTER);
    int linger = 0, hwm = 1000;
    int64_t max = c->cfg->max_message_bytes;
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm)); /* unread replies per client, bounded */
    if (drv_curve_server(router, c->curve_secret, DRV_ZAP_DOMAIN_CLIENTS, err) < 0) {
        zmq_close(router);
        drv_error_prefix(err, "client socket");
        return NULL;
    }
    if (zmq_bind(router, c->cfg->client_bind) < 0) {
        int e = errno;
        zmq_close(router);
        drv_error_set(err, DRV_ERR_IO, e, "client socket: bind %s: %s", c->cfg->client_bind,
                      zmq_strerror(e));
        return NULL;
    }
    ctl_api *self = g_new0(ctl_api, 1);
    self->c = c;
    self->router = router;
    return self;
}

void ctl_api_destroy(ctl_api **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    if ((*self_p)->router != NULL)
        zmq_close((*self_p)->router);
    g_free(*self_p);
    *self_p = NULL;
}

void *ctl_api_socket(ctl_api *self)
{
    return self->router;
}

void ctl_api_handle(ctl_api *self)
{
    for (int i = 0; i < 1000; i++) {
        char *identity = NULL;
        g_autofree char *user_id = NULL;
        Drover__Envelope *env = NULL;
        drv_error *err = NULL;
        if (drv_wire_recv_peer(self->router, true, 0, ZMQ_DONTWAIT, &identity, &user_id, &env,
                               &err) < 0) {
            bool empty = err->kind == DRV_ERR_TIMEOUT;
            if (!empty && identity != NULL) {
                ctl_req *r = g_new0(ctl_req, 1);
                r->c = self->c;
                r->client = identity;
                identity = NULL;
                r->verb = g_strdup("(garbled request)");
                r->args = g_new0(char *, 1);
                r->opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
                ctl_req_send(r, 2, drv_err_kind_to_string(err->kind), err->message, NULL);
            }
            drv_error_destroy(&err);
            g_free(identity);
            if (empty)
                return;
            continue;
        }
        if (env->body_case != DROVER__ENVELOPE__BODY_CLIENT_REQUEST) {
            drv_warn("client %s sent a %s message; ignored", identity,
                     drv_codec_body_name(env->body_case));
            g_free(identity);
        } else {
            s_dispatch(self, identity, ctl_config_client(self->c->cfg, user_id),
                       env->client_request);
        }
        drv_codec_destroy(&env);
    }
}
