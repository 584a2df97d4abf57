/* test_provision.c — common/provision: the --disk and --boot specs (defaults, every refusal, a size
 * too large to count in bytes), cloud-config validation (header, YAML errors with their line, the
 * top-level mapping), the ssh key merged into user-data (still valid cloud-config, or refused),
 * NoCloud meta-data, and the XML of a provisioned domain (parsed back with common/domxml, escaping
 * included), a pool, a volume and a network (both modes, malformed subnets). */
#include "domxml.h"
#include "provision.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#define GIB (1024ull * 1024 * 1024)

/* Asserts that a call failed with DRV_ERR_INVALID and that the message contains `part`. */
static void s_assert_invalid(int rc, drv_error **err, const char *part)
{
    assert_int_equal(rc, -1);
    assert_non_null(*err);
    assert_int_equal((*err)->kind, DRV_ERR_INVALID);
    if (strstr((*err)->message, part) == NULL)
        fail_msg("error '%s' does not contain '%s'", (*err)->message, part);
    drv_error_destroy(err);
}

/* ------------------------------------------------------------------ --disk */

static void test_disk_defaults(void **state)
{
    (void)state;
    drv_prov_disk d = {0};
    drv_error *err = NULL;
    assert_int_equal(drv_prov_disk_parse("pool=vms,size=10G", &d, &err), 0);
    assert_null(err);
    assert_string_equal(d.pool, "vms");
    assert_true(d.size_bytes == 10 * GIB);
    assert_string_equal(d.format, "qcow2");
    assert_null(d.backing);
    drv_prov_disk_clear(&d);
    assert_null(d.pool);

    /* a bare number is GiB; the last of a repeated key wins */
    assert_int_equal(drv_prov_disk_parse("size=2,pool=a,pool=b", &d, &err), 0);
    assert_string_equal(d.pool, "b");
    assert_true(d.size_bytes == 2 * GIB);
    drv_prov_disk_clear(&d);

    assert_int_equal(
        drv_prov_disk_parse("pool=vms,size=512M,backing=base.img,format=raw", &d, &err), 0);
    assert_true(d.size_bytes == 512ull * 1024 * 1024);
    assert_string_equal(d.backing, "base.img");
    assert_string_equal(d.format, "raw");
    drv_prov_disk_clear(&d);
}

static void test_disk_refused(void **state)
{
    (void)state;
    drv_prov_disk d = {0};
    drv_error *err = NULL;
    s_assert_invalid(drv_prov_disk_parse("pool=vms", &d, &err), &err, "size= are needed");
    s_assert_invalid(drv_prov_disk_parse("size=1G", &d, &err), &err, "pool= and size=");
    s_assert_invalid(drv_prov_disk_parse("", &d, &err), &err, "pool= and size= are needed");
    s_assert_invalid(drv_prov_disk_parse(NULL, &d, &err), &err, "pool= and size= are needed");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,,size=1G", &d, &err), &err,
                     "'' is not key=value");
    s_assert_invalid(drv_prov_disk_parse("pool=,size=1G", &d, &err), &err, "'pool=' is not");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=0", &d, &err), &err, "'0' is not a size");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=-1G", &d, &err), &err, "not a size");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=ten", &d, &err), &err, "not a size");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=1X", &d, &err), &err, "not a size");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=1G,format=vmdk", &d, &err), &err,
                     "unknown 'format=vmdk'");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=1G,bus=scsi", &d, &err), &err,
                     "unknown 'bus=scsi'");
    s_assert_invalid(drv_prov_disk_parse("pool=../etc,size=1G", &d, &err), &err,
                     "names, not paths");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=1G,backing=/srv/base.img", &d, &err), &err,
                     "names, not paths");
    /* 2^24 TiB + 1 TiB is a whole number of KiB but not of bytes in 64 bits: refused, never
     * wrapped around to a small size */
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=16777217T", &d, &err), &err, "not a size");
    s_assert_invalid(drv_prov_disk_parse("pool=vms,size=16777216T", &d, &err), &err, "not a size");
    assert_null(d.pool); /* *ret untouched on failure */
}

/* ------------------------------------------------------------------ --boot */

static void test_boot(void **state)
{
    (void)state;
    drv_prov_boot b = {0};
    drv_error *err = NULL;
    assert_int_equal(
        drv_prov_boot_parse("kernel=/k/vmlinuz,initrd=/k/initrd.gz,cmdline=console=ttyS0 a=1,b=2",
                            &b, &err),
        0);
    assert_string_equal(b.kernel, "/k/vmlinuz");
    assert_string_equal(b.initrd, "/k/initrd.gz");
    assert_string_equal(b.cmdline, "console=ttyS0 a=1,b=2"); /* to the end, commas and all */
    drv_prov_boot_clear(&b);

    assert_int_equal(drv_prov_boot_parse("kernel=/k", &b, &err), 0);
    assert_string_equal(b.kernel, "/k");
    assert_null(b.initrd);
    assert_null(b.cmdline);
    drv_prov_boot_clear(&b);

    s_assert_invalid(drv_prov_boot_parse("initrd=/i", &b, &err), &err, "kernel= is needed");
    s_assert_invalid(drv_prov_boot_parse("", &b, &err), &err, "kernel= is needed");
    s_assert_invalid(drv_prov_boot_parse("kernel=", &b, &err), &err, "unknown 'kernel='");
    s_assert_invalid(drv_prov_boot_parse("kernel=/k,append=x", &b, &err), &err,
                     "unknown 'append=x'");
    assert_null(b.kernel);
}

/* ------------------------------------------------------------------ cloud-config */

static int s_check(const char *text, drv_error **err)
{
    return drv_prov_cloud_config_check(text, strlen(text), err);
}

static void test_cloud_config(void **state)
{
    (void)state;
    drv_error *err = NULL;
    assert_int_equal(s_check("#cloud-config\nhostname: web1\nruncmd:\n  - echo hi\n", &err), 0);
    assert_int_equal(s_check("#cloud-config\r\nhostname: web1\r\n", &err), 0);
    assert_int_equal(s_check("#cloud-config\n{}\n", &err), 0);
    assert_null(err);

    s_assert_invalid(s_check("hostname: web1\n", &err), &err, "'#cloud-config'");
    s_assert_invalid(s_check("#cloud-configure\nhostname: x\n", &err), &err, "'#cloud-config'");
    s_assert_invalid(s_check("#!/bin/sh\necho hi\n", &err), &err, "'#cloud-config'");
    s_assert_invalid(s_check("", &err), &err, "'#cloud-config'");
    s_assert_invalid(drv_prov_cloud_config_check(NULL, 0, &err), &err, "'#cloud-config'");
    s_assert_invalid(s_check("#cloud-config\n", &err), &err, "no cloud-config after the header");
    s_assert_invalid(s_check("#cloud-config\n- a\n- b\n", &err), &err, "must be a mapping");
    s_assert_invalid(s_check("#cloud-config\njust words\n", &err), &err, "must be a mapping");
    /* the error names the line libyaml stopped at */
    int rc = s_check("#cloud-config\nhostname: web1\nruncmd: [unclosed\n", &err);
    assert_int_equal(rc, -1);
    assert_non_null(err);
    assert_int_equal(err->kind, DRV_ERR_INVALID);
    assert_non_null(strstr(err->message, "invalid YAML at line "));
    drv_error_destroy(&err);
    s_assert_invalid(s_check("#cloud-config\na: 1\n b: 2\n", &err), &err, "invalid YAML at line 3");
    s_assert_invalid(s_check("#cloud-config\nkey: \"open\n", &err), &err, "invalid YAML");
}

static void test_user_data_with_key(void **state)
{
    (void)state;
    drv_error *err = NULL;
    const char *key = "ssh-ed25519 AAAAC3Nz user@host\n"; /* a key file ends with a newline */
    g_autofree char *ud = drv_prov_user_data_with_key("#cloud-config\nhostname: web1", key, &err);
    assert_non_null(ud);
    assert_string_equal(ud, "#cloud-config\nhostname: web1\n"
                            "ssh_authorized_keys:\n  - \"ssh-ed25519 AAAAC3Nz user@host\"\n");
    assert_int_equal(s_check(ud, &err), 0);

    /* a quote in the comment stays inside the YAML string */
    g_autofree char *q =
        drv_prov_user_data_with_key("#cloud-config\nhostname: a\n", "ssh-rsa AAA a\"b", &err);
    assert_non_null(q);
    assert_non_null(strstr(q, "\"ssh-rsa AAA a\\\"b\""));
    assert_int_equal(s_check(q, &err), 0);

    /* the key can also be all the user-data there is */
    g_autofree char *only = drv_prov_user_data_with_key("#cloud-config\n", key, &err);
    assert_non_null(only);
    assert_int_equal(s_check(only, &err), 0);

    assert_null(
        drv_prov_user_data_with_key("#cloud-config\nhostname: a\n", "ssh-rsa A\nssh-rsa B", &err));
    s_assert_invalid(-1, &err, "one public key line");
    assert_null(drv_prov_user_data_with_key("#cloud-config\nhostname: a\n", "  \n", &err));
    s_assert_invalid(-1, &err, "one public key line");
    /* a flow mapping cannot take another key after it: refused, not a broken seed */
    assert_null(drv_prov_user_data_with_key("#cloud-config\n{}\n", key, &err));
    s_assert_invalid(-1, &err, "--ssh-key");
    assert_null(drv_prov_user_data_with_key("#cloud-config\n{hostname: a}\n", key, &err));
    s_assert_invalid(-1, &err, "--ssh-key");
}

static void test_meta_data(void **state)
{
    (void)state;
    g_autofree char *m = drv_prov_meta_data("web1");
    assert_string_equal(m, "instance-id: \"web1\"\nlocal-hostname: \"web1\"\n");
    /* a name cannot add keys: quoted, its quotes and backslashes escaped */
    g_autofree char *odd = drv_prov_meta_data("a: b\" c\\");
    assert_string_equal(odd,
                        "instance-id: \"a: b\\\" c\\\\\"\nlocal-hostname: \"a: b\\\" c\\\\\"\n");
}

/* ------------------------------------------------------------------ domain XML */

static void test_domain_xml(void **state)
{
    (void)state;
    drv_prov_boot boot = {
        .kernel = "/srv/k/vmlinuz", .initrd = "/srv/k/initrd.gz", .cmdline = "console=ttyS0 a<b"};
    drv_prov_domain sp = {.name = "web&1",
                          .uuid = "6f1c3b1e-0f4a-4a5e-9d7c-1b2a3c4d5e6f",
                          .virt_type = "qemu",
                          .vcpus = 2,
                          .memory_kib = 262144,
                          .disk_path = "/srv/vms/web'1-disk0.qcow2",
                          .disk_format = "qcow2",
                          .seed_path = "/srv/vms/web1-seed.iso",
                          .network = "tbnet",
                          .serial_log = "/srv/serial/web1.log",
                          .boot = &boot};
    char *xml = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_prov_domain_xml(&sp, &xml, &err), 0);
    assert_non_null(xml);

    drv_domxml *dx = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &dx, &err) < 0)
        fail_msg("built XML does not parse: %s\n%s", err->message, xml);
    assert_string_equal(dx->name, "web&1");
    assert_string_equal(dx->uuid, "6f1c3b1e-0f4a-4a5e-9d7c-1b2a3c4d5e6f");
    assert_string_equal(dx->type, "qemu");
    assert_int_equal(dx->vcpus, 2);
    assert_true(dx->memory_kib == 262144);
    assert_string_equal(dx->arch, "x86_64");
    assert_true(dx->has_serial_file);
    assert_int_equal(dx->n_disks, 2);
    assert_int_equal(dx->disks[0].device, DRV_DOMXML_DISK_DEVICE_DISK);
    assert_string_equal(dx->disks[0].source_path, "/srv/vms/web'1-disk0.qcow2");
    assert_string_equal(dx->disks[0].target_dev, "vda");
    assert_string_equal(dx->disks[0].target_bus, "virtio");
    assert_false(dx->disks[0].readonly);
    assert_int_equal(dx->disks[1].device, DRV_DOMXML_DISK_DEVICE_CDROM);
    assert_string_equal(dx->disks[1].source_path, "/srv/vms/web1-seed.iso");
    assert_string_equal(dx->disks[1].target_bus, "ide");
    assert_true(dx->disks[1].readonly);
    assert_null(dx->networks[1]);
    assert_string_equal(dx->networks[0], "tbnet");
    drv_domxml_destroy(&dx);
    /* direct kernel boot instead of booting the disk; the cmdline escaped */
    assert_non_null(strstr(xml, "<kernel>/srv/k/vmlinuz</kernel>"));
    assert_non_null(strstr(xml, "<initrd>/srv/k/initrd.gz</initrd>"));
    assert_non_null(strstr(xml, "<cmdline>console=ttyS0 a&lt;b</cmdline>"));
    assert_null(strstr(xml, "<boot dev="));
    assert_non_null(strstr(xml, "<acpi/>"));
    assert_non_null(strstr(xml, "<memballoon model='virtio'/>"));
    assert_non_null(strstr(xml, "<model type='virtio'/>"));
    g_free(xml);

    /* the minimum: boots the disk, a pty console, no CD-ROM, no NIC, kvm by default */
    drv_prov_domain min = {.name = "m", .vcpus = 1, .memory_kib = 1024, .disk_path = "/d.img"};
    assert_int_equal(drv_prov_domain_xml(&min, &xml, &err), 0);
    assert_int_equal(drv_domxml_parse(xml, strlen(xml), &dx, &err), 0);
    assert_string_equal(dx->type, "kvm");
    assert_int_equal(dx->n_disks, 1);
    assert_false(dx->has_serial_file);
    assert_null(dx->networks[0]);
    assert_null(dx->uuid);
    drv_domxml_destroy(&dx);
    assert_non_null(strstr(xml, "<boot dev='hd'/>"));
    assert_non_null(strstr(xml, "<serial type='pty'>"));
    assert_null(strstr(xml, "<interface"));
    g_free(xml);

    /* every required member */
    drv_prov_domain bad = min;
    bad.name = "";
    s_assert_invalid(drv_prov_domain_xml(&bad, &xml, &err), &err, "a name, vCPUs, memory");
    bad = min;
    bad.vcpus = 0;
    s_assert_invalid(drv_prov_domain_xml(&bad, &xml, &err), &err, "a name, vCPUs, memory");
    bad = min;
    bad.memory_kib = 0;
    s_assert_invalid(drv_prov_domain_xml(&bad, &xml, &err), &err, "a name, vCPUs, memory");
    bad = min;
    bad.disk_path = NULL;
    s_assert_invalid(drv_prov_domain_xml(&bad, &xml, &err), &err, "a disk");
}

/* ------------------------------------------------------------------ pool, volume, network */

static void test_pool_vol_xml(void **state)
{
    (void)state;
    g_autofree char *pool = drv_prov_pool_xml("v<ms", "/srv/a&b");
    assert_string_equal(pool, "<pool type='dir'>\n  <name>v&lt;ms</name>\n  <target>\n"
                              "    <path>/srv/a&amp;b</path>\n  </target>\n</pool>\n");

    g_autofree char *vol = drv_prov_vol_xml("d1", 1073741824ull, "raw", NULL, NULL);
    assert_non_null(strstr(vol, "<name>d1</name>"));
    assert_non_null(strstr(vol, "<capacity unit='bytes'>1073741824</capacity>"));
    assert_non_null(strstr(vol, "<format type='raw'/>"));
    assert_null(strstr(vol, "backingStore"));

    g_autofree char *over = drv_prov_vol_xml("d2", 5, NULL, "/srv/vms/base.qcow2", "qcow2");
    assert_non_null(strstr(over, "<format type='qcow2'/>\n  </target>")); /* default format */
    assert_non_null(strstr(over, "<backingStore>\n    <path>/srv/vms/base.qcow2</path>\n"
                                 "    <format type='qcow2'/>\n  </backingStore>"));
}

static void test_net_xml(void **state)
{
    (void)state;
    char *xml = NULL;
    drv_error *err = NULL;
    assert_int_equal(drv_prov_net_xml("lan", "br0", NULL, &xml, &err), 0);
    assert_non_null(strstr(xml, "<forward mode='bridge'/>"));
    assert_non_null(strstr(xml, "<bridge name='br0'/>"));
    assert_null(strstr(xml, "<ip"));
    g_free(xml);

    assert_int_equal(drv_prov_net_xml("nat1", NULL, "10.9.8.0/24", &xml, &err), 0);
    assert_non_null(strstr(xml, "<forward mode='nat'/>"));
    assert_non_null(strstr(xml, "<ip address='10.9.8.1' netmask='255.255.255.0'>"));
    assert_non_null(strstr(xml, "<range start='10.9.8.100' end='10.9.8.199'/>"));
    g_free(xml);

    s_assert_invalid(drv_prov_net_xml("n", NULL, NULL, &xml, &err), &err, "exactly one");
    s_assert_invalid(drv_prov_net_xml("n", "br0", "10.0.0.0/24", &xml, &err), &err, "exactly one");
    const char *bad[] = {"10.0.0.1/24",  "10.0.0.0/16", "256.0.0.0/24", "10.0.0/24",
                         "10.0.0.0/24x", "10.0.0.0",    "a.b.c.0/24",   NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        xml = NULL;
        assert_int_equal(drv_prov_net_xml("n", NULL, bad[i], &xml, &err), -1);
        assert_null(xml);
        assert_non_null(err);
        if (strstr(err->message, bad[i]) == NULL)
            fail_msg("'%s': error '%s' does not name it", bad[i], err->message);
        drv_error_destroy(&err);
    }
}

static void test_name_ok(void **state)
{
    (void)state;
    assert_true(drv_prov_name_ok("vms"));
    assert_true(drv_prov_name_ok("web1-disk.qcow2"));
    assert_false(drv_prov_name_ok(NULL));
    assert_false(drv_prov_name_ok(""));
    assert_false(drv_prov_name_ok(".hidden"));
    assert_false(drv_prov_name_ok("a/b"));
    char longname[129];
    memset(longname, 'x', 127);
    longname[127] = '\0';
    assert_true(drv_prov_name_ok(longname));
    memset(longname, 'x', 128);
    longname[128] = '\0';
    assert_false(drv_prov_name_ok(longname));
}

static void test_image_format(void **state)
{
    (void)state;
    const unsigned char qcow[] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 3};
    assert_string_equal(drv_prov_image_format(qcow, sizeof(qcow)), "qcow2");
    assert_string_equal(drv_prov_image_format(qcow, 3), "raw"); /* too short for the magic */
    assert_string_equal(drv_prov_image_format("QFI?....", 8), "raw");
    assert_string_equal(drv_prov_image_format(NULL, 0), "raw");
}

static void test_wipe_algorithms(void **state)
{
    (void)state;
    drv_error *err = NULL;
    size_t n = 0;
    for (; drv_prov_wipe_algorithms[n] != NULL; n++)
        assert_int_equal(drv_prov_wipe_algorithm_check(drv_prov_wipe_algorithms[n], &err), 0);
    assert_int_equal(n, 10); /* virStorageVolWipeAlgorithm: zero .. trim */
    assert_string_equal(drv_prov_wipe_algorithms[0], "zero");
    assert_string_equal(drv_prov_wipe_algorithms[9], "trim");
    const char *bad[] = {"", "Zero", "zeros", "dod ", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(drv_prov_wipe_algorithm_check(bad[i], &err), -1);
        assert_int_equal(err->kind, DRV_ERR_INVALID);
        assert_non_null(strstr(err->message, "one of: zero, nnsa, dod"));
        drv_error_destroy(&err);
    }
    s_assert_invalid(drv_prov_wipe_algorithm_check(NULL, &err), &err, "unknown wipe algorithm");
}

static void test_cpu_xml(void **state)
{
    (void)state;
    drv_error *err = NULL;
    char *xml = NULL;
    const char *base = "<cpu mode='custom' match='exact'><model>M</model></cpu>";
    assert_int_equal(drv_prov_cpu_xml(NULL, base, &xml, &err), 0);
    assert_string_equal(xml, base);
    g_free(xml);
    assert_int_equal(drv_prov_cpu_xml("baseline", base, &xml, &err), 0);
    assert_string_equal(xml, base);
    g_free(xml);
    assert_int_equal(drv_prov_cpu_xml("host-model", NULL, &xml, &err), 0);
    assert_non_null(strstr(xml, "<cpu mode='host-model'"));
    g_free(xml);
    s_assert_invalid(drv_prov_cpu_xml("baseline", NULL, &xml, &err), &err, "no CPU baseline");
    assert_null(xml);
    s_assert_invalid(drv_prov_cpu_xml("host-passthrough", base, &xml, &err), &err,
                     "'host-passthrough': baseline or host-model");
    assert_null(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_defaults),
        cmocka_unit_test(test_disk_refused),
        cmocka_unit_test(test_boot),
        cmocka_unit_test(test_cloud_config),
        cmocka_unit_test(test_user_data_with_key),
        cmocka_unit_test(test_meta_data),
        cmocka_unit_test(test_domain_xml),
        cmocka_unit_test(test_pool_vol_xml),
        cmocka_unit_test(test_net_xml),
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_image_format),
        cmocka_unit_test(test_wipe_algorithms),
        cmocka_unit_test(test_cpu_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
