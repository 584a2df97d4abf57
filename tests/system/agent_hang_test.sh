#!/usr/bin/env bash
# agent_hang_test.sh — the agent never blocks its loop on libvirt (issue 12), on real hosts:
# deploy/cluster-up.sh brings up 3 real libvirtd hosts (testbed 21: bridge drvtbr21,
# 10.77.21.0/24), etcd, the controller and one agent per namespace. A real QEMU guest runs on one
# host; that host's libvirtd is frozen (SIGSTOP, by PID) and a `drover domain suspend` of the guest
# is sent through the controller: the agent's worker waits on the frozen libvirtd, while the agent
# keeps heartbeating — the host stays reachable for more than twice the liveness window and the
# controller never logs a host as unreachable. After SIGCONT the suspend completes (exit 0, libvirt
# says paused), the guest resumes, and every host is still reachable.
# Before the fix the command ran on the agent's loop, so the host went unreachable after 3 s.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
sys_cluster_up 21

unreachable_count() { grep -c "is unreachable" "$TB_ROOT/logs/controller.log" || true; }
reachable() { djson host show "$1" | jq -r .reachable; }
FREEZE_S=8 # > 2 × the liveness window (3 × 1 s), < libvirt's keepalive (5 s × 3)

t_wait_for "3 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 3 ]"

dom=hangvm
tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
host=$(host_of "$dom")
hi=${host#h}
sys_serial_grows "$dom" 2 30
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"

lv_pid=$(tb_host_pid "$hi") || t_fail "no libvirtd pid for $host"
unreach0=$(unreachable_count)
kill -STOP "$lv_pid"
t_on_exit "kill -CONT $lv_pid 2>/dev/null"
t_log "froze libvirtd of $host (pid $lv_pid)"
t0=$(date +%s%N)
susp_pid=$(t_spawn suspend sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --timeout 60 domain suspend '$dom'; echo \$? >'$T_DIR/suspend.rc'")

samples=0
while [ "$(sys_ms_since "$t0")" -lt $((FREEZE_S * 1000)) ]; do
  t_eq "$host reachable $(sys_ms_since "$t0") ms into the freeze" true "$(reachable "$host")"
  samples=$((samples + 1))
  sleep 0.5
done
t_check "the suspend was still waiting on the frozen libvirtd after ${FREEZE_S}s" test ! -e "$T_DIR/suspend.rc"
t_eq "hosts marked unreachable during the freeze (controller log)" "$unreach0" "$(unreachable_count)"
t_log "$host stayed reachable through $samples samples in ${FREEZE_S}s of frozen libvirtd"

kill -CONT "$lv_pid"
t_log "thawed libvirtd of $host"
t_wait_for "the suspend finished after the thaw" 60 test -e "$T_DIR/suspend.rc"
t_eq "exit status of the suspend sent during the freeze" 0 "$(cat "$T_DIR/suspend.rc")"
t_log "suspend returned $(sys_ms_since "$t0") ms after it was sent"
t_eq "libvirt on $host says" "paused" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
t_check "drover domain resume" drover domain resume "$dom"
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
sys_serial_grows "$dom" 2 30
t_eq "reachable hosts after the thaw" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"
t_eq "hosts ever marked unreachable (controller log)" "$unreach0" "$(unreachable_count)"
t_check "drover domain destroy" drover domain destroy "$dom"
t_check "no sanitizer report in the agent log of $host" sh -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$TB_ROOT/logs/agent-$host.log'"
