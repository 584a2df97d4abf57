/* error.h — an error that carries its context (etcd HTTP status and message, libvirt error code and
 * text, XML line) up to the one place that handles it.
 *
 * Convention (systemd style): a fallible function returns 0 on success or a negative value on
 * failure, and on failure, if the caller passed a non-NULL `drv_error **err` pointing at NULL,
 * stores a new error the caller owns. Outputs (`ret_*`) are written only on success. */
#ifndef DROVER_ERROR_H
#define DROVER_ERROR_H

#include <glib.h>
#include <stdarg.h>

typedef enum {
    DRV_ERR_INTERNAL = 0,    /* a bug or an unexpected state */
    DRV_ERR_INVALID,         /* bad input: arguments, config, malformed XML or message */
    DRV_ERR_NOT_FOUND,       /* unknown domain, host, key, job */
    DRV_ERR_EXISTS,          /* already defined / create-if-absent lost */
    DRV_ERR_CONFLICT,        /* CAS lost, wrong state for the operation */
    DRV_ERR_NO_ROOM,         /* the scheduler found no host */
    DRV_ERR_UNAVAILABLE,     /* etcd / controller / agent / libvirtd unreachable */
    DRV_ERR_TIMEOUT,         /* a deadline passed */
    DRV_ERR_IO,              /* OS-level I/O */
    DRV_ERR_ETCD,            /* etcd answered with an error (code = HTTP status) */
    DRV_ERR_LIBVIRT,         /* libvirt failed (code = virErrorNumber) */
    DRV_ERR_PROTO,           /* truncated, garbled, oversized or wrong-version frame */
    DRV_ERR_UNKNOWN_OUTCOME, /* an action was asked for and whether it took effect is not known */
    DRV_ERR_DENIED,          /* no credential, unknown key, or a role that may not do this */
    DRV_ERR_LAST
} drv_err_kind;

typedef struct drv_error {
    drv_err_kind kind;
    int code;      /* HTTP status for ETCD, virErrorNumber for LIBVIRT, errno for IO, else 0 */
    int line;      /* line of the offending input (XML, config), else 0 */
    char *message; /* human-readable, names the object and the cause */
} drv_error;

/* Stores a new error in *err if err != NULL and *err == NULL (the first error wins). Returns -1 so
 * callers can write `return drv_error_set(err, ...);`. */
int drv_error_set(drv_error **err, drv_err_kind kind, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
int drv_error_setv(drv_error **err, drv_err_kind kind, int code, const char *fmt, va_list ap);
/* Prepends "<prefix>: " to an existing error's message; no-op when err or *err is NULL. */
void drv_error_prefix(drv_error **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Moves *src into *dst (if dst != NULL and *dst == NULL), else frees it. */
void drv_error_propagate(drv_error **dst, drv_error *src);
void drv_error_destroy(drv_error **err);
/* For g_autoptr(drv_error): an error freed when its variable goes out of scope. */
static inline void drv_error_autoptr_cleanup(drv_error *err)
{
    drv_error_destroy(&err);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(drv_error, drv_error_autoptr_cleanup)
const char *drv_err_kind_to_string(drv_err_kind kind);
/* Parses a name from drv_err_kind_to_string(); returns DRV_ERR_INTERNAL for unknown names. */
drv_err_kind drv_err_kind_from_string(const char *name);

#endif
