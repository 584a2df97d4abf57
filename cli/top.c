/* top.c — `drover top`: cluster.stats every --interval (default 2 s), the screen cleared and
 * redrawn (ANSI home + clear), until interrupted; --once prints one view (or, with --json, the
 * document) and exits. One connection for the whole session. */
#include "render.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int drv_cli_top_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    bool once = drv_cli_invocation_local(inv, "once") != NULL;
    const char *iv = drv_cli_invocation_local(inv, "interval");
    const char *nd = drv_cli_invocation_local(inv, "domains");
    long interval_ms = iv != NULL ? atol(iv) : 2000;
    unsigned max_domains = nd != NULL ? (unsigned)strtoul(nd, NULL, 10) : 20;
    if (interval_ms < 100)
        interval_ms = 100;
    drv_cli_client *c = NULL;
    int rc = drv_cli_connect(s, s->timeout_ms, &c);
    if (rc != 0)
        return rc;
    drv_cli_request req;
    drv_cli_invocation_request(inv, NULL, 0, &req);
    for (;;) {
        json_object *doc = NULL;
        rc = drv_cli_call_json(c, &req, &doc);
        if (rc != 0)
            break;
        GString *out = g_string_new(NULL);
        if (once && inv->json) {
            char *j = drv_cli_render_json(doc);
            g_string_append(out, j);
            g_free(j);
        } else {
            if (!once)
                g_string_append(out, "\033[H\033[2J");
            drv_cli_render_top(doc, max_domains, out);
        }
        json_object_put(doc);
        rc = drv_cli_print(out->str, out->len);
        g_string_free(out, TRUE);
        if (rc != 0 || once)
            break;
        g_usleep((gulong)interval_ms * 1000);
    }
    drv_cli_client_destroy(&c);
    return rc;
}
