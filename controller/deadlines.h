/* deadlines.h — named deadlines kept in time order: the loop's timers at scale. Each key (a host
 * id, a command id) has at most one deadline; setting it again moves it. The loop asks for the
 * earliest one and pops only those that are due, so a turn costs O(due · log n), never a walk of
 * every host or command (1,000 hosts heartbeating at 1 Hz wake the loop ~1,000 times a second).
 * Pure: no clock of its own, no I/O. Ties keep the order the deadlines were set in. */
#ifndef DROVER_CTL_DEADLINES_H
#define DROVER_CTL_DEADLINES_H

#include <glib.h>
#include <stdint.h>

typedef struct ctl_deadlines ctl_deadlines;

ctl_deadlines *ctl_deadlines_new(void);
void ctl_deadlines_destroy(ctl_deadlines **self_p);
/* Sets (or moves) key's deadline. O(log n). */
void ctl_deadlines_set(ctl_deadlines *self, const char *key, int64_t at_ms);
/* Forgets key's deadline (no-op when it has none). */
void ctl_deadlines_remove(ctl_deadlines *self, const char *key);
/* key's deadline, or INT64_MAX when it has none. */
int64_t ctl_deadlines_get(const ctl_deadlines *self, const char *key);
/* The earliest deadline, or INT64_MAX when there is none. */
int64_t ctl_deadlines_next(const ctl_deadlines *self);
/* Removes and returns (caller frees) the key with the earliest deadline if it is <= now_ms,
 * else NULL. */
char *ctl_deadlines_pop_due(ctl_deadlines *self, int64_t now_ms);
guint ctl_deadlines_size(const ctl_deadlines *self);
/* Forgets every deadline. */
void ctl_deadlines_clear(ctl_deadlines *self);

#endif
