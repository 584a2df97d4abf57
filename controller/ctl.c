/* ctl.c — see ctl.h: command ids (the clocks and leadership go through the I/O seam: ctl_io.c). */
#include "ctl.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

char *ctl_new_id(ctl *c)
{
    uint8_t bytes[16];
    size_t got = 0;
    while (got < sizeof(bytes)) {
        ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* never on Linux ≥ 3.17 once booted; a counter still keeps ids unique */
            break;
        got += (size_t)n;
    }
    c->next_id++;
    if (got < sizeof(bytes))
        for (size_t i = 0; i < sizeof(bytes); i++)
            bytes[i] ^= (uint8_t)(g_random_int() ^ (c->next_id >> (8 * (i % 8))));
    static const char hex[] = "0123456789abcdef";
    char *out = g_malloc(2 * sizeof(bytes) + 1);
    for (size_t i = 0; i < sizeof(bytes); i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0xf];
    }
    out[2 * sizeof(bytes)] = '\0';
    return out;
}
