/* job_busy.c — see job_busy.h. */
#include "job_busy.h"

#include "job_drain.h"
#include "log.h"

#include <string.h>

static bool s_mark(ctl_model *m, const char *name)
{
    ctl_domain *d = ctl_model_domain(m, name);
    if (d == NULL || d->busy != NULL)
        return false;
    d->busy = g_strdup("migrate");
    return true;
}

guint ctl_job_busy_mark(ctl_model *m, GPtrArray *jobs)
{
    guint n = 0;
    GHashTable *children = g_hash_table_new(g_str_hash, g_str_equal); /* id → drv_job* */
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *j = g_ptr_array_index(jobs, i);
        if (j->kind != DRV_JOB_KIND_MIGRATE || drv_job_state_is_terminal(j->state) ||
            j->migrate.domain == NULL)
            continue;
        if (strchr(j->id, ':') != NULL) /* "<drain>:<domain>:<attempt>": its drain decides */
            g_hash_table_replace(children, j->id, (gpointer)j);
        else
            n += s_mark(m, j->migrate.domain);
    }
    for (guint i = 0; i < jobs->len; i++) { /* start and undefine jobs (lifecycle_run.h) */
        const drv_job *j = g_ptr_array_index(jobs, i);
        if ((j->kind != DRV_JOB_KIND_START && j->kind != DRV_JOB_KIND_UNDEFINE) ||
            drv_job_state_is_terminal(j->state) || j->lifecycle.domain == NULL)
            continue;
        ctl_domain *d = ctl_model_domain(m, j->lifecycle.domain);
        if (d != NULL && d->busy == NULL) {
            d->busy = g_strdup(j->kind == DRV_JOB_KIND_START ? "start" : "undefine");
            n++;
        }
    }
    for (guint i = 0; i < jobs->len; i++) {
        const drv_job *j = g_ptr_array_index(jobs, i);
        if (!drv_job_kind_is_batch(j->kind) || drv_job_state_is_terminal(j->state))
            continue;
        for (size_t k = 0; k < j->drain.n_entries; k++) {
            const drv_job_entry *e = &j->drain.entries[k];
            if (e->state != DRV_JOB_ENTRY_MIGRATING || e->attempts == 0)
                continue;
            g_autofree char *id = drv_job_drain_child_id(j, e, e->attempts);
            const drv_job *child = g_hash_table_lookup(children, id);
            if (child != NULL && g_strcmp0(child->migrate.domain, e->domain) == 0)
                n += s_mark(m, e->domain);
        }
    }
    g_hash_table_unref(children);
    return n;
}

guint ctl_job_busy_refresh(ctl_model *m, GPtrArray *jobs, GPtrArray *live)
{
    /* the wanted marks, on a scratch model: exactly the rules of ctl_job_busy_mark */
    GHashTable *keep = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; live != NULL && i < live->len; i++) {
        const drv_job *j = g_ptr_array_index(live, i);
        if (j->migrate.domain != NULL)
            g_hash_table_add(keep, j->migrate.domain);
    }
    ctl_model *want = ctl_model_new();
    GPtrArray *doms = ctl_model_domains(m);
    for (guint i = 0; i < doms->len; i++)
        ctl_model_put_domain(want,
                             ctl_domain_new(((ctl_domain *)g_ptr_array_index(doms, i))->name));
    ctl_job_busy_mark(want, jobs);
    guint cleared = 0;
    for (guint i = 0; i < doms->len; i++) {
        ctl_domain *d = g_ptr_array_index(doms, i);
        if (g_strcmp0(d->busy, "migrate") != 0 || g_hash_table_contains(keep, d->name) ||
            ctl_model_domain(want, d->name)->busy != NULL)
            continue;
        g_clear_pointer(&d->busy, g_free);
        cleared++;
    }
    g_ptr_array_unref(doms);
    ctl_model_destroy(&want);
    g_hash_table_unref(keep);
    ctl_job_busy_mark(m, jobs);
    return cleared;
}
