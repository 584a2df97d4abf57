/* console.c — `drover domain console NAME [--force]`: the domain's serial console, like `virsh
 * console`, through the controller and the host's agent (controller/api_console.c, hostagent/
 * console.c). The CLI polls about ten times a second: each domain.console request carries what
 * was typed since the last one and answers with what the guest wrote. On a terminal, input is raw
 * and Ctrl-] ends the session; otherwise (a pipe) the session ends when the input ends. The
 * session also ends when the guest side closes (the domain stopped). */
#include "json_get.h"
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define S_POLL_MS  100
#define S_ESCAPE   0x1d /* Ctrl-] */
#define S_MAX_READ 4096

static struct termios s_saved;
static bool s_raw;

static void s_tty_raw(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &s_saved) < 0)
        return;
    struct termios t = s_saved;
    cfmakeraw(&t);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
        s_raw = true;
}

static void s_tty_restore(void)
{
    if (s_raw)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &s_saved);
    s_raw = false;
}

/* One poll: sends input, prints the output. 0, or the exit status of a failure. *ret_closed when
 * the session ended on the host. */
static int s_poll(drv_cli_client *c, const char *name, const char *session, bool force, bool close,
                  const char *input, size_t len, bool *ret_closed)
{
    const char *args[] = {name};
    const char *keys[] = {"session", "force", "close"};
    const char *values[] = {session, force ? "1" : "0", close ? "1" : "0"};
    drv_cli_request req = {"domain.console", args, 1, keys, values, 3, input, len};
    json_object *doc = NULL;
    int rc = drv_cli_call_json(c, &req, &doc);
    if (rc != 0)
        return rc;
    gsize n = 0;
    g_autofree guchar *out = g_base64_decode(drv_json_get_str(doc, "output_b64", ""), &n);
    *ret_closed = drv_json_get_bool(doc, "closed", false);
    json_object_put(doc);
    if (n > 0 && drv_cli_print((const char *)out, n) != 0)
        return 1;
    return 0;
}

int drv_cli_console_run(const drv_cli_session *s)
{
    const char *name = g_ptr_array_index(s->inv->args, 0);
    bool force = drv_cli_invocation_option(s->inv, "force") != NULL;
    drv_cli_client *c = NULL;
    if (drv_cli_connect(s, s->timeout_ms, &c) != 0)
        return 1;
    g_autofree char *session = g_uuid_string_random();
    bool tty = isatty(STDIN_FILENO);
    bool closed = false, input_open = true;
    /* the first poll opens the console (and says so when it cannot) */
    int rc = s_poll(c, name, session, force, false, NULL, 0, &closed);
    if (rc == 0 && !closed) {
        fprintf(stderr, "Connected to domain '%s'%s\n", name,
                tty ? "\r\nEscape character is ^] (Ctrl + ])\r" : "");
        s_tty_raw();
    }
    while (rc == 0 && !closed && input_open) {
        char buf[S_MAX_READ];
        size_t len = 0;
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&pfd, 1, S_POLL_MS) > 0) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n <= 0) {
                input_open = false; /* the input ended: one last poll, then close */
            } else {
                len = (size_t)n;
                const char *esc = tty ? memchr(buf, S_ESCAPE, len) : NULL;
                if (esc != NULL) {
                    len = (size_t)(esc - buf);
                    input_open = false;
                }
            }
        }
        rc = s_poll(c, name, session, force, false, buf, len, &closed);
    }
    s_tty_restore();
    if (rc == 0 && !closed) {
        bool ignored = false;
        rc = s_poll(c, name, session, force, true, NULL, 0, &ignored);
    }
    if (rc == 0)
        fprintf(stderr, "\n%s\n",
                closed ? "The console closed (the domain stopped)." : "Console session ended.");
    drv_cli_client_destroy(&c);
    return rc;
}
