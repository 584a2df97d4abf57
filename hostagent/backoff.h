/* backoff.h — capped exponential backoff (pure: the caller supplies the clock). */
#ifndef DROVER_AGENT_BACKOFF_H
#define DROVER_AGENT_BACKOFF_H

#include <stdint.h>

typedef struct {
    int64_t initial_ms;
    int64_t cap_ms;
    int64_t current_ms; /* the next delay */
} drv_backoff;

/* Starts at initial_ms, doubles on each drv_backoff_next up to cap_ms. */
void drv_backoff_init(drv_backoff *b, int64_t initial_ms, int64_t cap_ms);
/* Returns the delay to wait now and doubles the next one (capped). */
int64_t drv_backoff_next(drv_backoff *b);
/* Back to initial_ms (after a success). */
void drv_backoff_reset(drv_backoff *b);

#endif
