/* log.c — see log.h. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char s_component[64] = "drover";
static drv_log_level s_min_level = DRV_LOG_INFO;
static const char *const s_names[DRV_LOG_LAST] = {"debug", "info", "warn", "error"};

int drv_log_level_from_string(const char *name, drv_log_level *ret_level)
{
    for (int i = 0; name != NULL && i < DRV_LOG_LAST; i++) {
        if (g_ascii_strcasecmp(name, s_names[i]) == 0) {
            *ret_level = (drv_log_level)i;
            return 0;
        }
    }
    return -1;
}

void drv_log_init(const char *component, drv_log_level min_level)
{
    g_strlcpy(s_component, component ? component : "drover", sizeof(s_component));
    s_min_level = min_level;
    drv_log_level env_level;
    if (drv_log_level_from_string(getenv("DROVER_LOG_LEVEL"), &env_level) == 0)
        s_min_level = env_level;
}

char *drv_log_escape(const char *s)
{
    GString *out = g_string_sized_new(s != NULL ? strlen(s) : 0);
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\x%02x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    return g_string_free(out, FALSE);
}

void drv_log(drv_log_level level, const char *fmt, ...)
{
    if (level < s_min_level || level >= DRV_LOG_LAST)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *raw = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *msg = drv_log_escape(raw);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000, s_names[level],
            s_component, msg);
}
