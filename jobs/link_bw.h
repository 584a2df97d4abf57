/* link_bw.h — the bandwidth and the per-migration fixed cost of each ordered host pair, learnt from
 * completed migrations (issue 15): the predictor's (migrate_predict.h) link inputs. Pure: samples
 * in, a smoothed estimate out, its JSON for etcd (`links/<source>/<destination>`, one key per
 * ordered pair, docs/migration.md "Link bandwidth"), and a bounded table of the pairs. No etcd, no
 * clock (times are given), no I/O.
 *
 * A sample is one completed migration: bytes sent over its transfer time (first memory sent → the
 * migration call returned) and its fixed cost (drv_predict_fixed_ms). The estimate is an
 * exponentially weighted moving average (weight DRV_LINK_ALPHA_PCT for the new sample; the first
 * sample is taken as it is). A migration too small to fill the link (under DRV_LINK_MIN_BYTES, or a
 * transfer shorter than DRV_LINK_MIN_TRANSFER_MS) says more about latency than bandwidth and is not
 * a bandwidth sample (its fixed cost still is). A migration held to a policy's bandwidth cap that
 * ran at the cap (at least DRV_LINK_CAPPED_PCT of it) only shows that the link is at least that
 * fast: it can raise the estimate, never lower it. */
#ifndef DROVER_JOBS_LINK_BW_H
#define DROVER_JOBS_LINK_BW_H

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define DRV_LINK_ALPHA_PCT       30
#define DRV_LINK_MIN_BYTES       (16ULL * 1024ULL * 1024ULL)
#define DRV_LINK_MIN_TRANSFER_MS 200
#define DRV_LINK_CAPPED_PCT      90
/* Pairs the controller keeps (and etcd holds) at most; the least recently updated goes first. */
#define DRV_LINK_TABLE_MAX 4096

typedef struct {
    uint64_t bandwidth_bps; /* smoothed, bytes/s; 0 = no bandwidth sample yet */
    uint64_t fixed_ms;      /* smoothed per-migration fixed cost; 0 = none yet */
    uint32_t samples;       /* bandwidth samples taken */
    uint32_t fixed_samples; /* fixed-cost samples taken */
    uint64_t last_sample_bps;
    uint64_t updated_ms; /* wall clock of the last update */
} drv_link_est;

/* One completed migration as the source agent reported it. */
typedef struct {
    uint64_t bytes;       /* memory sent (data processed) */
    uint64_t transfer_ms; /* first memory sent → the call returned */
    uint64_t time_ms;     /* the whole migration (its elapsed time) */
    uint64_t downtime_ms; /* its pause */
    uint64_t cap_bps;     /* the policy's bandwidth cap, bytes/s; 0 = none */
} drv_link_sample;

typedef enum {
    DRV_LINK_TAKEN = 0,   /* a bandwidth sample, smoothed in */
    DRV_LINK_LOWER_BOUND, /* ran at the policy's cap: raised the estimate or left it */
    DRV_LINK_TOO_SMALL,   /* too few bytes or too short: fixed cost only */
} drv_link_use;

/* Smooths sample into *est at now_ms; returns how the bandwidth part was used. */
drv_link_use drv_link_update(drv_link_est *est, const drv_link_sample *sample, uint64_t now_ms);

/* {"bandwidth_bps","fixed_ms","samples","fixed_samples","last_sample_bps","updated_ms"} */
json_object *drv_link_to_json(const drv_link_est *est);
/* The inverse; -1 when doc is not an object of non-negative integers (missing members are 0). */
int drv_link_from_json(json_object *doc, drv_link_est *ret);

/* The table of pairs, keyed "source/destination" (the etcd key's tail). */
typedef struct drv_link_table drv_link_table;
drv_link_table *drv_link_table_new(size_t max_pairs);
void drv_link_table_destroy(drv_link_table **self_p);
/* The pair's estimate or NULL. */
const drv_link_est *drv_link_table_get(const drv_link_table *self, const char *source,
                                       const char *destination);
/* Sets the pair's estimate (loaded from etcd). Returns the key (owned, g_free) of the pair it
 * evicted to stay within the bound, or NULL. */
char *drv_link_table_set(drv_link_table *self, const char *source, const char *destination,
                         const drv_link_est *est);
/* drv_link_update on the pair (created when new); *ret (optional) receives the new estimate;
 * returns the evicted pair's key like drv_link_table_set. */
char *drv_link_table_update(drv_link_table *self, const char *source, const char *destination,
                            const drv_link_sample *sample, uint64_t now_ms, drv_link_use *ret_use,
                            drv_link_est *ret);
size_t drv_link_table_size(const drv_link_table *self);
/* "source/destination"; owned. */
char *drv_link_key(const char *source, const char *destination);
/* Splits a key tail back; false when it is not "a/b" with non-empty parts. */
bool drv_link_key_split(const char *key, char **ret_source, char **ret_destination);

#endif
