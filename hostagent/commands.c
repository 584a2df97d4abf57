/* commands.c — see commands.h. One function per command kind, all the same shape: look the domain
 * up, call libvirt, turn a failure into a drv_error that names the domain. */
#include "commands.h"

#include "caps.h"
#include "console.h"
#include "log.h"
#include "migrate.h"
#include "pb.h"
#include "storage.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Looks a domain up by name, or by UUID when the name is one. */
static virDomainPtr s_lookup(virConnectPtr conn, const char *name, drv_error **err)
{
    if (name == NULL || *name == '\0') {
        drv_error_set(err, DRV_ERR_INVALID, 0, "no domain named in the command");
        return NULL;
    }
    virDomainPtr dom = virDomainLookupByName(conn, name);
    if (dom == NULL && strlen(name) == VIR_UUID_STRING_BUFLEN - 1)
        dom = virDomainLookupByUUIDString(conn, name);
    if (dom == NULL)
        drv_virt_error(err, name, NULL);
    return dom;
}

/* Attaches the domain's state after the command to the reply (best effort). */
static void s_attach_state(Drover__Reply *reply, GPtrArray *arena, virDomainPtr dom)
{
    drv_dom_info *info = NULL;
    if (dom == NULL || drv_virt_dom_info(dom, &info, NULL) < 0)
        return;
    reply->domain = drv_pb_dom_info(arena, info);
    /* the strings belong to info: copy them into the arena */
    reply->domain->name = drv_pb_strdup(arena, info->name);
    reply->domain->uuid = drv_pb_strdup(arena, info->uuid);
    reply->domain->xml_hash = drv_pb_strdup(arena, info->xml_hash);
    drv_dom_info_free(info);
}

static unsigned int s_affect(uint32_t modify)
{
    unsigned int flags = VIR_DOMAIN_AFFECT_CURRENT;
    if (modify & DROVER__MODIFY_FLAG__MODIFY_LIVE)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (modify & DROVER__MODIFY_FLAG__MODIFY_CONFIG)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    /* VIR_DOMAIN_VCPU_MAXIMUM and VIR_DOMAIN_MEM_MAXIMUM are the same bit (SETVCPUS, SETMEM) */
    G_STATIC_ASSERT((int)VIR_DOMAIN_VCPU_MAXIMUM == (int)VIR_DOMAIN_MEM_MAXIMUM);
    if (modify & DROVER__MODIFY_FLAG__MODIFY_MAXIMUM)
        flags |= VIR_DOMAIN_VCPU_MAXIMUM;
    return flags;
}

static bool s_state_is(virDomainPtr dom, int want)
{
    int state = 0, reason = 0;
    return virDomainGetState(dom, &state, &reason, 0) == 0 && state == want;
}

/* ------------------------------------------------------------------ the commands */

static int s_define(virConnectPtr conn, const Drover__Command *cmd, virDomainPtr *ret_dom,
                    drv_error **err)
{
    g_autofree char *name = drv_caps_domain_name(cmd->xml);
    virDomainPtr dom = cmd->kind == DROVER__COMMAND_KIND__CMD_CREATE
                           ? virDomainCreateXML(conn, cmd->xml, 0)
                           : virDomainDefineXML(conn, cmd->xml);
    if (dom == NULL)
        return drv_virt_error(err, name ? name : "(unnamed)", NULL);
    *ret_dom = dom;
    return 0;
}

static int s_undefine(virDomainPtr dom, const char *name, drv_error **err)
{
    unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_NVRAM;
    if (virDomainUndefineFlags(dom, flags) == 0)
        return 0;
    virErrorPtr e = virGetLastError();
    if (e == NULL || (e->code != VIR_ERR_NO_SUPPORT && e->code != VIR_ERR_INVALID_ARG &&
                      e->code != VIR_ERR_ARGUMENT_UNSUPPORTED))
        return drv_virt_error(err, name, NULL);
    /* a driver without some flags (NVRAM): retry with what every driver knows */
    flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    if (virDomainUndefineFlags(dom, flags) == 0)
        return 0;
    e = virGetLastError();
    if (e == NULL || (e->code != VIR_ERR_NO_SUPPORT && e->code != VIR_ERR_INVALID_ARG &&
                      e->code != VIR_ERR_ARGUMENT_UNSUPPORTED))
        return drv_virt_error(err, name, NULL);
    if (virDomainUndefine(dom) < 0)
        return drv_virt_error(err, name, NULL);
    return 0;
}

static int s_shutdown(virDomainPtr dom, const char *name, uint32_t timeout_ms, Drover__Reply *reply,
                      drv_error **err)
{
    if (virDomainShutdown(dom) < 0)
        return drv_virt_error(err, name, NULL);
    if (timeout_ms == 0)
        return 0;
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!s_state_is(dom, VIR_DOMAIN_SHUTOFF)) {
        if (g_get_monotonic_time() >= deadline) {
            reply->timed_out = true;
            return drv_error_set(err, DRV_ERR_TIMEOUT, 0,
                                 "domain '%s': still running %u ms after the shutdown request: "
                                 "the guest ignored it",
                                 name, timeout_ms);
        }
        g_usleep(100 * 1000);
    }
    return 0;
}

static char *s_snapshot_xml(const char *name)
{
    g_autofree char *esc = g_markup_escape_text(name, -1);
    return g_strdup_printf("<domainsnapshot><name>%s</name></domainsnapshot>", esc);
}

static Drover__SnapshotInfo *s_snapshot_info(GPtrArray *arena, virDomainSnapshotPtr snap)
{
    Drover__SnapshotInfo *si = drv_pb_alloc(arena, sizeof(*si));
    drover__snapshot_info__init(si);
    si->name = drv_pb_strdup(arena, virDomainSnapshotGetName(snap));
    virDomainSnapshotPtr parent = virDomainSnapshotGetParent(snap, 0);
    if (parent != NULL) {
        si->parent = drv_pb_strdup(arena, virDomainSnapshotGetName(parent));
        virDomainSnapshotFree(parent);
    }
    si->current = virDomainSnapshotIsCurrent(snap, 0) == 1;
    char *xml = virDomainSnapshotGetXMLDesc(snap, 0);
    if (xml != NULL) {
        si->xml = drv_pb_strdup(arena, xml);
        g_autofree char *state = NULL;
        int64_t t = 0;
        if (drv_caps_parse_snapshot(xml, &t, &state, NULL) == 0) {
            si->creation_time = t;
            si->state = drv_pb_strdup(arena, state);
        }
        free(xml);
    }
    return si;
}

static int s_snapshot_list(virDomainPtr dom, const char *name, Drover__Reply *reply,
                           GPtrArray *arena, drv_error **err)
{
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(dom, &snaps, 0);
    if (n < 0)
        return drv_virt_error(err, name, NULL);
    reply->snapshots = drv_pb_alloc(arena, sizeof(*reply->snapshots) * (size_t)n);
    reply->n_snapshots = (size_t)n;
    for (int i = 0; i < n; i++) {
        reply->snapshots[i] = s_snapshot_info(arena, snaps[i]);
        virDomainSnapshotFree(snaps[i]);
    }
    free(snaps);
    return 0;
}

/* The snapshot named cmd->name of dom; the error names both. */
static virDomainSnapshotPtr s_snapshot(virDomainPtr dom, const char *name, const char *snap_name,
                                       drv_error **err)
{
    if (snap_name == NULL || *snap_name == '\0') {
        drv_error_set(err, DRV_ERR_INVALID, 0, "domain '%s': no snapshot name given", name);
        return NULL;
    }
    virDomainSnapshotPtr snap = virDomainSnapshotLookupByName(dom, snap_name, 0);
    if (snap == NULL)
        drv_virt_error(err, name, NULL);
    return snap;
}

static char *s_typed_param_value(const virTypedParameter *p)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        return g_strdup_printf("%d", p->value.i);
    case VIR_TYPED_PARAM_UINT:
        return g_strdup_printf("%u", p->value.ui);
    case VIR_TYPED_PARAM_LLONG:
        return g_strdup_printf("%lld", p->value.l);
    case VIR_TYPED_PARAM_ULLONG:
        return g_strdup_printf("%llu", p->value.ul);
    case VIR_TYPED_PARAM_DOUBLE:
        return g_strdup_printf("%g", p->value.d);
    case VIR_TYPED_PARAM_BOOLEAN:
        return g_strdup(p->value.b ? "1" : "0");
    case VIR_TYPED_PARAM_STRING:
        return g_strdup(p->value.s ? p->value.s : "");
    default:
        return g_strdup("");
    }
}

static int s_domstats(virDomainPtr dom, const char *name, Drover__Reply *reply, GPtrArray *arena,
                      drv_error **err)
{
    virDomainPtr doms[] = {dom, NULL};
    virDomainStatsRecordPtr *records = NULL;
    /* NOWAIT: what can be read without waiting for the domain's job lock (a migration or another
     * job holds it for long; without the flag QEMU waits up to 30 s for it) */
    int n = virDomainListGetStats(doms, 0, &records, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) {
        virErrorPtr e = virGetLastError();
        if (e != NULL && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_NO_SUPPORT))
            n = virDomainListGetStats(doms, 0, &records, 0); /* a driver without the flag */
    }
    if (n > 0) {
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < records[r]->nparams; i++) {
                g_autofree char *v = s_typed_param_value(&records[r]->params[i]);
                drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, records[r]->params[i].field,
                              v);
            }
        }
        virDomainStatsRecordListFree(records);
        return 0;
    }
    if (records != NULL)
        virDomainStatsRecordListFree(records);
    /* drivers without bulk stats: the basic info */
    virDomainInfo di;
    if (virDomainGetInfo(dom, &di) < 0)
        return drv_virt_error(err, name, NULL);
    char buf[32];
    g_snprintf(buf, sizeof(buf), "%d", di.state);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, "state.state", buf);
    g_snprintf(buf, sizeof(buf), "%u", di.nrVirtCpu);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, "vcpu.current", buf);
    g_snprintf(buf, sizeof(buf), "%lu", di.maxMem);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, "balloon.maximum", buf);
    g_snprintf(buf, sizeof(buf), "%lu", di.memory);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, "balloon.current", buf);
    g_snprintf(buf, sizeof(buf), "%llu", di.cpuTime);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, "cpu.time", buf);
    return 0;
}

/* ------------------------------------------------------------------ storage markers */

static int s_mark_path(const Drover__Command *cmd, char **ret, drv_error **err)
{
    if (cmd->path == NULL || *cmd->path == '\0' || cmd->name == NULL || *cmd->name == '\0' ||
        strchr(cmd->name, '/') != NULL || strcmp(cmd->name, "..") == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "storage marker: a directory (path) and a plain name are needed");
    *ret = g_strdup_printf("%s/.drover-mark-%s", cmd->path, cmd->name);
    return 0;
}

static int s_mark_write(const Drover__Command *cmd, Drover__Reply *reply, GPtrArray *arena,
                        drv_error **err)
{
    g_autofree char *file = NULL;
    if (s_mark_path(cmd, &file, err) < 0)
        return -1;
    char content[65];
    for (int i = 0; i < 8; i++)
        g_snprintf(content + i * 8, 9, "%08x", g_random_int());
    GError *gerr = NULL;
    if (!g_file_set_contents(file, content, -1, &gerr)) {
        int code = gerr->code;
        drv_error_set(err, DRV_ERR_IO, code, "storage marker '%s': %s", file, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    reply->message = drv_pb_strdup(arena, content);
    return 0;
}

static int s_mark_check(const Drover__Command *cmd, Drover__Reply *reply, GPtrArray *arena,
                        drv_error **err)
{
    g_autofree char *file = NULL;
    if (s_mark_path(cmd, &file, err) < 0)
        return -1;
    g_autofree char *content = NULL;
    GError *gerr = NULL;
    if (!g_file_get_contents(file, &content, NULL, &gerr)) {
        bool missing = g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT);
        drv_error_set(err, missing ? DRV_ERR_NOT_FOUND : DRV_ERR_IO, missing ? ENOENT : EIO,
                      "storage marker '%s': %s", file, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    unlink(file);
    if (g_strcmp0(g_strstrip(content), cmd->xml ? cmd->xml : "") != 0)
        return drv_error_set(err, DRV_ERR_CONFLICT, 0,
                             "storage marker '%s': content differs (another directory of the "
                             "same name, not shared storage)",
                             file);
    reply->message = drv_pb_strdup(arena, "marker found: storage is shared");
    return 0;
}

/* ------------------------------------------------------------------ save files */

#define S_SAVE_SUFFIX ".drover-save"

/* A `domain save` file: an absolute path ending in .drover-save (the agent removes no other). */
static int s_save_path(const Drover__Command *cmd, const char *name, drv_error **err)
{
    if (cmd->path == NULL || cmd->path[0] != '/' || !g_str_has_suffix(cmd->path, S_SAVE_SUFFIX) ||
        strstr(cmd->path, "/../") != NULL)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "domain '%s': a save file must be an absolute path ending in "
                             "'" S_SAVE_SUFFIX "' (got '%s')",
                             name, cmd->path ? cmd->path : "");
    return 0;
}

static int s_save_file_remove(const char *path, const char *name, drv_error **err)
{
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        return drv_error_set(err, DRV_ERR_IO, e, "domain '%s': removing save file '%s': %s", name,
                             path, g_strerror(e));
    }
    return 0;
}

/* Restores the image at cmd->path on this host; the domain (defined here already) runs again and
 * the file, now stale, is removed (restoring it twice would run the guest from old memory over
 * newer disks). */
static int s_restore(virConnectPtr conn, const Drover__Command *cmd, virDomainPtr *dom_io,
                     drv_error **err)
{
    const char *name = cmd->domain;
    if (s_save_path(cmd, name, err) < 0)
        return -1;
    virDomainPtr dom = s_lookup(conn, name, err); /* defined here: restored as persistent */
    if (dom == NULL)
        return -1;
    *dom_io = dom;
    if (virDomainRestoreFlags(conn, cmd->path, NULL, 0) < 0)
        return drv_virt_error(err, name, NULL);
    if (unlink(cmd->path) < 0)
        drv_warn("domain '%s': restored, but removing '%s' failed: %s", name, cmd->path,
                 g_strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------ dispatch */

/* The commands that change a guest's state (a failure of which may still have taken effect). */
static bool s_changes_state(Drover__CommandKind k)
{
    switch (k) {
    case DROVER__COMMAND_KIND__CMD_UNDEFINE:
    case DROVER__COMMAND_KIND__CMD_START:
    case DROVER__COMMAND_KIND__CMD_SHUTDOWN:
    case DROVER__COMMAND_KIND__CMD_REBOOT:
    case DROVER__COMMAND_KIND__CMD_DESTROY:
    case DROVER__COMMAND_KIND__CMD_SUSPEND:
    case DROVER__COMMAND_KIND__CMD_RESUME:
    case DROVER__COMMAND_KIND__CMD_MANAGEDSAVE:
    case DROVER__COMMAND_KIND__CMD_MANAGEDSAVE_REMOVE:
    case DROVER__COMMAND_KIND__CMD_SAVE:
    case DROVER__COMMAND_KIND__CMD_RESTORE:
        return true;
    default:
        return false;
    }
}

static int s_run(const drv_cmd_env *env, virConnectPtr conn, const Drover__Command *cmd,
                 Drover__Reply *reply, GPtrArray *arena, virDomainPtr *dom_io, drv_error **err)
{
    const char *name = cmd->domain;
    Drover__CommandKind k = cmd->kind;

    if (k == DROVER__COMMAND_KIND__CMD_DEFINE || k == DROVER__COMMAND_KIND__CMD_CREATE)
        return s_define(conn, cmd, dom_io, err);
    if (k == DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE)
        return s_mark_write(cmd, reply, arena, err);
    if (k == DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK)
        return s_mark_check(cmd, reply, arena, err);
    if (k == DROVER__COMMAND_KIND__CMD_RESTORE)
        return s_restore(conn, cmd, dom_io, err);
    if (k == DROVER__COMMAND_KIND__CMD_MANAGEDSAVE_REMOVE && cmd->path != NULL &&
        cmd->path[0] != '\0') /* a save file: the domain need not be defined on this host */
        return s_save_path(cmd, name ? name : "?", err) < 0
                   ? -1
                   : s_save_file_remove(cmd->path, name ? name : "?", err);
    if (drv_storage_handles(k))
        return drv_storage_execute(conn, cmd, reply, arena, err);
    if (k == DROVER__COMMAND_KIND__CMD_NONE || k == DROVER__COMMAND_KIND__CMD_INVENTORY ||
        k == DROVER__COMMAND_KIND__CMD_MIGRATE_CANCEL || !drv_commands_kind_known(k))
        return drv_error_set(err, DRV_ERR_INVALID, 0, "command kind %d is not handled here",
                             (int)k);

    virDomainPtr dom = s_lookup(conn, name, err);
    if (dom == NULL)
        return -1;
    *dom_io = dom;
    name = virDomainGetName(dom);
    int rc = 0;
    switch (k) {
    case DROVER__COMMAND_KIND__CMD_UNDEFINE:
        rc = s_undefine(dom, name, err);
        break;
    case DROVER__COMMAND_KIND__CMD_START:
        rc = virDomainCreate(dom);
        break;
    case DROVER__COMMAND_KIND__CMD_SHUTDOWN:
        return s_shutdown(dom, name, cmd->timeout_ms, reply, err);
    case DROVER__COMMAND_KIND__CMD_REBOOT:
        rc = virDomainReboot(dom, 0);
        break;
    case DROVER__COMMAND_KIND__CMD_DESTROY:
        rc = virDomainDestroy(dom);
        break;
    case DROVER__COMMAND_KIND__CMD_SUSPEND:
        rc = virDomainSuspend(dom);
        break;
    case DROVER__COMMAND_KIND__CMD_RESUME:
        rc = virDomainResume(dom);
        break;
    case DROVER__COMMAND_KIND__CMD_MANAGEDSAVE:
        rc = virDomainManagedSave(dom, 0);
        break;
    case DROVER__COMMAND_KIND__CMD_MANAGEDSAVE_REMOVE:
        rc = virDomainManagedSaveRemove(dom, 0);
        break;
    case DROVER__COMMAND_KIND__CMD_SAVE:
        if (s_save_path(cmd, name, err) < 0)
            return -1;
        rc = virDomainSaveFlags(dom, cmd->path, NULL, 0);
        break;
    case DROVER__COMMAND_KIND__CMD_SETVCPUS:
        rc = virDomainSetVcpusFlags(dom, (unsigned int)cmd->value, s_affect(cmd->modify));
        break;
    case DROVER__COMMAND_KIND__CMD_SETMEM:
        rc = virDomainSetMemoryFlags(dom, (unsigned long)cmd->value, s_affect(cmd->modify));
        break;
    case DROVER__COMMAND_KIND__CMD_ATTACH_DEVICE:
        rc = virDomainAttachDeviceFlags(dom, cmd->xml, s_affect(cmd->modify));
        break;
    case DROVER__COMMAND_KIND__CMD_DETACH_DEVICE:
        rc = virDomainDetachDeviceFlags(dom, cmd->xml, s_affect(cmd->modify));
        break;
    case DROVER__COMMAND_KIND__CMD_DUMPXML: {
        char *xml = virDomainGetXMLDesc(dom, cmd->inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
        if (xml == NULL)
            return drv_virt_error(err, name, NULL);
        reply->xml = drv_pb_strdup(arena, xml);
        free(xml);
        return 0;
    }
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_CREATE:
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_REDEFINE: {
        bool redefine = k == DROVER__COMMAND_KIND__CMD_SNAPSHOT_REDEFINE;
        g_autofree char *xml = NULL;
        if (cmd->xml != NULL && *cmd->xml != '\0')
            xml = g_strdup(cmd->xml);
        else if (!redefine && cmd->name != NULL && *cmd->name != '\0')
            xml = s_snapshot_xml(cmd->name);
        else if (redefine)
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "domain '%s': snapshot redefine needs the snapshot XML", name);
        unsigned int flags = 0;
        if (redefine)
            flags = VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE |
                    (cmd->current ? VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT : 0);
        virDomainSnapshotPtr snap =
            virDomainSnapshotCreateXML(dom, xml ? xml : "<domainsnapshot/>", flags);
        if (snap == NULL)
            return drv_virt_error(err, name, NULL);
        Drover__SnapshotInfo *si = s_snapshot_info(arena, snap);
        reply->snapshots = drv_pb_alloc(arena, sizeof(*reply->snapshots));
        reply->snapshots[0] = si;
        reply->n_snapshots = 1;
        reply->xml = si->xml;
        virDomainSnapshotFree(snap);
        return 0;
    }
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_LIST:
        return s_snapshot_list(dom, name, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_REVERT:
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_DELETE:
    case DROVER__COMMAND_KIND__CMD_SNAPSHOT_DUMPXML: {
        virDomainSnapshotPtr snap = s_snapshot(dom, name, cmd->name, err);
        if (snap == NULL)
            return -1;
        if (k == DROVER__COMMAND_KIND__CMD_SNAPSHOT_REVERT) {
            rc = virDomainRevertToSnapshot(snap, 0);
        } else if (k == DROVER__COMMAND_KIND__CMD_SNAPSHOT_DELETE) {
            rc = virDomainSnapshotDelete(snap, 0);
        } else {
            char *xml = virDomainSnapshotGetXMLDesc(snap, 0);
            if (xml != NULL) {
                reply->xml = drv_pb_strdup(arena, xml);
                free(xml);
            } else {
                rc = -1;
            }
        }
        if (rc < 0)
            drv_virt_error(err, name, NULL);
        virDomainSnapshotFree(snap);
        return rc;
    }
    case DROVER__COMMAND_KIND__CMD_DOMSTATS:
        return s_domstats(dom, name, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_MIGRATE:
        return drv_migrate_run(env, dom, cmd, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_CONSOLE: {
        GByteArray *out = g_byte_array_new();
        bool closed = false;
        rc = drv_console_poll(env->consoles, conn, dom, cmd->name, cmd->console_input.data,
                              cmd->console_input.len, cmd->inactive, cmd->current, out, &closed,
                              err);
        if (rc == 0 && out->len > 0) {
            reply->console_output.data = drv_pb_alloc(arena, out->len);
            memcpy(reply->console_output.data, out->data, out->len);
            reply->console_output.len = out->len;
        }
        reply->console_closed = closed;
        g_byte_array_unref(out);
        return rc;
    }
    default:
        return drv_error_set(err, DRV_ERR_INVALID, 0, "command kind %d is not handled here",
                             (int)k);
    }
    if (rc < 0)
        return drv_virt_error(err, name, NULL);
    return 0;
}

void drv_commands_execute(const drv_cmd_env *env, const Drover__Command *cmd, Drover__Reply *reply,
                          GPtrArray *arena)
{
    drv_error *err = NULL;
    virConnectPtr conn = drv_virt_conn(env->virt);
    virDomainPtr dom = NULL;
    if (conn == NULL && cmd->kind != DROVER__COMMAND_KIND__CMD_STORAGE_MARK_WRITE &&
        cmd->kind != DROVER__COMMAND_KIND__CMD_STORAGE_MARK_CHECK) {
        drv_error_set(&err, DRV_ERR_UNAVAILABLE, VIR_ERR_NO_CONNECT,
                      "libvirt '%s' is not connected", drv_virt_uri(env->virt));
    } else if (s_run(env, conn, cmd, reply, arena, &dom, &err) == 0) {
        reply->ok = true;
    } else if (dom != NULL && s_changes_state(cmd->kind) && err->kind == DRV_ERR_LIBVIRT &&
               virConnectIsAlive(conn) != 1) {
        /* libvirtd's connection broke during the call: libvirtd may have done it */
        g_autofree char *msg = g_strdup(err->message);
        drv_error_destroy(&err);
        drv_error_set(&err, DRV_ERR_UNKNOWN_OUTCOME, 0,
                      "%s; the connection to libvirtd broke during the call: whether the %s took "
                      "effect is not known",
                      msg, drv_commands_kind_name(cmd->kind));
    }
    if (err != NULL) {
        drv_commands_fail(reply, arena, err);
        drv_debug("command %s %s %s: %s", cmd->id, drv_commands_kind_name(cmd->kind), cmd->domain,
                  err->message);
        drv_error_destroy(&err);
    }
    /* the state after the command, unless the domain is gone */
    if (dom != NULL && cmd->kind != DROVER__COMMAND_KIND__CMD_UNDEFINE &&
        cmd->kind != DROVER__COMMAND_KIND__CMD_MIGRATE &&
        cmd->kind != DROVER__COMMAND_KIND__CMD_CONSOLE) /* polled every 100 ms: no state */
        s_attach_state(reply, arena, dom);
    if (dom != NULL)
        virDomainFree(dom);
    if (conn != NULL)
        virConnectClose(conn);
}
