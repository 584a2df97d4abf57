/* cleanup.h — scope-bound cleanup for the types drover uses outside GLib (which has g_autofree and
 * g_autoptr). Usage: `_drv_cleanup_free_ char *s = ...;` */
#ifndef DROVER_CLEANUP_H
#define DROVER_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void drv_freep(void *p)
{
    free(*(void **)p);
}
static inline void drv_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
#define _drv_cleanup_free_  __attribute__((cleanup(drv_freep)))
#define _drv_cleanup_close_ __attribute__((cleanup(drv_closep)))

/* Returns *pp and sets it to NULL: hands ownership out of a cleanup-tagged variable. */
#define DRV_STEAL(pp)                                                                              \
    ({                                                                                             \
        __typeof__(*(pp)) _s = *(pp);                                                              \
        *(pp) = NULL;                                                                              \
        _s;                                                                                        \
    })

#endif
