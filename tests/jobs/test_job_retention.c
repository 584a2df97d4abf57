/* test_job_retention.c — the job retention policy (jobs/job_retention.c): terminal jobs older than
 * the retention go, oldest first and bounded; running ones and anything created after the oldest
 * running job stay; keep 0 keeps all; a clock behind a job keeps it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "job_retention.h"

#include <string.h>

#define DAY (24ULL * 3600 * 1000)

static drv_job *s_job(const char *id, drv_job_state state, uint64_t created, uint64_t updated)
{
    drv_job *j = drv_job_new(id, DRV_JOB_KIND_MIGRATE, NULL, created);
    j->state = state;
    j->updated_ms = updated;
    return j;
}

static void s_free(gpointer p)
{
    drv_job *j = p;
    drv_job_destroy(&j);
}

static char *s_join(GPtrArray *ids)
{
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < ids->len; i++)
        g_string_append_printf(s, "%s%s", i ? "," : "", (const char *)g_ptr_array_index(ids, i));
    return g_string_free(s, FALSE);
}

static void test_old_terminal_jobs_go(void **state)
{
    (void)state;
    uint64_t now = 100 * DAY;
    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_free);
    g_ptr_array_add(jobs, s_job("j3", DRV_JOB_FAILED, 3 * DAY, 3 * DAY));
    g_ptr_array_add(jobs, s_job("j1", DRV_JOB_SUCCEEDED, 1 * DAY, 1 * DAY));
    g_ptr_array_add(jobs, s_job("j2", DRV_JOB_CANCELLED, 2 * DAY, 2 * DAY));
    g_ptr_array_add(jobs, s_job("recent", DRV_JOB_SUCCEEDED, 95 * DAY, 95 * DAY));
    /* created long ago but finished yesterday: the retention counts from the last change */
    g_ptr_array_add(jobs, s_job("long", DRV_JOB_SUCCEEDED, 4 * DAY, 99 * DAY));
    GPtrArray *ids = drv_job_retention_pick(jobs, now, 7 * DAY, 100);
    char *s = s_join(ids);
    assert_string_equal(s, "j1,j2,j3"); /* oldest first */
    g_free(s);
    g_ptr_array_unref(ids);
    /* bounded */
    ids = drv_job_retention_pick(jobs, now, 7 * DAY, 2);
    s = s_join(ids);
    assert_string_equal(s, "j1,j2");
    g_free(s);
    g_ptr_array_unref(ids);
    /* keep 0 = keep every job */
    ids = drv_job_retention_pick(jobs, now, 0, 100);
    assert_int_equal(ids->len, 0);
    g_ptr_array_unref(ids);
    g_ptr_array_unref(jobs);
}

static void test_running_jobs_protect_later_ones(void **state)
{
    (void)state;
    uint64_t now = 100 * DAY;
    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_free);
    g_ptr_array_add(jobs, s_job("before", DRV_JOB_SUCCEEDED, 1 * DAY, 1 * DAY));
    /* a drain that still runs, created on day 2; its migrations (created after it) stay however
     * old they are, the drain itself too */
    g_ptr_array_add(jobs, s_job("drain", DRV_JOB_RUNNING, 2 * DAY, 2 * DAY));
    g_ptr_array_add(jobs, s_job("child", DRV_JOB_SUCCEEDED, 3 * DAY, 3 * DAY));
    g_ptr_array_add(jobs, s_job("pending", DRV_JOB_PENDING, 10 * DAY, 10 * DAY));
    GPtrArray *ids = drv_job_retention_pick(jobs, now, 7 * DAY, 100);
    char *s = s_join(ids);
    assert_string_equal(s, "before");
    g_free(s);
    g_ptr_array_unref(ids);
    g_ptr_array_unref(jobs);
}

static void test_clock_behind_keeps(void **state)
{
    (void)state;
    GPtrArray *jobs = g_ptr_array_new_with_free_func(s_free);
    g_ptr_array_add(jobs, s_job("future", DRV_JOB_SUCCEEDED, 50 * DAY, 50 * DAY));
    GPtrArray *ids = drv_job_retention_pick(jobs, 10 * DAY, 1, 100);
    assert_int_equal(ids->len, 0);
    g_ptr_array_unref(ids);
    ids = drv_job_retention_pick(NULL, 10 * DAY, 1, 100);
    assert_int_equal(ids->len, 0);
    g_ptr_array_unref(ids);
    g_ptr_array_unref(jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_terminal_jobs_go),
        cmocka_unit_test(test_running_jobs_protect_later_ones),
        cmocka_unit_test(test_clock_behind_keeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
