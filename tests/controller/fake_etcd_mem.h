/* fake_etcd_mem.h — an etcd in memory for unit tests: it answers the etcd client's v3 JSON gateway
 * requests (range, put, deleterange, txn with compares on value / mod / create / version), with
 * one store revision bumped per write as etcd does, through drv_etcd_set_transport. The
 * controller's store code (store.c) runs unchanged against it. Faults: the next N requests fail
 * as an etcd that took the request and never answered (DRV_ERR_UNAVAILABLE, outcome unknown), or
 * the next txn loses its compare because another writer touched its keys first. Keys are
 * NUL-free strings (every key the controller writes is). Single-threaded. */
#ifndef DROVER_TEST_FAKE_ETCD_MEM_H
#define DROVER_TEST_FAKE_ETCD_MEM_H

#include "etcd.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct fake_etcd fake_etcd;

fake_etcd *fake_etcd_new(void);
void fake_etcd_destroy(fake_etcd **self_p);
/* A ctl_store (prefix `prefix`) whose client talks to f (owned by the caller). */
ctl_store *fake_etcd_store(fake_etcd *f, const char *prefix);

/* Direct access, as another controller writing to etcd would: put returns the new revision. */
int64_t fake_etcd_put(fake_etcd *f, const char *key, const char *value);
/* The value (borrowed) and its mod revision, or NULL. */
const char *fake_etcd_get(fake_etcd *f, const char *key, int64_t *ret_mod);
/* Keys under a prefix. */
unsigned fake_etcd_count_prefix(fake_etcd *f, const char *prefix);
int64_t fake_etcd_revision(const fake_etcd *f);

/* Faults. */
void fake_etcd_fail_next(fake_etcd *f, unsigned n); /* next n requests: sent, no answer */
void fake_etcd_conflict_next_txn(fake_etcd *f);     /* next txn: its keys written just before */
unsigned fake_etcd_txns(const fake_etcd *f);        /* txns seen (won or lost) */
unsigned fake_etcd_txns_lost(const fake_etcd *f);   /* txns whose compare failed */

#endif
