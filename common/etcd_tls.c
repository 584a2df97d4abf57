/* etcd_tls.c — TLS settings of the etcd client's curl handles (unary calls and watches).
 *
 * etcd serves https when started with --cert-file/--key-file and checks client certificates with
 * --client-cert-auth --trusted-ca-file. Our side gives the CA to verify etcd by (peer and host name
 * verification stay on: a certificate for another name is refused) and the client pair. */
#include "etcd_private.h"

#include <errno.h>
#include <glib.h>
#include <unistd.h>

static int s_readable(const char *what, const char *path, drv_error **err)
{
    if (access(path, R_OK) == 0)
        return 0;
    int saved = errno;
    drv_error_set(err, DRV_ERR_INVALID, saved, "etcd TLS: %s '%s' cannot be read: %s", what, path,
                  g_strerror(saved));
    return -1;
}

int drv_etcd_tls_apply(CURL *c, const drv_etcd_tls *tls, drv_error **err)
{
    if (tls == NULL)
        return 0;
    if ((tls->cert_file == NULL) != (tls->key_file == NULL)) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "etcd TLS: a client certificate needs its key and the reverse (%s given "
                      "without %s)",
                      tls->cert_file != NULL ? "certificate" : "key",
                      tls->cert_file != NULL ? "key" : "certificate");
        return -1;
    }
    if (tls->ca_file != NULL) {
        if (s_readable("CA file", tls->ca_file, err) < 0)
            return -1;
        curl_easy_setopt(c, CURLOPT_CAINFO, tls->ca_file);
    }
    if (tls->cert_file != NULL) {
        if (s_readable("client certificate", tls->cert_file, err) < 0 ||
            s_readable("client key", tls->key_file, err) < 0)
            return -1;
        curl_easy_setopt(c, CURLOPT_SSLCERT, tls->cert_file);
        curl_easy_setopt(c, CURLOPT_SSLKEY, tls->key_file);
    }
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    return 0;
}
