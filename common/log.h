/* log.h — leveled logging to stderr with a timestamp and the component name.
 * Library code logs at debug only; daemons log once where they handle an error. */
#ifndef DROVER_LOG_H
#define DROVER_LOG_H

#include <glib.h>

typedef enum {
    DRV_LOG_DEBUG = 0,
    DRV_LOG_INFO,
    DRV_LOG_WARN,
    DRV_LOG_ERROR,
    DRV_LOG_LAST
} drv_log_level;

/* Sets the component name shown on each line and the lowest level printed (default "drover", INFO).
 * The environment variable DROVER_LOG_LEVEL (debug|info|warn|error) overrides min_level. */
void drv_log_init(const char *component, drv_log_level min_level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int drv_log_level_from_string(const char *name, drv_log_level *ret_level);
void drv_log(drv_log_level level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A copy of s (g_free) with every control character (below 0x20, and 0x7f) written as \xNN, so
 * that a crafted name cannot forge a log line. drv_log applies it to every message it prints. */
char *drv_log_escape(const char *s);

#define drv_debug(...) drv_log(DRV_LOG_DEBUG, __VA_ARGS__)
#define drv_info(...)  drv_log(DRV_LOG_INFO, __VA_ARGS__)
#define drv_warn(...)  drv_log(DRV_LOG_WARN, __VA_ARGS__)
#define drv_err(...)   drv_log(DRV_LOG_ERROR, __VA_ARGS__)

#endif
