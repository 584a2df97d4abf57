/* api_save.c — the verbs that keep a guest's memory across a stop (docs/cli.md):
 *   domain save NAME [--file PATH]  the image goes to a file on shared storage; the domain's record
 *                                   says so (saved_path), so `restore` may run it on any host
 *   domain restore NAME             a save file: placed like a start, the start job restores the
 *                                   file (lifecycle_run.c); a managed save: started on its own host
 *   domain managedsave-remove NAME  discards either image
 * (`domain managedsave` is a lifecycle verb in api_domain.c.) Intent first: the record (desired
 * state, saved_path) is in etcd before the agent is commanded; when the command certainly did not
 * run, the record is put back. */
#include "api_private.h"

#include "ctl_io.h"
#include "domxml.h"
#include "events.h"
#include "log.h"
#include "outcome.h"
#include "store_async.h"
#include "view.h"

#include <string.h>

#define S_SAVE_SUFFIX ".drover-save"

/* Where `domain save` writes d's image when no --file is given: beside its first file disk (the
 * storage a migratable domain's hosts all see). Owned, or NULL with an error. */
static char *s_default_path(const ctl_domain *d, drv_error **err)
{
    drv_domxml *dx = NULL;
    if (drv_domxml_parse(d->xml, strlen(d->xml), &dx, err) < 0)
        return NULL;
    char *path = NULL;
    for (size_t i = 0; path == NULL && i < dx->n_disks; i++) {
        const drv_domxml_disk *k = &dx->disks[i];
        if (k->device == DRV_DOMXML_DISK_DEVICE_DISK && k->type == DRV_DOMXML_DISK_FILE &&
            k->source_path != NULL && k->source_path[0] == '/') {
            g_autofree char *dir = g_path_get_dirname(k->source_path);
            path = g_strdup_printf("%s/%s" S_SAVE_SUFFIX, dir, d->name);
        }
    }
    drv_domxml_destroy(&dx);
    if (path == NULL)
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "domain '%s' has no file disk to keep its save file beside: give --file "
                      "PATH (on storage every host sees)",
                      d->name);
    return path;
}

/* Puts d's record back to desired + saved_path (a save that certainly did not happen, or a
 * removal that did), without a client waiting; logged on failure. */
static void s_put_back_done(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted,
                            void *data)
{
    if (err != NULL)
        drv_warn("domain '%s': putting its record back: %s", (const char *)data, err->message);
}

static void s_put_back(ctl *c, const char *name, ctl_desired desired, const char *saved_path)
{
    ctl_domain *d = ctl_model_domain(c->model, name);
    if (d == NULL)
        return;
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = desired;
    g_free(copy->saved_path);
    copy->saved_path = g_strdup(saved_path);
    drv_error *err = NULL;
    if (ctl_async_put_domain(c, copy, d->mod_revision, NULL, s_put_back_done, g_strdup(name),
                             g_free, &err) < 0) {
        drv_warn("domain '%s': putting its record back: %s", name, err->message);
        drv_error_destroy(&err);
    }
}

/* Stores r->domain's record with desired and saved_path (CAS; a lost compare is tried again on
 * the fresh copy, up to 3 times), then calls then(r, err, attempted). */
static void s_store_then(ctl_req *r, ctl_desired desired, const char *saved_path,
                         ctl_req_then_fn then);

static void s_stored(ctl *c, ctl_domain *stored, const drv_error *err, bool attempted, void *data)
{
    ctl_req *r = data;
    if (err != NULL && err->kind == DRV_ERR_CONFLICT && ++r->attempts < 3) {
        s_store_then(r, r->desired_after, r->saved_path, r->then);
        return;
    }
    r->attempts = 0;
    r->then(r, err, attempted);
}

static void s_store_then(ctl_req *r, ctl_desired desired, const char *saved_path,
                         ctl_req_then_fn then)
{
    r->then = then;
    r->desired_after = desired;
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    drv_error *err = NULL;
    if (d == NULL) {
        drv_error_set(&err, DRV_ERR_NOT_FOUND, 0, "domain '%s' not found", r->domain);
        then(r, err, false);
        drv_error_destroy(&err);
        return;
    }
    ctl_domain *copy = ctl_domain_copy(d);
    copy->desired = desired;
    g_free(copy->saved_path);
    copy->saved_path = g_strdup(saved_path);
    if (ctl_async_put_domain(r->c, copy, d->mod_revision, NULL, s_stored, r, NULL, &err) < 0) {
        then(r, err, false);
        drv_error_destroy(&err);
    }
}

/* An etcd write that did not go through: nothing was commanded. */
static void s_store_failed(ctl_req *r, const drv_error *err, bool attempted)
{
    ctl_model_set_busy(r->c->model, r->domain, NULL);
    ctl_req_failf(r, err->kind, "domain '%s': record not stored: %s (%s; nothing was commanded)",
                  r->domain, err->message,
                  attempted ? "etcd may or may not have stored it" : "nothing was changed");
}

static void s_answer_domain(ctl_req *r, const char *event)
{
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL) {
        ctl_req_failf(r, DRV_ERR_NOT_FOUND, "domain '%s' disappeared meanwhile", r->domain);
        return;
    }
    ctl_events_domain(r->c, d, event);
    ctl_req_ok(r, ctl_view_domain_api(r->c->model, d));
}

static int s_send(ctl_req *r, const char *host, const ctl_cmd *cmd, ctl_reply_fn fn)
{
    drv_error *err = NULL;
    if (ctl_send(r->c, host, cmd, fn, r, NULL, &err) < 0) {
        ctl_reply fail = {.ok = false, .error_kind = "unavailable", .message = err->message};
        fn(r->c, host, &fail, r);
        drv_error_destroy(&err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ save */

static void s_save_done(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok) {
        if (rep->unknown_outcome) /* the record stays; the next inventory tells */
            ctl_outcome_watch(c, host, rep, "save", r->domain, CTL_CMD_SAVE, 0, r->desired_before,
                              CTL_DESIRED_SHUTOFF);
        else /* it certainly did not happen: the record goes back */
            s_put_back(c, r->domain, r->desired_before, NULL);
        ctl_req_fail_reply(r, "save", host, rep);
        return;
    }
    drv_info("domain '%s' saved to '%s' on host '%s'", r->domain, r->saved_path, host);
    s_answer_domain(r, "saved");
}

static void s_save_command(ctl_req *r, const drv_error *err, bool attempted)
{
    if (err != NULL) {
        s_store_failed(r, err, attempted);
        return;
    }
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL || d->host == NULL || !ctl_host_up(r->c, d->host)) {
        ctl_model_set_busy(r->c->model, r->domain, NULL);
        s_put_back(r->c, r->domain, r->desired_before, NULL);
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': its host became unreachable before it was commanded; nothing "
                      "was done",
                      r->domain);
        return;
    }
    g_free(r->host);
    r->host = g_strdup(d->host);
    ctl_cmd cmd = {.kind = CTL_CMD_SAVE, .domain = d->name, .path = r->saved_path};
    s_send(r, r->host, &cmd, s_save_done);
}

void ctl_api_domain_save(ctl_req *r)
{
    ctl_domain *d = ctl_api_domain_arg(r);
    if (d == NULL || !ctl_api_domain_idle(r, d))
        return;
    if (d->transient) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is transient: a save file would outlive its definition",
                      d->name);
        return;
    }
    const char *host = ctl_api_domain_up_host(r, d);
    if (host == NULL)
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is %s on host '%s'; only a running or paused domain is saved",
                      d->name, state, host);
        return;
    }
    const char *file = ctl_req_opt(r, "file");
    if (file != NULL && file[0] != '\0') {
        if (file[0] != '/' || !g_str_has_suffix(file, S_SAVE_SUFFIX) ||
            strstr(file, "/../") != NULL) {
            ctl_req_usage(r, "--file '%s': give an absolute path ending in '" S_SAVE_SUFFIX "'",
                          file);
            return;
        }
        r->saved_path = g_strdup(file);
    } else {
        drv_error *err = NULL;
        r->saved_path = s_default_path(d, &err);
        if (r->saved_path == NULL) {
            ctl_req_fail(r, err);
            return;
        }
    }
    r->desired_before = d->desired;
    ctl_model_set_busy(r->c->model, d->name, "save");
    /* intent first: the record names the file and says "shut off" before the host saves */
    s_store_then(r, CTL_DESIRED_SHUTOFF, r->saved_path, s_save_command);
}

/* ------------------------------------------------------------------ restore */

void ctl_api_domain_restore(ctl_req *r)
{
    ctl_domain *d = ctl_api_domain_arg(r);
    if (d == NULL || !ctl_api_domain_idle(r, d))
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (strcmp(state, "saved") != 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT,
                      "domain '%s' is %s%s%s%s; it has no saved memory image to restore (start "
                      "boots it)",
                      d->name, state, reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
        return;
    }
    if (strcmp(reason, CTL_SAVED_MANAGED) == 0) {
        if (ctl_api_domain_up_host(r, d) == NULL)
            return;
        /* libvirt starts a domain with a managed save image from it: a start on that host */
        r->pin_host = g_strdup(d->host);
    }
    ctl_api_domain_place_and_start(r, d);
}

/* ------------------------------------------------------------------ managedsave-remove */

static void s_removed(ctl *c, const char *host, const ctl_reply *rep, void *data)
{
    ctl_req *r = data;
    ctl_model_set_busy(c->model, r->domain, NULL);
    if (!rep->ok) {
        if (r->saved_path != NULL) /* the record is cleared; say what is left */
            ctl_req_failf(r, DRV_ERR_IO,
                          "domain '%s': save record cleared, but host '%s' could not remove "
                          "'%s': %s",
                          r->domain, host, r->saved_path, rep->message);
        else
            ctl_req_fail_reply(r, "managedsave-remove", host, rep);
        return;
    }
    s_answer_domain(r, "state-changed");
}

static void s_file_forgotten(ctl_req *r, const drv_error *err, bool attempted)
{
    if (err != NULL) {
        s_store_failed(r, err, attempted);
        return;
    }
    ctl_domain *d = ctl_model_domain(r->c->model, r->domain);
    if (d == NULL || d->host == NULL || !ctl_host_up(r->c, d->host)) {
        ctl_model_set_busy(r->c->model, r->domain, NULL);
        ctl_req_failf(r, DRV_ERR_UNAVAILABLE,
                      "domain '%s': save record cleared, but no host was reachable to remove "
                      "'%s'; remove it by hand",
                      r->domain, r->saved_path);
        return;
    }
    ctl_cmd cmd = {.kind = CTL_CMD_MANAGEDSAVE_REMOVE, .domain = r->domain, .path = r->saved_path};
    s_send(r, d->host, &cmd, s_removed);
}

void ctl_api_domain_save_remove(ctl_req *r)
{
    ctl_domain *d = ctl_api_domain_arg(r);
    if (d == NULL || !ctl_api_domain_idle(r, d))
        return;
    const char *state, *reason;
    ctl_model_domain_state(r->c->model, d, &state, &reason);
    if (strcmp(state, "saved") != 0) {
        ctl_req_failf(r, DRV_ERR_CONFLICT, "domain '%s' is %s; it has no saved memory image",
                      d->name, state);
        return;
    }
    if (strcmp(reason, CTL_SAVED_MANAGED) == 0) {
        const char *host = ctl_api_domain_up_host(r, d);
        if (host == NULL)
            return;
        ctl_model_set_busy(r->c->model, d->name, "managedsave-remove");
        ctl_cmd cmd = {.kind = CTL_CMD_MANAGEDSAVE_REMOVE, .domain = d->name};
        s_send(r, host, &cmd, s_removed);
        return;
    }
    /* a save file: the record forgets it first (a restore can no longer pick it), then a host
     * removes the file */
    r->saved_path = g_strdup(d->saved_path);
    ctl_model_set_busy(r->c->model, d->name, "managedsave-remove");
    s_store_then(r, d->desired, NULL, s_file_forgotten);
}
