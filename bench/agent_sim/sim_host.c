/* sim_host.c — see sim_host.h. The domain table follows libvirt's rules where the controller can
 * see them: define keeps a running domain running (the new definition applies at the next start),
 * undefine of a running domain leaves it transient, a transient domain that stops is gone, start
 * of a running domain fails with VIR_ERR_OPERATION_INVALID, an unknown name is VIR_ERR_NO_DOMAIN
 * (error kind not-found). */
#include "sim_host.h"

#include "cmdreply.h"
#include "domxml.h"
#include "lifecycle.h"
#include "pb.h"
#include "stats.h"

#include <string.h>

/* virErrorNumber values the controller may look at (libvirt's virterror.h) */
#define S_VIR_ERR_OPERATION_INVALID 55
#define S_VIR_ERR_NO_DOMAIN         42
#define S_VIR_ERR_OPERATION_FAILED  9

typedef struct {
    drv_dom_info info;
    char *xml;
} s_dom;

struct sim_host {
    char *id;
    drv_host_facts *facts;
    GHashTable *doms; /* name → s_dom* */
    drv_reply_cache *cache;
};

static void s_dom_free(gpointer p)
{
    s_dom *d = p;
    g_free(d->info.name);
    g_free(d->info.uuid);
    g_free(d->info.xml_hash);
    g_free(d->xml);
    g_free(d);
}

static char *s_uuid(void)
{
    return g_uuid_string_random();
}

static s_dom *s_dom_new(const char *name, const char *uuid, const char *xml, uint32_t vcpus,
                        uint64_t memory_kib)
{
    s_dom *d = g_new0(s_dom, 1);
    d->info.name = g_strdup(name);
    d->info.uuid = uuid ? g_strdup(uuid) : s_uuid();
    d->info.state = DRV_DOM_SHUTOFF;
    d->info.reason = 0;
    d->info.persistent = true;
    d->xml = g_strdup(xml);
    d->info.xml_hash = drv_dom_xml_hash(xml);
    d->info.vcpus = vcpus;
    d->info.memory_kib = memory_kib;
    return d;
}

sim_host *sim_host_new(const char *id, uint32_t cpus, uint64_t memory_kib, unsigned domains,
                       char **labels)
{
    sim_host *self = g_new0(sim_host, 1);
    self->id = g_strdup(id);
    self->doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, s_dom_free);
    self->cache = drv_reply_cache_new(1024);
    drv_host_facts *f = drv_host_facts_new();
    f->host_id = g_strdup(id);
    f->hostname = g_strdup(id);
    f->arch = g_strdup("x86_64");
    f->cpus = cpus;
    f->memory_kib = memory_kib;
    f->free_memory_kib = memory_kib;
    f->reserved_memory_kib = 512 * 1024;
    f->cpu_vendor = g_strdup("Intel");
    f->cpu_model = g_strdup("Skylake-Client");
    static const char *const features[] = {"aes", "avx2", "sse4.2", NULL};
    drv_host_facts_set_features(f, features);
    f->host_uuid = s_uuid();
    f->libvirt_version = 9000000;
    f->hypervisor_version = 8002000;
    f->hypervisor_type = g_strdup("QEMU");
    f->migration_uri = g_strdup_printf("qemu+tcp://%s/system", id);
    f->libvirt_uri = g_strdup("sim:///system");
    g_ptr_array_add(f->label_keys, g_strdup("sim"));
    g_ptr_array_add(f->label_values, g_strdup("1"));
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i++) {
        const char *eq = strchr(labels[i], '=');
        if (eq == NULL)
            continue;
        g_ptr_array_add(f->label_keys, g_strndup(labels[i], (gsize)(eq - labels[i])));
        g_ptr_array_add(f->label_values, g_strdup(eq + 1));
    }
    self->facts = f;
    for (unsigned i = 0; i < domains; i++) {
        g_autofree char *name = g_strdup_printf("%s-f%04u", id, i);
        g_autofree char *xml = g_strdup_printf(
            "<domain type='kvm'><name>%s</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
            "<os><type>hvm</type></os></domain>",
            name);
        s_dom *d = s_dom_new(name, NULL, xml, 1, 512 * 1024);
        d->info.state = DRV_DOM_RUNNING;
        d->info.reason = 1; /* VIR_DOMAIN_RUNNING_BOOTED */
        g_hash_table_replace(self->doms, d->info.name, d);
    }
    return self;
}

void sim_host_destroy(sim_host **self_p)
{
    sim_host *self = *self_p;
    if (self == NULL)
        return;
    g_free(self->id);
    drv_host_facts_destroy(&self->facts);
    g_hash_table_unref(self->doms);
    drv_reply_cache_destroy(&self->cache);
    g_free(self);
    *self_p = NULL;
}

const char *sim_host_id(const sim_host *self)
{
    return self->id;
}

unsigned sim_host_domain_count(const sim_host *self)
{
    return g_hash_table_size(self->doms);
}

drv_reply_cache *sim_host_cache(sim_host *self)
{
    return self->cache;
}

/* Free memory as libvirt would report it: total minus the running domains' memory. */
static uint64_t s_free_kib(const sim_host *self)
{
    uint64_t used = 0;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->doms);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const s_dom *d = v;
        if (d->info.state == DRV_DOM_RUNNING || d->info.state == DRV_DOM_PAUSED)
            used += d->info.memory_kib;
    }
    return used >= self->facts->memory_kib ? 0 : self->facts->memory_kib - used;
}

uint8_t *sim_host_pack_stats(sim_host *self, GRand *rand, uint64_t wall_ms, uint32_t interval_ms,
                             size_t *ret_len)
{
    drv_stats_report r = {.sampled_at_ms = wall_ms, .interval_ms = interval_ms, .sample_ms = 1};
    bool known = interval_ms > 0;
    r.host.cpus = self->facts->cpus;
    r.host.cpu_known = known;
    r.host.cpu_busy = known ? g_rand_double_range(rand, 0.05, 0.95) : 0;
    r.host.memory_total_kib = self->facts->memory_kib;
    r.host.memory_available_kib = s_free_kib(self);
    r.host.load1 = r.host.load5 = r.host.load15 = r.host.cpu_busy * self->facts->cpus;
    r.domains = g_array_new(FALSE, TRUE, sizeof(drv_stats_dom_rates));
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->doms);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const s_dom *d = v;
        if (d->info.state != DRV_DOM_RUNNING)
            continue;
        drv_stats_dom_rates dr = {.name = d->info.name,
                                  .rates_known = known,
                                  .vcpus = d->info.vcpus,
                                  .balloon_current_kib = d->info.memory_kib,
                                  .balloon_rss_kib = d->info.memory_kib};
        if (known) {
            dr.cpu = g_rand_double_range(rand, 0, d->info.vcpus);
            dr.steal = g_rand_double_range(rand, 0, 0.1 * d->info.vcpus);
            dr.block_read_bps = g_rand_double_range(rand, 0, 1e6);
            dr.net_rx_bps = g_rand_double_range(rand, 0, 1e6);
        }
        g_array_append_val(r.domains, dr);
    }
    uint8_t *buf = NULL;
    drv_pb_stats_pack(&r, &buf, ret_len);
    g_array_unref(r.domains);
    return buf;
}

uint8_t *sim_host_pack_register(sim_host *self, const char *instance, size_t *ret_len)
{
    self->facts->free_memory_kib = s_free_kib(self);
    GPtrArray *arena = drv_pb_arena_new();
    GPtrArray *infos = g_ptr_array_new();
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->doms);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(infos, &((s_dom *)v)->info);
    Drover__Register reg = DROVER__REGISTER__INIT;
    reg.facts = drv_pb_facts(arena, self->facts);
    reg.domains = drv_pb_dom_infos(arena, infos, &reg.n_domains);
    reg.agent_instance = (char *)instance;
    reg.libvirt_connected = true;
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_REGISTER;
    env.register_ = &reg;
    uint8_t *buf = NULL;
    drv_error *err = NULL;
    if (drv_codec_pack(&env, 0, &buf, ret_len, &err) < 0) {
        g_printerr("agent_sim: %s: register: %s\n", self->id, err->message);
        drv_error_destroy(&err);
        buf = NULL;
        *ret_len = 0;
    }
    g_ptr_array_unref(infos);
    g_ptr_array_unref(arena);
    return buf;
}

void sim_host_dump(const sim_host *self, FILE *f)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, self->doms);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        const s_dom *d = v;
        fprintf(f, "%s %s %s %u %" G_GUINT64_FORMAT "\n", self->id, d->info.name,
                d->info.state == DRV_DOM_RUNNING  ? "running"
                : d->info.state == DRV_DOM_PAUSED ? "paused"
                                                  : "shutoff",
                d->info.vcpus, d->info.memory_kib);
    }
}

void sim_msg_free(gpointer p)
{
    sim_msg *m = p;
    if (m == NULL)
        return;
    g_free(m->buf);
    g_free(m);
}

static void s_out(GPtrArray *out, sim_host *host, uint8_t *buf, size_t len)
{
    if (buf == NULL)
        return;
    sim_msg *m = g_new0(sim_msg, 1);
    m->host = host;
    m->buf = buf;
    m->len = len;
    g_ptr_array_add(out, m);
}

/* A lifecycle event of d (NULL info for undefined) on host, packed into out. */
static void s_event(GPtrArray *out, sim_host *host, drv_event_kind kind, const char *detail_text,
                    int detail, const char *name, const char *uuid, const s_dom *d)
{
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Event e = DROVER__EVENT__INIT;
    e.kind = (Drover__EventKind)kind;
    e.domain = (char *)name;
    e.uuid = (char *)(uuid ? uuid : "");
    e.detail = detail;
    e.detail_text = (char *)detail_text;
    e.timestamp_ms = g_get_real_time() / 1000;
    if (d != NULL)
        e.info = drv_pb_dom_info(arena, &d->info);
    Drover__Envelope env = DROVER__ENVELOPE__INIT;
    env.body_case = DROVER__ENVELOPE__BODY_EVENT;
    env.event = &e;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (drv_codec_pack(&env, 0, &buf, &len, NULL) == 0)
        s_out(out, host, buf, len);
    g_ptr_array_unref(arena);
}

static void s_fail(Drover__Reply *reply, GPtrArray *arena, drv_err_kind kind, int code,
                   const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void s_fail(Drover__Reply *reply, GPtrArray *arena, drv_err_kind kind, int code,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    drv_error e = {.kind = kind, .code = code, .message = msg};
    drv_commands_fail(reply, arena, &e);
}

static bool s_active(const s_dom *d)
{
    return d->info.state == DRV_DOM_RUNNING || d->info.state == DRV_DOM_PAUSED;
}

/* The kinds the fail rate applies to (what libvirt may refuse on a real host). */
static bool s_may_fail(Drover__CommandKind k)
{
    switch (k) {
    case DROVER__COMMAND_KIND__CMD_DEFINE:
    case DROVER__COMMAND_KIND__CMD_CREATE:
    case DROVER__COMMAND_KIND__CMD_START:
    case DROVER__COMMAND_KIND__CMD_SHUTDOWN:
    case DROVER__COMMAND_KIND__CMD_DESTROY:
    case DROVER__COMMAND_KIND__CMD_UNDEFINE:
    case DROVER__COMMAND_KIND__CMD_MIGRATE:
        return true;
    default:
        return false;
    }
}

/* Stops d (reason: detail_text/detail of the STOPPED event); a transient domain is gone. */
static void s_stop(sim_host *self, GPtrArray *out, s_dom *d, const char *detail_text, int detail)
{
    d->info.state = DRV_DOM_SHUTOFF;
    d->info.reason = detail;
    s_event(out, self, DRV_EV_STOPPED, detail_text, detail, d->info.name, d->info.uuid, d);
    if (!d->info.persistent) {
        s_event(out, self, DRV_EV_UNDEFINED, "removed", 0, d->info.name, d->info.uuid, NULL);
        g_hash_table_remove(self->doms, d->info.name);
    }
}

static void s_define(sim_host *self, GPtrArray *out, const Drover__Command *cmd,
                     Drover__Reply *reply, GPtrArray *arena, s_dom **ret_dom)
{
    drv_domxml *x = NULL;
    drv_error *err = NULL;
    const char *xml = cmd->xml ? cmd->xml : "";
    if (drv_domxml_parse(xml, strlen(xml), &x, &err) < 0) {
        s_fail(reply, arena, DRV_ERR_LIBVIRT, 27 /* VIR_ERR_XML_ERROR */, "%s", err->message);
        drv_error_destroy(&err);
        return;
    }
    bool create = cmd->kind == DROVER__COMMAND_KIND__CMD_CREATE;
    s_dom *d = g_hash_table_lookup(self->doms, x->name);
    if (d != NULL && create && s_active(d)) {
        s_fail(reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
               "domain '%s': operation failed: domain '%s' is already active", x->name, x->name);
        drv_domxml_destroy(&x);
        return;
    }
    if (d == NULL) {
        d = s_dom_new(x->name, x->uuid, xml, x->vcpus, x->memory_kib);
        g_hash_table_replace(self->doms, d->info.name, d);
    } else {
        g_free(d->xml);
        d->xml = g_strdup(xml);
        g_free(d->info.xml_hash);
        d->info.xml_hash = drv_dom_xml_hash(xml);
        if (!s_active(d)) { /* a running domain keeps its live size until restarted */
            d->info.vcpus = x->vcpus;
            d->info.memory_kib = x->memory_kib;
        }
    }
    if (create) {
        d->info.persistent = false;
        d->info.state = DRV_DOM_RUNNING;
        d->info.reason = 1;
        s_event(out, self, DRV_EV_STARTED, "booted", 0, d->info.name, d->info.uuid, d);
    } else {
        d->info.persistent = true;
        s_event(out, self, DRV_EV_DEFINED, "added", 0, d->info.name, d->info.uuid, d);
    }
    drv_domxml_destroy(&x);
    reply->ok = true;
    *ret_dom = d;
}

static void s_migrate(sim_host *self, sim_world *world, GPtrArray *out, const Drover__Command *cmd,
                      Drover__Reply *reply, GPtrArray *arena, s_dom *d)
{
    const char *dest_id = cmd->migrate ? cmd->migrate->dest_host : NULL;
    sim_host *dest = dest_id ? g_hash_table_lookup(world->hosts, dest_id) : NULL;
    if (dest == NULL || dest == self) {
        s_fail(reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_FAILED,
               "domain '%s': migration to '%s' failed: no such simulated host", d->info.name,
               dest_id ? dest_id : "");
        return;
    }
    if (!s_active(d)) {
        s_fail(reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
               "domain '%s': requested operation is not valid: domain is not running",
               d->info.name);
        return;
    }
    if (g_hash_table_contains(dest->doms, d->info.name)) {
        s_fail(reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
               "domain '%s': operation failed: domain already exists on '%s'", d->info.name,
               dest_id);
        return;
    }
    /* the copy lands on the destination (PERSIST_DEST), the source is undefined */
    s_dom *n = s_dom_new(d->info.name, d->info.uuid, d->xml, d->info.vcpus, d->info.memory_kib);
    n->info.state = DRV_DOM_RUNNING;
    n->info.reason = 2; /* VIR_DOMAIN_RUNNING_MIGRATED */
    g_hash_table_replace(dest->doms, n->info.name, n);
    s_event(out, dest, DRV_EV_DEFINED, "added", 0, n->info.name, n->info.uuid, n);
    s_event(out, dest, DRV_EV_MIGRATED, "migrated", 1, n->info.name, n->info.uuid, n);
    d->info.state = DRV_DOM_SHUTOFF;
    d->info.reason = 3; /* VIR_DOMAIN_SHUTOFF_MIGRATED */
    s_event(out, self, DRV_EV_MIGRATED, "migrated", 3, d->info.name, d->info.uuid, d);
    s_event(out, self, DRV_EV_UNDEFINED, "removed", 0, d->info.name, d->info.uuid, NULL);
    g_hash_table_remove(self->doms, n->info.name);
    Drover__MigrateResult *mr = drv_pb_alloc(arena, sizeof(*mr));
    drover__migrate_result__init(mr);
    mr->data_total = n->info.memory_kib * 1024;
    mr->data_processed = mr->data_total;
    reply->migrate = mr;
    reply->ok = true;
}

void sim_host_execute(sim_host *self, sim_world *world, const Drover__Command *cmd, GPtrArray *out)
{
    GPtrArray *arena = drv_pb_arena_new();
    Drover__Reply reply = DROVER__REPLY__INIT;
    reply.command_id = cmd->id;
    Drover__CommandKind k = cmd->kind;
    const char *name = cmd->domain && *cmd->domain ? cmd->domain : NULL;
    s_dom *d = name ? g_hash_table_lookup(self->doms, name) : NULL;
    bool attach = true;
    int64_t ago_ms = drv_cmdreply_expired_ms(cmd, g_get_real_time() / 1000);

    if (ago_ms > 0) {
        drv_cmdreply_fill_expired(&reply, arena, cmd, ago_ms);
        attach = false;
    } else if (s_may_fail(k) && world->fail_rate > 0 &&
               g_rand_double(world->rand) < world->fail_rate) {
        s_fail(&reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_FAILED,
               "domain '%s': operation failed: simulated failure (agent_sim --fail-rate)",
               name ? name : "?");
    } else if (k == DROVER__COMMAND_KIND__CMD_DEFINE || k == DROVER__COMMAND_KIND__CMD_CREATE) {
        s_dom *nd = NULL;
        s_define(self, out, cmd, &reply, arena, &nd);
        d = nd;
    } else if (k == DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE) {
        g_autofree char *token = g_uuid_string_random();
        g_hash_table_replace(world->markers, g_strdup_printf("%s/%s", cmd->path, cmd->name),
                             g_strdup(token));
        reply.ok = true;
        reply.message = drv_pb_strdup(arena, token);
    } else if (k == DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK) {
        g_autofree char *key = g_strdup_printf("%s/%s", cmd->path, cmd->name);
        const char *have = g_hash_table_lookup(world->markers, key);
        if (have != NULL && g_strcmp0(have, cmd->xml) == 0)
            reply.ok = true;
        else
            s_fail(&reply, arena, DRV_ERR_NOT_FOUND, 0, "marker %s not found", key);
    } else if (k == DROVER__COMMAND_KIND__CMD_HA_SET) {
        reply.ok = true;
    } else if (name == NULL) {
        s_fail(&reply, arena, DRV_ERR_INVALID, 0, "%s: no domain named in the command",
               drv_commands_kind_name(k));
    } else if (d == NULL) {
        s_fail(&reply, arena, DRV_ERR_NOT_FOUND, S_VIR_ERR_NO_DOMAIN,
               "domain '%s': Domain not found: no domain with matching name '%s'", name, name);
    } else {
        switch (k) {
        case DROVER__COMMAND_KIND__CMD_START:
        case DROVER__COMMAND_KIND__CMD_RESTORE:
            if (s_active(d)) {
                s_fail(&reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
                       "domain '%s': Requested operation is not valid: domain is already running",
                       name);
                break;
            }
            d->info.state = DRV_DOM_RUNNING;
            d->info.reason = 1;
            s_event(out, self, DRV_EV_STARTED, "booted", 0, name, d->info.uuid, d);
            reply.ok = true;
            break;
        case DROVER__COMMAND_KIND__CMD_SHUTDOWN:
        case DROVER__COMMAND_KIND__CMD_DESTROY:
            if (!s_active(d)) {
                s_fail(&reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
                       "domain '%s': Requested operation is not valid: domain is not running",
                       name);
                break;
            }
            reply.ok = true;
            bool shutdown = k == DROVER__COMMAND_KIND__CMD_SHUTDOWN;
            bool transient = !d->info.persistent;
            s_stop(self, out, d, shutdown ? "shutdown" : "destroyed", shutdown ? 0 : 2);
            if (transient)
                d = NULL;
            break;
        case DROVER__COMMAND_KIND__CMD_REBOOT:
            reply.ok = s_active(d);
            if (!reply.ok)
                s_fail(&reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
                       "domain '%s': domain is not running", name);
            break;
        case DROVER__COMMAND_KIND__CMD_SUSPEND:
        case DROVER__COMMAND_KIND__CMD_RESUME: {
            bool suspend = k == DROVER__COMMAND_KIND__CMD_SUSPEND;
            drv_dom_state from = suspend ? DRV_DOM_RUNNING : DRV_DOM_PAUSED;
            if (d->info.state != from) {
                s_fail(&reply, arena, DRV_ERR_LIBVIRT, S_VIR_ERR_OPERATION_INVALID,
                       "domain '%s': domain is not %s", name, suspend ? "running" : "paused");
                break;
            }
            d->info.state = suspend ? DRV_DOM_PAUSED : DRV_DOM_RUNNING;
            s_event(out, self, suspend ? DRV_EV_SUSPENDED : DRV_EV_RESUMED,
                    suspend ? "paused" : "unpaused", 0, name, d->info.uuid, d);
            reply.ok = true;
            break;
        }
        case DROVER__COMMAND_KIND__CMD_UNDEFINE:
            reply.ok = true;
            attach = false;
            s_event(out, self, DRV_EV_UNDEFINED, "removed", 0, name, d->info.uuid, NULL);
            if (s_active(d))
                d->info.persistent = false; /* libvirt: it runs on, transient */
            else
                g_hash_table_remove(self->doms, name);
            d = NULL;
            break;
        case DROVER__COMMAND_KIND__CMD_DUMPXML:
            reply.xml = drv_pb_strdup(arena, d->xml);
            reply.ok = true;
            break;
        case DROVER__COMMAND_KIND__CMD_DOMSTATS:
            drv_pb_add_kv(arena, &reply.stats, &reply.n_stats, "state.state",
                          drv_pb_printf(arena, "%d", (int)d->info.state));
            drv_pb_add_kv(arena, &reply.stats, &reply.n_stats, "vcpu.current",
                          drv_pb_printf(arena, "%u", d->info.vcpus));
            drv_pb_add_kv(arena, &reply.stats, &reply.n_stats, "balloon.current",
                          drv_pb_printf(arena, "%" G_GUINT64_FORMAT, d->info.memory_kib));
            reply.ok = true;
            break;
        case DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST:
            reply.ok = true;
            break;
        case DROVER__COMMAND_KIND__CMD_MIGRATE:
            attach = false;
            s_migrate(self, world, out, cmd, &reply, arena, d);
            d = NULL;
            break;
        default:
            s_fail(&reply, arena, DRV_ERR_INVALID, 0,
                   "domain '%s': %s is not simulated by agent_sim", name,
                   drv_commands_kind_name(k));
            break;
        }
    }
    if (attach && d != NULL)
        reply.domain = drv_pb_dom_info(arena, &d->info);
    uint8_t *buf = NULL;
    size_t len = 0;
    drv_cmdreply_pack(&reply, &buf, &len);
    if (buf != NULL) {
        /* the reply is kept for a resent id (the cache takes a copy) */
        drv_reply_cache_finish(self->cache, cmd->id, g_memdup2(buf, len), len);
        s_out(out, self, buf, len);
    }
    g_ptr_array_unref(arena);
}
