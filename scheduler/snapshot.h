/* snapshot.h — the cluster snapshot file format (JSON, documented in docs/scheduler.md) and JSON
 * renderings of the scheduler's results for `--json` output. Parsing and rendering text only: the
 * caller reads and writes the files. */
#include "scheduler.h" /* first: the umbrella includes this header after its core types */

#ifndef DROVER_SCHED_SNAPSHOT_H
#define DROVER_SCHED_SNAPSHOT_H

struct json_object;

#define DRV_SCHED_SNAPSHOT_VERSION 1

/* Parses a snapshot document (`{"version":1,"config":…,"hosts":[…],"domains":[…],
 * "reservations":[…]}`). Returns 0 with a new cluster in *ret, or -1 with DRV_ERR_INVALID naming
 * the offending host/domain/field. */
int drv_sched_cluster_from_json(const char *text, drv_sched_cluster **ret, drv_error **err);
/* Same from an already parsed object (borrowed). */
int drv_sched_cluster_from_json_object(struct json_object *obj, drv_sched_cluster **ret,
                                       drv_error **err);
/* Renders the cluster as a snapshot document (pretty-printed, ends with a newline; caller frees
 * with g_free). from_json(to_json(c)) describes the same cluster. */
char *drv_sched_cluster_to_json(const drv_sched_cluster *cluster);
/* Same as a new json-c object (caller owns; json_object_put). */
struct json_object *drv_sched_cluster_to_json_object(const drv_sched_cluster *cluster);

/* A request parsed from JSON, e.g. {"vcpus":2,"memory_kib":4194304,"arch":"x86_64",
 * "features":["avx2"],"pools":["shared"],"networks":["lan"],"labels":{"rack":"r1"},"affinity_group":"g",
 * "anti_affinity_group":"g2","avoid_hosts":["h1"],"name":"vm1"}. "memory" may be given instead of
 * "memory_kib" as a size string ("4G", "512M", "1048576K", bytes when no suffix; powers of 1024).
 * The returned request owns all its strings; free with drv_sched_request_destroy(). */
int drv_sched_request_from_json(struct json_object *obj, drv_sched_request **ret, drv_error **err);
void drv_sched_request_destroy(drv_sched_request **request_p);

/* Parses a size: "64G", "64GiB", "512M", "512MiB", "1048576K", "1T", plain digits = bytes; rounded
 * up to whole KiB. Returns -1 (DRV_ERR_INVALID) for anything else. */
int drv_sched_parse_size_kib(const char *text, uint64_t *ret_kib, drv_error **err);

/* Result renderings (new objects, caller owns). Each carries an "explanation" string where one
 * applies. */
struct json_object *drv_sched_result_to_json(const drv_sched_result *result);
struct json_object *drv_sched_capacity_to_json(const drv_sched_capacity *capacity);
struct json_object *drv_sched_drain_plan_to_json(const drv_sched_drain_plan *plan);

#endif
