/* session.c — see session.h. */
#include "session.h"

#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int drv_cli_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "error: %s\n", msg);
    return status;
}

int drv_cli_fail_error(drv_error **err)
{
    if (*err != NULL && (*err)->kind == DRV_ERR_UNKNOWN_OUTCOME) { /* never called a failure */
        int rc = drv_cli_fail(3, "unknown outcome: %s", (*err)->message);
        drv_error_destroy(err);
        return rc;
    }
    int rc = drv_cli_fail(1, "%s", *err != NULL ? (*err)->message : "unknown error");
    drv_error_destroy(err);
    return rc;
}

int drv_cli_connect(const drv_cli_session *s, long timeout_ms, drv_cli_client **ret)
{
    drv_error *e = NULL;
    drv_cli_client *c = drv_cli_client_new(s->controller, timeout_ms, &e);
    if (c == NULL)
        return drv_cli_fail_error(&e);
    *ret = c;
    return 0;
}

int drv_cli_call_json(drv_cli_client *c, const drv_cli_request *req, json_object **ret_doc)
{
    drv_cli_reply *reply = NULL;
    drv_error *e = NULL;
    if (drv_cli_client_call(c, req, &reply, &e) < 0)
        return drv_cli_fail_error(&e);
    int rc = 0;
    if (reply->status != 0)
        rc = drv_cli_fail_reply(req, reply);
    else if ((*ret_doc = json_tokener_parse(reply->json)) == NULL)
        rc = drv_cli_fail(1, "%s: the controller sent a document that is not JSON", req->verb);
    drv_cli_reply_destroy(&reply);
    return rc;
}

int drv_cli_session_call(const drv_cli_session *s, drv_cli_request *ret_req, json_object **ret_doc)
{
    drv_cli_client *c = NULL;
    int rc = drv_cli_connect(s, s->timeout_ms, &c);
    if (rc != 0)
        return rc;
    drv_cli_invocation_request(s->inv, NULL, 0, ret_req);
    rc = drv_cli_call_json(c, ret_req, ret_doc);
    drv_cli_client_destroy(&c);
    return rc;
}

int drv_cli_fail_reply(const drv_cli_request *req, const drv_cli_reply *reply)
{
    int status = reply->status == 2 ? 2 : reply->status == 3 ? 3 : 1;
    if (status == 3) /* the action may have happened: never called a failure */
        return drv_cli_fail(status, "unknown outcome: %s", reply->error);
    if (reply->error[0] != '\0') {
        g_autofree char *msg = drv_cli_verbs_flag_words(req->verb, reply->error);
        return drv_cli_fail(status, "%s", msg);
    }
    return drv_cli_fail(status, "%s failed (%s)", req->verb,
                        reply->error_kind[0] ? reply->error_kind : "no reason given");
}

int drv_cli_print(const char *text, size_t len)
{
    if (len > 0 && (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0))
        return drv_cli_fail(1, "cannot write the output: %s", g_strerror(errno));
    return 0;
}

int drv_cli_read_input(const char *path, char **ret, size_t *ret_len, drv_error **err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return drv_error_set(err, DRV_ERR_IO, errno, "cannot read '%s': %s", path,
                             g_strerror(errno));
    GString *s = g_string_new(NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        g_string_append_len(s, buf, (gssize)n);
    int e = ferror(f) ? errno : 0;
    if (!is_stdin)
        fclose(f);
    if (e != 0) {
        g_string_free(s, TRUE);
        return drv_error_set(err, DRV_ERR_IO, e, "cannot read %s%s%s: %s",
                             is_stdin ? "standard input" : "'", is_stdin ? "" : path,
                             is_stdin ? "" : "'", g_strerror(e));
    }
    *ret_len = s->len;
    *ret = g_string_free(s, FALSE);
    return 0;
}

int drv_cli_print_result(const drv_cli_invocation *inv, const char *json_text)
{
    GString *out = g_string_new(NULL);
    drv_cli_render_result(inv, json_text, out);
    int rc = drv_cli_print(out->str, out->len);
    g_string_free(out, TRUE);
    return rc;
}
