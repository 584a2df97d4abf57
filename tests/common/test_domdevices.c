/* test_domdevices.c — common/domdevices through drv_domxml_parse, on pairs of a stored definition
 * and the live XML libvirt gives for it (aliases, PCI addresses, a generated MAC and the devices
 * libvirt adds by itself: controllers, memballoon, input, video, console): the same devices give
 * no drift; a disk attached live, a NIC detached live, a disk added to the definition only, a
 * hostdev and an rng attached live are each named; an interface defined without a MAC matches
 * the live one with the generated MAC on the same network, not one on another network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "domdevices.h"
#include "domxml.h"

#define DEF_HEAD                                                                                   \
    "<domain type='qemu'><name>web1</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>"           \
    "<os><type arch='x86_64'>hvm</type></os><devices>"
#define DEF_DISK_VDA                                                                               \
    "<disk type='file' device='disk'><source file='/pool/web1.qcow2'/>"                            \
    "<target dev='vda' bus='virtio'/></disk>"
#define DEF_NIC                                                                                    \
    "<interface type='network'><source network='default'/><model type='virtio'/></interface>"
#define DEF_TAIL "<serial type='pty'/></devices></domain>"

#define LIVE_HEAD                                                                                  \
    "<domain type='qemu' "                                                                         \
    "id='3'><name>web1</name><uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>"                    \
    "<memory unit='KiB'>262144</memory><currentMemory unit='KiB'>262144</currentMemory>"           \
    "<vcpu placement='static'>1</vcpu><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>"  \
    "</os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
#define LIVE_DISK_VDA                                                                              \
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"                           \
    "<source file='/pool/web1.qcow2' index='1'/><backingStore/><target dev='vda' bus='virtio'/>"   \
    "<alias name='virtio-disk0'/><address type='pci' domain='0x0000' bus='0x00' slot='0x04' "      \
    "function='0x0'/></disk>"
#define LIVE_NIC                                                                                   \
    "<interface type='network'><mac address='52:54:00:0A:0B:0C'/>"                                 \
    "<source network='default' portid='9e1c' bridge='virbr0'/><target dev='vnet2'/>"               \
    "<model type='virtio'/><alias name='net0'/><address type='pci' domain='0x0000' bus='0x00' "    \
    "slot='0x03' function='0x0'/></interface>"
#define LIVE_TAIL                                                                                  \
    "<controller type='usb' index='0' model='piix3-uhci'><alias name='usb'/></controller>"         \
    "<controller type='pci' index='0' model='pci-root'><alias name='pci.0'/></controller>"         \
    "<serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>"                    \
    "<console type='pty' tty='/dev/pts/3'><target type='serial' port='0'/></console>"              \
    "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>"                            \
    "<video><model type='cirrus' vram='16384' heads='1'/></video>"                                 \
    "<memballoon model='virtio'><alias name='balloon0'/></memballoon></devices></domain>"

static char **s_names(const char *xml)
{
    drv_domxml *d = NULL;
    drv_error *err = NULL;
    if (drv_domxml_parse(xml, strlen(xml), &d, &err) < 0)
        fail_msg("parse: %s", err->message);
    char **names = g_strdupv(d->devices);
    drv_domxml_destroy(&d);
    return names;
}

/* the drift of live vs def: want NULL for none */
static void s_expect(const char *live, const char *def, const char *want)
{
    char **l = s_names(live);
    char **c = s_names(def);
    char *got = drv_domdevices_diff(l, c);
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
    g_free(got);
    g_strfreev(l);
    g_strfreev(c);
}

static void test_names(void **state)
{
    (void)state;
    char **n = s_names(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC LIVE_TAIL);
    assert_int_equal(g_strv_length(n), 2); /* controllers, console, input, video, balloon: none */
    assert_string_equal(n[0], "disk vda");
    assert_string_equal(n[1], "interface 52:54:00:0a:0b:0c (network default)");
    g_strfreev(n);
    n = s_names(DEF_HEAD DEF_NIC
                "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>"
                "<disk type='file'><source file='/x'/></disk>" /* no target: not named */
                "<interface type='bridge'><mac address='52:54:00:00:00:01'/>"
                "<source bridge='br0'/></interface><interface type='user'/>"
                "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' "
                "bus='0x03' slot='0x00' function='0x1'/></source></hostdev>"
                "<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/>"
                "<product id='0xc52b'/></source></hostdev>"
                "<filesystem type='mount'><source dir='/srv'/><target dir='srv'/></filesystem>"
                "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
                "<watchdog model='i6300esb'/><vsock model='virtio'/>" DEF_TAIL);
    const char *want[] = {"interface (network default)",
                          "cdrom hdc",
                          "interface 52:54:00:00:00:01 (bridge br0)",
                          "interface (user)",
                          "hostdev pci 0000:03:00.1",
                          "hostdev usb 046d:c52b",
                          "filesystem srv",
                          "rng random",
                          "watchdog i6300esb",
                          "vsock virtio",
                          NULL};
    assert_int_equal(g_strv_length(n), G_N_ELEMENTS(want) - 1);
    for (size_t i = 0; want[i] != NULL; i++)
        assert_string_equal(n[i], want[i]);
    g_strfreev(n);
}

static void test_same_devices(void **state)
{
    (void)state;
    /* the definition has no MAC: libvirt generated one */
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC LIVE_TAIL, DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             NULL);
    /* order does not matter */
    s_expect(LIVE_HEAD LIVE_NIC LIVE_DISK_VDA LIVE_TAIL, DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             NULL);
    /* the definition's MAC, in another case */
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA "<interface type='network'><mac address='52:54:00:0a:0b:0C'/>"
                                   "<source network='default'/></interface>" DEF_TAIL,
             NULL);
}

static void test_attached_live(void **state)
{
    (void)state;
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC
             "<disk type='file' device='disk'><source file='/pool/extra.img'/>"
             "<target dev='vdb' bus='virtio'/><alias name='virtio-disk1'/></disk>" LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             "disk vdb attached live, not in the definition");
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC
             "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
             "bus='0x03' slot='0x00' function='0x0'/></source><alias name='hostdev0'/></hostdev>"
             "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>" LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             "hostdev pci 0000:03:00.0 attached live, not in the definition; rng random attached "
             "live, not in the definition");
}

static void test_detached_live(void **state)
{
    (void)state;
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_TAIL, DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             "interface (network default) in the definition, not attached live");
    /* a disk added to the stored definition of a running domain (an edit waiting for a restart) */
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA DEF_NIC "<disk type='file'><source file='/pool/b.img'/>"
                                           "<target dev='vdb'/></disk>" DEF_TAIL,
             "disk vdb in the definition, not attached live");
}

static void test_interface_other_network(void **state)
{
    (void)state;
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA "<interface type='network'><source network='storage'/>"
                                   "</interface>" DEF_TAIL,
             "interface 52:54:00:0a:0b:0c (network default) attached live, not in the definition; "
             "interface (network storage) in the definition, not attached live");
    /* two NICs on one network, the definition has one: one is extra */
    s_expect(LIVE_HEAD LIVE_DISK_VDA LIVE_NIC
             "<interface type='network'><mac address='52:54:00:0a:0b:0d'/><source "
             "network='default'/></interface>" LIVE_TAIL,
             DEF_HEAD DEF_DISK_VDA DEF_NIC DEF_TAIL,
             "interface 52:54:00:0a:0b:0d (network default) attached live, not in the definition");
}

static void test_empty(void **state)
{
    (void)state;
    assert_null(drv_domdevices_diff(NULL, NULL));
    char *empty[] = {NULL};
    char *one[] = {(char *)"disk vda", NULL};
    assert_null(drv_domdevices_diff(empty, empty));
    char *got = drv_domdevices_diff(one, empty);
    assert_string_equal(got, "disk vda attached live, not in the definition");
    g_free(got);
    char **none = drv_domdevices_names(NULL);
    assert_null(none[0]);
    g_strfreev(none);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_same_devices),
        cmocka_unit_test(test_attached_live),
        cmocka_unit_test(test_detached_live),
        cmocka_unit_test(test_interface_other_network),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
