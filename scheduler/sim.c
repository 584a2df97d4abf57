/* sim.c — a what-if layer over a cluster: a private copy of every host's free resources, virtual
 * domains of one shape, planned moves of real domains, blocked hosts; and the restart check that
 * answers "if these hosts fail, can everything that ran on them start elsewhere?".
 *
 * The restart check is first-fit decreasing: the failed hosts' running domains, largest memory
 * first, each onto the first host (in order of free memory, most first) that passes every
 * non-affinity filter — state, reachability, arch, CPU features, pools, labels, anti-affinity
 * (against the members already there and those restarted before it) — and has the room. Affinity is
 * not enforced on restart (a restart may split a group). A "yes" proves room exists; a "no" is the
 * greedy's verdict (bin packing is NP-hard), documented in docs/scheduler.md. Scans stop early when
 * no later host can have enough memory or vCPUs (free memory is sorted; a suffix maximum bounds
 * vCPUs). */
#include <stdlib.h>
#include <string.h>

#include "sched_internal.h"

typedef struct {
    const sched_domain *d; /* NULL = a virtual domain of the shape */
    uint32_t vcpus;
    uint64_t memory_kib;
} s_item;

typedef struct {
    const char *anti; /* group name */
    size_t slot;
} s_temp;

struct sched_sim {
    const drv_sched_cluster *c;
    size_t n;
    sched_hot *hot;
    const sched_prep *extra_prep;
    sched_prep extra_check; /* shallow copy of extra_prep without avoid/marks */
    uint32_t *extra;        /* virtual domains per slot */
    GHashTable *moved;      /* sched_domain* → slot + 1 */
    GPtrArray **moved_in;   /* per slot: real domains moved there (lazily created) */
    GHashTable *preps;      /* sched_domain* → sched_prep* (no avoid, no marks) */
    /* restart scratch */
    bool order_valid;
    size_t *order;
    size_t n_order;
    int64_t *order_mem;
    int64_t *suffix_vcpus;
    uint64_t *failed_bm;
    GArray *items;
    GArray *undo; /* s_item with d = NULL, vcpus/memory to give back, in .memory_kib */
    GArray *undo_slots;
    GArray *temps;
};

static void s_prep_free(gpointer p)
{
    sched_prep_clear(p);
    g_free(p);
}

sched_sim *sched_sim_new(const drv_sched_cluster *c, const sched_prep *extra_prep)
{
    sched_sim *s = g_new0(sched_sim, 1);
    s->c = c;
    s->n = c->hosts->len;
    s->hot = g_new0(sched_hot, s->n + 1);
    if (s->n)
        memcpy(s->hot, c->hot, sizeof(sched_hot) * s->n);
    s->extra_prep = extra_prep;
    if (extra_prep) {
        s->extra_check = *extra_prep;
        s->extra_check.avoid = NULL;
        s->extra_check.anti_marks = NULL;
        s->extra_check.aff_marks = NULL;
    }
    s->extra = g_new0(uint32_t, s->n + 1);
    s->moved = g_hash_table_new(NULL, NULL);
    s->moved_in = g_new0(GPtrArray *, s->n + 1);
    s->preps = g_hash_table_new_full(NULL, NULL, NULL, s_prep_free);
    s->order = g_new0(size_t, s->n + 1);
    s->order_mem = g_new0(int64_t, s->n + 1);
    s->suffix_vcpus = g_new0(int64_t, s->n + 2);
    s->failed_bm = g_new0(uint64_t, s->n / 64 + 2);
    s->items = g_array_new(FALSE, FALSE, sizeof(s_item));
    s->undo = g_array_new(FALSE, FALSE, sizeof(s_item));
    s->undo_slots = g_array_new(FALSE, FALSE, sizeof(size_t));
    s->temps = g_array_new(FALSE, FALSE, sizeof(s_temp));
    return s;
}

void sched_sim_free(sched_sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->moved_in[i])
            g_ptr_array_unref(s->moved_in[i]);
    g_free(s->moved_in);
    g_hash_table_unref(s->moved);
    g_hash_table_unref(s->preps);
    g_free(s->hot);
    g_free(s->extra);
    g_free(s->order);
    g_free(s->order_mem);
    g_free(s->suffix_vcpus);
    g_free(s->failed_bm);
    g_array_unref(s->items);
    g_array_unref(s->undo);
    g_array_unref(s->undo_slots);
    g_array_unref(s->temps);
    g_free(s);
}

sched_hot *sched_sim_hot(sched_sim *s)
{
    s->order_valid = false; /* the caller may change it */
    return s->hot;
}

void sched_sim_add_virtual(sched_sim *s, size_t slot)
{
    s->extra[slot]++;
    s->hot[slot].free_vcpus -= s->extra_prep ? (int32_t)s->extra_prep->vcpus : 0;
    s->hot[slot].free_memory_kib -= s->extra_prep ? (int64_t)s->extra_prep->memory_kib : 0;
    s->order_valid = false;
}

size_t sched_sim_loc(const sched_sim *s, const sched_domain *d)
{
    gpointer v = g_hash_table_lookup(s->moved, d);
    if (v)
        return GPOINTER_TO_SIZE(v) - 1;
    return d->host ? d->host->slot : SIZE_MAX;
}

void sched_sim_move(sched_sim *s, const sched_domain *d, size_t slot)
{
    size_t from = sched_sim_loc(s, d);
    if (from == slot)
        return;
    if (d->running) {
        if (from != SIZE_MAX) {
            s->hot[from].free_vcpus += (int32_t)d->vcpus;
            s->hot[from].free_memory_kib += (int64_t)d->memory_kib;
        }
        s->hot[slot].free_vcpus -= (int32_t)d->vcpus;
        s->hot[slot].free_memory_kib -= (int64_t)d->memory_kib;
    }
    if (from != SIZE_MAX && s->moved_in[from])
        g_ptr_array_remove_fast(s->moved_in[from], (gpointer)d);
    if (d->host && d->host->slot == slot) {
        g_hash_table_remove(s->moved, d);
    } else {
        if (!s->moved_in[slot])
            s->moved_in[slot] = g_ptr_array_new();
        g_ptr_array_add(s->moved_in[slot], (gpointer)d);
        g_hash_table_insert(s->moved, (gpointer)d, GSIZE_TO_POINTER(slot + 1));
    }
    s->order_valid = false;
}

void sched_sim_block(sched_sim *s, size_t slot)
{
    s->hot[slot].block = 1 + DRV_SCHED_FILTER_STATE;
    s->order_valid = false;
}

static const sched_prep *s_domain_prep(sched_sim *s, const sched_domain *d)
{
    sched_prep *p = g_hash_table_lookup(s->preps, d);
    if (p)
        return p;
    p = g_new0(sched_prep, 1);
    drv_sched_request req;
    sched_request_from_domain(d, &req);
    req.affinity_group = NULL;
    req.anti_affinity_group = NULL;
    sched_prep_init(p, s->c, &req, NULL, NULL, NULL);
    p->anti_name = d->anti_affinity_group;
    g_hash_table_insert(s->preps, (gpointer)d, p);
    return p;
}

static int s_slot_cmp(const void *a, const void *b, void *ctx)
{
    const sched_hot *hot = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (hot[x].free_memory_kib != hot[y].free_memory_kib)
        return hot[x].free_memory_kib > hot[y].free_memory_kib ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void s_order(sched_sim *s)
{
    if (s->order_valid)
        return;
    s->n_order = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->hot[i].block)
            s->order[s->n_order++] = i;
    g_qsort_with_data(s->order, (gint)s->n_order, sizeof(size_t), s_slot_cmp, s->hot);
    s->suffix_vcpus[s->n_order] = INT64_MIN;
    for (size_t k = s->n_order; k-- > 0;) {
        size_t slot = s->order[k];
        s->order_mem[k] = s->hot[slot].free_memory_kib;
        int64_t v = s->hot[slot].free_vcpus;
        s->suffix_vcpus[k] = v > s->suffix_vcpus[k + 1] ? v : s->suffix_vcpus[k + 1];
    }
    s->order_valid = true;
}

static int s_item_cmp(const void *a, const void *b)
{
    const s_item *x = a, *y = b;
    if (x->memory_kib != y->memory_kib)
        return x->memory_kib > y->memory_kib ? -1 : 1;
    if (x->vcpus != y->vcpus)
        return x->vcpus > y->vcpus ? -1 : 1;
    if (x->d && y->d)
        return strcmp(x->d->name, y->d->name);
    return (x->d == NULL) - (y->d == NULL);
}

static void s_collect_slot(sched_sim *s, size_t slot)
{
    const sched_host *h = g_ptr_array_index(s->c->hosts, slot);
    for (guint i = 0; i < h->domains->len; i++) {
        const sched_domain *d = g_ptr_array_index(h->domains, i);
        if (d->running && sched_sim_loc(s, d) == slot) {
            s_item it = {.d = d, .vcpus = d->vcpus, .memory_kib = d->memory_kib};
            g_array_append_val(s->items, it);
        }
    }
    for (guint i = 0; s->moved_in[slot] && i < s->moved_in[slot]->len; i++) {
        const sched_domain *d = g_ptr_array_index(s->moved_in[slot], i);
        if (d->running) {
            s_item it = {.d = d, .vcpus = d->vcpus, .memory_kib = d->memory_kib};
            g_array_append_val(s->items, it);
        }
    }
    for (uint32_t k = 0; s->extra_prep && k < s->extra[slot]; k++) {
        s_item it = {
            .d = NULL, .vcpus = s->extra_prep->vcpus, .memory_kib = s->extra_prep->memory_kib};
        g_array_append_val(s->items, it);
    }
}

/* Whether slot (not failed) already holds a member of anti-affinity group `anti` (other than d). */
static bool s_anti_conflict(sched_sim *s, const char *anti, const sched_domain *self, size_t slot)
{
    sched_group *g = g_hash_table_lookup(s->c->anti_groups, anti);
    for (guint i = 0; g && i < g->members->len; i++) {
        const sched_domain *m = g_ptr_array_index(g->members, i);
        if (m != self && sched_sim_loc(s, m) == slot)
            return true;
    }
    if (s->extra_prep && s->extra[slot] && g_strcmp0(s->extra_prep->anti_name, anti) == 0)
        return true;
    for (guint i = 0; i < s->temps->len; i++) {
        const s_temp *t = &g_array_index(s->temps, s_temp, i);
        if (t->slot == slot && strcmp(t->anti, anti) == 0)
            return true;
    }
    return false;
}

bool sched_sim_restart_ok(sched_sim *s, const size_t *failed, size_t n_failed)
{
    s_order(s);
    g_array_set_size(s->items, 0);
    g_array_set_size(s->undo, 0);
    g_array_set_size(s->undo_slots, 0);
    g_array_set_size(s->temps, 0);
    for (size_t i = 0; i < n_failed; i++) {
        sched_bit_set(s->failed_bm, failed[i]);
        s_collect_slot(s, failed[i]);
    }
    if (s->items->len)
        qsort(s->items->data, s->items->len, sizeof(s_item), s_item_cmp);
    bool ok = true;
    for (guint i = 0; ok && i < s->items->len; i++) {
        const s_item *it = &g_array_index(s->items, s_item, i);
        const sched_prep *p = it->d ? s_domain_prep(s, it->d) : &s->extra_check;
        const char *anti = it->d ? it->d->anti_affinity_group : s->extra_check.anti_name;
        bool placed = false;
        for (size_t k = 0; k < s->n_order; k++) {
            if (s->order_mem[k] < (int64_t)it->memory_kib ||
                s->suffix_vcpus[k] < (int64_t)it->vcpus)
                break;
            size_t slot = s->order[k];
            if (sched_bit(s->failed_bm, slot))
                continue;
            if (sched_prep_check(p, s->c, &s->hot[slot], slot) != DRV_SCHED_FILTER_LAST)
                continue;
            if (anti && s_anti_conflict(s, anti, it->d, slot))
                continue;
            s->hot[slot].free_vcpus -= (int32_t)it->vcpus;
            s->hot[slot].free_memory_kib -= (int64_t)it->memory_kib;
            g_array_append_val(s->undo, *it);
            g_array_append_val(s->undo_slots, slot);
            if (anti) {
                s_temp t = {.anti = anti, .slot = slot};
                g_array_append_val(s->temps, t);
            }
            placed = true;
            break;
        }
        ok = placed;
    }
    for (guint i = 0; i < s->undo->len; i++) {
        const s_item *it = &g_array_index(s->undo, s_item, i);
        size_t slot = g_array_index(s->undo_slots, size_t, i);
        s->hot[slot].free_vcpus += (int32_t)it->vcpus;
        s->hot[slot].free_memory_kib += (int64_t)it->memory_kib;
    }
    for (size_t i = 0; i < n_failed; i++)
        s->failed_bm[failed[i] >> 6] = 0;
    return ok;
}

static bool s_slot_has_running(sched_sim *s, size_t slot)
{
    if (s->extra[slot])
        return true;
    const sched_host *h = g_ptr_array_index(s->c->hosts, slot);
    for (guint i = 0; i < h->domains->len; i++) {
        const sched_domain *d = g_ptr_array_index(h->domains, i);
        if (d->running && sched_sim_loc(s, d) == slot)
            return true;
    }
    for (guint i = 0; s->moved_in[slot] && i < s->moved_in[slot]->len; i++)
        if (((const sched_domain *)g_ptr_array_index(s->moved_in[slot], i))->running)
            return true;
    return false;
}

bool sched_sim_survives_one(sched_sim *s, size_t skip_slot, size_t *ret_slot)
{
    for (size_t slot = 0; slot < s->n; slot++) {
        if (slot == skip_slot || !s_slot_has_running(s, slot))
            continue;
        if (!sched_sim_restart_ok(s, &slot, 1)) {
            if (ret_slot)
                *ret_slot = slot;
            return false;
        }
    }
    return true;
}
