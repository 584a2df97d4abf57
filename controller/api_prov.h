/* api_prov.h — shared by the provisioning verbs (api_pool.c, api_net.c, api_provision.c): the
 * volume lifecycle of prov_vol.c and the verb entry points. */
#ifndef DROVER_CTL_API_PROV_H
#define DROVER_CTL_API_PROV_H

#include "api_private.h"

/* A volume to create (strings borrowed). */
typedef struct {
    const char *pool;
    const char *pool_path; /* the pool's directory, for a backing volume's path; may be NULL */
    const char *name;
    uint64_t capacity_bytes;
    const char *format;  /* qcow2 | raw */
    const char *backing; /* a volume of the same pool, or NULL */
    const char *domain;  /* the domain it is made for, or NULL */
    /* a NoCloud seed instead of a blank volume: NULL-terminated names and contents */
    char *const *seed_names;
    char *const *seed_contents;
    /* a copy of this volume of the same pool (CMD_VOL_CLONE), or NULL */
    const char *clone_from;
    /* the host to create it on when up (a clone: the source's host), NULL: the first up host */
    const char *host;
    /* content to import (vol upload): the volume is created raw of data_len bytes, then the data
     * goes to the agent in chunks of CTL_PROV_CHUNK bytes (CMD_VOL_UPLOAD); format is what the
     * record says the content is */
    const void *data;
    size_t data_len;
} ctl_prov_vol_spec;

/* One CMD_VOL_UPLOAD chunk: well under the agent's 4 MiB frame limit (proto/codec.h). */
#define CTL_PROV_CHUNK (1024u * 1024u)
/* How long a slow storage command (clone, wipe, a chunk) may take before the controller stops
 * waiting for its answer. */
#define CTL_PROV_SLOW_MS (10u * 60u * 1000u)

/* The volume exists (host, path) or was not created (err; nothing is left behind then). */
typedef void (*ctl_prov_vol_fn)(ctl *c, const char *host, const char *path, const drv_error *err,
                                void *data);
typedef void (*ctl_prov_done_fn)(ctl *c, const drv_error *err, void *data);

/* Stores volumes/<pool>/<name> (create-only, state "creating"), then has one up host create it
 * (CMD_VOL_CREATE / CMD_SEED_CREATE), then stores it "ready" with its host and path; removes the
 * record when the host failed. *ret_doc (optional) gets a reference to the record. */
int ctl_prov_vol_create(ctl *c, const ctl_prov_vol_spec *spec, ctl_prov_vol_fn fn, void *data,
                        json_object **ret_doc, drv_error **err);
/* Deletes the volume a record describes on its host, then the record. */
int ctl_prov_vol_delete(ctl *c, json_object *record, ctl_prov_done_fn fn, void *data,
                        drv_error **err);
/* The domain using a volume record (its "domain" while defined, or any domain whose XML names its
 * path), or NULL (borrowed). */
const char *ctl_prov_vol_user(ctl *c, json_object *record);

/* The domain whose XML names a file under directory dir (a pool's path), or NULL (borrowed). */
const char *ctl_prov_dir_user(ctl *c, const char *dir);

/* domain.undefine --remove-storage (prov_undefine.c): marks the domain's volumes "deleting"
 * (removing_with: its name) in etcd, then runs the undefine job on host (NULL: none has it); r is
 * answered when the job ends. */
void ctl_prov_undefine_begin(ctl *c, ctl_req *r, const ctl_domain *d, const char *host);
/* The undefine job succeeded: deletes every volume marked removing_with domain (host, then
 * record) and answers r (NULL: nobody waits, e.g. a job taken over after a restart) with the
 * removed volumes and r->kept_disks. */
void ctl_prov_undefine_finish(ctl *c, ctl_req *r, const char *domain);
/* The undefine failed: the marks of domain go back to "ready". */
void ctl_prov_undefine_unmark(ctl *c, const char *domain);

void ctl_api_pool_define(ctl_req *r);
void ctl_api_pool_undefine(ctl_req *r);
void ctl_api_pool_list(ctl_req *r);
void ctl_api_pool_info(ctl_req *r);
void ctl_api_vol_create(ctl_req *r);
void ctl_api_vol_list(ctl_req *r);
void ctl_api_vol_info(ctl_req *r);
void ctl_api_vol_delete(ctl_req *r);
void ctl_api_vol_clone(ctl_req *r);
void ctl_api_vol_resize(ctl_req *r);
void ctl_api_vol_upload(ctl_req *r);
void ctl_api_vol_wipe(ctl_req *r);
void ctl_api_net_define(ctl_req *r);
void ctl_api_net_list(ctl_req *r);
void ctl_api_net_info(ctl_req *r);
void ctl_api_domain_provision(ctl_req *r);

#endif
