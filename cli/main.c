/* main.c — drover, the administrator's tool: parse the command line (invocation.c, from the verb
 * table in verbs.c), run the verb against the controller (client.c) or offline (offline.c), and
 * print the result (render.c). Exit status: 0 success, 1 failure, 2 usage error. */
#include "client.h"
#include "curve.h"
#include "invocation.h"
#include "jobs.h"
#include "list_pages.h"
#include "json_get.h"
#include "offline.h"
#include "provision.h"
#include "render.h"
#include "session.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `cluster cpu-baseline --xml` when the controller could not build the element (the hosts' CPU
 * models differ and no --model was given): a failure with the controller's reason, not empty
 * output. */
static int s_check_cpu_xml(const drv_cli_invocation *inv, const char *json_text)
{
    if (inv->verb->show != DRV_CLI_SHOW_CPU_BASELINE || inv->json ||
        drv_cli_invocation_local(inv, "xml") == NULL)
        return 0;
    json_object *doc = json_tokener_parse(json_text);
    int rc = 0;
    if (doc != NULL && drv_json_get(doc, "cpu_xml") == NULL)
        rc = drv_cli_fail(1, "cluster cpu-baseline: no <cpu> element: %s",
                          drv_json_get_str(doc, "error", "the controller sent none"));
    json_object_put(doc);
    return rc;
}

static bool s_has_opt(const drv_cli_request *req, const char *key)
{
    for (size_t i = 0; i < req->n_opts; i++)
        if (strcmp(req->opt_keys[i], key) == 0)
            return true;
    return false;
}

static int s_run_remote(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    g_autofree char *body = NULL;
    size_t body_len = 0;
    bool upload = g_strcmp0(inv->verb->api_verb, "vol.upload") == 0;
    GStatBuf st;
    if (upload && inv->body_path != NULL && strcmp(inv->body_path, "-") != 0 &&
        g_stat(inv->body_path, &st) == 0 && (uint64_t)st.st_size > DRV_PROV_UPLOAD_MAX_BYTES)
        return drv_cli_fail(1,
                            "vol upload: '%s' is %" G_GUINT64_FORMAT
                            " bytes; an upload is at most %u bytes (15 MiB: it travels in one "
                            "request); copy larger images into the pool's directory instead",
                            inv->body_path, (guint64)st.st_size,
                            (unsigned)DRV_PROV_UPLOAD_MAX_BYTES);
    if (inv->body_path != NULL) {
        drv_error *e = NULL;
        if (drv_cli_read_input(inv->body_path, &body, &body_len, &e) < 0) {
            int rc =
                drv_cli_fail(1, "%s %s: %s", inv->verb->group, inv->verb->name ?: "", e->message);
            drv_error_destroy(&e);
            return rc;
        }
    }
    if (upload && body_len > DRV_PROV_UPLOAD_MAX_BYTES)
        return drv_cli_fail(1, "vol upload: the image is %zu bytes; an upload is at most %u bytes",
                            body_len, (unsigned)DRV_PROV_UPLOAD_MAX_BYTES);
    /* options naming a file (--cloud-init FILE) carry its content */
    for (const drv_cli_opt *o = inv->verb->opts; o->name != NULL; o++) {
        if (o->kind != DRV_CLI_OPT_FILE)
            continue;
        for (guint i = 0; i < inv->opt_keys->len; i++) {
            if (strcmp(g_ptr_array_index(inv->opt_keys, i), o->api_key) != 0)
                continue;
            char *content = NULL;
            size_t len = 0;
            drv_error *e = NULL;
            if (drv_cli_read_input(g_ptr_array_index(inv->opt_values, i), &content, &len, &e) < 0) {
                int rc = drv_cli_fail(1, "%s %s: --%s: %s", inv->verb->group, inv->verb->name ?: "",
                                      o->name, e->message);
                drv_error_destroy(&e);
                return rc;
            }
            g_free(g_ptr_array_index(inv->opt_values, i));
            g_ptr_array_index(inv->opt_values, i) = content;
        }
    }
    long timeout_ms = s->timeout_ms;
    /* A verb that waits on the host (shutdown --timeout) gets that long on top. */
    const char *wait_ms = drv_cli_invocation_option(inv, "timeout_ms");
    if (wait_ms != NULL)
        timeout_ms += g_ascii_strtoll(wait_ms, NULL, 10);

    drv_cli_request req;
    drv_cli_invocation_request(inv, body, body_len, &req);
    /* host enroll ID FILE|KEY: the key inside the .pub file. A file that exists wins: a 40-byte
     * path such as /tmp/x/keys/h1.pub is also a well-formed Z85 key. */
    const char *enroll_args[3] = {NULL, NULL, NULL};
    char enroll_key[DRV_Z85_KEY_LEN + 1];
    if (inv->verb->api_verb != NULL && strcmp(inv->verb->api_verb, "host.enroll") == 0 &&
        req.n_args == 2 &&
        (g_file_test(req.args[1], G_FILE_TEST_EXISTS) || !drv_curve_key_valid(req.args[1]))) {
        drv_error *e = NULL;
        if (drv_curve_read_public(req.args[1], enroll_key, &e) < 0) {
            int rc = drv_cli_fail(1, "host enroll: %s", e->message);
            drv_error_destroy(&e);
            return rc;
        }
        enroll_args[0] = req.args[0];
        enroll_args[1] = enroll_key;
        req.args = enroll_args;
    }
    drv_cli_client *c = NULL;
    int rc = drv_cli_connect(s, timeout_ms, &c);
    if (rc != 0)
        return rc;
    drv_cli_reply *reply = NULL;
    drv_error *e = NULL;
    if (drv_cli_list_items_key(req.verb) != NULL && !s_has_opt(&req, "limit") &&
        !s_has_opt(&req, "continue")) { /* the whole list, asked for in pages */
        g_autofree char *joined = NULL;
        rc = drv_cli_list_all(c, &req, &joined, &reply, &e);
        drv_cli_client_destroy(&c);
        if (rc < 0)
            return drv_cli_fail_error(&e);
        if (joined != NULL)
            return drv_cli_print_result(inv, joined);
    } else {
        rc = drv_cli_client_call(c, &req, &reply, &e);
        drv_cli_client_destroy(&c);
        if (rc < 0)
            return drv_cli_fail_error(&e);
    }
    if (reply->status != 0) {
        rc = drv_cli_fail_reply(&req, reply);
        if (inv->json && reply->json[0] != '\0')
            drv_cli_print_result(inv, reply->json);
    } else if (!inv->json && g_strcmp0(inv->verb->api_verb, "domain.provision") == 0 &&
               strstr(reply->json, "\"dry_run\":true") != NULL) {
        json_object *doc = json_tokener_parse(reply->json); /* --dry-run: the XML it would define */
        printf("%s", drv_json_get_str(doc, "xml", ""));
        json_object_put(doc);
    } else if ((rc = s_check_cpu_xml(inv, reply->json)) == 0) {
        rc = drv_cli_print_result(inv, reply->json);
    }
    drv_cli_reply_destroy(&reply);
    return rc;
}

static int s_run_capacity(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    const char *path = drv_cli_invocation_local(inv, "from-file");
    if (path == NULL)
        return s_run_remote(s);
    const char *flags = drv_cli_invocation_option(inv, "flags");
    drv_cli_capacity_query q = {
        .vcpus = g_ascii_strtoull(drv_cli_invocation_option(inv, "vcpus"), NULL, 10),
        .memory_kib = g_ascii_strtoull(drv_cli_invocation_option(inv, "memory_kib"), NULL, 10),
        .flags_csv = flags,
        .arch = drv_cli_invocation_option(inv, "arch"),
        .n_plus_one = drv_cli_invocation_option(inv, "n_plus_one") != NULL,
        .hosts_down = drv_cli_invocation_option(inv, "hosts_down") != NULL,
    };
    json_object *doc = NULL;
    drv_error *e = NULL;
    if (drv_cli_offline_capacity(path, &q, &doc, &e) < 0) {
        int rc = drv_cli_fail(1, "capacity: %s", e->message);
        drv_error_destroy(&e);
        return rc;
    }
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
    int rc = drv_cli_print_result(inv, text);
    json_object_put(doc);
    return rc;
}

/* `keygen PATH`: PATH.key (secret, 0600) and PATH.pub; prints the public key. */
static int s_run_keygen(const drv_cli_session *s)
{
    const drv_cli_invocation *inv = s->inv;
    const char *base = g_ptr_array_index(inv->args, 0);
    char pub[DRV_Z85_KEY_LEN + 1];
    drv_error *e = NULL;
    if (drv_curve_keygen(base, pub, &e) < 0) {
        int rc = drv_cli_fail(1, "keygen: %s", e->message);
        drv_error_destroy(&e);
        return rc;
    }
    g_autofree char *sec_path = g_strconcat(base, ".key", NULL);
    g_autofree char *pub_path = g_strconcat(base, ".pub", NULL);
    g_autofree char *text = NULL;
    if (inv->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "public_key", json_object_new_string(pub));
        json_object_object_add(o, "secret_key_file", json_object_new_string(sec_path));
        json_object_object_add(o, "public_key_file", json_object_new_string(pub_path));
        text = g_strdup_printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else {
        text = g_strdup_printf("%s\nsecret key: %s (keep it; mode 0600)\npublic key: %s\n", pub,
                               sec_path, pub_path);
    }
    return drv_cli_print(text, strlen(text));
}

static const char *s_pick(const char *given, const char *env, const char *def)
{
    if (given != NULL)
        return given;
    const char *v = g_getenv(env);
    return v != NULL && v[0] != '\0' ? v : def;
}

int main(int argc, char **argv)
{
    drv_cli_invocation *inv = NULL;
    drv_error *e = NULL;
    if (drv_cli_invocation_parse(argc, argv, &inv, &e) < 0) {
        int rc = drv_cli_fail(e->kind == DRV_ERR_INVALID ? 2 : 1, "%s", e->message);
        drv_error_destroy(&e);
        return rc;
    }
    int rc = 0;
    if (inv->help_text != NULL) {
        rc = drv_cli_print(inv->help_text, strlen(inv->help_text));
        drv_cli_invocation_destroy(&inv);
        return rc;
    }
    drv_cli_session s = {
        .inv = inv,
        .controller = s_pick(inv->controller, "DROVER_CONTROLLER", DRV_CLI_DEFAULT_CONTROLLER),
        .events_url = s_pick(inv->events_url, "DROVER_EVENTS", DRV_CLI_DEFAULT_EVENTS),
        .timeout_ms = inv->timeout_ms > 0 ? inv->timeout_ms : DRV_CLI_DEFAULT_TIMEOUT_MS,
    };
    switch (inv->verb->run) {
    case DRV_CLI_RUN_REMOTE:
        rc = s_run_remote(&s);
        break;
    case DRV_CLI_RUN_CAPACITY:
        rc = s_run_capacity(&s);
        break;
    case DRV_CLI_RUN_EDIT:
        rc = drv_cli_edit_run(&s);
        break;
    case DRV_CLI_RUN_DIFF:
        rc = drv_cli_diff_run(&s);
        break;
    case DRV_CLI_RUN_CONSOLE:
        rc = drv_cli_console_run(&s);
        break;
    case DRV_CLI_RUN_EVENTS:
        rc = drv_cli_events_run(&s);
        break;
    case DRV_CLI_RUN_MIGRATE:
        rc = drv_cli_migrate_run(&s);
        break;
    case DRV_CLI_RUN_JOB_WATCH:
        rc = drv_cli_job_watch_run(&s); /* drains get per-domain bars (cli/watch.c) */
        break;
    case DRV_CLI_RUN_DRAIN:
        rc = drv_cli_drain_run(&s);
        break;
    case DRV_CLI_RUN_KEYGEN:
        rc = s_run_keygen(&s);
        break;
    case DRV_CLI_RUN_TOP:
        rc = drv_cli_top_run(&s);
        break;
    default:
        rc = drv_cli_fail(1, "internal: verb has no way to run");
        break;
    }
    drv_cli_invocation_destroy(&inv);
    return rc;
}
