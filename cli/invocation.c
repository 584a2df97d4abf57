/* invocation.c — see invocation.h. Options are parsed with GOptionContext from entries built out of
 * the verb table: global options first (strict POSIX: they stop at GROUP), then the verb's own
 * options plus the global ones anywhere after the verb (the verb's option wins on a name clash,
 * e.g. `domain shutdown --timeout`). */
#include "invocation.h"

#include "config.h"

#include <errno.h>
#include <string.h>

typedef struct {
    const drv_cli_opt *verb_opts; /* NULL before the verb */
    GHashTable *verb_values;      /* name → raw value */
    GHashTable *global_values;
} s_state;

static gboolean s_on_option(const gchar *option_name, const gchar *value, gpointer data,
                            GError **error)
{
    s_state *st = data;
    const char *name = option_name + (g_str_has_prefix(option_name, "--") ? 2 : 0);
    const drv_cli_opt *o = st->verb_opts ? drv_cli_opt_find(st->verb_opts, name) : NULL;
    GHashTable *into = st->verb_values;
    if (o == NULL) {
        o = drv_cli_opt_find(NULL, name);
        into = st->global_values;
    }
    if (o == NULL) { /* cannot happen: only table entries are registered */
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION, "unknown option %s",
                    option_name);
        return FALSE;
    }
    g_hash_table_replace(into, g_strdup(name), g_strdup(o->kind == DRV_CLI_OPT_FLAG ? "1" : value));
    return TRUE;
}

static void s_add_entries(GArray *entries, const drv_cli_opt *opts, const drv_cli_opt *skip_if_in)
{
    for (const drv_cli_opt *o = opts; o->name != NULL; o++) {
        if (skip_if_in != NULL && drv_cli_opt_find(skip_if_in, o->name) != NULL)
            continue;
        GOptionEntry e = {0};
        e.long_name = o->name;
        e.flags = o->kind == DRV_CLI_OPT_FLAG ? G_OPTION_FLAG_NO_ARG : 0;
        e.arg = G_OPTION_ARG_CALLBACK;
        e.arg_data = (gpointer)s_on_option;
        e.description = o->help;
        e.arg_description = o->metavar;
        g_array_append_val(entries, e);
    }
}

/* Runs one GOptionContext over argc and argv (GLib-style: argv[0] is skipped and kept). */
static int s_parse_opts(s_state *st, const drv_cli_opt *verb_opts, bool strict_posix, int *argc,
                        char ***argv, const char *where, drv_error **err)
{
    /* parse_strv frees the words it removes (plain parse would leak them). */
    gboolean ok;
    GError *gerr = NULL;
    {
        GArray *entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
        if (verb_opts != NULL)
            s_add_entries(entries, verb_opts, NULL);
        s_add_entries(entries, drv_cli_global_opts, verb_opts);
        GOptionContext *ctx = g_option_context_new(NULL);
        GOptionGroup *group = g_option_group_new("drover", "drover", "drover", st, NULL);
        g_option_group_add_entries(group, (GOptionEntry *)(void *)entries->data);
        g_option_context_set_main_group(ctx, group);
        g_option_context_set_help_enabled(ctx, FALSE);
        g_option_context_set_strict_posix(ctx, strict_posix);
        ok = g_option_context_parse_strv(ctx, argv, &gerr);
        *argc = (int)g_strv_length(*argv);
        g_option_context_free(ctx);
        g_array_free(entries, TRUE);
    }
    if (!ok) {
        char *msg = g_utf8_strdown(gerr->message, 1), *rest = gerr->message;
        if (*rest != '\0')
            rest = g_utf8_next_char(rest);
        drv_error_set(err, DRV_ERR_INVALID, 0, "%s: %s%s", where, msg, rest);
        g_free(msg);
        g_error_free(gerr);
        return -1;
    }
    return 0;
}

int drv_cli_parse_size_kib(const char *text, uint64_t *ret_kib)
{
    /* Only "<decimal>[ ]<unit>": the common parser also takes hex and exponents. */
    const char *p = text;
    if (p == NULL || !g_ascii_isdigit(*p))
        return -1;
    while (g_ascii_isdigit(*p) || *p == '.')
        p++;
    while (*p == ' ')
        p++;
    while (g_ascii_isalpha(*p))
        p++;
    if (*p != '\0')
        return -1;
    return drv_parse_size_kib(text, 1, ret_kib);
}

int drv_cli_parse_seconds_ms(const char *text, long *ret_ms)
{
    if (text == NULL || !g_ascii_isdigit(text[0]))
        return -1;
    char *end = NULL;
    errno = 0;
    double s = g_ascii_strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || s <= 0 || s > 86400.0 * 365)
        return -1;
    long ms = (long)(s * 1000.0 + 0.5);
    *ret_ms = ms > 0 ? ms : 1;
    return 0;
}

static int s_convert_opt(const drv_cli_opt *o, const char *raw, char **ret, const char *where,
                         drv_error **err)
{
    guint64 n = 0;
    long ms = 0;
    uint64_t kib = 0;
    switch (o->kind) {
    case DRV_CLI_OPT_FLAG:
    case DRV_CLI_OPT_STRING:
    case DRV_CLI_OPT_FILE:
        *ret = g_strdup(raw);
        return 0;
    case DRV_CLI_OPT_LIST:
        if (raw[0] == '\0' || strstr(raw, ",,") || g_str_has_prefix(raw, ",") ||
            g_str_has_suffix(raw, ","))
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "%s: --%s: '%s' is not a comma-separated list", where, o->name,
                                 raw);
        *ret = g_strdup(raw);
        return 0;
    case DRV_CLI_OPT_UINT:
        if (!g_ascii_string_to_unsigned(raw, 10, 0, G_MAXUINT32, &n, NULL))
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "%s: --%s: '%s' is not a non-negative integer", where, o->name,
                                 raw);
        *ret = g_strdup_printf("%" G_GUINT64_FORMAT, n);
        return 0;
    case DRV_CLI_OPT_SIZE:
        if (drv_cli_parse_size_kib(raw, &kib) < 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "%s: --%s: bad size '%s' (use 512M, 2GiB, 1T or a number of KiB)",
                                 where, o->name, raw);
        *ret = g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)kib);
        return 0;
    case DRV_CLI_OPT_SECONDS:
        if (drv_cli_parse_seconds_ms(raw, &ms) < 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "%s: --%s: '%s' is not a positive number of seconds", where,
                                 o->name, raw);
        *ret = g_strdup_printf("%ld", ms);
        return 0;
    default:
        break;
    }
    return drv_error_set(err, DRV_ERR_INTERNAL, 0, "%s: --%s has an unknown kind", where, o->name);
}

static int s_apply_globals(drv_cli_invocation *inv, GHashTable *g, drv_error **err)
{
    const char *v;
    if ((v = g_hash_table_lookup(g, "controller")) != NULL) {
        g_free(inv->controller);
        inv->controller = g_strdup(v);
    }
    if ((v = g_hash_table_lookup(g, "events")) != NULL) {
        g_free(inv->events_url);
        inv->events_url = g_strdup(v);
    }
    if (g_hash_table_contains(g, "json"))
        inv->json = true;
    if ((v = g_hash_table_lookup(g, "timeout")) != NULL &&
        drv_cli_parse_seconds_ms(v, &inv->timeout_ms) < 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "--timeout: '%s' is not a positive number of seconds", v);
    return 0;
}

static int s_convert_args(drv_cli_invocation *inv, const drv_cli_verb *verb, int argc, char **argv,
                          const char *where, drv_error **err)
{
    int i = 0;
    const drv_cli_arg *a = verb->args;
    for (; a->name != NULL; a++) {
        if (i >= argc) {
            if (a->optional)
                break;
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing argument %s", where,
                                 a->name);
        }
        const char *w = argv[i];
        guint64 n = 0;
        uint64_t kib = 0;
        switch (a->kind) {
        case DRV_CLI_ARG_STRING:
            if (w[0] == '\0')
                return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: %s is empty", where, a->name);
            g_ptr_array_add(inv->args, g_strdup(w));
            i++;
            break;
        case DRV_CLI_ARG_UINT:
            if (!g_ascii_string_to_unsigned(w, 10, 0, G_MAXUINT32, &n, NULL))
                return drv_error_set(err, DRV_ERR_INVALID, 0,
                                     "%s: %s: '%s' is not a non-negative integer", where, a->name,
                                     w);
            g_ptr_array_add(inv->args, g_strdup_printf("%" G_GUINT64_FORMAT, n));
            i++;
            break;
        case DRV_CLI_ARG_SIZE:
            if (drv_cli_parse_size_kib(w, &kib) < 0)
                return drv_error_set(
                    err, DRV_ERR_INVALID, 0,
                    "%s: %s: bad size '%s' (use 512M, 2GiB, 1T or a number of KiB)", where, a->name,
                    w);
            g_ptr_array_add(inv->args, g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)kib));
            i++;
            break;
        case DRV_CLI_ARG_BODY:
            if (w[0] == '\0')
                return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: %s is empty", where, a->name);
            inv->body_path = g_strdup(w);
            i++;
            break;
        case DRV_CLI_ARG_REST:
            for (; i < argc; i++) {
                if (argv[i][0] == '\0')
                    return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: %s is empty", where,
                                         a->name);
                g_ptr_array_add(inv->args, g_strdup(argv[i]));
            }
            break;
        default:
            return drv_error_set(err, DRV_ERR_INTERNAL, 0, "%s: %s has an unknown kind", where,
                                 a->name);
        }
    }
    if (i < argc)
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unexpected argument '%s'", where,
                             argv[i]);
    return 0;
}

static int s_parse_verb(drv_cli_invocation *inv, const drv_cli_verb *verb, int argc, char **argv,
                        GHashTable *globals, drv_error **err)
{
    g_autofree char *where =
        verb->name ? g_strdup_printf("%s %s", verb->group, verb->name) : g_strdup(verb->group);
    s_state st = {verb->opts, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                  globals};
    /* GOptionContext wants a GLib-style argv: [prog, words..., NULL] it may permute. */
    char **av = g_new0(char *, argc + 2);
    av[0] = g_strdup(where);
    for (int i = 0; i < argc; i++)
        av[i + 1] = g_strdup(argv[i]);
    int ac = argc + 1;
    int rc = -1;
    if (s_parse_opts(&st, verb->opts, false, &ac, &av, where, err) < 0)
        goto out;
    if (s_apply_globals(inv, globals, err) < 0)
        goto out;
    if (g_hash_table_contains(globals, "help")) {
        inv->help_text = drv_cli_help_verb(verb);
        rc = 0;
        goto out;
    }
    for (const drv_cli_opt *o = verb->opts; o->name != NULL; o++) {
        const char *raw = g_hash_table_lookup(st.verb_values, o->name);
        if (raw == NULL) {
            if (o->required) {
                drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing option --%s", where, o->name);
                goto out;
            }
            continue;
        }
        char *val = NULL;
        if (s_convert_opt(o, raw, &val, where, err) < 0)
            goto out;
        if (o->api_key != NULL) {
            g_ptr_array_add(inv->opt_keys, g_strdup(o->api_key));
            g_ptr_array_add(inv->opt_values, val);
        } else {
            g_hash_table_replace(inv->local, g_strdup(o->name), val);
        }
    }
    if (verb->fixed_opts != NULL) {
        char **pairs = g_strsplit(verb->fixed_opts, ",", -1);
        for (char **kv = pairs; *kv != NULL; kv++) {
            char **p = g_strsplit(*kv, "=", 2);
            g_ptr_array_add(inv->opt_keys, g_strdup(p[0]));
            g_ptr_array_add(inv->opt_values, g_strdup(p[1] ? p[1] : "1"));
            g_strfreev(p);
        }
        g_strfreev(pairs);
    }
    /* "--" is left in argv by GOptionContext when it ends the options; drop it. */
    int first = 1;
    if (ac > 1 && strcmp(av[1], "--") == 0)
        first = 2;
    if (s_convert_args(inv, verb, ac - first, av + first, where, err) < 0)
        goto out;
    rc = 0;
out:
    g_strfreev(av);
    g_hash_table_destroy(st.verb_values);
    return rc;
}

/* `drover help [GROUP [VERB]]` */
static int s_parse_help(drv_cli_invocation *inv, int argc, char **argv, drv_error **err)
{
    if (argc == 0) {
        inv->help_text = drv_cli_help_all();
        return 0;
    }
    const drv_cli_verb *v = drv_cli_verb_find(argv[0], argc > 1 ? argv[1] : NULL);
    if (v == NULL && argc == 1) {
        inv->help_text = drv_cli_help_group(argv[0]);
        if (inv->help_text != NULL)
            return 0;
    }
    if (v == NULL || argc > 2 || (v->name == NULL && argc > 1)) {
        g_autofree char *what = g_strjoinv(" ", argv);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "help: unknown verb '%s' (try 'drover help')",
                             what);
    }
    inv->verb = v;
    inv->help_text = drv_cli_help_verb(v);
    return 0;
}

int drv_cli_invocation_parse(int argc, char **argv, drv_cli_invocation **ret, drv_error **err)
{
    drv_cli_invocation *inv = g_new0(drv_cli_invocation, 1);
    inv->args = g_ptr_array_new_with_free_func(g_free);
    inv->opt_keys = g_ptr_array_new_with_free_func(g_free);
    inv->opt_values = g_ptr_array_new_with_free_func(g_free);
    inv->local = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTable *globals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s_state st = {NULL, NULL, globals};

    char **av = g_new0(char *, argc + 1);
    av[0] = g_strdup("drover");
    for (int i = 1; i < argc; i++)
        av[i] = g_strdup(argv[i]);
    int ac = argc > 0 ? argc : 1;
    int rc = -1;
    if (s_parse_opts(&st, NULL, true, &ac, &av, "drover", err) < 0)
        goto out;
    int first = 1;
    if (ac > 1 && strcmp(av[1], "--") == 0)
        first = 2;
    char **words = av + first;
    int n = ac - first;

    if (n == 0) {
        if (g_hash_table_contains(globals, "help")) {
            inv->help_text = drv_cli_help_all();
            rc = 0;
        } else {
            drv_error_set(err, DRV_ERR_INVALID, 0, "no verb given (try 'drover help')");
        }
        goto out;
    }
    if (strcmp(words[0], "help") == 0) {
        rc = s_parse_help(inv, n - 1, words + 1, err);
        goto out;
    }
    if (!drv_cli_group_exists(words[0])) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "unknown command group '%s' (try 'drover help')",
                      words[0]);
        goto out;
    }
    const drv_cli_verb *verb = drv_cli_verb_find(words[0], NULL);
    int used = 1;
    if (verb == NULL) {
        if (n < 2 || words[1][0] == '-') {
            if (n >= 2 && (strcmp(words[1], "--help") == 0 || strcmp(words[1], "-h") == 0)) {
                inv->help_text = drv_cli_help_group(words[0]);
                rc = 0;
            } else {
                drv_error_set(err, DRV_ERR_INVALID, 0, "%s: missing verb (try 'drover help %s')",
                              words[0], words[0]);
            }
            goto out;
        }
        verb = drv_cli_verb_find(words[0], words[1]);
        if (verb == NULL) {
            drv_error_set(err, DRV_ERR_INVALID, 0, "unknown verb '%s %s' (try 'drover help %s')",
                          words[0], words[1], words[0]);
            goto out;
        }
        used = 2;
        verb = drv_cli_verb_form(verb, n - used, words + used);
    }
    inv->verb = verb;
    rc = s_parse_verb(inv, verb, n - used, words + used, globals, err);
out:
    if (rc == 0 && inv->help_text == NULL && s_apply_globals(inv, globals, err) < 0)
        rc = -1;
    g_strfreev(av);
    g_hash_table_destroy(globals);
    if (rc < 0) {
        drv_cli_invocation_destroy(&inv);
        return -1;
    }
    *ret = inv;
    return 0;
}

void drv_cli_invocation_destroy(drv_cli_invocation **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_cli_invocation *self = *self_p;
    g_free(self->help_text);
    g_free(self->controller);
    g_free(self->events_url);
    g_ptr_array_unref(self->args);
    g_ptr_array_unref(self->opt_keys);
    g_ptr_array_unref(self->opt_values);
    g_free(self->body_path);
    g_hash_table_destroy(self->local);
    g_free(self);
    *self_p = NULL;
}

const char *drv_cli_invocation_option(const drv_cli_invocation *self, const char *api_key)
{
    for (guint i = 0; i < self->opt_keys->len; i++)
        if (strcmp(g_ptr_array_index(self->opt_keys, i), api_key) == 0)
            return g_ptr_array_index(self->opt_values, i);
    return NULL;
}

const char *drv_cli_invocation_local(const drv_cli_invocation *self, const char *name)
{
    return g_hash_table_lookup(self->local, name);
}

void drv_cli_invocation_request(const drv_cli_invocation *self, const void *body, size_t body_len,
                                drv_cli_request *req)
{
    memset(req, 0, sizeof(*req));
    req->verb = self->verb->api_verb;
    req->args = (const char *const *)self->args->pdata;
    req->n_args = self->args->len;
    req->opt_keys = (const char *const *)self->opt_keys->pdata;
    req->opt_values = (const char *const *)self->opt_values->pdata;
    req->n_opts = self->opt_keys->len;
    req->body = body;
    req->body_len = body_len;
}
