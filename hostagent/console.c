/* console.c — see console.h. */
#include "console.h"

#include "log.h"
#include "virt.h"

#include <string.h>

typedef struct {
    char *id;
    char *domain;
    virConnectPtr conn; /* a reference: the stream lives on this connection */
    virStreamPtr st;
    gint64 used_us; /* monotonic time of the last poll */
    bool busy;      /* a poll is using it */
} s_session;

struct drv_console_table {
    GMutex lock;
    GHashTable *sessions; /* id → s_session* */
};

static void s_session_free(gpointer p)
{
    s_session *s = p;
    if (s->st != NULL) {
        virStreamAbort(s->st);
        virStreamFree(s->st);
    }
    if (s->conn != NULL)
        virConnectClose(s->conn);
    g_free(s->id);
    g_free(s->domain);
    g_free(s);
}

drv_console_table *drv_console_table_new(void)
{
    drv_console_table *self = g_new0(drv_console_table, 1);
    g_mutex_init(&self->lock);
    self->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_session_free);
    return self;
}

void drv_console_table_destroy(drv_console_table **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_console_table *self = *self_p;
    g_hash_table_unref(self->sessions);
    g_mutex_clear(&self->lock);
    g_free(self);
    *self_p = NULL;
}

/* Under the lock: removes sessions idle for too long (not in use). */
static void s_sweep(drv_console_table *self, gint64 now_us)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->sessions);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        s_session *s = v;
        if (!s->busy && now_us - s->used_us > (gint64)DRV_CONSOLE_IDLE_MS * 1000) {
            drv_info("console session '%s' of domain '%s' closed: idle", s->id, s->domain);
            g_hash_table_iter_remove(&it);
        }
    }
}

/* Opens dom's console on a new non-blocking stream. */
static s_session *s_open(virConnectPtr conn, virDomainPtr dom, const char *id, bool force,
                         drv_error **err)
{
    const char *name = virDomainGetName(dom);
    virStreamPtr st = virStreamNew(conn, VIR_STREAM_NONBLOCK);
    if (st == NULL) {
        drv_virt_error(err, name, "console stream");
        return NULL;
    }
    unsigned int flags = VIR_DOMAIN_CONSOLE_SAFE | (force ? VIR_DOMAIN_CONSOLE_FORCE : 0);
    if (virDomainOpenConsole(dom, NULL, st, flags) < 0) {
        drv_virt_error(err, name, "console");
        drv_error_prefix(err, force ? "opening the console"
                                    : "opening the console (another "
                                      "client may hold it: --force takes "
                                      "it over)");
        virStreamFree(st);
        return NULL;
    }
    s_session *s = g_new0(s_session, 1);
    s->id = g_strdup(id);
    s->domain = g_strdup(name);
    virConnectRef(conn);
    s->conn = conn;
    s->st = st;
    drv_info("console session '%s' of domain '%s' opened", id, name);
    return s;
}

/* Writes all of input (non-blocking: retried briefly while the stream is full). */
static int s_write(s_session *s, const guint8 *input, size_t len, drv_error **err)
{
    size_t done = 0;
    int spins = 0;
    while (done < len) {
        int n = virStreamSend(s->st, (const char *)input + done, len - done);
        if (n == -2) { /* would block */
            if (++spins > 50)
                return drv_error_set(err, DRV_ERR_TIMEOUT, 0,
                                     "domain '%s': the console does not take input", s->domain);
            g_usleep(2000);
            continue;
        }
        if (n < 0)
            return drv_virt_error(err, s->domain, "console write");
        done += (size_t)n;
    }
    return 0;
}

/* Reads what is queued; *ret_eof when the guest side closed. */
static int s_read(s_session *s, GByteArray *out, bool *ret_eof, drv_error **err)
{
    char buf[4096];
    size_t total = 0;
    while (total < DRV_CONSOLE_MAX_READ) {
        int n = virStreamRecv(s->st, buf, sizeof(buf));
        if (n == -2)
            return 0; /* nothing more now */
        if (n < 0) {
            drv_virt_error(err, s->domain, "console read");
            drv_error_prefix(err, "the console broke (another client may have taken it over "
                                  "with --force)");
            return -1;
        }
        if (n == 0) {
            *ret_eof = true;
            return 0;
        }
        g_byte_array_append(out, (const guint8 *)buf, (guint)n);
        total += (size_t)n;
    }
    return 0;
}

int drv_console_poll(drv_console_table *self, virConnectPtr conn, virDomainPtr dom, const char *id,
                     const guint8 *input, size_t input_len, bool close, bool force, GByteArray *out,
                     bool *ret_closed, drv_error **err)
{
    *ret_closed = false;
    if (id == NULL || id[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "console: no session id");
    if (input_len > DRV_CONSOLE_MAX_INPUT)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "console: %zu bytes of input (at most %d)",
                             input_len, DRV_CONSOLE_MAX_INPUT);
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&self->lock);
    s_sweep(self, now);
    s_session *s = g_hash_table_lookup(self->sessions, id);
    if (s != NULL && s->busy) {
        g_mutex_unlock(&self->lock);
        return drv_error_set(err, DRV_ERR_CONFLICT, 0, "console session '%s' is in use", id);
    }
    if (s != NULL && close) {
        g_hash_table_remove(self->sessions, id);
        g_mutex_unlock(&self->lock);
        *ret_closed = true;
        return 0;
    }
    if (s != NULL)
        s->busy = true;
    g_mutex_unlock(&self->lock);
    if (close) {
        *ret_closed = true;
        return 0;
    }
    if (s == NULL) { /* libvirt calls outside the lock */
        s = s_open(conn, dom, id, force, err);
        if (s == NULL)
            return -1;
        s->busy = true;
        g_mutex_lock(&self->lock);
        g_hash_table_replace(self->sessions, s->id, s);
        g_mutex_unlock(&self->lock);
    }
    bool eof = false;
    int rc = input_len > 0 ? s_write(s, input, input_len, err) : 0;
    if (rc == 0)
        rc = s_read(s, out, &eof, err);
    g_mutex_lock(&self->lock);
    s->busy = false;
    s->used_us = g_get_monotonic_time();
    if (rc < 0 || eof) {
        *ret_closed = eof;
        g_hash_table_remove(self->sessions, id);
    }
    g_mutex_unlock(&self->lock);
    return rc;
}
