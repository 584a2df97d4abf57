/* test_seam.c — the controller's logic run through its I/O seam (controller/ctl_io.h) with fakes
 * (fake_io.h: etcd in memory, agents that answer only when told, a manual clock), each test
 * injecting its fault for real: reconciliation of a domain running where it is not placed and of a
 * desired-running domain on a host whose state is unknown; a placement that loses its etcd
 * compare; a stalled etcd; an agent that never answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api_private.h"
#include "fake_io.h"
#include "drain_run.h"
#include "job_drain.h"
#include "job_migrate.h"
#include "lifecycle_run.h"
#include "migrate_run.h"
#include "reconcile.h"
#include "store.h"

#include <string.h>

/* A registered, reachable host with an authoritative inventory of `running` (NULL-terminated
 * names of running domains). */
static ctl_host *s_host_mem(fake_io *f, const char *id, const char *const *running,
                            uint64_t memory_kib)
{
    ctl_host *h = ctl_host_new(id);
    h->facts.cpus = 16;
    h->facts.memory_kib = memory_kib;
    h->facts.free_memory_kib = h->facts.memory_kib;
    h->facts.arch = g_strdup("x86_64");
    h->facts.hypervisor_type = g_strdup("QEMU");
    h->facts.migration_uri = g_strdup_printf("tcp://%s", id);
    h->facts.libvirt_uri = g_strdup("qemu:///system");
    h->reachable = true;
    h = ctl_model_put_host(f->c.model, h);
    h->registered = true;
    for (size_t i = 0; running != NULL && running[i] != NULL; i++) {
        ctl_actual *a = g_new0(ctl_actual, 1);
        a->name = g_strdup(running[i]);
        a->state = CTL_VIR_RUNNING;
        a->persistent = true;
        a->vcpus = 1;
        a->memory_kib = 1024 * 1024;
        g_hash_table_replace(h->inventory, g_strdup(a->name), a);
    }
    ctl_host_set_libvirt(h, true);
    fake_io_host_up(f, id, true);
    return h;
}

static ctl_host *s_host(fake_io *f, const char *id, const char *const *running)
{
    return s_host_mem(f, id, running, 64 * 1024 * 1024);
}

/* A domain in the model and in etcd (domains/<name>, its mod_revision set). */
static ctl_domain *s_domain_mem(fake_io *f, const char *name, const char *host, ctl_desired desired,
                                uint64_t memory_kib)
{
    ctl_domain *d = ctl_domain_new(name);
    d->uuid = g_strdup("00000000-0000-0000-0000-000000000001");
    d->xml = g_strdup_printf("<domain type='kvm'><name>%s</name><memory unit='KiB'>1048576"
                             "</memory><vcpu>1</vcpu></domain>",
                             name);
    d->revision = 1;
    d->vcpus = 1;
    d->memory_kib = memory_kib;
    d->desired = desired;
    d->host = g_strdup(host);
    d->autostart = true;
    drv_error *err = NULL;
    assert_int_equal(ctl_store_put_domain(f->c.store, d, 0, NULL, &err), 0);
    return ctl_model_put_domain(f->c.model, d);
}

static ctl_domain *s_domain(fake_io *f, const char *name, const char *host, ctl_desired desired)
{
    return s_domain_mem(f, name, host, desired, 1024 * 1024);
}

/* A client's request as the API would hand it to a verb. */
static ctl_req *s_req(fake_io *f, const char *verb, const char *arg)
{
    ctl_req *r = g_new0(ctl_req, 1);
    r->c = &f->c;
    r->client = g_strdup("client-1");
    r->verb = g_strdup(verb);
    r->args = g_new0(char *, 2);
    r->args[0] = g_strdup(arg);
    r->n_args = arg != NULL ? 1 : 0;
    r->opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    r->body = g_strdup("");
    return r;
}

/* The placed host of domains/<name> as etcd holds it (owned), or NULL. */
static char *s_stored_host(fake_io *f, const char *name)
{
    g_autofree char *key = g_strdup_printf("/t/domains/%s", name);
    const char *v = fake_etcd_get(f->etcd, key, NULL);
    if (v == NULL)
        return NULL;
    json_object *o = json_tokener_parse(v), *h;
    char *out = NULL;
    if (o != NULL && json_object_object_get_ex(o, "host", &h) && h != NULL)
        out = g_strdup(json_object_get_string(h));
    json_object_put(o);
    return out;
}

/* Another controller places `name` on host `host` (domain and alloc/<host> in one txn), as a
 * previous leader's late write would. */
static void s_competitor_places(fake_io *f, const char *name, const char *host, uint64_t memory_kib)
{
    g_autofree char *dkey = g_strdup_printf("/t/domains/%s", name);
    int64_t dmod = 0;
    fake_etcd_get(f->etcd, dkey, &dmod);
    g_autofree char *akey = g_strdup_printf("/t/alloc/%s", host);
    int64_t amod = 0;
    fake_etcd_get(f->etcd, akey, &amod);
    ctl_domain *d = ctl_domain_new(name);
    d->uuid = g_strdup("00000000-0000-0000-0000-0000000000ff");
    d->xml = g_strdup_printf("<domain type='kvm'><name>%s</name></domain>", name);
    d->revision = 1;
    d->vcpus = 1;
    d->memory_kib = memory_kib;
    d->desired = CTL_DESIRED_RUNNING;
    d->host = g_strdup(host);
    ctl_host *scratch = ctl_host_new(host);
    scratch->alloc_mod_revision = amod;
    drv_error *err = NULL;
    g_autofree char *alloc = g_strdup_printf(
        "{\"vcpus\":1,\"memory_kib\":%" G_GUINT64_FORMAT ",\"domains\":1}", memory_kib);
    assert_int_equal(ctl_store_place(f->worker_store, d, dmod, scratch, alloc, &err), 0);
    ctl_host_free(scratch);
    ctl_domain_free(d);
}

/* ------------------------------------------------------------------ (f) reconciliation */

/* web is placed on h1 (and meant to run) but h2 reports it running: drift, reported, and no
 * command at all goes to any host (nothing started, stopped or destroyed). */
static void test_reconcile_running_where_not_placed(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    const char *on_h2[] = {"web", "stray", NULL};
    s_host(f, "h1", (const char *[]){"web", NULL});
    ctl_host *h2 = s_host(f, "h2", on_h2);
    s_domain(f, "web", "h1", CTL_DESIRED_RUNNING);
    ctl_reconcile_inventory(&f->c, h2, true);
    assert_int_equal(f->cmds->len, 0);
    assert_int_equal(fake_io_events(f, "drift", "domain.web "), 1);
    /* a domain the cluster does not know is reported as unmanaged, never touched */
    assert_int_equal(fake_io_events(f, "unmanaged", "domain.stray "), 1);
    fake_io_destroy(&f);
}

/* web is meant to run on h1 whose libvirt is disconnected (state unknown): an (empty) inventory
 * from it decides nothing: no start on h1 nor anywhere else. The same domain on a host whose
 * inventory is authoritative and shows it off is started again (autostart): the fake sees starts
 * when they happen. */
static void test_reconcile_unknown_host_never_starts(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    ctl_host *h1 = s_host(f, "h1", NULL);
    s_host(f, "h2", NULL);
    ctl_host_set_libvirt(h1, false);
    s_domain(f, "web", "h1", CTL_DESIRED_RUNNING);
    ctl_reconcile_inventory(&f->c, h1, true);
    assert_int_equal(f->cmds->len, 0);
    assert_non_null(
        ctl_model_domain_unknown_reason(f->c.model, ctl_model_domain(f->c.model, "web")));

    /* control: libvirt back, the inventory authoritative and empty → autostart on h1 only */
    ctl_host_set_libvirt(h1, true);
    ctl_reconcile_inventory(&f->c, h1, true);
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, "h1"), 1);
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, "h2"), 0);
    assert_int_equal(fake_io_count(f, CTL_CMD_START, NULL), 0);
    fake_io_destroy(&f);
}

/* ------------------------------------------------------------------ (b) placement CAS */

/* While this controller's placement of web on h1 is on its way, another writer places web on h2.
 * The loser's txn loses its compare, it re-reads what etcd holds and places again from there:
 * web ends on h2 only, alloc/h1 is never written and nothing is sent to h1. */
static void test_place_conflict_on_domain(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    f->c.lifecycle = ctl_lifecycle_new(&f->c);
    s_host(f, "h1", NULL);
    s_host(f, "h2", NULL);
    s_domain(f, "web", NULL, CTL_DESIRED_SHUTOFF);
    ctl_api_domain_start(s_req(f, "domain.start", "web"));
    assert_int_equal(f->etcd_queue.length, 1); /* the placement txn, not yet in etcd */
    s_competitor_places(f, "web", "h2", 1024 * 1024);
    fake_io_etcd_run(f);
    assert_true(fake_etcd_txns_lost(f->etcd) >= 1);
    g_autofree char *host = s_stored_host(f, "web");
    assert_string_equal(host, "h2");
    assert_null(fake_etcd_get(f->etcd, "/t/alloc/h1", NULL));
    assert_string_equal(ctl_model_domain(f->c.model, "web")->host, "h2");
    /* the start job goes to h2 only */
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, "h2"), 1);
    assert_int_equal(f->cmds->len, 1);
    ctl_lifecycle_destroy(&f->c.lifecycle);
    fake_io_destroy(&f);
}

/* h1 (4 GiB) is the better host for web (1 GiB) until another writer books 3.5 GiB on it while
 * web's placement is on its way: the loser must not book h1 again on its stale view (4.5 GiB on
 * a 4 GiB host); it places web on h2. */
static void test_place_conflict_on_host_alloc(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    f->c.lifecycle = ctl_lifecycle_new(&f->c);
    s_host_mem(f, "h1", NULL, 4 * 1024 * 1024);
    s_host_mem(f, "h2", NULL, 2 * 1024 * 1024);
    s_domain(f, "web", NULL, CTL_DESIRED_SHUTOFF);
    ctl_api_domain_start(s_req(f, "domain.start", "web"));
    assert_int_equal(f->etcd_queue.length, 1);
    s_competitor_places(f, "big", "h1", 3584 * 1024);
    fake_io_etcd_run(f);
    assert_true(fake_etcd_txns_lost(f->etcd) >= 1);
    g_autofree char *host = s_stored_host(f, "web");
    assert_string_equal(host, "h2");
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, "h1"), 0);
    /* the floor holds until the watch brings the other writer's alloc/h1 (after its domains) */
    ctl_host *h1 = ctl_model_host(f->c.model, "h1");
    assert_true(h1->alloc_floor_revision > 0);
    int64_t amod = 0;
    const char *av = fake_etcd_get(f->etcd, "/t/alloc/h1", &amod);
    assert_non_null(av);
    drv_etcd_event ev = {.type = DRV_ETCD_EVENT_PUT,
                         .kv = {.key = (char *)"/t/alloc/h1",
                                .key_len = strlen("/t/alloc/h1"),
                                .value = (char *)av,
                                .value_len = strlen(av),
                                .mod_revision = amod}};
    g_autofree char *changed = NULL;
    ctl_store_apply(f->c.store, f->c.model, &ev, &changed);
    assert_int_equal(h1->alloc_floor_revision, 0);
    ctl_lifecycle_destroy(&f->c.lifecycle);
    fake_io_destroy(&f);
}

/* The next placement txn finds its keys just written by another writer (same content): it loses,
 * re-reads, places again and wins; the domain is commanded once. */
static void test_place_conflict_next_txn(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    f->c.lifecycle = ctl_lifecycle_new(&f->c);
    s_host(f, "h1", NULL);
    s_domain(f, "web", NULL, CTL_DESIRED_SHUTOFF);
    fake_etcd_conflict_next_txn(f->etcd);
    ctl_api_domain_start(s_req(f, "domain.start", "web"));
    fake_io_etcd_run(f);
    assert_int_equal(fake_etcd_txns_lost(f->etcd), 1);
    assert_true(fake_etcd_txns(f->etcd) >= 2); /* the lost one, the retry (then the job's own) */
    g_autofree char *host = s_stored_host(f, "web");
    assert_string_equal(host, "h1");
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, "h1"), 1);
    ctl_lifecycle_destroy(&f->c.lifecycle);
    fake_io_destroy(&f);
}

/* etcd takes the placement txn and never answers: the client is told etcd may or may not have
 * stored it, and no agent is commanded on that unknown. */
static void test_place_etcd_no_answer(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    f->c.lifecycle = ctl_lifecycle_new(&f->c);
    s_host(f, "h1", NULL);
    s_domain(f, "web", NULL, CTL_DESIRED_SHUTOFF);
    fake_etcd_fail_next(f->etcd, 1);
    ctl_api_domain_start(s_req(f, "domain.start", "web"));
    fake_io_etcd_run(f);
    const fake_answer *a = fake_io_last_answer(f);
    assert_non_null(a);
    assert_int_not_equal(a->status, 0);
    assert_non_null(strstr(a->error, "may or may not have stored it"));
    assert_int_equal(f->cmds->len, 0);
    assert_null(ctl_model_domain(f->c.model, "web")->busy);
    ctl_lifecycle_destroy(&f->c.lifecycle);
    fake_io_destroy(&f);
}

/* ------------------------------------------------------------------ (a) lost agent reply */

static void s_inventory(ctl_host *h, const char *name, int state)
{
    ctl_actual *act = g_new0(ctl_actual, 1);
    act->name = g_strdup(name);
    act->state = state;
    act->persistent = true;
    g_hash_table_replace(h->inventory, g_strdup(name), act);
}

/* A start whose START the agent never answers (the host went silent: its inventory is no longer
 * the truth). Once the command's deadline passes the client is answered "unknown outcome"
 * (status 3), never "failed"; the job goes on to find out (locating, stored in etcd) and sends
 * nothing while the host's state is unknown. When the host's inventory shows web running, the job
 * succeeds without sending START again. */
static void test_lost_reply_unknown_outcome(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    f->c.lifecycle = ctl_lifecycle_new(&f->c);
    ctl_host *h1 = s_host(f, "h1", NULL);
    s_domain(f, "web", NULL, CTL_DESIRED_SHUTOFF);
    ctl_api_domain_start(s_req(f, "domain.start", "web"));
    fake_io_etcd_run(f); /* placement, then the job record before its first command */
    fake_cmd *def = fake_io_cmd(f, CTL_CMD_DEFINE, "web");
    assert_non_null(def);
    assert_string_equal(def->host, "h1");
    s_inventory(h1, "web", CTL_VIR_SHUTOFF); /* what the agent reports after the define */
    fake_io_reply(f, def, true, NULL);
    fake_io_etcd_run(f); /* the job's step "starting" is stored before START goes out */
    assert_non_null(fake_io_cmd(f, CTL_CMD_START, "web"));
    assert_int_equal(f->answers->len, 0);
    /* the agent never answers; its host has gone silent */
    ctl_host_inventory_stale(h1);
    fake_io_advance(f, f->c.cfg->command_timeout_ms + 1);
    fake_io_etcd_run(f);
    const fake_answer *a = fake_io_last_answer(f);
    assert_non_null(a);
    assert_int_equal(a->status, 3);
    assert_string_equal(a->kind, "unknown-outcome");
    /* the job is finding out what happened, says so in etcd, and commands nothing meanwhile */
    GPtrArray *live = ctl_lifecycle_live_all(&f->c);
    assert_int_equal(live->len, 1);
    const drv_job *job = g_ptr_array_index(live, 0);
    g_autofree char *id = g_strdup(job->id);
    assert_string_equal(drv_job_step_to_string(job->lifecycle.step), "locating");
    g_ptr_array_unref(live);
    g_autofree char *jkey = g_strdup_printf("/t/jobs/%s", id);
    const char *stored = fake_etcd_get(f->etcd, jkey, NULL);
    assert_non_null(stored);
    assert_non_null(strstr(stored, "\"locating\""));
    for (int i = 0; i < 3; i++) {
        fake_io_advance(f, 1000);
        ctl_lifecycle_tick(&f->c, f->now_ms);
        fake_io_etcd_run(f);
    }
    assert_int_equal(f->cmds->len, 2); /* DEFINE and START, nothing since */
    /* the host's full inventory shows web running: the job ends well, START never resent */
    s_inventory(h1, "web", CTL_VIR_RUNNING);
    ctl_host_set_libvirt(h1, true);
    for (int i = 0; i < 3; i++) {
        fake_io_advance(f, 1000);
        ctl_lifecycle_tick(&f->c, f->now_ms);
        fake_io_etcd_run(f);
    }
    assert_int_equal(fake_io_count(f, CTL_CMD_START, NULL), 1);
    assert_int_equal(fake_io_count(f, CTL_CMD_DEFINE, NULL), 1);
    stored = fake_etcd_get(f->etcd, jkey, NULL);
    assert_non_null(stored);
    assert_non_null(strstr(stored, "\"succeeded\""));
    ctl_lifecycle_destroy(&f->c.lifecycle);
    fake_io_destroy(&f);
}

/* ------------------------------------------------------------------ (c) take-over of a job */

/* A migration of web h1 → h2 that the previous leader drove up to MIGRATE (recorded in etcd as
 * phase "migrating"). The new leader loads it from etcd, resumes it at the stored step (locating:
 * asks both hosts where web is) and never sends MIGRATE again; web found on h2, the job succeeds
 * and etcd records web placed on h2. */
static void test_takeover_running_migration(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    s_host(f, "h1", (const char *[]){"web", NULL});
    s_host(f, "h2", NULL);
    s_domain(f, "web", "h1", CTL_DESIRED_RUNNING);
    drv_job *j = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_migrate_new("mig-1", "web", "h1", "h2", NULL, "old-leader",
                                         (uint64_t)f->wall_ms, &j, &err),
                     0);
    drv_job_actions *acts = drv_job_actions_new();
    const drv_job_event_kind path[] = {DRV_JOB_EV_START, DRV_JOB_EV_RESERVED_OK,
                                       DRV_JOB_EV_STORAGE_VERIFIED};
    for (size_t i = 0; i < G_N_ELEMENTS(path); i++) {
        drv_job_event ev = {.kind = path[i]};
        assert_int_equal(drv_job_migrate_step(j, &ev, (uint64_t)f->wall_ms, acts, &err), 1);
    }
    drv_job_actions_destroy(&acts);
    assert_int_equal(j->migrate.phase, DRV_JOB_PHASE_MIGRATING);
    g_autofree char *doc = drv_job_to_json_string(j);
    fake_etcd_put(f->etcd, "/t/jobs/mig-1", doc);
    drv_job_destroy(&j);

    ctl_migrate_tick(&f->c, f->now_ms); /* leading: reads jobs/ and reservations/ */
    fake_io_etcd_run(f);
    assert_int_equal(fake_io_count(f, CTL_CMD_MIGRATE, NULL), 0);
    assert_int_equal(fake_io_count(f, CTL_CMD_DOMSTATS, "h1"), 1);
    assert_int_equal(fake_io_count(f, CTL_CMD_DOMSTATS, "h2"), 1);
    const char *stored = fake_etcd_get(f->etcd, "/t/jobs/mig-1", NULL);
    assert_non_null(strstr(stored, "\"locating\""));
    assert_non_null(strstr(stored, "testinst")); /* owned by the new leader now */
    /* web answers on h2 only: it moved before the old leader died */
    fake_io_reply_kind(f, fake_io_cmd(f, CTL_CMD_DOMSTATS, NULL), false, "not-found", "no domain");
    fake_io_reply(f, fake_io_cmd(f, CTL_CMD_DOMSTATS, NULL), true, NULL);
    for (int i = 0; i < 4; i++)
        fake_io_etcd_run(f);
    stored = fake_etcd_get(f->etcd, "/t/jobs/mig-1", NULL);
    assert_non_null(strstr(stored, "\"succeeded\""));
    g_autofree char *host = s_stored_host(f, "web");
    assert_string_equal(host, "h2");
    assert_int_equal(fake_io_count(f, CTL_CMD_MIGRATE, NULL), 0);
    ctl_migrate_shutdown(&f->c);
    fake_io_destroy(&f);
}

/* ------------------------------------------------------------------ (d) stalled etcd */

/* etcd stalls (completions withheld): writes queue up to the bound and the next one is refused at
 * once with a clear error, reads are answered from the cache meanwhile, nothing is answered for
 * the queued writes until etcd answers, and then each completes (etcd holds them). */
static void test_stalled_etcd(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    s_host(f, "h1", NULL);
    s_domain(f, "web", "h1", CTL_DESIRED_SHUTOFF);
    s_domain(f, "db", "h1", CTL_DESIRED_SHUTOFF);
    s_domain(f, "app", "h1", CTL_DESIRED_SHUTOFF);
    f->stalled = true;
    f->max_queue = 2;
    const char *names[] = {"web", "db", "app"};
    for (size_t i = 0; i < 3; i++) {
        ctl_req *r = s_req(f, "domain.autostart", names[i]);
        g_hash_table_replace(r->opts, g_strdup("disable"), g_strdup("1"));
        ctl_api_domain_autostart(r);
    }
    assert_int_equal(f->etcd_queue.length, 2);
    assert_int_equal(f->answers->len, 1); /* the third, refused at once */
    const fake_answer *a = fake_io_last_answer(f);
    assert_int_equal(a->status, 1);
    assert_non_null(strstr(a->error, "etcd"));
    /* reads answer from the cache while etcd is away */
    ctl_req *list = s_req(f, "domain.list", NULL);
    g_hash_table_replace(list->opts, g_strdup("all"), g_strdup("1"));
    ctl_api_domain_list(list);
    a = fake_io_last_answer(f);
    assert_int_equal(f->answers->len, 2);
    assert_int_equal(a->status, 0);
    assert_non_null(strstr(a->json, "\"web\""));
    assert_non_null(strstr(a->json, "\"total\":3"));
    ctl_api_host_list(s_req(f, "host.list", NULL));
    assert_int_equal(f->answers->len, 3);
    assert_int_equal(fake_io_last_answer(f)->status, 0);
    /* still stalled: nothing lands */
    assert_int_equal(fake_io_etcd_run(f), 0);
    assert_int_equal(f->answers->len, 3);
    assert_non_null(strstr(fake_etcd_get(f->etcd, "/t/domains/web", NULL), "\"autostart\":true"));
    /* etcd is back: both queued writes complete */
    f->stalled = false;
    assert_int_equal(fake_io_etcd_run(f), 2);
    assert_int_equal(f->answers->len, 5);
    assert_int_equal(((fake_answer *)f->answers->pdata[3])->status, 0);
    assert_int_equal(((fake_answer *)f->answers->pdata[4])->status, 0);
    assert_null(strstr(fake_etcd_get(f->etcd, "/t/domains/web", NULL), "\"autostart\":true"));
    assert_null(strstr(fake_etcd_get(f->etcd, "/t/domains/db", NULL), "\"autostart\":true"));
    assert_false(ctl_model_domain(f->c.model, "web")->autostart);
    assert_true(ctl_model_domain(f->c.model, "app")->autostart); /* refused: unchanged */
    fake_io_destroy(&f);
}

/* ------------------------------------------------------------------ (e) drain resumed */

/* A migrate job that ran to the end (succeeded), as a drain's child the old leader drove. */
static void s_child_succeeded(fake_io *f, const char *id, const char *domain, const char *src,
                              const char *dst)
{
    drv_job *j = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_job_migrate_new(id, domain, src, dst, NULL, "old-leader",
                                         (uint64_t)f->wall_ms, &j, &err),
                     0);
    drv_job_actions *acts = drv_job_actions_new();
    const drv_job_event_kind path[] = {DRV_JOB_EV_START, DRV_JOB_EV_RESERVED_OK,
                                       DRV_JOB_EV_STORAGE_VERIFIED, DRV_JOB_EV_RESULT_OK};
    for (size_t i = 0; i < G_N_ELEMENTS(path); i++) {
        drv_job_event ev = {.kind = path[i]};
        assert_int_equal(drv_job_migrate_step(j, &ev, (uint64_t)f->wall_ms, acts, &err), 1);
    }
    drv_job_actions_destroy(&acts);
    assert_int_equal(j->state, DRV_JOB_SUCCEEDED);
    g_autofree char *key = g_strdup_printf("/t/jobs/%s", id);
    g_autofree char *doc = drv_job_to_json_string(j);
    fake_etcd_put(f->etcd, key, doc);
    drv_job_destroy(&j);
}

/* The number of jobs/ keys whose id starts with prefix. */
static unsigned s_jobs_like(fake_io *f, const char *prefix)
{
    g_autofree char *p = g_strdup_printf("/t/jobs/%s", prefix);
    return fake_etcd_count_prefix(f->etcd, p);
}

/* A drain of h1 the old leader left with entries in every state: web done (moved to h2), db
 * migrating (its child migration succeeded before the crash), app planned. The new leader resumes
 * it: web is not moved again, db is settled from its child job without a second launch, app is
 * launched now (its child migration created and started). */
static void test_drain_resumed_after_crash(void **state)
{
    (void)state;
    fake_io *f = fake_io_new();
    s_host(f, "h1", (const char *[]){"app", NULL});
    s_host(f, "h2", (const char *[]){"web", NULL});
    s_host(f, "h3", (const char *[]){"db", NULL});
    ctl_host *h1 = ctl_model_host(f->c.model, "h1");
    g_free(h1->admin_state);
    h1->admin_state = g_strdup("preparing-maintenance");
    s_domain(f, "web", "h2", CTL_DESIRED_RUNNING);
    s_domain(f, "db", "h3", CTL_DESIRED_RUNNING);
    s_domain(f, "app", "h1", CTL_DESIRED_RUNNING);

    drv_sched_drain_step steps[3] = {0};
    drv_sched_result results[3] = {0};
    const char *doms[] = {"web", "db", "app"}, *dests[] = {"h2", "h3", "h3"};
    for (int i = 0; i < 3; i++) {
        results[i].alternates = g_new0(char *, 1);
        steps[i].domain = (char *)doms[i];
        steps[i].dest = (char *)dests[i];
        steps[i].running = true;
        steps[i].vcpus = 1;
        steps[i].memory_kib = 1024 * 1024;
        steps[i].result = &results[i];
    }
    drv_sched_drain_plan plan = {.host = (char *)"h1", .steps = steps, .n_steps = 3};
    drv_job_drain_opts opts;
    drv_job_drain_opts_init(&opts);
    drv_job *j = NULL;
    drv_error *err = NULL;
    assert_int_equal(
        drv_job_drain_new("d1", &plan, &opts, "old-leader", (uint64_t)f->wall_ms, &j, &err), 0);
    for (int i = 0; i < 3; i++)
        g_strfreev(results[i].alternates);
    j->state = DRV_JOB_RUNNING;
    drv_job_entry *e = j->drain.entries;
    for (size_t i = 0; i < j->drain.n_entries; i++) {
        if (strcmp(e[i].domain, "web") == 0) {
            e[i].state = DRV_JOB_ENTRY_DONE;
            e[i].attempts = 1;
            e[i].destination = g_strdup("h2");
        } else if (strcmp(e[i].domain, "db") == 0) {
            e[i].state = DRV_JOB_ENTRY_MIGRATING;
            e[i].attempts = 1;
            e[i].destination = g_strdup("h3");
        }
    }
    g_autofree char *doc = drv_job_to_json_string(j);
    fake_etcd_put(f->etcd, "/t/jobs/d1", doc);
    drv_job_destroy(&j);
    s_child_succeeded(f, "d1:web:1", "web", "h1", "h2");
    s_child_succeeded(f, "d1:db:1", "db", "h1", "h3");
    assert_int_equal(s_jobs_like(f, "d1:"), 2);

    for (int i = 0; i < 6; i++) {
        ctl_migrate_tick(&f->c, f->now_ms);
        ctl_drain_tick(&f->c, f->now_ms);
        fake_io_etcd_run(f);
        fake_io_advance(f, 200);
    }
    /* nothing moved twice: no second attempt of web or db, no migration command for them */
    assert_int_equal(s_jobs_like(f, "d1:web:"), 1);
    assert_int_equal(s_jobs_like(f, "d1:db:"), 1);
    assert_int_equal(s_jobs_like(f, "d1:app:1"), 1);
    for (guint i = 0; i < f->cmds->len; i++) {
        fake_cmd *cmd = f->cmds->pdata[i];
        if (cmd->kind == CTL_CMD_MIGRATE || cmd->kind == CTL_CMD_STORAGE_MARK_WRITE)
            assert_string_equal(cmd->domain, "app");
    }
    const drv_job *live = ctl_drain_live(&f->c, "d1");
    assert_non_null(live);
    for (size_t i = 0; i < live->drain.n_entries; i++) {
        const drv_job_entry *le = &live->drain.entries[i];
        if (strcmp(le->domain, "app") == 0)
            assert_int_equal(le->state, DRV_JOB_ENTRY_MIGRATING);
        else
            assert_int_equal(le->state, DRV_JOB_ENTRY_DONE);
        if (strcmp(le->domain, "app") != 0)
            assert_int_equal(le->attempts, 1);
    }
    ctl_drain_shutdown(&f->c);
    ctl_migrate_shutdown(&f->c);
    fake_io_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconcile_running_where_not_placed),
        cmocka_unit_test(test_reconcile_unknown_host_never_starts),
        cmocka_unit_test(test_place_conflict_on_domain),
        cmocka_unit_test(test_place_conflict_on_host_alloc),
        cmocka_unit_test(test_place_conflict_next_txn),
        cmocka_unit_test(test_place_etcd_no_answer),
        cmocka_unit_test(test_takeover_running_migration),
        cmocka_unit_test(test_stalled_etcd),
        cmocka_unit_test(test_drain_resumed_after_crash),
        cmocka_unit_test(test_lost_reply_unknown_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
