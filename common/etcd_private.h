/* etcd_private.h — shared internals of the etcd client (etcd.c, etcd_json.c, etcd_kv.c,
 * etcd_lease.c, etcd_watch.c). Not part of the public API: include only from common/etcd_*.c. */
#ifndef DROVER_ETCD_PRIVATE_H
#define DROVER_ETCD_PRIVATE_H

#include "etcd.h"

#include <curl/curl.h>
#include <json-c/json.h>

struct drv_etcd {
    CURL *curl;
    struct curl_slist *headers;
    char **endpoints; /* NULL-terminated, no trailing '/' */
    size_t n_endpoints;
    size_t current;
    long timeout_ms;
    GString *body;      /* response body of the call in flight */
    size_t max_reply;   /* a longer body aborts the call */
    bool reply_too_big; /* the call in flight was aborted by that limit */
    char errbuf[CURL_ERROR_SIZE];
    drv_etcd_transport_fn transport; /* set: requests go there instead of over HTTP (tests) */
    void *transport_ctx;
};

/* Checks tls (NULL: plain defaults) and sets it on a curl handle: 0, or -1 naming the missing
 * file or the certificate given without its key. */
int drv_etcd_tls_apply(CURL *c, const drv_etcd_tls *tls, drv_error **err);
/* Initialises libcurl's global state once per process (thread-safe). */
void drv_etcd_curl_init(void);
/* Copies a list of endpoints, dropping trailing '/'. Returns a NULL-terminated g_strfreev array or
 * NULL with an error when the list is empty or an entry is empty. */
char **drv_etcd_endpoints_copy(const char *const *endpoints, size_t n_endpoints, drv_error **err);

/* POSTs req (not consumed) to path ("/v3/kv/put") on the current endpoint, failing over to the next
 * endpoints on a transport error, all within the client's timeout_ms. On HTTP 200 stores the parsed
 * reply in *ret_reply (unwrapping a streaming {"result": ...}). Errors: DRV_ERR_UNAVAILABLE when no
 * endpoint answered, DRV_ERR_ETCD (code = HTTP status) with etcd's message, DRV_ERR_PROTO for a
 * reply that is not JSON. */
int drv_etcd_call(drv_etcd *self, const char *path, json_object *req, json_object **ret_reply,
                  drv_error **err);

/* --- the watch stream parser without a connection (tests and fuzzers) --- */
/* A watch with no thread and no endpoint; max_line_bytes 0 = the default limit. Events fed to it
 * are queued as a connected watch queues them (drv_etcd_watch_next with timeout 0 reads them). */
drv_etcd_watch *drv_etcd_watch_new_detached(const void *key, size_t key_len, bool prefix,
                                            size_t max_line_bytes);
/* Feeds stream bytes as the transfer would. 0: go on; -1: the stream would be dropped (a bad line,
 * a line over the limit, or a fatal answer), and every later feed returns -1. */
int drv_etcd_watch_feed(drv_etcd_watch *w, const char *data, size_t len);
/* Total bytes ever searched for a newline: stays linear in the bytes fed. */
uint64_t drv_etcd_watch_scan_bytes(const drv_etcd_watch *w);

/* --- JSON helpers (etcd_json.c) --- */
/* Sets field to the base64 of data[0..len). */
void drv_etcd_json_set_bytes(json_object *obj, const char *field, const void *data, size_t len);
/* Sets field to an int64 as a JSON string, as etcd's gateway expects. */
void drv_etcd_json_set_int64(json_object *obj, const char *field, int64_t v);
/* Reads an int64 that etcd sends as a string (or a number); missing → 0. */
int64_t drv_etcd_json_get_int64(json_object *obj, const char *field);
/* Reads a bool; missing → false. */
bool drv_etcd_json_get_bool(json_object *obj, const char *field);
/* Decodes a base64 field into an owned, NUL-terminated buffer (g_free); missing → empty buffer. */
int drv_etcd_json_get_bytes(json_object *obj, const char *field, char **ret, size_t *ret_len,
                            drv_error **err);
/* Fills kv from an etcd mvccpb.KeyValue object. On failure kv is left cleared. */
int drv_etcd_json_parse_kv(json_object *obj, drv_etcd_kv *kv, drv_error **err);
/* Fills ret from a RangeResponse (kvs, count, more, header.revision). */
int drv_etcd_json_parse_range(json_object *obj, drv_etcd_range *ret, drv_error **err);
/* Sets key and range_end of a request for a single key, a prefix, or an explicit end. */
void drv_etcd_json_set_range(json_object *obj, const void *key, size_t key_len, bool prefix,
                             const void *range_end, size_t range_end_len);
/* Turns a non-200 reply body into DRV_ERR_ETCD with etcd's message; what names the request. */
int drv_etcd_json_http_error(long http_status, const char *body, const char *what,
                             const char *endpoint, drv_error **err);
void drv_etcd_kv_clear(drv_etcd_kv *kv);

#endif
