/* snapshot_async.c — see snapshot_async.h. */
#include "snapshot_async.h"

#include "log.h"
#include "store.h"

#include <string.h>

typedef enum { S_LIST, S_STORE, S_MARK, S_FORGET } s_op;

typedef struct {
    ctl *c;
    s_op op;
    char *domain;
    char *name;        /* STORE: the snapshot; MARK: the current one (NULL: none); FORGET */
    ctl_snapshot snap; /* STORE */
    GPtrArray *snaps;  /* LIST: the result */
    ctl_snap_list_fn list_fn;
    ctl_async_fn fn;
    void *data;
    GDestroyNotify data_free;
} s_q;

static void s_q_free(gpointer p)
{
    s_q *q = p;
    g_free(q->domain);
    g_free(q->name);
    g_free(q->snap.name);
    g_free(q->snap.parent);
    g_free(q->snap.state);
    g_free(q->snap.xml);
    if (q->snaps != NULL)
        g_ptr_array_unref(q->snaps);
    if (q->data_free != NULL && q->data != NULL)
        q->data_free(q->data);
    g_free(q);
}

/* Gives the current mark to `current` only (NULL: none). */
static int s_mark(ctl_store *store, const char *domain, const char *current, drv_error **err)
{
    GPtrArray *snaps = NULL;
    if (ctl_store_snapshots(store, domain, &snaps, err) < 0)
        return -1;
    int rc = 0;
    for (guint i = 0; rc == 0 && i < snaps->len; i++) {
        ctl_snapshot *s = g_ptr_array_index(snaps, i);
        bool want = current != NULL && g_strcmp0(s->name, current) == 0;
        if (s->current == want)
            continue;
        s->current = want;
        rc = ctl_store_put_snapshot(store, domain, s, err);
    }
    g_ptr_array_unref(snaps);
    return rc;
}

static int s_forget(ctl_store *store, const char *domain, const char *name, drv_error **err)
{
    GPtrArray *snaps = NULL;
    if (ctl_store_snapshots(store, domain, &snaps, err) < 0)
        return -1;
    const ctl_snapshot *gone = NULL;
    for (guint i = 0; i < snaps->len; i++) {
        const ctl_snapshot *s = g_ptr_array_index(snaps, i);
        if (g_strcmp0(s->name, name) == 0)
            gone = s;
    }
    int rc = 0;
    for (guint i = 0; gone != NULL && rc == 0 && i < snaps->len; i++) {
        ctl_snapshot *s = g_ptr_array_index(snaps, i);
        bool child = g_strcmp0(s->parent, name) == 0;
        bool heir = gone->current && gone->parent != NULL && g_strcmp0(s->name, gone->parent) == 0;
        if (!child && !heir)
            continue;
        if (child) {
            g_free(s->parent);
            s->parent = g_strdup(gone->parent);
        }
        if (heir)
            s->current = true;
        rc = ctl_store_put_snapshot(store, domain, s, err);
    }
    if (rc == 0)
        rc = ctl_store_delete_snapshot(store, domain, name, err);
    g_ptr_array_unref(snaps);
    return rc;
}

static int s_work(ctl_store *store, void *data, drv_error **err)
{
    s_q *q = data;
    switch (q->op) {
    case S_LIST:
        return ctl_store_snapshots(store, q->domain, &q->snaps, err);
    case S_STORE:
        if (s_mark(store, q->domain, NULL, err) < 0)
            return -1;
        return ctl_store_put_snapshot(store, q->domain, &q->snap, err);
    case S_MARK:
        return s_mark(store, q->domain, q->name, err);
    case S_FORGET:
        return s_forget(store, q->domain, q->name, err);
    }
    return 0;
}

static void s_done(void *loop_ctx, void *data, const drv_error *err, bool attempted)
{
    s_q *q = data;
    if (q->op == S_LIST) {
        q->list_fn(q->c, err == NULL ? q->snaps : NULL, err, q->data);
        return;
    }
    if (q->fn != NULL) {
        q->fn(q->c, err, attempted, q->data);
        return;
    }
    if (err != NULL)
        drv_warn("domain '%s': snapshot records: %s", q->domain, err->message);
}

static int s_submit(ctl *c, s_q *q, drv_error **err)
{
    q->c = c;
    if (ctl_async_submit(c, s_work, s_done, q, s_q_free, err) < 0) {
        q->data_free = NULL; /* the caller keeps its data on a refusal */
        s_q_free(q);
        return -1;
    }
    return 0;
}

int ctl_snap_async_list(ctl *c, const char *domain, ctl_snap_list_fn fn, void *data,
                        GDestroyNotify data_free, drv_error **err)
{
    s_q *q = g_new0(s_q, 1);
    q->op = S_LIST;
    q->domain = g_strdup(domain);
    q->list_fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

int ctl_snap_async_store(ctl *c, const char *domain, const ctl_snapshot *s, ctl_async_fn fn,
                         void *data, GDestroyNotify data_free, drv_error **err)
{
    s_q *q = g_new0(s_q, 1);
    q->op = S_STORE;
    q->domain = g_strdup(domain);
    q->snap.name = g_strdup(s->name);
    q->snap.parent = g_strdup(s->parent);
    q->snap.state = g_strdup(s->state);
    q->snap.xml = g_strdup(s->xml);
    q->snap.creation_time = s->creation_time;
    q->snap.current = true;
    q->fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}

void ctl_snap_async_mark_current(ctl *c, const char *domain, const char *current)
{
    s_q *q = g_new0(s_q, 1);
    q->op = S_MARK;
    q->domain = g_strdup(domain);
    q->name = g_strdup(current);
    drv_error *err = NULL;
    if (s_submit(c, q, &err) < 0) {
        drv_warn("domain '%s': marking the current snapshot: %s", domain, err->message);
        drv_error_destroy(&err);
    }
}

int ctl_snap_async_forget(ctl *c, const char *domain, const char *name, ctl_async_fn fn, void *data,
                          GDestroyNotify data_free, drv_error **err)
{
    s_q *q = g_new0(s_q, 1);
    q->op = S_FORGET;
    q->domain = g_strdup(domain);
    q->name = g_strdup(name);
    q->fn = fn;
    q->data = data;
    q->data_free = data_free;
    return s_submit(c, q, err);
}
