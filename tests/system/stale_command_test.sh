#!/usr/bin/env bash
# stale_command_test.sh — issue 12, defect 4, the maintenance of an unreachable host (defect 5's
# second point) and cluster-up.sh run again (the last bullet), on a real 3-host testbed (bridge
# drvtbr26, 10.77.26.0/24; deploy/cluster-up.sh: real libvirtd per namespace, etcd, controller,
# agents). Agents are made unreachable for real: SIGSTOP of their PID, SIGCONT afterwards. A monitor
# samples the QEMU processes per namespace every 0.5 s (the truth).
#   cluster-up.sh again — run once more with --samples 2 it creates and starts vm1 and vm2; vm2 is
#     destroyed, a 4th agent (libvirt test driver) joins so 3 hosts stay reachable, and vm2's host's
#     agent is stopped (vm2's state is unknown): a further run must not start vm2 (desired still
#     shutoff, placement unchanged, no QEMU), must not touch vm1 (same QEMU), and exits 0.
#   Defect 4 — vm1's agent stopped, `domain destroy vm1` returns, SIGCONT 5 s after the stop (up to
#     5 attempts, the agent's wake-up being a race): if the
#     verb reported failure, the guest must still run (the expired command never runs); "unknown
#     outcome" may go either way but the stored desired state and the guest must then agree; success
#     means the guest is off and desired shutoff.
#   Unreachable host — `host maintenance hN` of a host running a guest whose agent is stopped: the
#     host is not in maintenance while its inventory is not authoritative, and it is not left in
#     `preparing-maintenance`: refused → still active; accepted → it ends in maintenance (or back
#     to active) once the agent answers again.
# Every check is soft (printed, recorded, the test goes on); the test fails at the end if any failed.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
sys_cluster_up 26
CLI="$DROVER_BUILD_DIR/cli/drover"
fl_monitor_start "$T_DIR/monitor.log" "$T_DIR/anomalies.txt" 30
reachable() { [ "$(djson host show "$1" | jq -r .reachable)" = "$2" ]; } # reachable HOST true|false
all_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable and .id != "h4")] | length')" = 3 ]; }
desired_of() { djson domain info "$1" | jq -r .desired_state; }
hstate() { djson host show "$1" | jq -r .state; }
# agent_stop HOST / agent_cont HOST — SIGSTOP / SIGCONT of that host's agent (by PID).
agent_stop() { kill -STOP "$(cl_pid "agent-$1")"; t_log "agent of $1 (pid $(cl_pid "agent-$1")) stopped (SIGSTOP)"; }
agent_cont() { kill -CONT "$(cl_pid "agent-$1")"; t_log "agent of $1 continued (SIGCONT)"; }
for k in 1 2 3; do t_on_exit "kill -CONT $(cl_pid "agent-h$k") 2>/dev/null"; done
cluster_up_again() {
  bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" \
    --ns-prefix "$TB_NS_PREFIX" --net "$TB_NET" --hosts 3 --samples 2 --no-install --no-build \
    --build-dir "$DROVER_BUILD_DIR"
}
t_wait_for "3 hosts reachable" 30 all_reachable

# ------------------------------------------------------------------ cluster-up.sh again
cluster_up_again >"$T_DIR/cluster-up-samples.log" 2>&1 ||
  t_fail "cluster-up.sh --samples 2 on the running cluster failed: $(tail -n 5 "$T_DIR/cluster-up-samples.log")"
for g in vm1 vm2; do
  t_wait_for "$g runs" 30 sh -c "[ \"\$('$CLI' --controller '$CONTROLLER' --json domain info $g | jq -r .state)\" = running ]"
  sys_serial_grows "$g" 2 30
done
t_check "destroy vm2" drover domain destroy vm2
t_wait_for "vm2's QEMU gone" 15 sh -c "[ -z \"\$(tail -n 1 '$FL_MON' | tr ' ' '\n' | grep '^vm2@')\" ]"
p=$(host_of vm2)
v1=$(host_of vm1)
v1_pid=$(tb_host_qemu_pid "${v1#h}" vm1) || t_fail "no QEMU pid for vm1 on $v1"
t_log "vm1 runs on $v1 (QEMU pid $v1_pid); vm2 is shut off, placed on '$p'"
[ -n "$p" ] && [ "$p" != null ] || t_fail "vm2 lost its placement when it was destroyed"
# A 4th host, an agent on libvirt's test driver (root namespace, talking to this testbed's
# controller only), so that cluster-up.sh's "3 hosts reachable" holds while vm2's real host is
# unreachable (its agent stopped): vm2's state is then unknown when the samples are handled.
cl_test_node_xml "$TB_ROOT/agents/h4-node.xml"
cl_host_key h4 "$CONTROLLER"
cl_agent_conf "$TB_ROOT/agents/h4.conf" h4 "tcp://$TB_BRIDGE_IP:7701" "test://$TB_ROOT/agents/h4-node.xml" \
  "test://$TB_ROOT/agents/h4-node.xml" "$(printf 'drover-test-host %s 4' "$TB_NAME" | md5sum | cut -c1-32 |
    sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')"
cl_spawn agent-h4 'drover-agent' "$DROVER_BUILD_DIR/hostagent/drover-agent" --config "$TB_ROOT/agents/h4.conf"
t_wait_for "h4 (test driver) reachable" 30 reachable h4 true
agent_stop "$p"
t_wait_for "$p unreachable" 30 reachable "$p" false
t_log "vm2 now: $(djson domain info vm2 | jq -c '{state, desired_state, host, busy}'); vm1: $(djson domain info vm1 | jq -c '{state, desired_state, host, busy}')"
rc=0
cluster_up_again >"$T_DIR/cluster-up-again.log" 2>&1 || rc=$?
t_log "cluster-up.sh again with vm2 unknown: rc $rc: $(grep -E '^==> (sample|defining)|error' "$T_DIR/cluster-up-again.log" | tr '\n' ' ')"
sleep 2
fl_expect "cluster-up.sh again: vm2 (state unknown) not started: desired still shutoff (is $(desired_of vm2))" test "$(desired_of vm2)" = shutoff
fl_expect "cluster-up.sh again: vm2 not started: still placed on $p (is $(host_of vm2))" test "$(host_of vm2)" = "$p"
fl_expect "cluster-up.sh again: no QEMU of vm2 anywhere (on: '$(fl_running vm2)')" test -z "$(fl_running vm2)"
fl_expect "cluster-up.sh again: vm1 untouched (QEMU pid $v1_pid on $v1 still runs, on: '$(fl_running vm1)')" \
  sh -c "kill -0 $v1_pid && [ '$(fl_running vm1)' = '${v1#h} ' ]"
fl_expect "cluster-up.sh again: exits 0 (rc $rc: $(tail -n 2 "$T_DIR/cluster-up-again.log" | tr '\n' ' '))" test "$rc" = 0
agent_cont "$p"
t_wait_for "$p reachable again" 60 reachable "$p" true
tb_stop_pid "$(cl_pid agent-h4)" drover-agent 10
t_wait_for "3 hosts reachable" 60 all_reachable

# ------------------------------------------------------------------ defect 4
# Whether the stopped agent reads the queued command before it notices the missed heartbeats is a
# race (its zmq I/O thread against its main loop's liveness check), so the scenario runs up to 5 times
# and stops at the first attempt that shows the defect.
vm1_runs() { [ "$(djson domain info vm1 | jq -r .state)" = running ] && [ -n "$(fl_running vm1)" ]; }
n_fail=${#FL_FAILS[@]}
for attempt in 1 2 3 4 5; do
  t_wait_for "3 hosts reachable" 60 all_reachable
  vm1_runs || { drover domain start vm1 >/dev/null 2>&1 || true; t_wait_for "vm1 running again" 60 vm1_runs; }
  h=$(host_of vm1)
  fl_expect "defect 4 (attempt $attempt): vm1 runs on $h (on: '$(fl_running vm1)')" test "$(fl_running vm1)" = "${h#h} "
  agent_stop "$h"
  t_stop=$(date +%s%N)
  rc=0
  out=$(timeout 60 "$CLI" --controller "$CONTROLLER" --timeout 45 domain destroy vm1 2>&1) || rc=$?
  t_log "attempt $attempt: domain destroy vm1 with $h's agent stopped: rc $rc after $(sys_ms_since "$t_stop") ms: $out"
  left=$(( 5000 - $(sys_ms_since "$t_stop") ))
  [ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
  agent_cont "$h"
  t_wait_for "$h reachable again" 60 reachable "$h" true
  sleep 5
  r=$(fl_running vm1)
  d=$(desired_of vm1)
  t_log "attempt $attempt: 5 s after SIGCONT: vm1's QEMU on '$r', desired $d"
  if [ "$rc" = 0 ]; then
    fl_expect "defect 4 (attempt $attempt): destroy succeeded: vm1 is off (on: '$r')" test -z "$r"
    fl_expect "defect 4 (attempt $attempt): destroy succeeded: desired shutoff (is $d)" test "$d" = shutoff
  elif grep -qi "unknown outcome" <<<"$out"; then
    fl_expect "defect 4 (attempt $attempt): unknown outcome: desired ($d) and the guest (on: '$r') agree" \
      sh -c "{ [ '$d' = shutoff ] && [ -z '$r' ]; } || { [ '$d' != shutoff ] && [ -n '$r' ]; }"
  else
    fl_expect "defect 4 (attempt $attempt): destroy reported failure (rc $rc: $out): the expired command did not run, vm1 still runs (on: '$r')" test -n "$r"
    fl_expect "defect 4 (attempt $attempt): destroy reported failure: desired still running (is $d)" test "$d" = running
  fi
  [ "${#FL_FAILS[@]}" = "$n_fail" ] || break
  # after a success or an unknown outcome that stopped it, vm1 is started again for the next attempt
done

# ------------------------------------------------------------------ maintenance of an unreachable host
t_wait_for "3 hosts reachable" 60 all_reachable
# a host that runs a guest
tb_guest_xml mt "$(tb_guest_disk mt "$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img")" 64 >"$T_DIR/mt.xml"
t_check "define mt" drover domain define "$T_DIR/mt.xml"
t_check "start mt" drover domain start mt
m=$(host_of mt)
agent_stop "$m"
t_wait_for "$m unreachable" 30 reachable "$m" false
rc=0
out=$("$CLI" --controller "$CONTROLLER" --timeout 30 host maintenance "$m" 2>&1) || rc=$?
st=$(hstate "$m")
t_log "host maintenance $m while unreachable: rc $rc: $(tail -n 1 <<<"$out"); state now $st"
fl_expect "unreachable host: $m (running mt, its inventory not authoritative) is not in maintenance while its agent is stopped (state $st)" \
  test "$st" != maintenance
sleep 2
agent_cont "$m"
t_wait_for "$m reachable again" 60 reachable "$m" true
# the drain goes on (or ends) once the agent answers: wait up to 45 s for it to leave preparing-maintenance
not_preparing() { [ "$(hstate "$m")" != preparing-maintenance ]; }
tb_wait 45 not_preparing || true
st=$(hstate "$m")
t_log "$m's state up to 45 s after its agent answers again: $st"
fl_expect "unreachable host: the maintenance of $m does not leave it in preparing-maintenance (state $st; rc $rc: $(tail -n 1 <<<"$out"))" \
  test "$st" != preparing-maintenance
if [ "$rc" != 0 ]; then
  fl_expect "unreachable host: the refused maintenance leaves $m active (state $st)" test "$st" = active
fi
fl_finish
