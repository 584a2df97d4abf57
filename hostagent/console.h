/* console.h — the serial consoles `drover domain console` attaches to (like `virsh console`), one
 * session per client session id. Each CMD_CONSOLE is one poll on a worker thread: open the
 * domain's console on first use (virDomainOpenConsole on a non-blocking stream), write the input
 * the client typed, and hand back what the guest wrote since the last poll (what libvirt's event
 * loop has queued on the stream; never waiting for more). A session not polled for
 * DRV_CONSOLE_IDLE_MS is closed by the next poll of any session; `close` ends one at once.
 * Thread-safe (one mutex; a session is used by one poll at a time). */
#ifndef DROVER_AGENT_CONSOLE_H
#define DROVER_AGENT_CONSOLE_H

#include "error.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>

#define DRV_CONSOLE_IDLE_MS   30000
#define DRV_CONSOLE_MAX_READ  (64 * 1024) /* bytes handed back per poll */
#define DRV_CONSOLE_MAX_INPUT (16 * 1024) /* bytes accepted per poll */

typedef struct drv_console_table drv_console_table;

drv_console_table *drv_console_table_new(void);
/* Closes every session. NULL-safe; sets *self_p to NULL. */
void drv_console_table_destroy(drv_console_table **self_p);

/* One poll of session `id` on dom's console (conn: the connection dom came from). force: take the
 * console over from another client (VIR_DOMAIN_CONSOLE_FORCE). Appends the guest's output to out.
 * ret_closed: the guest side closed (the domain stopped) — the session is gone. Errors:
 * DRV_ERR_INVALID (no id, input too long), DRV_ERR_LIBVIRT (no console, busy: "use --force"). */
int drv_console_poll(drv_console_table *self, virConnectPtr conn, virDomainPtr dom, const char *id,
                     const guint8 *input, size_t input_len, bool close, bool force, GByteArray *out,
                     bool *ret_closed, drv_error **err);

#endif
