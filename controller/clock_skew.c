/* clock_skew.c — see clock_skew.h. */
#include "clock_skew.h"

#include <string.h>

void ctl_clock_skew_reset(ctl_clock_skew *k)
{
    memset(k, 0, sizeof(*k));
}

void ctl_clock_skew_add(ctl_clock_skew *k, int64_t agent_wall_ms, int64_t ctl_wall_ms)
{
    if (agent_wall_ms <= 0)
        return;
    k->samples[k->next] = agent_wall_ms - ctl_wall_ms;
    k->next = (k->next + 1) % CTL_CLOCK_SKEW_SAMPLES;
    if (k->n < CTL_CLOCK_SKEW_SAMPLES)
        k->n++;
}

bool ctl_clock_skew_get(const ctl_clock_skew *k, int64_t *ret_ms)
{
    if (k->n == 0)
        return false;
    int64_t best = k->samples[0];
    for (unsigned i = 1; i < k->n; i++)
        if (k->samples[i] > best)
            best = k->samples[i];
    *ret_ms = best;
    return true;
}

int64_t ctl_clock_skew_to_host(const ctl_clock_skew *k, int64_t ctl_wall_ms)
{
    int64_t skew = 0;
    if (ctl_wall_ms == 0 || !ctl_clock_skew_get(k, &skew))
        return ctl_wall_ms;
    return ctl_wall_ms + skew;
}
