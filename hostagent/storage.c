/* storage.c — see storage.h. One function per command kind; every libvirt object is freed before
 * returning; a volume created by a command that then fails is deleted again, so a failed command
 * leaves nothing behind. */
#include "storage.h"

#include "pb.h"
#include "virt.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>

bool drv_storage_handles(Drover__CommandKind kind)
{
    switch (kind) {
    case DROVER__COMMAND_KIND__CMD_POOL_DEFINE:
    case DROVER__COMMAND_KIND__CMD_POOL_INFO:
    case DROVER__COMMAND_KIND__CMD_VOL_CREATE:
    case DROVER__COMMAND_KIND__CMD_VOL_DELETE:
    case DROVER__COMMAND_KIND__CMD_VOL_INFO:
    case DROVER__COMMAND_KIND__CMD_SEED_CREATE:
    case DROVER__COMMAND_KIND__CMD_NET_DEFINE:
    case DROVER__COMMAND_KIND__CMD_NET_INFO:
    case DROVER__COMMAND_KIND__CMD_POOL_UNDEFINE:
    case DROVER__COMMAND_KIND__CMD_VOL_CLONE:
    case DROVER__COMMAND_KIND__CMD_VOL_RESIZE:
    case DROVER__COMMAND_KIND__CMD_VOL_UPLOAD:
    case DROVER__COMMAND_KIND__CMD_VOL_WIPE:
        return true;
    default:
        return false;
    }
}

/* A libvirt failure as an error naming the object ("pool 'p'", "volume 'p/v'"). */
static int s_fail(drv_error **err, const char *what)
{
    virErrorPtr e = virGetLastError();
    drv_err_kind kind = DRV_ERR_LIBVIRT;
    if (e != NULL && (e->code == VIR_ERR_NO_STORAGE_POOL || e->code == VIR_ERR_NO_STORAGE_VOL ||
                      e->code == VIR_ERR_NO_NETWORK))
        kind = DRV_ERR_NOT_FOUND;
    return drv_error_set(err, kind, e ? e->code : 0, "%s: %s", what,
                         e && e->message ? e->message : "libvirt failed");
}

static void s_kv_u64(GPtrArray *arena, Drover__Reply *reply, const char *key, unsigned long long v)
{
    char buf[32];
    g_snprintf(buf, sizeof(buf), "%llu", v);
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, key, buf);
}

static void s_kv(GPtrArray *arena, Drover__Reply *reply, const char *key, const char *v)
{
    drv_pb_add_kv(arena, &reply->stats, &reply->n_stats, key, v ? v : "");
}

static int s_need(const char *v, const char *what, drv_error **err)
{
    if (v == NULL || *v == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: no name given", what);
    return 0;
}

/* ------------------------------------------------------------------ pools */

static int s_pool_info(virStoragePoolPtr pool, const char *name, Drover__Reply *reply,
                       GPtrArray *arena, drv_error **err)
{
    virStoragePoolInfo info;
    g_autofree char *what = g_strdup_printf("pool '%s'", name);
    if (virStoragePoolGetInfo(pool, &info) < 0)
        return s_fail(err, what);
    s_kv(arena, reply, "active", info.state == VIR_STORAGE_POOL_RUNNING ? "1" : "0");
    s_kv_u64(arena, reply, "capacity", info.capacity);
    s_kv_u64(arena, reply, "allocation", info.allocation);
    s_kv_u64(arena, reply, "available", info.available);
    return 0;
}

static int s_pool_define(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                         GPtrArray *arena, drv_error **err)
{
    if (s_need(cmd->pool, "pool define", err) < 0)
        return -1;
    g_autofree char *what = g_strdup_printf("pool '%s'", cmd->pool);
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, cmd->pool);
    if (pool == NULL) {
        pool = virStoragePoolDefineXML(conn, cmd->xml, 0);
        if (pool == NULL)
            return s_fail(err, what);
        /* dir pools: creates the directory (harmless when it exists) */
        if (virStoragePoolBuild(pool, 0) < 0) {
            s_fail(err, what);
            virStoragePoolUndefine(pool);
            virStoragePoolFree(pool);
            return -1;
        }
    }
    int rc = 0;
    if (virStoragePoolIsActive(pool) != 1 && virStoragePoolCreate(pool, 0) < 0)
        rc = s_fail(err, what);
    if (rc == 0 && virStoragePoolSetAutostart(pool, 1) < 0)
        rc = s_fail(err, what);
    if (rc == 0)
        virStoragePoolRefresh(pool, 0);
    if (rc == 0)
        rc = s_pool_info(pool, cmd->pool, reply, arena, err);
    virStoragePoolFree(pool);
    return rc;
}

static virStoragePoolPtr s_pool(virConnectPtr conn, const char *name, drv_error **err)
{
    if (s_need(name, "pool", err) < 0)
        return NULL;
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, name);
    if (pool == NULL) {
        g_autofree char *what = g_strdup_printf("pool '%s'", name);
        s_fail(err, what);
        return NULL;
    }
    virStoragePoolRefresh(pool, 0);
    return pool;
}

/* CMD_POOL_UNDEFINE: stops and undefines the pool; refused while libvirt lists a volume in it (a
 * file the cluster may not know of). The directory and its files stay. A pool this host does not
 * have is not-found. */
static int s_pool_undefine(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                           GPtrArray *arena, drv_error **err)
{
    virStoragePoolPtr pool = s_pool(conn, cmd->pool, err);
    if (pool == NULL)
        return -1;
    g_autofree char *what = g_strdup_printf("pool '%s'", cmd->pool);
    int rc = 0;
    if (virStoragePoolIsActive(pool) == 1) {
        char **names = NULL;
        int n = virStoragePoolNumOfVolumes(pool);
        if (n < 0) {
            rc = s_fail(err, what);
        } else if (n > 0) {
            names = g_new0(char *, (size_t)n + 1);
            int got = virStoragePoolListVolumes(pool, names, n);
            g_autofree char *list = got > 0 ? g_strjoinv(", ", names) : g_strdup("?");
            rc = drv_error_set(err, DRV_ERR_CONFLICT, 0,
                               "%s holds %d volume%s on this host (%s): not undefined", what, n,
                               n == 1 ? "" : "s", list);
            for (int i = 0; i < n; i++)
                free(names[i]);
            g_free(names);
        } else if (virStoragePoolDestroy(pool) < 0) {
            rc = s_fail(err, what);
        }
    }
    if (rc == 0 && virStoragePoolUndefine(pool) < 0)
        rc = s_fail(err, what);
    if (rc == 0)
        s_kv(arena, reply, "undefined", "1");
    virStoragePoolFree(pool);
    return rc;
}

/* ------------------------------------------------------------------ volumes */

static int s_vol_info(virStorageVolPtr vol, const char *what, Drover__Reply *reply,
                      GPtrArray *arena, drv_error **err)
{
    virStorageVolInfo info;
    if (virStorageVolGetInfo(vol, &info) < 0)
        return s_fail(err, what);
    char *path = virStorageVolGetPath(vol);
    s_kv(arena, reply, "path", path);
    free(path);
    s_kv_u64(arena, reply, "capacity", info.capacity);
    s_kv_u64(arena, reply, "allocation", info.allocation);
    return 0;
}

/* Uploads len bytes of data into vol at offset. */
static int s_upload(virConnectPtr conn, virStorageVolPtr vol, uint64_t offset, const void *data,
                    size_t len, const char *what, drv_error **err)
{
    virStreamPtr st = virStreamNew(conn, 0);
    if (st == NULL)
        return s_fail(err, what);
    if (virStorageVolUpload(vol, st, offset, len, 0) < 0) {
        s_fail(err, what);
        virStreamFree(st);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        int n = virStreamSend(st, (const char *)data + off, MIN(len - off, (size_t)(256 * 1024)));
        if (n < 0) {
            s_fail(err, what);
            virStreamAbort(st);
            virStreamFree(st);
            return -1;
        }
        off += (size_t)n;
    }
    int rc = virStreamFinish(st) < 0 ? s_fail(err, what) : 0;
    virStreamFree(st);
    return rc;
}

/* Creates the volume described by xml (capacity_bytes for the fit check) in pool — a copy of
 * clone_from when given — and uploads data when given; deletes it again when the upload fails. */
static int s_vol_create_in(virConnectPtr conn, virStoragePoolPtr pool, const char *pool_name,
                           const char *vol_name, const char *xml, uint64_t capacity_bytes,
                           virStorageVolPtr clone_from, const void *data, size_t len,
                           Drover__Reply *reply, GPtrArray *arena, drv_error **err)
{
    g_autofree char *what = g_strdup_printf("volume '%s/%s'", pool_name, vol_name);
    virStorageVolPtr old = virStorageVolLookupByName(pool, vol_name);
    if (old != NULL) {
        virStorageVolFree(old);
        return drv_error_set(err, DRV_ERR_EXISTS, 0, "%s already exists on this host", what);
    }
    virStoragePoolInfo pinfo;
    if (virStoragePoolGetInfo(pool, &pinfo) == 0 && capacity_bytes > pinfo.available)
        return drv_error_set(err, DRV_ERR_NO_ROOM, 0,
                             "%s: %llu bytes do not fit pool '%s' (%llu bytes available)", what,
                             (unsigned long long)capacity_bytes, pool_name, pinfo.available);
    virStorageVolPtr vol = clone_from != NULL ? virStorageVolCreateXMLFrom(pool, xml, clone_from, 0)
                                              : virStorageVolCreateXML(pool, xml, 0);
    if (vol == NULL)
        return s_fail(err, what);
    int rc = 0;
    if (data != NULL && len > 0)
        rc = s_upload(conn, vol, 0, data, len, what, err);
    if (rc == 0)
        rc = s_vol_info(vol, what, reply, arena, err);
    if (rc < 0)
        virStorageVolDelete(vol, 0);
    virStorageVolFree(vol);
    return rc;
}

/* The libvirt wipe algorithm named name (as `virsh vol-wipe --algorithm`), or -1. */
static int s_wipe_algorithm(const char *name)
{
    static const struct {
        const char *name;
        int alg;
    } algs[] = {
        {"zero", VIR_STORAGE_VOL_WIPE_ALG_ZERO},
        {"nnsa", VIR_STORAGE_VOL_WIPE_ALG_NNSA},
        {"dod", VIR_STORAGE_VOL_WIPE_ALG_DOD},
        {"bsi", VIR_STORAGE_VOL_WIPE_ALG_BSI},
        {"gutmann", VIR_STORAGE_VOL_WIPE_ALG_GUTMANN},
        {"schneier", VIR_STORAGE_VOL_WIPE_ALG_SCHNEIER},
        {"pfitzner7", VIR_STORAGE_VOL_WIPE_ALG_PFITZNER7},
        {"pfitzner33", VIR_STORAGE_VOL_WIPE_ALG_PFITZNER33},
        {"random", VIR_STORAGE_VOL_WIPE_ALG_RANDOM},
        {"trim", VIR_STORAGE_VOL_WIPE_ALG_TRIM},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(algs); i++)
        if (g_strcmp0(name, algs[i].name) == 0)
            return algs[i].alg;
    return -1;
}

/* CMD_VOL_RESIZE, CMD_VOL_UPLOAD, CMD_VOL_WIPE on an existing volume; the volume's info after. */
static int s_vol_change(virConnectPtr conn, virStoragePoolPtr pool, virStorageVolPtr vol,
                        const Drover__Command *cmd, const char *what, Drover__Reply *reply,
                        GPtrArray *arena, drv_error **err)
{
    switch (cmd->kind) {
    case DROVER__COMMAND_KIND__CMD_VOL_RESIZE:
        if (cmd->domain != NULL && cmd->domain[0] != '\0') {
            /* the disk of a running domain: only QEMU may grow it (it owns the image) */
            virDomainPtr dom = virDomainLookupByName(conn, cmd->domain);
            if (dom == NULL)
                return s_fail(err, what);
            int rc =
                virDomainBlockResize(dom, cmd->path, cmd->value, VIR_DOMAIN_BLOCK_RESIZE_BYTES);
            virDomainFree(dom);
            if (rc < 0)
                return s_fail(err, what);
        } else if (virStorageVolResize(vol, cmd->value,
                                       cmd->shrink ? VIR_STORAGE_VOL_RESIZE_SHRINK : 0) < 0) {
            return s_fail(err, what);
        }
        break;
    case DROVER__COMMAND_KIND__CMD_VOL_UPLOAD:
        if (cmd->data.len == 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: an empty chunk", what);
        if (s_upload(conn, vol, cmd->value, cmd->data.data, cmd->data.len, what, err) < 0)
            return -1;
        break;
    case DROVER__COMMAND_KIND__CMD_VOL_WIPE: {
        int alg = s_wipe_algorithm(cmd->name);
        if (alg < 0)
            return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: unknown wipe algorithm '%s'", what,
                                 cmd->name ? cmd->name : "");
        if (virStorageVolWipePattern(vol, (unsigned int)alg, 0) < 0)
            return s_fail(err, what);
        break;
    }
    default:
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: not a volume change", what);
    }
    virStoragePoolRefresh(pool, 0);
    /* a refreshed pool has fresh volume objects: look it up again for the new capacity */
    virStorageVolPtr fresh = virStorageVolLookupByName(pool, cmd->volume);
    int rc = s_vol_info(fresh != NULL ? fresh : vol, what, reply, arena, err);
    if (fresh != NULL)
        virStorageVolFree(fresh);
    return rc;
}

/* CMD_VOL_CLONE: volume cmd->volume as a copy of cmd->name in the same pool. */
static int s_vol_clone(virConnectPtr conn, virStoragePoolPtr pool, const Drover__Command *cmd,
                       Drover__Reply *reply, GPtrArray *arena, drv_error **err)
{
    if (s_need(cmd->name, "clone source", err) < 0)
        return -1;
    g_autofree char *src_what = g_strdup_printf("volume '%s/%s'", cmd->pool, cmd->name);
    virStorageVolPtr src = virStorageVolLookupByName(pool, cmd->name);
    if (src == NULL)
        return s_fail(err, src_what);
    int rc = s_vol_create_in(conn, pool, cmd->pool, cmd->volume, cmd->xml, cmd->value, src, NULL, 0,
                             reply, arena, err);
    virStorageVolFree(src);
    return rc;
}

static int s_vol(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                 GPtrArray *arena, drv_error **err)
{
    virStoragePoolPtr pool = s_pool(conn, cmd->pool, err);
    if (pool == NULL)
        return -1;
    int rc = s_need(cmd->volume, "volume", err);
    g_autofree char *what = g_strdup_printf("volume '%s/%s'", cmd->pool, cmd->volume);
    if (rc == 0 && cmd->kind == DROVER__COMMAND_KIND__CMD_VOL_CLONE) {
        rc = s_vol_clone(conn, pool, cmd, reply, arena, err);
    } else if (rc == 0 && cmd->kind == DROVER__COMMAND_KIND__CMD_VOL_CREATE) {
        rc = s_vol_create_in(conn, pool, cmd->pool, cmd->volume, cmd->xml, cmd->value, NULL,
                             cmd->data.data, cmd->data.len, reply, arena, err);
    } else if (rc == 0) {
        virStorageVolPtr vol = virStorageVolLookupByName(pool, cmd->volume);
        if (vol == NULL) {
            rc = s_fail(err, what);
        } else {
            if (cmd->kind == DROVER__COMMAND_KIND__CMD_VOL_DELETE)
                rc = virStorageVolDelete(vol, 0) < 0 ? s_fail(err, what) : 0;
            else if (cmd->kind == DROVER__COMMAND_KIND__CMD_VOL_INFO)
                rc = s_vol_info(vol, what, reply, arena, err);
            else
                rc = s_vol_change(conn, pool, vol, cmd, what, reply, arena, err);
            virStorageVolFree(vol);
        }
    }
    virStoragePoolFree(pool);
    return rc;
}

/* ------------------------------------------------------------------ NoCloud seed */

/* Writes cmd->files into a fresh directory, runs xorriso (ISO 9660 + Joliet + Rock Ridge, volume
 * id cidata) over it and stores the image as raw volume cmd->volume of cmd->pool. */
static int s_seed_create(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                         GPtrArray *arena, drv_error **err)
{
    if (s_need(cmd->volume, "seed volume", err) < 0)
        return -1;
    g_autofree char *what = g_strdup_printf("seed '%s/%s'", cmd->pool, cmd->volume);
    GError *gerr = NULL;
    g_autofree char *tmp = g_dir_make_tmp("drover-seed-XXXXXX", &gerr);
    if (tmp == NULL) {
        drv_error_set(err, DRV_ERR_IO, 0, "%s: %s", what, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    g_autofree char *dir = g_build_filename(tmp, "cidata", NULL);
    g_autofree char *iso = g_build_filename(tmp, "seed.iso", NULL);
    g_mkdir(dir, 0700);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cmd->n_files; i++) {
        const char *name = cmd->files[i]->key;
        if (name == NULL || *name == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
            rc = drv_error_set(err, DRV_ERR_INVALID, 0, "%s: bad file name '%s'", what,
                               name ? name : "");
            break;
        }
        g_autofree char *path = g_build_filename(dir, name, NULL);
        const char *v = cmd->files[i]->value ? cmd->files[i]->value : "";
        if (!g_file_set_contents(path, v, -1, &gerr)) {
            rc = drv_error_set(err, DRV_ERR_IO, 0, "%s: %s", what, gerr->message);
            g_clear_error(&gerr);
        }
    }
    g_autofree char *out = NULL, *errout = NULL;
    int status = 0;
    if (rc == 0) {
        const char *argv[] = {"xorriso", "-as",    "mkisofs", "-quiet", "-o", iso,
                              "-V",      "cidata", "-J",      "-r",     dir,  NULL};
        if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout,
                          &status, &gerr)) {
            rc = drv_error_set(err, DRV_ERR_IO, 0, "%s: cannot run xorriso: %s", what,
                               gerr->message);
            g_clear_error(&gerr);
        } else if (!g_spawn_check_wait_status(status, NULL)) {
            rc = drv_error_set(err, DRV_ERR_IO, 0, "%s: xorriso failed: %s", what,
                               errout ? g_strstrip(errout) : "");
        }
    }
    g_autofree char *content = NULL;
    gsize len = 0;
    if (rc == 0 && !g_file_get_contents(iso, &content, &len, &gerr)) {
        rc = drv_error_set(err, DRV_ERR_IO, 0, "%s: %s", what, gerr->message);
        g_clear_error(&gerr);
    }
    for (size_t i = 0; i < cmd->n_files; i++) {
        if (cmd->files[i]->key == NULL || strchr(cmd->files[i]->key, '/') != NULL)
            continue;
        g_autofree char *path = g_build_filename(dir, cmd->files[i]->key, NULL);
        g_unlink(path);
    }
    g_unlink(iso);
    g_rmdir(dir);
    g_rmdir(tmp);
    if (rc < 0)
        return -1;
    virStoragePoolPtr pool = s_pool(conn, cmd->pool, err);
    if (pool == NULL)
        return -1;
    g_autofree char *esc = g_markup_escape_text(cmd->volume, -1);
    g_autofree char *xml = g_strdup_printf("<volume><name>%s</name><capacity unit='bytes'>%zu"
                                           "</capacity><target><format type='raw'/></target>"
                                           "</volume>",
                                           esc, (size_t)len);
    rc = s_vol_create_in(conn, pool, cmd->pool, cmd->volume, xml, len, NULL, content, len, reply,
                         arena, err);
    virStoragePoolFree(pool);
    return rc;
}

/* ------------------------------------------------------------------ networks */

static int s_net_info(virNetworkPtr net, const char *name, Drover__Reply *reply, GPtrArray *arena,
                      drv_error **err)
{
    int active = virNetworkIsActive(net);
    if (active < 0) {
        g_autofree char *what = g_strdup_printf("network '%s'", name);
        return s_fail(err, what);
    }
    s_kv(arena, reply, "active", active == 1 ? "1" : "0");
    char *br = virNetworkGetBridgeName(net);
    s_kv(arena, reply, "bridge", br);
    free(br);
    return 0;
}

static int s_net(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                 GPtrArray *arena, drv_error **err)
{
    if (s_need(cmd->name, "network", err) < 0)
        return -1;
    g_autofree char *what = g_strdup_printf("network '%s'", cmd->name);
    virNetworkPtr net = virNetworkLookupByName(conn, cmd->name);
    if (net == NULL && cmd->kind == DROVER__COMMAND_KIND__CMD_NET_DEFINE)
        net = virNetworkDefineXML(conn, cmd->xml);
    if (net == NULL)
        return s_fail(err, what);
    int rc = 0;
    if (cmd->kind == DROVER__COMMAND_KIND__CMD_NET_DEFINE) {
        if (virNetworkIsActive(net) != 1 && virNetworkCreate(net) < 0)
            rc = s_fail(err, what);
        if (rc == 0 && virNetworkSetAutostart(net, 1) < 0)
            rc = s_fail(err, what);
    }
    if (rc == 0)
        rc = s_net_info(net, cmd->name, reply, arena, err);
    virNetworkFree(net);
    return rc;
}

int drv_storage_execute(virConnectPtr conn, const Drover__Command *cmd, Drover__Reply *reply,
                        GPtrArray *arena, drv_error **err)
{
    switch (cmd->kind) {
    case DROVER__COMMAND_KIND__CMD_POOL_DEFINE:
        return s_pool_define(conn, cmd, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_POOL_INFO: {
        virStoragePoolPtr pool = s_pool(conn, cmd->pool, err);
        if (pool == NULL)
            return -1;
        int rc = s_pool_info(pool, cmd->pool, reply, arena, err);
        virStoragePoolFree(pool);
        return rc;
    }
    case DROVER__COMMAND_KIND__CMD_POOL_UNDEFINE:
        return s_pool_undefine(conn, cmd, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_VOL_CREATE:
    case DROVER__COMMAND_KIND__CMD_VOL_DELETE:
    case DROVER__COMMAND_KIND__CMD_VOL_INFO:
    case DROVER__COMMAND_KIND__CMD_VOL_CLONE:
    case DROVER__COMMAND_KIND__CMD_VOL_RESIZE:
    case DROVER__COMMAND_KIND__CMD_VOL_UPLOAD:
    case DROVER__COMMAND_KIND__CMD_VOL_WIPE:
        return s_vol(conn, cmd, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_SEED_CREATE:
        return s_seed_create(conn, cmd, reply, arena, err);
    case DROVER__COMMAND_KIND__CMD_NET_DEFINE:
    case DROVER__COMMAND_KIND__CMD_NET_INFO:
        return s_net(conn, cmd, reply, arena, err);
    default:
        return drv_error_set(err, DRV_ERR_INVALID, 0, "command kind %d is not a storage command",
                             (int)cmd->kind);
    }
}
