/* job_retention.c — see job_retention.h. */
#include "job_retention.h"

static gint s_by_created(gconstpointer a, gconstpointer b)
{
    const drv_job *x = *(drv_job *const *)a, *y = *(drv_job *const *)b;
    return x->created_ms < y->created_ms ? -1 : x->created_ms > y->created_ms;
}

GPtrArray *drv_job_retention_pick(GPtrArray *jobs, uint64_t now_ms, uint64_t keep_ms, guint max)
{
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    if (keep_ms == 0 || jobs == NULL)
        return ids;
    uint64_t oldest_running = UINT64_MAX;
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *j = g_ptr_array_index(jobs, i);
        if (!drv_job_state_is_terminal(j->state) && j->created_ms < oldest_running)
            oldest_running = j->created_ms;
    }
    /* borrowed pointers (g_ptr_array_copy would take the free function along) */
    GPtrArray *sorted = g_ptr_array_sized_new(jobs->len);
    for (guint i = 0; i < jobs->len; i++)
        g_ptr_array_add(sorted, g_ptr_array_index(jobs, i));
    g_ptr_array_sort(sorted, s_by_created);
    for (guint i = 0; i < sorted->len && ids->len < max; i++) {
        const drv_job *j = g_ptr_array_index(sorted, i);
        if (!drv_job_state_is_terminal(j->state) || j->created_ms >= oldest_running)
            continue;
        if (now_ms < j->updated_ms || now_ms - j->updated_ms < keep_ms)
            continue;
        g_ptr_array_add(ids, g_strdup(j->id));
    }
    g_ptr_array_unref(sorted);
    return ids;
}
