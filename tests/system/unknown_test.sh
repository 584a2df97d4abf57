#!/usr/bin/env bash
# unknown_test.sh — never act on "unknown" on real hosts (issue 12, defect 1): deploy/cluster-up.sh
# brings up 3 real libvirtd hosts (bridge drvtbr22, 10.77.22.0/24), etcd, the controller and one
# agent per namespace; h3 runs 2 guests; then h3's libvirtd is killed by PID (SIGKILL; its QEMUs
# go on running, as on a real host whose libvirtd crashed):
#   - the agent reports libvirt disconnected: both guests show "unknown (libvirt disconnected)",
#     never "shut off"; `domain start` of one is refused; the QEMUs still run in h3's namespace;
#   - `drover host maintenance h3 --wait` does not claim success meanwhile: the drain waits, moves
#     nothing (no cold move: both stay placed on h3, no QEMU elsewhere), h3 is not in maintenance;
#   - h3's libvirtd is started again: it finds its QEMUs, the agent sends a full inventory, and
#     the same drain goes on by live migration: `--wait` exits 0 ("2 of 2 domains moved"), each
#     guest runs once on its new host (booted once, serial log growing), libvirt on h3 holds none.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
sys_cluster_up 22

hstate() { djson host show "$1" | jq -r .state; }
boots() { grep -ac '^drover-guest boot' "$(tb_guest_serial "$1")" || true; }
libvirt_doms() { tb_virsh "$1" list --all --name | sed '/^$/d' | sort | tr '\n' ',' | sed 's/,$//'; }
only_on() {
  local dom=$1 hi=$2 j
  sys_qemu_in_ns "$hi" "$dom"
  for j in 1 2 3; do
    [ "$j" = "$hi" ] && continue
    t_check "no QEMU for $dom on h$j" test -z "$(tb_host_qemu_pid "$j" "$dom" || true)"
  done
}

t_wait_for "3 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 3 ]"

# --- two guests on h3 (h1 and h2 in maintenance while they start)
for h in h1 h2; do
  out=$(drover host maintenance "$h" --wait) || t_fail "maintenance of empty $h: $out"
done
GUESTS="du1 du2"
for g in $GUESTS; do
  tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "start $g" drover domain start "$g"
  t_eq "$g on h3" h3 "$(host_of "$g")"
done
for h in h1 h2; do t_eq "activate $h" "Host '$h' is now active" "$(drover host activate "$h")"; done
for g in $GUESTS; do sys_serial_grows "$g" 2 60; done
declare -A qpid
for g in $GUESTS; do qpid[$g]=$(tb_host_qemu_pid 3 "$g") || t_fail "no QEMU for $g on h3"; done

# --- h3's libvirtd killed
lv=$(tb_host_pid 3) || t_fail "no libvirtd pid for h3"
kill -KILL "$lv"
t_log "libvirtd of h3 (pid $lv) killed"
t_wait_for "h3 reports libvirt disconnected" 30 sh -c \
  "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host show h3 | jq -e '.inventory_reason == \"libvirt disconnected\"' >/dev/null"
for g in $GUESTS; do
  t_eq "$g: unknown (libvirt disconnected)" "unknown libvirt disconnected" \
    "$(djson domain info "$g" | jq -r '"\(.state) \(.reason)"')"
  t_check "$g's QEMU (pid ${qpid[$g]}) still runs" kill -0 "${qpid[$g]}"
done
list=$(drover domain list --all)
t_check "domain list: du1 unknown (libvirt disconnected): $list" grep -qE '^du1 +unknown \(libvirt disconnected\) +h3' <<<"$list"
t_eq "domain list: nothing shown as shut off" 0 "$(grep -c 'shut off' <<<"$list" || true)"
rc=0
out=$(drover domain start du1 2>&1) || rc=$?
t_eq "start of du1 refused (exit 1)" 1 "$rc"
t_check "the refusal names the reason: $out" grep -q "unknown (libvirt disconnected) and it may still run there" <<<"$out"

# --- the drain waits: no success claimed, no cold move
drover host maintenance h3 --wait >"$T_DIR/drain.out" 2>&1 &
cli_pid=$!
T_PIDS+=("$cli_pid")
drain_id() { djson job list | jq -r '[.jobs[] | select(.kind == "drain" and .drain.host == "h3")][-1].id // empty'; }
t_wait_for "a drain of h3" 30 sh -c "[ -n \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json job list | jq -r '[.jobs[] | select(.kind == \"drain\" and .drain.host == \"h3\")][-1].id // empty')\" ]"
id=$(drain_id)
sleep 5
job=$(djson job show "$id")
t_eq "drain $id still running (waiting for h3's inventory)" running "$(jq -r .state <<<"$job")"
t_check "the --wait has not returned" kill -0 "$cli_pid"
t_check "no success claimed: $(cat "$T_DIR/drain.out")" sh -c "! grep -q 'succeeded' '$T_DIR/drain.out'"
t_eq "h3 not in maintenance" preparing-maintenance "$(hstate h3)"
t_eq "no move launched" 0 "$(jq '[.drain.entries[] | select(.attempts > 0)] | length' <<<"$job")"
for g in $GUESTS; do
  t_eq "$g still placed on h3 (no cold move)" h3 "$(host_of "$g")"
  t_check "$g's QEMU (pid ${qpid[$g]}) still runs on h3" kill -0 "${qpid[$g]}"
  only_on "$g" 3
done

# --- libvirtd back: the drain goes on by live migration
t0=$(date +%s%N)
tb_host_launch 3
tb_host_wait_ready 3 60
t_log "libvirtd of h3 restarted ($(tb_host_pid 3)) in $(sys_ms_since "$t0") ms"
rc=0
t_wait_for "maintenance --wait returns" 120 sh -c "! kill -0 $cli_pid"
wait "$cli_pid" || rc=$?
t_eq "maintenance --wait exit 0 ($(tail -n 2 "$T_DIR/drain.out"))" 0 "$rc"
t_check "its outcome line" grep -q "^Drain of h3 succeeded .* 2 of 2 domains moved; the host is in maintenance" "$T_DIR/drain.out"
job=$(djson job show "$id")
t_eq "drain succeeded" succeeded "$(jq -r .state <<<"$job")"
t_eq "h3 in maintenance" maintenance "$(hstate h3)"
t_eq "libvirt on h3 holds no domain" "" "$(libvirt_doms 3)"
for g in $GUESTS; do
  to=$(host_of "$g")
  t_check "$g moved to h1 or h2 ($to)" test "$to" = h1 -o "$to" = h2
  t_eq "$g: moved live on its first attempt" "done 1" "$(jq -r --arg d "$g" '.drain.entries[] | select(.domain == $d) | "\(.state) \(.attempts)"' <<<"$job")"
  t_eq "$g: its child migration succeeded" succeeded "$(djson job show "$id:$g:1" | jq -r .state)"
  t_eq "$g running" running "$(djson domain info "$g" | jq -r .state)"
  only_on "$g" "${to#h}"
  sys_serial_grows "$g" 2 60
  t_eq "$g booted once" 1 "$(boots "$g")"
done
t_log "checks: $T_CHECKS"
