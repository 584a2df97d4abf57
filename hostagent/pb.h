/* pb.h — the agent's protobuf edge: plain facts/domain structs → Drover__* messages. The messages
 * borrow the structs' strings; every other allocation goes to an arena (a GPtrArray that g_frees
 * its elements) so a message tree is released with one g_ptr_array_unref. */
#ifndef DROVER_AGENT_PB_H
#define DROVER_AGENT_PB_H

#include "codec.h"
#include "facts.h"
#include "lifecycle.h"
#include "stats.h"

#include <glib.h>

/* A new arena. */
GPtrArray *drv_pb_arena_new(void);
/* Zeroed memory owned by the arena. */
void *drv_pb_alloc(GPtrArray *arena, size_t size);
/* A copy of s owned by the arena ("" for NULL: protobuf-c strings must not be NULL). */
char *drv_pb_strdup(GPtrArray *arena, const char *s);
/* printf into the arena. */
char *drv_pb_printf(GPtrArray *arena, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

Drover__HostFacts *drv_pb_facts(GPtrArray *arena, const drv_host_facts *facts);
Drover__DomainInfo *drv_pb_dom_info(GPtrArray *arena, const drv_dom_info *info);
/* An array of DomainInfo for an inventory (drv_dom_info * elements). */
Drover__DomainInfo **drv_pb_dom_infos(GPtrArray *arena, GPtrArray *infos, size_t *ret_n);
/* Appends a KeyValue to a growing array (*kvs, *n), arena-owned. */
void drv_pb_add_kv(GPtrArray *arena, Drover__KeyValue ***kvs, size_t *n, const char *key,
                   const char *value);

/* Packs a statistics report as a StatsReport envelope into *ret_buf (g_free), or leaves it NULL
 * (logged) when it cannot be packed. */
void drv_pb_stats_pack(const drv_stats_report *report, uint8_t **ret_buf, size_t *ret_len);

#endif
