#!/usr/bin/env bash
# ha_soak.sh — random faults in a row on a real testbed with HA guests (issue 18, docs/ha.md):
# HA_SOAK_HOSTS libvirtd hosts (default 3; 4 by hand) (bridge drvtbr33, 10.77.33.0/24), HA_SOAK_GUESTS HA guests (default 4) spread over
# them, and HA_SOAK_FAULTS faults (default 3 in the system tier; any number by hand, HA_SOAK_SEED to
# replay), each chosen among:
#   partition       a host's veth down for 25 s (its agent fences, the guests restart elsewhere),
#                   then up (the host rejoins clean)
#   crash           a host's agent, libvirtd, virtlockd and QEMUs killed by PID, started again after
#                   the recovery
#   kill-agent      a host's agent SIGKILLed and started again 2 s later (resumes its lease: nothing
#                   fenced)
#   kill-libvirtd   a host's libvirtd SIGKILLed and started again 2 s later
#   kill-controller the controller SIGKILLed for 5 s
#   stop-etcd       etcd SIGSTOPped for 4 s (less than fence_after_s: nothing fenced)
# After each fault, within 60 s, every HA guest must run exactly once (a QEMU monitor over every
# namespace every 0.5 s for the whole run: never twice) and the controller must say so; the time
# from the fault to "every HA guest running" is printed per fault and, at the end, p50 and max
# (bench/ha/run.sh runs this with a larger count).
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
FAULTS=${HA_SOAK_FAULTS:-3}
NGUESTS=${HA_SOAK_GUESTS:-4}
SEED=${HA_SOAK_SEED:-$$}
RANDOM=$SEED
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
SYS_HOSTS=${HA_SOAK_HOSTS:-3} sys_cluster_up "${HA_TESTBED:-33}"
CLI=$DROVER_BUILD_DIR/cli/drover
t_log "seed $SEED, $FAULTS faults, $NGUESTS HA guests, $TB_HOSTS hosts"
all_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = "$TB_HOSTS" ]; }
t_wait_for "$TB_HOSTS hosts reachable" 30 all_reachable

GUESTS=()
for ((g = 1; g <= NGUESTS; g++)); do GUESTS+=("hs$g"); done
for g in "${GUESTS[@]}"; do
  tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "HA for $g" drover domain ha "$g" --enable --priority $((RANDOM % 3))
  t_check "start $g" drover domain start "$g"
done
fl_monitor_start "$T_DIR/monitor.log" "$T_DIR/anomalies.log" 5

# all_once — every HA guest runs in exactly one namespace (monitor) and the controller agrees.
all_once() {
  local g r doc
  doc=$(djson domain list --all) || return 1
  for g in "${GUESTS[@]}"; do
    r=$(fl_running "$g")
    [[ "$r" =~ ^[0-9]+\ $ ]] || return 1
    [ "$(jq -r --arg g "$g" '.domains[] | select(.name == $g) | "\(.state) \(.host)"' <<<"$doc")" = "running h${r% }" ] || return 1
  done
}
# t_wait_for_soft TIMEOUT_S COMMAND... — polls COMMAND every 0.2 s; returns 1 (no failure) on timeout.
t_wait_for_soft() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
# moved — every HA guest that ran on the faulted host (ON_K) runs on another host now.
moved() {
  local g
  for g in $ON_K; do [[ "$(fl_running "$g")" =~ ^[0-9]+\ $ ]] && [ "$(fl_running "$g")" != "$k " ] || return 1; done
}
recovered() { all_once && { [ "$kind" != partition ] && [ "$kind" != crash ] || moved; }; }
clean() { # the last faulted host rejoined, no recovery record left, every host reachable
  all_reachable && [ -z "$(etcdctl --endpoints "$ETCD" get --prefix /drover/v1/harecover/ --keys-only)" ]
}
t_wait_for "every HA guest running once" 60 all_once

restart_host() {
  local k=$1
  tb_host_start "$k" >>"$T_DIR/host-restart.log" 2>&1 || t_fail "libvirtd of h$k did not start again"
  cl_spawn "agent-h$k" 'drover-agent' ip netns exec "$(tb_ns "$k")" \
    "$DROVER_BUILD_DIR/hostagent/drover-agent" --config "$TB_ROOT/agents/h$k.conf"
}

KINDS=(partition crash kill-agent kill-libvirtd kill-controller stop-etcd)
TIMES=()
for ((f = 1; f <= FAULTS; f++)); do
  kind=${KINDS[RANDOM % ${#KINDS[@]}]}
  k=$((1 + RANDOM % TB_HOSTS))
  ON_K=""
  for g in "${GUESTS[@]}"; do [ "$(fl_running "$g")" = "$k " ] && ON_K+="$g "; done
  t0=$(date +%s%N)
  case "$kind" in
    partition) ip link set "$(tb_veth "$k")" down ;;
    crash)
      pids=("$(cl_pid "agent-h$k")" "$(tb_host_pid "$k")" "$(tb_host_virtlockd_pid "$k")")
      mapfile -t -O 3 pids < <(tb_host_qemu_pids "$k")
      kill -KILL "${pids[@]}" 2>/dev/null ;;
    kill-agent)
      kill -KILL "$(cl_pid "agent-h$k")"; sleep 2
      cl_spawn "agent-h$k" 'drover-agent' ip netns exec "$(tb_ns "$k")" \
        "$DROVER_BUILD_DIR/hostagent/drover-agent" --config "$TB_ROOT/agents/h$k.conf" ;;
    kill-libvirtd) kill -KILL "$(tb_host_pid "$k")"; sleep 2; tb_host_start "$k" >>"$T_DIR/host-restart.log" 2>&1 ;;
    kill-controller)
      kill -KILL "$(cl_pid controller)"; sleep 5
      cl_spawn controller 'drover-controller' "$DROVER_BUILD_DIR/controller/drover-controller" \
        --config "$TB_ROOT/controller.conf" ;;
    stop-etcd) ep=$(cl_pid etcd); kill -STOP "$ep"; sleep 4; kill -CONT "$ep" ;;
  esac
  fl_expect "fault $f ($kind h$k, its HA guests: ${ON_K:-none}): every HA guest running once within 60 s" \
    t_wait_for_soft 60 recovered
  ms=$(sys_ms_since "$t0")
  TIMES+=("$ms")
  printf '[%s] FAULT %d %s h%d: every HA guest running again after %d ms\n' "$T_NAME" "$f" "$kind" "$k" "$ms" >&2
  echo "$f $kind h$k $ms" >>"$T_DIR/recovery.txt"
  case "$kind" in
    partition) ip link set "$(tb_veth "$k")" up ;;
    crash) restart_host "$k" ;;
  esac
  fl_expect "after fault $f the cluster is clean again (hosts back, no recovery left)" t_wait_for_soft 90 clean
done

sorted=$(printf '%s\n' "${TIMES[@]}" | sort -n)
p50=$(sed -n "$(( (${#TIMES[@]} + 1) / 2 ))p" <<<"$sorted")
max=$(tail -n 1 <<<"$sorted")
printf '[%s] HA SOAK: %d faults, recovery p50 %s ms, max %s ms (seed %s)\n' "$T_NAME" "$FAULTS" "$p50" "$max" "$SEED" >&2
echo "faults=$FAULTS p50_ms=$p50 max_ms=$max seed=$SEED" >"$T_DIR/summary.txt"
[ -n "${HA_SOAK_SUMMARY:-}" ] && cp "$T_DIR/summary.txt" "$HA_SOAK_SUMMARY" && cp "$T_DIR/recovery.txt" "$HA_SOAK_SUMMARY.faults"
fl_finish
t_log "PASS ($T_CHECKS checks)"
