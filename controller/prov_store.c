/* prov_store.c — see prov_store.h. One request type for the four operations; the work function
 * runs on the etcd worker with its own store, the done function on the loop. */
#include "prov_store.h"

#include "store_async.h"

#include <string.h>

typedef enum { S_GET, S_LIST, S_PUT, S_DELETE } s_op;

typedef struct {
    ctl *c;
    s_op op;
    char *key;
    char *value;
    bool create_only;
    json_object *doc; /* S_GET result */
    GPtrArray *docs;  /* S_LIST result */
    ctl_prov_get_fn get_fn;
    ctl_prov_list_fn list_fn;
    ctl_prov_put_fn put_fn;
    void *data;
} s_req;

static void s_req_free(gpointer p)
{
    s_req *q = p;
    g_free(q->key);
    g_free(q->value);
    if (q->doc != NULL)
        json_object_put(q->doc);
    if (q->docs != NULL)
        g_ptr_array_unref(q->docs);
    g_free(q);
}

static void s_doc_free(gpointer p)
{
    json_object_put(p);
}

static json_object *s_parse(const char *text, size_t len, const char *key, drv_error **err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    json_tokener_free(tok);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        if (o != NULL)
            json_object_put(o);
        drv_error_set(err, DRV_ERR_PROTO, 0, "%s: the stored record is not a JSON object", key);
        return NULL;
    }
    return o;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_req *q = data;
    drv_etcd *etcd = ctl_store_etcd(store);
    g_autofree char *key = ctl_store_key(store, "%s", q->key);
    switch (q->op) {
    case S_GET: {
        g_autofree char *text = NULL;
        int found = drv_etcd_get_str(etcd, key, &text, NULL, err);
        if (found < 0)
            return -1;
        if (found > 0 && (q->doc = s_parse(text, strlen(text), q->key, err)) == NULL)
            return -1;
        return 0;
    }
    case S_LIST: {
        drv_etcd_range r = {0};
        drv_etcd_range_opts opts = {.prefix = true};
        if (drv_etcd_range_get(etcd, key, strlen(key), &opts, &r, err) < 0)
            return -1;
        q->docs = g_ptr_array_new_with_free_func(s_doc_free);
        for (size_t i = 0; i < r.n_kvs; i++) {
            drv_error *e = NULL;
            json_object *o = s_parse(r.kvs[i].value, r.kvs[i].value_len, q->key, &e);
            if (o != NULL)
                g_ptr_array_add(q->docs, o);
            drv_error_destroy(&e);
        }
        drv_etcd_range_clear(&r);
        return 0;
    }
    case S_PUT: {
        if (!q->create_only)
            return drv_etcd_put_str(etcd, key, q->value, 0, NULL, err);
        drv_etcd_cmp cmp = {.target = DRV_ETCD_CMP_CREATE,
                            .result = DRV_ETCD_EQUAL,
                            .key = key,
                            .key_len = strlen(key),
                            .number = 0};
        drv_etcd_op put = {.kind = DRV_ETCD_OP_PUT,
                           .key = key,
                           .key_len = strlen(key),
                           .value = q->value,
                           .value_len = strlen(q->value)};
        drv_etcd_txn_result res = {0};
        if (drv_etcd_txn(etcd, &cmp, 1, &put, 1, NULL, 0, &res, err) < 0)
            return -1;
        bool ok = res.succeeded;
        drv_etcd_txn_result_clear(&res);
        if (!ok)
            return drv_error_set(err, DRV_ERR_EXISTS, 0, "%s already exists", q->key);
        return 0;
    }
    case S_DELETE:
        return drv_etcd_delete(etcd, key, strlen(key), false, NULL, NULL, err);
    }
    return 0;
}

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    s_req *q = data;
    (void)loop_ctx;
    switch (q->op) {
    case S_GET:
        q->get_fn(q->c, err == NULL ? q->doc : NULL, err, q->data);
        break;
    case S_LIST:
        q->list_fn(q->c, err == NULL ? q->docs : NULL, err, q->data);
        break;
    case S_PUT:
    case S_DELETE:
        q->put_fn(q->c, err, attempted, q->data);
        break;
    }
}

static int s_submit(ctl *c, s_req *q, drv_error **err)
{
    q->c = c;
    if (ctl_async_submit(c, s_work, s_done, q, s_req_free, err) < 0) {
        s_req_free(q);
        return -1;
    }
    return 0;
}

int ctl_prov_get(ctl *c, const char *key, ctl_prov_get_fn fn, void *data, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->op = S_GET;
    q->key = g_strdup(key);
    q->get_fn = fn;
    q->data = data;
    return s_submit(c, q, err);
}

int ctl_prov_list(ctl *c, const char *key_prefix, ctl_prov_list_fn fn, void *data, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->op = S_LIST;
    q->key = g_strdup(key_prefix);
    q->list_fn = fn;
    q->data = data;
    return s_submit(c, q, err);
}

int ctl_prov_put(ctl *c, const char *key, json_object *doc, bool create_only, ctl_prov_put_fn fn,
                 void *data, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->op = S_PUT;
    q->key = g_strdup(key);
    q->value = g_strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    q->create_only = create_only;
    q->put_fn = fn;
    q->data = data;
    return s_submit(c, q, err);
}

int ctl_prov_delete(ctl *c, const char *key, ctl_prov_put_fn fn, void *data, drv_error **err)
{
    s_req *q = g_new0(s_req, 1);
    q->op = S_DELETE;
    q->key = g_strdup(key);
    q->put_fn = fn;
    q->data = data;
    return s_submit(c, q, err);
}

const char *ctl_prov_str(json_object *doc, const char *key)
{
    json_object *v = NULL;
    if (doc == NULL || !json_object_object_get_ex(doc, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int64_t ctl_prov_int(json_object *doc, const char *key)
{
    json_object *v = NULL;
    return doc != NULL && json_object_object_get_ex(doc, key, &v) ? json_object_get_int64(v) : 0;
}

bool ctl_prov_bool(json_object *doc, const char *key)
{
    json_object *v = NULL;
    return doc != NULL && json_object_object_get_ex(doc, key, &v) && json_object_get_boolean(v);
}
