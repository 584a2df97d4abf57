/* etcd_watch.c — a streaming watch on etcd's /v3/watch gateway, run by its own thread over its own
 * curl handle, handing events to one consumer through a queue and an eventfd.
 *
 * The thread keeps `next_rev`, the first revision it has not queued yet. Whenever the stream ends
 * or fails (etcd restarted, endpoint down) it reconnects with capped exponential backoff, rotating
 * through the endpoints, and re-creates the watch from next_rev, dropping any event below it:
 * nothing is lost and nothing is repeated. A compacted start revision or a cancel by etcd is fatal
 * and is reported after the events queued before it. */
#include "etcd_private.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define S_BACKOFF_MIN_MS 50
#define S_BACKOFF_MAX_MS 2000
#define S_CONNECT_MS     2000
#define S_POLL_MS        1000
#define S_CREATE_WAIT_MS 3000

struct drv_etcd_watch {
    /* fixed at creation */
    char **endpoints;
    size_t n_endpoints;
    char *key;
    size_t key_len;
    bool prefix;
    bool prev_kv;
    char *name; /* printable key for messages */
    int efd;
    CURLM *multi;
    CURL *curl;
    struct curl_slist *headers;
    GThread *thread;
    gint stop; /* atomic; also read by curl callbacks */

    /* shared, under lock */
    GMutex lock;
    GCond cond;
    GQueue queue; /* drv_etcd_event * */
    drv_error *fatal;
    bool created;
    bool efd_set;

    /* watch thread only */
    size_t current;
    int64_t next_rev;    /* first revision not yet queued; 0 = "from now" until the first create */
    GString *line;       /* the bytes of the stream's line being received (no newline yet) */
    size_t scanned;      /* bytes of line already searched for a newline */
    size_t max_line;     /* a longer line drops the stream */
    uint64_t scan_bytes; /* total bytes ever searched for a newline (tests: linear scan) */
    bool stream_created;
    bool stream_fatal;
    bool stream_broken;

    /* consumer only */
    int64_t last_revision;
};

/* --- queue (under lock) --- */

static void s_signal_locked(drv_etcd_watch *w)
{
    if (!w->efd_set) {
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof(one));
        (void)n;
        w->efd_set = true;
    }
    g_cond_broadcast(&w->cond);
}

static void s_unsignal_locked(drv_etcd_watch *w)
{
    if (w->efd_set && g_queue_is_empty(&w->queue) && w->fatal == NULL) {
        uint64_t v;
        ssize_t n = read(w->efd, &v, sizeof(v));
        (void)n;
        w->efd_set = false;
    }
}

static void s_set_fatal(drv_etcd_watch *w, drv_error *e)
{
    g_mutex_lock(&w->lock);
    if (w->fatal == NULL)
        w->fatal = e;
    else
        drv_error_destroy(&e);
    s_signal_locked(w);
    g_mutex_unlock(&w->lock);
    w->stream_fatal = true;
}

static void s_event_free(gpointer p)
{
    drv_etcd_event *e = p;
    drv_etcd_event_clear(e);
    g_free(e);
}

void drv_etcd_event_clear(drv_etcd_event *e)
{
    if (e == NULL)
        return;
    drv_etcd_kv_clear(&e->kv);
    drv_etcd_kv_clear(&e->prev_kv);
}

/* --- stream parsing (watch thread) --- */

static int s_parse_event(json_object *o, drv_etcd_event *ev, drv_error **err)
{
    memset(ev, 0, sizeof(*ev));
    json_object *type = NULL, *kv = NULL, *prev = NULL;
    ev->type = DRV_ETCD_EVENT_PUT;
    if (json_object_object_get_ex(o, "type", &type) &&
        g_strcmp0(json_object_get_string(type), "DELETE") == 0)
        ev->type = DRV_ETCD_EVENT_DELETE;
    if (!json_object_object_get_ex(o, "kv", &kv))
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd watch event without kv");
    if (drv_etcd_json_parse_kv(kv, &ev->kv, err) < 0)
        return -1;
    if (json_object_object_get_ex(o, "prev_kv", &prev) &&
        drv_etcd_json_parse_kv(prev, &ev->prev_kv, err) < 0) {
        drv_etcd_event_clear(ev);
        return -1;
    }
    return 0;
}

/* Handles one WatchResponse line. Returns 0 to go on, -1 to end this stream (reconnect or fatal).
 */
/* The endpoint of the stream, for messages ("(detached)" when fed by hand). */
static const char *s_endpoint(const drv_etcd_watch *w)
{
    return w->endpoints != NULL ? w->endpoints[w->current] : "(detached)";
}

static int s_watch_on_line(drv_etcd_watch *w, const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *top = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (top == NULL || jerr != json_tokener_success) {
        json_object_put(top);
        drv_debug("etcd watch on %s: unparsable line from %s, reconnecting", w->name,
                  s_endpoint(w));
        w->stream_broken = true;
        return -1;
    }
    int rc = 0;
    json_object *res = top, *v;
    if (json_object_object_get_ex(top, "error", &v)) {
        drv_debug("etcd watch on %s: stream error from %s: %s", w->name, s_endpoint(w),
                  json_object_to_json_string(v));
        w->stream_broken = true;
        rc = -1;
        goto out;
    }
    if (json_object_object_get_ex(top, "result", &v))
        res = v;
    json_object *header = NULL;
    json_object_object_get_ex(res, "header", &header);
    int64_t header_rev = drv_etcd_json_get_int64(header, "revision");
    bool created = drv_etcd_json_get_bool(res, "created");
    int64_t compact_rev = drv_etcd_json_get_int64(res, "compact_revision");
    if (created) {
        drv_debug("etcd watch on %s: created on %s from revision %" G_GINT64_FORMAT
                  " (store at %" G_GINT64_FORMAT ")",
                  w->name, s_endpoint(w), (gint64)w->next_rev, (gint64)header_rev);
        w->stream_created = true;
        if (w->next_rev == 0 && header_rev > 0)
            w->next_rev = header_rev + 1;
        g_mutex_lock(&w->lock);
        w->created = true;
        g_cond_broadcast(&w->cond);
        g_mutex_unlock(&w->lock);
    }
    if (compact_rev != 0) {
        drv_error *e = NULL;
        drv_error_set(&e, DRV_ERR_ETCD, 0,
                      "etcd watch on %s: revision %" G_GINT64_FORMAT
                      " was compacted (oldest available %" G_GINT64_FORMAT
                      "); events were lost, re-read the state and start a new watch",
                      w->name, (gint64)w->next_rev, (gint64)compact_rev);
        s_set_fatal(w, e);
        rc = -1;
        goto out;
    }
    if (drv_etcd_json_get_bool(res, "canceled")) {
        drv_error *e = NULL;
        json_object *reason = NULL;
        json_object_object_get_ex(res, "cancel_reason", &reason);
        drv_error_set(&e, DRV_ERR_ETCD, 0, "etcd watch on %s: canceled by etcd: %s", w->name,
                      reason != NULL ? json_object_get_string(reason) : "no reason given");
        s_set_fatal(w, e);
        rc = -1;
        goto out;
    }
    json_object *events = NULL;
    size_t n = 0;
    if (json_object_object_get_ex(res, "events", &events) &&
        json_object_is_type(events, json_type_array))
        n = json_object_array_length(events);
    if (n == 0) {
        /* A progress notification: every event up to header_rev has been sent. */
        if (!created && w->next_rev > 0 && header_rev >= w->next_rev)
            w->next_rev = header_rev + 1;
        goto out;
    }
    GPtrArray *batch = g_ptr_array_new_with_free_func(s_event_free);
    int64_t max_rev = 0;
    for (size_t i = 0; i < n; i++) {
        drv_etcd_event *ev = g_new0(drv_etcd_event, 1);
        drv_error *e = NULL;
        if (s_parse_event(json_object_array_get_idx(events, i), ev, &e) < 0) {
            drv_debug("etcd watch on %s: %s; reconnecting", w->name, e->message);
            drv_error_destroy(&e);
            g_free(ev);
            g_ptr_array_free(batch, TRUE);
            w->stream_broken = true;
            rc = -1;
            goto out;
        }
        if (ev->kv.mod_revision < w->next_rev) {
            s_event_free(ev); /* already delivered before a reconnect */
            continue;
        }
        if (ev->kv.mod_revision > max_rev)
            max_rev = ev->kv.mod_revision;
        g_ptr_array_add(batch, ev);
    }
    if (batch->len > 0) {
        g_mutex_lock(&w->lock);
        for (guint i = 0; i < batch->len; i++)
            g_queue_push_tail(&w->queue, batch->pdata[i]);
        s_signal_locked(w);
        g_mutex_unlock(&w->lock);
        g_ptr_array_set_free_func(batch, NULL);
        w->next_rev = max_rev + 1;
    }
    g_ptr_array_free(batch, TRUE);
out:
    json_object_put(top);
    return rc;
}

/* Splits the stream into lines. Only the bytes not searched before are searched for a newline,
 * and consumed lines are erased once per chunk, so a long line arriving in small chunks costs
 * linear time. A line over max_line without its newline ends the stream. */
static int s_watch_feed(drv_etcd_watch *w, const char *data, size_t n)
{
    g_string_append_len(w->line, data, (gssize)n);
    size_t start = 0;
    int rc = 0;
    while (w->scanned < w->line->len) {
        size_t left = w->line->len - w->scanned;
        char *nl = memchr(w->line->str + w->scanned, '\n', left);
        w->scan_bytes += nl != NULL ? (size_t)(nl - (w->line->str + w->scanned)) + 1 : left;
        if (nl == NULL) {
            w->scanned = w->line->len;
            break;
        }
        size_t end = (size_t)(nl - w->line->str);
        size_t len = end - start;
        w->scanned = end + 1;
        rc = len > 0 ? s_watch_on_line(w, w->line->str + start, len) : 0;
        start = end + 1;
        if (rc < 0)
            break;
    }
    if (start > 0) {
        g_string_erase(w->line, 0, (gssize)start);
        w->scanned -= start;
    }
    if (rc < 0)
        return -1;
    if (w->line->len > w->max_line) {
        drv_warn("etcd watch on %s: a line from %s exceeds the limit of %zu bytes "
                 "([security] etcd_max_watch_line_bytes) without a newline; dropping the stream "
                 "and reconnecting",
                 w->name, s_endpoint(w), w->max_line);
        g_string_truncate(w->line, 0);
        w->scanned = 0;
        w->stream_broken = true;
        return -1;
    }
    return 0;
}

static size_t s_watch_on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    drv_etcd_watch *w = userdata;
    size_t n = size * nmemb;
    if (g_atomic_int_get(&w->stop))
        return 0;
    return s_watch_feed(w, data, n) < 0 ? 0 : n; /* 0 aborts the transfer */
}

static int s_watch_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                               curl_off_t ultotal, curl_off_t ulnow)
{
    drv_etcd_watch *w = userdata;
    return g_atomic_int_get(&w->stop) ? 1 : 0;
}

static char *s_watch_request(drv_etcd_watch *w)
{
    json_object *create = json_object_new_object();
    drv_etcd_json_set_range(create, w->key, w->key_len, w->prefix, NULL, 0);
    if (w->next_rev > 0)
        drv_etcd_json_set_int64(create, "start_revision", w->next_rev);
    if (w->prev_kv)
        json_object_object_add(create, "prev_kv", json_object_new_boolean(1));
    json_object_object_add(create, "progress_notify", json_object_new_boolean(1));
    json_object *req = json_object_new_object();
    json_object_object_add(req, "create_request", create);
    char *text = g_strdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(req);
    return text;
}

/* Runs one stream on the current endpoint until it ends, fails, turns fatal or is stopped. */
static void s_watch_stream(drv_etcd_watch *w)
{
    g_autofree char *body = s_watch_request(w);
    g_autofree char *url = g_strconcat(w->endpoints[w->current], "/v3/watch", NULL);
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    g_string_truncate(w->line, 0);
    w->scanned = 0;
    w->stream_created = false;
    w->stream_broken = false;
    curl_multi_add_handle(w->multi, c);
    int running = 1;
    while (!g_atomic_int_get(&w->stop)) {
        if (curl_multi_perform(w->multi, &running) != CURLM_OK || running == 0)
            break;
        curl_multi_poll(w->multi, NULL, 0, S_POLL_MS, NULL);
    }
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK && !w->stream_fatal)
            drv_debug("etcd watch on %s: stream from %s ended: %s", w->name,
                      w->endpoints[w->current], curl_easy_strerror(msg->data.result));
    }
    curl_multi_remove_handle(w->multi, c);
}

static gpointer s_watch_thread(gpointer data)
{
    drv_etcd_watch *w = data;
    long backoff_ms = S_BACKOFF_MIN_MS;
    while (!g_atomic_int_get(&w->stop)) {
        s_watch_stream(w);
        if (w->stream_fatal || g_atomic_int_get(&w->stop))
            break;
        if (w->stream_created && !w->stream_broken)
            backoff_ms = S_BACKOFF_MIN_MS; /* it worked for a while: retry quickly */
        else
            w->current = (w->current + 1) % w->n_endpoints;
        drv_debug("etcd watch on %s: reconnecting to %s from revision %" G_GINT64_FORMAT
                  " in %ld ms",
                  w->name, w->endpoints[w->current], (gint64)w->next_rev, backoff_ms);
        gint64 until = g_get_monotonic_time() + (gint64)backoff_ms * 1000;
        g_mutex_lock(&w->lock);
        while (!g_atomic_int_get(&w->stop))
            if (!g_cond_wait_until(&w->cond, &w->lock, until))
                break;
        g_mutex_unlock(&w->lock);
        backoff_ms = backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : backoff_ms * 2;
    }
    return NULL;
}

/* --- public --- */

static drv_etcd_watch *s_watch_alloc(const void *key, size_t key_len, bool prefix,
                                     int64_t start_revision, bool prev_kv)
{
    drv_etcd_watch *w = g_new0(drv_etcd_watch, 1);
    w->key = g_malloc(key_len + 1);
    if (key_len > 0)
        memcpy(w->key, key, key_len);
    w->key[key_len] = '\0';
    w->key_len = key_len;
    w->prefix = prefix;
    w->prev_kv = prev_kv;
    g_autofree char *esc = g_strescape(w->key, NULL);
    w->name = g_strdup_printf("\"%s\"%s", esc, prefix ? " (prefix)" : "");
    w->next_rev = start_revision;
    w->line = g_string_sized_new(4096);
    w->max_line = drv_etcd_default_max_watch_line_bytes();
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    g_queue_init(&w->queue);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return w;
}

drv_etcd_watch *drv_etcd_watch_new_detached(const void *key, size_t key_len, bool prefix,
                                            size_t max_line_bytes)
{
    drv_etcd_watch *w = s_watch_alloc(key, key_len, prefix, 0, false);
    if (max_line_bytes > 0)
        w->max_line = max_line_bytes;
    return w;
}

int drv_etcd_watch_feed(drv_etcd_watch *w, const char *data, size_t len)
{
    if (w->stream_fatal || w->stream_broken)
        return -1;
    return s_watch_feed(w, data, len);
}

uint64_t drv_etcd_watch_scan_bytes(const drv_etcd_watch *w)
{
    return w->scan_bytes;
}

drv_etcd_watch *drv_etcd_watch_new(const char *const *endpoints, size_t n_endpoints,
                                   const void *key, size_t key_len, bool prefix,
                                   int64_t start_revision, bool prev_kv, const drv_etcd_tls *tls,
                                   drv_error **err)
{
    if ((key == NULL && key_len > 0) || (key_len == 0 && !prefix)) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "etcd watch: empty key");
        return NULL;
    }
    if (start_revision < 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "etcd watch: negative start revision");
        return NULL;
    }
    char **copy = drv_etcd_endpoints_copy(endpoints, n_endpoints, err);
    if (copy == NULL)
        return NULL;
    drv_etcd_curl_init();
    drv_etcd_watch *w = s_watch_alloc(key, key_len, prefix, start_revision, prev_kv);
    w->endpoints = copy;
    w->n_endpoints = n_endpoints;
    w->multi = curl_multi_init();
    w->curl = curl_easy_init();
    if (w->efd < 0 || w->multi == NULL || w->curl == NULL) {
        int saved = errno;
        drv_etcd_watch_destroy(&w);
        drv_error_set(err, DRV_ERR_INTERNAL, saved, "etcd watch: cannot set up: %s",
                      g_strerror(saved));
        return NULL;
    }
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_watch_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_watch_on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)S_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (drv_etcd_tls_apply(c, tls, err) < 0) {
        drv_etcd_watch_destroy(&w);
        return NULL;
    }
    w->thread = g_thread_new("etcd-watch", s_watch_thread, w);

    /* Wait (bounded) for etcd to confirm the watch, so that "from now" means from this call. */
    gint64 until = g_get_monotonic_time() + (gint64)S_CREATE_WAIT_MS * 1000;
    g_mutex_lock(&w->lock);
    while (!w->created && w->fatal == NULL)
        if (!g_cond_wait_until(&w->cond, &w->lock, until))
            break;
    g_mutex_unlock(&w->lock);
    return w;
}

int drv_etcd_watch_next(drv_etcd_watch *w, int timeout_ms, drv_etcd_event *ret, drv_error **err)
{
    gint64 until = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_mutex_lock(&w->lock);
    while (g_queue_is_empty(&w->queue) && w->fatal == NULL) {
        if (timeout_ms == 0)
            break;
        if (timeout_ms < 0)
            g_cond_wait(&w->cond, &w->lock);
        else if (!g_cond_wait_until(&w->cond, &w->lock, until))
            break;
    }
    drv_etcd_event *ev = g_queue_pop_head(&w->queue);
    if (ev != NULL) {
        s_unsignal_locked(w);
        g_mutex_unlock(&w->lock);
        w->last_revision = ev->kv.mod_revision;
        *ret = *ev;
        g_free(ev);
        return 1;
    }
    if (w->fatal != NULL) {
        drv_error_set(err, w->fatal->kind, w->fatal->code, "%s", w->fatal->message);
        g_mutex_unlock(&w->lock);
        return -1;
    }
    g_mutex_unlock(&w->lock);
    return 0;
}

int drv_etcd_watch_fd(const drv_etcd_watch *w)
{
    return w->efd;
}

int64_t drv_etcd_watch_last_revision(const drv_etcd_watch *w)
{
    return w->last_revision;
}

void drv_etcd_watch_destroy(drv_etcd_watch **w_p)
{
    if (w_p == NULL || *w_p == NULL)
        return;
    drv_etcd_watch *w = *w_p;
    if (w->thread != NULL) {
        g_mutex_lock(&w->lock);
        g_atomic_int_set(&w->stop, 1);
        g_cond_broadcast(&w->cond);
        g_mutex_unlock(&w->lock);
        curl_multi_wakeup(w->multi);
        g_thread_join(w->thread);
    }
    if (w->curl != NULL)
        curl_easy_cleanup(w->curl);
    if (w->multi != NULL)
        curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    g_queue_clear_full(&w->queue, s_event_free);
    drv_error_destroy(&w->fatal);
    if (w->efd >= 0)
        close(w->efd);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    if (w->line != NULL)
        g_string_free(w->line, TRUE);
    g_strfreev(w->endpoints);
    g_free(w->key);
    g_free(w->name);
    g_free(w);
    *w_p = NULL;
}
