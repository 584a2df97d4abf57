/* api_console.c — `domain.console NAME`: one poll of a serial console session (hostagent/
 * console.h) on the domain's host, for `drover domain console` (cli/console.c), which polls about
 * ten times a second. The request's body is what the user typed since the last poll; the answer
 * carries what the guest wrote meanwhile (base64) and whether the session ended. Options:
 * `session` (the client's id for its session, required), `force` (take the console over from
 * another client), `close`. A poll changes nothing in etcd and does not mark the domain busy:
 * other verbs go on while a console is attached. */
#include "api_private.h"

#include "ctl_io.h"
#include "log.h"

#include <string.h>

static void s_polled(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    if (!rep->ok) {
        ctl_req_fail_reply(r, "console", host, rep);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(r->domain));
    json_object_object_add(o, "host", json_object_new_string(host));
    g_autofree char *b64 = g_base64_encode(rep->console_output, rep->console_output_len);
    json_object_object_add(o, "output_b64", json_object_new_string(b64));
    json_object_object_add(o, "closed", json_object_new_boolean(rep->console_closed));
    ctl_req_ok(r, o);
}

void ctl_api_domain_console(ctl_req *r)
{
    ctl_domain *d = ctl_api_domain_arg(r);
    if (d == NULL)
        return;
    const char *session = ctl_req_opt(r, "session");
    if (session == NULL || session[0] == '\0' || strlen(session) > 64) {
        ctl_req_usage(r, "domain.console: option session (the client's session id, 1 to 64 "
                         "characters) is required");
        return;
    }
    bool close = ctl_req_flag(r, "close");
    const char *host = ctl_api_domain_up_host(r, d);
    if (host == NULL)
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (!close && strcmp(state, "running") != 0 && strcmp(state, "paused") != 0 &&
        strcmp(state, "blocked") != 0 && strcmp(state, "migrating") != 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is %s: it has no console to attach to",
                      d->name, state);
        return;
    }
    ctl_cmd cmd = {
        .kind = CTL_CMD_CONSOLE,
        .domain = d->name,
        .name = session,
        .current = ctl_req_flag(r, "force"),
        .inactive = close,
        .console_input = (const uint8_t *)r->body,
        .console_input_len = r->body_len,
    };
    drv_error *err = NULL;
    if (ctl_send(r->c, host, &cmd, s_polled, r, NULL, &err) < 0)
        ctl_req_fail(r, err);
}
