/* ctl.c — see ctl.h. */
#include "ctl.h"

#include "leader.h"

#include <time.h>

int64_t ctl_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

int64_t ctl_wall_ms(void)
{
    return g_get_real_time() / 1000;
}

char *ctl_new_id(ctl *c)
{
    return g_strdup_printf("%s-%llu", c->instance, (unsigned long long)++c->next_id);
}

bool ctl_is_leader(const ctl *c)
{
    return ctl_leader_is(c->leader);
}
