/* fence.c — see fence.h. */
#include "fence.h"

int drv_fence_cfg_check(const drv_fence_cfg *cfg, drv_error **err)
{
    if (cfg->fence_after_ms <= 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "[agent] fence_after_s must be > 0");
    if (cfg->lease_ttl_ms < cfg->fence_after_ms + DRV_FENCE_MARGIN_S * 1000)
        return drv_error_set(
            err, DRV_ERR_INVALID, 0,
            "[agent] lease_ttl_s (%lld) must be at least fence_after_s (%lld) + %d: "
            "the guests must be gone before the lease can expire",
            (long long)(cfg->lease_ttl_ms / 1000), (long long)(cfg->fence_after_ms / 1000),
            DRV_FENCE_MARGIN_S);
    return 0;
}

bool drv_fence_due(const drv_fence_cfg *cfg, const drv_fence_state *st, int64_t now_ms)
{
    if (st->fenced)
        return false;
    return st->lease_lost || now_ms - st->last_renew_sent_ms >= cfg->fence_after_ms;
}

int64_t drv_fence_wait_ms(const drv_fence_cfg *cfg, const drv_fence_state *st, int64_t now_ms)
{
    if (st->fenced)
        return INT64_MAX;
    if (drv_fence_due(cfg, st, now_ms))
        return 0;
    return st->last_renew_sent_ms + cfg->fence_after_ms - now_ms;
}

void drv_fence_renewed(drv_fence_state *st, int64_t sent_ms)
{
    if (sent_ms > st->last_renew_sent_ms)
        st->last_renew_sent_ms = sent_ms;
    st->lease_lost = false;
    st->fenced = false;
}

int64_t drv_fence_start_renewed_ms(int64_t now_ms, int64_t now_wall_ms, int64_t last_wall_ms)
{
    if (last_wall_ms <= 0 || last_wall_ms > now_wall_ms)
        return now_ms;
    return now_ms - (now_wall_ms - last_wall_ms);
}
