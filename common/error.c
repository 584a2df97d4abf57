/* error.c — see error.h. */
#include "error.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_kind_names[DRV_ERR_LAST] = {
    [DRV_ERR_INTERNAL] = "internal",
    [DRV_ERR_INVALID] = "invalid",
    [DRV_ERR_NOT_FOUND] = "not-found",
    [DRV_ERR_EXISTS] = "exists",
    [DRV_ERR_CONFLICT] = "conflict",
    [DRV_ERR_NO_ROOM] = "no-room",
    [DRV_ERR_UNAVAILABLE] = "unavailable",
    [DRV_ERR_TIMEOUT] = "timeout",
    [DRV_ERR_IO] = "io",
    [DRV_ERR_ETCD] = "etcd",
    [DRV_ERR_LIBVIRT] = "libvirt",
    [DRV_ERR_PROTO] = "protocol",
    [DRV_ERR_UNKNOWN_OUTCOME] = "unknown-outcome",
    [DRV_ERR_DENIED] = "denied",
};

int drv_error_setv(drv_error **err, drv_err_kind kind, int code, const char *fmt, va_list ap)
{
    if (err == NULL || *err != NULL)
        return -1;
    drv_error *e = g_new0(drv_error, 1);
    e->kind = kind < DRV_ERR_LAST ? kind : DRV_ERR_INTERNAL;
    e->code = code;
    e->message = g_strdup_vprintf(fmt, ap);
    *err = e;
    return -1;
}

int drv_error_set(drv_error **err, drv_err_kind kind, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    drv_error_setv(err, kind, code, fmt, ap);
    va_end(ap);
    return -1;
}

void drv_error_prefix(drv_error **err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *msg = g_strdup_printf("%s: %s", prefix, (*err)->message);
    g_free((*err)->message);
    (*err)->message = msg;
}

void drv_error_propagate(drv_error **dst, drv_error *src)
{
    if (src == NULL)
        return;
    if (dst != NULL && *dst == NULL) {
        *dst = src;
        return;
    }
    drv_error_destroy(&src);
}

void drv_error_destroy(drv_error **err)
{
    if (err == NULL || *err == NULL)
        return;
    g_free((*err)->message);
    g_free(*err);
    *err = NULL;
}

const char *drv_err_kind_to_string(drv_err_kind kind)
{
    return kind < DRV_ERR_LAST ? s_kind_names[kind] : "internal";
}

drv_err_kind drv_err_kind_from_string(const char *name)
{
    for (int k = 0; name != NULL && k < DRV_ERR_LAST; k++)
        if (strcmp(s_kind_names[k], name) == 0)
            return (drv_err_kind)k;
    return DRV_ERR_INTERNAL;
}
