/* names.h — the one rule for names that reach etcd keys, logs and libvirt: domain, host, snapshot
 * names and label keys. A name is refused (never trimmed) when it is empty, longer than
 * DRV_NAME_MAX bytes, not valid UTF-8, has leading or trailing whitespace, a control character,
 * a '/', or starts with '.' or '~'. */
#ifndef DROVER_NAMES_H
#define DROVER_NAMES_H

#include <stdbool.h>

#define DRV_NAME_MAX 64

/* NULL when s is a valid name, else why not (a static string). */
const char *drv_name_invalid(const char *s);

#endif
