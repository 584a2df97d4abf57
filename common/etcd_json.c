/* etcd_json.c — conversions between etcd's v3 JSON gateway encoding and drover's etcd types:
 * base64 keys and values, int64 fields sent as strings, omitted zero fields. See etcd_private.h. */
#include "etcd_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *drv_etcd_prefix_end(const void *prefix, size_t prefix_len, size_t *ret_len)
{
    const unsigned char *p = prefix;
    size_t n = prefix_len;
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0) {
        /* Nothing can be incremented: "\0" means "every key >= key". */
        *ret_len = 1;
        return g_malloc0(2);
    }
    unsigned char *end = g_malloc(n + 1);
    memcpy(end, p, n);
    end[n - 1]++;
    end[n] = '\0';
    *ret_len = n;
    return (char *)end;
}

void drv_etcd_json_set_bytes(json_object *obj, const char *field, const void *data, size_t len)
{
    g_autofree char *b64 = g_base64_encode(data, len);
    json_object_object_add(obj, field, json_object_new_string(b64));
}

void drv_etcd_json_set_int64(json_object *obj, const char *field, int64_t v)
{
    char buf[32];
    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, (gint64)v);
    json_object_object_add(obj, field, json_object_new_string(buf));
}

int64_t drv_etcd_json_get_int64(json_object *obj, const char *field)
{
    json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, field, &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        errno = 0;
        char *end;
        long long n = strtoll(json_object_get_string(v), &end, 10);
        return errno == 0 && *end == '\0' ? (int64_t)n : 0;
    }
    return json_object_get_int64(v);
}

bool drv_etcd_json_get_bool(json_object *obj, const char *field)
{
    json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, field, &v) || v == NULL)
        return false;
    return json_object_get_boolean(v);
}

int drv_etcd_json_get_bytes(json_object *obj, const char *field, char **ret, size_t *ret_len,
                            drv_error **err)
{
    json_object *v;
    if (obj == NULL || !json_object_object_get_ex(obj, field, &v) || v == NULL) {
        *ret = g_malloc0(1);
        *ret_len = 0;
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd reply: field \"%s\" is not a string",
                             field);
    const char *text = json_object_get_string(v);
    size_t text_len = (size_t)json_object_get_string_len(v);
    if (text_len % 4 != 0 || strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789+/=") != text_len)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd reply: field \"%s\" is not base64",
                             field);
    gsize n = 0;
    g_autofree guchar *raw = g_base64_decode(text, &n);
    char *out = g_malloc(n + 1);
    if (n > 0)
        memcpy(out, raw, n);
    out[n] = '\0';
    *ret = out;
    *ret_len = n;
    return 0;
}

void drv_etcd_kv_clear(drv_etcd_kv *kv)
{
    if (kv == NULL)
        return;
    g_free(kv->key);
    g_free(kv->value);
    memset(kv, 0, sizeof(*kv));
}

int drv_etcd_json_parse_kv(json_object *obj, drv_etcd_kv *kv, drv_error **err)
{
    memset(kv, 0, sizeof(*kv));
    if (!json_object_is_type(obj, json_type_object))
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd reply: a key-value is not an object");
    if (drv_etcd_json_get_bytes(obj, "key", &kv->key, &kv->key_len, err) < 0 ||
        drv_etcd_json_get_bytes(obj, "value", &kv->value, &kv->value_len, err) < 0) {
        drv_etcd_kv_clear(kv);
        return -1;
    }
    kv->create_revision = drv_etcd_json_get_int64(obj, "create_revision");
    kv->mod_revision = drv_etcd_json_get_int64(obj, "mod_revision");
    kv->version = drv_etcd_json_get_int64(obj, "version");
    kv->lease = drv_etcd_json_get_int64(obj, "lease");
    return 0;
}

void drv_etcd_range_clear(drv_etcd_range *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_kvs; i++)
        drv_etcd_kv_clear(&r->kvs[i]);
    g_free(r->kvs);
    memset(r, 0, sizeof(*r));
}

int drv_etcd_json_parse_range(json_object *obj, drv_etcd_range *ret, drv_error **err)
{
    memset(ret, 0, sizeof(*ret));
    json_object *header = NULL, *kvs = NULL;
    if (json_object_object_get_ex(obj, "header", &header))
        ret->revision = drv_etcd_json_get_int64(header, "revision");
    ret->count = drv_etcd_json_get_int64(obj, "count");
    ret->more = drv_etcd_json_get_bool(obj, "more");
    if (!json_object_object_get_ex(obj, "kvs", &kvs) || kvs == NULL)
        return 0;
    if (!json_object_is_type(kvs, json_type_array))
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd reply: \"kvs\" is not an array");
    size_t n = json_object_array_length(kvs);
    ret->kvs = g_new0(drv_etcd_kv, n > 0 ? n : 1);
    for (size_t i = 0; i < n; i++) {
        if (drv_etcd_json_parse_kv(json_object_array_get_idx(kvs, i), &ret->kvs[i], err) < 0) {
            drv_etcd_range_clear(ret);
            return -1;
        }
        ret->n_kvs = i + 1;
    }
    return 0;
}

void drv_etcd_json_set_range(json_object *obj, const void *key, size_t key_len, bool prefix,
                             const void *range_end, size_t range_end_len)
{
    if (prefix && key_len == 0) {
        /* Every key: key "\0" with range_end "\0". */
        drv_etcd_json_set_bytes(obj, "key", "", 1);
        drv_etcd_json_set_bytes(obj, "range_end", "", 1);
        return;
    }
    drv_etcd_json_set_bytes(obj, "key", key, key_len);
    if (prefix) {
        size_t end_len;
        g_autofree char *end = drv_etcd_prefix_end(key, key_len, &end_len);
        drv_etcd_json_set_bytes(obj, "range_end", end, end_len);
    } else if (range_end != NULL) {
        drv_etcd_json_set_bytes(obj, "range_end", range_end, range_end_len);
    }
}

int drv_etcd_json_http_error(long http_status, const char *body, const char *what,
                             const char *endpoint, drv_error **err)
{
    json_object *reply = json_tokener_parse(body != NULL ? body : "");
    const char *msg = NULL;
    json_object *v = NULL, *inner = NULL;
    if (reply != NULL) {
        /* unary: {"error":"..","message":"..","code":N}; streaming: {"error":{"message":..}} */
        if (json_object_object_get_ex(reply, "error", &inner) &&
            json_object_is_type(inner, json_type_object) &&
            json_object_object_get_ex(inner, "message", &v))
            msg = json_object_get_string(v);
        else if (json_object_object_get_ex(reply, "message", &v) &&
                 json_object_is_type(v, json_type_string))
            msg = json_object_get_string(v);
        else if (inner != NULL && json_object_is_type(inner, json_type_string))
            msg = json_object_get_string(inner);
    }
    g_autofree char *text = NULL;
    if (msg == NULL) {
        text = g_strndup(body != NULL ? body : "", 200);
        g_strstrip(text);
        msg = text[0] != '\0' ? text : "no message";
    }
    drv_error_set(err, DRV_ERR_ETCD, (int)http_status, "etcd %s at %s refused: %s (HTTP %ld)", what,
                  endpoint, msg, http_status);
    json_object_put(reply);
    return -1;
}
