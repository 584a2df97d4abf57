/* etcd.h — a client for etcd v3's JSON gateway (/v3/...) over libcurl.
 *
 * One drv_etcd owns one reusable curl handle for unary calls (not thread-safe: one per thread).
 * Several endpoints may be given; on a connection error a call moves to the next endpoint and
 * retries once per endpoint. Every call is bounded by the client's timeout_ms and fails with a
 * clear error (DRV_ERR_UNAVAILABLE naming the endpoints when none answers, DRV_ERR_ETCD with etcd's
 * message and HTTP status when etcd refuses, e.g. a value over its request size limit).
 *
 * Keys and values are byte strings (they may contain NUL); *_len gives their length. Returned kv
 * buffers are owned by the result and always NUL-terminated after their length for convenience. */
#ifndef DROVER_ETCD_H
#define DROVER_ETCD_H

#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct drv_etcd drv_etcd;

typedef struct {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
} drv_etcd_kv;

typedef struct {
    drv_etcd_kv *kvs;
    size_t n_kvs;
    int64_t count;    /* total matching keys (may exceed n_kvs when limited) */
    bool more;        /* more keys beyond the limit */
    int64_t revision; /* store revision of the answer (header.revision) */
} drv_etcd_range;

void drv_etcd_range_clear(drv_etcd_range *r);

/* TLS to etcd (https:// endpoints; docs/security.md). NULL members keep libcurl's defaults (the
 * system CA store, no client certificate). A client certificate needs its key and the reverse. */
typedef struct {
    const char *ca_file;   /* PEM: the CA that signed etcd's server certificate */
    const char *cert_file; /* PEM: our client certificate (etcd --client-cert-auth) */
    const char *key_file;  /* PEM: its private key */
} drv_etcd_tls;

/* Creates a client for a list of endpoints ("http://127.0.0.1:2379"). timeout_ms bounds every unary
 * call. Returns NULL with an error if the list is empty or curl cannot be initialised; it does not
 * contact etcd. */
drv_etcd *drv_etcd_new(const char *const *endpoints, size_t n_endpoints, long timeout_ms,
                       const drv_etcd_tls *tls, drv_error **err);
void drv_etcd_destroy(drv_etcd **self_p);
/* The endpoint currently in use. */
const char *drv_etcd_endpoint(const drv_etcd *self);
/* For unit tests (an etcd in memory, tests/controller/fake_etcd_mem.c): every unary request
 * (path "/v3/kv/range", req = the v3 JSON gateway body, not consumed) goes to fn instead of over
 * HTTP; fn returns 0 with *ret_reply (owned by the caller) or -1 with *err, as the HTTP call
 * would. The watch is not covered. NULL fn: HTTP again. */
struct json_object;
typedef int (*drv_etcd_transport_fn)(void *ctx, const char *path, struct json_object *req,
                                     struct json_object **ret_reply, drv_error **err);
void drv_etcd_set_transport(drv_etcd *self, drv_etcd_transport_fn fn, void *ctx);

/* --- bounds on what etcd sends (docs/security.md) ---
 * A unary reply body longer than max_reply_bytes aborts its transfer from the write callback: the
 * call fails with DRV_ERR_PROTO naming the limit, nothing is parsed. A watch stream line (one
 * WatchResponse) longer than max_watch_line_bytes without its newline drops that stream with a
 * warning naming the limit, and the watch reconnects (from the next revision it has not queued). */
#define DRV_ETCD_DEFAULT_MAX_REPLY_BYTES      ((size_t)64 * 1024 * 1024)
#define DRV_ETCD_DEFAULT_MAX_WATCH_LINE_BYTES ((size_t)64 * 1024 * 1024)
/* Sets the limits that clients and watches created afterwards start with (0 keeps one). */
void drv_etcd_set_default_limits(size_t max_reply_bytes, size_t max_watch_line_bytes);
size_t drv_etcd_default_max_reply_bytes(void);
size_t drv_etcd_default_max_watch_line_bytes(void);
/* Sets this client's reply limit (0 keeps it). */
void drv_etcd_set_max_reply_bytes(drv_etcd *self, size_t max_reply_bytes);

/* --- key/value --- */
int drv_etcd_put(drv_etcd *self, const void *key, size_t key_len, const void *value,
                 size_t value_len, int64_t lease, int64_t *ret_revision, drv_error **err);
/* Gets one key. Missing key → returns 0 with ret->n_kvs == 0. */
int drv_etcd_get(drv_etcd *self, const void *key, size_t key_len, drv_etcd_range *ret,
                 drv_error **err);

typedef struct {
    bool prefix;   /* range over every key starting with key */
    int64_t limit; /* 0 = no limit */
    bool keys_only;
    bool count_only;
    int64_t revision;      /* 0 = latest */
    const void *range_end; /* explicit end (exclusive) when !prefix; NULL = single key */
    size_t range_end_len;
} drv_etcd_range_opts;

int drv_etcd_range_get(drv_etcd *self, const void *key, size_t key_len,
                       const drv_etcd_range_opts *opts, drv_etcd_range *ret, drv_error **err);
/* Deletes one key, or every key under a prefix. ret_prev (optional) receives the deleted kvs;
 * ret_deleted (optional) their count. */
int drv_etcd_delete(drv_etcd *self, const void *key, size_t key_len, bool prefix,
                    drv_etcd_range *ret_prev, int64_t *ret_deleted, drv_error **err);

/* --- maintenance (etcd_maint.c) --- */
typedef struct {
    int64_t db_size;        /* bytes of the backend file */
    int64_t db_size_in_use; /* bytes in use (the rest is freed by a defragmentation) */
    int64_t revision;       /* the store's current revision */
} drv_etcd_status;

/* The member's status (/v3/maintenance/status). */
int drv_etcd_status_get(drv_etcd *self, drv_etcd_status *ret, drv_error **err);
/* Compacts the key history up to revision (/v3/kv/compaction): older revisions of every key are
 * gone afterwards. A revision already compacted is success. */
int drv_etcd_compact(drv_etcd *self, int64_t revision, drv_error **err);

/* --- transactions --- */
typedef enum {
    DRV_ETCD_CMP_VALUE,
    DRV_ETCD_CMP_MOD,
    DRV_ETCD_CMP_CREATE,
    DRV_ETCD_CMP_VERSION
} drv_etcd_cmp_target;
typedef enum {
    DRV_ETCD_EQUAL,
    DRV_ETCD_NOT_EQUAL,
    DRV_ETCD_LESS,
    DRV_ETCD_GREATER
} drv_etcd_cmp_result;

typedef struct {
    drv_etcd_cmp_target target;
    drv_etcd_cmp_result result;
    const void *key;
    size_t key_len;
    int64_t number;    /* mod_revision / create_revision / version */
    const void *value; /* for DRV_ETCD_CMP_VALUE */
    size_t value_len;
} drv_etcd_cmp;

typedef enum { DRV_ETCD_OP_PUT, DRV_ETCD_OP_GET, DRV_ETCD_OP_DELETE } drv_etcd_op_kind;

typedef struct {
    drv_etcd_op_kind kind;
    const void *key;
    size_t key_len;
    const void *value; /* PUT */
    size_t value_len;
    int64_t lease; /* PUT */
    bool prefix;   /* GET / DELETE over a prefix */
} drv_etcd_op;

typedef struct {
    bool succeeded;
    int64_t revision;
    /* one entry per executed op, in order: GET → its kvs; PUT/DELETE → empty */
    drv_etcd_range *responses;
    size_t n_responses;
} drv_etcd_txn_result;

void drv_etcd_txn_result_clear(drv_etcd_txn_result *r);

/* Runs compare → success ops or failure ops. A lost compare is NOT an error: returns 0 with
 * ret->succeeded == false. ret may be NULL if the caller only needs success/failure via ret_ok. */
int drv_etcd_txn(drv_etcd *self, const drv_etcd_cmp *cmps, size_t n_cmps,
                 const drv_etcd_op *success, size_t n_success, const drv_etcd_op *failure,
                 size_t n_failure, drv_etcd_txn_result *ret, drv_error **err);

/* --- leases --- */
int drv_etcd_lease_grant(drv_etcd *self, int64_t ttl_s, int64_t *ret_lease_id, drv_error **err);
/* Refreshes a lease. An expired/unknown lease → DRV_ERR_NOT_FOUND. ret_ttl optional. */
int drv_etcd_lease_keepalive(drv_etcd *self, int64_t lease_id, int64_t *ret_ttl, drv_error **err);
int drv_etcd_lease_revoke(drv_etcd *self, int64_t lease_id, drv_error **err);
/* ret_ttl = remaining seconds, -1 when expired/unknown. */
int drv_etcd_lease_ttl(drv_etcd *self, int64_t lease_id, int64_t *ret_ttl, drv_error **err);

/* --- watch --- */
typedef enum { DRV_ETCD_EVENT_PUT, DRV_ETCD_EVENT_DELETE } drv_etcd_event_type;

typedef struct {
    drv_etcd_event_type type;
    drv_etcd_kv kv;      /* for DELETE: key and mod_revision only */
    drv_etcd_kv prev_kv; /* present (key != NULL) when etcd sent it */
} drv_etcd_event;

typedef struct drv_etcd_watch drv_etcd_watch;

/* Starts a streaming watch on key (or prefix) from start_revision (0 = from now). The watch runs on
 * its own connection and thread. It survives etcd restarts and endpoint failover by re-creating the
 * watch from the last delivered revision + 1, so no event is lost or repeated. */
drv_etcd_watch *drv_etcd_watch_new(const char *const *endpoints, size_t n_endpoints,
                                   const void *key, size_t key_len, bool prefix,
                                   int64_t start_revision, bool prev_kv, const drv_etcd_tls *tls,
                                   drv_error **err);
/* Waits up to timeout_ms for the next event. Returns 1 with *ret filled (clear with
 * drv_etcd_event_clear), 0 on timeout, -1 on a fatal error (e.g. the revision was compacted). */
int drv_etcd_watch_next(drv_etcd_watch *w, int timeout_ms, drv_etcd_event *ret, drv_error **err);
/* A file descriptor that becomes readable when an event is queued (for poll/zmq_poll loops). */
int drv_etcd_watch_fd(const drv_etcd_watch *w);
/* Revision of the last event handed out by drv_etcd_watch_next. */
int64_t drv_etcd_watch_last_revision(const drv_etcd_watch *w);
void drv_etcd_watch_destroy(drv_etcd_watch **w_p);
void drv_etcd_event_clear(drv_etcd_event *e);

/* Convenience: NUL-terminated string keys/values. */
int drv_etcd_put_str(drv_etcd *self, const char *key, const char *value, int64_t lease,
                     int64_t *ret_revision, drv_error **err);
/* Returns 1 and an owned value (g_free) with its mod_revision if present, 0 if missing, -1 on
 * error. */
int drv_etcd_get_str(drv_etcd *self, const char *key, char **ret_value, int64_t *ret_mod_revision,
                     drv_error **err);

/* --- helpers (added) --- */
/* Computes the exclusive range_end that covers every key starting with prefix: the prefix with its
 * trailing 0xff bytes dropped and its last remaining byte incremented. An empty or all-0xff prefix
 * yields the single byte "\0", which etcd reads as "to the end of the keyspace". Returns an owned
 * buffer (g_free), NUL-terminated after *ret_len bytes. Never fails. */
char *drv_etcd_prefix_end(const void *prefix, size_t prefix_len, size_t *ret_len);

#endif
