/* takeover_gate.c — see takeover_gate.h. */
#include "takeover_gate.h"

#include "log.h"

#define S_RETRY_MS   1000 /* after a failed take-over read */
#define S_LISTING_MS 100  /* asked again while the read runs */

int64_t ctl_takeover_gate_tick(ctl_takeover_gate *g, const ctl_takeover_ops *ops, ctl *c,
                               int64_t now_ms, bool may_lead)
{
    if (!may_lead) {
        if (g->leading || ops->count(c) > 0) {
            drv_info("not leading: %u %s left to the next leader", ops->count(c), ops->what);
            ops->drop(c);
            g->leading = false;
        }
        return 1000;
    }
    if (g->leading)
        return 0;
    if (g->listing)
        return S_LISTING_MS;
    if (now_ms < g->next_ms)
        return g->next_ms - now_ms;
    drv_error *err = NULL;
    if (ops->list(c, &err) < 0) {
        drv_warn("taking %s over: %s; retrying", ops->what, err->message);
        drv_error_destroy(&err);
        g->next_ms = now_ms + S_RETRY_MS;
        return S_RETRY_MS;
    }
    g->listing = true;
    return S_LISTING_MS;
}

bool ctl_takeover_gate_listed(ctl_takeover_gate *g, const ctl_takeover_ops *ops, ctl *c,
                              bool may_lead, const drv_error *err)
{
    g->listing = false;
    if (!may_lead)
        return false;
    if (err != NULL) {
        drv_warn("taking %s over: %s; retrying", ops->what, err->message);
        g->next_ms = ctl_now_ms(c) + S_RETRY_MS;
        return false;
    }
    return true;
}

void ctl_takeover_gate_open(ctl_takeover_gate *g)
{
    g->leading = true;
}
