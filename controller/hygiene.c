/* hygiene.c — see hygiene.h. */
#include "hygiene.h"

#include "ctl_config.h"
#include "job_retention.h"
#include "log.h"
#include "migrate_private.h"
#include "store.h"
#include "store_async.h"

#include <string.h>

#define S_MAX_JOB_DELETES 500

typedef struct {
    /* in */
    bool leader;
    int64_t keep_revisions;
    int64_t compacted; /* the last revision we compacted to (0 = none yet) */
    uint64_t now_ms;
    uint64_t job_keep_ms;
    char *prefix; /* the cluster's key prefix */
    /* out */
    drv_etcd_status st;
    int64_t n_domains, n_history, n_jobs, n_hosts;
    int64_t jobs_deleted;
    int64_t compacted_to; /* 0 = no compaction this round */
} s_round;

struct ctl_hygiene {
    bool in_flight;
    int64_t next_ms;
    int64_t compacted;
    s_round last;    /* figures of the last successful round */
    int64_t read_ms; /* wall clock of the last successful round; 0 = never */
    int64_t jobs_deleted_total;
    char *last_error;
};

static void s_round_free(gpointer p)
{
    s_round *r = p;
    g_free(r->prefix);
    g_free(r);
}

ctl_hygiene *ctl_hygiene_new(ctl *c)
{
    (void)c;
    return g_new0(ctl_hygiene, 1);
}

void ctl_hygiene_destroy(ctl_hygiene **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_free((*self_p)->last_error);
    g_free(*self_p);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ on the etcd worker */

static int s_count(drv_etcd *e, const char *prefix, const char *what, int64_t *ret, drv_error **err)
{
    g_autofree char *key = g_strconcat(prefix, what, NULL);
    drv_etcd_range_opts o = {.prefix = true, .count_only = true};
    drv_etcd_range rg = {0};
    if (drv_etcd_range_get(e, key, strlen(key), &o, &rg, err) < 0)
        return -1;
    *ret = rg.count;
    drv_etcd_range_clear(&rg);
    return 0;
}

static int s_delete_old_jobs(ctl_store *store, s_round *r, drv_error **err)
{
    GPtrArray *jobs = NULL;
    if (ctl_job_store_list_from(store, &jobs, err) < 0)
        return -1;
    GPtrArray *ids = drv_job_retention_pick(jobs, r->now_ms, r->job_keep_ms, S_MAX_JOB_DELETES);
    drv_etcd *e = ctl_store_etcd(store);
    int rc = 0;
    for (guint i = 0; i < ids->len; i++) {
        g_autofree char *key = ctl_store_key(store, "jobs/%s", (char *)g_ptr_array_index(ids, i));
        if (drv_etcd_delete(e, key, strlen(key), false, NULL, NULL, err) < 0) {
            rc = -1;
            break;
        }
        r->jobs_deleted++;
    }
    g_ptr_array_unref(ids);
    g_ptr_array_unref(jobs);
    return rc;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_round *r = data;
    drv_etcd *e = ctl_store_etcd(store);
    if (r->leader && r->job_keep_ms > 0 && s_delete_old_jobs(store, r, err) < 0)
        return -1;
    if (drv_etcd_status_get(e, &r->st, err) < 0)
        return -1;
    if (s_count(e, r->prefix, "domains/", &r->n_domains, err) < 0 ||
        s_count(e, r->prefix, "history/", &r->n_history, err) < 0 ||
        s_count(e, r->prefix, "jobs/", &r->n_jobs, err) < 0 ||
        s_count(e, r->prefix, "hosts/", &r->n_hosts, err) < 0)
        return -1;
    if (r->leader && r->keep_revisions > 0) {
        int64_t to = r->st.revision - r->keep_revisions;
        if (to > 0 && to - r->compacted >= MAX(1, r->keep_revisions / 10)) {
            if (drv_etcd_compact(e, to, err) < 0)
                return -1;
            r->compacted_to = to;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ on the loop */

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    (void)attempted;
    ctl *c = loop_ctx;
    ctl_hygiene *self = c->hygiene;
    s_round *r = data;
    self->in_flight = false;
    self->jobs_deleted_total += r->jobs_deleted;
    if (r->jobs_deleted > 0)
        drv_info("etcd hygiene: %lld finished jobs older than %lld days deleted",
                 (long long)r->jobs_deleted, (long long)c->cfg->job_retention_days);
    if (err != NULL) {
        g_free(self->last_error);
        self->last_error = g_strdup(err->message);
        drv_warn("etcd hygiene: %s", err->message);
        return;
    }
    g_clear_pointer(&self->last_error, g_free);
    if (r->compacted_to > 0) {
        self->compacted = r->compacted_to;
        drv_info("etcd hygiene: revisions up to %lld compacted (keeping the last %lld)",
                 (long long)r->compacted_to, (long long)c->cfg->etcd_compact_keep_revisions);
    }
    self->last = *r;
    self->last.prefix = NULL;
    self->read_ms = ctl_wall_ms(c);
}

int64_t ctl_hygiene_tick(ctl *c, int64_t now_ms)
{
    ctl_hygiene *self = c->hygiene;
    int64_t period = c->cfg->hygiene_interval_s * 1000;
    if (self->in_flight)
        return period;
    if (now_ms < self->next_ms)
        return self->next_ms - now_ms;
    if (!c->loaded)
        return 1000;
    self->next_ms = now_ms + period;
    s_round *r = g_new0(s_round, 1);
    r->leader = ctl_is_leader(c);
    r->keep_revisions = c->cfg->etcd_compact_keep_revisions;
    r->compacted = self->compacted;
    r->now_ms = (uint64_t)ctl_wall_ms(c);
    r->job_keep_ms = (uint64_t)c->cfg->job_retention_days * 24 * 3600 * 1000;
    r->prefix = g_strdup(c->cfg->prefix);
    drv_error *err = NULL;
    if (ctl_async_submit(c, s_work, s_done, r, s_round_free, &err) < 0) {
        drv_debug("etcd hygiene: %s", err->message);
        drv_error_destroy(&err);
        s_round_free(r);
        return period;
    }
    self->in_flight = true;
    return period;
}

json_object *ctl_hygiene_status(ctl *c)
{
    ctl_hygiene *self = c->hygiene;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "read_ms", json_object_new_int64(self->read_ms));
    if (self->read_ms != 0) {
        const s_round *r = &self->last;
        json_object_object_add(o, "db_size_bytes", json_object_new_int64(r->st.db_size));
        json_object_object_add(o, "db_size_in_use_bytes",
                               json_object_new_int64(r->st.db_size_in_use));
        json_object_object_add(o, "revision", json_object_new_int64(r->st.revision));
        json_object *k = json_object_new_object();
        json_object_object_add(k, "domains", json_object_new_int64(r->n_domains));
        json_object_object_add(k, "history", json_object_new_int64(r->n_history));
        json_object_object_add(k, "jobs", json_object_new_int64(r->n_jobs));
        json_object_object_add(k, "hosts", json_object_new_int64(r->n_hosts));
        json_object_object_add(o, "keys", k);
    }
    json_object_object_add(o, "compacted_revision", json_object_new_int64(self->compacted));
    json_object_object_add(o, "jobs_deleted", json_object_new_int64(self->jobs_deleted_total));
    if (self->last_error != NULL)
        json_object_object_add(o, "error", json_object_new_string(self->last_error));
    return o;
}
