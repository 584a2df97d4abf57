/* etcd_maint.c — maintenance calls of the etcd client: the server's status (DB size, revision)
 * and revision compaction. See etcd.h for the contracts. */
#include "etcd_private.h"

#include <string.h>

int drv_etcd_status_get(drv_etcd *self, drv_etcd_status *ret, drv_error **err)
{
    json_object *req = json_object_new_object();
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/maintenance/status", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    memset(ret, 0, sizeof(*ret));
    ret->db_size = drv_etcd_json_get_int64(reply, "dbSize");
    ret->db_size_in_use = drv_etcd_json_get_int64(reply, "dbSizeInUse");
    json_object *hdr = NULL;
    if (json_object_object_get_ex(reply, "header", &hdr))
        ret->revision = drv_etcd_json_get_int64(hdr, "revision");
    json_object_put(reply);
    if (ret->revision <= 0)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd status: the reply has no revision");
    return 0;
}

int drv_etcd_compact(drv_etcd *self, int64_t revision, drv_error **err)
{
    json_object *req = json_object_new_object();
    drv_etcd_json_set_int64(req, "revision", revision);
    json_object *reply = NULL;
    drv_error *e = NULL;
    int rc = drv_etcd_call(self, "/v3/kv/compaction", req, &reply, &e);
    json_object_put(req);
    json_object_put(reply);
    if (rc < 0 && e->kind == DRV_ERR_ETCD && strstr(e->message, "compacted") != NULL) {
        drv_error_destroy(&e); /* already compacted up to there or later: what was asked holds */
        return 0;
    }
    if (rc < 0)
        drv_error_propagate(err, e);
    return rc;
}
