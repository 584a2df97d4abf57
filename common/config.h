/* config.h — ini-style key-file configuration (GKeyFile underneath). Every error names the file,
 * the group and the key. A missing key returns the default; a present but malformed one is an
 * error. */
#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include "error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct drv_config drv_config;

/* Loads path; on failure returns NULL and an error naming the file (GKeyFile quotes the bad line).
 */
drv_config *drv_config_load(const char *path, drv_error **err);
/* An empty config (every getter returns its default); used when no file is given. */
drv_config *drv_config_new_empty(void);
void drv_config_destroy(drv_config **self_p);
const char *drv_config_path(const drv_config *self);

/* Getters: 0 and *ret set (owned copy for strings/strv) or -1 with an error naming file, group,
 * key. */
int drv_config_get_string(const drv_config *self, const char *group, const char *key,
                          const char *def, char **ret, drv_error **err);
int drv_config_get_int(const drv_config *self, const char *group, const char *key, int64_t def,
                       int64_t min, int64_t max, int64_t *ret, drv_error **err);
int drv_config_get_double(const drv_config *self, const char *group, const char *key, double def,
                          double min, double max, double *ret, drv_error **err);
int drv_config_get_bool(const drv_config *self, const char *group, const char *key, bool def,
                        bool *ret, drv_error **err);
/* A comma- or semicolon-separated list; NULL-terminated, free with g_strfreev. Missing key → empty.
 */
int drv_config_get_strv(const drv_config *self, const char *group, const char *key, char ***ret,
                        drv_error **err);
/* Keys of a group (e.g. [labels]); NULL-terminated, g_strfreev; missing group → empty. */
char **drv_config_keys(const drv_config *self, const char *group);

/* Parses sizes such as "512", "512KiB", "64M", "2GiB", "1T" into KiB (plain numbers are KiB when
 * default_unit_kib is 1, MiB when 1024). Returns -1 on garbage. */
int drv_parse_size_kib(const char *text, uint64_t default_unit_kib, uint64_t *ret_kib);
/* A size for people: GLib's g_format_size_full (IEC units, one decimal) with an ASCII space and a
 * whole number without ".0": "0 bytes", "512 bytes", "1.5 KiB", "170.2 MiB", "3 GiB". Owned. */
char *drv_format_size(uint64_t bytes);
/* drv_format_size of a size counted in KiB ("0 KiB" for 0, "512 MiB", "11.4 GiB"). Owned. */
char *drv_format_size_kib(uint64_t kib);

#endif
