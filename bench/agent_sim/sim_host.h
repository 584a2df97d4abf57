/* sim_host.h — one simulated hypervisor host of bench/agent_sim: its facts, its domains (a table
 * that stands in for libvirt) and what a controller Command does to them. No sockets, no clock:
 * agent_sim.c owns the DEALER socket and the timers, and sends what this module builds.
 *
 * The messages are the real agent's: facts and domain infos go through hostagent/pb.c, replies
 * through hostagent/cmdreply.c (drv_commands_fail, drv_cmdreply_pack), so the controller cannot
 * tell a simulated host from a real one by what it says. */
#ifndef DROVER_SIM_HOST_H
#define DROVER_SIM_HOST_H

#include "codec.h"
#include "facts.h"
#include "replycache.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sim_host sim_host;

/* Where a simulated host finds the others (a migration moves a domain between two of them) and
 * the storage markers every host "sees" (all simulated hosts share one pretend storage). */
typedef struct {
    GHashTable *hosts;   /* host id → sim_host* (borrowed) */
    GHashTable *markers; /* "path/name" → content */
    double fail_rate;    /* 0..1: a lifecycle command fails (libvirt-like error), nothing changes */
    GRand *rand;
} sim_world;

/* What a finished command produced: the packed reply and the packed events, on which host each
 * goes out (a migration's events are on the destination too). */
typedef struct {
    sim_host *host;
    uint8_t *buf;
    size_t len;
} sim_msg;

/* A host with cpus CPUs and memory_kib of RAM and `domains` foreign running domains of 1 vCPU,
 * 512 MiB each ("ID-fNNNN"). labels: NULL-terminated "key=value" strings (copied). Never fails. */
sim_host *sim_host_new(const char *id, uint32_t cpus, uint64_t memory_kib, unsigned domains,
                       char **labels);
void sim_host_destroy(sim_host **self_p);
const char *sim_host_id(const sim_host *self);
unsigned sim_host_domain_count(const sim_host *self);

/* A packed Register (facts + the whole inventory), with agent instance `instance`. Owned. */
uint8_t *sim_host_pack_register(sim_host *self, const char *instance, size_t *ret_len);

/* A packed StatsReport as drover-agent sends it (hostagent/pb.c drv_pb_stats_pack): the host's
 * CPU busy and every running domain's CPU and steal drawn from rand (simulated load: the figures
 * carry no meaning, only their volume does), memory from the domain table, interval_ms the rates'
 * window (0 = the first sample: no rate known). Owned. */
uint8_t *sim_host_pack_stats(sim_host *self, GRand *rand, uint64_t wall_ms, uint32_t interval_ms,
                             size_t *ret_len);

/* The reply cache of this host (resent ids get their first answer). */
drv_reply_cache *sim_host_cache(sim_host *self);

/* Carries out cmd on the simulated host and appends what goes out (sim_msg*, the reply last) to
 * out. Called when the command's latency has passed. Never fails: failures are replies. */
void sim_host_execute(sim_host *self, sim_world *world, const Drover__Command *cmd, GPtrArray *out);

/* Writes one line per domain: "HOST NAME STATE VCPUS MEMORY_KIB" (state in virsh's words). */
void sim_host_dump(const sim_host *self, FILE *f);

/* Frees one sim_msg (GDestroyNotify for out arrays). */
void sim_msg_free(gpointer p);

#endif
