/* deadlines.c — see deadlines.h. A GSequence (balanced tree) ordered by (deadline, insertion
 * number) plus a hash from key to its node. */
#include "deadlines.h"

typedef struct {
    char *key;
    int64_t at_ms;
    uint64_t seq;
} s_entry;

struct ctl_deadlines {
    GSequence *order;   /* s_entry*, owned */
    GHashTable *by_key; /* key (the entry's) → GSequenceIter* */
    uint64_t next_seq;
};

static void s_entry_free(gpointer p)
{
    s_entry *e = p;
    g_free(e->key);
    g_free(e);
}

static gint s_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    const s_entry *x = a, *y = b;
    (void)unused;
    if (x->at_ms != y->at_ms)
        return x->at_ms < y->at_ms ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return 0;
}

ctl_deadlines *ctl_deadlines_new(void)
{
    ctl_deadlines *self = g_new0(ctl_deadlines, 1);
    self->order = g_sequence_new(s_entry_free);
    self->by_key = g_hash_table_new(g_str_hash, g_str_equal);
    return self;
}

void ctl_deadlines_destroy(ctl_deadlines **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_deadlines *self = *self_p;
    g_hash_table_unref(self->by_key);
    g_sequence_free(self->order);
    g_free(self);
    *self_p = NULL;
}

void ctl_deadlines_remove(ctl_deadlines *self, const char *key)
{
    GSequenceIter *it = g_hash_table_lookup(self->by_key, key);
    if (it == NULL)
        return;
    g_hash_table_remove(self->by_key, key);
    g_sequence_remove(it); /* frees the entry (and the key the hash pointed at) */
}

void ctl_deadlines_set(ctl_deadlines *self, const char *key, int64_t at_ms)
{
    ctl_deadlines_remove(self, key);
    s_entry *e = g_new0(s_entry, 1);
    e->key = g_strdup(key);
    e->at_ms = at_ms;
    e->seq = self->next_seq++;
    GSequenceIter *it = g_sequence_insert_sorted(self->order, e, s_cmp, NULL);
    g_hash_table_insert(self->by_key, e->key, it);
}

int64_t ctl_deadlines_get(const ctl_deadlines *self, const char *key)
{
    GSequenceIter *it = g_hash_table_lookup(self->by_key, key);
    if (it == NULL)
        return INT64_MAX;
    const s_entry *e = g_sequence_get(it);
    return e->at_ms;
}

int64_t ctl_deadlines_next(const ctl_deadlines *self)
{
    GSequenceIter *it = g_sequence_get_begin_iter(self->order);
    if (g_sequence_iter_is_end(it))
        return INT64_MAX;
    const s_entry *e = g_sequence_get(it);
    return e->at_ms;
}

char *ctl_deadlines_pop_due(ctl_deadlines *self, int64_t now_ms)
{
    GSequenceIter *it = g_sequence_get_begin_iter(self->order);
    if (g_sequence_iter_is_end(it))
        return NULL;
    s_entry *e = g_sequence_get(it);
    if (e->at_ms > now_ms)
        return NULL;
    g_hash_table_remove(self->by_key, e->key);
    char *key = g_steal_pointer(&e->key);
    g_sequence_remove(it);
    return key;
}

guint ctl_deadlines_size(const ctl_deadlines *self)
{
    return g_hash_table_size(self->by_key);
}

void ctl_deadlines_clear(ctl_deadlines *self)
{
    g_hash_table_remove_all(self->by_key);
    g_sequence_remove_range(g_sequence_get_begin_iter(self->order),
                            g_sequence_get_end_iter(self->order));
}
