/* migrate.c — see migrate.h.
 *
 * The worker thread starts virDomainMigrateToURI3 on a helper thread (it blocks until the job ends)
 * and watches the job from its own thread: every second it reads virDomainGetJobStats, reports
 * Progress, and acts on the policy decision of jobs/migrate_monitor.h (switch to post-copy when
 * allowed and pre-copy stops converging or stalls; abort on the timeout or a stall without
 * post-copy). Final figures come from the destination's completed-job stats (the source domain is
 * gone after UNDEFINE_SOURCE), falling back to the last progress seen. */
#include "migrate.h"

#include "log.h"
#include "migrate_monitor.h"
#include "migrate_predict.h"
#include "pb.h"

#include <inttypes.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

#define S_TICK_MS       1000
#define S_SETUP_TICK_MS 100

/* ------------------------------------------------------------------ registry (for cancel) */

typedef struct {
    char *domain;
    char *job_id;
    virDomainPtr dom; /* own reference */
    gint cancel;      /* atomic */
} s_running;

static GMutex s_lock;
static GPtrArray *s_list; /* s_running * */

static s_running *s_register(virDomainPtr dom, const char *job_id)
{
    s_running *r = g_new0(s_running, 1);
    r->domain = g_strdup(virDomainGetName(dom));
    r->job_id = g_strdup(job_id);
    virDomainRef(dom);
    r->dom = dom;
    g_mutex_lock(&s_lock);
    if (s_list == NULL)
        s_list = g_ptr_array_new();
    g_ptr_array_add(s_list, r);
    g_mutex_unlock(&s_lock);
    return r;
}

static void s_unregister(s_running *r)
{
    g_mutex_lock(&s_lock);
    g_ptr_array_remove(s_list, r);
    if (s_list->len == 0)
        g_clear_pointer(&s_list, g_ptr_array_unref);
    g_mutex_unlock(&s_lock);
    virDomainFree(r->dom);
    g_free(r->domain);
    g_free(r->job_id);
    g_free(r);
}

int drv_migrate_cancel(const char *domain, const char *job_id, drv_error **err)
{
    int found = 0;
    g_mutex_lock(&s_lock);
    for (guint i = 0; s_list != NULL && i < s_list->len; i++) {
        s_running *r = g_ptr_array_index(s_list, i);
        bool match = (job_id != NULL && *job_id != '\0' && g_strcmp0(r->job_id, job_id) == 0) ||
                     (domain != NULL && *domain != '\0' && g_strcmp0(r->domain, domain) == 0);
        if (!match)
            continue;
        /* only the flag: the migration's monitor calls virDomainAbortJob on its next tick (within
         * S_TICK_MS), so a cancel never waits on libvirt on the agent's loop */
        g_atomic_int_set(&r->cancel, 1);
        found++;
    }
    g_mutex_unlock(&s_lock);
    if (found == 0)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0, "no migration of domain '%s'%s%s%s running",
                             domain ? domain : "", job_id && *job_id ? " (job '" : "",
                             job_id && *job_id ? job_id : "", job_id && *job_id ? "')" : "");
    return 0;
}

void drv_migrate_cancel_all(void)
{
    g_mutex_lock(&s_lock);
    for (guint i = 0; s_list != NULL && i < s_list->len; i++) {
        s_running *r = g_ptr_array_index(s_list, i);
        g_atomic_int_set(&r->cancel, 1); /* the monitor aborts */
    }
    g_mutex_unlock(&s_lock);
}

/* ------------------------------------------------------------------ snapshot metadata */

/* libvirt refuses to migrate a domain that has snapshot metadata ("cannot migrate domain with N
 * snapshots"). The metadata is set aside before the migration (the snapshots themselves stay in
 * the shared disk images), put back on the source when the migration fails, and redefined on the
 * destination by the controller from etcd when it succeeds (CMD_SNAPSHOT_REDEFINE). */
typedef struct {
    char *xml;
    bool current;
} s_snapmeta;

static void s_snapmeta_free(gpointer p)
{
    s_snapmeta *m = p;
    g_free(m->xml);
    g_free(m);
}

/* Takes the snapshot metadata off dom: their XML (parents first) in *ret. 0, or -1 (nothing
 * changed, or what was removed put back) with the libvirt error. */
static int s_snapshots_detach(virDomainPtr dom, GPtrArray **ret, drv_error **err)
{
    const char *name = virDomainGetName(dom);
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    if (n < 0)
        return drv_virt_error(err, name, NULL);
    GPtrArray *metas = g_ptr_array_new_with_free_func(s_snapmeta_free);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *xml = virDomainSnapshotGetXMLDesc(snaps[i], VIR_DOMAIN_SNAPSHOT_XML_SECURE);
        if (xml == NULL) {
            rc = drv_virt_error(err, name, NULL);
            break;
        }
        s_snapmeta *m = g_new0(s_snapmeta, 1);
        m->xml = g_strdup(xml);
        free(xml);
        m->current = virDomainSnapshotIsCurrent(snaps[i], 0) == 1;
        g_ptr_array_add(metas, m);
    }
    /* children first, so no parent is removed under a child */
    for (int i = n - 1; i >= 0 && rc == 0; i--)
        if (virDomainSnapshotDelete(snaps[i], VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY) < 0)
            rc = drv_virt_error(err, name, NULL);
    for (int i = 0; i < n; i++)
        virDomainSnapshotFree(snaps[i]);
    free(snaps);
    if (rc < 0) {
        g_ptr_array_unref(metas);
        return -1;
    }
    if (metas->len > 0)
        drv_info("domain '%s': metadata of %u snapshots set aside for the migration", name,
                 metas->len);
    *ret = metas;
    return 0;
}

/* Puts set-aside snapshot metadata back on dom (the migration did not happen). */
static void s_snapshots_restore(virDomainPtr dom, GPtrArray *metas)
{
    const char *name = virDomainGetName(dom);
    for (guint i = 0; metas != NULL && i < metas->len; i++) {
        const s_snapmeta *m = g_ptr_array_index(metas, i);
        unsigned int flags = VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                             (m->current ? VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT : 0);
        virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(dom, m->xml, flags);
        if (snap == NULL)
            drv_warn("domain '%s': putting snapshot metadata back: %s", name,
                     virGetLastErrorMessage());
        else
            virDomainSnapshotFree(snap);
    }
}

/* ------------------------------------------------------------------ the migration */

typedef struct {
    virDomainPtr dom;
    const char *dest_uri;
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
    /* results */
    int rc;
    virErrorPtr error; /* copy of the helper thread's libvirt error */
    GMutex lock;
    GCond done_cond;
    bool done;
} s_call;

static gpointer s_call_thread(gpointer data)
{
    s_call *c = data;
    int rc = virDomainMigrateToURI3(c->dom, c->dest_uri, c->params, (unsigned int)c->nparams,
                                    (unsigned int)c->flags);
    g_mutex_lock(&c->lock);
    c->rc = rc;
    if (rc < 0)
        c->error = virSaveLastError();
    c->done = true;
    g_cond_signal(&c->done_cond);
    g_mutex_unlock(&c->lock);
    return NULL;
}

typedef struct {
    uint64_t time_elapsed_ms, downtime_ms, data_total, data_processed, data_remaining, memory_bps,
        dirty_rate, iteration, page_size;
    int type;
    bool have;
} s_stats;

static void s_read_stats(virTypedParameterPtr params, int n, s_stats *s)
{
    unsigned long long v = 0;
#define S_GET(field, key)                                                                          \
    if (virTypedParamsGetULLong(params, n, key, &v) == 1)                                          \
        s->field = v;
    S_GET(time_elapsed_ms, VIR_DOMAIN_JOB_TIME_ELAPSED);
    S_GET(downtime_ms, VIR_DOMAIN_JOB_DOWNTIME);
    S_GET(data_total, VIR_DOMAIN_JOB_DATA_TOTAL);
    S_GET(data_processed, VIR_DOMAIN_JOB_DATA_PROCESSED);
    S_GET(data_remaining, VIR_DOMAIN_JOB_DATA_REMAINING);
    S_GET(memory_bps, VIR_DOMAIN_JOB_MEMORY_BPS);
    S_GET(dirty_rate, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
    S_GET(iteration, VIR_DOMAIN_JOB_MEMORY_ITERATION);
    S_GET(page_size, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
#undef S_GET
    s->have = true;
}

/* Final figures from the destination: the completed job's stats of the migrated domain. */
static bool s_dest_stats(const char *dest_uri, const char *pki_path, const char *uuid, s_stats *s)
{
    g_autofree char *uri = drv_migrate_tool_uri(dest_uri, pki_path);
    virConnectPtr dc = virConnectOpen(uri);
    if (dc == NULL)
        return false;
    bool ok = false;
    virDomainPtr d = virDomainLookupByUUIDString(dc, uuid);
    if (d != NULL) {
        int type = 0, n = 0;
        virTypedParameterPtr params = NULL;
        if (virDomainGetJobStats(d, &type, &params, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0 &&
            type != VIR_DOMAIN_JOB_NONE) {
            s_read_stats(params, n, s);
            ok = true;
        }
        virTypedParamsFree(params, n);
        virDomainFree(d);
    }
    virConnectClose(dc);
    return ok;
}

static void s_send_progress(const drv_cmd_env *env, const Drover__Command *cmd, const char *name,
                            const s_stats *s, bool postcopy)
{
    if (env->progress == NULL)
        return;
    Drover__Progress p;
    drover__progress__init(&p);
    p.command_id = cmd->id;
    p.job_id = cmd->job_id;
    p.domain = (char *)name;
    p.data_total = s->data_total;
    p.data_processed = s->data_processed;
    p.data_remaining = s->data_remaining;
    p.dirty_rate = s->dirty_rate;
    p.iteration = s->iteration;
    p.memory_bps = s->memory_bps;
    p.time_elapsed_ms = s->time_elapsed_ms;
    p.postcopy = postcopy;
    env->progress(env->progress_data, &p);
}

/* ------------------------------------------------------------------ dirty rate (issue 15) */

/* Measures dom's dirty rate with libvirt's dirty-rate calculation (page-sampling: the mode that
 * works under TCG; dirty-ring and dirty-bitmap need KVM) over secs seconds, polling the dirtyrate
 * stats group every 100 ms until it says measured, for at most secs + 3 s. Runs on the command's
 * worker thread, never on the agent's loop. Returns true with *ret_bps (bytes/s) on success. */
static bool s_dirty_rate_calc(virDomainPtr dom, uint32_t secs, uint64_t *ret_bps)
{
    const char *name = virDomainGetName(dom);
    if (virDomainStartDirtyRateCalc(dom, (int)secs, VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING) < 0) {
        drv_info("domain '%s': no dirty-rate calculation (%s): the first pre-copy passes tell",
                 name, virGetLastErrorMessage());
        return false;
    }
    gint64 until = g_get_monotonic_time() + ((gint64)secs * 1000 + 3000) * 1000;
    g_usleep((gulong)secs * G_USEC_PER_SEC);
    while (g_get_monotonic_time() < until) {
        virDomainPtr doms[] = {dom, NULL};
        virDomainStatsRecordPtr *recs = NULL;
        int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &recs, 0);
        int status = -1;
        long long mbs = -1;
        if (n > 0) {
            virTypedParamsGetInt(recs[0]->params, recs[0]->nparams, "dirtyrate.calc_status",
                                 &status);
            virTypedParamsGetLLong(recs[0]->params, recs[0]->nparams,
                                   "dirtyrate.megabytes_per_second", &mbs);
        }
        virDomainStatsRecordListFree(recs);
        if (n < 0)
            break;
        if (status == VIR_DOMAIN_DIRTYRATE_MEASURED && mbs >= 0) {
            *ret_bps = (uint64_t)mbs * 1024 * 1024;
            return true;
        }
        g_usleep(100 * 1000);
    }
    drv_info("domain '%s': the dirty-rate calculation did not finish in %u s", name, secs + 3);
    return false;
}

/* One info line naming the policy the migration runs with (what the operator asked for reached
 * libvirt: the flags, and whether libvirt accepted the max downtime). */
static void s_log_policy(const char *name, const Drover__MigrateParams *mp, bool stream_tls,
                         bool downtime_set)
{
    GString *s = g_string_new(NULL);
    bool tls = drv_migrate_uses_tls(mp);
    g_string_append_printf(s, "live, peer-to-peer%s%s%s%s",
                           tls ? (stream_tls ? ", tls (control and memory)" : ", tls (control)")
                               : "",
                           mp->unsafe ? ", unsafe" : "", mp->auto_converge ? ", auto-converge" : "",
                           mp->postcopy ? ", post-copy allowed" : "");
    if (mp->max_downtime_ms > 0)
        g_string_append_printf(s, ", max downtime %" PRIu64 " ms%s", (uint64_t)mp->max_downtime_ms,
                               downtime_set ? " (set)" : " (not set yet)");
    if (mp->bandwidth_mibs > 0)
        g_string_append_printf(s, ", bandwidth %" PRIu64 " MiB/s", (uint64_t)mp->bandwidth_mibs);
    if (mp->timeout_s > 0)
        g_string_append_printf(s, ", timeout %u s", mp->timeout_s);
    drv_info("domain '%s': migrating to '%s' (%s)", name, mp->dest_uri, s->str);
    g_string_free(s, TRUE);
}

int drv_migrate_run(const drv_cmd_env *env, virDomainPtr dom, const Drover__Command *cmd,
                    Drover__Reply *reply, GPtrArray *arena, drv_error **err)
{
    const Drover__MigrateParams *mp = cmd->migrate;
    const char *name = virDomainGetName(dom);
    if (mp == NULL || mp->dest_uri == NULL || *mp->dest_uri == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "domain '%s': migrate needs a destination URI", name);
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(dom, uuid);

    virTypedParameterPtr params = NULL;
    int nparams = 0, maxparams = 0;
    if ((mp->migrate_uri && *mp->migrate_uri &&
         virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI,
                                 mp->migrate_uri) < 0) ||
        (mp->dest_xml && *mp->dest_xml &&
         virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_DEST_XML,
                                 mp->dest_xml) < 0) ||
        (mp->bandwidth_mibs > 0 &&
         virTypedParamsAddULLong(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_BANDWIDTH,
                                 mp->bandwidth_mibs) < 0)) {
        virTypedParamsFree(params, nparams);
        return drv_virt_error(err, name, NULL);
    }
    /* allowed before the job on current libvirt; set again once the job runs */
    bool downtime_before = false;
    if (mp->max_downtime_ms > 0) {
        downtime_before = virDomainMigrateSetMaxDowntime(dom, mp->max_downtime_ms, 0) == 0;
        if (!downtime_before)
            drv_debug("domain '%s': max downtime before the job: %s", name,
                      virGetLastErrorMessage());
    }
    s_log_policy(name, mp, env->migration_stream_tls, downtime_before);

    GPtrArray *snapmetas = NULL;
    if (s_snapshots_detach(dom, &snapmetas, err) < 0) {
        virTypedParamsFree(params, nparams);
        drv_error_prefix(err, "domain '%s': setting snapshot metadata aside", name);
        return -1;
    }
    s_running *reg = s_register(dom, cmd->job_id);
    /* the prediction's input, measured before anything moves (issue 15); a cancel meanwhile
     * means the migration never starts */
    uint64_t dirty_bps = 0, dirty_calc_ms = 0;
    const char *dirty_source = "";
    if (mp->dirty_rate_calc_s > 0) {
        gint64 t0 = g_get_monotonic_time();
        if (s_dirty_rate_calc(dom, MIN(mp->dirty_rate_calc_s, 60u), &dirty_bps))
            dirty_source = "calc";
        dirty_calc_ms = (uint64_t)((g_get_monotonic_time() - t0) / 1000);
        drv_info("domain '%s': dirty rate %s (%" PRIu64 " ms)", name,
                 *dirty_source ? "measured" : "not measured", dirty_calc_ms);
    }

    /* issue 15: predict with what was measured and the link estimate; migrate with the allowed
     * policy the prediction picks */
    Drover__MigrateParams eff = *mp;
    drv_predict pred = {0};
    bool predicted = false;
    if (mp->choose_policy) {
        virDomainInfo info;
        drv_predict_input in = {
            .memory_bytes = virDomainGetInfo(dom, &info) == 0 ? (uint64_t)info.memory * 1024 : 0,
            .dirty_bps = dirty_bps,
            .dirty_period_ms = (uint64_t)MIN(mp->dirty_rate_calc_s, 60u) * 1000,
            .bandwidth_bps = mp->link_bandwidth_bps,
            .fixed_ms = mp->link_fixed_ms,
        };
        drv_predict_policy pol = {
            .max_downtime_ms = mp->max_downtime_ms,
            .bandwidth_bps = mp->bandwidth_mibs * 1024ULL * 1024ULL,
            .allow_auto_converge = mp->auto_converge,
            .allow_postcopy = mp->postcopy,
            .timeout_s = mp->timeout_s,
        };
        if (in.memory_bytes > 0 && *dirty_source) {
            drv_predict_choose(&in, &pol, &pred);
            predicted = true;
            bool ac = false, pc = false;
            drv_predict_apply(pred.verdict, mp->auto_converge, mp->postcopy, &ac, &pc);
            eff.auto_converge = ac;
            eff.postcopy = pc;
            drv_info("domain '%s': predicted %s: %" PRIu64 " ms, pause %" PRIu64 " ms, %" PRIu64
                     " bytes (%s); migrating with%s%s",
                     name, drv_predict_verdict_to_string(pred.verdict), pred.time_ms,
                     pred.downtime_ms, pred.bytes, pred.reason,
                     eff.auto_converge ? " auto-converge" : "",
                     eff.postcopy ? " post-copy allowed" : " pre-copy only");
        } else {
            drv_info("domain '%s': no prediction (%s); migrating with the policy as asked", name,
                     *dirty_source ? "memory size unknown" : "dirty rate not measured");
        }
    }

    s_call call = {.dom = dom,
                   .dest_uri = mp->dest_uri,
                   .params = params,
                   .nparams = nparams,
                   .flags = drv_migrate_flags(&eff, env->migration_stream_tls)};
    g_mutex_init(&call.lock);
    g_cond_init(&call.done_cond);
    gint64 start_us = g_get_monotonic_time();
    GThread *t = NULL;
    if (g_atomic_int_get(&reg->cancel)) {
        call.rc = -1;
        call.done = true;
    } else {
        t = g_thread_new("migrate-call", s_call_thread, &call);
    }

    s_stats last = {0};
    bool downtime_set = false;
    gint64 first_data_us = 0, progress_sent_us = 0;
    drv_migrate_monitor_params policy =
        drv_migrate_monitor_params_default(eff.postcopy, mp->timeout_s);
    drv_migrate_monitor_state mon;
    drv_migrate_monitor_init(&mon);
    for (;;) {
        g_mutex_lock(&call.lock);
        /* every 100 ms until memory flows (to time the set-up), then every second */
        gint64 until =
            g_get_monotonic_time() + (first_data_us ? S_TICK_MS : S_SETUP_TICK_MS) * 1000;
        while (!call.done && g_cond_wait_until(&call.done_cond, &call.lock, until))
            ;
        bool done = call.done;
        g_mutex_unlock(&call.lock);
        if (done)
            break;

        /* virDomainGetJobStats reads the async job's data without taking the domain job lock */
        int type = 0, n = 0;
        virTypedParameterPtr st = NULL;
        drv_migrate_monitor_sample sample = {0};
        if (virDomainGetJobStats(dom, &type, &st, &n, 0) == 0 && type != VIR_DOMAIN_JOB_NONE) {
            s_stats s = {0};
            s_read_stats(st, n, &s);
            last = s;
            if (!downtime_set && mp->max_downtime_ms > 0) {
                downtime_set = virDomainMigrateSetMaxDowntime(dom, mp->max_downtime_ms, 0) == 0;
            }
            /* before memory flows libvirt reports a job with no data: no sample for the monitor
             * (a remaining of 0 would be its lowest ever, and the real ones a stall) */
            if (s.data_total > 0 || s.data_processed > 0) {
                if (first_data_us == 0)
                    first_data_us = g_get_monotonic_time();
                sample.have_stats = true;
                sample.iteration = s.iteration;
                sample.data_remaining = s.data_remaining;
            }
            if (!*dirty_source && s.iteration >= 2 && s.dirty_rate > 0) {
                dirty_bps = s.dirty_rate * (s.page_size ? s.page_size : 4096);
                dirty_source = "precopy";
            }
        }
        virTypedParamsFree(st, n);
        sample.elapsed_ms = (uint64_t)((g_get_monotonic_time() - start_us) / 1000);

        drv_migrate_decision d = drv_migrate_monitor_decide(&policy, &sample, &mon);
        switch (d) {
        case DRV_MIGRATE_SWITCH_POSTCOPY:
            if (virDomainMigrateStartPostCopy(dom, 0) == 0) {
                drv_migrate_monitor_postcopy_started(&mon);
                drv_info("domain '%s': migration switched to post-copy: %s", name, mon.reason);
            } else {
                drv_warn("domain '%s': switch to post-copy failed (%s): %s", name, mon.reason,
                         virGetLastErrorMessage());
            }
            break;
        case DRV_MIGRATE_ABORT_TIMEOUT:
        case DRV_MIGRATE_ABORT_STALLED:
            drv_warn("domain '%s': migration %s: aborting", name, mon.reason);
            virDomainAbortJob(dom);
            break;
        case DRV_MIGRATE_CONTINUE:
        case DRV_MIGRATE_DECISION_LAST:
            break;
        }
        if (sample.have_stats &&
            g_get_monotonic_time() - progress_sent_us >= (S_TICK_MS - S_SETUP_TICK_MS) * 1000) {
            progress_sent_us = g_get_monotonic_time();
            s_send_progress(env, cmd, name, &last, mon.postcopy);
        }
        /* post-copy cannot be aborted without losing the guest: let it finish */
        if (g_atomic_int_get(&reg->cancel) && !mon.postcopy)
            virDomainAbortJob(dom); /* repeated each tick until the job ends */
    }
    bool postcopy = mon.postcopy;
    bool timed_out = mon.aborted == DRV_MIGRATE_ABORT_TIMEOUT;
    bool stalled = mon.aborted == DRV_MIGRATE_ABORT_STALLED;
    if (t != NULL)
        g_thread_join(t);
    gint64 call_end_us = g_get_monotonic_time();
    bool cancelled = g_atomic_int_get(&reg->cancel) != 0;
    s_unregister(reg);
    virTypedParamsFree(params, nparams);
    uint64_t wall_ms = (uint64_t)((g_get_monotonic_time() - start_us) / 1000);

    Drover__MigrateResult *res = drv_pb_alloc(arena, sizeof(*res));
    drover__migrate_result__init(res);
    reply->migrate = res;
    res->postcopy_used = postcopy;
    res->cancelled = call.rc < 0 && (cancelled || timed_out || stalled);
    int rc = 0;
    if (call.rc < 0) {
        int code = call.error ? call.error->code : VIR_ERR_INTERNAL_ERROR;
        const char *msg = call.error && call.error->message ? call.error->message : "failed";
        if (timed_out) {
            reply->timed_out = true;
            drv_error_set(err, DRV_ERR_TIMEOUT, code,
                          "domain '%s': migration to '%s' aborted after the %u s timeout: %s", name,
                          mp->dest_uri, mp->timeout_s, msg);
        } else if (stalled && !cancelled) {
            /* a policy abort, like the timeout: the job failed (not an operator's cancel) */
            reply->timed_out = true;
            drv_error_set(err, DRV_ERR_TIMEOUT, code,
                          "domain '%s': migration to '%s' aborted: %s: %s", name, mp->dest_uri,
                          mon.reason, msg);
        } else {
            drv_error_set(err, DRV_ERR_LIBVIRT, code, "domain '%s': migration to '%s'%s: %s", name,
                          mp->dest_uri, cancelled ? " cancelled" : " failed", msg);
        }
        rc = -1;
        s_snapshots_restore(dom, snapmetas);
    } else {
        s_stats fin = last;
        gint64 t0 = g_get_monotonic_time();
        if (!s_dest_stats(mp->dest_uri, env->migration_pki_path, uuid, &fin))
            drv_debug("domain '%s': no completed job stats from '%s'", name, mp->dest_uri);
        res->dest_stats_ms = (uint64_t)((g_get_monotonic_time() - t0) / 1000);
        last = fin;
    }
    res->time_elapsed_ms = last.time_elapsed_ms ? last.time_elapsed_ms : wall_ms;
    res->downtime_ms = last.downtime_ms;
    res->data_total = last.data_total;
    res->data_processed = last.data_processed;
    res->memory_bps = last.memory_bps;
    res->dirty_rate_bps = dirty_bps;
    res->dirty_calc_ms = dirty_calc_ms;
    res->dirty_rate_source = (char *)dirty_source;
    res->applied_auto_converge = eff.auto_converge;
    res->applied_postcopy = eff.postcopy;
    if (predicted) {
        res->predicted_verdict = (char *)drv_predict_verdict_to_string(pred.verdict);
        res->predicted_throttle_pct = pred.throttle_pct;
        res->predicted_time_ms = pred.time_ms;
        res->predicted_downtime_ms = pred.downtime_ms;
        res->predicted_bytes = pred.bytes;
        res->predicted_reason = drv_pb_strdup(arena, pred.reason);
    }
    gint64 data_us = first_data_us ? first_data_us : call_end_us;
    res->setup_ms = (uint64_t)((data_us - start_us) / 1000);
    res->transfer_ms = (uint64_t)((call_end_us - data_us) / 1000);
    drv_info("domain '%s': migration stages: dirty-rate %" PRIu64 " ms, set-up %" PRIu64
             " ms, transfer %" PRIu64 " ms, destination stats %" PRIu64 " ms",
             name, dirty_calc_ms, (uint64_t)res->setup_ms, (uint64_t)res->transfer_ms,
             (uint64_t)res->dest_stats_ms);
    g_ptr_array_unref(snapmetas);
    if (call.error)
        virFreeError(call.error);
    g_mutex_clear(&call.lock);
    g_cond_clear(&call.done_cond);
    return rc;
}
