#!/usr/bin/env bash
# ha_nofence_test.sh — losses of contact that must fence nothing (issue 18, docs/ha.md). A cluster
# of 3 real libvirtd hosts (bridge drvtbr33, 10.77.33.0/24), 3 HA guests spread over them, each agent
# holding its own fencing lease in etcd (fence_after_s 10):
#   - etcd SIGSTOPped for 4 s (a short election / stall; less than fence_after_s): no agent fences;
#   - every controller SIGKILLed for 60 s while etcd and the hosts are fine: the agents keep
#     renewing their leases with etcd, so no agent fences and no lease expires; the controller is
#     started again: it restarts nothing (no ha-restarted), every guest still runs in the same QEMU
#     process it ran in before the outage (same PIDs, serial logs growing), and the hosts rejoin;
#   - then HA in place: nf1 and nf2 destroyed with virsh behind drover's back start again on their
#     host (ha-restarted, restarts 1); nf2 (restart limit 1) destroyed again stays shut off,
#     ha-waiting "restart limit reached (1 of 1)".
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
OUTAGE_S=${HA_OUTAGE_S:-60}
sys_cluster_up 33
EVENTS_URL=$(sed -n 's/^CL_EVENTS=//p' "$TB_ROOT/cluster.env")
three_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = 3 ]; }
t_wait_for "3 hosts reachable" 30 three_reachable

GUESTS="nf1 nf2 nf3"
for g in $GUESTS; do
  tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "HA for $g" drover domain ha "$g" --enable
  t_check "start $g" drover domain start "$g"
done
declare -A qpid
for g in $GUESTS; do
  h=$(host_of "$g")
  qpid[$g]=$(tb_host_qemu_pid "${h#h}" "$g") || t_fail "no QEMU for $g on $h"
  sys_serial_grows "$g" 1 60
done
knows_ha() {
  local k
  for k in 1 2 3; do jq -e '.ha' "$TB_ROOT/agents/h$k.state" >/dev/null || return 1; done
  [ "$(cat "$TB_ROOT"/agents/h*.state | jq -s '[.[].ha[]] | length')" = 3 ]
}
t_wait_for "the agents know their HA guests" 20 knows_ha
fl_monitor_start "$T_DIR/monitor.log" "$T_DIR/anomalies.log" 5
"$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" --events "$EVENTS_URL" --json events \
  >"$T_DIR/events.jsonl" 2>"$T_DIR/events.err" &
echo $! >>"$T_DIR/.pids"
fences() { cat "$TB_ROOT"/logs/agent-h*.log | grep -ac 'destroying .* HA guest' || true; }

# --- etcd stalled for 4 s
ep=$(cl_pid etcd) || t_fail "no etcd pid"
kill -STOP "$ep"
sleep 4
kill -CONT "$ep"
t_log "etcd (pid $ep) was stopped for 4 s"
sleep 3
t_eq "no agent fenced during the etcd stall" 0 "$(fences)"

# --- every controller killed for OUTAGE_S
cp=$(cl_pid controller) || t_fail "no controller pid"
kill -KILL "$cp"
t_log "controller (pid $cp) killed; waiting ${OUTAGE_S}s"
sleep "$OUTAGE_S"
t_eq "no agent fenced while no controller ran" 0 "$(fences)"
for k in 1 2 3; do
  lease=$(etcdctl --endpoints "$ETCD" get "/drover/v1/fence/h$k" --print-value-only | jq -r .lease_id)
  ttl=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD" lease timetolive "$(printf '%x' "$lease")" | grep -oE 'remaining\(-?[0-9]+s\)')
  t_check "h$k's fencing lease is alive after the outage ($ttl)" grep -qE 'remaining\(([1-9]|1[0-9])s\)' <<<"$ttl"
done
for g in $GUESTS; do t_check "$g's QEMU (pid ${qpid[$g]}) still runs" kill -0 "${qpid[$g]}"; done
cl_spawn controller 'drover-controller' "$DROVER_BUILD_DIR/controller/drover-controller" --config "$TB_ROOT/controller.conf"
t_wait_for "3 hosts reachable after the controller's return" 60 three_reachable
sleep 5
for g in $GUESTS; do
  t_check "$g still runs in the same QEMU (pid ${qpid[$g]})" kill -0 "${qpid[$g]}"
  t_eq "$g running" running "$(djson domain info "$g" | jq -r .state)"
  sys_serial_grows "$g" 1 30
done
t_eq "no agent fenced" 0 "$(fences)"
t_eq "no HA restart" 0 "$(grep -c 'ha-restarted' "$T_DIR/events.jsonl" || true)"
t_eq "no recovery record" 0 "$(etcdctl --endpoints "$ETCD" get --prefix /drover/v1/harecover/ --keys-only | grep -c . || true)"

# --- HA in place: a guest destroyed behind drover's back on a healthy host starts again there, within
# its restart limit
t_check "restart limit 1 for nf2" drover domain ha nf2 --restart-limit 1
for g in nf1 nf2; do
  h=$(host_of "$g")
  tb_virsh "${h#h}" destroy "$g" >/dev/null || t_fail "virsh destroy $g on $h"
  again() { [ "$(djson domain info "$1" | jq -r '"\(.state) \(.host)"')" = "running $2" ]; }
  t_wait_for "$g running again on $h (HA in place)" 20 again "$g" "$h"
  t_eq "$g's restart counted" 1 "$(djson domain info "$g" | jq -r .ha.restarts)"
done
t_eq "two ha-restarted events" 2 "$(jq -c 'select(.type == "ha-restarted")' "$T_DIR/events.jsonl" | wc -l)"
h=$(host_of nf2)
tb_virsh "${h#h}" destroy nf2 >/dev/null || t_fail "virsh destroy nf2 on $h"
limited() { [ "$(djson domain info nf2 | jq -r '"\(.state) \(.ha_waiting)"')" = "shut off restart limit reached (1 of 1)" ]; }
t_wait_for "nf2 over its restart limit stays down, ha-waiting" 20 limited
sleep 3
t_eq "nf2 not started a second time" "shut off" "$(djson domain info nf2 | jq -r .state)"
fl_finish
t_log "PASS ($T_CHECKS checks)"
