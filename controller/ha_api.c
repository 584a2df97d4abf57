/* ha_api.c — the verb `domain.ha` (drover domain ha NAME --enable|--disable [--priority N]
 * [--restart-limit K]): the domain's HA policy, stored with the domain (docs/ha.md). */
#include "api_private.h"

#include "events.h"
#include "store_async.h"
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void s_ha_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                        void *data)
{
    ctl_req *r = data;
    if (err != NULL) {
        ctl_req_failf(r, err->kind, "domain '%s': HA policy not stored%s: %s", r->domain,
                      attempted ? " (it may have been)" : "", err->message);
        return;
    }
    if (stored == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    ctl_events_domain(c, stored, "ha");
    ctl_req_ok(r, ctl_view_domain_api(c->model, stored));
}

/* Parses a decimal option in [lo, hi] into *ret; absent → 0 and *ret untouched. */
static int s_int_opt(ctl_req *r, const char *key, long long lo, long long hi, long long *ret)
{
    const char *v = ctl_req_opt(r, key);
    if (v == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        ctl_req_usage(r, "domain.ha: --%s '%s' is not a number in [%lld, %lld]", key, v, lo, hi);
        return -1;
    }
    *ret = n;
    return 1;
}

void ctl_api_domain_ha(ctl_req *r)
{
    g_free(r->domain);
    r->domain = g_strdup(r->args[0]);
    ctl_domain *d = ctl_model_domain(r->c->model, r->args[0]);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' not found", r->args[0]);
        return;
    }
    bool enable = ctl_req_flag(r, "enable"), disable = ctl_req_flag(r, "disable");
    if (enable && disable) {
        ctl_req_usage(r, "domain.ha: --enable and --disable exclude each other");
        return;
    }
    long long prio = d->ha_priority, limit = d->ha_restart_limit;
    int p = s_int_opt(r, "priority", -1000000, 1000000, &prio);
    if (p < 0)
        return;
    int l = s_int_opt(r, "restart_limit", 0, 1000000, &limit);
    if (l < 0)
        return;
    if (d->transient && enable) {
        ctl_req_failf(r, DRV_ERR_INVALID,
                      "domain '%s' is transient: HA restarts need a stored definition", d->name);
        return;
    }
    if (!enable && !disable && p == 0 && l == 0) { /* a query */
        ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    if (enable) {
        copy->ha = true;
        copy->ha_restarts = 0; /* enabling again resets the count the limit is checked against */
    }
    if (disable)
        copy->ha = false;
    copy->ha_priority = (int32_t)prio;
    copy->ha_restart_limit = (uint32_t)limit;
    drv_error *err = NULL;
    if (ctl_async_put_domain(r->c, copy, d->mod_revision, NULL, s_ha_stored, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}
