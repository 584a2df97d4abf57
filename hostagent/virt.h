/* virt.h — the agent's only window on libvirt: one shared connection (libvirt connections are
 * thread-safe; the test driver gives each connection its own fake host, so sharing one is also what
 * keeps every command looking at the same host), the event loop thread that delivers lifecycle
 * events and notices a lost libvirtd (keepalive + close callback), and the libvirt calls that
 * describe the host and its domains. */
#ifndef DROVER_AGENT_VIRT_H
#define DROVER_AGENT_VIRT_H

#include "error.h"
#include "facts.h"
#include "lifecycle.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct drv_virt drv_virt;

typedef struct {
    drv_event_kind kind;
    const char *domain; /* NULL for LIBVIRT_DOWN/UP */
    const char *uuid;
    int detail; /* libvirt detail code (or close reason for LIBVIRT_DOWN) */
    const char *detail_text;
    uint64_t timestamp_ms;    /* wall clock */
    const drv_dom_info *info; /* state right after the event, NULL when unknown */
} drv_virt_event;

/* Called on the event loop thread for every lifecycle event and when the connection closes. */
typedef void (*drv_virt_event_fn)(const drv_virt_event *ev, void *user_data);

/* Process-wide set-up, once, before any thread: silences libvirt's printing of errors to stderr,
 * registers the default event loop implementation. */
int drv_virt_global_init(drv_error **err);

/* Creates the handle and starts the event loop thread. Does not connect. */
drv_virt *drv_virt_new(const char *uri, drv_virt_event_fn fn, void *user_data);
/* Disconnects and stops the event thread. NULL-safe. */
void drv_virt_destroy(drv_virt **self_p);

/* Opens the connection, registers the lifecycle callback, keepalive (5 s × 3) and a close callback.
 * Blocks on libvirtd: the agent runs it on its connection worker, never on its loop.
 * DRV_ERR_UNAVAILABLE (with libvirt's code) when libvirtd cannot be reached. */
int drv_virt_connect(drv_virt *self, drv_error **err);
/* Deregisters callbacks and drops the agent's reference to the connection (workers holding their
 * own reference finish with errors). Safe when not connected. Talks to libvirtd (deregistering,
 * closing): never call it on the agent's loop. */
void drv_virt_disconnect(drv_virt *self);
/* True when connected and libvirt says the connection is alive (and no close was reported). Never
 * a round trip to libvirtd: safe on the agent's loop. */
bool drv_virt_is_alive(drv_virt *self);
/* A new reference to the shared connection (virConnectClose it), or NULL when disconnected. */
virConnectPtr drv_virt_conn(drv_virt *self);
const char *drv_virt_uri(const drv_virt *self);

/* Stores libvirt's last error of this thread as a DRV_ERR_LIBVIRT (code = virErrorNumber;
 * DRV_ERR_NOT_FOUND for an unknown domain/snapshot) with "domain 'NAME': " before libvirt's message
 * when domain != NULL, else what. Returns -1. */
int drv_virt_error(drv_error **err, const char *domain, const char *what);

/* Fills the libvirt-reported facts: cpus, memory, free memory, arch, CPU vendor/model/features
 * (domain capabilities host-model where supported, else host capabilities), host UUID, versions,
 * hypervisor type, pools, networks. */
int drv_virt_host_facts(virConnectPtr conn, drv_host_facts *facts, drv_error **err);
/* Describes one domain (name, UUID, state and reason, persistence, autostart, hash of the inactive
 * XML, vCPUs, memory, CPU time, managed save). */
int drv_virt_dom_info(virDomainPtr dom, drv_dom_info **ret, drv_error **err);
/* Every domain of the host (drv_dom_info *, owned array with free func), sorted by name. */
int drv_virt_inventory(virConnectPtr conn, GPtrArray **ret, drv_error **err);

#endif
