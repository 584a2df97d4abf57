/* replycache.c — see replycache.h. A hash table by id plus a FIFO of ids (running ones in arrival
 * order, finished ones moved to the tail when they finish). */
#include "replycache.h"

#include <glib.h>

typedef struct {
    drv_reply_state state;
    uint8_t *buf;
    size_t len;
} s_entry;

struct drv_reply_cache {
    GHashTable *by_id; /* char * → s_entry * */
    GQueue order;      /* char * (owned by the table's keys) */
    size_t capacity;
};

static void s_entry_free(gpointer p)
{
    s_entry *e = p;
    g_free(e->buf);
    g_free(e);
}

drv_reply_cache *drv_reply_cache_new(size_t capacity)
{
    drv_reply_cache *self = g_new0(drv_reply_cache, 1);
    self->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, s_entry_free);
    g_queue_init(&self->order);
    self->capacity = capacity ? capacity : 1;
    return self;
}

void drv_reply_cache_destroy(drv_reply_cache **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_reply_cache *self = *self_p;
    g_queue_clear(&self->order);
    g_hash_table_destroy(self->by_id);
    g_free(self);
    *self_p = NULL;
}

drv_reply_state drv_reply_cache_lookup(drv_reply_cache *self, const char *id,
                                       const uint8_t **ret_buf, size_t *ret_len)
{
    s_entry *e = g_hash_table_lookup(self->by_id, id);
    if (e == NULL)
        return DRV_REPLY_UNKNOWN;
    if (e->state == DRV_REPLY_DONE) {
        if (ret_buf)
            *ret_buf = e->buf;
        if (ret_len)
            *ret_len = e->len;
    }
    return e->state;
}

static s_entry *s_add(drv_reply_cache *self, const char *id)
{
    char *key = g_strdup(id);
    s_entry *e = g_new0(s_entry, 1);
    g_hash_table_insert(self->by_id, key, e);
    g_queue_push_tail(&self->order, key);
    return e;
}

int drv_reply_cache_start(drv_reply_cache *self, const char *id)
{
    if (g_hash_table_contains(self->by_id, id))
        return -1;
    s_add(self, id)->state = DRV_REPLY_RUNNING;
    return 0;
}

/* Forgets the oldest finished entries while more than capacity are finished. */
static void s_evict(drv_reply_cache *self)
{
    size_t done = 0;
    for (GList *l = self->order.head; l; l = l->next) {
        s_entry *e = g_hash_table_lookup(self->by_id, l->data);
        done += e->state == DRV_REPLY_DONE;
    }
    GList *l = self->order.head;
    while (done > self->capacity && l != NULL) {
        GList *next = l->next;
        s_entry *e = g_hash_table_lookup(self->by_id, l->data);
        if (e->state == DRV_REPLY_DONE) {
            char *key = l->data;
            g_queue_delete_link(&self->order, l);
            g_hash_table_remove(self->by_id, key); /* frees key */
            done--;
        }
        l = next;
    }
}

void drv_reply_cache_finish(drv_reply_cache *self, const char *id, uint8_t *buf, size_t len)
{
    char *key = NULL;
    s_entry *e = NULL;
    if (g_hash_table_lookup_extended(self->by_id, id, (gpointer *)&key, (gpointer *)&e)) {
        /* finished now: it becomes the newest, so it is forgotten last */
        g_queue_remove(&self->order, key);
        g_queue_push_tail(&self->order, key);
    } else {
        e = s_add(self, id);
    }
    g_free(e->buf);
    e->buf = buf;
    e->len = len;
    e->state = DRV_REPLY_DONE;
    if ((size_t)g_queue_get_length(&self->order) > self->capacity)
        s_evict(self);
}

size_t drv_reply_cache_size(const drv_reply_cache *self)
{
    return g_hash_table_size(self->by_id);
}
