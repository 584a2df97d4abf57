/* list_pages.c — see list_pages.h. */
#include "list_pages.h"

#include "json_get.h"

#include <json-c/json.h>
#include <string.h>

const char *drv_cli_list_items_key(const char *verb)
{
    if (g_strcmp0(verb, "domain.list") == 0)
        return "domains";
    if (g_strcmp0(verb, "host.list") == 0)
        return "hosts";
    return NULL;
}

/* req with limit=DRV_CLI_LIST_PAGE and, when after is not NULL, continue=after appended. */
static void s_page_request(const drv_cli_request *req, const char *after, GPtrArray *keys,
                           GPtrArray *values, drv_cli_request *out, char *limit)
{
    g_ptr_array_set_size(keys, 0);
    g_ptr_array_set_size(values, 0);
    for (size_t i = 0; i < req->n_opts; i++) {
        g_ptr_array_add(keys, (gpointer)req->opt_keys[i]);
        g_ptr_array_add(values, (gpointer)req->opt_values[i]);
    }
    g_ptr_array_add(keys, "limit");
    g_ptr_array_add(values, limit);
    if (after != NULL) {
        g_ptr_array_add(keys, "continue");
        g_ptr_array_add(values, (gpointer)after);
    }
    *out = *req;
    out->opt_keys = (const char *const *)keys->pdata;
    out->opt_values = (const char *const *)values->pdata;
    out->n_opts = keys->len;
}

int drv_cli_list_all(drv_cli_client *c, const drv_cli_request *req, char **ret_json,
                     drv_cli_reply **ret_failed, drv_error **err)
{
    const char *items_key = drv_cli_list_items_key(req->verb);
    guint64 per_page = DRV_CLI_LIST_PAGE;
    const char *env = g_getenv("DROVER_CLI_LIST_PAGE");
    if (env != NULL && (!g_ascii_string_to_unsigned(env, 10, 1, 1000000, &per_page, NULL)))
        per_page = DRV_CLI_LIST_PAGE;
    g_autofree char *limit = g_strdup_printf("%" G_GUINT64_FORMAT, per_page);
    GPtrArray *keys = g_ptr_array_new(), *values = g_ptr_array_new();
    json_object *all = NULL;   /* the first page's document, the joined items in it */
    json_object *items = NULL; /* borrowed from all */
    char *after = NULL;
    int rc = 0;
    *ret_json = NULL;
    *ret_failed = NULL;
    for (;;) {
        drv_cli_request page;
        s_page_request(req, after, keys, values, &page, limit);
        drv_cli_reply *reply = NULL;
        if (drv_cli_client_call(c, &page, &reply, err) < 0) {
            rc = -1;
            break;
        }
        json_object *doc = reply->status == 0 ? json_tokener_parse(reply->json) : NULL;
        json_object *got = drv_json_get(doc, items_key);
        if (doc == NULL || got == NULL || !json_object_is_type(got, json_type_array)) {
            json_object_put(doc);
            if (reply->status == 0) { /* an answer that is not a list: shown as it came */
                g_free(reply->error_kind);
                reply->error_kind = g_strdup("protocol");
                g_free(reply->error);
                reply->error = g_strdup_printf("%s: the controller's answer is not a list of %s",
                                               req->verb, items_key);
                reply->status = 1;
            }
            *ret_failed = reply;
            break;
        }
        drv_cli_reply_destroy(&reply);
        const char *next = drv_json_get_str(doc, "continue", NULL);
        if (next != NULL && after != NULL && strcmp(next, after) <= 0) { /* never backwards */
            drv_error_set(err, DRV_ERR_PROTO, 0,
                          "%s: the controller's next page starts at '%s', not after '%s'",
                          req->verb, next, after);
            json_object_put(doc);
            rc = -1;
            break;
        }
        g_free(after);
        after = g_strdup(next);
        if (all == NULL) {
            all = doc;
            items = got;
        } else {
            for (size_t i = 0; i < json_object_array_length(got); i++)
                json_object_array_add(items, json_object_get(json_object_array_get_idx(got, i)));
            json_object_put(doc);
        }
        if (after == NULL || after[0] == '\0')
            break;
    }
    if (rc == 0 && *ret_failed == NULL && all != NULL) {
        json_object_object_del(all, "continue");
        *ret_json = g_strdup(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(all);
    g_free(after);
    g_ptr_array_unref(keys);
    g_ptr_array_unref(values);
    return rc;
}
