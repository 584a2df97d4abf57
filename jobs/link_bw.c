/* link_bw.c — see link_bw.h. */
#include "link_bw.h"

#include "migrate_predict.h"

#include <string.h>

static uint64_t s_ewma(uint64_t old, uint64_t sample)
{
    /* integer EWMA, rounded: old + alpha (sample - old) */
    double v = (double)old + (double)DRV_LINK_ALPHA_PCT / 100.0 * ((double)sample - (double)old);
    return v <= 0 ? 0 : (uint64_t)(v + 0.5);
}

drv_link_use drv_link_update(drv_link_est *est, const drv_link_sample *s, uint64_t now_ms)
{
    drv_link_use use = DRV_LINK_TOO_SMALL;
    uint64_t bps = 0;
    if (s->bytes >= DRV_LINK_MIN_BYTES && s->transfer_ms >= DRV_LINK_MIN_TRANSFER_MS)
        bps = (uint64_t)((double)s->bytes * 1000.0 / (double)s->transfer_ms);
    if (bps > 0) {
        est->last_sample_bps = bps;
        if (s->cap_bps > 0 && bps * 100 >= s->cap_bps * DRV_LINK_CAPPED_PCT) {
            use = DRV_LINK_LOWER_BOUND;
            if (bps > est->bandwidth_bps) {
                est->bandwidth_bps = est->samples == 0 ? bps : s_ewma(est->bandwidth_bps, bps);
                est->samples++;
            }
        } else {
            use = DRV_LINK_TAKEN;
            est->bandwidth_bps = est->samples == 0 ? bps : s_ewma(est->bandwidth_bps, bps);
            est->samples++;
        }
    }
    /* the fixed cost needs the bandwidth the migration ran at: its own rate, or the estimate */
    uint64_t at = bps > 0 ? bps : est->bandwidth_bps;
    if (s->time_ms > 0 && at > 0) {
        uint64_t fixed = drv_predict_fixed_ms(s->time_ms, s->bytes, s->downtime_ms, at);
        est->fixed_ms = est->fixed_samples == 0 ? fixed : s_ewma(est->fixed_ms, fixed);
        est->fixed_samples++;
    }
    est->updated_ms = now_ms;
    return use;
}

json_object *drv_link_to_json(const drv_link_est *e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "bandwidth_bps", json_object_new_int64((int64_t)e->bandwidth_bps));
    json_object_object_add(o, "fixed_ms", json_object_new_int64((int64_t)e->fixed_ms));
    json_object_object_add(o, "samples", json_object_new_int64(e->samples));
    json_object_object_add(o, "fixed_samples", json_object_new_int64(e->fixed_samples));
    json_object_object_add(o, "last_sample_bps",
                           json_object_new_int64((int64_t)e->last_sample_bps));
    json_object_object_add(o, "updated_ms", json_object_new_int64((int64_t)e->updated_ms));
    return o;
}

static int s_u64(json_object *doc, const char *name, uint64_t max, uint64_t *ret)
{
    json_object *v = NULL;
    *ret = 0;
    if (!json_object_object_get_ex(doc, name, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    int64_t n = json_object_get_int64(v);
    if (n < 0 || (uint64_t)n > max)
        return -1;
    *ret = (uint64_t)n;
    return 0;
}

int drv_link_from_json(json_object *doc, drv_link_est *ret)
{
    drv_link_est e = {0};
    uint64_t samples = 0, fixed_samples = 0;
    if (doc == NULL || !json_object_is_type(doc, json_type_object) ||
        s_u64(doc, "bandwidth_bps", INT64_MAX, &e.bandwidth_bps) < 0 ||
        s_u64(doc, "fixed_ms", INT64_MAX, &e.fixed_ms) < 0 ||
        s_u64(doc, "samples", UINT32_MAX, &samples) < 0 ||
        s_u64(doc, "fixed_samples", UINT32_MAX, &fixed_samples) < 0 ||
        s_u64(doc, "last_sample_bps", INT64_MAX, &e.last_sample_bps) < 0 ||
        s_u64(doc, "updated_ms", INT64_MAX, &e.updated_ms) < 0)
        return -1;
    e.samples = (uint32_t)samples;
    e.fixed_samples = (uint32_t)fixed_samples;
    *ret = e;
    return 0;
}

/* ------------------------------------------------------------------ the table */

struct drv_link_table {
    GHashTable *pairs; /* "src/dst" → drv_link_est* */
    size_t max;
};

drv_link_table *drv_link_table_new(size_t max_pairs)
{
    drv_link_table *t = g_new0(drv_link_table, 1);
    t->pairs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    t->max = max_pairs > 0 ? max_pairs : 1;
    return t;
}

void drv_link_table_destroy(drv_link_table **self_p)
{
    if (*self_p == NULL)
        return;
    g_hash_table_unref((*self_p)->pairs);
    g_free(*self_p);
    *self_p = NULL;
}

char *drv_link_key(const char *source, const char *destination)
{
    return g_strdup_printf("%s/%s", source, destination);
}

bool drv_link_key_split(const char *key, char **ret_source, char **ret_destination)
{
    const char *slash = key ? strchr(key, '/') : NULL;
    if (slash == NULL || slash == key || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return false;
    *ret_source = g_strndup(key, (gsize)(slash - key));
    *ret_destination = g_strdup(slash + 1);
    return true;
}

const drv_link_est *drv_link_table_get(const drv_link_table *self, const char *source,
                                       const char *destination)
{
    g_autofree char *key = drv_link_key(source, destination);
    return g_hash_table_lookup(self->pairs, key);
}

/* Evicts the least recently updated pair other than keep while over the bound. */
static char *s_evict(drv_link_table *self, const char *keep)
{
    if (g_hash_table_size(self->pairs) <= self->max)
        return NULL;
    GHashTableIter it;
    gpointer k, v;
    const char *oldest = NULL;
    uint64_t oldest_ms = UINT64_MAX;
    g_hash_table_iter_init(&it, self->pairs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const drv_link_est *e = v;
        if (strcmp(k, keep) == 0)
            continue;
        /* ties: the smaller key, so the choice does not depend on the hash order */
        if (oldest == NULL || e->updated_ms < oldest_ms ||
            (e->updated_ms == oldest_ms && strcmp(k, oldest) < 0)) {
            oldest = k;
            oldest_ms = e->updated_ms;
        }
    }
    if (oldest == NULL)
        return NULL;
    char *ret = g_strdup(oldest);
    g_hash_table_remove(self->pairs, ret);
    return ret;
}

char *drv_link_table_set(drv_link_table *self, const char *source, const char *destination,
                         const drv_link_est *est)
{
    char *key = drv_link_key(source, destination);
    drv_link_est *copy = g_new(drv_link_est, 1);
    *copy = *est;
    g_hash_table_replace(self->pairs, key, copy);
    return s_evict(self, key);
}

char *drv_link_table_update(drv_link_table *self, const char *source, const char *destination,
                            const drv_link_sample *sample, uint64_t now_ms, drv_link_use *ret_use,
                            drv_link_est *ret)
{
    char *key = drv_link_key(source, destination);
    drv_link_est *e = g_hash_table_lookup(self->pairs, key);
    if (e == NULL) {
        e = g_new0(drv_link_est, 1);
        g_hash_table_replace(self->pairs, key, e);
    } else {
        g_free(key);
        key = NULL;
    }
    drv_link_use use = drv_link_update(e, sample, now_ms);
    if (ret_use)
        *ret_use = use;
    if (ret)
        *ret = *e;
    g_autofree char *k = drv_link_key(source, destination);
    return s_evict(self, k);
}

size_t drv_link_table_size(const drv_link_table *self)
{
    return g_hash_table_size(self->pairs);
}
