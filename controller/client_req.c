/* client_req.c — see client_req.h. */
#include "client_req.h"

#include "ctl_io.h"
#include "view.h"

#include <string.h>

static void s_req_free(ctl_req *r)
{
    g_free(r->client);
    g_free(r->verb);
    g_strfreev(r->args);
    g_hash_table_unref(r->opts);
    g_free(r->body);
    g_free(r->domain);
    g_free(r->host);
    g_free(r->old_host);
    g_free(r->pin_host);
    g_free(r->saved_path);
    g_strfreev(r->kept_disks);
    g_free(r->name);
    g_free(r->xml);
    g_free(r->comment);
    if (r->saved_labels != NULL)
        g_hash_table_unref(r->saved_labels);
    g_free(r);
}

/* Every answer goes out through the seam (ctl_io.h), then r is freed. */
void ctl_req_send(ctl_req *r, int status, const char *kind, const char *error, const char *json)
{
    r->c->io->answer(r->c->io_ctx, r->client, r->verb, status, kind, error, json);
    s_req_free(r);
}

void ctl_req_ok(ctl_req *r, json_object *doc)
{
    g_autofree char *json = ctl_view_finish(doc ? doc : ctl_view_named("status", "ok"));
    ctl_req_send(r, 0, NULL, NULL, json);
}

int ctl_req_fail_status(drv_err_kind kind)
{
    return kind == DRV_ERR_UNKNOWN_OUTCOME ? 3 : 1;
}

void ctl_req_fail(ctl_req *r, drv_error *err)
{
    ctl_req_send(r, ctl_req_fail_status(err->kind), drv_err_kind_to_string(err->kind), err->message,
                 NULL);
    drv_error_destroy(&err);
}

void ctl_req_failf(ctl_req *r, drv_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl_req_send(r, ctl_req_fail_status(kind), drv_err_kind_to_string(kind), msg, NULL);
}

void ctl_req_usage(ctl_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ctl_req_send(r, 2, "invalid", msg, NULL);
}

void ctl_req_fail_reply(ctl_req *r, const char *what, const char *host, const ctl_reply *rep)
{
    g_autofree char *msg = g_strdup_printf(
        "domain '%s': %s on host '%s' failed: %s", r->domain ? r->domain : "-", what, host,
        rep->message && rep->message[0] ? rep->message : "no reason given");
    /* a synthesized failure (timeout, host dropped) already names the host: keep it as is */
    if (g_strcmp0(rep->error_kind, "timeout") == 0 ||
        g_strcmp0(rep->error_kind, "unavailable") == 0 || rep->unknown_outcome) {
        g_free(msg);
        msg = strstr(rep->message, "domain '") != NULL
                  ? g_strdup(rep->message)
                  : g_strdup_printf("domain '%s': %s", r->domain ? r->domain : "-", rep->message);
    }
    if (rep->unknown_outcome) {
        ctl_req_send(r, 3, "unknown-outcome", msg, NULL);
        return;
    }
    drv_err_kind kind = drv_err_kind_from_string(rep->error_kind);
    ctl_req_send(r, 1, drv_err_kind_to_string(kind == DRV_ERR_INTERNAL ? DRV_ERR_LIBVIRT : kind),
                 msg, NULL);
}

const char *ctl_req_opt(const ctl_req *r, const char *key)
{
    return g_hash_table_lookup(r->opts, key);
}

bool ctl_req_flag(const ctl_req *r, const char *key)
{
    const char *v = ctl_req_opt(r, key);
    return v != NULL && (strcmp(v, "1") == 0 || g_ascii_strcasecmp(v, "true") == 0 ||
                         g_ascii_strcasecmp(v, "yes") == 0);
}
