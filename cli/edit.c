/* edit.c — `drover domain edit NAME`: fetch the stored revision number (domain.info) and the
 * persistent XML (domain.dumpxml --inactive), let the user edit a temporary copy in $EDITOR
 * (default vi), and send it back with domain.edit and expect_revision, so an edit made meanwhile by
 * someone else is refused by the controller instead of being overwritten. The controller validates
 * the XML; when it refuses, the edited file is kept and its path printed. */
#include "json_get.h"
#include "render.h"
#include "session.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One call; on a failure prints it and returns the exit status, else 0 with *ret_doc (owned). */
static int s_call(drv_cli_client *c, const char *verb, const char *name, const char *opt_key,
                  const char *opt_value, const char *body, size_t body_len, json_object **ret_doc)
{
    const char *args[] = {name};
    const char *keys[] = {opt_key};
    const char *values[] = {opt_value};
    drv_cli_request req = {verb, args, 1, keys, values, opt_key ? 1 : 0, body, body_len};
    return drv_cli_call_json(c, &req, ret_doc);
}

static int s_run_editor(const char *path)
{
    const char *editor = g_getenv("EDITOR");
    if (editor == NULL || editor[0] == '\0')
        editor = "vi";
    /* EDITOR may carry arguments ("emacs -nw"): let the shell split it. */
    char *argv[] = {"/bin/sh",     "-c",         "exec $DROVER_EDITOR \"$1\"",
                    "drover-edit", (char *)path, NULL};
    char **envp = g_environ_setenv(g_get_environ(), "DROVER_EDITOR", editor, TRUE);
    gint wait_status = 0;
    GError *gerr = NULL;
    gboolean ok = g_spawn_sync(NULL, argv, envp, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL,
                               NULL, &wait_status, &gerr);
    g_strfreev(envp);
    if (!ok) {
        int rc = drv_cli_fail(1, "cannot run the editor '%s': %s", editor, gerr->message);
        g_error_free(gerr);
        return rc;
    }
    if (!g_spawn_check_wait_status(wait_status, &gerr)) {
        int rc = drv_cli_fail(1, "editor '%s' failed (%s); nothing changed", editor, gerr->message);
        g_error_free(gerr);
        return rc;
    }
    return 0;
}

int drv_cli_edit_run(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    const char *name = g_ptr_array_index(inv->args, 0);
    drv_cli_client *c = NULL;
    if (drv_cli_connect(s, s->timeout_ms, &c) != 0)
        return 1;
    drv_error *e = NULL;
    json_object *info = NULL, *dump = NULL, *result = NULL;
    char *path = NULL, *edited = NULL, *revision = NULL;
    const char *xml = NULL;
    size_t edited_len = 0;
    GError *gerr = NULL;
    int fd = -1;
    int rc = s_call(c, "domain.info", name, NULL, NULL, NULL, 0, &info);
    if (rc != 0)
        goto out;
    json_object *rev = NULL;
    if (!json_object_object_get_ex(info, "xml_revision", &rev) &&
        !json_object_object_get_ex(info, "revision", &rev)) {
        rc = drv_cli_fail(1, "domain '%s': the controller did not say its revision", name);
        goto out;
    }
    const char *expect = drv_cli_invocation_option(inv, "expect_revision");
    revision = g_strdup(expect != NULL ? expect : json_object_get_string(rev));
    rc = s_call(c, "domain.dumpxml", name, "inactive", "1", NULL, 0, &dump);
    if (rc != 0)
        goto out;
    if ((xml = drv_json_get_str(dump, "xml", NULL)) == NULL) {
        rc = drv_cli_fail(1, "domain '%s': the controller sent no XML", name);
        goto out;
    }
    fd = g_file_open_tmp("drover-edit-XXXXXX.xml", &path, &gerr);
    if (fd < 0 || !g_file_set_contents(path, xml, -1, &gerr)) {
        rc = drv_cli_fail(1, "domain '%s': cannot write a temporary file: %s", name, gerr->message);
        g_error_free(gerr);
        goto out;
    }
    rc = s_run_editor(path);
    if (rc != 0)
        goto out;
    if (drv_cli_read_input(path, &edited, &edited_len, &e) < 0) {
        rc = drv_cli_fail(1, "domain '%s': %s", name, e->message);
        drv_error_destroy(&e);
        goto out;
    }
    if (strcmp(edited, xml) == 0) {
        if (inv->json) {
            json_object *doc = json_object_new_object();
            json_object_object_add(doc, "name", json_object_new_string(name));
            json_object_object_add(doc, "changed", json_object_new_boolean(0));
            rc = drv_cli_print_result(inv, json_object_to_json_string(doc));
            json_object_put(doc);
        } else {
            g_autofree char *msg = g_strdup_printf("Domain '%s': no changes\n", name);
            rc = drv_cli_print(msg, strlen(msg));
        }
        goto out;
    }
    rc = s_call(c, "domain.edit", name, "expect_revision", revision, edited, edited_len, &result);
    if (rc != 0) {
        fprintf(stderr, "error: your edited XML is kept in %s\n", path);
        g_clear_pointer(&path, g_free); /* keep the file */
        goto out;
    }
    rc = drv_cli_print_result(inv, json_object_to_json_string_ext(result, JSON_C_TO_STRING_PLAIN));
out:
    if (fd >= 0)
        close(fd);
    if (path != NULL)
        g_unlink(path);
    g_free(path);
    g_free(edited);
    g_free(revision);
    json_object_put(info);
    json_object_put(dump);
    json_object_put(result);
    drv_cli_client_destroy(&c);
    return rc;
}
