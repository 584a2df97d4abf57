/* json_get.c — see json_get.h. */
#include "json_get.h"

#include <inttypes.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------------
 * Lenient. */

json_object *drv_json_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v; /* a JSON null is stored as NULL */
}

const char *drv_json_get_str(json_object *o, const char *key, const char *def)
{
    json_object *v = drv_json_get(o, key);
    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

int64_t drv_json_get_int(json_object *o, const char *key, int64_t def)
{
    json_object *v = drv_json_get(o, key);
    if (v == NULL)
        return def;
    switch (json_object_get_type(v)) {
    case json_type_int:
    case json_type_double:
        return json_object_get_int64(v);
    case json_type_string: {
        gint64 n = 0;
        return g_ascii_string_to_signed(json_object_get_string(v), 10, INT64_MIN, INT64_MAX, &n,
                                        NULL)
                   ? n
                   : def;
    }
    default:
        return def;
    }
}

uint64_t drv_json_get_u64(json_object *o, const char *key, uint64_t def)
{
    int64_t n = drv_json_get_int(o, key, -1);
    return n < 0 ? def : (uint64_t)n;
}

bool drv_json_get_bool(json_object *o, const char *key, bool def)
{
    json_object *v = drv_json_get(o, key);
    return v != NULL && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v)
                                                                  : def;
}

/* ------------------------------------------------------------------------------------------------
 * Strict. */

int drv_json_read_keys(json_object *o, const char *const *allowed, const char *what,
                       drv_error **err)
{
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unknown key \"%s\"", what, key);
    }
    return 0;
}

int drv_json_read_object(json_object *o, const char *key, bool required, const char *what,
                         json_object **ret, drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        if (required)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing \"%s\"", what, key);
        *ret = NULL;
        return 0;
    }
    if (!json_object_is_type(v, json_type_object))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be an object", what, key);
    *ret = v;
    return 0;
}

int drv_json_read_str(json_object *o, const char *key, bool required, const char *what, char **ret,
                      drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        if (required)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing \"%s\"", what, key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be a string", what, key);
    const char *s = json_object_get_string(v);
    if (!*s || strlen(s) != (size_t)json_object_get_string_len(v))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be a non-empty string", what,
                             key);
    g_free(*ret);
    *ret = g_strdup(s);
    return 0;
}

int drv_json_read_u64(json_object *o, const char *key, uint64_t max, const char *what,
                      uint64_t *ret, drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        *ret = 0;
        return 0;
    }
    if (!json_object_is_type(v, json_type_int))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be an integer", what, key);
    int64_t i = json_object_get_int64(v);
    if (i < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must not be negative", what, key);
    if ((uint64_t)i > max)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" is too large (%" PRId64 ")", what,
                             key, i);
    *ret = (uint64_t)i;
    return 0;
}

int drv_json_read_bool(json_object *o, const char *key, const char *what, bool *ret,
                       drv_error **err)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !v) {
        *ret = false;
        return 0;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: \"%s\" must be true or false", what,
                             key);
    *ret = json_object_get_boolean(v);
    return 0;
}

char **drv_json_get_strv(json_object *o, const char *key)
{
    json_object *v = drv_json_get(o, key);
    GPtrArray *out = g_ptr_array_new();
    size_t n =
        v != NULL && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (e != NULL && json_object_is_type(e, json_type_string))
            g_ptr_array_add(out, g_strdup(json_object_get_string(e)));
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}
