/* fake_io.h — the controller's outside world for unit tests (controller/ctl_io.h): a ctl whose
 * etcd requests run against an etcd in memory (fake_etcd_mem.h) only when the test pumps them
 * (withheld while "stalled"; the queue bounded as the etcd worker's), whose agents record every
 * command and answer only when told (or never: the command's deadline on the manual clock passes
 * and its callback gets the broker's synthesized unknown-outcome answer), whose events and client
 * answers are recorded, and whose clock moves only by hand. Single-threaded. */
#ifndef DROVER_TEST_FAKE_IO_H
#define DROVER_TEST_FAKE_IO_H

#include "broker.h"
#include "ctl.h"
#include "ctl_io.h"
#include "fake_etcd_mem.h"

typedef struct {
    char *host;
    ctl_cmd_kind kind;
    char *domain;
    char *job_id;
    char *id;
    int64_t deadline_ms; /* monotonic */
    ctl_reply_fn fn;
    void *data;
    GDestroyNotify data_free;
    bool answered;
} fake_cmd;

typedef struct {
    char *client, *verb;
    int status; /* 0 ok, 1 failed, 2 usage, 3 unknown outcome */
    char *kind, *error, *json;
} fake_answer;

typedef struct fake_io {
    ctl c; /* the controller under test: cfg defaults, a model, a store on the fake etcd */
    fake_etcd *etcd;
    ctl_store *worker_store; /* what etcd work runs with (the worker's own store in production) */
    GQueue etcd_queue;       /* requests submitted, not yet run */
    size_t max_queue;
    bool stalled; /* completions withheld */
    unsigned etcd_refused;
    GHashTable *up;     /* host id → GINT_TO_POINTER(1) when registered and reachable */
    GPtrArray *cmds;    /* fake_cmd*, in send order */
    GPtrArray *events;  /* char* "topic type json" */
    GPtrArray *answers; /* fake_answer* */
    bool leading;
    int64_t now_ms, wall_ms;
} fake_io;

/* A controller on a fresh fake etcd (prefix "/t/"), leading, hosts all down. */
fake_io *fake_io_new(void);
void fake_io_destroy(fake_io **self_p);

/* Runs the queued etcd requests (and those their completions queue) unless stalled. Returns how
 * many ran. */
unsigned fake_io_etcd_run(fake_io *f);
void fake_io_host_up(fake_io *f, const char *host, bool up);
/* Moves both clocks; every unanswered command whose deadline passed gets the synthesized
 * unknown-outcome answer (what the broker does). */
void fake_io_advance(fake_io *f, int64_t ms);
/* The first unanswered command of that kind (domain NULL: any), or NULL. */
fake_cmd *fake_io_cmd(fake_io *f, ctl_cmd_kind kind, const char *domain);
unsigned fake_io_count(fake_io *f, ctl_cmd_kind kind, const char *host);
/* Answers a command as its agent would: ok, or failed with message. */
void fake_io_reply(fake_io *f, fake_cmd *cmd, bool ok, const char *message);
/* The same with the failure's kind ("not-found", ...). */
void fake_io_reply_kind(fake_io *f, fake_cmd *cmd, bool ok, const char *kind, const char *message);
/* Events recorded whose type is `type` and whose text contains `needle` (NULL: any). */
unsigned fake_io_events(fake_io *f, const char *type, const char *needle);
/* The last answer to a client, or NULL. */
const fake_answer *fake_io_last_answer(fake_io *f);

#endif
