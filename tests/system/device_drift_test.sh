#!/usr/bin/env bash
# device_drift_test.sh — issue 17, device drift on a real 3-host testbed (bridge drvtbr64,
# 10.77.64.0/24) with a real QEMU (TCG) guest: right after the start the live XML (with the devices
# libvirt adds by itself: controllers, input, console, balloon) shows no drift; a disk attached
# with `virsh attach-device --live` on its host, behind drover's back, is named in `domain info`,
# `domain list` and a drift event ("disk sdb attached live, not in the definition") from libvirt's
# DEVICE_ADDED event, without any inventory; `virsh detach-device --live` clears it
# (DEVICE_REMOVED); a disk attached to the stored definition only (`drover domain attach-device
# --config`) is "in the definition, not attached live" until a restart. A USB disk: our guest has
# no OS and would never ack a PCI (virtio) unplug. Then a guest with `drover cluster cpu-baseline
# --xml`'s <cpu> starts and live-migrates.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
sys_cluster_up 64
dom=dd1
tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 64 >"$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
h=$(host_of "$dom")
t_eq "running on real QEMU: live devices match the definition, no drift" null \
  "$(djson domain info "$dom" | jq -r .drift)"

EVENTS_PID=$(t_spawn "events-$RANDOM" sh -c "exec '$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json events >'$T_DIR/events.json'")
sleep 0.5
extra="$TB_SHARED/$dom-extra.img"
qemu-img create -q -f raw "$extra" 1M || t_fail "qemu-img create $extra"
# a USB disk: QEMU attaches and detaches it without the guest's help
printf "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='sdb' bus='usb'/></disk>\n" \
  "$extra" >"$T_DIR/disk.xml"
uri=$(tb_host_unix_uri "${h#h}")
t_check "virsh attach-device --live on $h, behind drover's back" \
  virsh -q -c "$uri" attach-device "$dom" "$T_DIR/disk.xml" --live
t_check "the live XML has sdb" sh -c "virsh -q -c '$uri' dumpxml '$dom' | grep -q \"dev='sdb'\""
want="disk sdb attached live, not in the definition (restart pending)"
drift_is() { [ "$(djson domain info "$dom" | jq -r .drift)" = "$1" ]; }
t_wait_for "domain info: '$want' (libvirt's DEVICE_ADDED event)" 10 drift_is "$want"
t_check "domain list names the device" grep -qF "drift: $dom: disk sdb attached live, not in the definition" \
  <<<"$(drover domain list)"
drift_event() { grep -F '"drift"' "$T_DIR/events.json" | grep -qF "$1"; }
t_wait_for "a drift event names the device" 5 drift_event 'disk sdb attached live, not in the definition'
t_check "the stored definition has no sdb" sh -c "! drover domain dumpxml --inactive '$dom' | grep -q sdb"
t_check "virsh detach-device --live on $h" virsh -q -c "$uri" detach-device "$dom" "$T_DIR/disk.xml" --live
t_wait_for "detached: no drift (DEVICE_REMOVED)" 10 drift_is null

# the other side: a disk added to the stored definition only (drover attach-device --config)
rev=$(djson domain info "$dom" | jq .revision)
t_check "drover domain attach-device --config" drover domain attach-device "$dom" "$T_DIR/disk.xml" --config
want="disk sdb in the definition, not attached live; revision $rev runs, revision $((rev + 1)) is stored (restart pending)"
t_eq "domain info: the definition's disk is not attached live" "$want" "$(djson domain info "$dom" | jq -r .drift)"
t_check "destroy $dom" drover domain destroy "$dom"
t_check "start $dom again" drover domain start "$dom"
t_check "restarted with the disk of its definition" sh -c "virsh -q -c '$uri' dumpxml '$dom' | grep -q \"dev='sdb'\""
t_eq "started from its definition: no drift" null "$(djson domain info "$dom" | jq -r .drift)"
t_check "destroy $dom" drover domain destroy "$dom"
t_stop "$EVENTS_PID"

# issue 17: `drover cluster cpu-baseline --xml` gives a <cpu> that starts and migrates here
drover cluster cpu-baseline --xml >"$T_DIR/cpu.xml" || t_fail "cluster cpu-baseline --xml"
t_log "baseline: $(tr -s ' \n' ' ' <"$T_DIR/cpu.xml")"
t_check "the baseline is a <cpu> element" grep -q "<cpu" "$T_DIR/cpu.xml"
t_check "it leaves out invtsc" sh -c "! grep -q invtsc '$T_DIR/cpu.xml'"
bl=bl1
tb_guest_xml "$bl" "$(tb_guest_disk "$bl" "$SYS_GUEST_IMAGE")" 64 |
  sed -e "/<\/features>/r $T_DIR/cpu.xml" >"$T_DIR/$bl.xml"
t_check "the definition has the baseline cpu" grep -q "<cpu" "$T_DIR/$bl.xml"
t_check "define $bl" drover domain define "$T_DIR/$bl.xml"
out=$(drover domain start "$bl" 2>&1) || t_fail "a guest with the baseline <cpu> does not start: $out"
from=$(host_of "$bl")
to=h1; [ "$from" = h1 ] && to=h2
out=$(drover domain migrate "$bl" --to "$to" 2>&1) || t_fail "a guest with the baseline <cpu> does not migrate $from → $to: $out"
t_eq "$bl runs on $to after the migration" "$to running" "$(djson domain info "$bl" | jq -r '.host + " " + .state')"
sys_serial_grows "$bl" 2 30
t_check "destroy $bl" drover domain destroy "$bl"
