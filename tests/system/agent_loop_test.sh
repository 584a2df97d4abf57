#!/usr/bin/env bash
# agent_loop_test.sh — the agent's loop and workers on real hosts (issues 11 and 12):
# deploy/cluster-up.sh brings up 3 real libvirtd hosts (testbed 21: bridge drvtbr21,
# 10.77.21.0/24), etcd, the controller and one agent per namespace. A real QEMU guest runs on one
# host; that host's libvirtd is frozen (SIGSTOP, by PID) and a `drover domain suspend` of the guest
# is sent through the controller: the agent's worker waits on the frozen libvirtd, while the agent
# keeps heartbeating — the host stays reachable for more than twice the liveness window and the
# controller never logs a host as unreachable. After SIGCONT the suspend completes (exit 0, libvirt
# says paused), the guest resumes, and every host is still reachable.
# Before the fix the command ran on the agent's loop, so the host went unreachable after 3 s.
# Then the migration policy decisions (jobs/migrate_monitor.c) on a real migration of the
# memory-dirtying guest: a cancel midway (the loop only flags it, the monitor aborts) leaves the
# guest on its source; --timeout 3 at 2 MiB/s aborts with the timeout as the reason; --postcopy at
# 40 MiB/s switches to post-copy because pre-copy does not converge, and completes.
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

# --- migration policy decisions through the source agent's monitor
resv_count() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --prefix --keys-only /drover/v1/reservations/ | grep -c . || true; }
job_moving() {
  djson job show "$1" | jq -e '.migrate.phase == "migrating" and .migrate.progress.data_processed > 0' >/dev/null
}
only_on() {
  local d=$1 i=$2 j
  sys_qemu_in_ns "$i" "$d"
  for j in 1 2 3; do
    [ "$j" = "$i" ] && continue
    t_check "no QEMU for $d on h$j" test -z "$(tb_host_qemu_pid "$j" "$d" || true)"
  done
}
src=$host
case "$src" in h1) dst=h2 ;; *) dst=h1 ;; esac

id=$(djson domain migrate "$dom" --to "$dst" --bandwidth 2 --detach | jq -r .id)
t_wait_for "job $id migrating" 30 job_moving "$id"
t_check "job cancel $id" drover job cancel "$id"
t0=$(date +%s%N)
drover job watch "$id" >"$T_DIR/cancel-watch.log" 2>&1 && t_fail "a cancelled job watched as succeeded"
t_log "cancelled in $(sys_ms_since "$t0") ms"
t_eq "cancelled job state" cancelled "$(djson job show "$id" | jq -r .state)"
t_eq "still placed on $src after the cancel" "$src" "$(host_of "$dom")"
only_on "$dom" "$hi"
sys_serial_grows "$dom" 2 30

rc=0
job=$(djson domain migrate "$dom" --to "$dst" --bandwidth 2 --timeout 3) || rc=$?
t_eq "exit status of a timed-out migration" 1 "$rc"
t_eq "timed-out job state" failed "$(jq -r .state <<<"$job")"
t_check "the job's reason is the timeout ($(jq -r .error <<<"$job"))" \
  jq -e '.error | test("aborted after the 3 s timeout: ")' <<<"$job"
t_check "the source agent logged the monitor's decision" \
  grep -q "domain '$dom': migration not finished after the 3 s timeout" "$TB_ROOT/logs/agent-$src.log"
t_eq "still placed on $src after the timeout" "$src" "$(host_of "$dom")"
only_on "$dom" "$hi"
sys_serial_grows "$dom" 2 30

job=$(djson domain migrate "$dom" --to "$dst" --postcopy --bandwidth 40) || t_fail "post-copy migration $src → $dst: $job"
t_eq "post-copy job state" succeeded "$(jq -r .state <<<"$job")"
t_eq "the job records that post-copy was used" true "$(jq -r .migrate.result.postcopy_used <<<"$job")"
t_check "the source agent switched because pre-copy did not converge" \
  grep -q "domain '$dom': migration switched to post-copy: pre-copy not converging: iteration" "$TB_ROOT/logs/agent-$src.log"
t_eq "placement after the post-copy move" "$dst" "$(host_of "$dom")"
only_on "$dom" "${dst#h}"
sys_serial_grows "$dom" 2 30
t_eq "no reservation left" 0 "$(resv_count)"
t_check "drover domain destroy" drover domain destroy "$dom"
for k in 1 2 3; do
  t_check "no sanitizer report in the agent log of h$k" sh -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$TB_ROOT/logs/agent-h$k.log'"
done
