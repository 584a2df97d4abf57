#!/usr/bin/env bash
# testbed_migrate_test.sh — proves the testbed without drover's daemons: two real libvirtd hosts in
# their own namespaces, the test guest started on host 1 with plain virsh, live-migrated peer-to-peer
# to host 2 and back while it dirties 96 MiB per tick; its serial log keeps growing and it is never
# rebooted; its QEMU lives in the namespace of the host it runs on. The libvirtds talk TLS (the
# testbed's default): each listens on TLS only and refuses a client without a certificate.
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

ns1=$(tb_ns 1)
t_check "host 1's libvirtd listens on TLS (16514)" sh -c "ip netns exec '$ns1' ss -Htln 'sport = :16514' | grep -q ."
t_check "host 1's libvirtd has no plain-TCP listener (16509)" sh -c "! ip netns exec '$ns1' ss -Htln 'sport = :16509' | grep -q ."
# a client that trusts the testbed's CA but presents a certificate of another CA is refused
tb_tls_ca "$T_DIR/other" "not the testbed CA" && tb_tls_cert "$T_DIR/other" intruder intruder ||
  t_fail "cannot make the intruder's certificate"
mkdir -p "$T_DIR/intruder"
cp "$TB_ROOT/tls/libvirt/ca.pem" "$T_DIR/intruder/cacert.pem"
cp "$T_DIR/other/intruder.pem" "$T_DIR/intruder/clientcert.pem"
cp "$T_DIR/other/intruder.key" "$T_DIR/intruder/clientkey.pem"
t_check "the tools' certificate is accepted by host 1's libvirtd" \
  ip netns exec "$(tb_ns 2)" virsh -q -c "$(tb_host_tool_uri 1)" uri
t_check "a client certificate of another CA is refused by host 1's libvirtd" \
  sh -c "! ip netns exec '$(tb_ns 2)' virsh -q -c 'qemu+tls://$(tb_host_ip 1)/system?pkipath=$T_DIR/intruder' uri"

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
