/* metrics.c — see metrics.h: the HTTP side (libmicrohttpd in the loop, external epoll). */
#include "metrics.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct ctl_metrics {
    ctl *c;
    struct MHD_Daemon *d;
    int fd;
    unsigned port;
    uint64_t requests;
};

int ctl_metrics_parse_listen(const char *listen, struct sockaddr_storage *ret, bool *ret_loopback,
                             drv_error **err)
{
    memset(ret, 0, sizeof(*ret));
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "[metrics] listen: '%s' is not HOST:PORT (an IP address and a port)",
                             listen);
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "[metrics] listen: bad port in '%s'", listen);
    g_autofree char *host = g_strndup(listen, (gsize)(colon - listen));
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ret;
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "[metrics] listen: '%s' is not an IPv6 address", host + 1);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *ret_loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ret;
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "[metrics] listen: '%s' is not an IPv4 address (IPv6: [ADDR]:PORT)",
                             host);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *ret_loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

static void s_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    drv_warn("metrics http: %s", g_strchomp(msg));
}

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, GString *body,
                               const char *type)
{
    size_t len = body->len;
    char *buf = g_string_free(body, FALSE);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, buf, g_free);
    if (r == NULL) {
        g_free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* On the loop (called from MHD_run). */
static enum MHD_Result s_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    ctl_metrics *self = cls;
    const char *text = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, g_string_new("GET only\n"), text);
    if (*upload_data_size != 0)
        return s_reply(conn, MHD_HTTP_BAD_REQUEST, g_string_new("no body expected\n"), text);
    if (strcmp(url, "/metrics") != 0)
        return s_reply(conn, MHD_HTTP_NOT_FOUND, g_string_new("not found: try /metrics\n"), text);
    self->requests++;
    int64_t t0 = g_get_monotonic_time();
    GString *body = ctl_metrics_render(self->c, ctl_now_ms(self->c));
    drv_debug("metrics: rendered %zu bytes in %lld us", body->len,
              (long long)(g_get_monotonic_time() - t0));
    return s_reply(conn, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
}

ctl_metrics *ctl_metrics_new(ctl *c, drv_error **err)
{
    const char *listen = c->cfg->metrics_listen;
    if (listen == NULL)
        return NULL;
    struct sockaddr_storage sa;
    bool loopback = false;
    if (ctl_metrics_parse_listen(listen, &sa, &loopback, err) < 0)
        return NULL;
    if (!loopback && !c->cfg->metrics_allow_remote) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "[metrics] listen = %s is outside loopback; /metrics has no authentication: "
                      "set [metrics] allow_remote = true to serve it there anyway",
                      listen);
        return NULL;
    }
    ctl_metrics *self = g_new0(ctl_metrics, 1);
    self->c = c;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->d = MHD_start_daemon(flags, 0, NULL, NULL, s_handler, self, MHD_OPTION_EXTERNAL_LOGGER,
                               s_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                               MHD_OPTION_END);
    if (self->d == NULL) {
        int e = errno;
        drv_error_set(err, DRV_ERR_IO, e, "[metrics] listen = %s: cannot serve there (%s)", listen,
                      g_strerror(e));
        g_free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *fd = MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *port = MHD_get_daemon_info(self->d, MHD_DAEMON_INFO_BIND_PORT);
    self->fd = fd != NULL ? fd->epoll_fd : -1;
    self->port = port != NULL ? port->port : 0;
    if (self->fd < 0) {
        drv_error_set(err, DRV_ERR_INTERNAL, 0,
                      "[metrics]: libmicrohttpd gave no epoll descriptor");
        ctl_metrics_destroy(&self);
        return NULL;
    }
    drv_info("metrics: serving http://%s/metrics (port %u)", listen, self->port);
    return self;
}

void ctl_metrics_destroy(ctl_metrics **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_metrics *self = *self_p;
    if (self->d != NULL)
        MHD_stop_daemon(self->d);
    g_free(self);
    *self_p = NULL;
}

int ctl_metrics_fd(const ctl_metrics *self)
{
    return self->fd;
}

unsigned ctl_metrics_port(const ctl_metrics *self)
{
    return self->port;
}

uint64_t ctl_metrics_requests(const ctl_metrics *self)
{
    return self->requests;
}

int64_t ctl_metrics_run(ctl_metrics *self)
{
    MHD_run(self->d);
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (MHD_get_timeout(self->d, &t) != MHD_YES)
        return INT64_MAX;
    return t > (MHD_UNSIGNED_LONG_LONG)INT64_MAX ? INT64_MAX : (int64_t)t;
}
