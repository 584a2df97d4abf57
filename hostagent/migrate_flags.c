/* migrate_flags.c — the libvirt flags of a live migration, from its parameters. Pure. */
#include "migrate_flags.h"

#include <glib.h>
#include <libvirt/libvirt.h>
#include <string.h>

/* A destination reached over qemu+tls: the libvirtd connection is TLS, authenticated both ways by
 * certificate. */
bool drv_migrate_uses_tls(const Drover__MigrateParams *p)
{
    return p != NULL && p->dest_uri != NULL && g_str_has_prefix(p->dest_uri, "qemu+tls:");
}

char *drv_migrate_tool_uri(const char *dest_uri, const char *pki_path)
{
    if (dest_uri == NULL)
        return NULL;
    if (pki_path == NULL || *pki_path == '\0' || !g_str_has_prefix(dest_uri, "qemu+tls:"))
        return g_strdup(dest_uri);
    g_autofree char *esc = g_uri_escape_string(pki_path, "/", FALSE);
    return g_strdup_printf("%s%spkipath=%s", dest_uri, strchr(dest_uri, '?') ? "&" : "?", esc);
}

unsigned long drv_migrate_flags(const Drover__MigrateParams *p, bool stream_tls)
{
    unsigned long flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                          VIR_MIGRATE_UNDEFINE_SOURCE;
    if (p != NULL && p->unsafe)
        flags |= VIR_MIGRATE_UNSAFE;
    if (p != NULL && p->auto_converge)
        flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (p != NULL && p->postcopy)
        flags |= VIR_MIGRATE_POSTCOPY;
    if (stream_tls && drv_migrate_uses_tls(p))
        flags |= VIR_MIGRATE_TLS;
    return flags;
}
