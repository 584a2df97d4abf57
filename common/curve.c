/* curve.c — see curve.h. */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

bool drv_curve_key_valid(const char *s)
{
    if (s == NULL || strlen(s) != DRV_Z85_KEY_LEN)
        return false;
    uint8_t bin[32];
    return zmq_z85_decode(bin, s) != NULL;
}

/* The file's first line, trimmed of its newline; refuses anything but one key. */
static int s_read_key_line(const char *path, const char *what, char ret[DRV_Z85_KEY_LEN + 1],
                           drv_error **err)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        drv_error_set(err, DRV_ERR_IO, gerr->code, "%s '%s': %s", what, path, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    g_strchomp(text);
    if (!drv_curve_key_valid(text))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "%s '%s': not a z85 CURVE key (40 characters)", what, path);
    memcpy(ret, text, DRV_Z85_KEY_LEN + 1);
    explicit_bzero(text, len);
    return 0;
}

int drv_curve_read_secret(const char *path, char ret_secret[DRV_Z85_KEY_LEN + 1],
                          char ret_public[DRV_Z85_KEY_LEN + 1], drv_error **err)
{
    struct stat st;
    if (path == NULL || path[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "no secret key file given");
    if (stat(path, &st) < 0)
        return drv_error_set(err, DRV_ERR_IO, errno, "secret key file '%s': %s", path,
                             g_strerror(errno));
    if (!S_ISREG(st.st_mode))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "secret key file '%s' is not a file", path);
    if ((st.st_mode & 077) != 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "secret key file '%s' is readable by others (mode %03o): chmod 600 it",
                             path, (unsigned)(st.st_mode & 0777));
    char secret[DRV_Z85_KEY_LEN + 1];
    if (s_read_key_line(path, "secret key file", secret, err) < 0)
        return -1;
    if (ret_public != NULL && zmq_curve_public(ret_public, secret) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, errno, "secret key file '%s': %s", path,
                             zmq_strerror(errno));
    memcpy(ret_secret, secret, sizeof(secret));
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

int drv_curve_read_public(const char *key_or_path, char ret_public[DRV_Z85_KEY_LEN + 1],
                          drv_error **err)
{
    if (key_or_path == NULL || key_or_path[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "no public key given");
    if (drv_curve_key_valid(key_or_path) && !g_file_test(key_or_path, G_FILE_TEST_EXISTS)) {
        memcpy(ret_public, key_or_path, DRV_Z85_KEY_LEN + 1);
        return 0;
    }
    return s_read_key_line(key_or_path, "public key file", ret_public, err);
}

static int s_write_new(const char *path, const char *text, mode_t mode, drv_error **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return drv_error_set(err, DRV_ERR_IO, errno, "key file '%s': %s", path, g_strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    if (fchmod(fd, mode) < 0 || close(fd) < 0 || n != (ssize_t)len) {
        unlink(path);
        return drv_error_set(err, DRV_ERR_IO, e, "key file '%s': write failed", path);
    }
    return 0;
}

int drv_curve_keygen(const char *path_base, char ret_public[DRV_Z85_KEY_LEN + 1], drv_error **err)
{
    char pub[DRV_Z85_KEY_LEN + 1], sec[DRV_Z85_KEY_LEN + 1];
    if (zmq_curve_keypair(pub, sec) < 0)
        return drv_error_set(err, DRV_ERR_INTERNAL, errno, "zmq_curve_keypair: %s",
                             zmq_strerror(errno));
    g_autofree char *sec_path = g_strconcat(path_base, ".key", NULL);
    g_autofree char *pub_path = g_strconcat(path_base, ".pub", NULL);
    g_autofree char *sec_line = g_strconcat(sec, "\n", NULL);
    g_autofree char *pub_line = g_strconcat(pub, "\n", NULL);
    explicit_bzero(sec, sizeof(sec));
    int rc = s_write_new(sec_path, sec_line, 0600, err);
    explicit_bzero(sec_line, strlen(sec_line));
    if (rc < 0)
        return -1;
    if (s_write_new(pub_path, pub_line, 0644, err) < 0) {
        unlink(sec_path);
        return -1;
    }
    if (ret_public != NULL)
        memcpy(ret_public, pub, sizeof(pub));
    return 0;
}

static int s_opt(void *sock, int opt, const void *val, size_t len, const char *what,
                 drv_error **err)
{
    if (zmq_setsockopt(sock, opt, val, len) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, errno, "CURVE %s: %s", what,
                             zmq_strerror(errno));
    return 0;
}

int drv_curve_server(void *sock, const char *secret, const char *zap_domain, drv_error **err)
{
    int one = 1;
    if (s_opt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one), "server", err) < 0 ||
        s_opt(sock, ZMQ_CURVE_SECRETKEY, secret, DRV_Z85_KEY_LEN, "secret key", err) < 0 ||
        s_opt(sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain), "ZAP domain", err) < 0)
        return -1;
    /* libzmq accepts every CURVE client when no ZAP handler is bound (ZMQ_ZAP_ENFORCE_DOMAIN is
     * a draft option in 4.3): the controller binds its handler before any server socket. */
    return 0;
}

int drv_curve_client(void *sock, const char *secret, const char *public_key,
                     const char *server_public, drv_error **err)
{
    if (s_opt(sock, ZMQ_CURVE_SERVERKEY, server_public, DRV_Z85_KEY_LEN, "server key", err) < 0 ||
        s_opt(sock, ZMQ_CURVE_PUBLICKEY, public_key, DRV_Z85_KEY_LEN, "public key", err) < 0 ||
        s_opt(sock, ZMQ_CURVE_SECRETKEY, secret, DRV_Z85_KEY_LEN, "secret key", err) < 0)
        return -1;
    return 0;
}
