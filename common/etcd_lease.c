/* etcd_lease.c — lease calls of the etcd client: /v3/lease/grant, keepalive, revoke, timetolive.
 * See etcd.h for the contracts. */
#include "etcd_private.h"

static json_object *s_lease_req(int64_t lease_id)
{
    json_object *req = json_object_new_object();
    drv_etcd_json_set_int64(req, "ID", lease_id);
    return req;
}

int drv_etcd_lease_grant(drv_etcd *self, int64_t ttl_s, int64_t *ret_lease_id, drv_error **err)
{
    if (ttl_s <= 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "etcd lease grant: ttl %" G_GINT64_FORMAT " s must be > 0",
                             (gint64)ttl_s);
    json_object *req = json_object_new_object();
    drv_etcd_json_set_int64(req, "TTL", ttl_s);
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/lease/grant", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    int64_t id = drv_etcd_json_get_int64(reply, "ID");
    json_object_put(reply);
    if (id == 0)
        return drv_error_set(err, DRV_ERR_PROTO, 0, "etcd lease grant: reply has no lease ID");
    if (ret_lease_id != NULL)
        *ret_lease_id = id;
    return 0;
}

int drv_etcd_lease_keepalive(drv_etcd *self, int64_t lease_id, int64_t *ret_ttl, drv_error **err)
{
    json_object *req = s_lease_req(lease_id);
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/lease/keepalive", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    /* An expired or unknown lease answers 200 without a TTL. */
    int64_t ttl = drv_etcd_json_get_int64(reply, "TTL");
    json_object_put(reply);
    if (ttl <= 0)
        return drv_error_set(err, DRV_ERR_NOT_FOUND, 0,
                             "etcd lease %" G_GINT64_FORMAT " (0x%" G_GINT64_MODIFIER
                             "x): expired or unknown, keepalive refused",
                             (gint64)lease_id, (gint64)lease_id);
    if (ret_ttl != NULL)
        *ret_ttl = ttl;
    return 0;
}

int drv_etcd_lease_revoke(drv_etcd *self, int64_t lease_id, drv_error **err)
{
    json_object *req = s_lease_req(lease_id);
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/lease/revoke", req, &reply, err);
    json_object_put(req);
    json_object_put(reply);
    return rc;
}

int drv_etcd_lease_ttl(drv_etcd *self, int64_t lease_id, int64_t *ret_ttl, drv_error **err)
{
    json_object *req = s_lease_req(lease_id);
    json_object *reply = NULL;
    int rc = drv_etcd_call(self, "/v3/lease/timetolive", req, &reply, err);
    json_object_put(req);
    if (rc < 0)
        return -1;
    /* etcd answers TTL "-1" for an expired or unknown lease; an omitted TTL means 0 s left. */
    int64_t ttl = drv_etcd_json_get_int64(reply, "TTL");
    json_object_put(reply);
    if (ret_ttl != NULL)
        *ret_ttl = ttl >= 0 ? ttl : -1;
    return 0;
}
