/* config.c — see config.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct drv_config {
    GKeyFile *kf;
    char *path;
};

drv_config *drv_config_new_empty(void)
{
    drv_config *self = g_new0(drv_config, 1);
    self->kf = g_key_file_new();
    self->path = g_strdup("(defaults)");
    return self;
}

drv_config *drv_config_load(const char *path, drv_error **err)
{
    drv_config *self = drv_config_new_empty();
    g_free(self->path);
    self->path = g_strdup(path);
    GError *gerr = NULL;
    if (!g_key_file_load_from_file(self->kf, path, G_KEY_FILE_NONE, &gerr)) {
        drv_error_set(err, DRV_ERR_INVALID, gerr->code, "config '%s': %s", path, gerr->message);
        g_error_free(gerr);
        drv_config_destroy(&self);
        return NULL;
    }
    return self;
}

void drv_config_destroy(drv_config **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    g_key_file_free((*self_p)->kf);
    g_free((*self_p)->path);
    g_free(*self_p);
    *self_p = NULL;
}

const char *drv_config_path(const drv_config *self)
{
    return self->path;
}

static char *s_raw(const drv_config *self, const char *group, const char *key)
{
    char *v = g_key_file_get_value(self->kf, group, key, NULL);
    if (v != NULL)
        g_strstrip(v);
    return v;
}

int drv_config_get_string(const drv_config *self, const char *group, const char *key,
                          const char *def, char **ret, drv_error **err)
{
    GError *gerr = NULL;
    char *v = g_key_file_get_string(self->kf, group, key, &gerr);
    if (v == NULL) {
        bool missing = gerr->code == G_KEY_FILE_ERROR_KEY_NOT_FOUND ||
                       gerr->code == G_KEY_FILE_ERROR_GROUP_NOT_FOUND;
        if (!missing) {
            drv_error_set(err, DRV_ERR_INVALID, 0, "config '%s': [%s] %s: %s", self->path, group,
                          key, gerr->message);
            g_error_free(gerr);
            return -1;
        }
        g_error_free(gerr);
        *ret = g_strdup(def);
        return 0;
    }
    *ret = g_strstrip(v);
    return 0;
}

int drv_config_get_int(const drv_config *self, const char *group, const char *key, int64_t def,
                       int64_t min, int64_t max, int64_t *ret, drv_error **err)
{
    g_autofree char *v = s_raw(self, group, key);
    if (v == NULL) {
        *ret = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "config '%s': [%s] %s: '%s' is not an integer", self->path, group, key,
                             v);
    if (n < min || n > max)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "config '%s': [%s] %s: %lld is out of range [%lld, %lld]", self->path,
                             group, key, n, (long long)min, (long long)max);
    *ret = n;
    return 0;
}

int drv_config_get_double(const drv_config *self, const char *group, const char *key, double def,
                          double min, double max, double *ret, drv_error **err)
{
    g_autofree char *v = s_raw(self, group, key);
    if (v == NULL) {
        *ret = def;
        return 0;
    }
    char *end = NULL;
    double d = g_ascii_strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(d))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "config '%s': [%s] %s: '%s' is not a number",
                             self->path, group, key, v);
    if (d < min || d > max)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "config '%s': [%s] %s: %g is out of range [%g, %g]", self->path, group,
                             key, d, min, max);
    *ret = d;
    return 0;
}

int drv_config_get_bool(const drv_config *self, const char *group, const char *key, bool def,
                        bool *ret, drv_error **err)
{
    g_autofree char *v = s_raw(self, group, key);
    if (v == NULL) {
        *ret = def;
        return 0;
    }
    if (!g_ascii_strcasecmp(v, "true") || !g_ascii_strcasecmp(v, "yes") || !strcmp(v, "1")) {
        *ret = true;
        return 0;
    }
    if (!g_ascii_strcasecmp(v, "false") || !g_ascii_strcasecmp(v, "no") || !strcmp(v, "0")) {
        *ret = false;
        return 0;
    }
    return drv_error_set(err, DRV_ERR_INVALID, 0,
                         "config '%s': [%s] %s: '%s' is not a boolean (true/false)", self->path,
                         group, key, v);
}

int drv_config_get_strv(const drv_config *self, const char *group, const char *key, char ***ret,
                        drv_error **err)
{
    g_autofree char *v = s_raw(self, group, key);
    GPtrArray *out = g_ptr_array_new();
    if (v != NULL) {
        char **parts = g_strsplit_set(v, ",;", -1);
        for (char **p = parts; *p != NULL; p++) {
            g_strstrip(*p);
            if (**p != '\0')
                g_ptr_array_add(out, g_strdup(*p));
        }
        g_strfreev(parts);
    }
    g_ptr_array_add(out, NULL);
    *ret = (char **)g_ptr_array_free(out, FALSE);
    return 0;
}

char **drv_config_keys(const drv_config *self, const char *group)
{
    char **keys = g_key_file_get_keys(self->kf, group, NULL, NULL);
    return keys ? keys : g_new0(char *, 1);
}

int drv_parse_size_kib(const char *text, uint64_t default_unit_kib, uint64_t *ret_kib)
{
    if (text == NULL)
        return -1;
    while (g_ascii_isspace(*text))
        text++;
    if (!g_ascii_isdigit(*text))
        return -1;
    char *end = NULL;
    errno = 0;
    double n = g_ascii_strtod(text, &end);
    if (errno != 0 || n < 0)
        return -1;
    while (g_ascii_isspace(*end))
        end++;
    uint64_t unit = default_unit_kib;
    if (*end != '\0') {
        char u = g_ascii_toupper(*end);
        const char *rest = end + 1;
        if (u == 'K')
            unit = 1;
        else if (u == 'M')
            unit = 1024;
        else if (u == 'G')
            unit = 1024ull * 1024;
        else if (u == 'T')
            unit = 1024ull * 1024 * 1024;
        else
            return -1;
        if (!g_ascii_strcasecmp(rest, "") || !g_ascii_strcasecmp(rest, "iB") ||
            !g_ascii_strcasecmp(rest, "B"))
            ;
        else
            return -1;
    }
    double kib = n * (double)unit;
    if (kib > 1.8e19)
        return -1;
    *ret_kib = (uint64_t)(kib + 0.5);
    return 0;
}

char *drv_format_size(uint64_t bytes)
{
    char *s = g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
    /* GLib puts a no-break space (U+00A0, two bytes) before the unit: columns are counted in bytes
     */
    char *nbsp = strstr(s, "\xc2\xa0");
    if (nbsp == NULL)
        return s;
    size_t at = (size_t)(nbsp - s);
    /* "3.0" -> "3" (the decimal point may be ',' in some locales) */
    size_t keep = at;
    if (at >= 3 && s[at - 1] == '0' && !g_ascii_isdigit(s[at - 2]) && g_ascii_isdigit(s[at - 3]))
        keep = at - 2;
    char *out = g_strdup_printf("%.*s %s", (int)keep, s, nbsp + 2);
    g_free(s);
    return out;
}

char *drv_format_size_kib(uint64_t kib)
{
    if (kib == 0)
        return g_strdup("0 KiB");
    return drv_format_size(kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024);
}
