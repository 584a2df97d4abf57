/* backoff.c — see backoff.h. */
#include "backoff.h"

void drv_backoff_init(drv_backoff *b, int64_t initial_ms, int64_t cap_ms)
{
    b->initial_ms = initial_ms > 0 ? initial_ms : 1;
    b->cap_ms = cap_ms >= b->initial_ms ? cap_ms : b->initial_ms;
    b->current_ms = b->initial_ms;
}

int64_t drv_backoff_next(drv_backoff *b)
{
    int64_t d = b->current_ms;
    b->current_ms = d * 2 > b->cap_ms ? b->cap_ms : d * 2;
    return d;
}

void drv_backoff_reset(drv_backoff *b)
{
    b->current_ms = b->initial_ms;
}
