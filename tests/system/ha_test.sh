#!/usr/bin/env bash
# ha_test.sh — high availability on real hosts (issue 18, docs/ha.md). deploy/cluster-up.sh brings up
# 3 real libvirtd hosts (bridge drvtbr31, 10.77.31.0/24), etcd, the controller and one agent per
# namespace, each agent holding its own fencing lease in etcd (fence_after_s 10, TTL 15). h3 runs two
# HA guests (ha1 priority 10, ha2) and one non-HA guest (plain1). A monitor counts the QEMUs of every
# guest in every namespace each 0.5 s for the whole test: no guest may ever run twice.
#   HA_FAULT=partition (default): h3's veth is pulled down (network partition):
#     - h3's agent cannot renew its lease, destroys ha1 and ha2 itself after 10 s (its log says so)
#       while plain1 keeps running there (it is not HA: never fenced, never restarted elsewhere,
#       reported "unknown (host unreachable)");
#     - once the lease expired the controller restarts ha1 and ha2 on h1/h2 within 30 s of the cut;
#       events host.h3 suspected → fenced, domain.* ha-restarted;
#     - the veth comes back: h3 rejoins, reports what it fenced (fenced-report), its stale
#       definitions of ha1 and ha2 are undefined (never started there), the record is removed.
#   HA_FAILOVER=1: a standby controller runs too (the CLI and the agents are given both endpoints);
#     cluster status lists both, one leading; the leader is SIGKILLed right after it stored the
#     recovery record: the standby takes over, resumes the record and finishes (within 60 s), the
#     CLI finds the new leader by itself, still never twice.
#   HA_FAULT=crash: h3's agent, libvirtd, virtlockd and QEMUs killed by PID (a host crash; nothing
#     fences, the lease simply expires): the same restarts within 30 s, plain1 stays down, reported
#     unknown; h3's libvirtd and agent started again: the stale definitions go, h3 rejoins.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
FAULT=${HA_FAULT:-partition}
NET=${HA_TESTBED:-31}
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
FAILOVER=${HA_FAILOVER:-0}
[ "$FAILOVER" = 1 ] && export CL_STANDBY_AGENT_PORT=7711
sys_cluster_up "$NET"
CLI=$DROVER_BUILD_DIR/cli/drover
EVENTS_URL=$(sed -n 's/^CL_EVENTS=//p' "$TB_ROOT/cluster.env")
if [ "$FAILOVER" = 1 ]; then
  # a standby controller (same key, its own name and ports); the CLI and the agents get both
  sed -e 's/:7701$/:7711/' -e 's/:7702$/:7712/' -e 's/:7703$/:7713/' \
    -e 's/^\[controller\]$/[controller]\nname = standby/' "$TB_ROOT/controller.conf" >"$TB_ROOT/controller2.conf"
  cl_spawn controller2 'drover-controller' "$DROVER_BUILD_DIR/controller/drover-controller" --config "$TB_ROOT/controller2.conf"
  CONTROLLER="$CONTROLLER,tcp://$TB_BRIDGE_IP:7712"
  two_controllers() { [ "$(djson cluster status | jq '[.controllers[]] | length')" = 2 ]; }
  t_wait_for "cluster status lists both controllers" 20 two_controllers
  st=$(djson cluster status)
  t_eq "exactly one controller leads: $(jq -c '.controllers' <<<"$st")" 1 "$(jq '[.controllers[] | select(.leading)] | length' <<<"$st")"
  t_eq "the standby does not lead" false "$(jq '.controllers[] | select(.name == "standby") | .leading' <<<"$st")"
fi

three_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = 3 ]; }
t_wait_for "3 hosts reachable" 30 three_reachable

# --- three guests on h3 (h1, h2 in maintenance while they start)
for h in h1 h2; do out=$(drover host maintenance "$h" --wait) || t_fail "maintenance of $h: $out"; done
GUESTS="ha1 ha2 plain1"
for g in $GUESTS; do
  tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "start $g" drover domain start "$g"
  t_eq "$g on h3" h3 "$(host_of "$g")"
done
for h in h1 h2; do t_eq "activate $h" "Host '$h' is now active" "$(drover host activate "$h")"; done

# --- the HA policy, stored with the domain and shown by info and list
t_eq "domain ha ha1" "Domain 'ha1' HA: enabled, priority 10, restart limit 3" \
  "$(drover domain ha ha1 --enable --priority 10 --restart-limit 3)"
t_check "domain ha ha2" drover domain ha ha2 --enable
t_eq "ha1's stored policy" "true 10 3" \
  "$(etcdctl --endpoints "$ETCD" get /drover/v1/domains/ha1 --print-value-only | jq -r '"\(.ha.enabled) \(.ha.priority) \(.ha.restart_limit)"')"
t_check "domain info shows HA" sh -c "'$CLI' --controller '$CONTROLLER' domain info ha1 | grep -q '^HA: *enabled, priority 10, restart limit 3'"
list=$(drover domain list)
t_check "domain list: ha1 'on p10': $list" grep -qE '^ha1 .* on p10$' <<<"$list"
t_check "domain list: plain1 '-'" grep -qE '^plain1 .* -$' <<<"$list"
t_wait_for "h3's agent knows its 2 HA guests" 20 sh -c "jq -e '(.ha | sort) == [\"ha1\",\"ha2\"]' '$TB_ROOT/agents/h3.state'"
t_wait_for "h3's agent published its fencing lease" 10 sh -c "etcdctl --endpoints '$ETCD' get /drover/v1/fence/h3 --print-value-only | jq -e '.lease_id' >/dev/null"
for g in $GUESTS; do sys_serial_grows "$g" 1 60; done

# --- events and the QEMU monitor
"$CLI" --controller "$CONTROLLER" --events "$EVENTS_URL" --json events >"$T_DIR/events.jsonl" 2>"$T_DIR/events.err" &
echo $! >>"$T_DIR/.pids"
fl_monitor_start "$T_DIR/monitor.log" "$T_DIR/anomalies.log" 5
sleep 1
declare -A qpid
for g in $GUESTS; do qpid[$g]=$(tb_host_qemu_pid 3 "$g") || t_fail "no QEMU for $g on h3"; done

# --- the fault
t0=$(date +%s%N)
case "$FAULT" in
  partition)
    ip link set "$(tb_veth 3)" down
    t_log "veth $(tb_veth 3) of h3 down (partition)" ;;
  crash)
    ap=$(cl_pid agent-h3) || t_fail "no agent pid for h3"
    lv=$(tb_host_pid 3) || t_fail "no libvirtd pid for h3"
    lk=$(tb_host_virtlockd_pid 3) || t_fail "no virtlockd pid for h3"
    kill -KILL "$ap" "$lv" "$lk" "${qpid[@]}"
    t_log "h3 crashed: agent $ap, libvirtd $lv, virtlockd $lk, QEMUs ${qpid[*]} killed" ;;
  *) t_fail "HA_FAULT=$FAULT: partition or crash" ;;
esac

if [ "$FAILOVER" = 1 ]; then
  # the leader is killed in the middle of the recovery: right after it stored the record
  recording() { [ -n "$(etcdctl --endpoints "$ETCD" get /drover/v1/harecover/h3 --print-value-only)" ]; }
  t_wait_for "the leader stored the recovery record of h3" 30 recording
  lp=$(cl_pid controller) || t_fail "no controller pid"
  kill -KILL "$lp"
  t_log "leader controller (pid $lp) killed mid-recovery: $(etcdctl --endpoints "$ETCD" get /drover/v1/harecover/h3 --print-value-only)"
fi
on_other() { # GUEST: runs on h1 or h2 (monitor) and the controller says running there
  local r
  r=$(fl_running "$1")
  [[ "$r" =~ ^[12]\ $ ]] || return 1
  [ "$(djson domain info "$1" | jq -r '"\(.state) \(.host)"')" = "running h${r% }" ]
}
both_on_other() { on_other ha1 && on_other ha2; }
LIMIT_S=30
[ "$FAILOVER" = 1 ] && LIMIT_S=60 # + the standby's take-over (leader_ttl_s) and the agents' move
t_wait_for "ha1 and ha2 running on h1/h2" "$LIMIT_S" both_on_other
recovery_ms=$(sys_ms_since "$t0")
t_log "RECOVERY: both HA guests running elsewhere ${recovery_ms} ms after the $FAULT"
echo "$recovery_ms" >"$T_DIR/recovery_ms"
t_check "recovered within $LIMIT_S s ($recovery_ms ms)" test "$recovery_ms" -le $((LIMIT_S * 1000))
if [ "$FAILOVER" = 1 ]; then
  st=$(djson cluster status)
  t_eq "the standby leads now: $(jq -c '.controllers' <<<"$st")" standby "$(jq -r .leader <<<"$st")"
  t_check "the standby finished the recovery" grep -aq "HA: resuming the recovery of host 'h3'" "$TB_ROOT/logs/controller2.log"
fi

if [ "$FAULT" = partition ]; then
  t_check "h3's agent fenced ha1 and ha2: $(grep -a 'fenced:' "$TB_ROOT/logs/agent-h3.log" | tail -n 1)" \
    grep -aqE 'fenced: destroyed 2 HA guests \((ha1, ha2|ha2, ha1)\)' "$TB_ROOT/logs/agent-h3.log"
  t_check "plain1 (not HA) still runs on h3 (never fenced)" kill -0 "${qpid[plain1]}"
  for g in ha1 ha2; do t_check "$g's old QEMU on h3 is gone" sh -c "! kill -0 ${qpid[$g]} 2>/dev/null"; done
else
  t_eq "plain1 (not HA) does not run anywhere" "" "$(fl_running plain1)"
fi
t_eq "plain1 is not restarted elsewhere: reported" "unknown host unreachable h3" \
  "$(djson domain info plain1 | jq -r '"\(.state) \(.reason) \(.host)"')"
ev() { jq -c --arg t "$1" --arg y "$2" 'select(.topic == $t and .type == $y)' "$T_DIR/events.jsonl" | wc -l; }
if [ "$FAILOVER" != 1 ]; then # the event stream was the killed leader's
t_check "event host.h3 suspected" test "$(ev host.h3 suspected)" -ge 1
t_check "event host.h3 fenced" test "$(ev host.h3 fenced)" -ge 1
t_check "event domain.ha1 ha-restarted" test "$(ev domain.ha1 ha-restarted)" -ge 1
t_check "event domain.ha2 ha-restarted" test "$(ev domain.ha2 ha-restarted)" -ge 1
t_eq "no ha-restarted event for plain1" 0 "$(ev domain.plain1 ha-restarted)"
fi
t_eq "ha1's restart counted" 1 "$(djson domain info ha1 | jq -r '.ha.restarts')"

# --- h3 comes back
if [ "$FAULT" = partition ]; then
  ip link set "$(tb_veth 3)" up
else
  tb_host_start 3 >"$T_DIR/h3-restart.log" 2>&1 || t_fail "libvirtd of h3 did not start again"
  cl_spawn agent-h3 'drover-agent' ip netns exec "$(tb_ns 3)" "$DROVER_BUILD_DIR/hostagent/drover-agent" --config "$TB_ROOT/agents/h3.conf"
fi
t_wait_for "h3 reachable again" 60 sh -c "[ \"\$('$CLI' --controller '$CONTROLLER' --json host show h3 | jq -r .reachable)\" = true ]"
stale_gone() { ! tb_virsh 3 list --all --name | grep -qxE 'ha1|ha2'; }
t_wait_for "h3's stale definitions of ha1 and ha2 removed" 30 stale_gone
t_wait_for "the recovery record of h3 removed" 30 sh -c "[ -z \"\$(etcdctl --endpoints '$ETCD' get /drover/v1/harecover/h3 --print-value-only)\" ]"
if [ "$FAULT" = partition ]; then
  reported() { jq -c 'select(.topic == "host.h3" and .type == "fenced-report") | .object.fenced | any(.[]; . == "ha1")' "$T_DIR/events.jsonl" | grep -q true; }
  t_wait_for "h3 reported what it fenced" 10 reported
  t_eq "plain1 runs on h3 again, known" "running h3" "$(djson domain info plain1 | jq -r '"\(.state) \(.host)"')"
fi
sleep 3 # the monitor keeps sampling after the return
for g in ha1 ha2; do
  t_check "$g runs exactly once (h1 or h2): $(fl_running "$g")" grep -qxE '[12] ' <<<"$(fl_running "$g")"
done
fl_finish
t_log "PASS ($FAULT: recovery ${recovery_ms} ms, $T_CHECKS checks)"
