/* offline.h — capacity planning without a controller: loads a scheduler snapshot file (what
 * `drover cluster export-snapshot` prints; format in docs/scheduler.md) with the scheduler's loader
 * and runs the scheduler's capacity code, giving the same document the controller's `capacity`
 * verb returns, so both paths print the same thing. */
#ifndef DROVER_CLI_OFFLINE_H
#define DROVER_CLI_OFFLINE_H

#include "error.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t vcpus;
    uint64_t memory_kib;
    const char *flags_csv; /* "avx2,sse4.2" or NULL */
    const char *arch;      /* NULL = any */
    bool n_plus_one;
    bool hosts_down; /* also compute how many hosts may be down at once */
} drv_cli_capacity_query;

/* Reads path ("-" = standard input), plans, and returns the capacity document (owned,
 * json_object_put). Errors name the file: unreadable, not JSON, not a snapshot (the loader's
 * message). */
int drv_cli_offline_capacity(const char *path, const drv_cli_capacity_query *query,
                             json_object **ret_doc, drv_error **err);

#endif
