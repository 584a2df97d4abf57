/* virt.c — see virt.h. */
#include "virt.h"

#include "caps.h"
#include "domxml.h"
#include "log.h"

#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct drv_virt {
    char *uri;
    drv_virt_event_fn fn;
    void *user_data;
    GMutex lock; /* guards conn and the callback ids */
    virConnectPtr conn;
    int lifecycle_cb; /* -1 when not registered */
    int device_cb[2]; /* DEVICE_ADDED, DEVICE_REMOVED; -1 when not registered */
    bool close_cb;
    gint closed;     /* atomic: the close callback fired */
    GThread *thread; /* event loop */
    gint stop;       /* atomic */
    int wake_timer;  /* keeps virEventRunDefaultImpl returning so the thread sees stop */
};

static void s_quiet_error(void *ud, virErrorPtr e)
{
}

int drv_virt_global_init(drv_error **err)
{
    if (virInitialize() < 0)
        return drv_virt_error(err, NULL, "libvirt initialisation");
    virSetErrorFunc(NULL, s_quiet_error);
    if (virEventRegisterDefaultImpl() < 0)
        return drv_virt_error(err, NULL, "libvirt event loop");
    return 0;
}

int drv_virt_error(drv_error **err, const char *domain, const char *what)
{
    virErrorPtr e = virGetLastError();
    int code = e ? e->code : VIR_ERR_INTERNAL_ERROR;
    const char *msg = e && e->message ? e->message : "unknown libvirt error";
    drv_err_kind kind = DRV_ERR_LIBVIRT;
    if (code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_NO_DOMAIN_SNAPSHOT)
        kind = DRV_ERR_NOT_FOUND;
    if (domain != NULL)
        return drv_error_set(err, kind, code, "domain '%s': %s", domain, msg);
    return drv_error_set(err, kind, code, "%s: %s", what ? what : "libvirt", msg);
}

static void s_wake(int timer, void *opaque)
{
}

static gpointer s_event_thread(gpointer data)
{
    drv_virt *self = data;
    while (!g_atomic_int_get(&self->stop)) {
        if (virEventRunDefaultImpl() < 0) {
            drv_debug("libvirt event loop iteration failed");
            g_usleep(100 * 1000);
        }
    }
    return NULL;
}

drv_virt *drv_virt_new(const char *uri, drv_virt_event_fn fn, void *user_data)
{
    drv_virt *self = g_new0(drv_virt, 1);
    self->uri = g_strdup(uri);
    self->fn = fn;
    self->user_data = user_data;
    self->lifecycle_cb = -1;
    self->device_cb[0] = self->device_cb[1] = -1;
    g_mutex_init(&self->lock);
    self->wake_timer = virEventAddTimeout(200, s_wake, NULL, NULL);
    self->thread = g_thread_new("virt-events", s_event_thread, self);
    return self;
}

void drv_virt_destroy(drv_virt **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_virt *self = *self_p;
    drv_virt_disconnect(self);
    g_atomic_int_set(&self->stop, 1);
    g_thread_join(self->thread);
    if (self->wake_timer >= 0)
        virEventRemoveTimeout(self->wake_timer);
    g_mutex_clear(&self->lock);
    g_free(self->uri);
    g_free(self);
    *self_p = NULL;
}

const char *drv_virt_uri(const drv_virt *self)
{
    return self->uri;
}

static uint64_t s_now_ms(void)
{
    return (uint64_t)(g_get_real_time() / 1000);
}

static int s_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    drv_virt *self = opaque;
    const char *text = NULL;
    drv_virt_event ev = {0};
    ev.kind = drv_lifecycle_map(event, detail, &text);
    if (ev.kind == DRV_EV_NONE)
        return 0;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(dom, uuid);
    ev.domain = virDomainGetName(dom);
    ev.uuid = uuid;
    ev.detail = detail;
    ev.detail_text = text;
    ev.timestamp_ms = s_now_ms();
    drv_dom_info *info = NULL;
    if (ev.kind != DRV_EV_UNDEFINED && drv_virt_dom_info(dom, &info, NULL) == 0)
        ev.info = info;
    self->fn(&ev, self->user_data);
    drv_dom_info_free(info);
    return 0;
}

/* A device attached or detached live, by drover or behind its back: the domain's new info (its
 * live devices) goes to the controller, which names the device drift. */
static void s_device(drv_virt *self, virDomainPtr dom, const char *what, const char *alias)
{
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(dom, uuid);
    drv_virt_event ev = {0};
    ev.kind = DRV_EV_DEVICE;
    ev.domain = virDomainGetName(dom);
    ev.uuid = uuid;
    ev.detail_text = what;
    ev.timestamp_ms = s_now_ms();
    drv_dom_info *info = NULL;
    if (drv_virt_dom_info(dom, &info, NULL) == 0)
        ev.info = info;
    drv_debug("domain '%s': device %s %s", ev.domain, alias ? alias : "", what);
    self->fn(&ev, self->user_data);
    drv_dom_info_free(info);
}

static void s_device_added_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    s_device(opaque, dom, "added", alias);
}

static void s_device_removed_cb(virConnectPtr conn, virDomainPtr dom, const char *alias,
                                void *opaque)
{
    s_device(opaque, dom, "removed", alias);
}

static void s_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    drv_virt *self = opaque;
    if (g_atomic_int_exchange(&self->closed, 1))
        return;
    drv_virt_event ev = {0};
    ev.kind = DRV_EV_LIBVIRT_DOWN;
    ev.detail = reason;
    ev.detail_text = reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive"
                     : reason == VIR_CONNECT_CLOSE_REASON_EOF     ? "eof"
                     : reason == VIR_CONNECT_CLOSE_REASON_CLIENT  ? "client"
                                                                  : "error";
    ev.timestamp_ms = s_now_ms();
    self->fn(&ev, self->user_data);
}

int drv_virt_connect(drv_virt *self, drv_error **err)
{
    drv_virt_disconnect(self);
    virConnectPtr conn = virConnectOpen(self->uri);
    if (conn == NULL) {
        virErrorPtr e = virGetLastError();
        return drv_error_set(err, DRV_ERR_UNAVAILABLE, e ? e->code : 0, "libvirt '%s': %s",
                             self->uri, e && e->message ? e->message : "cannot connect");
    }
    int cb =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(s_lifecycle_cb), self, NULL);
    if (cb < 0) {
        drv_virt_error(err, NULL, "register lifecycle events");
        virConnectClose(conn);
        return -1;
    }
    /* device events: a driver without them (the test driver has no hotplug) returns -1: fine */
    int dev_cb[2] = {
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                         VIR_DOMAIN_EVENT_CALLBACK(s_device_added_cb), self, NULL),
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                         VIR_DOMAIN_EVENT_CALLBACK(s_device_removed_cb), self,
                                         NULL)};
    if (dev_cb[0] < 0 || dev_cb[1] < 0)
        drv_debug("libvirt '%s': no device events", self->uri);
    /* keepalive: 5 s interval, 3 missed → closed (a driver without keepalive returns 1: fine) */
    if (virConnectSetKeepAlive(conn, 5, 3) < 0)
        drv_debug("libvirt '%s': no keepalive", self->uri);
    g_atomic_int_set(&self->closed, 0);
    bool close_cb = virConnectRegisterCloseCallback(conn, s_close_cb, self, NULL) == 0;
    if (!close_cb)
        drv_debug("libvirt '%s': no close callback", self->uri);
    g_mutex_lock(&self->lock);
    self->conn = conn;
    self->lifecycle_cb = cb;
    self->device_cb[0] = dev_cb[0];
    self->device_cb[1] = dev_cb[1];
    self->close_cb = close_cb;
    g_mutex_unlock(&self->lock);
    return 0;
}

void drv_virt_disconnect(drv_virt *self)
{
    g_mutex_lock(&self->lock);
    virConnectPtr conn = self->conn;
    int cb = self->lifecycle_cb;
    int dev_cb[2] = {self->device_cb[0], self->device_cb[1]};
    self->device_cb[0] = self->device_cb[1] = -1;
    bool close_cb = self->close_cb;
    self->conn = NULL;
    self->lifecycle_cb = -1;
    self->close_cb = false;
    g_mutex_unlock(&self->lock);
    if (conn == NULL)
        return;
    if (cb >= 0)
        virConnectDomainEventDeregisterAny(conn, cb);
    for (size_t i = 0; i < G_N_ELEMENTS(dev_cb); i++)
        if (dev_cb[i] >= 0)
            virConnectDomainEventDeregisterAny(conn, dev_cb[i]);
    if (close_cb)
        virConnectUnregisterCloseCallback(conn, s_close_cb);
    virConnectClose(conn);
}

bool drv_virt_is_alive(drv_virt *self)
{
    /* under the lock, without a reference of its own: the caller (the agent's loop) must never
     * drop the last reference, whose close is a round trip to libvirtd */
    g_mutex_lock(&self->lock);
    bool alive = self->conn != NULL && !g_atomic_int_get(&self->closed) &&
                 virConnectIsAlive(self->conn) == 1;
    g_mutex_unlock(&self->lock);
    return alive;
}

virConnectPtr drv_virt_conn(drv_virt *self)
{
    g_mutex_lock(&self->lock);
    virConnectPtr conn = self->conn;
    if (conn != NULL)
        virConnectRef(conn);
    g_mutex_unlock(&self->lock);
    return conn;
}

/* ------------------------------------------------------------------ facts */

static int s_pools(virConnectPtr conn, drv_host_facts *facts, drv_error **err)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    if (n < 0)
        return drv_virt_error(err, NULL, "list storage pools");
    for (int i = 0; i < n; i++) {
        drv_pool_fact *p = g_new0(drv_pool_fact, 1);
        p->name = g_strdup(virStoragePoolGetName(pools[i]));
        p->active = virStoragePoolIsActive(pools[i]) == 1;
        char *xml = virStoragePoolGetXMLDesc(pools[i], 0);
        if (xml != NULL)
            drv_caps_parse_pool(xml, p, NULL);
        free(xml);
        g_ptr_array_add(facts->pools, p);
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    return 0;
}

static int s_networks(virConnectPtr conn, drv_host_facts *facts, drv_error **err)
{
    virNetworkPtr *nets = NULL;
    int n = virConnectListAllNetworks(conn, &nets, 0);
    if (n < 0)
        return drv_virt_error(err, NULL, "list networks");
    for (int i = 0; i < n; i++) {
        g_ptr_array_add(facts->networks, g_strdup(virNetworkGetName(nets[i])));
        virNetworkFree(nets[i]);
    }
    free(nets);
    return 0;
}

int drv_virt_host_facts(virConnectPtr conn, drv_host_facts *facts, drv_error **err)
{
    virNodeInfo ni;
    if (virNodeGetInfo(conn, &ni) < 0)
        return drv_virt_error(err, NULL, "node info");
    facts->cpus = ni.cpus;
    facts->memory_kib = ni.memory;
    unsigned long long free_bytes = virNodeGetFreeMemory(conn);
    if (free_bytes > 0) {
        facts->free_memory_kib = free_bytes / 1024;
    } else {
        /* a driver without free-memory reporting: total minus what running domains hold */
        uint64_t used = 0;
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        for (int i = 0; i < n; i++) {
            virDomainInfo di;
            if (virDomainGetInfo(doms[i], &di) == 0)
                used += di.memory;
            virDomainFree(doms[i]);
        }
        free(doms);
        facts->free_memory_kib = used < facts->memory_kib ? facts->memory_kib - used : 0;
    }
    /* the free-page count of all NUMA cells can exceed what virNodeGetInfo calls the node's
     * memory (memory hot-plug, a balloon, rounding per cell): never report free above total */
    if (facts->free_memory_kib > facts->memory_kib)
        facts->free_memory_kib = facts->memory_kib;
    char *caps = virConnectGetCapabilities(conn);
    if (caps == NULL)
        return drv_virt_error(err, NULL, "capabilities");
    int rc = drv_caps_parse_host(caps, facts, err);
    free(caps);
    if (rc < 0)
        return -1;
    char *domcaps = virConnectGetDomainCapabilities(conn, NULL, NULL, NULL, NULL, 0);
    if (domcaps != NULL) {
        drv_error *derr = NULL;
        if (drv_caps_parse_domcaps(domcaps, facts, &derr) < 0) {
            drv_debug("domain capabilities ignored: %s", derr->message);
            drv_error_destroy(&derr);
        }
        free(domcaps);
    }
    unsigned long lib = 0, hv = 0;
    if (virConnectGetLibVersion(conn, &lib) == 0)
        facts->libvirt_version = lib;
    if (virConnectGetVersion(conn, &hv) == 0)
        facts->hypervisor_version = hv;
    const char *type = virConnectGetType(conn);
    if (type != NULL) {
        g_free(facts->hypervisor_type);
        facts->hypervisor_type = g_strdup(type);
    }
    char *uri = virConnectGetURI(conn);
    if (uri != NULL && facts->libvirt_uri == NULL)
        facts->libvirt_uri = g_strdup(uri);
    free(uri);
    if (s_pools(conn, facts, err) < 0 || s_networks(conn, facts, err) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ domains */

/* The devices of a running domain's live XML by name (common/domdevices.h), or NULL when the
 * live XML cannot be had or read (the controller then shows no device drift for it). */
static char **s_live_devices(virDomainPtr dom)
{
    char *xml = virDomainGetXMLDesc(dom, 0);
    if (xml == NULL)
        return NULL;
    drv_domxml *dx = NULL;
    drv_error *err = NULL;
    char **names = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &dx, &err) == 0)
        names = g_steal_pointer(&dx->devices);
    else
        drv_debug("domain '%s': live XML: %s", virDomainGetName(dom), err->message);
    drv_domxml_destroy(&dx);
    drv_error_destroy(&err);
    free(xml);
    return names;
}

int drv_virt_dom_info(virDomainPtr dom, drv_dom_info **ret, drv_error **err)
{
    const char *name = virDomainGetName(dom);
    drv_dom_info *info = drv_dom_info_new();
    info->name = g_strdup(name);
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    if (virDomainGetUUIDString(dom, uuid) == 0)
        info->uuid = g_strdup(uuid);
    int state = 0, reason = 0;
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        goto fail;
    info->state = state >= 0 && state < DRV_DOM_LAST ? (drv_dom_state)state : DRV_DOM_NOSTATE;
    info->reason = reason;
    info->persistent = virDomainIsPersistent(dom) == 1;
    int autostart = 0;
    if (info->persistent && virDomainGetAutostart(dom, &autostart) == 0)
        info->autostart = autostart != 0;
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    if (xml == NULL)
        goto fail;
    info->xml_hash = drv_dom_xml_hash(xml);
    free(xml);
    virDomainInfo di;
    if (virDomainGetInfo(dom, &di) < 0)
        goto fail;
    info->vcpus = di.nrVirtCpu;
    info->memory_kib = di.memory;
    info->cpu_time_ns = di.cpuTime;
    info->has_managed_save = info->persistent && virDomainHasManagedSaveImage(dom, 0) == 1;
    if (virDomainIsActive(dom) == 1)
        info->live_devices = s_live_devices(dom);
    *ret = info;
    return 0;
fail:
    drv_virt_error(err, name, NULL);
    drv_dom_info_free(info);
    return -1;
}

static gint s_by_name(gconstpointer a, gconstpointer b)
{
    const drv_dom_info *x = *(drv_dom_info *const *)a;
    const drv_dom_info *y = *(drv_dom_info *const *)b;
    return g_strcmp0(x->name, y->name);
}

int drv_virt_inventory(virConnectPtr conn, GPtrArray **ret, drv_error **err)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0)
        return drv_virt_error(err, NULL, "list domains");
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)drv_dom_info_free);
    for (int i = 0; i < n; i++) {
        drv_dom_info *info = NULL;
        drv_error *derr = NULL;
        /* a domain that vanished between the list and the look is simply not there */
        if (drv_virt_dom_info(doms[i], &info, &derr) == 0)
            g_ptr_array_add(out, info);
        else
            drv_debug("inventory: %s", derr->message);
        drv_error_destroy(&derr);
        virDomainFree(doms[i]);
    }
    free(doms);
    g_ptr_array_sort(out, s_by_name);
    *ret = out;
    return 0;
}
