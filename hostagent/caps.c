/* caps.c — see caps.h. libxml2 XPath over the capabilities documents. */
#include "caps.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <string.h>

typedef struct {
    xmlDocPtr doc;
    xmlXPathContextPtr xp;
} s_xml;

static void s_xml_clear(s_xml *x)
{
    if (x->xp)
        xmlXPathFreeContext(x->xp);
    if (x->doc)
        xmlFreeDoc(x->doc);
    x->xp = NULL;
    x->doc = NULL;
}

/* Silences libxml2's default error printing; errors are reported through drv_error. */
static void s_xml_quiet(void *ctx, const char *msg, ...)
{
}

static int s_xml_open(s_xml *x, const char *xml, const char *what, drv_error **err)
{
    memset(x, 0, sizeof(*x));
    if (xml == NULL || *xml == '\0')
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: empty document", what);
    xmlSetGenericErrorFunc(NULL, s_xml_quiet);
    x->doc = xmlReadMemory(xml, (int)strlen(xml), what, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (x->doc == NULL) {
        const xmlError *e = xmlGetLastError();
        return drv_error_set(err, DRV_ERR_INVALID, 0, "%s: malformed XML at line %d: %s", what,
                             e ? e->line : 0, e && e->message ? g_strchomp(e->message) : "?");
    }
    x->xp = xmlXPathNewContext(x->doc);
    if (x->xp == NULL) {
        s_xml_clear(x);
        return drv_error_set(err, DRV_ERR_INTERNAL, 0, "%s: cannot create an XPath context", what);
    }
    return 0;
}

/* The string value of an XPath expression (trimmed), or NULL when empty. Owned. */
static char *s_xml_string(s_xml *x, xmlNodePtr node, const char *expr)
{
    x->xp->node = node ? node : xmlDocGetRootElement(x->doc);
    g_autofree char *wrapped = g_strdup_printf("string(%s)", expr);
    xmlXPathObjectPtr obj = xmlXPathEvalExpression((const xmlChar *)wrapped, x->xp);
    char *out = NULL;
    if (obj != NULL && obj->type == XPATH_STRING && obj->stringval != NULL) {
        out = g_strstrip(g_strdup((const char *)obj->stringval));
        if (*out == '\0')
            g_clear_pointer(&out, g_free);
    }
    xmlXPathFreeObject(obj);
    return out;
}

/* The nodes matching expr (possibly none). Free with xmlXPathFreeObject. */
static xmlXPathObjectPtr s_xml_nodes(s_xml *x, xmlNodePtr node, const char *expr)
{
    x->xp->node = node ? node : xmlDocGetRootElement(x->doc);
    return xmlXPathEvalExpression((const xmlChar *)expr, x->xp);
}

static void s_set(char **field, char *value)
{
    if (value == NULL)
        return;
    g_free(*field);
    *field = value;
}

int drv_caps_parse_host(const char *xml, drv_host_facts *facts, drv_error **err)
{
    s_xml x;
    if (s_xml_open(&x, xml, "capabilities", err) < 0)
        return -1;
    xmlNodePtr root = xmlDocGetRootElement(x.doc);
    if (root == NULL || strcmp((const char *)root->name, "capabilities") != 0) {
        s_xml_clear(&x);
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "capabilities: root element is not <capabilities>");
    }
    s_set(&facts->arch, s_xml_string(&x, NULL, "/capabilities/host/cpu/arch"));
    s_set(&facts->cpu_vendor, s_xml_string(&x, NULL, "/capabilities/host/cpu/vendor"));
    s_set(&facts->cpu_model, s_xml_string(&x, NULL, "/capabilities/host/cpu/model"));
    s_set(&facts->host_uuid, s_xml_string(&x, NULL, "/capabilities/host/uuid"));

    xmlXPathObjectPtr feats = s_xml_nodes(&x, NULL, "/capabilities/host/cpu/feature/@name");
    xmlXPathObjectPtr flags = s_xml_nodes(&x, NULL, "/capabilities/host/cpu/features/*");
    bool any = (feats && feats->nodesetval && feats->nodesetval->nodeNr > 0) ||
               (flags && flags->nodesetval && flags->nodesetval->nodeNr > 0);
    if (any)
        g_ptr_array_set_size(facts->cpu_features, 0);
    for (int i = 0; feats && feats->nodesetval && i < feats->nodesetval->nodeNr; i++) {
        xmlChar *v = xmlNodeGetContent(feats->nodesetval->nodeTab[i]);
        drv_host_facts_add_feature(facts, (const char *)v);
        xmlFree(v);
    }
    for (int i = 0; flags && flags->nodesetval && i < flags->nodesetval->nodeNr; i++)
        drv_host_facts_add_feature(facts, (const char *)flags->nodesetval->nodeTab[i]->name);
    xmlXPathFreeObject(feats);
    xmlXPathFreeObject(flags);
    s_xml_clear(&x);
    return 0;
}

int drv_caps_parse_domcaps(const char *xml, drv_host_facts *facts, drv_error **err)
{
    s_xml x;
    if (s_xml_open(&x, xml, "domain capabilities", err) < 0)
        return -1;
    xmlNodePtr root = xmlDocGetRootElement(x.doc);
    if (root == NULL || strcmp((const char *)root->name, "domainCapabilities") != 0) {
        s_xml_clear(&x);
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "domain capabilities: root element is not <domainCapabilities>");
    }
    int found = 0;
    xmlXPathObjectPtr mode = s_xml_nodes(
        &x, NULL, "/domainCapabilities/cpu/mode[@name='host-model' and @supported='yes']");
    if (mode && mode->nodesetval && mode->nodesetval->nodeNr > 0) {
        xmlNodePtr m = mode->nodesetval->nodeTab[0];
        char *model = s_xml_string(&x, m, "model");
        if (model != NULL) {
            found = 1;
            s_set(&facts->cpu_model, model);
            s_set(&facts->cpu_vendor, s_xml_string(&x, m, "vendor"));
            g_ptr_array_set_size(facts->cpu_features, 0);
            xmlXPathObjectPtr feats =
                s_xml_nodes(&x, m, "feature[not(@policy) or @policy='require']/@name");
            for (int i = 0; feats && feats->nodesetval && i < feats->nodesetval->nodeNr; i++) {
                xmlChar *v = xmlNodeGetContent(feats->nodesetval->nodeTab[i]);
                drv_host_facts_add_feature(facts, (const char *)v);
                xmlFree(v);
            }
            xmlXPathFreeObject(feats);
        }
    }
    xmlXPathFreeObject(mode);
    s_xml_clear(&x);
    return found;
}

void drv_caps_apply_overrides(drv_host_facts *facts, const char *arch, const char *cpu_model,
                              const char *const *features, const char *host_uuid)
{
    if (arch != NULL && *arch != '\0')
        s_set(&facts->arch, g_strdup(arch));
    if (cpu_model != NULL && *cpu_model != '\0')
        s_set(&facts->cpu_model, g_strdup(cpu_model));
    if (host_uuid != NULL && *host_uuid != '\0')
        s_set(&facts->host_uuid, g_strdup(host_uuid));
    if (features != NULL)
        drv_host_facts_set_features(facts, features);
}

int drv_caps_parse_pool(const char *xml, drv_pool_fact *pool, drv_error **err)
{
    s_xml x;
    if (s_xml_open(&x, xml, "storage pool", err) < 0)
        return -1;
    s_set(&pool->type, s_xml_string(&x, NULL, "/pool/@type"));
    s_set(&pool->name, s_xml_string(&x, NULL, "/pool/name"));
    s_set(&pool->path, s_xml_string(&x, NULL, "/pool/target/path"));
    s_xml_clear(&x);
    return 0;
}

int drv_caps_parse_snapshot(const char *xml, int64_t *ret_creation_time, char **ret_state,
                            drv_error **err)
{
    s_xml x;
    if (s_xml_open(&x, xml, "snapshot", err) < 0)
        return -1;
    g_autofree char *t = s_xml_string(&x, NULL, "/domainsnapshot/creationTime");
    *ret_creation_time = t ? g_ascii_strtoll(t, NULL, 10) : 0;
    *ret_state = s_xml_string(&x, NULL, "/domainsnapshot/state");
    s_xml_clear(&x);
    return 0;
}

char *drv_caps_domain_name(const char *xml)
{
    s_xml x;
    if (s_xml_open(&x, xml, "domain", NULL) < 0)
        return NULL;
    char *name = s_xml_string(&x, NULL, "/domain/name");
    s_xml_clear(&x);
    return name;
}
