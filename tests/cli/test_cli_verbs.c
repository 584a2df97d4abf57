/* test_cli_verbs.c — the verb table is consistent: every verb has help and a synopsis, names are
 * unique, arguments are well ordered, options are described, and every client-API verb listed in
 * docs/api.md (and every option key it names for that verb) is reachable from some drover verb. */
#include "verbs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_every_verb_is_described(void **state)
{
    (void)state;
    size_t n = 0;
    const drv_cli_verb *verbs = drv_cli_verbs(&n);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        const drv_cli_verb *v = &verbs[i];
        assert_non_null(v->group);
        assert_non_null(v->summary);
        assert_true(strlen(v->summary) > 10);
        assert_true(v->show < DRV_CLI_SHOW_LAST);
        if (v->show == DRV_CLI_SHOW_MESSAGE)
            assert_non_null(v->done);
        if (v->run != DRV_CLI_RUN_EVENTS && v->run != DRV_CLI_RUN_KEYGEN)
            assert_non_null(v->api_verb);
        /* findable, and only once, or as the second form right after the first (found by an
         * option only it knows: drv_cli_verb_form) */
        bool second_form = i > 0 && g_strcmp0(v->group, verbs[i - 1].group) == 0 &&
                           g_strcmp0(v->name, verbs[i - 1].name) == 0;
        if (!second_form)
            assert_ptr_equal(drv_cli_verb_find(v->group, v->name), v);
        for (size_t j = i + 1; j < n; j++)
            assert_false(g_strcmp0(v->group, verbs[j].group) == 0 &&
                         g_strcmp0(v->name, verbs[j].name) == 0 && (j > i + 1 || second_form));
        /* arguments: optional ones and REST only at the end */
        bool seen_optional = false;
        for (const drv_cli_arg *a = v->args; a->name != NULL; a++) {
            assert_true(a->kind < DRV_CLI_ARG_KIND_LAST);
            if (seen_optional)
                assert_true(a->optional);
            seen_optional |= a->optional;
            if (a->kind == DRV_CLI_ARG_REST)
                assert_null(a[1].name);
        }
        for (const drv_cli_opt *o = v->opts; o->name != NULL; o++) {
            assert_true(o->kind < DRV_CLI_OPT_KIND_LAST);
            assert_non_null(o->help);
            if (o->kind != DRV_CLI_OPT_FLAG)
                assert_non_null(o->metavar);
        }
        /* help names the synopsis, the summary and the API verb */
        g_autofree char *help = drv_cli_help_verb(v);
        g_autofree char *syn = drv_cli_verb_synopsis(v);
        assert_non_null(strstr(help, syn));
        assert_non_null(strstr(help, v->summary));
        if (v->api_verb != NULL)
            assert_non_null(strstr(help, v->api_verb));
        for (const drv_cli_opt *o = v->opts; o->name != NULL; o++) {
            g_autofree char *flag = g_strdup_printf("--%s", o->name);
            assert_non_null(strstr(help, flag));
            assert_non_null(strstr(help, o->help));
        }
        /* the overview and the group help list it */
        g_autofree char *all = drv_cli_help_all();
        g_autofree char *group = drv_cli_help_group(v->group);
        g_autofree char *line =
            v->name ? g_strdup_printf("%s %s", v->group, v->name) : g_strdup(v->group);
        assert_non_null(strstr(all, line));
        assert_non_null(group);
        assert_non_null(strstr(group, v->summary));
    }
    assert_null(drv_cli_help_group("nosuchgroup"));
    assert_null(drv_cli_verb_find("domain", "nosuchverb"));
}

/* Returns the option keys named in a docs/api.md row's options column: `key` words. */
static void s_backticked(const char *cell, GPtrArray *out)
{
    for (const char *p = strchr(cell, '`'); p != NULL; p = strchr(p, '`')) {
        const char *end = strchr(p + 1, '`');
        if (end == NULL)
            break;
        g_ptr_array_add(out, g_strndup(p + 1, (gsize)(end - p - 1)));
        p = end + 1;
    }
}

static bool s_cli_has_api_verb(const char *api_verb)
{
    size_t n = 0;
    const drv_cli_verb *verbs = drv_cli_verbs(&n);
    for (size_t i = 0; i < n; i++)
        if (g_strcmp0(verbs[i].api_verb, api_verb) == 0)
            return true;
    return false;
}

/* True if some drover verb mapping to api_verb sends option `key`. */
static bool s_cli_sends_option(const char *api_verb, const char *key)
{
    size_t n = 0;
    const drv_cli_verb *verbs = drv_cli_verbs(&n);
    for (size_t i = 0; i < n; i++) {
        if (g_strcmp0(verbs[i].api_verb, api_verb) != 0)
            continue;
        for (const drv_cli_opt *o = verbs[i].opts; o->name != NULL; o++)
            if (g_strcmp0(o->api_key, key) == 0)
                return true;
        /* options the verb always sends ("hosts_down=1") */
        if (verbs[i].fixed_opts != NULL) {
            g_autofree char *prefix = g_strdup_printf("%s=", key);
            char **pairs = g_strsplit(verbs[i].fixed_opts, ",", -1);
            bool found = false;
            for (char **p = pairs; *p != NULL; p++)
                found |= g_str_has_prefix(*p, prefix);
            g_strfreev(pairs);
            if (found)
                return true;
        }
    }
    return false;
}

static void test_every_api_verb_is_reachable(void **state)
{
    (void)state;
    const char *src = g_getenv("DROVER_SOURCE_DIR");
    assert_non_null(src);
    g_autofree char *path = g_build_filename(src, "docs", "api.md", NULL);
    g_autofree char *text = NULL;
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    char **lines = g_strsplit(text, "\n", -1);
    bool in_verbs = false;
    size_t n_api = 0;
    for (char **l = lines; *l != NULL; l++) {
        if (g_str_has_prefix(*l, "## "))
            in_verbs = strstr(*l, "Verbs") != NULL;
        if (!in_verbs || !g_str_has_prefix(*l, "| `"))
            continue;
        /* | verbs | args | options | result | */
        char **cells = g_strsplit(*l, "|", -1);
        assert_true(g_strv_length(cells) >= 5);
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        GPtrArray *opts = g_ptr_array_new_with_free_func(g_free);
        s_backticked(cells[1], names);
        s_backticked(cells[3], opts);
        g_autofree char *group = NULL;
        for (guint i = 0; i < names->len; i++) {
            const char *name = g_ptr_array_index(names, i);
            g_autofree char *api = NULL;
            const char *dot = strchr(name, '.');
            if (dot != NULL) {
                g_free(group);
                group = g_strndup(name, (gsize)(dot - name));
                api = g_strdup(name);
            } else {
                api = group ? g_strdup_printf("%s.%s", group, name) : g_strdup(name);
            }
            if (!s_cli_has_api_verb(api))
                fail_msg("API verb '%s' from docs/api.md has no drover verb", api);
            n_api++;
            for (guint k = 0; k < opts->len; k++) {
                const char *key = g_ptr_array_index(opts, k);
                /* "shutdown: `timeout_ms`" applies to one verb of a row only */
                if (!s_cli_sends_option(api, key) && names->len == 1)
                    fail_msg("option '%s' of API verb '%s' is not sent by any drover verb", key,
                             api);
            }
        }
        g_ptr_array_unref(names);
        g_ptr_array_unref(opts);
        g_strfreev(cells);
    }
    g_strfreev(lines);
    assert_true(n_api >= 30); /* the table was found and read */
    /* the row-shared options (several verbs in one row) */
    assert_true(s_cli_sends_option("domain.shutdown", "timeout_ms"));
    assert_true(s_cli_sends_option("domain.attach-device", "live"));
    assert_true(s_cli_sends_option("domain.detach-device", "config"));
}

/* A controller's error names the CLI flag, not the API option key (issue 17). */
static void test_errors_name_flags(void **state)
{
    (void)state;
    g_autofree char *a = drv_cli_verbs_flag_words(
        "host.maintenance", "host.maintenance: option max_parallel '0' is not a whole number from "
                            "1 to 1000");
    assert_string_equal(
        a, "host.maintenance: --max-parallel '0' is not a whole number from 1 to 1000");
    g_autofree char *b = drv_cli_verbs_flag_words(
        "host.maintenance", "option per_source and option per_dest; option per_sourcex stays");
    assert_string_equal(b, "--per-source and --per-dest; option per_sourcex stays");
    g_autofree char *c = drv_cli_verbs_flag_words("domain.migrate", "option max_downtime_ms 'x'");
    assert_string_equal(c, "--max-downtime 'x'");
    g_autofree char *d = drv_cli_verbs_flag_words("no.such", "option max_parallel");
    assert_string_equal(d, "option max_parallel");
}

static void test_global_options(void **state)
{
    (void)state;
    const char *names[] = {"controller", "events", "json", "timeout", "help"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        const drv_cli_opt *o = drv_cli_opt_find(NULL, names[i]);
        assert_non_null(o);
        assert_null(o->api_key); /* never sent to the controller */
    }
    assert_null(drv_cli_opt_find(NULL, "live"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_verb_is_described),
        cmocka_unit_test(test_every_api_verb_is_reachable),
        cmocka_unit_test(test_global_options),
        cmocka_unit_test(test_errors_name_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
