/* json_get.h — reading one member of a JSON object (json-c), in two manners.
 *
 * drv_json_get_*: lenient, for showing a document (the CLI's views). A NULL or non-object `o`, a
 * missing member, a JSON null or a member of another type gives the default; they never fail.
 * Returned strings and objects are borrowed from `o`.
 *
 * drv_json_read_*: strict, for decoding a stored or received document into a struct (jobs/, the
 * controller's requests). An absent or null member is allowed unless `required`; a present member
 * of the wrong type or out of range is an error of kind DRV_ERR_INVALID that names `what` and the
 * key
 * (`job j1 migrate: "phase_ms" must be an integer`). Return 0 or -1 (error.h). */
#ifndef DROVER_JSON_GET_H
#define DROVER_JSON_GET_H

#include "error.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* The member `key` of `o`; NULL when o is not an object, the member is missing or null. */
json_object *drv_json_get(json_object *o, const char *key);
/* A string member; def when missing, null or not a string. */
const char *drv_json_get_str(json_object *o, const char *key, const char *def);
/* An integer member: a JSON number (a double is truncated) or a string of decimal digits (how etcd
 * and the API write int64); def otherwise. */
int64_t drv_json_get_int(json_object *o, const char *key, int64_t def);
/* drv_json_get_int, with def for a negative number as well. */
uint64_t drv_json_get_u64(json_object *o, const char *key, uint64_t def);
/* A boolean member; def when missing, null or not a boolean. */
bool drv_json_get_bool(json_object *o, const char *key, bool def);
/* An array-of-strings member as a new NULL-terminated vector (g_strfreev): its string elements in
 * order (others left out); an empty vector when missing, null or not an array. */
char **drv_json_get_strv(json_object *o, const char *key);

/* Refuses any member of o whose key is not in allowed (NULL-terminated). */
int drv_json_read_keys(json_object *o, const char *const *allowed, const char *what,
                       drv_error **err);
/* An object member: *ret borrowed, NULL when absent and not required. */
int drv_json_read_object(json_object *o, const char *key, bool required, const char *what,
                         json_object **ret, drv_error **err);
/* A non-empty string member without NUL bytes: *ret is replaced by a copy (the old value freed);
 * when absent and not required *ret is left as it is. */
int drv_json_read_str(json_object *o, const char *key, bool required, const char *what, char **ret,
                      drv_error **err);
/* An optional integer member in [0, max]: *ret = 0 when absent. */
int drv_json_read_u64(json_object *o, const char *key, uint64_t max, const char *what,
                      uint64_t *ret, drv_error **err);
/* An optional boolean member: *ret = false when absent. */
int drv_json_read_bool(json_object *o, const char *key, const char *what, bool *ret,
                       drv_error **err);

#endif
