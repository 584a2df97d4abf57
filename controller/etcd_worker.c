/* etcd_worker.c — see etcd_worker.h. */
#include "etcd_worker.h"

#include "log.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    ctl_etcd_work_fn work;
    ctl_etcd_done_fn done;
    void *data;
    GDestroyNotify data_free;
    int64_t queued_ms;
    drv_error *err;
    bool attempted;
    int64_t work_us; /* how long the request took on the worker (attempted ones) */
} s_req;

struct ctl_etcd_worker {
    ctl_etcd_worker_opts opts;
    char *name;
    void *loop_ctx;
    ctl_store *store; /* the worker thread's own */
    GThread *thread;
    GMutex lock;
    GCond cond;
    GQueue todo;  /* s_req*, guarded by lock */
    GQueue done;  /* s_req*, guarded by lock */
    bool running; /* a request is being worked on */
    bool stop;
    int efd;
    /* written by the worker under lock, read by the loop */
    int64_t unreachable_since_ms; /* 0 = reachable */
    ctl_hist latency;             /* loop only: the attempted requests' work_us */
};

static int64_t s_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void s_req_free(s_req *q)
{
    if (q->data_free != NULL && q->data != NULL)
        q->data_free(q->data);
    drv_error_destroy(&q->err);
    g_free(q);
}

static void s_wake(ctl_etcd_worker *self)
{
    uint64_t one = 1;
    if (write(self->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        drv_debug("etcd worker %s: eventfd write: %s", self->name, g_strerror(errno));
}

/* Whether an error means etcd did not answer (as opposed to answering "no"). */
static bool s_unreachable(const drv_error *e)
{
    return e != NULL && (e->kind == DRV_ERR_UNAVAILABLE || e->kind == DRV_ERR_TIMEOUT);
}

static gpointer s_thread(gpointer p)
{
    ctl_etcd_worker *self = p;
    g_mutex_lock(&self->lock);
    for (;;) {
        while (!self->stop && g_queue_is_empty(&self->todo))
            g_cond_wait(&self->cond, &self->lock);
        if (self->stop)
            break;
        s_req *q = g_queue_pop_head(&self->todo);
        int64_t now = s_now_ms();
        if (self->opts.queue_deadline_ms > 0 && now - q->queued_ms > self->opts.queue_deadline_ms) {
            drv_error_set(&q->err, DRV_ERR_TIMEOUT, 0,
                          "etcd request not sent: it waited %lld ms behind others (limit %lld ms)",
                          (long long)(now - q->queued_ms), (long long)self->opts.queue_deadline_ms);
            q->attempted = false;
            g_queue_push_tail(&self->done, q);
            s_wake(self);
            continue;
        }
        self->running = true;
        g_mutex_unlock(&self->lock);
        int64_t t0 = g_get_monotonic_time();
        int rc = q->work(self->store, q->data, &q->err);
        q->work_us = g_get_monotonic_time() - t0;
        if (rc < 0 && q->err == NULL)
            drv_error_set(&q->err, DRV_ERR_INTERNAL, 0, "etcd request failed without a reason");
        q->attempted = true;
        g_mutex_lock(&self->lock);
        self->running = false;
        if (s_unreachable(q->err)) {
            if (self->unreachable_since_ms == 0)
                self->unreachable_since_ms = s_now_ms();
        } else {
            self->unreachable_since_ms = 0;
        }
        g_queue_push_tail(&self->done, q);
        s_wake(self);
    }
    g_mutex_unlock(&self->lock);
    return NULL;
}

ctl_etcd_worker *ctl_etcd_worker_new(char *const *endpoints, const char *prefix, long timeout_ms,
                                     const drv_etcd_tls *tls, const ctl_etcd_worker_opts *opts,
                                     void *loop_ctx, drv_error **err)
{
    ctl_store *store = ctl_store_new(endpoints, prefix, timeout_ms, tls, err);
    if (store == NULL)
        return NULL;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
        int e = errno;
        ctl_store_destroy(&store);
        drv_error_set(err, DRV_ERR_IO, e, "etcd worker: eventfd: %s", g_strerror(e));
        return NULL;
    }
    ctl_etcd_worker *self = g_new0(ctl_etcd_worker, 1);
    self->opts = *opts;
    self->name = g_strdup(opts->name ? opts->name : "etcd");
    self->opts.name = self->name;
    self->loop_ctx = loop_ctx;
    self->store = store;
    self->efd = efd;
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    g_queue_init(&self->todo);
    g_queue_init(&self->done);
    self->thread = g_thread_new(self->name, s_thread, self);
    return self;
}

/* Runs done for every completion and every request that never started (at shutdown). */
static unsigned s_run_done(ctl_etcd_worker *self, GQueue *q)
{
    unsigned n = 0;
    s_req *r;
    while ((r = g_queue_pop_head(q)) != NULL) {
        if (r->attempted)
            ctl_hist_observe(&self->latency, (double)r->work_us / 1e6);
        if (r->done != NULL)
            r->done(self->loop_ctx, r->data, r->err, r->attempted);
        s_req_free(r);
        n++;
    }
    return n;
}

void ctl_etcd_worker_destroy(ctl_etcd_worker **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ctl_etcd_worker *self = *self_p;
    *self_p = NULL;
    g_mutex_lock(&self->lock);
    self->stop = true;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
    g_thread_join(self->thread);
    /* what never started: its done learns that etcd never saw it */
    GQueue left = G_QUEUE_INIT;
    s_req *r;
    while ((r = g_queue_pop_head(&self->todo)) != NULL) {
        drv_error_set(&r->err, DRV_ERR_UNAVAILABLE, 0,
                      "etcd request not sent: the controller is shutting down");
        r->attempted = false;
        g_queue_push_tail(&left, r);
    }
    s_run_done(self, &self->done);
    s_run_done(self, &left);
    ctl_store_destroy(&self->store);
    close(self->efd);
    g_mutex_clear(&self->lock);
    g_cond_clear(&self->cond);
    g_free(self->name);
    g_free(self);
}

int ctl_etcd_worker_submit(ctl_etcd_worker *self, ctl_etcd_work_fn work, ctl_etcd_done_fn done,
                           void *data, GDestroyNotify data_free, drv_error **err)
{
    int64_t now = s_now_ms();
    g_mutex_lock(&self->lock);
    guint queued = g_queue_get_length(&self->todo) + (self->running ? 1 : 0);
    int64_t since = self->unreachable_since_ms;
    if (queued >= self->opts.max_queue) {
        g_mutex_unlock(&self->lock);
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "etcd is not keeping up: %u requests are already waiting (limit %zu); "
                             "nothing was changed, try again",
                             queued, self->opts.max_queue);
    }
    if (since != 0 && self->opts.refuse_after_ms > 0 && now - since >= self->opts.refuse_after_ms) {
        g_mutex_unlock(&self->lock);
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, 0,
                             "etcd has been unreachable for %lld s; nothing was changed, try again "
                             "when it is back",
                             (long long)((now - since) / 1000));
    }
    s_req *q = g_new0(s_req, 1);
    q->work = work;
    q->done = done;
    q->data = data;
    q->data_free = data_free;
    q->queued_ms = now;
    g_queue_push_tail(&self->todo, q);
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
    return 0;
}

int ctl_etcd_worker_fd(const ctl_etcd_worker *self)
{
    return self->efd;
}

unsigned ctl_etcd_worker_dispatch(ctl_etcd_worker *self)
{
    uint64_t n;
    if (read(self->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        drv_debug("etcd worker %s: eventfd read: %s", self->name, g_strerror(errno));
    GQueue ready = G_QUEUE_INIT;
    g_mutex_lock(&self->lock);
    ready = self->done;
    g_queue_init(&self->done);
    g_mutex_unlock(&self->lock);
    return s_run_done(self, &ready);
}

unsigned ctl_etcd_worker_pending(const ctl_etcd_worker *self)
{
    ctl_etcd_worker *w = (ctl_etcd_worker *)self;
    g_mutex_lock(&w->lock);
    unsigned n = g_queue_get_length(&w->todo) + (w->running ? 1 : 0);
    g_mutex_unlock(&w->lock);
    return n;
}

int64_t ctl_etcd_worker_unreachable_ms(const ctl_etcd_worker *self)
{
    ctl_etcd_worker *w = (ctl_etcd_worker *)self;
    g_mutex_lock(&w->lock);
    int64_t since = w->unreachable_since_ms;
    g_mutex_unlock(&w->lock);
    return since == 0 ? 0 : s_now_ms() - since;
}

const ctl_hist *ctl_etcd_worker_latency(const ctl_etcd_worker *self)
{
    return &self->latency;
}
