/* api_list.c — `domain list` and `host list`: filters applied by the controller (`--host`,
 * `--state`, `--label KEY=VALUE`; for hosts `--state` and `--label`), then a page (`--limit N`,
 * `--continue TOKEN`; list_page.h). The answer carries `continue` when more items follow, and
 * `total` (how many matched the filters), so a client at 100,000 domains reads them in pages and
 * never needs the whole document at once. Filters read only the model (a standby answers too). */
#include "api_private.h"
#include "list_page.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>

/* --limit: a positive count (0 or absent = all). -1 after answering usage. */
static int s_limit(ctl_req *r, guint *ret)
{
    const char *v = ctl_req_opt(r, "limit");
    *ret = 0;
    if (v == NULL)
        return 0;
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    if (v[0] == '\0' || v[0] == '-' || *end != '\0' || n > 1000000) {
        ctl_req_usage(r, "--limit '%s' is not a count between 0 and 1000000", v);
        return -1;
    }
    *ret = (guint)n;
    return 0;
}

/* --label KEY=VALUE split; -1 after answering usage. */
static int s_label(ctl_req *r, char **ret_key, const char **ret_value)
{
    const char *v = ctl_req_opt(r, "label");
    *ret_key = NULL;
    *ret_value = NULL;
    if (v == NULL)
        return 0;
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq == v) {
        ctl_req_usage(r, "--label '%s' is not KEY=VALUE", v);
        return -1;
    }
    *ret_key = g_strndup(v, (gsize)(eq - v));
    *ret_value = eq + 1;
    return 0;
}

static bool s_host_has_label(const ctl_host *h, const char *key, const char *value)
{
    if (h == NULL || key == NULL)
        return key == NULL;
    const char *v = h->labels != NULL ? g_hash_table_lookup(h->labels, key) : NULL;
    return v != NULL && strcmp(v, value) == 0;
}

/* A domain's state as listed ("running", "shut off", "unknown", ...); "shutoff" is accepted for
 * "shut off" (the desired-state spelling). */
static bool s_state_is(const char *state, const char *want)
{
    if (want == NULL)
        return true;
    if (strcmp(want, "shutoff") == 0)
        want = "shut off";
    return g_ascii_strcasecmp(state, want) == 0;
}

static const char *s_domain_key(gconstpointer item)
{
    return ((const ctl_domain *)item)->name;
}

static const char *s_host_key(gconstpointer item)
{
    return ((const ctl_host *)item)->id;
}

/* Answers r with the page of `matched` (sorted by key) that --continue and limit ask for, as the
 * view renders it, plus the page's `continue` token and the match count. */
static void s_answer_page(ctl_req *r, GPtrArray *matched, ctl_page_key_fn key, guint limit,
                          json_object *(*view)(ctl_model *m, GPtrArray *items))
{
    ctl_page page = {.after = ctl_req_opt(r, "continue"), .limit = limit};
    char *next = NULL;
    GPtrArray *shown = ctl_page_apply(matched, key, &page, &next);
    json_object *doc = view(r->c->model, shown);
    if (next != NULL)
        json_object_object_add(doc, "continue", json_object_new_string(next));
    json_object_object_add(doc, "total", json_object_new_int64(matched->len));
    ctl_req_ok(r, doc);
    g_free(next);
    g_ptr_array_unref(shown);
}

void ctl_api_domain_list(ctl_req *r)
{
    guint limit = 0;
    char *lkey = NULL;
    const char *lvalue = NULL;
    if (s_limit(r, &limit) < 0 || s_label(r, &lkey, &lvalue) < 0)
        return;
    bool all = ctl_req_flag(r, "all");
    const char *host = ctl_req_opt(r, "host");
    const char *want_state = ctl_req_opt(r, "state");
    ctl_model *m = r->c->model;
    /* --host: only that host's domains (the model's per-host index), else all */
    GPtrArray *doms = host != NULL ? ctl_model_domains_on(m, host) : ctl_model_domains(m);
    GPtrArray *matched = g_ptr_array_new();
    for (guint i = 0; i < doms->len; i++) {
        const ctl_domain *d = g_ptr_array_index(doms, i);
        /* without --all (or a --state that asks for them), shut off domains meant to be off are
         * left out, as before */
        if (!all && want_state == NULL && ctl_model_domain_is_off(m, d) &&
            d->desired == CTL_DESIRED_SHUTOFF)
            continue;
        if (host != NULL && g_strcmp0(d->host, host) != 0)
            continue;
        if (lkey != NULL &&
            !s_host_has_label(d->host != NULL ? ctl_model_host(m, d->host) : NULL, lkey, lvalue))
            continue;
        if (want_state != NULL) {
            const char *state, *reason;
            ctl_model_domain_state(m, d, &state, &reason);
            if (!s_state_is(state, want_state))
                continue;
        }
        g_ptr_array_add(matched, (gpointer)d);
    }
    s_answer_page(r, matched, s_domain_key, limit, ctl_view_domains);
    g_free(lkey);
    g_ptr_array_unref(matched);
    g_ptr_array_unref(doms);
}

/* A host's state for --state: its admin state (active, preparing-maintenance, maintenance), or
 * reachable / unreachable. */
static bool s_host_state_is(const ctl_host *h, const char *want)
{
    if (want == NULL)
        return true;
    bool reachable = h->registered && h->reachable;
    if (strcmp(want, "reachable") == 0)
        return reachable;
    if (strcmp(want, "unreachable") == 0)
        return !reachable;
    return g_strcmp0(h->admin_state, want) == 0;
}

void ctl_api_host_list(ctl_req *r)
{
    guint limit = 0;
    char *lkey = NULL;
    const char *lvalue = NULL;
    if (s_limit(r, &limit) < 0 || s_label(r, &lkey, &lvalue) < 0)
        return;
    const char *want_state = ctl_req_opt(r, "state");
    ctl_model *m = r->c->model;
    GPtrArray *hosts = ctl_model_hosts(m);
    GPtrArray *matched = g_ptr_array_new();
    for (guint i = 0; i < hosts->len; i++) {
        const ctl_host *h = g_ptr_array_index(hosts, i);
        if ((lkey == NULL || s_host_has_label(h, lkey, lvalue)) && s_host_state_is(h, want_state))
            g_ptr_array_add(matched, (gpointer)h);
    }
    s_answer_page(r, matched, s_host_key, limit, ctl_view_hosts);
    g_free(lkey);
    g_ptr_array_unref(matched);
    g_ptr_array_unref(hosts);
}
