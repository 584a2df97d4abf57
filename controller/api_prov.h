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
} ctl_prov_vol_spec;

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

void ctl_api_pool_define(ctl_req *r);
void ctl_api_pool_list(ctl_req *r);
void ctl_api_pool_info(ctl_req *r);
void ctl_api_vol_create(ctl_req *r);
void ctl_api_vol_list(ctl_req *r);
void ctl_api_vol_info(ctl_req *r);
void ctl_api_vol_delete(ctl_req *r);
void ctl_api_net_define(ctl_req *r);
void ctl_api_net_list(ctl_req *r);
void ctl_api_net_info(ctl_req *r);
void ctl_api_domain_provision(ctl_req *r);

#endif
