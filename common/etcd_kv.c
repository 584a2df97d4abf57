/* etcd_kv.c — key/value calls and transactions of the etcd client: /v3/kv/put, /v3/kv/range,
 * /v3/kv/deleterange, /v3/kv/txn. See etcd.h for the contracts. */
#include "etcd_private.h"

#include <string.h>

static int s_check_key(const void *key, size_t key_len, bool prefix, const char *what,
                       drv_error **err)
{
    if (key == NULL && key_len > 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "etcd %s: key is NULL", what);
    if (key_len == 0 && !prefix)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "etcd %s: empty key", what);
    return 0;
}

static int64_t s_header_revision(json_object *reply)
{
    json_object *header;
    if (!json_object_object_get_ex(reply, "header", &header))
        return 0;
    return drv_etcd_json_get_int64(header, "revision");
}

int drv_etcd_put(drv_etcd *self, const void *key, size_t key_len, const void *value,
                 size_t value_len, int64_t lease, int64_t *ret_revision, drv_error **err)
{
    if (s_check_key(key, key_len, false, "put", err) < 0)
        return -1;
    json_object *req = json_object_new_object();
    drv_etcd_json_set_bytes(req, "key", key, key_len);
    drv_etcd_json_set_bytes(req, "value", value != NULL ? value : "", value_len);
    if (lease != 0)
        drv_etcd_json_set_int64(req, "lease", lease);
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/kv/put", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    if (ret_revision != NULL)
        *ret_revision = s_header_revision(reply);
    json_object_put(reply);
    return 0;
}

int drv_etcd_range_get(drv_etcd *self, const void *key, size_t key_len,
                       const drv_etcd_range_opts *opts, drv_etcd_range *ret, drv_error **err)
{
    drv_etcd_range_opts none = {0};
    if (opts == NULL)
        opts = &none;
    if (s_check_key(key, key_len, opts->prefix, "range", err) < 0)
        return -1;
    json_object *req = json_object_new_object();
    drv_etcd_json_set_range(req, key, key_len, opts->prefix, opts->range_end, opts->range_end_len);
    if (opts->limit > 0)
        drv_etcd_json_set_int64(req, "limit", opts->limit);
    if (opts->revision > 0)
        drv_etcd_json_set_int64(req, "revision", opts->revision);
    if (opts->keys_only)
        json_object_object_add(req, "keys_only", json_object_new_boolean(1));
    if (opts->count_only)
        json_object_object_add(req, "count_only", json_object_new_boolean(1));
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/kv/range", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    rc = drv_etcd_json_parse_range(reply, ret, err);
    json_object_put(reply);
    return rc;
}

int drv_etcd_get(drv_etcd *self, const void *key, size_t key_len, drv_etcd_range *ret,
                 drv_error **err)
{
    return drv_etcd_range_get(self, key, key_len, NULL, ret, err);
}

int drv_etcd_delete(drv_etcd *self, const void *key, size_t key_len, bool prefix,
                    drv_etcd_range *ret_prev, int64_t *ret_deleted, drv_error **err)
{
    if (s_check_key(key, key_len, prefix, "delete", err) < 0)
        return -1;
    json_object *req = json_object_new_object();
    drv_etcd_json_set_range(req, key, key_len, prefix, NULL, 0);
    if (ret_prev != NULL)
        json_object_object_add(req, "prev_kv", json_object_new_boolean(1));
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/kv/deleterange", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    if (ret_prev != NULL) {
        /* A DeleteRangeResponse carries prev_kvs where a RangeResponse has kvs. */
        json_object *prev = NULL;
        drv_etcd_range r = {0};
        json_object *shaped = json_object_new_object();
        if (json_object_object_get_ex(reply, "prev_kvs", &prev))
            json_object_object_add(shaped, "kvs", json_object_get(prev));
        json_object *header = NULL;
        if (json_object_object_get_ex(reply, "header", &header))
            json_object_object_add(shaped, "header", json_object_get(header));
        rc = drv_etcd_json_parse_range(shaped, &r, err);
        json_object_put(shaped);
        if (rc < 0) {
            json_object_put(reply);
            return -1;
        }
        r.count = drv_etcd_json_get_int64(reply, "deleted");
        *ret_prev = r;
    }
    if (ret_deleted != NULL)
        *ret_deleted = drv_etcd_json_get_int64(reply, "deleted");
    json_object_put(reply);
    return 0;
}

/* --- transactions --- */

static const char *const s_cmp_target[] = {
    [DRV_ETCD_CMP_VALUE] = "VALUE",
    [DRV_ETCD_CMP_MOD] = "MOD",
    [DRV_ETCD_CMP_CREATE] = "CREATE",
    [DRV_ETCD_CMP_VERSION] = "VERSION",
};
static const char *const s_cmp_result[] = {
    [DRV_ETCD_EQUAL] = "EQUAL",
    [DRV_ETCD_NOT_EQUAL] = "NOT_EQUAL",
    [DRV_ETCD_LESS] = "LESS",
    [DRV_ETCD_GREATER] = "GREATER",
};

static json_object *s_txn_compare(const drv_etcd_cmp *cmp, drv_error **err)
{
    if ((unsigned)cmp->target > DRV_ETCD_CMP_VERSION || (unsigned)cmp->result > DRV_ETCD_GREATER) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "etcd txn: bad compare target or result");
        return NULL;
    }
    if (s_check_key(cmp->key, cmp->key_len, false, "txn compare", err) < 0)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "target", json_object_new_string(s_cmp_target[cmp->target]));
    json_object_object_add(o, "result", json_object_new_string(s_cmp_result[cmp->result]));
    drv_etcd_json_set_bytes(o, "key", cmp->key, cmp->key_len);
    switch (cmp->target) {
    case DRV_ETCD_CMP_VALUE:
        drv_etcd_json_set_bytes(o, "value", cmp->value != NULL ? cmp->value : "", cmp->value_len);
        break;
    case DRV_ETCD_CMP_MOD:
        drv_etcd_json_set_int64(o, "mod_revision", cmp->number);
        break;
    case DRV_ETCD_CMP_CREATE:
        drv_etcd_json_set_int64(o, "create_revision", cmp->number);
        break;
    case DRV_ETCD_CMP_VERSION:
        drv_etcd_json_set_int64(o, "version", cmp->number);
        break;
    }
    return o;
}

static json_object *s_txn_op(const drv_etcd_op *op, drv_error **err)
{
    if (s_check_key(op->key, op->key_len, op->prefix && op->kind != DRV_ETCD_OP_PUT, "txn op",
                    err) < 0)
        return NULL;
    json_object *body = json_object_new_object();
    const char *name;
    switch (op->kind) {
    case DRV_ETCD_OP_PUT:
        name = "request_put";
        drv_etcd_json_set_bytes(body, "key", op->key, op->key_len);
        drv_etcd_json_set_bytes(body, "value", op->value != NULL ? op->value : "", op->value_len);
        if (op->lease != 0)
            drv_etcd_json_set_int64(body, "lease", op->lease);
        break;
    case DRV_ETCD_OP_GET:
        name = "request_range";
        drv_etcd_json_set_range(body, op->key, op->key_len, op->prefix, NULL, 0);
        break;
    case DRV_ETCD_OP_DELETE:
        name = "request_delete_range";
        drv_etcd_json_set_range(body, op->key, op->key_len, op->prefix, NULL, 0);
        break;
    default:
        json_object_put(body);
        drv_error_set(err, DRV_ERR_INVALID, 0, "etcd txn: bad op kind %d", (int)op->kind);
        return NULL;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, name, body);
    return o;
}

static int s_txn_add_ops(json_object *req, const char *field, const drv_etcd_op *ops, size_t n,
                         drv_error **err)
{
    if (n == 0)
        return 0;
    json_object *arr = json_object_new_array_ext((int)n);
    json_object_object_add(req, field, arr);
    for (size_t i = 0; i < n; i++) {
        json_object *o = s_txn_op(&ops[i], err);
        if (o == NULL)
            return -1;
        json_object_array_add(arr, o);
    }
    return 0;
}

void drv_etcd_txn_result_clear(drv_etcd_txn_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_responses; i++)
        drv_etcd_range_clear(&r->responses[i]);
    g_free(r->responses);
    memset(r, 0, sizeof(*r));
}

static int s_txn_parse(json_object *reply, drv_etcd_txn_result *ret, drv_error **err)
{
    memset(ret, 0, sizeof(*ret));
    ret->succeeded = drv_etcd_json_get_bool(reply, "succeeded");
    ret->revision = s_header_revision(reply);
    json_object *responses;
    if (!json_object_object_get_ex(reply, "responses", &responses) ||
        !json_object_is_type(responses, json_type_array))
        return 0;
    size_t n = json_object_array_length(responses);
    ret->responses = g_new0(drv_etcd_range, n > 0 ? n : 1);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(responses, i), *inner;
        drv_etcd_range *r = &ret->responses[i];
        if (json_object_object_get_ex(item, "response_range", &inner)) {
            if (drv_etcd_json_parse_range(inner, r, err) < 0) {
                drv_etcd_txn_result_clear(ret);
                return -1;
            }
        } else if (json_object_object_get_ex(item, "response_delete_range", &inner)) {
            r->count = drv_etcd_json_get_int64(inner, "deleted");
            r->revision = s_header_revision(inner);
        } else if (json_object_object_get_ex(item, "response_put", &inner)) {
            r->revision = s_header_revision(inner);
        }
        ret->n_responses = i + 1;
    }
    return 0;
}

int drv_etcd_txn(drv_etcd *self, const drv_etcd_cmp *cmps, size_t n_cmps,
                 const drv_etcd_op *success, size_t n_success, const drv_etcd_op *failure,
                 size_t n_failure, drv_etcd_txn_result *ret, drv_error **err)
{
    json_object *req = json_object_new_object();
    int rc = -1;
    json_object *reply = NULL;
    if (n_cmps > 0) {
        json_object *arr = json_object_new_array_ext((int)n_cmps);
        json_object_object_add(req, "compare", arr);
        for (size_t i = 0; i < n_cmps; i++) {
            json_object *o = s_txn_compare(&cmps[i], err);
            if (o == NULL)
                goto out;
            json_object_array_add(arr, o);
        }
    }
    if (s_txn_add_ops(req, "success", success, n_success, err) < 0 ||
        s_txn_add_ops(req, "failure", failure, n_failure, err) < 0)
        goto out;
    if (drv_etcd_call(self, "/v3/kv/txn", req, &reply, err) < 0)
        goto out;
    if (ret != NULL)
        rc = s_txn_parse(reply, ret, err);
    else
        rc = 0;
out:
    json_object_put(reply);
    json_object_put(req);
    return rc;
}
