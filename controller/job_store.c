/* job_store.c — etcd I/O of jobs/<id> (the job library's JSON, jobs/job.h) and reservations/<id>
 * ({"id","job","host","domain","vcpus","memory_kib","created_ms"}). Only the leader writes them. */
#include "migrate_private.h"

#include "log.h"
#include "names.h"
#include "store_async.h"

#include <string.h>

void ctl_mig_resv_free(gpointer p)
{
    ctl_mig_resv *r = p;
    if (r == NULL)
        return;
    g_free(r->id);
    g_free(r->job_id);
    g_free(r->host);
    g_free(r->domain);
    g_free(r);
}

int ctl_job_store_put(ctl *c, const drv_job *job, drv_error **err)
{
    g_autofree char *key = ctl_store_key(c->store, "jobs/%s", job->id);
    g_autofree char *text = drv_job_to_json_string(job);
    g_autofree char *what = g_strdup_printf("job '%s': storing it", job->id);
    return ctl_async_put_kv(c, key, text, what, err);
}

static gint s_by_created(gconstpointer a, gconstpointer b)
{
    const drv_job *x = *(drv_job *const *)a, *y = *(drv_job *const *)b;
    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return g_strcmp0(x->id, y->id);
}

static void s_job_free(gpointer p)
{
    drv_job *j = p;
    drv_job_destroy(&j);
}

int ctl_job_store_list_from(ctl_store *store, GPtrArray **ret, drv_error **err)
{
    drv_etcd_range r = {0};
    g_autofree char *key = ctl_store_key(store, "jobs/");
    drv_etcd_range_opts opts = {.prefix = true};
    if (drv_etcd_range_get(ctl_store_etcd(store), key, strlen(key), &opts, &r, err) < 0)
        return -1;
    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_job_free);
    for (size_t i = 0; i < r.n_kvs; i++) {
        drv_job *j = NULL;
        drv_error *e = NULL;
        if (drv_job_from_json_string(r.kvs[i].value, (ssize_t)r.kvs[i].value_len, &j, &e) < 0) {
            drv_warn("%.*s: %s; skipped", (int)r.kvs[i].key_len, r.kvs[i].key, e->message);
            drv_error_destroy(&e);
            continue;
        }
        g_ptr_array_add(jobs, j);
    }
    drv_etcd_range_clear(&r);
    g_ptr_array_sort(jobs, s_by_created);
    *ret = jobs;
    return 0;
}

int ctl_job_store_put_resv(ctl *c, const ctl_mig_resv *r, drv_error **err)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "job", json_object_new_string(r->job_id));
    json_object_object_add(o, "host", json_object_new_string(r->host));
    json_object_object_add(o, "domain", json_object_new_string(r->domain));
    json_object_object_add(o, "vcpus", json_object_new_int64(r->vcpus));
    json_object_object_add(o, "memory_kib", json_object_new_int64((int64_t)r->memory_kib));
    json_object_object_add(o, "created_ms", json_object_new_int64(r->created_ms));
    g_autofree char *key = ctl_store_key(c->store, "reservations/%s", r->id);
    g_autofree char *what = g_strdup_printf("reservation '%s' on host '%s'", r->id, r->host);
    int rc = ctl_async_put_kv(c, key, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                              what, err);
    json_object_put(o);
    return rc;
}

int ctl_job_store_delete_resv(ctl *c, const char *id, drv_error **err)
{
    g_autofree char *key = ctl_store_key(c->store, "reservations/%s", id);
    g_autofree char *what = g_strdup_printf("reservation '%s': releasing it", id);
    return ctl_async_delete_kv(c, key, what, err);
}

static const char *s_jstr(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t s_jint(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int s_list_resv_from(ctl_store *store, GPtrArray **ret, drv_error **err)
{
    drv_etcd_range r = {0};
    g_autofree char *prefix = ctl_store_key(store, "reservations/");
    drv_etcd_range_opts opts = {.prefix = true};
    if (drv_etcd_range_get(ctl_store_etcd(store), prefix, strlen(prefix), &opts, &r, err) < 0)
        return -1;
    GPtrArray *out = g_ptr_array_new_with_free_func(ctl_mig_resv_free);
    for (size_t i = 0; i < r.n_kvs; i++) {
        if (r.kvs[i].key_len <= strlen(prefix) ||
            memcmp(r.kvs[i].key, prefix, strlen(prefix)) != 0 ||
            memchr(r.kvs[i].key, '\0', r.kvs[i].key_len) != NULL) {
            drv_warn("ignoring a reservation key that is not ours (%zu bytes)", r.kvs[i].key_len);
            continue;
        }
        const char *id = r.kvs[i].key + strlen(prefix);
        const char *why = drv_name_invalid(id);
        if (why != NULL) {
            drv_warn("ignoring reservation key '%s': %s", id, why);
            continue;
        }
        g_autofree char *text = g_strndup(r.kvs[i].value, r.kvs[i].value_len);
        json_object *o = json_tokener_parse(text);
        ctl_mig_resv *v = g_new0(ctl_mig_resv, 1);
        v->id = g_strdup(id);
        if (o != NULL && json_object_is_type(o, json_type_object)) {
            v->job_id = g_strdup(s_jstr(o, "job"));
            v->host = g_strdup(s_jstr(o, "host"));
            v->domain = g_strdup(s_jstr(o, "domain"));
            v->vcpus = (uint32_t)s_jint(o, "vcpus");
            v->memory_kib = (uint64_t)s_jint(o, "memory_kib");
            v->created_ms = s_jint(o, "created_ms");
        } else {
            drv_warn("reservation '%s' is not JSON; it will be reaped", v->id);
        }
        json_object_put(o);
        g_ptr_array_add(out, v);
    }
    drv_etcd_range_clear(&r);
    *ret = out;
    return 0;
}

/* ------------------------------------------------------------ reads through the etcd worker */

typedef struct {
    ctl *c;
    char *id;        /* get; NULL for a list */
    GPtrArray *jobs; /* list: the result */
    bool with_resv;  /* list: the reservations too */
    GPtrArray *resv;
    ctl_job_resv_list_fn resv_fn;
    drv_job *job; /* get: the result, NULL when absent */
    ctl_job_list_fn list_fn;
    ctl_job_get_fn get_fn;
    void *data;
    GDestroyNotify data_free;
} s_read;

static void s_read_free(gpointer p)
{
    s_read *q = p;
    g_free(q->id);
    if (q->jobs != NULL)
        g_ptr_array_unref(q->jobs);
    if (q->resv != NULL)
        g_ptr_array_unref(q->resv);
    drv_job_destroy(&q->job);
    if (q->data_free != NULL && q->data != NULL)
        q->data_free(q->data);
    g_free(q);
}

static int s_read_work(ctl_store *store, void *data, drv_error **err)
{
    s_read *q = data;
    if (q->with_resv && s_list_resv_from(store, &q->resv, err) < 0)
        return -1;
    if (q->id == NULL)
        return ctl_job_store_list_from(store, &q->jobs, err);
    g_autofree char *key = ctl_store_key(store, "jobs/%s", q->id);
    g_autofree char *text = NULL;
    int found = drv_etcd_get_str(ctl_store_etcd(store), key, &text, NULL, err);
    if (found < 0)
        return -1;
    if (found > 0 && drv_job_from_json_string(text, -1, &q->job, err) < 0)
        return -1;
    return 0;
}

static void s_read_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    s_read *q = data;
    (void)attempted;
    if (q->resv_fn != NULL)
        q->resv_fn(q->c, err == NULL ? q->jobs : NULL, err == NULL ? q->resv : NULL, err, q->data);
    else if (q->list_fn != NULL)
        q->list_fn(q->c, err == NULL ? q->jobs : NULL, err, q->data);
    else
        q->get_fn(q->c, err == NULL ? q->job : NULL, err, q->data);
}

static int s_read_submit(ctl *c, s_read *q, drv_error **err)
{
    q->c = c;
    if (ctl_async_submit(c, s_read_work, s_read_done, q, s_read_free, err) < 0) {
        q->data_free = NULL; /* the caller keeps its data on a refusal */
        s_read_free(q);
        return -1;
    }
    return 0;
}

int ctl_job_store_list_async(ctl *c, ctl_job_list_fn fn, void *data, GDestroyNotify data_free,
                             drv_error **err)
{
    s_read *q = g_new0(s_read, 1);
    q->list_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_read_submit(c, q, err);
}

int ctl_job_store_get_async(ctl *c, const char *id, ctl_job_get_fn fn, void *data,
                            GDestroyNotify data_free, drv_error **err)
{
    s_read *q = g_new0(s_read, 1);
    q->id = g_strdup(id);
    q->get_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_read_submit(c, q, err);
}

int ctl_job_store_list_with_resv_async(ctl *c, ctl_job_resv_list_fn fn, void *data,
                                       GDestroyNotify data_free, drv_error **err)
{
    s_read *q = g_new0(s_read, 1);
    q->with_resv = true;
    q->resv_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_read_submit(c, q, err);
}
