/* fuzz_etcd_watch.c — libFuzzer target for what etcd sends: the watch stream parser (line
 * splitting, WatchResponse and event decoding, via a detached watch fed in chunks whose sizes the
 * first input byte picks) and the RangeResponse decoder (the whole input as one JSON reply). */
#include "etcd_private.h"
#include "log.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        drv_log_init("fuzz_etcd_watch", DRV_LOG_LAST);
        init = 1;
    }
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    drv_etcd_watch *w = drv_etcd_watch_new_detached("/p/", 3, true, 4096);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (drv_etcd_watch_feed(w, (const char *)data + off, n) < 0)
            break;
    }
    drv_etcd_event ev;
    drv_error *err = NULL;
    while (drv_etcd_watch_next(w, 0, &ev, &err) == 1)
        drv_etcd_event_clear(&ev);
    drv_error_destroy(&err);
    drv_etcd_watch_destroy(&w);

    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (o != NULL) {
        drv_etcd_range r;
        if (drv_etcd_json_parse_range(o, &r, &err) == 0)
            drv_etcd_range_clear(&r);
        drv_error_destroy(&err);
        json_object_put(o);
    }
    return 0;
}
