/* curve.h — CURVE keys (ZeroMQ's CurveZMQ) for drover's sockets: key files, z85 checks and the
 * socket options of a CURVE client or server.
 *
 * A secret key file holds the z85 secret key (40 characters) on one line; it must be a regular
 * file readable by its owner only (no group or other permission bits), else it is refused. The
 * public key is derived from the secret one. A public key file holds the z85 public key. Every
 * function returns 0, or -1 with an error naming the file. */
#ifndef DROVER_CURVE_H
#define DROVER_CURVE_H

#include "error.h"

#include <stdbool.h>

#define DRV_Z85_KEY_LEN 40 /* a 32-byte key in z85, without the terminating NUL */

/* The ZAP domains the controller sets on its sockets: the ZAP handler tells them apart. */
#define DRV_ZAP_DOMAIN_AGENTS  "drover-agents"
#define DRV_ZAP_DOMAIN_CLIENTS "drover-clients"
#define DRV_ZAP_DOMAIN_EVENTS  "drover-events"

/* True when s is exactly 40 z85 characters that decode to a 32-byte key. */
bool drv_curve_key_valid(const char *s);
/* Writes a fresh key pair: path_base.key (secret, mode 0600, created new: an existing file is
 * refused) and path_base.pub (public, 0644). ret_public (41 bytes) gets the public key. */
int drv_curve_keygen(const char *path_base, char ret_public[DRV_Z85_KEY_LEN + 1], drv_error **err);
/* Reads a secret key file (mode checked, see above); ret_public may be NULL. */
int drv_curve_read_secret(const char *path, char ret_secret[DRV_Z85_KEY_LEN + 1],
                          char ret_public[DRV_Z85_KEY_LEN + 1], drv_error **err);
/* A public key given as itself (40 z85 characters) or as the path of a file holding it. */
int drv_curve_read_public(const char *key_or_path, char ret_public[DRV_Z85_KEY_LEN + 1],
                          drv_error **err);
/* Socket options of a CURVE server (before bind): secret key and ZAP domain. */
int drv_curve_server(void *sock, const char *secret, const char *zap_domain, drv_error **err);
/* Socket options of a CURVE client (before connect): own key pair and the pinned server key. */
int drv_curve_client(void *sock, const char *secret, const char *public_key,
                     const char *server_public, drv_error **err);

#endif
