/* test_cli_invocation.c — the command line: sizes and durations converted for the API, options
 * before and after the verb, help in every spelling, and usage errors (exit 2) that name the verb
 * and the offending word. Parsing is pure, so none of this can contact anyone. */
#include "invocation.h"

#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* Parses a space-separated command line (words after "drover"). */
static int s_parse(const char *line, drv_cli_invocation **ret, drv_error **err)
{
    g_autofree char *full = g_strdup_printf("drover %s", line);
    char **argv = line[0] ? g_strsplit(full, " ", -1) : g_strsplit("drover", " ", -1);
    int rc = drv_cli_invocation_parse((int)g_strv_length(argv), argv, ret, err);
    g_strfreev(argv);
    return rc;
}

static drv_cli_invocation *s_ok(const char *line)
{
    drv_cli_invocation *inv = NULL;
    drv_error *e = NULL;
    if (s_parse(line, &inv, &e) < 0)
        fail_msg("'%s' refused: %s", line, e->message);
    return inv;
}

/* Expects a usage error whose message contains want. */
static void s_usage(const char *line, const char *want)
{
    drv_cli_invocation *inv = NULL;
    drv_error *e = NULL;
    if (s_parse(line, &inv, &e) == 0)
        fail_msg("'%s' accepted", line);
    assert_null(inv);
    assert_non_null(e);
    assert_int_equal(e->kind, DRV_ERR_INVALID);
    if (strstr(e->message, want) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", line, e->message, want);
    drv_error_destroy(&e);
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *kib;
    } cases[] = {
        {"1024", "1024"},     {"512M", "524288"},  {"512MiB", "524288"}, {"2G", "2097152"},
        {"2GiB", "2097152"},  {"2gib", "2097152"}, {"1.5G", "1572864"},  {"64K", "64"},
        {"1T", "1073741824"}, {"0", "0"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *line = g_strdup_printf("domain setmem web1 %s", cases[i].text);
        drv_cli_invocation *inv = s_ok(line);
        assert_int_equal(inv->args->len, 2);
        assert_string_equal(g_ptr_array_index(inv->args, 1), cases[i].kib);
        drv_cli_invocation_destroy(&inv);
        /* the same parser for --memory */
        g_autofree char *cap = g_strdup_printf("capacity --vcpus 1 --memory %s", cases[i].text);
        inv = s_ok(cap);
        assert_string_equal(drv_cli_invocation_option(inv, "memory_kib"), cases[i].kib);
        drv_cli_invocation_destroy(&inv);
    }
    const char *bad[] = {"2XB", "G", "-1", "1.2.3", "", "0x10", "1e3", "1e3Q", "5 M B", "2Gx"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *argv[] = {"drover", "domain", "setmem", "web1", (char *)bad[i], NULL};
        drv_cli_invocation *inv = NULL;
        drv_error *e = NULL;
        if (drv_cli_invocation_parse(5, argv, &inv, &e) == 0)
            fail_msg("size '%s' accepted", bad[i]);
        assert_int_equal(e->kind, DRV_ERR_INVALID);
        drv_error_destroy(&e);
    }
    s_usage("domain setmem web1 2XB", "bad size '2XB'");
    s_usage("capacity --vcpus 1 --memory lots", "--memory: bad size 'lots'");
}

static void test_request_building(void **state)
{
    (void)state;
    drv_cli_invocation *inv = s_ok("domain shutdown web1 --timeout 5");
    assert_string_equal(inv->verb->api_verb, "domain.shutdown");
    assert_string_equal(drv_cli_invocation_option(inv, "timeout_ms"), "5000");
    assert_int_equal(inv->timeout_ms, 0); /* the verb's --timeout, not the global one */
    drv_cli_request req;
    drv_cli_invocation_request(inv, NULL, 0, &req);
    assert_string_equal(req.verb, "domain.shutdown");
    assert_int_equal(req.n_args, 1);
    assert_string_equal(req.args[0], "web1");
    assert_int_equal(req.n_opts, 1);
    assert_string_equal(req.opt_keys[0], "timeout_ms");
    drv_cli_invocation_destroy(&inv);

    /* global --timeout before the group, verb --timeout after */
    inv = s_ok("--timeout 2.5 domain shutdown web1 --timeout 60");
    assert_int_equal(inv->timeout_ms, 2500);
    assert_string_equal(drv_cli_invocation_option(inv, "timeout_ms"), "60000");
    drv_cli_invocation_destroy(&inv);

    inv = s_ok("--json --controller tcp://10.0.0.1:7702 domain list --all");
    assert_true(inv->json);
    assert_string_equal(inv->controller, "tcp://10.0.0.1:7702");
    assert_string_equal(drv_cli_invocation_option(inv, "all"), "1");
    assert_int_equal(inv->args->len, 0);
    drv_cli_invocation_destroy(&inv);

    /* global options after the verb, option=value form, options between arguments */
    inv = s_ok("domain setvcpus --live web1 --json 4 --config --timeout=7");
    assert_true(inv->json);
    assert_int_equal(inv->timeout_ms, 7000);
    assert_string_equal(g_ptr_array_index(inv->args, 0), "web1");
    assert_string_equal(g_ptr_array_index(inv->args, 1), "4");
    assert_string_equal(drv_cli_invocation_option(inv, "live"), "1");
    assert_string_equal(drv_cli_invocation_option(inv, "config"), "1");
    drv_cli_invocation_destroy(&inv);

    /* bodies stay paths until main reads them */
    inv = s_ok("domain attach-device web1 - --live");
    assert_string_equal(inv->body_path, "-");
    assert_int_equal(inv->args->len, 1);
    drv_cli_invocation_destroy(&inv);

    /* labels: rest arguments, k- removal */
    inv = s_ok("host label h1 rack=r1 zone=a gpu-");
    assert_int_equal(inv->args->len, 4);
    assert_string_equal(g_ptr_array_index(inv->args, 3), "gpu-");
    drv_cli_invocation_destroy(&inv);

    /* optional argument */
    inv = s_ok("snapshot create web1");
    assert_int_equal(inv->args->len, 1);
    drv_cli_invocation_destroy(&inv);
    inv = s_ok("snapshot create web1 before-upgrade");
    assert_int_equal(inv->args->len, 2);
    drv_cli_invocation_destroy(&inv);

    /* capacity: CLI-only option stays local, API options are converted */
    inv =
        s_ok("capacity --vcpus 2 --memory 4G --flags avx2,sse4.2 --n-plus-one --from-file c.json");
    assert_string_equal(inv->verb->api_verb, "capacity");
    assert_string_equal(drv_cli_invocation_option(inv, "vcpus"), "2");
    assert_string_equal(drv_cli_invocation_option(inv, "memory_kib"), "4194304");
    assert_string_equal(drv_cli_invocation_option(inv, "flags"), "avx2,sse4.2");
    assert_string_equal(drv_cli_invocation_option(inv, "n_plus_one"), "1");
    assert_string_equal(drv_cli_invocation_option(inv, "hosts_down"), "1"); /* always asked */
    assert_null(drv_cli_invocation_option(inv, "arch"));
    assert_null(drv_cli_invocation_option(inv, "from-file"));
    assert_string_equal(drv_cli_invocation_local(inv, "from-file"), "c.json");
    drv_cli_invocation_destroy(&inv);

    inv = s_ok("events --topic domain. --count 3 --events tcp://127.0.0.1:9");
    assert_null(inv->verb->api_verb);
    assert_string_equal(drv_cli_invocation_local(inv, "topic"), "domain.");
    assert_string_equal(drv_cli_invocation_local(inv, "count"), "3");
    assert_string_equal(inv->events_url, "tcp://127.0.0.1:9");
    drv_cli_invocation_destroy(&inv);

    inv = s_ok("cluster cpu-baseline --xml");
    assert_non_null(drv_cli_invocation_local(inv, "xml"));
    assert_int_equal(inv->opt_keys->len, 0); /* --xml is not sent */
    drv_cli_invocation_destroy(&inv);
}

static void test_help(void **state)
{
    (void)state;
    const char *lines[] = {"help",
                           "--help",
                           "help domain start",
                           "domain start --help",
                           "--help domain start",
                           "help capacity",
                           "capacity --help",
                           "domain --help",
                           "help domain"};
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        drv_cli_invocation *inv = s_ok(lines[i]);
        assert_non_null(inv->help_text);
        assert_true(strlen(inv->help_text) > 20);
        drv_cli_invocation_destroy(&inv);
    }
    drv_cli_invocation *inv = s_ok("domain start --help");
    assert_non_null(strstr(inv->help_text, "usage: drover domain start NAME"));
    assert_non_null(strstr(inv->help_text, "domain.start"));
    drv_cli_invocation_destroy(&inv);
    /* --help wins over a missing required option */
    inv = s_ok("capacity --help");
    assert_non_null(strstr(inv->help_text, "--vcpus N"));
    drv_cli_invocation_destroy(&inv);
}

static void test_usage_errors(void **state)
{
    (void)state;
    s_usage("", "no verb given");
    s_usage("--json", "no verb given");
    s_usage("frobnicate", "unknown command group 'frobnicate'");
    s_usage("domain", "domain: missing verb");
    s_usage("domain frob", "unknown verb 'domain frob'");
    s_usage("domain start", "domain start: missing argument NAME");
    s_usage("domain start a b", "domain start: unexpected argument 'b'");
    s_usage("domain list --bogus", "domain list: unknown option --bogus");
    s_usage("domain rollback web1 two", "REV: 'two' is not a non-negative integer");
    s_usage("domain setvcpus web1 -3", "domain setvcpus");
    s_usage("domain shutdown web1 --timeout soon", "--timeout: 'soon' is not a positive number");
    s_usage("--timeout 0 host list", "--timeout: '0'");
    s_usage("--timeout", "missing argument for --timeout");
    s_usage("host label h1", "missing argument KEY=VALUE|KEY-");
    s_usage("domain define", "missing argument FILE|-");
    s_usage("capacity --vcpus 2", "capacity: missing option --memory");
    s_usage("capacity --vcpus 2 --memory 1G --flags ,avx", "not a comma-separated list");
    s_usage("events --count many", "--count: 'many'");
    s_usage("help nosuch verb", "help: unknown verb");
    s_usage("snapshot revert web1", "missing argument NAME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_request_building),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
