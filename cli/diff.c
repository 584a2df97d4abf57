/* diff.c — `drover domain diff NAME [REV1 [REV2]]`: the unified diff between two stored revisions
 * of a domain's definition (domain.history-show twice; common/textdiff.c). Without revisions: the
 * last two (domain.history); with REV1 only: REV1 against the latest. Prints nothing when they are
 * equal; exit status 0 either way (a usage or controller error: its status). */
#include "json_get.h"
#include "session.h"
#include "textdiff.h"

#include <stdio.h>
#include <string.h>

static int s_call(drv_cli_client *c, const char *verb, const char *name, const char *rev,
                  json_object **ret_doc)
{
    const char *args[] = {name, rev};
    drv_cli_request req = {verb, args, rev ? 2 : 1, NULL, NULL, 0, NULL, 0};
    return drv_cli_call_json(c, &req, ret_doc);
}

/* The revision numbers the history lists, oldest first (owned array of int64). */
static GArray *s_revisions(json_object *doc)
{
    GArray *v = g_array_new(FALSE, FALSE, sizeof(int64_t));
    json_object *revs = drv_json_get(doc, "revisions");
    for (size_t i = 0; revs != NULL && i < json_object_array_length(revs); i++) {
        int64_t r = drv_json_get_int(json_object_array_get_idx(revs, i), "revision", 0);
        if (r > 0)
            g_array_append_val(v, r);
    }
    return v;
}

int drv_cli_diff_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    const char *name = g_ptr_array_index(inv->args, 0);
    const char *rev1 = inv->args->len > 1 ? g_ptr_array_index(inv->args, 1) : NULL;
    const char *rev2 = inv->args->len > 2 ? g_ptr_array_index(inv->args, 2) : NULL;
    drv_cli_client *c = NULL;
    if (drv_cli_connect(s, s->timeout_ms, &c) != 0)
        return 1;
    json_object *hist = NULL, *a = NULL, *b = NULL;
    char *r1 = g_strdup(rev1), *r2 = g_strdup(rev2);
    int rc = 0;
    if (r2 == NULL) { /* the latest (and, without REV1, the one before it) from the history */
        rc = s_call(c, "domain.history", name, NULL, &hist);
        if (rc != 0)
            goto out;
        GArray *revs = s_revisions(hist);
        if (revs->len == 0 || (r1 == NULL && revs->len < 2)) {
            rc = drv_cli_fail(1, "domain '%s' has %u revision%s: nothing to compare", name,
                              revs->len, revs->len == 1 ? "" : "s");
            g_array_unref(revs);
            goto out;
        }
        r2 = g_strdup_printf("%" G_GINT64_FORMAT, g_array_index(revs, int64_t, revs->len - 1));
        if (r1 == NULL)
            r1 = g_strdup_printf("%" G_GINT64_FORMAT, g_array_index(revs, int64_t, revs->len - 2));
        g_array_unref(revs);
    }
    rc = s_call(c, "domain.history-show", name, r1, &a);
    if (rc == 0)
        rc = s_call(c, "domain.history-show", name, r2, &b);
    if (rc != 0)
        goto out;
    {
        g_autofree char *la = g_strdup_printf("%s revision %s", name, r1);
        g_autofree char *lb = g_strdup_printf("%s revision %s", name, r2);
        g_autofree char *d = drv_textdiff_unified(drv_json_get_str(a, "xml", ""),
                                                  drv_json_get_str(b, "xml", ""), la, lb, 3);
        rc = drv_cli_print(d, strlen(d));
    }
out:
    g_free(r1);
    g_free(r2);
    json_object_put(hist);
    json_object_put(a);
    json_object_put(b);
    drv_cli_client_destroy(&c);
    return rc;
}
