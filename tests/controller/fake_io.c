/* fake_io.c — see fake_io.h. */
#include "fake_io.h"

#include "api.h"
#include "model.h"

#include <string.h>

typedef struct {
    ctl_etcd_work_fn work;
    ctl_etcd_done_fn done;
    void *data;
    GDestroyNotify data_free;
} s_req;

static int s_etcd_submit(void *ctx, ctl_etcd_work_fn work, ctl_etcd_done_fn done, void *data,
                         GDestroyNotify data_free, drv_error **err)
{
    fake_io *f = ctx;
    if (f->etcd_queue.length >= f->max_queue) {
        f->etcd_refused++;
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "etcd: %u requests are waiting (the limit); try again later",
                             f->etcd_queue.length);
    }
    s_req *r = g_new0(s_req, 1);
    *r = (s_req){work, done, data, data_free};
    g_queue_push_tail(&f->etcd_queue, r);
    return 0;
}

unsigned fake_io_etcd_run(fake_io *f)
{
    unsigned n = 0;
    while (!f->stalled && f->etcd_queue.length > 0) {
        s_req *r = g_queue_pop_head(&f->etcd_queue);
        drv_error *err = NULL;
        int rc = r->work(f->worker_store, r->data, &err);
        r->done(&f->c, r->data, rc < 0 ? err : NULL, true);
        drv_error_destroy(&err);
        if (r->data_free != NULL)
            r->data_free(r->data);
        g_free(r);
        n++;
    }
    return n;
}

static void s_cmd_free(gpointer p)
{
    fake_cmd *cmd = p;
    if (!cmd->answered && cmd->data_free != NULL)
        cmd->data_free(cmd->data);
    g_free(cmd->host);
    g_free(cmd->domain);
    g_free(cmd->job_id);
    g_free(cmd->id);
    g_free(cmd);
}

static int s_agent_send(void *ctx, const char *host_id, const ctl_cmd *cmd, ctl_reply_fn fn,
                        void *data, GDestroyNotify data_free, drv_error **err)
{
    fake_io *f = ctx;
    if (!g_hash_table_contains(f->up, host_id))
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0, "host '%s' is not connected", host_id);
    fake_cmd *fc = g_new0(fake_cmd, 1);
    fc->host = g_strdup(host_id);
    fc->kind = cmd->kind;
    fc->domain = g_strdup(cmd->domain);
    fc->job_id = g_strdup(cmd->job_id);
    fc->id = ctl_new_id(&f->c);
    int64_t timeout = cmd->timeout_ms > 0 ? cmd->timeout_ms : f->c.cfg->command_timeout_ms;
    fc->deadline_ms = f->now_ms + timeout;
    fc->fn = fn;
    fc->data = data;
    fc->data_free = data_free;
    g_ptr_array_add(f->cmds, fc);
    return 0;
}

static bool s_agent_up(void *ctx, const char *host_id)
{
    fake_io *f = ctx;
    return g_hash_table_contains(f->up, host_id);
}

static bool s_agents_bound(void *ctx)
{
    return ((fake_io *)ctx)->leading;
}

static void s_publish(void *ctx, const char *topic, const char *type, json_object *object)
{
    fake_io *f = ctx;
    g_ptr_array_add(f->events,
                    g_strdup_printf("%s %s %s", topic, type,
                                    object ? json_object_to_json_string(object) : "null"));
    json_object_put(object);
}

static void s_answer_free(gpointer p)
{
    fake_answer *a = p;
    g_free(a->client);
    g_free(a->verb);
    g_free(a->kind);
    g_free(a->error);
    g_free(a->json);
    g_free(a);
}

static void s_answer(void *ctx, const char *client, const char *verb, int status, const char *kind,
                     const char *error, const char *json)
{
    fake_io *f = ctx;
    fake_answer *a = g_new0(fake_answer, 1);
    *a = (fake_answer){g_strdup(client), g_strdup(verb),  status,
                       g_strdup(kind),   g_strdup(error), g_strdup(json)};
    g_ptr_array_add(f->answers, a);
}

static bool s_leading(void *ctx)
{
    return ((fake_io *)ctx)->leading;
}

static int64_t s_now_ms(void *ctx)
{
    return ((fake_io *)ctx)->now_ms;
}

static int64_t s_wall_ms(void *ctx)
{
    return ((fake_io *)ctx)->wall_ms;
}

static const ctl_io s_fake_io = {
    .etcd_submit = s_etcd_submit,
    .agent_send = s_agent_send,
    .agent_up = s_agent_up,
    .agents_bound = s_agents_bound,
    .publish = s_publish,
    .answer = s_answer,
    .leading = s_leading,
    .now_ms = s_now_ms,
    .wall_ms = s_wall_ms,
};

fake_io *fake_io_new(void)
{
    fake_io *f = g_new0(fake_io, 1);
    char *argv[] = {(char *)"test", NULL};
    drv_error *err = NULL;
    if (ctl_config_load(1, argv, &f->c.cfg, &err) < 0)
        g_error("config: %s", err->message);
    f->c.io = &s_fake_io;
    f->c.io_ctx = f;
    f->c.model = ctl_model_new();
    f->c.instance = g_strdup("testinst");
    f->c.loaded = true;
    g_queue_init(&f->c.placement_waiters);
    f->c.placement_released = ctl_api_placement_release; /* as main.c wires it */
    f->etcd = fake_etcd_new();
    f->c.store = fake_etcd_store(f->etcd, "/t/");
    f->worker_store = fake_etcd_store(f->etcd, "/t/");
    g_queue_init(&f->etcd_queue);
    f->max_queue = 64;
    f->up = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    f->cmds = g_ptr_array_new_with_free_func(s_cmd_free);
    f->events = g_ptr_array_new_with_free_func(g_free);
    f->answers = g_ptr_array_new_with_free_func(s_answer_free);
    f->leading = true;
    f->now_ms = 1000000;
    f->wall_ms = 1767225600000; /* 2026-01-01 */
    return f;
}

void fake_io_destroy(fake_io **self_p)
{
    fake_io *f = *self_p;
    if (f == NULL)
        return;
    s_req *r;
    while ((r = g_queue_pop_head(&f->etcd_queue)) != NULL) {
        if (r->data_free != NULL)
            r->data_free(r->data);
        g_free(r);
    }
    g_ptr_array_unref(f->cmds);
    g_ptr_array_unref(f->events);
    g_ptr_array_unref(f->answers);
    g_hash_table_unref(f->up);
    ctl_store_destroy(&f->c.store);
    ctl_store_destroy(&f->worker_store);
    fake_etcd_destroy(&f->etcd);
    ctl_model_destroy(&f->c.model);
    ctl_config_destroy(&f->c.cfg);
    g_free(f->c.instance);
    g_free(f);
    *self_p = NULL;
}

void fake_io_host_up(fake_io *f, const char *host, bool up)
{
    if (up)
        g_hash_table_replace(f->up, g_strdup(host), GINT_TO_POINTER(1));
    else
        g_hash_table_remove(f->up, host);
}

static void s_deliver(fake_io *f, fake_cmd *cmd, const ctl_reply *rep)
{
    cmd->answered = true;
    cmd->fn(&f->c, cmd->host, rep, cmd->data);
    if (cmd->data_free != NULL)
        cmd->data_free(cmd->data);
    cmd->data = NULL;
}

void fake_io_advance(fake_io *f, int64_t ms)
{
    f->now_ms += ms;
    f->wall_ms += ms;
    for (guint i = 0; i < f->cmds->len; i++) {
        fake_cmd *cmd = f->cmds->pdata[i];
        if (cmd->answered || cmd->deadline_ms > f->now_ms)
            continue;
        g_autofree char *msg =
            g_strdup_printf("host '%s' did not answer %s within its deadline; outcome unknown",
                            cmd->host, ctl_cmd_kind_to_string(cmd->kind));
        ctl_reply rep = {.command_id = cmd->id,
                         .ok = false,
                         .error_kind = "unknown-outcome",
                         .message = msg,
                         .synthesized = true,
                         .unknown_outcome = true};
        s_deliver(f, cmd, &rep);
    }
}

fake_cmd *fake_io_cmd(fake_io *f, ctl_cmd_kind kind, const char *domain)
{
    for (guint i = 0; i < f->cmds->len; i++) {
        fake_cmd *cmd = f->cmds->pdata[i];
        if (!cmd->answered && cmd->kind == kind &&
            (domain == NULL || g_strcmp0(cmd->domain, domain) == 0))
            return cmd;
    }
    return NULL;
}

unsigned fake_io_count(fake_io *f, ctl_cmd_kind kind, const char *host)
{
    unsigned n = 0;
    for (guint i = 0; i < f->cmds->len; i++) {
        fake_cmd *cmd = f->cmds->pdata[i];
        if (cmd->kind == kind && (host == NULL || g_strcmp0(cmd->host, host) == 0))
            n++;
    }
    return n;
}

void fake_io_reply_kind(fake_io *f, fake_cmd *cmd, bool ok, const char *kind, const char *message)
{
    ctl_reply rep = {.command_id = cmd->id,
                     .ok = ok,
                     .error_kind = ok ? "" : kind,
                     .message = message ? message : ""};
    s_deliver(f, cmd, &rep);
}

void fake_io_reply(fake_io *f, fake_cmd *cmd, bool ok, const char *message)
{
    fake_io_reply_kind(f, cmd, ok, "failed", message);
}

unsigned fake_io_events(fake_io *f, const char *type, const char *needle)
{
    unsigned n = 0;
    for (guint i = 0; i < f->events->len; i++) {
        const char *e = f->events->pdata[i];
        const char *sp = strchr(e, ' ');
        if (sp == NULL || strncmp(sp + 1, type, strlen(type)) != 0 || sp[1 + strlen(type)] != ' ')
            continue;
        if (needle == NULL || strstr(e, needle) != NULL)
            n++;
    }
    return n;
}

const fake_answer *fake_io_last_answer(fake_io *f)
{
    return f->answers->len ? f->answers->pdata[f->answers->len - 1] : NULL;
}
