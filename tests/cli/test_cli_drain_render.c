/* test_cli_drain_render.c — how drain and restore jobs are shown (cli/drain_render.c, docs/
 * maintenance.md) against golden files: the per-domain progress block with and without bars, the
 * `job show` sheet, `job list` rows and the final sentence, for the job library's golden drain and
 * restore documents (tests/jobs/golden/) and a failed drain (tests/cli/data/drain-failed.json).
 * Set DROVER_UPDATE_GOLDEN=1 to rewrite the golden files (then review the diff). */
#include "jobs.h"
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static char *s_read(const char *path)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("cannot read %s", path);
    return text;
}

static json_object *s_doc(const char *dir, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.json", name);
    g_autofree char *path =
        g_build_filename(g_getenv("DROVER_SOURCE_DIR"), "tests", dir, file, NULL);
    g_autofree char *text = s_read(path);
    json_object *doc = json_tokener_parse(text);
    assert_non_null(doc);
    return doc;
}

static void s_check_golden(const char *name, const char *out)
{
    g_autofree char *file = g_strdup_printf("%s.txt", name);
    g_autofree char *golden =
        g_build_filename(g_getenv("DROVER_SOURCE_DIR"), "tests", "cli", "golden", file, NULL);
    assert_null(strstr(out, " \n")); /* no line ends in a blank */
    if (g_getenv("DROVER_UPDATE_GOLDEN") != NULL) {
        assert_true(g_file_set_contents(golden, out, -1, NULL));
        return;
    }
    g_autofree char *want = s_read(golden);
    if (strcmp(want, out) != 0)
        fail_msg("%s differs from %s:\n--- got ---\n%s--- want ---\n%s", name, golden, out, want);
}

static void test_progress(void **state)
{
    (void)state;
    json_object *job = s_doc("jobs/golden", "drain-running");
    assert_true(drv_cli_job_is_drain(job));
    assert_false(drv_cli_job_is_terminal(job));
    GString *out = g_string_new(NULL);
    drv_cli_render_drain_progress(job, 10, out);
    g_string_append(out, "--\n");
    drv_cli_render_drain_progress(job, 0, out);
    s_check_golden("drain-progress", out->str);
    /* one line per entry plus the summary */
    json_object *d = NULL, *es = NULL;
    json_object_object_get_ex(job, "drain", &d);
    json_object_object_get_ex(d, "entries", &es);
    g_auto(GStrv) lines = g_strsplit(out->str, "\n", -1);
    assert_int_equal(g_strv_length(lines), 2 * (json_object_array_length(es) + 1) + 2);
    g_string_free(out, TRUE);
    json_object_put(job);
}

static void test_sheet_and_outcome(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    const char *const docs[][2] = {{"jobs/golden", "drain-running"},
                                   {"jobs/golden", "restore-pending"},
                                   {"cli/data", "drain-failed"},
                                   {"jobs/golden", "balance-failed"}};
    for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
        json_object *job = s_doc(docs[i][0], docs[i][1]);
        assert_true(drv_cli_job_is_drain(job));
        g_string_append_printf(out, "== job show %s\n", docs[i][1]);
        drv_cli_render_job(job, out);
        g_string_append(out, "== outcome\n");
        drv_cli_render_drain_outcome(job, out);
        json_object_put(job);
    }
    s_check_golden("drain-sheets", out->str);
    g_string_free(out, TRUE);
}

static void test_list(void **state)
{
    (void)state;
    json_object *doc = json_object_new_object(), *arr = json_object_new_array();
    json_object_array_add(arr, s_doc("jobs/golden", "migrate-running"));
    json_object_array_add(arr, s_doc("jobs/golden", "drain-running"));
    json_object_array_add(arr, s_doc("jobs/golden", "restore-pending"));
    json_object_array_add(arr, s_doc("jobs/golden", "balance-failed"));
    json_object_object_add(doc, "jobs", arr);
    GString *out = g_string_new(NULL);
    drv_cli_render_job_list(doc, out);
    s_check_golden("drain-job-list", out->str);
    g_string_free(out, TRUE);
    json_object_put(doc);
}

/* The job time of a running drain is the controller's elapsed_ms (now − created), not the time
 * between creation and its last persisted update. */
static void test_job_time_running(void **state)
{
    (void)state;
    json_object *job = s_doc("jobs/golden", "drain-running");
    GString *out = g_string_new(NULL);
    drv_cli_render_job(job, out);
    assert_null(strstr(out->str, "Job time:        12 min"));
    json_object_object_add(job, "elapsed_ms", json_object_new_int64(12 * 60 * 1000 + 3000));
    g_string_truncate(out, 0);
    drv_cli_render_job(job, out);
    const char *line = strstr(out->str, "Job time:");
    assert_non_null(line);
    g_autofree char *one = g_strndup(line, strcspn(line, "\n"));
    assert_string_equal(one, "Job time:        12 min 3 s");
    assert_int_equal(drv_cli_job_elapsed_ms(job), 12 * 60 * 1000 + 3000);
    g_string_free(out, TRUE);
    json_object_put(job);
}

/* A migration job is not a drain; a drain without entries renders its summary alone. */
static void test_odd(void **state)
{
    (void)state;
    json_object *mig = s_doc("jobs/golden", "migrate-running");
    assert_false(drv_cli_job_is_drain(mig));
    json_object_put(mig);
    json_object *job = json_tokener_parse(
        "{\"id\":\"d-x\",\"kind\":\"drain\",\"state\":\"succeeded\",\"drain\":{\"host\":\"h9\"}}");
    GString *out = g_string_new(NULL);
    drv_cli_render_drain_progress(job, 10, out);
    assert_string_equal(
        out->str, "drain of h9 succeeded: 0 done, 0 migrating, 0 planned, 0 failed, 0 skipped\n");
    g_string_truncate(out, 0);
    drv_cli_render_drain_outcome(job, out);
    assert_string_equal(out->str,
                        "Drain of h9 succeeded in 0 ms: 0 of 0 domains moved; the host is in "
                        "maintenance\n");
    g_string_free(out, TRUE);
    json_object_put(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress), cmocka_unit_test(test_sheet_and_outcome),
        cmocka_unit_test(test_list),     cmocka_unit_test(test_job_time_running),
        cmocka_unit_test(test_odd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
