/* etcd.c — the etcd client object and its transport: one reused libcurl easy handle, POSTs of JSON
 * to the v3 gateway, endpoint failover within one deadline. Key/value calls are in etcd_kv.c,
 * leases in etcd_lease.c, the watch in etcd_watch.c. */
#include "etcd_private.h"

#include <stdatomic.h>
#include <string.h>

/* A connect to one endpoint may use at most this share of the deadline when several are given, so a
 * black-holed first endpoint still leaves time for the next. */
#define S_MIN_CONNECT_MS 100

static gsize s_curl_once;

/* Process-wide defaults for new clients and watches (drv_etcd_set_default_limits). */
static _Atomic size_t s_default_max_reply = DRV_ETCD_DEFAULT_MAX_REPLY_BYTES;
static _Atomic size_t s_default_max_line = DRV_ETCD_DEFAULT_MAX_WATCH_LINE_BYTES;

void drv_etcd_set_default_limits(size_t max_reply_bytes, size_t max_watch_line_bytes)
{
    if (max_reply_bytes > 0)
        atomic_store(&s_default_max_reply, max_reply_bytes);
    if (max_watch_line_bytes > 0)
        atomic_store(&s_default_max_line, max_watch_line_bytes);
}

size_t drv_etcd_default_max_reply_bytes(void)
{
    return atomic_load(&s_default_max_reply);
}

size_t drv_etcd_default_max_watch_line_bytes(void)
{
    return atomic_load(&s_default_max_line);
}

void drv_etcd_set_max_reply_bytes(drv_etcd *self, size_t max_reply_bytes)
{
    if (max_reply_bytes > 0)
        self->max_reply = max_reply_bytes;
}

void drv_etcd_curl_init(void)
{
    if (g_once_init_enter(&s_curl_once)) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        g_once_init_leave(&s_curl_once, 1);
    }
}

char **drv_etcd_endpoints_copy(const char *const *endpoints, size_t n_endpoints, drv_error **err)
{
    if (endpoints == NULL || n_endpoints == 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "etcd client: no endpoint given");
        return NULL;
    }
    char **out = g_new0(char *, n_endpoints + 1);
    for (size_t i = 0; i < n_endpoints; i++) {
        if (endpoints[i] == NULL || endpoints[i][0] == '\0') {
            g_strfreev(out);
            drv_error_set(err, DRV_ERR_INVALID, 0, "etcd client: endpoint %zu is empty", i);
            return NULL;
        }
        size_t len = strlen(endpoints[i]);
        while (len > 0 && endpoints[i][len - 1] == '/')
            len--;
        out[i] = g_strndup(endpoints[i], len);
    }
    return out;
}

/* Collects the reply body; a body over the limit aborts the transfer (CURLE_WRITE_ERROR) before
 * more than the limit is held. */
static size_t s_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    drv_etcd *self = userdata;
    size_t n = size * nmemb;
    if (n > self->max_reply || self->body->len > self->max_reply - n) {
        self->reply_too_big = true;
        return 0;
    }
    g_string_append_len(self->body, data, (gssize)n);
    return n;
}

drv_etcd *drv_etcd_new(const char *const *endpoints, size_t n_endpoints, long timeout_ms,
                       const drv_etcd_tls *tls, drv_error **err)
{
    if (timeout_ms <= 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "etcd client: timeout_ms must be > 0"), NULL;
    char **copy = drv_etcd_endpoints_copy(endpoints, n_endpoints, err);
    if (copy == NULL)
        return NULL;
    drv_etcd_curl_init();
    drv_etcd *self = g_new0(drv_etcd, 1);
    self->endpoints = copy;
    self->n_endpoints = n_endpoints;
    self->timeout_ms = timeout_ms;
    self->max_reply = drv_etcd_default_max_reply_bytes();
    self->body = g_string_sized_new(4096);
    self->curl = curl_easy_init();
    if (self->curl == NULL) {
        drv_etcd_destroy(&self);
        drv_error_set(err, DRV_ERR_INTERNAL, 0, "etcd client: curl_easy_init failed");
        return NULL;
    }
    self->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip for large bodies. */
    self->headers = curl_slist_append(self->headers, "Expect:");
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, self);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (drv_etcd_tls_apply(c, tls, err) < 0) {
        drv_etcd_destroy(&self);
        return NULL;
    }
    return self;
}

void drv_etcd_destroy(drv_etcd **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_etcd *self = *self_p;
    if (self->curl != NULL)
        curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->headers);
    g_strfreev(self->endpoints);
    if (self->body != NULL)
        g_string_free(self->body, TRUE);
    g_free(self);
    *self_p = NULL;
}

const char *drv_etcd_endpoint(const drv_etcd *self)
{
    return self->endpoints[self->current];
}

/* Parses a 200 reply; unwraps {"result": ...} (streaming endpoints) and reports a streamed error.
 */
static int s_parse_reply(drv_etcd *self, const char *path, json_object **ret_reply, drv_error **err)
{
    json_tokener *tok = json_tokener_new();
    json_object *reply = json_tokener_parse_ex(tok, self->body->str, (int)self->body->len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (reply == NULL || jerr != json_tokener_success ||
        !json_object_is_type(reply, json_type_object)) {
        json_object_put(reply);
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd %s at %s: reply is not a JSON object",
                             path, drv_etcd_endpoint(self));
    }
    json_object *inner;
    if (json_object_object_get_ex(reply, "error", &inner)) {
        json_object_put(reply);
        return drv_etcd_json_http_error(200, self->body->str, path, drv_etcd_endpoint(self), err);
    }
    if (json_object_object_get_ex(reply, "result", &inner) &&
        json_object_is_type(inner, json_type_object)) {
        json_object_get(inner);
        json_object_put(reply);
        reply = inner;
    }
    *ret_reply = reply;
    return 0;
}

/* Whether sending the request twice leaves etcd as sending it once would (puts write the same
 * value, reads and lease refreshes change nothing else). Txns and lease grants are not. */
static bool s_idempotent(const char *path)
{
    return strcmp(path, "/v3/kv/txn") != 0 && strcmp(path, "/v3/lease/grant") != 0;
}

void drv_etcd_set_transport(drv_etcd *self, drv_etcd_transport_fn fn, void *ctx)
{
    self->transport = fn;
    self->transport_ctx = ctx;
}

int drv_etcd_call(drv_etcd *self, const char *path, json_object *req, json_object **ret_reply,
                  drv_error **err)
{
    if (self->transport != NULL)
        return self->transport(self->transport_ctx, path, req, ret_reply, err);
    size_t req_len = 0;
    const char *req_text = json_object_to_json_string_length(
        req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &req_len);
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req_text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len);

    gint64 deadline_us = g_get_monotonic_time() + (gint64)self->timeout_ms * 1000;
    long connect_ms = self->timeout_ms / (long)self->n_endpoints;
    if (connect_ms < S_MIN_CONNECT_MS)
        connect_ms = S_MIN_CONNECT_MS;
    g_autoptr(GString) failures = g_string_new(NULL);

    for (size_t attempt = 0; attempt < self->n_endpoints; attempt++) {
        long remaining_ms = (long)((deadline_us - g_get_monotonic_time()) / 1000);
        if (remaining_ms <= 0)
            break;
        const char *endpoint = drv_etcd_endpoint(self);
        g_autofree char *url = g_strconcat(endpoint, path, NULL);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, remaining_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                         connect_ms < remaining_ms ? connect_ms : remaining_ms);
        g_string_truncate(self->body, 0);
        self->errbuf[0] = '\0';
        self->reply_too_big = false;
        CURLcode rc = curl_easy_perform(c);
        long status = 0, sent_bytes = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent_bytes);
        if (rc != CURLE_OK && self->reply_too_big) {
            /* Not retried elsewhere: a store that big is the same on every member. */
            g_string_truncate(self->body, 0);
            return drv_error_set(err, DRV_ERR_PROTO, 0,
                                 "etcd %s at %s: reply exceeds the limit of %zu bytes "
                                 "([security] etcd_max_reply_bytes); transfer aborted",
                                 path, endpoint, self->max_reply);
        }
        if (rc != CURLE_OK) {
            g_string_append_printf(failures, "%s%s: %s", failures->len ? "; " : "", endpoint,
                                   self->errbuf[0] ? self->errbuf : curl_easy_strerror(rc));
            if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_BAD_FUNCTION_ARGUMENT ||
                rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
                return drv_error_set(err, DRV_ERR_INVALID, 0, "etcd %s: %s", path, failures->str);
            self->current = (self->current + 1) % self->n_endpoints;
            /* Sending a txn or a grant twice could apply it twice (or make a create-if-absent
             * that won look lost): once the request left, its outcome is unknown. */
            if (sent_bytes > 0 && !s_idempotent(path))
                return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                                     "etcd %s: connection lost after the request was sent, its "
                                     "outcome is unknown (%s)",
                                     path, failures->str);
            /* A transport failure: try the next endpoint with the time that is left. */
            continue;
        }
        if (status == 503 && s_idempotent(path) && attempt + 1 < self->n_endpoints) {
            /* This member cannot serve (no leader, shutting down): another one may. */
            g_string_append_printf(failures, "%s%s: HTTP 503 %.200s", failures->len ? "; " : "",
                                   endpoint, self->body->str);
            self->current = (self->current + 1) % self->n_endpoints;
            continue;
        }
        if (status != 200)
            return drv_etcd_json_http_error(status, self->body->str, path, endpoint, err);
        return s_parse_reply(self, path, ret_reply, err);
    }
    return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                         "etcd unavailable: no endpoint answered %s within %ld ms (%s)", path,
                         self->timeout_ms, failures->len ? failures->str : "deadline passed");
}

int drv_etcd_put_str(drv_etcd *self, const char *key, const char *value, int64_t lease,
                     int64_t *ret_revision, drv_error **err)
{
    return drv_etcd_put(self, key, strlen(key), value, strlen(value), lease, ret_revision, err);
}

int drv_etcd_get_str(drv_etcd *self, const char *key, char **ret_value, int64_t *ret_mod_revision,
                     drv_error **err)
{
    drv_etcd_range r;
    if (drv_etcd_get(self, key, strlen(key), &r, err) < 0)
        return -1;
    if (r.n_kvs == 0) {
        drv_etcd_range_clear(&r);
        return 0;
    }
    if (ret_mod_revision != NULL)
        *ret_mod_revision = r.kvs[0].mod_revision;
    if (ret_value != NULL) {
        *ret_value = r.kvs[0].value;
        r.kvs[0].value = NULL;
    }
    drv_etcd_range_clear(&r);
    return 1;
}
