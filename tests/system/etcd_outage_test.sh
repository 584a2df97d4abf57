#!/usr/bin/env bash
# etcd_outage_test.sh — issue 12, defects 3 and 5, on a real 3-host testbed (bridge drvtbr25,
# 10.77.25.0/24; deploy/cluster-up.sh: real libvirtd per namespace, etcd, controller, agents). etcd is
# made unavailable for real: SIGSTOP of its PID, SIGCONT afterwards. A monitor samples the QEMU
# processes per namespace every 0.5 s (the truth the verbs' answers are compared with).
#   Defect 3 — etcd stopped, `domain destroy vm4`: either it succeeds fully (exit 0, the guest off,
#     desired state shutoff once etcd is back) or it does nothing (non-zero, the guest still runs,
#     desired still running); never power the guest off while reporting failure and keeping
#     desired=running. "unknown outcome" is allowed, and then the stored intent and the guest must
#     agree once etcd is back.
#   Defect 5 — `domain migrate` while etcd is stopped for ~5 s: when the guest did move to the
#     destination, the verb must not exit non-zero; drover's placement must follow. Right after etcd
#     returns, a read (`domain list`) is answered, not refused with "not the leader".
# Every check is soft (printed, recorded, the test goes on); the test fails at the end if any failed.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
sys_cluster_up 25
CLI="$DROVER_BUILD_DIR/cli/drover"
fl_monitor_start "$T_DIR/monitor.log" "$T_DIR/anomalies.txt" 30
ctl_leads() { "$CLI" --controller "$CONTROLLER" --json --timeout 1 cluster status 2>/dev/null | jq -e .is_leader >/dev/null 2>&1; }
all_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = 3 ]; }
desired_of() { djson domain info "$1" | jq -r .desired_state; }
etcd_pid=$(cl_pid etcd) || t_fail "no etcd pid"
# etcd_stop / etcd_cont — SIGSTOP / SIGCONT of etcd's PID (SIGCONT again when the test exits).
etcd_stop() { kill -STOP "$etcd_pid"; t_log "etcd (pid $etcd_pid) stopped (SIGSTOP)"; }
etcd_cont() { kill -CONT "$etcd_pid"; t_log "etcd (pid $etcd_pid) continued (SIGCONT)"; }
t_on_exit "kill -CONT $etcd_pid 2>/dev/null"
t_wait_for "3 hosts reachable" 30 all_reachable

tb_guest_xml vm4 "$(tb_guest_disk vm4 "$IDLE_IMAGE")" 64 >"$T_DIR/vm4.xml"
tb_guest_xml mg5 "$(tb_guest_disk mg5 "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/mg5.xml"
for g in vm4 mg5; do
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "start $g" drover domain start "$g"
  sys_serial_grows "$g" 2 30
done

# ------------------------------------------------------------------ defect 3
h=$(host_of vm4)
t_log "vm4 runs on $h"
etcd_stop
rc=0
t0=$(date +%s%N)
out=$(timeout 60 "$CLI" --controller "$CONTROLLER" --timeout 45 domain destroy vm4 2>&1) || rc=$?
ms=$(sys_ms_since "$t0")
running_at_answer=$(fl_running vm4)
t_log "domain destroy vm4 with etcd stopped: rc $rc after $ms ms: $out (QEMU on: '${running_at_answer}')"
sleep 1
etcd_cont
t_wait_for "the controller leads again" 60 ctl_leads
sleep 3 # let whatever reconciliation there is run
running_after=$(fl_running vm4)
desired=$(desired_of vm4)
t_log "after etcd's return: vm4 QEMU on '$running_after', desired $desired"
t_log "the controller on the late write: $(grep -h "desired state shutoff" "$T_DIR"/controller*.log 2>/dev/null | tail -2 | tr '\n' ' ')"
if [ "$rc" = 0 ]; then
  fl_expect "defect 3: destroy succeeded: the guest is off (QEMU on '$running_after')" test -z "$running_after"
  fl_expect "defect 3: destroy succeeded: desired state stored as shutoff (is $desired)" test "$desired" = shutoff
elif grep -qi "unknown outcome" <<<"$out"; then
  fl_expect "defect 3: unknown outcome: desired ($desired) and the guest (QEMU on '$running_after') agree" \
    sh -c "{ [ '$desired' = shutoff ] && [ -z '$running_after' ]; } || { [ '$desired' = running ] && [ -n '$running_after' ]; }"
else
  fl_expect "defect 3: destroy reported failure (rc $rc: $out): the guest was not powered off (QEMU on '$running_at_answer' at the answer)" \
    test -n "$running_at_answer"
  fl_expect "defect 3: destroy reported failure: the guest still runs after etcd's return (QEMU on '$running_after')" \
    test -n "$running_after"
  fl_expect "defect 3: destroy reported failure: desired state still running (is $desired)" test "$desired" = running
fi
# the guest's truth must stay what the stored intent says (no later restart against a stored shutoff,
# no stop against a stored running)
sleep 5
r=$(fl_running vm4)
d=$(desired_of vm4)
fl_expect "defect 3: 5 s later the guest (QEMU on '$r') still matches its desired state ($d)" \
  sh -c "{ [ '$d' = shutoff ] && [ -z '$r' ]; } || { [ '$d' != shutoff ] && [ -n '$r' ]; }"

# ------------------------------------------------------------------ defect 5
t_wait_for "3 hosts reachable" 60 all_reachable
from=$(host_of mg5)
case "$from" in h1) to=h2 ;; h2) to=h3 ;; *) to=h1 ;; esac
t_log "migrating mg5 $from -> $to with a ~5 s etcd outage"
(rc=0; timeout 120 "$CLI" --controller "$CONTROLLER" --timeout 60 domain migrate mg5 --to "$to" >"$T_DIR/migrate.out" 2>&1 || rc=$?
 echo "$rc" >"$T_DIR/migrate.rc") &
mig_pid=$!
T_PIDS+=("$mig_pid")
job_migrating() { djson job list | jq -e '[.jobs[] | select(.kind == "migrate" and .state == "running")] | length > 0' >/dev/null; }
t_wait_for "the migration job runs" 30 job_migrating
sleep 0.3
etcd_stop
sleep 5
etcd_cont
rc=0
out=$("$CLI" --controller "$CONTROLLER" --timeout 5 domain list 2>&1) || rc=$?
fl_expect "defect 5: right after etcd's return a read is answered (domain list: rc $rc: $(head -n 1 <<<"$out"))" test "$rc" = 0
fl_expect "defect 5: a read is not refused with 'not the leader' after a 5 s etcd outage ($(head -n 1 <<<"$out"))" \
  fl_lacks "not the leader" "$out"
wait "$mig_pid" || true
mrc=$(cat "$T_DIR/migrate.rc" 2>/dev/null || echo '?')
t_log "domain migrate mg5 --to $to: rc $mrc: $(tr '\n' ' ' <<<"$(cat "$T_DIR/migrate.out")" | tail -c 300)"
sleep 1
r=$(fl_running mg5)
t_log "mg5's QEMU runs on h$r"
if [ "$r" = "${to#h} " ]; then
  fl_expect "defect 5: the migration succeeded (mg5's QEMU on $to): domain migrate exits 0 (rc $mrc: $(tail -n 1 "$T_DIR/migrate.out"))" test "$mrc" = 0
  t_wait_for "the controller leads again" 60 ctl_leads
  fl_expect "defect 5: drover places mg5 on $to (says $(host_of mg5))" tb_wait 30 sh -c "[ \"\$('$CLI' --controller '$CONTROLLER' --json domain info mg5 | jq -r .host)\" = '$to' ]"
else
  t_log "the migration did not move mg5 (runs on '$r'); defect 5's condition not reached this run"
  fl_expect "defect 5: the migration failed, mg5 runs on its source $from (runs on '$r')" test "$r" = "${from#h} "
fi
fl_finish
