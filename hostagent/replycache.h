/* replycache.h — remembers the last N command ids and their packed replies, so a resent command is
 * answered with its first reply and never run twice (also while it is still running). Pure; used by
 * the main thread only. */
#ifndef DROVER_AGENT_REPLYCACHE_H
#define DROVER_AGENT_REPLYCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct drv_reply_cache drv_reply_cache;

typedef enum {
    DRV_REPLY_UNKNOWN = 0, /* never seen (or forgotten): run it */
    DRV_REPLY_RUNNING,     /* started, no reply yet: do nothing, the reply will come */
    DRV_REPLY_DONE,        /* finished: send the stored reply again */
} drv_reply_state;

/* A cache keeping at most capacity finished entries (the longest finished forgotten first). */
drv_reply_cache *drv_reply_cache_new(size_t capacity);
void drv_reply_cache_destroy(drv_reply_cache **self_p);
/* State of id; for DONE, ret_buf and ret_len (optional) borrow the stored reply. */
drv_reply_state drv_reply_cache_lookup(drv_reply_cache *self, const char *id,
                                       const uint8_t **ret_buf, size_t *ret_len);
/* Marks id as running. Returns -1 if id is already known (caller must not run it). */
int drv_reply_cache_start(drv_reply_cache *self, const char *id);
/* Stores the reply for id (takes ownership of buf, g_malloc'ed) and marks it done; an id that was
 * never started is added. Evicts the oldest finished entries beyond the capacity. */
void drv_reply_cache_finish(drv_reply_cache *self, const char *id, uint8_t *buf, size_t len);
/* Number of ids remembered (running + done). */
size_t drv_reply_cache_size(const drv_reply_cache *self);

#endif
