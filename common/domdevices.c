/* domdevices.c — see domdevices.h. */
#include "domdevices.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

static bool s_is(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *s_child(xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent ? parent->children : NULL; c != NULL; c = c->next)
        if (s_is(c, name))
            return c;
    return NULL;
}

/* The attribute's text trimmed (g_free), NULL when absent or empty. */
static char *s_attr(xmlNode *n, const char *name)
{
    if (n == NULL)
        return NULL;
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    if (v == NULL)
        return NULL;
    char *s = g_strstrip(g_strdup((const char *)v));
    xmlFree(v);
    if (*s == '\0') {
        g_free(s);
        return NULL;
    }
    return s;
}

static char *s_child_attr(xmlNode *parent, const char *child, const char *name)
{
    return s_attr(s_child(parent, child), name);
}

/* A number as written in a libvirt address (0x03 or 3); -1 when absent or not a number. */
static long s_number(xmlNode *n, const char *name)
{
    g_autofree char *v = s_attr(n, name);
    if (v == NULL)
        return -1;
    char *end = NULL;
    long x = strtol(v, &end, 0);
    return end != NULL && *end == '\0' && x >= 0 ? x : -1;
}

static char *s_disk(xmlNode *n)
{
    g_autofree char *dev = s_child_attr(n, "target", "dev");
    if (dev == NULL)
        return NULL;
    g_autofree char *device = s_attr(n, "device");
    return g_strdup_printf("%s %s", device ? device : "disk", dev);
}

static char *s_interface(xmlNode *n)
{
    g_autofree char *type = s_attr(n, "type");
    g_autofree char *mac = s_child_attr(n, "mac", "address");
    xmlNode *src = s_child(n, "source");
    g_autofree char *net = s_attr(src, "network");
    g_autofree char *bridge = s_attr(src, "bridge");
    g_autofree char *dev = s_attr(src, "dev");
    g_autofree char *source = NULL;
    if (g_strcmp0(type, "network") == 0 && net != NULL)
        source = g_strdup_printf("network %s", net);
    else if (g_strcmp0(type, "bridge") == 0 && bridge != NULL)
        source = g_strdup_printf("bridge %s", bridge);
    else if (g_strcmp0(type, "direct") == 0 && dev != NULL)
        source = g_strdup_printf("direct %s", dev);
    else
        source = g_strdup(type ? type : "interface");
    if (mac != NULL) {
        g_autofree char *lower = g_ascii_strdown(mac, -1);
        return g_strdup_printf("interface %s (%s)", lower, source);
    }
    return g_strdup_printf("interface (%s)", source);
}

static char *s_hostdev(xmlNode *n)
{
    g_autofree char *type = s_attr(n, "type");
    xmlNode *src = s_child(n, "source");
    if (g_strcmp0(type, "pci") == 0) {
        xmlNode *a = s_child(src, "address");
        long dom = s_number(a, "domain"), bus = s_number(a, "bus"), slot = s_number(a, "slot"),
             fn = s_number(a, "function");
        if (bus >= 0 && slot >= 0 && fn >= 0)
            return g_strdup_printf("hostdev pci %04lx:%02lx:%02lx.%lx", dom < 0 ? 0 : dom, bus,
                                   slot, fn);
    } else if (g_strcmp0(type, "usb") == 0) {
        long vendor = s_number(s_child(src, "vendor"), "id");
        long product = s_number(s_child(src, "product"), "id");
        if (vendor >= 0 && product >= 0)
            return g_strdup_printf("hostdev usb %04lx:%04lx", vendor, product);
        xmlNode *a = s_child(src, "address");
        long bus = s_number(a, "bus"), device = s_number(a, "device");
        if (bus >= 0 && device >= 0)
            return g_strdup_printf("hostdev usb %03ld.%03ld", bus, device);
    }
    return g_strdup_printf("hostdev %s", type ? type : "(no type)");
}

/* rng, watchdog, ...: the element and what tells two apart when there is something. */
static char *s_other(xmlNode *n)
{
    static const char *const names[] = {"rng",      "watchdog", "vsock",     "shmem",
                                        "redirdev", "memory",   "smartcard", "tpm"};
    const char *name = (const char *)n->name;
    bool known = false;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        known = known || strcmp(name, names[i]) == 0;
    if (!known)
        return NULL;
    g_autofree char *what = NULL;
    if (strcmp(name, "shmem") == 0)
        what = s_attr(n, "name");
    else if (strcmp(name, "redirdev") == 0)
        what = s_attr(n, "bus");
    else if (strcmp(name, "rng") == 0)
        what = s_child_attr(n, "backend", "model");
    else
        what = s_attr(n, "model");
    return what ? g_strdup_printf("%s %s", name, what) : g_strdup(name);
}

char **drv_domdevices_names(xmlNode *devices)
{
    GPtrArray *out = g_ptr_array_new();
    for (xmlNode *c = devices ? devices->children : NULL; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char *name = NULL;
        if (s_is(c, "disk"))
            name = s_disk(c);
        else if (s_is(c, "interface"))
            name = s_interface(c);
        else if (s_is(c, "hostdev"))
            name = s_hostdev(c);
        else if (s_is(c, "filesystem")) {
            g_autofree char *dir = s_child_attr(c, "target", "dir");
            name = g_strdup_printf("filesystem %s", dir ? dir : "(no target)");
        } else
            name = s_other(c);
        if (name != NULL)
            g_ptr_array_add(out, name);
    }
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* "interface (network default)" of a definition without a MAC matches "interface <mac> (network
 * default)". */
static bool s_same_source(const char *config, const char *live)
{
    if (!g_str_has_prefix(config, "interface (") || !g_str_has_prefix(live, "interface "))
        return false;
    const char *paren = strchr(live, '(');
    return paren != NULL && strcmp(paren, config + strlen("interface ")) == 0;
}

char *drv_domdevices_diff(char *const *live, char *const *config)
{
    guint n_live = live ? g_strv_length((char **)live) : 0;
    guint n_conf = config ? g_strv_length((char **)config) : 0;
    g_autofree bool *live_used = g_new0(bool, n_live + 1);
    g_autofree bool *conf_used = g_new0(bool, n_conf + 1);
    for (guint i = 0; i < n_conf; i++)
        for (guint j = 0; j < n_live && !conf_used[i]; j++)
            if (!live_used[j] && strcmp(config[i], live[j]) == 0)
                conf_used[i] = live_used[j] = true;
    for (guint i = 0; i < n_conf; i++)
        for (guint j = 0; j < n_live && !conf_used[i]; j++)
            if (!live_used[j] && s_same_source(config[i], live[j]))
                conf_used[i] = live_used[j] = true;
    GString *s = g_string_new(NULL);
    for (guint j = 0; j < n_live; j++)
        if (!live_used[j])
            g_string_append_printf(s, "%s%s attached live, not in the definition",
                                   s->len ? "; " : "", live[j]);
    for (guint i = 0; i < n_conf; i++)
        if (!conf_used[i])
            g_string_append_printf(s, "%s%s in the definition, not attached live",
                                   s->len ? "; " : "", config[i]);
    if (s->len == 0) {
        g_string_free(s, TRUE);
        return NULL;
    }
    return g_string_free(s, FALSE);
}
