/* etcd_test_util.c — see etcd_test_util.h. */
#include "etcd_test_util.h"

#include <glib.h>

drv_test_etcd *etcd_test_server;

drv_etcd *etcd_test_client(long timeout_ms)
{
    const char *endpoints[] = {drv_test_etcd_endpoint(etcd_test_server)};
    drv_error *err = NULL;
    drv_etcd *c = drv_etcd_new(endpoints, 1, timeout_ms, NULL, &err);
    if (c == NULL)
        fail_msg("drv_etcd_new: %s", err->message);
    return c;
}

int64_t etcd_test_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}
