/* place_batch.h — several placements stored in one etcd txn (docs/scale.md, "Placement
 * batching"). Each placement compares its own domains/<name> mod_revision (the one it was chosen
 * from) and the alloc/<host> mod_revision of every host the batch books, exactly as one placement
 * alone does (store.c ctl_store_place); one lost compare writes nothing and fails the whole batch,
 * and the caller retries each member alone on fresh state. */
#ifndef DROVER_CTL_PLACE_BATCH_H
#define DROVER_CTL_PLACE_BATCH_H

#include "ctl.h"
#include "store_async.h"

/* At most this many placements per txn (2 compares and 2 puts at most each: within etcd's
 * default --max-txn-ops of 128). */
#define CTL_PLACE_BATCH_MAX 32

typedef struct {
    ctl_domain *copy;   /* the placed copy (owned: the model takes it once stored) */
    int64_t expect_mod; /* mod_revision of domains/<name> it was chosen from */
    void *data;         /* the caller's, handed to fn */
} ctl_place_item;

/* Submits the n items (taken over, n ≤ CTL_PLACE_BATCH_MAX, names distinct) in one txn. On the
 * loop, fn is called once per item in order: stored (the model's entry) with err NULL, or err
 * (DRV_ERR_CONFLICT for every item when a compare was lost: the model was refreshed from what
 * etcd holds for each domain and host), then done(c) once. Returns -1 (nothing submitted, the
 * items freed, fn not called) when the worker refuses. */
int ctl_place_batch_submit(ctl *c, ctl_place_item *items, size_t n, ctl_async_domain_fn fn,
                           void (*done)(ctl *c), drv_error **err);

#endif
