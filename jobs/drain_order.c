/* drain_order.c — see drain_order.h. */
#include "drain_order.h"

#include <glib.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    const drv_drain_move *moves;
} s_ctx;

static gint s_longest_first(gconstpointer a, gconstpointer b, gpointer data)
{
    const s_ctx *c = data;
    const drv_drain_move *x = &c->moves[*(const size_t *)a], *y = &c->moves[*(const size_t *)b];
    if (x->predicted_ms != y->predicted_ms)
        return x->predicted_ms > y->predicted_ms ? -1 : 1;
    return g_strcmp0(x->domain, y->domain);
}

void drv_drain_priority(const drv_drain_move *moves, size_t n, size_t *ret_order)
{
    for (size_t i = 0; i < n; i++)
        ret_order[i] = i;
    s_ctx ctx = {.moves = moves};
    g_qsort_with_data(ret_order, (gint)n, sizeof(size_t), s_longest_first, &ctx);
}

/* Host → counters and free memory (-1: no limit). */
typedef struct {
    uint32_t out, in;
    int64_t free_kib;
} s_host;

static s_host *s_host_of(GHashTable *hosts, const char *name)
{
    s_host *h = g_hash_table_lookup(hosts, name ? name : "");
    if (h == NULL) {
        h = g_new0(s_host, 1);
        h->free_kib = -1;
        g_hash_table_insert(hosts, (gpointer)(name ? name : ""), h);
    }
    return h;
}

size_t drv_drain_order(const drv_drain_move *moves, size_t n, const drv_drain_caps *caps,
                       const drv_drain_room *rooms, size_t n_rooms, drv_drain_slot *ret,
                       uint64_t *ret_total_ms)
{
    GHashTable *hosts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    for (size_t i = 0; i < n_rooms; i++)
        s_host_of(hosts, rooms[i].host)->free_kib =
            rooms[i].free_kib > INT64_MAX ? INT64_MAX : (int64_t)rooms[i].free_kib;
    size_t *order = g_new(size_t, n ? n : 1);
    drv_drain_priority(moves, n, order);
    bool *started = g_new0(bool, n ? n : 1);
    /* running: indices into ret of the moves under way */
    GArray *running = g_array_new(FALSE, FALSE, sizeof(size_t));
    uint32_t slots = caps->slots ? caps->slots : 1;
    uint64_t now = 0, total = 0;
    size_t done = 0;
    for (;;) {
        for (size_t k = 0; k < n && running->len < slots; k++) {
            size_t i = order[k];
            if (started[i])
                continue;
            const drv_drain_move *m = &moves[i];
            s_host *src = s_host_of(hosts, m->source), *dst = s_host_of(hosts, m->destination);
            if ((caps->per_source && src->out >= caps->per_source) ||
                (caps->per_dest && dst->in >= caps->per_dest) ||
                (dst->free_kib >= 0 && (uint64_t)dst->free_kib < m->memory_kib))
                continue;
            started[i] = true;
            src->out++;
            dst->in++;
            if (dst->free_kib >= 0)
                dst->free_kib -= (int64_t)m->memory_kib;
            ret[done] =
                (drv_drain_slot){.index = i, .start_ms = now, .end_ms = now + m->predicted_ms};
            g_array_append_val(running, done);
            done++;
        }
        if (running->len == 0)
            break; /* nothing under way and nothing fits: the rest never will */
        /* advance to the next end */
        guint first = 0;
        for (guint r = 1; r < running->len; r++)
            if (ret[g_array_index(running, size_t, r)].end_ms <
                ret[g_array_index(running, size_t, first)].end_ms)
                first = r;
        drv_drain_slot *s = &ret[g_array_index(running, size_t, first)];
        const drv_drain_move *m = &moves[s->index];
        now = s->end_ms;
        if (now > total)
            total = now;
        s_host *src = s_host_of(hosts, m->source), *dst = s_host_of(hosts, m->destination);
        src->out--;
        dst->in--;
        if (src->free_kib >= 0)
            src->free_kib += (int64_t)m->memory_kib;
        g_array_remove_index_fast(running, first);
    }
    g_array_unref(running);
    g_free(started);
    g_free(order);
    g_hash_table_unref(hosts);
    *ret_total_ms = total;
    return done;
}
