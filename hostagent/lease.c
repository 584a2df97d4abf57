/* lease.c — see lease.h. */
#include "lease.h"

#include "etcd.h"
#include "log.h"

#include <glib.h>
#include <json-c/json.h>
#include <string.h>

#define S_PERIOD_MS  1000
#define S_TIMEOUT_MS 1000

struct drv_lease {
    drv_etcd *etcd;
    char *key;
    char *host_id;
    char *state_path;
    int64_t ttl_s;
    int64_t fence_after_s;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool stop;
    /* under lock */
    drv_lease_status st;
    char **ha;
    bool dirty;
    int64_t last_renew_wall_ms;
};

static int64_t s_mono_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

void drv_lease_saved_clear(drv_lease_saved *s)
{
    g_strfreev(s->ha_domains);
    memset(s, 0, sizeof(*s));
}

void drv_lease_saved_read(const char *state_path, drv_lease_saved *ret)
{
    memset(ret, 0, sizeof(*ret));
    g_autofree char *text = NULL;
    if (state_path == NULL || !g_file_get_contents(state_path, &text, NULL, NULL))
        return;
    json_object *o = json_tokener_parse(text);
    if (o == NULL)
        return;
    json_object *v = NULL;
    if (json_object_object_get_ex(o, "lease_id", &v))
        ret->lease_id = json_object_get_int64(v);
    if (json_object_object_get_ex(o, "last_renew_wall_ms", &v))
        ret->last_renew_wall_ms = json_object_get_int64(v);
    if (json_object_object_get_ex(o, "ha", &v) && json_object_is_type(v, json_type_array)) {
        GPtrArray *a = g_ptr_array_new();
        for (size_t i = 0; i < json_object_array_length(v); i++)
            g_ptr_array_add(a, g_strdup(json_object_get_string(json_object_array_get_idx(v, i))));
        g_ptr_array_add(a, NULL);
        ret->ha_domains = (char **)g_ptr_array_free(a, FALSE);
    }
    json_object_put(o);
}

/* Thread: writes the state file (lease id, last renewal, HA domains). */
static void s_save(drv_lease *self, int64_t lease_id, int64_t renew_wall_ms, char **ha)
{
    if (self->state_path == NULL)
        return;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "lease_id", json_object_new_int64(lease_id));
    json_object_object_add(o, "last_renew_wall_ms", json_object_new_int64(renew_wall_ms));
    json_object *arr = json_object_new_array();
    for (size_t i = 0; ha != NULL && ha[i] != NULL; i++)
        json_object_array_add(arr, json_object_new_string(ha[i]));
    json_object_object_add(o, "ha", arr);
    GError *gerr = NULL;
    if (!g_file_set_contents(self->state_path, json_object_to_json_string(o), -1, &gerr)) {
        drv_warn("state file '%s': %s", self->state_path, gerr->message);
        g_error_free(gerr);
    }
    json_object_put(o);
}

/* Thread: grants a lease and publishes fence/<host>. Returns the id or 0. */
static int64_t s_grant(drv_lease *self)
{
    int64_t id = 0;
    drv_error *err = NULL;
    if (drv_etcd_lease_grant(self->etcd, self->ttl_s, &id, &err) < 0) {
        drv_debug("fencing lease: grant: %s", err->message);
        drv_error_destroy(&err);
        return 0;
    }
    g_autofree char *value = g_strdup_printf(
        "{\"lease_id\":\"%lld\",\"ttl_s\":%lld,\"fence_after_s\":%lld,\"host\":\"%s\"}",
        (long long)id, (long long)self->ttl_s, (long long)self->fence_after_s, self->host_id);
    if (drv_etcd_put(self->etcd, self->key, strlen(self->key), value, strlen(value), 0, NULL,
                     &err) < 0) {
        drv_warn("fencing lease %lld granted but not published: %s", (long long)id, err->message);
        drv_error_destroy(&err);
        return 0; /* unpublished: the controller cannot prove expiry; retry (the lease lapses) */
    }
    drv_info("fencing lease %lld (TTL %lld s, fence after %lld s) published at %s", (long long)id,
             (long long)self->ttl_s, (long long)self->fence_after_s, self->key);
    return id;
}

static gpointer s_run(gpointer data)
{
    drv_lease *self = data;
    g_mutex_lock(&self->lock);
    while (!self->stop) {
        int64_t id = self->st.lease_id;
        g_mutex_unlock(&self->lock);

        int64_t sent = s_mono_ms();
        bool ok = false, lost = false;
        if (id == 0) {
            id = s_grant(self);
            ok = id != 0;
        } else {
            int64_t ttl = 0;
            drv_error *err = NULL;
            if (drv_etcd_lease_keepalive(self->etcd, id, &ttl, &err) == 0 && ttl > 0) {
                ok = true;
            } else if (err == NULL || err->kind == DRV_ERR_NOT_FOUND) {
                drv_warn("fencing lease %lld: etcd says it expired", (long long)id);
                lost = true;
            } else {
                drv_debug("fencing lease %lld: keep-alive: %s", (long long)id, err->message);
            }
            drv_error_destroy(&err);
        }

        g_mutex_lock(&self->lock);
        if (ok) {
            self->st.lease_id = id;
            self->st.last_renew_sent_ms = sent;
            self->st.renewals++;
            self->last_renew_wall_ms = g_get_real_time() / 1000;
        } else if (lost) {
            self->st.lease_id = 0;
            self->st.lost++;
        }
        if (ok || lost || self->dirty) {
            char **ha = g_strdupv(self->ha);
            int64_t lid = self->st.lease_id, wall = self->last_renew_wall_ms;
            self->dirty = false;
            g_mutex_unlock(&self->lock);
            s_save(self, lid, wall, ha);
            g_strfreev(ha);
            g_mutex_lock(&self->lock);
        }
        int64_t until = g_get_monotonic_time() + (sent + S_PERIOD_MS - s_mono_ms()) * 1000;
        while (!self->stop && !self->dirty && g_get_monotonic_time() < until)
            g_cond_wait_until(&self->cond, &self->lock, until);
    }
    g_mutex_unlock(&self->lock);
    return NULL;
}

drv_lease *drv_lease_new(char *const *endpoints, const drv_etcd_tls *tls, const char *prefix,
                         const char *host_id, int64_t ttl_s, int64_t fence_after_s,
                         const char *state_path, int64_t resume_lease_id, int64_t resume_wall_ms,
                         drv_error **err)
{
    drv_etcd *etcd = drv_etcd_new((const char *const *)endpoints, g_strv_length((char **)endpoints),
                                  S_TIMEOUT_MS, tls, err);
    if (etcd == NULL)
        return NULL;
    drv_lease *self = g_new0(drv_lease, 1);
    self->etcd = etcd;
    self->key = g_strdup_printf("%sfence/%s", prefix, host_id);
    self->host_id = g_strdup(host_id);
    self->state_path = g_strdup(state_path);
    self->ttl_s = ttl_s;
    self->fence_after_s = fence_after_s;
    self->st.lease_id = resume_lease_id;
    self->last_renew_wall_ms = resume_wall_ms;
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    self->thread = g_thread_new("lease", s_run, self);
    return self;
}

void drv_lease_destroy(drv_lease **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_lease *self = *self_p;
    *self_p = NULL;
    g_mutex_lock(&self->lock);
    self->stop = true;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
    g_thread_join(self->thread);
    g_mutex_clear(&self->lock);
    g_cond_clear(&self->cond);
    drv_etcd_destroy(&self->etcd);
    g_strfreev(self->ha);
    g_free(self->key);
    g_free(self->host_id);
    g_free(self->state_path);
    g_free(self);
}

void drv_lease_status_get(drv_lease *self, drv_lease_status *ret)
{
    g_mutex_lock(&self->lock);
    *ret = self->st;
    g_mutex_unlock(&self->lock);
}

void drv_lease_set_ha(drv_lease *self, char *const *names)
{
    g_mutex_lock(&self->lock);
    g_strfreev(self->ha);
    self->ha = g_strdupv((char **)names);
    self->dirty = true;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
}
