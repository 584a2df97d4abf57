/* api_provision.c — domain.provision: `drover domain create NAME --vcpus --memory --disk
 * pool=P,size=S[,backing=V] [--network NET] --cloud-init FILE ...` (docs/provisioning.md). Reads
 * the pool (and network) records, builds the domain XML (common/provision.h), creates the disk
 * volume, then the NoCloud seed volume, then stores the definition (revision 1) and, with
 * --start, starts it through the ordinary start verb. Every step that fails undoes the ones
 * before it: no orphan volume, seed or record is left. */
#include "api_prov.h"

#include "events.h"
#include "log.h"
#include "prov_store.h"
#include "provision.h"
#include "store_async.h"
#include "view.h"

#include "domxml.h"
#include "placement.h"
#include "scheduler.h"

#include <string.h>

typedef struct {
    ctl_req *r;
    char *name;
    char *uuid;
    drv_prov_disk disk;
    drv_prov_boot boot;
    bool has_boot;
    char *pool_path;
    char *disk_vol;
    char *seed_vol;
    char *xml;
    char *cpu_xml;
    char *user_data;
    json_object *disk_rec; /* records of what was created (for the undo) */
    json_object *seed_rec;
    drv_error *failure; /* the error being reported while undoing */
} s_pr;

static void s_pr_free(s_pr *p)
{
    g_free(p->name);
    g_free(p->uuid);
    drv_prov_disk_clear(&p->disk);
    drv_prov_boot_clear(&p->boot);
    g_free(p->pool_path);
    g_free(p->disk_vol);
    g_free(p->seed_vol);
    g_free(p->xml);
    g_free(p->cpu_xml);
    g_free(p->user_data);
    if (p->disk_rec != NULL)
        json_object_put(p->disk_rec);
    if (p->seed_rec != NULL)
        json_object_put(p->seed_rec);
    drv_error_destroy(&p->failure);
    g_free(p);
}

static void s_answer_fail(ctl *c, s_pr *p)
{
    (void)c;
    ctl_req_failf(p->r, p->failure->kind, "domain '%s': %s (nothing was created)", p->name,
                  p->failure->message);
    s_pr_free(p);
}

static void s_undo_next(ctl *c, s_pr *p);

static void s_undone(ctl *c, const drv_error *err, void *data)
{
    s_pr *p = data;
    if (err != NULL)
        drv_warn("domain '%s': undoing a failed provisioning: %s", p->name, err->message);
    s_undo_next(c, p);
}

/* Deletes what was created (seed first, then disk), then answers with p->failure. */
static void s_undo_next(ctl *c, s_pr *p)
{
    json_object **rec = p->seed_rec != NULL   ? &p->seed_rec
                        : p->disk_rec != NULL ? &p->disk_rec
                                              : NULL;
    if (rec == NULL) {
        s_answer_fail(c, p);
        return;
    }
    json_object *doc = *rec;
    *rec = NULL;
    drv_error *err = NULL;
    int rc = ctl_prov_vol_delete(c, doc, s_undone, p, &err);
    json_object_put(doc);
    if (rc < 0) {
        drv_warn("domain '%s': undoing a failed provisioning: %s", p->name, err->message);
        drv_error_destroy(&err);
        s_undo_next(c, p);
    }
}

static void s_fail_undo(ctl *c, s_pr *p, drv_err_kind kind, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static void s_fail_undo(ctl *c, s_pr *p, drv_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    drv_error_set(&p->failure, kind, 0, "%s", msg);
    s_undo_next(c, p);
}

/* ------------------------------------------------------------------ the definition */

static void s_defined(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted, void *data)
{
    s_pr *p = data;
    if (err != NULL) {
        if (attempted) { /* it may be stored: keep the volumes it would use */
            ctl_req_failf(p->r, err->kind, "domain '%s': definition may not be stored: %s", p->name,
                          err->message);
            s_pr_free(p);
            return;
        }
        s_fail_undo(c, p, err->kind == DRV_ERR_CONFLICT ? DRV_ERR_EXISTS : err->kind,
                    "definition not stored: %s", err->message);
        return;
    }
    ctl_req *r = p->r;
    s_pr_free(p);
    if (stored == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->args[0]);
        return;
    }
    ctl_events_domain(c, stored, "defined");
    if (ctl_req_flag(r, "start")) {
        ctl_api_domain_start(r); /* args[0] is the name: the ordinary start (placement) */
        return;
    }
    ctl_req_ok(r, ctl_view_domain_api(c->model, stored));
}

static void s_define(ctl *c, s_pr *p)
{
    drv_domxml *dx = NULL;
    drv_error *err = NULL;
    if (drv_domxml_parse(p->xml, strlen(p->xml), &dx, &err) < 0) {
        s_fail_undo(c, p, DRV_ERR_INTERNAL, "the built XML does not parse: %s", err->message);
        drv_error_destroy(&err);
        return;
    }
    if (ctl_model_domain(c->model, p->name) != NULL) {
        drv_domxml_destroy(&dx);
        s_fail_undo(c, p, DRV_ERR_EXISTS, "domain '%s' was defined meanwhile", p->name);
        return;
    }
    ctl_domain *d = ctl_domain_new(p->name);
    d->uuid = g_strdup(p->uuid);
    d->xml = g_strdup(p->xml);
    d->revision = 1;
    d->vcpus = dx->vcpus;
    d->vcpus_current = dx->vcpus_current;
    d->memory_kib = dx->memory_kib;
    d->cpu_features = g_strdupv(dx->cpu_features_required);
    d->devices = g_strdupv(dx->devices);
    d->created_ms = ctl_wall_ms(c);
    d->ha = ctl_req_flag(p->r, "ha"); /* as `domain ha NAME --enable` (docs/ha.md) */
    drv_domxml_destroy(&dx);
    if (ctl_async_put_domain(c, d, 0, "create (provisioned)", s_defined, p, NULL, &err) < 0) {
        s_fail_undo(c, p, err->kind, "definition not stored: %s", err->message);
        drv_error_destroy(&err);
    }
}

/* ------------------------------------------------------------------ the volumes */

static void s_seed_created(ctl *c, const char *host, const char *path, const drv_error *err,
                           void *data)
{
    s_pr *p = data;
    (void)host;
    (void)path;
    if (err != NULL) {
        json_object_put(p->seed_rec);
        p->seed_rec = NULL; /* not created: nothing to undo for it */
        s_fail_undo(c, p, err->kind, "seed: %s", err->message);
        return;
    }
    s_define(c, p);
}

static void s_disk_created(ctl *c, const char *host, const char *path, const drv_error *err,
                           void *data)
{
    s_pr *p = data;
    (void)host;
    (void)path;
    if (err != NULL) {
        json_object_put(p->disk_rec);
        p->disk_rec = NULL;
        s_fail_undo(c, p, err->kind, "disk: %s", err->message);
        return;
    }
    ctl_req *r = p->r;
    const char *names[4] = {"user-data", "meta-data", NULL, NULL};
    g_autofree char *meta = drv_prov_meta_data(p->name);
    const char *contents[4] = {
        p->user_data, ctl_req_opt(r, "meta_data") ? ctl_req_opt(r, "meta_data") : meta, NULL, NULL};
    if (ctl_req_opt(r, "network_config") != NULL) {
        names[2] = "network-config";
        contents[2] = ctl_req_opt(r, "network_config");
    }
    ctl_prov_vol_spec spec = {.pool = p->disk.pool,
                              .name = p->seed_vol,
                              .capacity_bytes = 0,
                              .format = "raw",
                              .domain = p->name,
                              .seed_names = (char *const *)names,
                              .seed_contents = (char *const *)contents};
    drv_error *e = NULL;
    if (ctl_prov_vol_create(c, &spec, s_seed_created, p, &p->seed_rec, &e) < 0) {
        s_fail_undo(c, p, e->kind, "seed: %s", e->message);
        drv_error_destroy(&e);
    }
}

static void s_create_volumes(ctl *c, s_pr *p)
{
    ctl_prov_vol_spec spec = {.pool = p->disk.pool,
                              .pool_path = p->pool_path,
                              .name = p->disk_vol,
                              .capacity_bytes = p->disk.size_bytes,
                              .format = p->disk.format,
                              .backing = p->disk.backing,
                              .domain = p->name};
    drv_error *e = NULL;
    if (ctl_prov_vol_create(c, &spec, s_disk_created, p, &p->disk_rec, &e) < 0) {
        s_fail_undo(c, p, e->kind, "disk: %s", e->message);
        drv_error_destroy(&e);
    }
}

/* ------------------------------------------------------------------ the XML */

static void s_build(ctl *c, s_pr *p)
{
    ctl_req *r = p->r;
    g_autofree char *disk_path = g_build_filename(p->pool_path, p->disk_vol, NULL);
    g_autofree char *seed_path = g_build_filename(p->pool_path, p->seed_vol, NULL);
    const char *vcpus = ctl_req_opt(r, "vcpus"), *mem = ctl_req_opt(r, "memory_kib");
    drv_prov_domain spec = {
        .name = p->name,
        .uuid = p->uuid,
        .virt_type = ctl_req_opt(r, "virt_type") ? ctl_req_opt(r, "virt_type") : "kvm",
        .vcpus = vcpus ? (uint32_t)g_ascii_strtoull(vcpus, NULL, 10) : 1,
        .memory_kib = mem ? g_ascii_strtoull(mem, NULL, 10) : 0,
        .disk_path = disk_path,
        .disk_format = p->disk.format,
        .seed_path = seed_path,
        .network = ctl_req_opt(r, "network"),
        .cpu_xml = p->cpu_xml,
        .serial_log = ctl_req_opt(r, "serial_log"),
        .boot = p->has_boot ? &p->boot : NULL,
    };
    drv_error *err = NULL;
    if (drv_prov_domain_xml(&spec, &p->xml, &err) < 0) {
        ctl_req_fail(r, err);
        s_pr_free(p);
        return;
    }
    if (ctl_req_flag(r, "dry_run")) {
        json_object *doc = json_object_new_object();
        json_object_object_add(doc, "name", json_object_new_string(p->name));
        json_object_object_add(doc, "xml", json_object_new_string(p->xml));
        json_object_object_add(doc, "dry_run", json_object_new_boolean(true));
        ctl_req_ok(r, doc);
        s_pr_free(p);
        return;
    }
    s_create_volumes(c, p);
}

static void s_net_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pr *p = data;
    const char *net = ctl_req_opt(p->r, "network");
    if (err != NULL || doc == NULL) {
        ctl_req_failf(p->r, err ? err->kind : DRV_ERR_NOT_FOUND,
                      "domain '%s': network '%s' %s (nothing was created)", p->name, net,
                      err ? err->message : "not found");
        s_pr_free(p);
        return;
    }
    s_build(c, p);
}

static void s_pool_got(ctl *c, json_object *doc, const drv_error *err, void *data)
{
    s_pr *p = data;
    if (err != NULL || doc == NULL) {
        ctl_req_failf(p->r, err ? err->kind : DRV_ERR_NOT_FOUND,
                      "domain '%s': pool '%s' %s (nothing was created)", p->name, p->disk.pool,
                      err ? err->message : "not found");
        s_pr_free(p);
        return;
    }
    p->pool_path = g_strdup(ctl_prov_str(doc, "path"));
    const char *net = ctl_req_opt(p->r, "network");
    if (net == NULL) {
        s_build(c, p);
        return;
    }
    g_autofree char *key = g_strdup_printf("networks/%s", net);
    drv_error *e = NULL;
    if (ctl_prov_get(c, key, s_net_got, p, &e) < 0) {
        ctl_req_fail(p->r, e);
        s_pr_free(p);
    }
}

void ctl_api_domain_provision(ctl_req *r)
{
    const char *name = r->args[0];
    const char *disk = ctl_req_opt(r, "disk");
    const char *ud = ctl_req_opt(r, "user_data");
    if (disk == NULL || ctl_req_opt(r, "memory_kib") == NULL) {
        ctl_req_usage(r, "domain.provision: --memory and --disk are needed");
        return;
    }
    g_autoptr(drv_error) nerr = NULL;
    if (drv_domxml_name_check(name, &nerr) < 0) { /* before it becomes file names and meta-data */
        ctl_req_usage(r, "domain.provision: %s", nerr->message);
        return;
    }
    if (name[0] == '.' || strlen(name) > 64) {
        ctl_req_usage(r,
                      "domain.provision: '%s' is not a domain name (at most 64 bytes, not "
                      "starting with '.')",
                      name);
        return;
    }
    s_pr *p = g_new0(s_pr, 1);
    p->r = r;
    p->name = g_strdup(name);
    p->uuid = g_uuid_string_random();
    drv_error *err = NULL;
    g_autofree char *key = NULL;
    g_autofree char *baseline = NULL;
    if (drv_prov_disk_parse(disk, &p->disk, &err) < 0)
        goto fail;
    if (ctl_req_opt(r, "boot") != NULL) {
        if (drv_prov_boot_parse(ctl_req_opt(r, "boot"), &p->boot, &err) < 0)
            goto fail;
        p->has_boot = true;
    }
    /* without --cloud-init: an empty mapping, or only the key when --ssh-key is given */
    const char *ssh_key = ctl_req_opt(r, "ssh_key");
    p->user_data = g_strdup(ud ? ud : ssh_key ? "#cloud-config\n" : "#cloud-config\n{}\n");
    if (ud != NULL && drv_prov_cloud_config_check(p->user_data, strlen(p->user_data), &err) < 0)
        goto fail;
    if (ssh_key != NULL) {
        char *with = drv_prov_user_data_with_key(p->user_data, ctl_req_opt(r, "ssh_key"), &err);
        if (with == NULL)
            goto fail;
        g_free(p->user_data);
        p->user_data = with;
    }
    if (ctl_model_domain(r->c->model, name) != NULL) {
        drv_error_set(&err, DRV_ERR_EXISTS, 0, "domain '%s' already exists", name);
        goto fail;
    }
    /* the cluster CPU baseline by default, so the guest can migrate to any active host */
    const char *cpu = ctl_req_opt(r, "cpu");
    if (cpu == NULL || strcmp(cpu, "baseline") == 0) {
        drv_sched_cluster *cl = ctl_placement_cluster(r->c, NULL);
        drv_error *berr = NULL;
        if (drv_sched_baseline_cpu_xml(cl, NULL, NULL, &baseline, &berr) < 0) {
            drv_error_set(&err, berr->kind, 0, "--cpu baseline: %s (or pass --cpu host-model)",
                          berr->message);
            drv_error_destroy(&berr);
            drv_sched_cluster_destroy(&cl);
            goto fail;
        }
        drv_sched_cluster_destroy(&cl);
    }
    if (drv_prov_cpu_xml(cpu, baseline, &p->cpu_xml, &err) < 0)
        goto fail;
    p->disk_vol = g_strdup_printf("%s-disk0.%s", name, p->disk.format);
    p->seed_vol = g_strdup_printf("%s-seed.iso", name);
    key = g_strdup_printf("pools/%s", p->disk.pool);
    if (ctl_prov_get(r->c, key, s_pool_got, p, &err) < 0)
        goto fail;
    return;
fail:
    drv_error_prefix(&err, "domain '%s'", name);
    ctl_req_fail(r, err);
    s_pr_free(p);
}
