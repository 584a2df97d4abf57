#!/usr/bin/env bash
# testbed_migrate_test.sh — proves the testbed without drover's daemons: two real libvirtd hosts in
# their own namespaces, the test guest started on host 1 with plain virsh, live-migrated peer-to-peer
# to host 2 and back while it dirties 96 MiB per tick; its serial log keeps growing and it is never
# rebooted; its QEMU lives in the namespace of the host it runs on.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
sys_testbed_up 1 2

dom=tbmig
disk=$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")
tb_guest_xml "$dom" "$disk" 128 >"$T_DIR/$dom.xml"
t_check "define $dom on host 1" tb_virsh 1 define "$T_DIR/$dom.xml"
t0=$(date +%s%N)
t_check "start $dom on host 1" tb_virsh 1 start "$dom"
t_log "start: $(sys_ms_since "$t0") ms"
sys_qemu_in_ns 1 "$dom"
sys_serial_grows "$dom" 3 30
t_check "the guest says it dirties 96 MiB" grep -aq '^drover-guest boot dirty_mib=96 ' "$(tb_guest_serial "$dom")"

# migrate FROM TO — live p2p migration, then checks placement, namespace, stats and the serial log.
migrate() {
  local from=$1 to=$2 t0 info processed_mib
  t0=$(date +%s%N)
  t_check "migrate $dom from host $from to host $to" \
    tb_virsh "$from" migrate --live --p2p --persistent --undefinesource --unsafe "$dom" "$(tb_host_tcp_uri "$to")"
  local ms
  ms=$(sys_ms_since "$t0")
  t_eq "state of $dom on host $to" "running" "$(tb_virsh "$to" domstate "$dom" | head -n 1)"
  t_check "$dom is no longer defined on host $from" sh -c "! virsh -q -c '$(tb_host_unix_uri "$from")' dominfo '$dom' >/dev/null 2>&1"
  t_check "no QEMU left for $dom on host $from" sh -c "[ -z \"\$(cat '$(tb_host_dir "$from")/run/qemu/$dom.pid' 2>/dev/null)\" ] || ! kill -0 \$(cat '$(tb_host_dir "$from")/run/qemu/$dom.pid') 2>/dev/null"
  sys_qemu_in_ns "$to" "$dom"
  info=$(tb_virsh "$to" domjobinfo "$dom" --completed 2>/dev/null || true)
  processed_mib=$(awk -F: '/^Memory processed/ {split($2, a, " "); v = a[1]; u = a[2];
    if (u == "GiB") v *= 1024; if (u == "KiB") v /= 1024; printf "%d", v}' <<<"$info")
  t_check "migration moved at least the dirtied 96 MiB (got ${processed_mib:-?} MiB)" \
    test "${processed_mib:-0}" -ge 96
  t_log "migrate h$from→h$to: ${ms} ms wall; $(grep -E '^(Time elapsed|Total downtime|Iteration):' <<<"$info" | tr -s ' ' | tr '\n' ';')"
  sys_serial_grows "$dom" 3 30
}
migrate 1 2
migrate 2 1

t_eq "the guest booted exactly once" 1 "$(grep -ac '^drover-guest boot' "$(tb_guest_serial "$dom")")"
# The ticks never went back: the same guest kept counting through both migrations.
t_check "ticks strictly increase" sh -c "grep -a '^drover-guest tick' '$(tb_guest_serial "$dom")' | awk '\$3 != prev + 1 { exit 1 } { prev = \$3 }'"

t0=$(date +%s%N)
t_check "destroy $dom" tb_virsh 1 destroy "$dom"
t_log "destroy: $(sys_ms_since "$t0") ms"
t_check "undefine $dom" tb_virsh 1 undefine "$dom"
