/* domxml.c — see domxml.h. */
#include "domxml.h"

#include "domdevices.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

static const char *const s_disk_device_names[DRV_DOMXML_DISK_DEVICE_LAST] = {
    [DRV_DOMXML_DISK_DEVICE_DISK] = "disk",
    [DRV_DOMXML_DISK_DEVICE_CDROM] = "cdrom",
    [DRV_DOMXML_DISK_DEVICE_FLOPPY] = "floppy",
    [DRV_DOMXML_DISK_DEVICE_LUN] = "lun",
};

static const char *const s_disk_type_names[DRV_DOMXML_DISK_TYPE_LAST] = {
    [DRV_DOMXML_DISK_FILE] = "file",       [DRV_DOMXML_DISK_BLOCK] = "block",
    [DRV_DOMXML_DISK_NETWORK] = "network", [DRV_DOMXML_DISK_VOLUME] = "volume",
    [DRV_DOMXML_DISK_DIR] = "dir",         [DRV_DOMXML_DISK_OTHER] = "other",
};

const char *drv_domxml_disk_device_to_string(drv_domxml_disk_device device)
{
    return (unsigned)device < DRV_DOMXML_DISK_DEVICE_LAST ? s_disk_device_names[device] : NULL;
}

const char *drv_domxml_disk_type_to_string(drv_domxml_disk_type type)
{
    return (unsigned)type < DRV_DOMXML_DISK_TYPE_LAST ? s_disk_type_names[type] : NULL;
}

/* ---------------------------------------------------------------- errors and libxml2's output */

/* Sets an error like drv_error_set and, when this call created it, its line. Returns -1. */
static int G_GNUC_PRINTF(4, 5)
    s_fail(drv_error **err, drv_err_kind kind, long line, const char *fmt, ...)
{
    if (err == NULL || *err != NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    drv_error_setv(err, kind, 0, fmt, ap);
    va_end(ap);
    (*err)->line = line > 0 && line < INT_MAX ? (int)line : 0;
    return -1;
}

/* libxml2 reports through per-thread global handlers; while drover parses, they are replaced by
 * handlers that print nothing and keep the first error (libxml2's last one is often a consequence,
 * e.g. "Premature end of data" after a tag mismatch), and restored afterwards. */
typedef struct {
    xmlStructuredErrorFunc structured;
    void *structured_ctx;
    xmlGenericErrorFunc generic;
    void *generic_ctx;
    char *first_message; /* the first error (not warning) reported, g_free */
    int first_line;
} s_handlers;

static void s_keep_first_error(void *ctx, xmlErrorPtr error)
{
    s_handlers *h = ctx;
    if (h->first_message != NULL || error == NULL || error->level < XML_ERR_ERROR)
        return;
    h->first_message = g_strstrip(g_strdup(error->message ? error->message : "not well-formed"));
    h->first_line = error->line;
}

static void G_GNUC_PRINTF(2, 3) s_ignore_generic(void *ctx, const char *msg, ...)
{
}

static void s_quiet_begin(s_handlers *h)
{
    memset(h, 0, sizeof(*h));
    h->structured = xmlStructuredError;
    h->structured_ctx = xmlStructuredErrorContext;
    h->generic = xmlGenericError;
    h->generic_ctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(h, s_keep_first_error);
    xmlSetGenericErrorFunc(NULL, s_ignore_generic);
}

static void s_quiet_end(s_handlers *h)
{
    xmlSetStructuredErrorFunc(h->structured_ctx, h->structured);
    xmlSetGenericErrorFunc(h->generic_ctx, h->generic);
    g_clear_pointer(&h->first_message, g_free);
}

/* Parses len bytes into a document (xmlFreeDoc) or fails with DRV_ERR_INVALID, the line and
 * libxml2's message. Call between s_quiet_begin/end (h collects the first error). */
static xmlDoc *s_read(s_handlers *h, const char *xml, size_t len, drv_error **err)
{
    if (xml == NULL)
        len = 0;
    if (len > INT_MAX) {
        s_fail(err, DRV_ERR_INVALID, 0, "domain XML of %zu bytes is too large", len);
        return NULL;
    }
    /* No DTD at all: an internal subset's entities are how a small definition expands
     * quadratically (issue 13), and libvirt's domain XML never has one. */
    if (xml != NULL && (g_strstr_len(xml, (gssize)len, "<!DOCTYPE") != NULL ||
                        g_strstr_len(xml, (gssize)len, "<!ENTITY") != NULL)) {
        s_fail(err, DRV_ERR_INVALID, 0, "domain XML with a DOCTYPE or an ENTITY is refused");
        return NULL;
    }
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        s_fail(err, DRV_ERR_INTERNAL, 0, "domain XML: cannot create a libxml2 parser");
        return NULL;
    }
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, xml ? xml : "", (int)len, "domain.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL)) {
        xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        s_fail(err, DRV_ERR_INVALID, 0, "domain XML with a DOCTYPE is refused");
        return NULL;
    }
    if (doc == NULL || !ctxt->wellFormed) {
        const xmlError *last = xmlCtxtGetLastError(ctxt);
        const char *msg = h->first_message;
        long line = h->first_line;
        if (msg == NULL) {
            msg = last != NULL && last->message ? last->message : "not well-formed";
            line = last != NULL ? last->line : 0;
        }
        g_autofree char *clean = g_strstrip(g_strdup(msg));
        s_fail(err, DRV_ERR_INVALID, line, "domain XML is malformed (line %ld): %s", line, clean);
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/* ---------------------------------------------------------------- XPath helpers */

/* The first node matching expr relative to node, or NULL. */
static xmlNode *s_node(xmlXPathContext *x, xmlNode *node, const char *expr)
{
    x->node = node;
    xmlXPathObject *o = xmlXPathEval(BAD_CAST expr, x);
    xmlNode *n = NULL;
    if (o != NULL && o->type == XPATH_NODESET && o->nodesetval != NULL && o->nodesetval->nodeNr > 0)
        n = o->nodesetval->nodeTab[0];
    xmlXPathFreeObject(o);
    return n;
}

/* The nodes matching expr relative to node (free with xmlXPathFreeObject), or NULL when none. */
static xmlXPathObject *s_nodes(xmlXPathContext *x, xmlNode *node, const char *expr)
{
    x->node = node;
    xmlXPathObject *o = xmlXPathEval(BAD_CAST expr, x);
    if (o == NULL || o->type != XPATH_NODESET || o->nodesetval == NULL ||
        o->nodesetval->nodeNr == 0) {
        xmlXPathFreeObject(o);
        return NULL;
    }
    return o;
}

/* The trimmed string value of expr relative to node (g_free), or NULL when empty or absent. */
static char *s_string(xmlXPathContext *x, xmlNode *node, const char *expr)
{
    g_autofree char *wrapped = g_strdup_printf("string(%s)", expr);
    x->node = node;
    xmlXPathObject *o = xmlXPathEval(BAD_CAST wrapped, x);
    char *out = NULL;
    if (o != NULL && o->type == XPATH_STRING && o->stringval != NULL) {
        out = g_strstrip(g_strdup((const char *)o->stringval));
        if (*out == '\0')
            g_clear_pointer(&out, g_free);
    }
    xmlXPathFreeObject(o);
    return out;
}

/* An attribute of node, trimmed (g_free), or NULL when absent or empty. */
static char *s_attr(xmlNode *node, const char *name)
{
    xmlChar *v = xmlGetProp(node, BAD_CAST name);
    if (v == NULL)
        return NULL;
    char *out = g_strstrip(g_strdup((const char *)v));
    xmlFree(v);
    if (*out == '\0')
        g_clear_pointer(&out, g_free);
    return out;
}

/* ---------------------------------------------------------------- values */

int drv_domxml_uuid_normalize(const char *uuid, char **ret)
{
    if (uuid == NULL)
        return -1;
    while (g_ascii_isspace(*uuid))
        uuid++;
    size_t len = strlen(uuid);
    while (len > 0 && g_ascii_isspace(uuid[len - 1]))
        len--;
    bool dashed = len == 36;
    if (!dashed && len != 32)
        return -1;
    char hex[33];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        bool dash_here = dashed && (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash_here) {
            if (uuid[i] != '-')
                return -1;
            continue;
        }
        if (!g_ascii_isxdigit(uuid[i]))
            return -1;
        hex[n++] = g_ascii_tolower(uuid[i]);
    }
    hex[n] = '\0';
    if (ret != NULL)
        *ret = g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
                               hex + 20);
    return 0;
}

/* Parses a non-negative decimal integer (surrounding blanks allowed). */
static int s_parse_u64(const char *text, uint64_t *ret)
{
    if (text == NULL)
        return -1;
    while (g_ascii_isspace(*text))
        text++;
    if (!g_ascii_isdigit(*text))
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    while (g_ascii_isspace(*end))
        end++;
    if (*end != '\0')
        return -1;
    *ret = v;
    return 0;
}

/* Bytes per unit for libvirt's scaled integers: b/byte/bytes; k/KiB = 1024, KB = 1000; and so on
 * for M, G, T, P, E. The letter is case-insensitive; NULL or "" is KiB (libvirt's default). */
static int s_unit_bytes(const char *unit, uint64_t *ret)
{
    if (unit == NULL || *unit == '\0') {
        *ret = 1024;
        return 0;
    }
    if (!g_ascii_strcasecmp(unit, "b") || !g_ascii_strcasecmp(unit, "byte") ||
        !g_ascii_strcasecmp(unit, "bytes")) {
        *ret = 1;
        return 0;
    }
    static const char powers[] = "kmgtpe";
    const char *p = strchr(powers, g_ascii_tolower(unit[0]));
    if (p == NULL)
        return -1;
    uint64_t base;
    if (unit[1] == '\0' || !g_ascii_strcasecmp(unit + 1, "iB"))
        base = 1024;
    else if (!g_ascii_strcasecmp(unit + 1, "B"))
        base = 1000;
    else
        return -1;
    uint64_t v = 1;
    for (long i = 0; i <= p - powers; i++)
        v *= base;
    *ret = v;
    return 0;
}

/* <memory unit=...>N</memory> → KiB, rounded up. Fails on garbage, unknown units, overflow. */
static int s_parse_memory_kib(const char *text, const char *unit, uint64_t *ret_kib)
{
    uint64_t value, scale;
    if (s_parse_u64(text, &value) < 0 || s_unit_bytes(unit, &scale) < 0)
        return -1;
    uint64_t kib;
    if (scale % 1024 == 0) {
        if (__builtin_mul_overflow(value, scale / 1024, &kib))
            return -1;
    } else {
        uint64_t bytes;
        if (__builtin_mul_overflow(value, scale, &bytes))
            return -1;
        kib = bytes / 1024 + (bytes % 1024 != 0);
    }
    *ret_kib = kib;
    return 0;
}

/* ---------------------------------------------------------------- parse */

typedef struct {
    xmlXPathContext *x;
    xmlNode *root;
    drv_domxml *def;
} s_parser;

static int s_parse_memory(s_parser *p, const char *element, bool required, uint64_t *ret_kib,
                          drv_error **err)
{
    g_autofree char *expr = g_strdup(element);
    xmlNode *n = s_node(p->x, p->root, expr);
    if (n == NULL) {
        if (required)
            return s_fail(err, DRV_ERR_INVALID, 0, "domain '%s': <%s> is missing", p->def->name,
                          element);
        *ret_kib = 0;
        return 0;
    }
    g_autofree char *text = s_string(p->x, n, ".");
    g_autofree char *unit = s_attr(n, "unit");
    if (s_parse_memory_kib(text, unit, ret_kib) < 0)
        return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(n),
                      "domain '%s': %s '%s'%s%s is not a valid size", p->def->name, element,
                      text ? text : "", unit ? " unit " : "", unit ? unit : "");
    return 0;
}

static int s_parse_vcpus(s_parser *p, drv_error **err)
{
    drv_domxml *def = p->def;
    xmlNode *n = s_node(p->x, p->root, "vcpu");
    if (n == NULL)
        return s_fail(err, DRV_ERR_INVALID, 0, "domain '%s': <vcpu> is missing", def->name);
    g_autofree char *text = s_string(p->x, n, ".");
    uint64_t v;
    if (s_parse_u64(text, &v) < 0 || v == 0 || v > UINT32_MAX)
        return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(n),
                      "domain '%s': vcpu '%s' is not a positive count", def->name,
                      text ? text : "");
    def->vcpus = (uint32_t)v;
    def->vcpus_current = def->vcpus;
    g_autofree char *cur = s_attr(n, "current");
    if (cur != NULL) {
        if (s_parse_u64(cur, &v) < 0 || v == 0 || v > def->vcpus)
            return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(n),
                          "domain '%s': vcpu current='%s' is not between 1 and %u", def->name, cur,
                          def->vcpus);
        def->vcpus_current = (uint32_t)v;
    }
    return 0;
}

static int s_parse_cpu(s_parser *p, drv_error **err)
{
    drv_domxml *def = p->def;
    GPtrArray *req = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *dis = g_ptr_array_new_with_free_func(g_free);
    int rc = 0;
    xmlNode *cpu = s_node(p->x, p->root, "cpu");
    if (cpu != NULL) {
        def->cpu_mode = s_attr(cpu, "mode");
        if (def->cpu_mode == NULL)
            def->cpu_mode = g_strdup("custom");
        def->cpu_model = s_string(p->x, cpu, "model");
        xmlXPathObject *o = s_nodes(p->x, cpu, "feature");
        for (int i = 0; o != NULL && i < o->nodesetval->nodeNr; i++) {
            xmlNode *f = o->nodesetval->nodeTab[i];
            char *name = s_attr(f, "name");
            g_autofree char *policy = s_attr(f, "policy");
            if (name == NULL) {
                rc = s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(f),
                            "domain '%s': cpu feature without a name", def->name);
                break;
            }
            if (policy == NULL || !strcmp(policy, "require") || !strcmp(policy, "force")) {
                g_ptr_array_add(req, name);
            } else if (!strcmp(policy, "disable") || !strcmp(policy, "forbid")) {
                g_ptr_array_add(dis, name);
            } else if (!strcmp(policy, "optional")) {
                g_free(name);
            } else {
                rc = s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(f),
                            "domain '%s': cpu feature '%s' has unknown policy '%s'", def->name,
                            name, policy);
                g_free(name);
                break;
            }
        }
        xmlXPathFreeObject(o);
    }
    g_ptr_array_add(req, NULL);
    g_ptr_array_add(dis, NULL);
    def->cpu_features_required = (char **)g_ptr_array_free(req, FALSE);
    def->cpu_features_disabled = (char **)g_ptr_array_free(dis, FALSE);
    return rc;
}

static int s_parse_disk(s_parser *p, xmlNode *n, size_t index, drv_domxml_disk *d, drv_error **err)
{
    g_autofree char *device = s_attr(n, "device");
    g_autofree char *type = s_attr(n, "type");
    d->device = DRV_DOMXML_DISK_DEVICE_DISK;
    if (device != NULL) {
        int i = 0;
        while (i < DRV_DOMXML_DISK_DEVICE_LAST && strcmp(s_disk_device_names[i], device) != 0)
            i++;
        if (i == DRV_DOMXML_DISK_DEVICE_LAST)
            return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(n),
                          "domain '%s': disk %zu has unknown device '%s'", p->def->name, index,
                          device);
        d->device = (drv_domxml_disk_device)i;
    }
    d->type = DRV_DOMXML_DISK_FILE;
    if (type != NULL) {
        int i = 0;
        while (i < DRV_DOMXML_DISK_OTHER && strcmp(s_disk_type_names[i], type) != 0)
            i++;
        d->type = (drv_domxml_disk_type)i; /* OTHER when not one drover knows */
    }
    xmlNode *src = s_node(p->x, n, "source");
    if (src != NULL) {
        switch (d->type) {
        case DRV_DOMXML_DISK_FILE:
            d->source_path = s_attr(src, "file");
            break;
        case DRV_DOMXML_DISK_BLOCK:
            d->source_path = s_attr(src, "dev");
            break;
        case DRV_DOMXML_DISK_DIR:
            d->source_path = s_attr(src, "dir");
            break;
        case DRV_DOMXML_DISK_NETWORK:
            d->source_protocol = s_attr(src, "protocol");
            d->source_path = s_attr(src, "name");
            break;
        case DRV_DOMXML_DISK_VOLUME:
            d->source_pool = s_attr(src, "pool");
            d->source_volume = s_attr(src, "volume");
            if (d->source_pool == NULL || d->source_volume == NULL)
                return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(src),
                              "domain '%s': volume disk %zu needs both pool and volume",
                              p->def->name, index);
            break;
        default:
            break;
        }
    }
    xmlNode *target = s_node(p->x, n, "target");
    if (target != NULL) {
        d->target_dev = s_attr(target, "dev");
        d->target_bus = s_attr(target, "bus");
    }
    d->readonly = s_node(p->x, n, "readonly") != NULL;
    d->shareable = s_node(p->x, n, "shareable") != NULL;
    return 0;
}

static int s_parse_disks(s_parser *p, drv_error **err)
{
    drv_domxml *def = p->def;
    GPtrArray *pools = g_ptr_array_new();
    int rc = 0;
    xmlXPathObject *o = s_nodes(p->x, p->root, "devices/disk");
    if (o != NULL) {
        def->disks = g_new0(drv_domxml_disk, o->nodesetval->nodeNr);
        for (int i = 0; i < o->nodesetval->nodeNr && rc == 0; i++) {
            drv_domxml_disk *d = &def->disks[i];
            def->n_disks++;
            rc = s_parse_disk(p, o->nodesetval->nodeTab[i], (size_t)i, d, err);
            if (rc == 0 && d->source_pool != NULL &&
                !g_ptr_array_find_with_equal_func(pools, d->source_pool, g_str_equal, NULL))
                g_ptr_array_add(pools, g_strdup(d->source_pool));
        }
        xmlXPathFreeObject(o);
    }
    g_ptr_array_add(pools, NULL);
    def->storage_pools = (char **)g_ptr_array_free(pools, FALSE);
    return rc;
}

/* The libvirt networks the domain's <interface type='network'> devices use, each once. */
static void s_parse_networks(s_parser *p)
{
    GPtrArray *nets = g_ptr_array_new();
    xmlXPathObject *o = s_nodes(p->x, p->root, "devices/interface[@type='network']/source");
    for (int i = 0; o != NULL && i < o->nodesetval->nodeNr; i++) {
        char *net = s_attr(o->nodesetval->nodeTab[i], "network");
        if (net == NULL || net[0] == '\0' ||
            g_ptr_array_find_with_equal_func(nets, net, g_str_equal, NULL))
            g_free(net);
        else
            g_ptr_array_add(nets, net);
    }
    if (o != NULL)
        xmlXPathFreeObject(o);
    g_ptr_array_add(nets, NULL);
    p->def->networks = (char **)g_ptr_array_free(nets, FALSE);
}

static int s_parse_metadata(s_parser *p, drv_error **err)
{
    drv_domxml *def = p->def;
#define S_META "metadata/" DRV_DOMXML_NS_PREFIX ":drover/" DRV_DOMXML_NS_PREFIX ":"
    def->affinity_group = s_string(p->x, p->root, S_META "affinity-group");
    def->anti_affinity_group = s_string(p->x, p->root, S_META "anti-affinity-group");
    g_autofree char *labels = s_string(p->x, p->root, S_META "labels");
#undef S_META
    GPtrArray *out = g_ptr_array_new();
    int rc = 0;
    g_auto(GStrv) parts = labels ? g_strsplit(labels, ",", -1) : NULL;
    for (char **l = parts; l != NULL && *l != NULL && rc == 0; l++) {
        g_strstrip(*l);
        if (**l == '\0')
            continue;
        if (**l == '=')
            rc = s_fail(err, DRV_ERR_INVALID, 0, "domain '%s': drover label '%s' has no key",
                        def->name, *l);
        else
            g_ptr_array_add(out, g_strdup(*l));
    }
    g_ptr_array_add(out, NULL);
    def->labels = (char **)g_ptr_array_free(out, FALSE);
    return rc;
}

static int s_parse_doc(s_parser *p, drv_error **err)
{
    drv_domxml *def = p->def;
    xmlNode *root = p->root;
    if (root == NULL || root->ns != NULL || strcmp((const char *)root->name, "domain") != 0)
        return s_fail(err, DRV_ERR_INVALID, root ? xmlGetLineNo(root) : 0,
                      "domain XML: the root element is <%s>, not <domain>",
                      root ? (const char *)root->name : "");

    xmlNode *name = s_node(p->x, root, "name");
    def->name = name ? s_string(p->x, name, ".") : NULL;
    if (def->name == NULL)
        return s_fail(err, DRV_ERR_INVALID, name ? xmlGetLineNo(name) : 0,
                      "domain XML: <name> is missing or empty");
    xmlChar *raw = xmlNodeGetContent(name);
    def->name_untrimmed = raw == NULL || strcmp((const char *)raw, def->name) != 0;
    xmlFree(raw);
    g_autoptr(drv_error) nerr = NULL;
    if (drv_domxml_name_check(def->name, &nerr) < 0)
        return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(name), "%s", nerr->message);

    def->type = s_attr(root, "type");
    if (def->type == NULL)
        return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(root),
                      "domain '%s': the domain type attribute (kvm, qemu, ...) is missing",
                      def->name);

    xmlNode *uuid = s_node(p->x, root, "uuid");
    if (uuid != NULL) {
        g_autofree char *text = s_string(p->x, uuid, ".");
        if (drv_domxml_uuid_normalize(text, &def->uuid) < 0)
            return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(uuid),
                          "domain '%s': uuid '%s' is not a valid UUID", def->name,
                          text ? text : "");
    }

    if (s_parse_memory(p, "memory", true, &def->memory_kib, err) < 0)
        return -1;
    if (def->memory_kib == 0)
        return s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(s_node(p->x, root, "memory")),
                      "domain '%s': memory must be greater than 0", def->name);
    if (s_parse_memory(p, "currentMemory", false, &def->current_memory_kib, err) < 0)
        return -1;
    if (def->current_memory_kib == 0 || def->current_memory_kib > def->memory_kib)
        def->current_memory_kib = def->memory_kib; /* as libvirt does */
    if (s_parse_vcpus(p, err) < 0)
        return -1;

    def->arch = s_string(p->x, root, "os/type/@arch");
    def->description = s_string(p->x, root, "description");
    def->has_serial_file = s_node(p->x, root, "devices/serial[@type='file']") != NULL;
    s_parse_networks(p);
    def->devices = drv_domdevices_names(s_node(p->x, root, "devices"));
    if (s_parse_cpu(p, err) < 0 || s_parse_disks(p, err) < 0 || s_parse_metadata(p, err) < 0)
        return -1;
    return 0;
}

int drv_domxml_parse(const char *xml, size_t len, drv_domxml **ret, drv_error **err)
{
    s_handlers saved;
    s_quiet_begin(&saved);
    int rc = -1;
    drv_domxml *def = g_new0(drv_domxml, 1);
    xmlXPathContext *x = NULL;
    xmlDoc *doc = s_read(&saved, xml, len, err);
    if (doc == NULL)
        goto out;
    x = xmlXPathNewContext(doc);
    if (x == NULL || xmlXPathRegisterNs(x, BAD_CAST DRV_DOMXML_NS_PREFIX, BAD_CAST DRV_DOMXML_NS)) {
        s_fail(err, DRV_ERR_INTERNAL, 0, "domain XML: cannot create an XPath context");
        goto out;
    }
    s_parser p = {.x = x, .root = xmlDocGetRootElement(doc), .def = def};
    rc = s_parse_doc(&p, err);
out:
    xmlXPathFreeContext(x);
    xmlFreeDoc(doc);
    s_quiet_end(&saved);
    if (rc < 0) {
        drv_domxml_destroy(&def);
        return -1;
    }
    *ret = def;
    return 0;
}

/* ---------------------------------------------------------------- set uuid */

/* The first child element of parent named name (no namespace), or NULL. */
static xmlNode *s_child(xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent->children; c != NULL; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns == NULL && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

static bool s_is_blank_text(const xmlNode *n)
{
    if (n == NULL || n->type != XML_TEXT_NODE || n->content == NULL)
        return false;
    for (const xmlChar *c = n->content; *c; c++)
        if (!g_ascii_isspace(*c))
            return false;
    return true;
}

static int s_insert_uuid(xmlDoc *doc, const char *uuid, char **ret_xml, drv_error **err)
{
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root == NULL || root->ns != NULL || strcmp((const char *)root->name, "domain") != 0)
        return s_fail(err, DRV_ERR_INVALID, root ? xmlGetLineNo(root) : 0,
                      "domain XML: the root element is <%s>, not <domain>",
                      root ? (const char *)root->name : "");
    xmlNode *name = s_child(root, "name");
    xmlNode *node = xmlNewDocNode(doc, NULL, BAD_CAST "uuid", BAD_CAST uuid);
    if (name != NULL) {
        xmlNode *anchor = name;
        if (s_is_blank_text(name->prev)) { /* keep the document's indentation */
            xmlNode *ws = xmlNewDocText(doc, name->prev->content);
            anchor = xmlAddNextSibling(name, ws);
        }
        xmlAddNextSibling(anchor, node);
    } else if (root->children != NULL) {
        xmlAddPrevSibling(root->children, node);
    } else {
        xmlAddChild(root, node);
    }
    xmlBuffer *buf = xmlBufferCreate();
    xmlSaveCtxt *save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL);
    long rc = save != NULL ? xmlSaveDoc(save, doc) : -1;
    if (save != NULL && xmlSaveClose(save) < 0)
        rc = -1;
    if (rc < 0) {
        xmlBufferFree(buf);
        return s_fail(err, DRV_ERR_INTERNAL, 0, "domain XML: cannot serialize the document");
    }
    *ret_xml = g_strndup((const char *)xmlBufferContent(buf), (gsize)xmlBufferLength(buf));
    xmlBufferFree(buf);
    return 0;
}

/* The definition already has <uuid> have: the same one keeps xml, another is a conflict. */
static int s_check_uuid(const char *xml, xmlNode *have, const char *want, char **ret_xml,
                        drv_error **err)
{
    xmlChar *text = xmlNodeGetContent(have);
    g_autofree char *have_norm = NULL;
    int rc = -1;
    if (drv_domxml_uuid_normalize((const char *)text, &have_norm) < 0) {
        s_fail(err, DRV_ERR_INVALID, xmlGetLineNo(have),
               "domain XML: uuid '%s' is not a valid UUID", text ? (const char *)text : "");
    } else if (strcmp(have_norm, want) != 0) {
        s_fail(err, DRV_ERR_CONFLICT, xmlGetLineNo(have), "domain XML already has uuid %s, not %s",
               have_norm, want);
    } else {
        *ret_xml = g_strdup(xml);
        rc = 0;
    }
    xmlFree(text);
    return rc;
}

int drv_domxml_set_uuid(const char *xml, const char *uuid, char **ret_xml, drv_error **err)
{
    g_autofree char *want = NULL;
    if (drv_domxml_uuid_normalize(uuid, &want) < 0)
        return s_fail(err, DRV_ERR_INVALID, 0, "uuid '%s' is not a valid UUID",
                      uuid ? uuid : "(null)");
    s_handlers saved;
    s_quiet_begin(&saved);
    int rc = -1;
    xmlDoc *doc = s_read(&saved, xml, xml ? strlen(xml) : 0, err);
    if (doc != NULL) {
        xmlNode *root = xmlDocGetRootElement(doc);
        xmlNode *have = root ? s_child(root, "uuid") : NULL;
        if (have == NULL)
            rc = s_insert_uuid(doc, want, ret_xml, err);
        else
            rc = s_check_uuid(xml, have, want, ret_xml, err);
        xmlFreeDoc(doc);
    }
    s_quiet_end(&saved);
    return rc;
}

/* ---------------------------------------------------------------- free */

void drv_domxml_destroy(drv_domxml **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    drv_domxml *d = *self_p;
    g_free(d->name);
    g_free(d->uuid);
    g_free(d->type);
    g_free(d->arch);
    g_free(d->cpu_mode);
    g_free(d->cpu_model);
    g_strfreev(d->cpu_features_required);
    g_strfreev(d->cpu_features_disabled);
    for (size_t i = 0; i < d->n_disks; i++) {
        drv_domxml_disk *k = &d->disks[i];
        g_free(k->source_path);
        g_free(k->source_protocol);
        g_free(k->source_pool);
        g_free(k->source_volume);
        g_free(k->target_dev);
        g_free(k->target_bus);
    }
    g_free(d->disks);
    g_strfreev(d->storage_pools);
    g_strfreev(d->networks);
    g_strfreev(d->devices);
    g_free(d->description);
    g_free(d->affinity_group);
    g_free(d->anti_affinity_group);
    g_strfreev(d->labels);
    g_free(d);
    *self_p = NULL;
}

int drv_domxml_name_check(const char *name, drv_error **err)
{
    if (name == NULL || name[0] == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "a domain name may not be empty");
    for (const char *c = name; *c; c++)
        if (*c == '/' || g_ascii_iscntrl(*c)) {
            g_autofree char *shown = g_strescape(name, NULL);
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "domain '%s': the name may not contain '/' or control characters",
                                 shown);
        }
    return 0;
}
