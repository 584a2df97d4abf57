/* test_domxml.c — golden tests for common/domxml: sample definitions under data/ are parsed and the
 * result, rendered one fact per line, is compared with data/<name>.golden; malformed and invalid
 * definitions fail with DRV_ERR_INVALID naming the field (and the line); nothing reaches stderr.
 * Set DROVER_UPDATE_GOLDEN=1 to rewrite the golden files (then review the diff). */
#include "domxml.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>

#ifndef DATA_DIR
#error "DATA_DIR must point at tests/common/data"
#endif

static char *s_read_data(const char *name)
{
    g_autofree char *path = g_build_filename(DATA_DIR, name, NULL);
    char *text = NULL;
    GError *gerr = NULL;
    if (!g_file_get_contents(path, &text, NULL, &gerr))
        fail_msg("%s", gerr->message);
    return text;
}

static const char *s_or_dash(const char *s)
{
    return s ? s : "-";
}

/* One fact per line, in a fixed order: the golden format. */
static char *s_dump(const drv_domxml *d)
{
    GString *s = g_string_new(NULL);
    g_autofree char *req = g_strjoinv(",", d->cpu_features_required);
    g_autofree char *dis = g_strjoinv(",", d->cpu_features_disabled);
    g_autofree char *pools = g_strjoinv(",", d->storage_pools);
    g_autofree char *labels = g_strjoinv(",", d->labels);
    g_string_append_printf(s, "name=%s\nuuid=%s\ntype=%s\n", d->name, s_or_dash(d->uuid), d->type);
    g_string_append_printf(s, "vcpus=%u\nvcpus_current=%u\n", d->vcpus, d->vcpus_current);
    g_string_append_printf(
        s, "memory_kib=%" G_GUINT64_FORMAT "\ncurrent_memory_kib=%" G_GUINT64_FORMAT "\n",
        d->memory_kib, d->current_memory_kib);
    g_string_append_printf(s, "arch=%s\ncpu_mode=%s\ncpu_model=%s\n", s_or_dash(d->arch),
                           s_or_dash(d->cpu_mode), s_or_dash(d->cpu_model));
    g_string_append_printf(s, "cpu_features_required=%s\ncpu_features_disabled=%s\n", req, dis);
    for (size_t i = 0; i < d->n_disks; i++) {
        const drv_domxml_disk *k = &d->disks[i];
        g_string_append_printf(
            s,
            "disk[%zu]=device:%s type:%s path:%s protocol:%s pool:%s volume:%s dev:%s bus:%s "
            "readonly:%d shareable:%d\n",
            i, drv_domxml_disk_device_to_string(k->device), drv_domxml_disk_type_to_string(k->type),
            s_or_dash(k->source_path), s_or_dash(k->source_protocol), s_or_dash(k->source_pool),
            s_or_dash(k->source_volume), s_or_dash(k->target_dev), s_or_dash(k->target_bus),
            k->readonly, k->shareable);
    }
    g_string_append_printf(s, "storage_pools=%s\nhas_serial_file=%d\ndescription=%s\n", pools,
                           d->has_serial_file, s_or_dash(d->description));
    g_string_append_printf(s, "affinity_group=%s\nanti_affinity_group=%s\nlabels=%s\n",
                           s_or_dash(d->affinity_group), s_or_dash(d->anti_affinity_group), labels);
    return g_string_free(s, FALSE);
}

/* Compares text with data/<golden>, or rewrites it when DROVER_UPDATE_GOLDEN is set. */
static void s_golden(const char *golden, const char *text)
{
    if (g_getenv("DROVER_UPDATE_GOLDEN") != NULL) {
        g_autofree char *path = g_build_filename(DATA_DIR, golden, NULL);
        assert_true(g_file_set_contents(path, text, -1, NULL));
        return;
    }
    g_autofree char *want = s_read_data(golden);
    if (strcmp(want, text) != 0)
        fail_msg("%s differs:\n--- expected\n%s--- got\n%s", golden, want, text);
}

/* Runs fn with fd 2 redirected to a file; returns how many bytes were written to stderr. */
static long s_stderr_bytes_during(void (*fn)(void *), void *arg)
{
    fflush(stderr);
    char path[] = "/tmp/drover-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    return (long)st.st_size;
}

static drv_domxml *s_parse_ok(const char *xml)
{
    drv_domxml *d = NULL;
    drv_error *err = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &d, &err) != 0)
        fail_msg("parse failed: %s", err->message);
    assert_null(err);
    assert_non_null(d);
    return d;
}

/* Parses xml expecting DRV_ERR_INVALID whose message contains want; returns the error. */
static drv_error *s_parse_fails(const char *xml, const char *want)
{
    drv_domxml *d = (drv_domxml *)0x1;
    drv_error *err = NULL;
    assert_int_equal(drv_domxml_parse(xml, strlen(xml), &d, &err), -1);
    assert_ptr_equal(d, (drv_domxml *)0x1); /* not written on failure */
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    if (strstr(err->message, want) == NULL)
        fail_msg("error '%s' does not mention '%s'", err->message, want);
    return err;
}

static void s_golden_file(const char *xml_name, const char *golden_name)
{
    g_autofree char *xml = s_read_data(xml_name);
    drv_domxml *d = s_parse_ok(xml);
    g_autofree char *dump = s_dump(d);
    s_golden(golden_name, dump);
    drv_domxml_destroy(&d);
    assert_null(d);
}

static void test_golden_qemu_full(void **state)
{
    s_golden_file("qemu-full.xml", "qemu-full.golden");
    /* the facts the scheduler request is built from, checked directly as well */
    g_autofree char *xml = s_read_data("qemu-full.xml");
    drv_domxml *d = s_parse_ok(xml);
    assert_string_equal(d->name, "web1");
    assert_string_equal(d->uuid, "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c");
    assert_int_equal(d->vcpus, 4);
    assert_true(d->memory_kib == 2ull * 1024 * 1024);
    assert_true(d->current_memory_kib == 1536ull * 1024);
    assert_string_equal(d->arch, "x86_64");
    assert_string_equal(d->cpu_mode, "custom");
    assert_string_equal(d->cpu_model, "Skylake-Client");
    assert_int_equal(g_strv_length(d->cpu_features_required), 3);
    assert_true(g_strv_contains((const char *const *)d->cpu_features_required, "aes"));
    assert_false(g_strv_contains((const char *const *)d->cpu_features_required, "pcid"));
    assert_int_equal(g_strv_length(d->cpu_features_disabled), 2);
    assert_int_equal(d->n_disks, 6);
    assert_int_equal(d->disks[1].type, DRV_DOMXML_DISK_VOLUME);
    assert_string_equal(d->disks[1].source_pool, "shared");
    assert_true(d->disks[1].shareable);
    assert_int_equal(d->disks[5].device, DRV_DOMXML_DISK_DEVICE_CDROM);
    assert_true(d->disks[5].readonly);
    assert_null(d->disks[5].source_path);
    assert_int_equal(g_strv_length(d->storage_pools), 1);
    assert_true(d->has_serial_file);
    assert_string_equal(d->affinity_group, "cache-pair");
    assert_string_equal(d->anti_affinity_group, "web");
    assert_int_equal(g_strv_length(d->labels), 3);
    assert_string_equal(d->labels[2], "zone");
    drv_domxml_destroy(&d);
}

static void test_golden_minimal(void **state)
{
    s_golden_file("minimal.xml", "minimal.golden");
    g_autofree char *xml = s_read_data("minimal.xml");
    drv_domxml *d = s_parse_ok(xml);
    assert_null(d->uuid);
    assert_null(d->arch);
    assert_null(d->cpu_mode);
    assert_non_null(d->cpu_features_required); /* empty vectors, never NULL */
    assert_null(d->cpu_features_required[0]);
    assert_non_null(d->labels);
    assert_null(d->labels[0]);
    assert_int_equal(d->n_disks, 0);
    assert_null(d->disks);
    assert_null(d->affinity_group);
    drv_domxml_destroy(&d);
}

static void test_golden_host_passthrough(void **state)
{
    s_golden_file("host-passthrough.xml", "host-passthrough.golden");
}

/* The buffer need not be NUL-terminated: only len bytes are read. */
static void test_parse_uses_len(void **state)
{
    g_autofree char *xml = s_read_data("minimal.xml");
    size_t len = strlen(xml);
    char *copy = g_malloc(len); /* exactly len bytes, no NUL: ASan catches a read past it */
    memcpy(copy, xml, len);
    drv_domxml *d = NULL;
    assert_int_equal(drv_domxml_parse(copy, len, &d, NULL), 0);
    assert_string_equal(d->name, "tiny");
    drv_domxml_destroy(&d);
    g_free(copy);
}

typedef struct {
    const char *file;
    int line;
    const char *want;
    drv_error *err; /* filled by s_parse_quietly */
    int rc;
} malformed_case;

/* Runs under a redirected stderr: only parses, asserts nothing (a failure message would be lost).
 */
static void s_parse_quietly(void *arg)
{
    malformed_case *c = arg;
    g_autofree char *xml = s_read_data(c->file);
    drv_domxml *d = NULL;
    c->rc = drv_domxml_parse(xml, strlen(xml), &d, &c->err);
    drv_domxml_destroy(&d);
}

static void test_malformed(void **state)
{
    malformed_case cases[] = {
        {"malformed-unclosed.xml", 5, "mismatch", NULL, 0},
        {"malformed-two-roots.xml", 11, "Extra content", NULL, 0},
        {"malformed-text.xml", 1, "Start tag expected", NULL, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        malformed_case *c = &cases[i];
        long n = s_stderr_bytes_during(s_parse_quietly, c);
        if (n != 0)
            fail_msg("%s: %ld bytes written to stderr", c->file, n);
        assert_int_equal(c->rc, -1);
        assert_non_null(c->err);
        assert_int_equal(c->err->kind, DRV_ERR_INVALID);
        assert_non_null(strstr(c->err->message, "malformed"));
        if (c->err->line != c->line)
            fail_msg("%s: line %d, expected %d (%s)", c->file, c->err->line, c->line,
                     c->err->message);
        if (strstr(c->err->message, c->want) == NULL)
            fail_msg("%s: '%s' lacks libxml2's '%s'", c->file, c->err->message, c->want);
        drv_error_destroy(&c->err);
    }
    /* empty and NULL input */
    drv_domxml *d = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_domxml_parse("", 0, &d, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    assert_int_equal(drv_domxml_parse(NULL, 10, &d, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    assert_null(d);
}

static void s_ignore(void *ctx, xmlErrorPtr e)
{
}

/* A handler the application installed is still there after drover parsed. */
static void test_handlers_restored(void **state)
{
    xmlSetStructuredErrorFunc((void *)0x1234, s_ignore);
    g_autofree char *xml = s_read_data("malformed-unclosed.xml");
    drv_domxml *d = NULL;
    assert_int_equal(drv_domxml_parse(xml, strlen(xml), &d, NULL), -1);
    assert_ptr_equal(xmlStructuredError, s_ignore);
    assert_ptr_equal(xmlStructuredErrorContext, (void *)0x1234);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

/* External entities are never loaded (no file contents leak into the name): a DOCTYPE is refused
 * outright (issue 13). */
static void test_no_external_entities(void **state)
{
    g_autofree char *xml = s_read_data("entity.xml");
    drv_domxml *d = NULL;
    drv_error *err = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &d, &err) == 0) {
        assert_null(strstr(d->name, "root:"));
        drv_domxml_destroy(&d);
    } else {
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        assert_non_null(strstr(err->message, "DOCTYPE"));
        drv_error_destroy(&err);
    }
}

#define HEAD "<domain type='qemu'>\n  <name>vm</name>\n"

typedef struct {
    const char *xml;
    const char *want; /* in the message */
    int line;         /* expected err->line, 0 = don't care */
} invalid_case;

static void test_invalid_fields(void **state)
{
    const invalid_case cases[] = {
        {"<domain type='qemu'><memory>1</memory><vcpu>1</vcpu></domain>", "<name>", 0},
        {"<domain type='qemu'><name>  </name><memory>1</memory><vcpu>1</vcpu></domain>", "<name>",
         0},
        {"<domain type='qemu'><name>a/b</name><memory>1</memory><vcpu>1</vcpu></domain>", "'/'", 0},
        {"<domain><name>vm</name><memory>1</memory><vcpu>1</vcpu></domain>", "type", 0},
        {"<network><name>vm</name></network>", "<network>", 0},
        {"<d:domain xmlns:d='urn:x' type='qemu'><name>vm</name></d:domain>", "root", 0},
        {HEAD "  <vcpu>1</vcpu>\n</domain>", "<memory> is missing", 0},
        {HEAD "  <memory>0</memory>\n  <vcpu>1</vcpu>\n</domain>", "memory", 3},
        {HEAD "  <memory unit='GiB'>0</memory>\n  <vcpu>1</vcpu>\n</domain>", "memory", 3},
        {HEAD "  <memory>lots</memory>\n  <vcpu>1</vcpu>\n</domain>", "memory 'lots'", 3},
        {HEAD "  <memory>-5</memory>\n  <vcpu>1</vcpu>\n</domain>", "memory", 3},
        {HEAD "  <memory unit='parsec'>5</memory>\n  <vcpu>1</vcpu>\n</domain>", "parsec", 3},
        {HEAD "  <memory unit='EiB'>18446744073709551615</memory>\n  <vcpu>1</vcpu>\n</domain>",
         "memory", 3},
        {HEAD "  <memory>1</memory>\n  <currentMemory unit='Q'>1</currentMemory>\n"
              "  <vcpu>1</vcpu>\n</domain>",
         "currentMemory", 4},
        {HEAD "  <memory>1024</memory>\n</domain>", "<vcpu> is missing", 0},
        {HEAD "  <memory>1024</memory>\n  <vcpu>0</vcpu>\n</domain>", "vcpu", 4},
        {HEAD "  <memory>1024</memory>\n  <vcpu>two</vcpu>\n</domain>", "vcpu 'two'", 4},
        {HEAD "  <memory>1024</memory>\n  <vcpu>4294967296</vcpu>\n</domain>", "vcpu", 4},
        {HEAD "  <memory>1024</memory>\n  <vcpu current='3'>2</vcpu>\n</domain>", "current", 4},
        {HEAD "  <uuid>1234</uuid>\n  <memory>1</memory>\n  <vcpu>1</vcpu>\n</domain>",
         "uuid '1234'", 3},
        {HEAD "  <uuid>zzzzzzzz-0d3f-4e5a-9b8c-7d6e5f4a3b2c</uuid>\n  <memory>1</memory>\n"
              "  <vcpu>1</vcpu>\n</domain>",
         "uuid", 3},
        {HEAD "  <uuid>6b1a7e2c0-d3f-4e5a-9b8c-7d6e5f4a3b2c</uuid>\n  <memory>1</memory>\n"
              "  <vcpu>1</vcpu>\n</domain>",
         "uuid", 3},
        {HEAD "  <uuid></uuid>\n  <memory>1</memory>\n  <vcpu>1</vcpu>\n</domain>", "uuid", 3},
        {HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <cpu>\n    <feature policy='require'/>\n"
              "  </cpu>\n</domain>",
         "cpu feature without a name", 6},
        {HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <cpu>\n"
              "    <feature policy='maybe' name='avx'/>\n  </cpu>\n</domain>",
         "policy 'maybe'", 6},
        {HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <devices>\n    <disk type='volume'>\n"
              "      <source pool='p'/>\n    </disk>\n  </devices>\n</domain>",
         "pool and volume", 7},
        {HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <devices>\n"
              "    <disk device='tape'/>\n  </devices>\n</domain>",
         "device 'tape'", 6},
        {HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <metadata>\n"
              "    <drover:drover xmlns:drover='https://drover.dev/xml/1'>\n"
              "      <drover:labels>a=1,=2</drover:labels>\n    </drover:drover>\n"
              "  </metadata>\n</domain>",
         "label '=2'", 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        drv_error *err = s_parse_fails(cases[i].xml, cases[i].want);
        if (cases[i].line != 0 && err->line != cases[i].line)
            fail_msg("case %zu: line %d, expected %d (%s)", i, err->line, cases[i].line,
                     err->message);
        drv_error_destroy(&err);
    }
}

typedef struct {
    const char *value;
    const char *unit; /* NULL: no unit attribute */
    uint64_t kib;
} memory_case;

static void test_memory_units(void **state)
{
    const memory_case cases[] = {
        {"5", NULL, 5},         {"1", "KiB", 1},          {"1", "k", 1},
        {"1", "K", 1},          {"2", "M", 2048},         {"2", "MiB", 2048},
        {"2", "mib", 2048},     {"1", "G", 1048576},      {"3", "GiB", 3145728},
        {"1", "T", 1073741824}, {"1", "TiB", 1073741824}, {"3", "PiB", 3ull << 40},
        {"1", "E", 1ull << 50}, {"1000", "KB", 977},    /* 1,000,000 B / 1024, rounded up */
        {"1", "MB", 977},                               /* same */
        {"1", "GB", 976563},                            /* 976562.5 → up */
        {"1024", "b", 1},       {"1025", "bytes", 2},   /* rounded up to whole KiB */
        {"1", "byte", 1},       {" 64 ", "MiB", 65536}, /* blanks around the number */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *unit =
            cases[i].unit ? g_strdup_printf(" unit='%s'", cases[i].unit) : g_strdup("");
        g_autofree char *xml = g_strdup_printf(HEAD "  <memory%s>%s</memory>\n"
                                                    "  <currentMemory%s>%s</currentMemory>\n"
                                                    "  <vcpu>1</vcpu>\n</domain>",
                                               unit, cases[i].value, unit, cases[i].value);
        drv_domxml *d = s_parse_ok(xml);
        if (d->memory_kib != cases[i].kib || d->current_memory_kib != cases[i].kib)
            fail_msg("'%s' %s: %" G_GUINT64_FORMAT " KiB, expected %" G_GUINT64_FORMAT,
                     cases[i].value, cases[i].unit ? cases[i].unit : "(none)", d->memory_kib,
                     cases[i].kib);
        drv_domxml_destroy(&d);
    }
    /* currentMemory above memory is clamped, 0 means "same as memory" (as libvirt does) */
    drv_domxml *d = s_parse_ok(HEAD "  <memory>1024</memory>\n  <currentMemory>4096"
                                    "</currentMemory>\n  <vcpu>1</vcpu>\n</domain>");
    assert_int_equal(d->current_memory_kib, 1024);
    drv_domxml_destroy(&d);
    d = s_parse_ok(HEAD "  <memory>1024</memory>\n  <currentMemory>0</currentMemory>\n"
                        "  <vcpu>1</vcpu>\n</domain>");
    assert_int_equal(d->current_memory_kib, 1024);
    drv_domxml_destroy(&d);
}

static void test_cpu_without_mode(void **state)
{
    drv_domxml *d = s_parse_ok(HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n"
                                    "  <cpu><model>Haswell</model></cpu>\n</domain>");
    assert_string_equal(d->cpu_mode, "custom");
    assert_string_equal(d->cpu_model, "Haswell");
    assert_null(d->cpu_features_required[0]);
    drv_domxml_destroy(&d);
    d = s_parse_ok(HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n"
                        "  <cpu mode='host-model'/>\n</domain>");
    assert_string_equal(d->cpu_mode, "host-model");
    assert_null(d->cpu_model);
    drv_domxml_destroy(&d);
}

/* The networks a domain needs: each <interface type='network'> source once, in document order;
 * bridge and user interfaces and an interface without a source need none. */
static void test_networks(void **state)
{
    (void)state;
    drv_domxml *d =
        s_parse_ok(HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n  <devices>\n"
                        "    <interface type='network'><source network='tbnet'/></interface>\n"
                        "    <interface type='bridge'><source bridge='br0'/></interface>\n"
                        "    <interface type='network'><source network='backend'/></interface>\n"
                        "    <interface type='network'><source network='tbnet'/></interface>\n"
                        "    <interface type='network'/>\n"
                        "    <interface type='user'/>\n"
                        "  </devices>\n</domain>");
    assert_int_equal(g_strv_length(d->networks), 2);
    assert_string_equal(d->networks[0], "tbnet");
    assert_string_equal(d->networks[1], "backend");
    drv_domxml_destroy(&d);
    d = s_parse_ok(HEAD "  <memory>1</memory>\n  <vcpu>1</vcpu>\n</domain>");
    assert_non_null(d->networks);
    assert_null(d->networks[0]);
    drv_domxml_destroy(&d);
}

static void test_uuid_normalize(void **state)
{
    char *out = NULL;
    assert_int_equal(drv_domxml_uuid_normalize("6B1A7E2C0D3F4E5A9B8C7D6E5F4A3B2C", &out), 0);
    assert_string_equal(out, "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c");
    g_free(out);
    assert_int_equal(drv_domxml_uuid_normalize(" 6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c\n", &out), 0);
    assert_string_equal(out, "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c");
    g_free(out);
    assert_int_equal(drv_domxml_uuid_normalize("6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c", NULL), 0);
    const char *bad[] = {NULL,
                         "",
                         "6b1a7e2c",
                         "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2",
                         "6b1a7e2c-0d3f-4e5a-9b8c_7d6e5f4a3b2c",
                         "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2g",
                         "6b1a7e2c00d3f-4e5a-9b8c-7d6e5f4a3b2c"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        out = (char *)"untouched";
        assert_int_equal(drv_domxml_uuid_normalize(bad[i], &out), -1);
        assert_string_equal(out, "untouched");
    }
}

static void test_set_uuid_inserts(void **state)
{
    g_autofree char *xml = s_read_data("minimal.xml");
    char *out = NULL;
    drv_error *err = NULL;
    if (drv_domxml_set_uuid(xml, "0A1B2C3D4E5F4A6B8C7D9E0F1A2B3C4D", &out, &err) != 0)
        fail_msg("%s", err->message);
    s_golden("minimal-uuid.golden.xml", out);
    drv_domxml *d = s_parse_ok(out);
    assert_string_equal(d->uuid, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_string_equal(d->name, "tiny");
    drv_domxml_destroy(&d);
    g_free(out);

    /* non-ASCII text and comments survive */
    g_autofree char *xml2 = s_read_data("host-passthrough.xml");
    assert_int_equal(drv_domxml_set_uuid(xml2, "11111111-2222-3333-4444-555555555555", &out, &err),
                     0);
    assert_non_null(strstr(out, "Données — base"));
    assert_non_null(strstr(out, "<!-- a comment before the name -->"));
    assert_non_null(
        strstr(out, "<name>db1</name>\n  <uuid>11111111-2222-3333-4444-555555555555</uuid>"));
    assert_null(strstr(out, "<?xml"));
    g_free(out);

    /* no <name>: inserted as the first child, still a valid document */
    assert_int_equal(drv_domxml_set_uuid("<domain type='qemu'/>",
                                         "11111111-2222-3333-4444-555555555555", &out, &err),
                     0);
    assert_non_null(strstr(out, "<uuid>11111111-2222-3333-4444-555555555555</uuid>"));
    g_free(out);
}

static void test_set_uuid_existing(void **state)
{
    g_autofree char *xml = s_read_data("qemu-full.xml");
    char *out = NULL;
    drv_error *err = NULL;
    /* the same UUID (other case, no dashes): returned unchanged */
    assert_int_equal(drv_domxml_set_uuid(xml, "6b1a7e2c0d3f4e5a9b8c7d6e5f4a3b2c", &out, &err), 0);
    assert_string_equal(out, xml);
    g_free(out);
    /* another UUID: a conflict naming both, at the line of the existing one */
    out = (char *)"untouched";
    assert_int_equal(drv_domxml_set_uuid(xml, "11111111-2222-3333-4444-555555555555", &out, &err),
                     -1);
    assert_int_equal(err->kind, DRV_ERR_CONFLICT);
    assert_non_null(strstr(err->message, "6b1a7e2c-0d3f-4e5a-9b8c-7d6e5f4a3b2c"));
    assert_non_null(strstr(err->message, "11111111-2222-3333-4444-555555555555"));
    assert_int_equal(err->line, 3);
    assert_string_equal(out, "untouched");
    drv_error_destroy(&err);
}

static void s_set_uuid_malformed(void *arg)
{
    drv_error **err = arg;
    g_autofree char *xml = s_read_data("malformed-unclosed.xml");
    char *out = NULL;
    drv_domxml_set_uuid(xml, "11111111-2222-3333-4444-555555555555", &out, err);
    g_free(out);
}

static void test_set_uuid_errors(void **state)
{
    char *out = NULL;
    drv_error *err = NULL;
    assert_int_equal(
        drv_domxml_set_uuid("<domain type='qemu'><name>a</name></domain>", "nope", &out, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_non_null(strstr(err->message, "'nope'"));
    drv_error_destroy(&err);
    assert_int_equal(s_stderr_bytes_during(s_set_uuid_malformed, &err), 0);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_int_equal(err->line, 5);
    drv_error_destroy(&err);
    assert_int_equal(
        drv_domxml_set_uuid("<pool/>", "11111111-2222-3333-4444-555555555555", &out, &err), -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    assert_int_equal(drv_domxml_set_uuid("<domain><uuid>bad</uuid></domain>",
                                         "11111111-2222-3333-4444-555555555555", &out, &err),
                     -1);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    drv_error_destroy(&err);
    assert_null(out);
}

typedef struct {
    char *xml;
    size_t len;
    int accepted, refused, bad_kind;
} mutation_run;

/* Under a redirected stderr: parses seeded mutations (byte changes, truncations) of a sample. */
static void s_parse_mutations(void *arg)
{
    mutation_run *r = arg;
    GRand *rnd = g_rand_new_with_seed(1234);
    for (int it = 0; it < 3000; it++) {
        char *buf = g_memdup2(r->xml, r->len);
        size_t len = r->len;
        if (it % 3 == 0) {
            len = (size_t)g_rand_int_range(rnd, 0, (gint32)r->len);
        } else {
            static const char pool[] = "<>/='\"&;!-? \n\x00\xc3\xff"
                                       "0123456789abcdefGKM";
            for (int k = g_rand_int_range(rnd, 1, 6); k > 0; k--)
                buf[g_rand_int_range(rnd, 0, (gint32)len)] =
                    pool[g_rand_int_range(rnd, 0, sizeof(pool) - 1)];
        }
        drv_domxml *d = NULL;
        drv_error *err = NULL;
        if (drv_domxml_parse(buf, len, &d, &err) == 0) {
            r->accepted++;
            if (d->name == NULL || d->memory_kib == 0 || d->vcpus == 0 || d->type == NULL)
                r->bad_kind++;
            drv_domxml_destroy(&d);
        } else {
            r->refused++;
            if (err == NULL || err->kind != DRV_ERR_INVALID || err->message[0] == '\0')
                r->bad_kind++;
            drv_error_destroy(&err);
        }
        g_free(buf);
    }
    g_rand_free(rnd);
}

/* Damaged definitions are parsed or refused with DRV_ERR_INVALID: no crash, leak or stderr output.
 */
static void test_mutations(void **state)
{
    mutation_run r = {0};
    r.xml = s_read_data("qemu-full.xml");
    r.len = strlen(r.xml);
    long n = s_stderr_bytes_during(s_parse_mutations, &r);
    g_free(r.xml);
    assert_int_equal(n, 0);
    assert_int_equal(r.bad_kind, 0);
    assert_int_equal(r.accepted + r.refused, 3000);
    assert_true(r.refused > 1000); /* truncations alone are a third */
    assert_true(r.accepted > 0);
}

static void test_enum_strings(void **state)
{
    assert_string_equal(drv_domxml_disk_device_to_string(DRV_DOMXML_DISK_DEVICE_LUN), "lun");
    assert_null(drv_domxml_disk_device_to_string(DRV_DOMXML_DISK_DEVICE_LAST));
    assert_string_equal(drv_domxml_disk_type_to_string(DRV_DOMXML_DISK_VOLUME), "volume");
    assert_null(drv_domxml_disk_type_to_string(DRV_DOMXML_DISK_TYPE_LAST));
    drv_domxml_destroy(NULL);
    drv_domxml *d = NULL;
    drv_domxml_destroy(&d);
}

static void test_name_check(void **state)
{
    (void)state;
    drv_error *err = NULL;
    assert_int_equal(drv_domxml_name_check("web-1.example", &err), 0);
    assert_null(err);
    const char *bad[] = {"", "a/../b", "a\nuser: root", "tab\there"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_int_equal(drv_domxml_name_check(bad[i], &err), -1);
        assert_non_null(err);
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        assert_null(strchr(err->message, '\n')); /* shown escaped */
        drv_error_destroy(&err);
    }
    assert_int_equal(drv_domxml_name_check(NULL, &err), -1);
    drv_error_destroy(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_qemu_full),
        cmocka_unit_test(test_golden_minimal),
        cmocka_unit_test(test_golden_host_passthrough),
        cmocka_unit_test(test_parse_uses_len),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_handlers_restored),
        cmocka_unit_test(test_no_external_entities),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_memory_units),
        cmocka_unit_test(test_cpu_without_mode),
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_uuid_normalize),
        cmocka_unit_test(test_set_uuid_inserts),
        cmocka_unit_test(test_set_uuid_existing),
        cmocka_unit_test(test_set_uuid_errors),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_enum_strings),
        cmocka_unit_test(test_name_check),
    };
    return cmocka_run_group_tests_name("common_domxml", tests, NULL, NULL);
}
