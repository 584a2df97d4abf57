/* job_action.c — event and action vocabulary of the job state machines, and the action list. */
#include <string.h>

#include <glib.h>

#include "job_action.h"

static const char *const s_event_names[DRV_JOB_EV_LAST] = {
    "start",        "reserved-ok", "reserved-failed", "storage-verified", "storage-refused",
    "progress",     "result-ok",   "result-failed",   "result-cancelled", "cancel",
    "timeout",      "restarted",   "domain-found",    "reply-ok",         "reply-failed",
    "reply-unknown"};
static const char *const s_where_names[DRV_JOB_WHERE_LAST] = {
    "source", "destination", "nowhere", "migrating", "running", "defined", "unknown"};
static const char *const s_action_names[DRV_JOB_ACT_LAST] = {
    "reserve",     "verify-storage", "migrate",        "cancel",
    "locate",      "release",        "set-placement",  "redefine-snapshots",
    "launch",      "shutdown",       "set-host-state", "publish",
    "persist",     "define",         "start",          "undefine",
    "set-desired", "forget",         "destroy"};

const char *drv_job_event_kind_to_string(drv_job_event_kind kind)
{
    return (unsigned)kind < DRV_JOB_EV_LAST ? s_event_names[kind] : NULL;
}

int drv_job_event_kind_from_string(const char *name, drv_job_event_kind *ret)
{
    for (int i = 0; name && i < DRV_JOB_EV_LAST; i++)
        if (strcmp(s_event_names[i], name) == 0) {
            *ret = (drv_job_event_kind)i;
            return 0;
        }
    return -1;
}

const char *drv_job_where_to_string(drv_job_where where)
{
    return (unsigned)where < DRV_JOB_WHERE_LAST ? s_where_names[where] : NULL;
}

int drv_job_where_from_string(const char *name, drv_job_where *ret)
{
    for (int i = 0; name && i < DRV_JOB_WHERE_LAST; i++)
        if (strcmp(s_where_names[i], name) == 0) {
            *ret = (drv_job_where)i;
            return 0;
        }
    return -1;
}

const char *drv_job_action_kind_to_string(drv_job_action_kind kind)
{
    return (unsigned)kind < DRV_JOB_ACT_LAST ? s_action_names[kind] : NULL;
}

struct drv_job_actions {
    GArray *v; /* of drv_job_action */
};

static void s_action_clear(gpointer p)
{
    drv_job_action *a = p;
    g_free(a->job_id);
    g_free(a->domain);
    g_free(a->source);
    g_free(a->destination);
    g_free(a->reservation_id);
    g_free(a->host);
    g_free(a->message);
}

drv_job_actions *drv_job_actions_new(void)
{
    drv_job_actions *a = g_new0(drv_job_actions, 1);
    a->v = g_array_new(FALSE, TRUE, sizeof(drv_job_action));
    g_array_set_clear_func(a->v, s_action_clear);
    return a;
}

void drv_job_actions_destroy(drv_job_actions **actions_p)
{
    if (!actions_p || !*actions_p)
        return;
    g_array_unref((*actions_p)->v);
    g_free(*actions_p);
    *actions_p = NULL;
}

void drv_job_actions_clear(drv_job_actions *actions)
{
    g_array_set_size(actions->v, 0);
}

size_t drv_job_actions_len(const drv_job_actions *actions)
{
    return actions->v->len;
}

const drv_job_action *drv_job_actions_get(const drv_job_actions *actions, size_t i)
{
    return i < actions->v->len ? &g_array_index(actions->v, drv_job_action, i) : NULL;
}

size_t drv_job_actions_count(const drv_job_actions *actions, drv_job_action_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < actions->v->len; i++)
        n += g_array_index(actions->v, drv_job_action, i).kind == kind;
    return n;
}

drv_job_action *drv_job_actions_add(drv_job_actions *actions, const drv_job_action *action)
{
    drv_job_action a = *action;
    a.job_id = g_strdup(action->job_id);
    a.domain = g_strdup(action->domain);
    a.source = g_strdup(action->source);
    a.destination = g_strdup(action->destination);
    a.reservation_id = g_strdup(action->reservation_id);
    a.host = g_strdup(action->host);
    a.message = g_strdup(action->message);
    g_array_append_val(actions->v, a);
    return &g_array_index(actions->v, drv_job_action, actions->v->len - 1);
}

char *drv_job_actions_describe(const drv_job_actions *actions)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; i < actions->v->len; i++) {
        const drv_job_action *a = &g_array_index(actions->v, drv_job_action, i);
        if (i)
            g_string_append(s, "; ");
        g_string_append(s, drv_job_action_kind_to_string(a->kind));
        if (a->domain)
            g_string_append_printf(s, " %s", a->domain);
        if (a->source || a->destination)
            g_string_append_printf(s, " %s->%s", a->source ? a->source : "?",
                                   a->destination ? a->destination : "?");
        if (a->host && a->kind != DRV_JOB_ACT_SET_HOST_STATE)
            g_string_append_printf(s, " @%s", a->host);
        if (a->kind == DRV_JOB_ACT_SET_DESIRED)
            g_string_append_printf(s, " %s", drv_job_desired_to_string(a->desired));
        if (a->kind == DRV_JOB_ACT_SET_HOST_STATE)
            g_string_append_printf(s, " %s %s", a->host,
                                   drv_sched_host_state_to_string(a->host_state));
    }
    return g_string_free(s, FALSE);
}
