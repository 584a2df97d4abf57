/* provision.c — see provision.h. */
#include "provision.h"

#include "config.h"

#include <glib.h>
#include <string.h>
#include <yaml.h>

void drv_prov_disk_clear(drv_prov_disk *d)
{
    g_free(d->pool);
    g_free(d->backing);
    g_free(d->format);
    memset(d, 0, sizeof(*d));
}

int drv_prov_disk_parse(const char *spec, drv_prov_disk *ret, drv_error **err)
{
    drv_prov_disk d = {0};
    g_auto(GStrv) parts = g_strsplit(spec ? spec : "", ",", -1);
    for (char **p = parts; *p != NULL; p++) {
        const char *eq = strchr(*p, '=');
        if (eq == NULL || eq == *p || eq[1] == '\0') {
            drv_prov_disk_clear(&d);
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "--disk '%s': '%s' is not key=value (pool=P,size=S[,backing=V])",
                                 spec, *p);
        }
        g_autofree char *key = g_strndup(*p, (gsize)(eq - *p));
        const char *v = eq + 1;
        uint64_t kib = 0;
        if (strcmp(key, "pool") == 0) {
            g_free(d.pool);
            d.pool = g_strdup(v);
        } else if (strcmp(key, "size") == 0) {
            /* kib must also count in bytes in 64 bits (no wrap-around to a small size) */
            if (!g_ascii_isdigit(v[0]) || drv_parse_size_kib(v, 1024 * 1024, &kib) < 0 ||
                kib == 0 || kib > UINT64_MAX / 1024) {
                drv_prov_disk_clear(&d);
                return drv_error_set(err, DRV_ERR_INVALID, 0,
                                     "--disk '%s': size '%s' is not a size (10G, 512M)", spec, v);
            }
            d.size_bytes = kib * 1024;
        } else if (strcmp(key, "backing") == 0) {
            g_free(d.backing);
            d.backing = g_strdup(v);
        } else if (strcmp(key, "format") == 0 &&
                   (strcmp(v, "qcow2") == 0 || strcmp(v, "raw") == 0)) {
            g_free(d.format);
            d.format = g_strdup(v);
        } else {
            drv_prov_disk_clear(&d);
            return drv_error_set(err, DRV_ERR_INVALID, 0, "--disk '%s': unknown '%s'", spec, *p);
        }
    }
    if (d.pool == NULL || d.size_bytes == 0) {
        drv_prov_disk_clear(&d);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "--disk '%s': pool= and size= are needed",
                             spec ? spec : "");
    }
    if (strchr(d.pool, '/') != NULL || (d.backing != NULL && strchr(d.backing, '/') != NULL)) {
        drv_prov_disk_clear(&d);
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "--disk '%s': pool and backing are names, not paths", spec);
    }
    if (d.format == NULL)
        d.format = g_strdup("qcow2");
    *ret = d;
    return 0;
}

void drv_prov_boot_clear(drv_prov_boot *b)
{
    g_free(b->kernel);
    g_free(b->initrd);
    g_free(b->cmdline);
    memset(b, 0, sizeof(*b));
}

int drv_prov_boot_parse(const char *spec, drv_prov_boot *ret, drv_error **err)
{
    drv_prov_boot b = {0};
    const char *p = spec ? spec : "";
    while (*p != '\0') {
        if (g_str_has_prefix(p, "cmdline=")) {
            b.cmdline = g_strdup(p + strlen("cmdline="));
            break;
        }
        const char *end = strchr(p, ',');
        g_autofree char *item = end ? g_strndup(p, (gsize)(end - p)) : g_strdup(p);
        if (g_str_has_prefix(item, "kernel=") && item[7] != '\0') {
            g_free(b.kernel);
            b.kernel = g_strdup(item + 7);
        } else if (g_str_has_prefix(item, "initrd=") && item[7] != '\0') {
            g_free(b.initrd);
            b.initrd = g_strdup(item + 7);
        } else {
            drv_prov_boot_clear(&b);
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "--boot '%s': unknown '%s' (kernel=K,initrd=I[,cmdline=ARGS])",
                                 spec, item);
        }
        p = end ? end + 1 : p + strlen(p);
    }
    if (b.kernel == NULL) {
        drv_prov_boot_clear(&b);
        return drv_error_set(err, DRV_ERR_INVALID, 0, "--boot '%s': kernel= is needed",
                             spec ? spec : "");
    }
    *ret = b;
    return 0;
}

int drv_prov_cloud_config_check(const char *text, size_t len, drv_error **err)
{
    if (text == NULL || len < 13 || strncmp(text, "#cloud-config", 13) != 0 ||
        (len > 13 && text[13] != '\n' && text[13] != '\r' && text[13] != ' '))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "user-data: the first line must be '#cloud-config'");
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return drv_error_set(err, DRV_ERR_INTERNAL, 0, "user-data: cannot start the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, depth = 0;
    bool first_node = true, done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = drv_error_set(err, DRV_ERR_INVALID, 0,
                               "user-data: invalid YAML at line %zu, column %zu: %s",
                               parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "parse error");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (first_node && depth == 0 && ev.type != YAML_MAPPING_START_EVENT) {
                rc = drv_error_set(err, DRV_ERR_INVALID, 0,
                                   "user-data: cloud-config must be a mapping (key: value) at "
                                   "the top, line %zu",
                                   ev.start_mark.line + 1);
                done = true;
            }
            first_node = false;
            if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
                depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == 0 && first_node)
        rc = drv_error_set(err, DRV_ERR_INVALID, 0, "user-data: no cloud-config after the header");
    return rc;
}

char *drv_prov_user_data_with_key(const char *user_data, const char *ssh_key, drv_error **err)
{
    g_autofree char *key = g_strstrip(g_strdup(ssh_key ? ssh_key : ""));
    if (key[0] == '\0' || strchr(key, '\n') != NULL) {
        drv_error_set(err, DRV_ERR_INVALID, 0, "--ssh-key: the file must hold one public key line");
        return NULL;
    }
    g_autofree char *esc = g_strescape(key, NULL);
    size_t n = strlen(user_data);
    char *out = g_strdup_printf("%s%sssh_authorized_keys:\n  - \"%s\"\n", user_data,
                                n > 0 && user_data[n - 1] != '\n' ? "\n" : "", esc);
    /* appended as a block key: a user-data whose top mapping is a flow mapping ({...}) cannot
     * take it, so the result is checked again rather than handed out broken */
    drv_error *e = NULL;
    if (drv_prov_cloud_config_check(out, strlen(out), &e) < 0) {
        drv_error_set(err, DRV_ERR_INVALID, 0,
                      "--ssh-key: cannot add ssh_authorized_keys to this user-data (%s); put the "
                      "key in the user-data instead",
                      e->message);
        drv_error_destroy(&e);
        g_free(out);
        return NULL;
    }
    return out;
}

/* A YAML double-quoted scalar: '"' and '\\' escaped (names have no control characters). */
static char *s_yaml_quoted(const char *v)
{
    GString *s = g_string_new("\"");
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\')
            g_string_append_c(s, '\\');
        g_string_append_c(s, *c);
    }
    g_string_append_c(s, '"');
    return g_string_free(s, FALSE);
}

char *drv_prov_meta_data(const char *name)
{
    g_autofree char *q = s_yaml_quoted(name);
    return g_strdup_printf("instance-id: %s\nlocal-hostname: %s\n", q, q);
}

/* g_markup_printf_escaped, but NULL → "". */
static void s_add(GString *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void s_add(GString *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *x = g_markup_vprintf_escaped(fmt, ap);
    va_end(ap);
    g_string_append(s, x);
    g_free(x);
}

int drv_prov_domain_xml(const drv_prov_domain *sp, char **ret, drv_error **err)
{
    if (sp->name == NULL || sp->name[0] == '\0' || sp->disk_path == NULL || sp->vcpus == 0 ||
        sp->memory_kib == 0)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "domain: a name, vCPUs, memory and a disk are needed");
    GString *s = g_string_new(NULL);
    s_add(s, "<domain type='%s'>\n", sp->virt_type ? sp->virt_type : "kvm");
    s_add(s, "  <name>%s</name>\n", sp->name);
    if (sp->uuid != NULL)
        s_add(s, "  <uuid>%s</uuid>\n", sp->uuid);
    s_add(s, "  <memory unit='KiB'>%llu</memory>\n", (unsigned long long)sp->memory_kib);
    s_add(s, "  <currentMemory unit='KiB'>%llu</currentMemory>\n",
          (unsigned long long)sp->memory_kib);
    s_add(s, "  <vcpu placement='static'>%u</vcpu>\n", sp->vcpus);
    g_string_append(s, "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n");
    if (sp->boot != NULL) {
        s_add(s, "    <kernel>%s</kernel>\n", sp->boot->kernel);
        if (sp->boot->initrd != NULL)
            s_add(s, "    <initrd>%s</initrd>\n", sp->boot->initrd);
        if (sp->boot->cmdline != NULL)
            s_add(s, "    <cmdline>%s</cmdline>\n", sp->boot->cmdline);
    } else {
        g_string_append(s, "    <boot dev='hd'/>\n");
    }
    g_string_append(s, "  </os>\n  <features><acpi/><apic/></features>\n");
    if (sp->cpu_xml != NULL && sp->cpu_xml[0] != '\0') {
        g_string_append(s, "  ");
        g_string_append(s, sp->cpu_xml); /* already XML */
        g_string_append(s, "\n");
    }
    g_string_append(s, "  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n"
                       "  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n"
                       "  <devices>\n");
    if (sp->emulator != NULL)
        s_add(s, "    <emulator>%s</emulator>\n", sp->emulator);
    s_add(s,
          "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n"
          "      <source file='%s'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n",
          sp->disk_format ? sp->disk_format : "qcow2", sp->disk_path);
    if (sp->seed_path != NULL)
        s_add(s,
              "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n"
              "      <source file='%s'/>\n      <target dev='hdc' bus='ide'/>\n"
              "      <readonly/>\n    </disk>\n",
              sp->seed_path);
    if (sp->network != NULL)
        s_add(s,
              "    <interface type='network'>\n      <source network='%s'/>\n"
              "      <model type='virtio'/>\n    </interface>\n",
              sp->network);
    if (sp->serial_log != NULL)
        s_add(s,
              "    <serial type='file'>\n      <source path='%s' append='on'/>\n"
              "      <target port='0'/>\n    </serial>\n",
              sp->serial_log);
    else
        g_string_append(s, "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n");
    g_string_append(s, "    <console type='pty'>\n      <target type='serial' port='0'/>\n"
                       "    </console>\n    <memballoon model='virtio'/>\n  </devices>\n"
                       "</domain>\n");
    *ret = g_string_free(s, FALSE);
    return 0;
}

char *drv_prov_pool_xml(const char *name, const char *path)
{
    return g_markup_printf_escaped("<pool type='dir'>\n  <name>%s</name>\n  <target>\n"
                                   "    <path>%s</path>\n  </target>\n</pool>\n",
                                   name, path);
}

char *drv_prov_vol_xml(const char *name, uint64_t capacity_bytes, const char *format,
                       const char *backing_path, const char *backing_format)
{
    GString *s = g_string_new(NULL);
    s_add(s, "<volume>\n  <name>%s</name>\n  <capacity unit='bytes'>%llu</capacity>\n", name,
          (unsigned long long)capacity_bytes);
    s_add(s, "  <target>\n    <format type='%s'/>\n  </target>\n", format ? format : "qcow2");
    if (backing_path != NULL)
        s_add(s,
              "  <backingStore>\n    <path>%s</path>\n    <format type='%s'/>\n"
              "  </backingStore>\n",
              backing_path, backing_format ? backing_format : "raw");
    g_string_append(s, "</volume>\n");
    return g_string_free(s, FALSE);
}

int drv_prov_net_xml(const char *name, const char *bridge, const char *subnet, char **ret,
                     drv_error **err)
{
    if ((bridge == NULL) == (subnet == NULL))
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "network '%s': give exactly one of --bridge BR or --nat SUBNET", name);
    if (bridge != NULL) {
        *ret = g_markup_printf_escaped("<network>\n  <name>%s</name>\n  <forward mode='bridge'/>\n"
                                       "  <bridge name='%s'/>\n</network>\n",
                                       name, bridge);
        return 0;
    }
    unsigned a, b, c, d, prefix;
    char tail;
    if (sscanf(subnet, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &prefix, &tail) != 5 || a > 255 ||
        b > 255 || c > 255 || d != 0 || prefix != 24)
        return drv_error_set(err, DRV_ERR_INVALID, 0,
                             "network '%s': --nat '%s' is not a subnet A.B.C.0/24", name, subnet);
    *ret = g_markup_printf_escaped(
        "<network>\n  <name>%s</name>\n  <forward mode='nat'/>\n"
        "  <ip address='%u.%u.%u.1' netmask='255.255.255.0'>\n"
        "    <dhcp>\n      <range start='%u.%u.%u.100' end='%u.%u.%u.199'/>\n    </dhcp>\n"
        "  </ip>\n</network>\n",
        name, a, b, c, a, b, c, a, b, c);
    return 0;
}

const char *drv_prov_image_format(const void *data, size_t len)
{
    static const unsigned char magic[4] = {'Q', 'F', 'I', 0xfb};
    return data != NULL && len >= 4 && memcmp(data, magic, 4) == 0 ? "qcow2" : "raw";
}

const char *const drv_prov_wipe_algorithms[] = {
    "zero",      "nnsa",       "dod",    "bsi",  "gutmann", "schneier",
    "pfitzner7", "pfitzner33", "random", "trim", NULL,
};

int drv_prov_wipe_algorithm_check(const char *name, drv_error **err)
{
    for (size_t i = 0; drv_prov_wipe_algorithms[i] != NULL; i++)
        if (g_strcmp0(name, drv_prov_wipe_algorithms[i]) == 0)
            return 0;
    g_autofree char *all = g_strjoinv(", ", (char **)drv_prov_wipe_algorithms);
    return drv_error_set(err, DRV_ERR_INVALID, 0, "unknown wipe algorithm '%s' (one of: %s)",
                         name ? name : "", all);
}

int drv_prov_cpu_xml(const char *mode, const char *baseline_xml, char **ret, drv_error **err)
{
    *ret = NULL;
    if (mode == NULL || strcmp(mode, "baseline") == 0) {
        if (baseline_xml == NULL || baseline_xml[0] == '\0')
            return drv_error_set(err, DRV_ERR_INVALID, 0,
                                 "--cpu baseline: the cluster has no CPU baseline");
        *ret = g_strdup(baseline_xml);
        return 0;
    }
    if (strcmp(mode, "host-model") == 0) {
        *ret = g_strdup("<cpu mode='host-model' check='partial'/>");
        return 0;
    }
    return drv_error_set(err, DRV_ERR_INVALID, 0, "--cpu '%s': baseline or host-model", mode);
}

bool drv_prov_name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
           strlen(name) < 128;
}
