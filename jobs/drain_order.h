/* drain_order.h — the order of a drain's migrations that ends it soonest (issue 15): the longest
 * predicted first across the concurrency slots (LPT), each move starting as soon as a slot, its
 * source's and its destination's caps and the destination's free memory allow; a move's memory is
 * booked on its destination when it starts and freed on its source when it ends. Pure: moves in,
 * start times and the predicted drain time out. The drain executor (job_drain.h) launches in the
 * same priority (drv_drain_priority) when every move waiting to start has a prediction.
 *
 * Greedy list scheduling: at each instant the moves not started are tried longest first (ties:
 * by domain name) and every one that fits starts; then time advances to the next end. LPT is
 * within 4/3 of the optimum on identical slots without the other constraints. */
#ifndef DROVER_JOBS_DRAIN_ORDER_H
#define DROVER_JOBS_DRAIN_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *domain;
    const char *source;
    const char *destination;
    uint64_t predicted_ms; /* the migration's predicted time (migrate_predict.h) */
    uint64_t memory_kib;   /* booked on the destination while and after it moves */
} drv_drain_move;

typedef struct {
    const char *host;
    uint64_t free_kib; /* free memory before the drain */
} drv_drain_room;

typedef struct {
    uint32_t slots;      /* migrations at once (>= 1) */
    uint32_t per_source; /* at once from one host; 0 = no cap */
    uint32_t per_dest;   /* at once to one host; 0 = no cap */
} drv_drain_caps;

typedef struct {
    size_t index;      /* into the moves given */
    uint64_t start_ms; /* from the drain's start */
    uint64_t end_ms;
} drv_drain_slot;

/* Fills ret_order[0..n) with the indices of moves in the order they are tried: longest predicted
 * first, ties by domain name. */
void drv_drain_priority(const drv_drain_move *moves, size_t n, size_t *ret_order);

/* Fills ret[0..n) with the moves in start order and *ret_total_ms with the predicted drain time
 * (the last end). A host missing from rooms has no memory limit. Returns the number of moves
 * scheduled: fewer than n when the rest can never fit (their destination's memory is short even
 * once every other move ended); those are left out of ret. */
size_t drv_drain_order(const drv_drain_move *moves, size_t n, const drv_drain_caps *caps,
                       const drv_drain_room *rooms, size_t n_rooms, drv_drain_slot *ret,
                       uint64_t *ret_total_ms);

#endif
