#!/usr/bin/env bash
# maintenance_test.sh — host maintenance through the whole stack on real hosts
# (docs/maintenance.md): deploy/cluster-up.sh brings up 3 real libvirtd hosts (bridge drvtbr8,
# 10.77.8.0/24), etcd, the controller and one agent per namespace; then, only through the drover
# CLI (and libvirt/etcd to check):
#   - draining an empty host succeeds at once (used to put every guest on h1);
#   - a dry run names a domain that cannot move (anti-affinity: its group has a member on every
#     other host) and the real run refuses up front: nothing moved, h1 still active, no job;
#   - h1 running 3 guests (one dirtying 96 MiB per tick) is drained onto h2 and h3 with
#     `host maintenance h1 --wait` (exit 0): every guest keeps running (its serial log grows, it
#     booted once, QEMU lives only in the destination's namespace), libvirt on h1 holds no domain,
#     h1 is in maintenance, a new start avoids it;
#   - `host activate h1 --restore --wait` brings the 3 guests back to h1, which is active again;
#   - the controller is killed (SIGKILL, by PID) mid-drain and started again: the drain is taken
#     over from etcd and completes, and the `host maintenance --wait` that followed it exits 0; each guest was moved exactly once (one succeeded child
#     migration per guest, one QEMU, booted once), none lost;
#   - a restore cancelled midway (`job cancel`): it ends cancelled, every guest runs once where
#     its placement says; `job watch` shows every guest's line.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
sys_cluster_up 8

hstate() { djson host show "$1" | jq -r .state; }
boots() { grep -ac '^drover-guest boot' "$(tb_guest_serial "$1")" || true; }
etcd_get() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --print-value-only "/drover/v1/$1"; }
etcd_values() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --prefix --print-value-only "/drover/v1/$1"; }
# libvirt_doms HOSTNUM — the domains libvirt on that host knows (running or defined), sorted, comma list
libvirt_doms() { tb_virsh "$1" list --all --name | sed '/^$/d' | sort | tr '\n' ',' | sed 's/,$//'; }
# libvirt_hosts_of DOMAIN — the hosts whose libvirt knows DOMAIN, comma list
libvirt_hosts_of() {
  local k out=()
  for k in 1 2 3; do
    tb_virsh "$k" dominfo "$1" >/dev/null 2>&1 && out+=("h$k")
  done
  local IFS=,
  echo "${out[*]}"
}
# only_on DOMAIN HOSTNUM — DOMAIN's QEMU runs in that host's namespace and on no other host.
only_on() {
  local dom=$1 hi=$2 j
  sys_qemu_in_ns "$hi" "$dom"
  for j in 1 2 3; do
    [ "$j" = "$hi" ] && continue
    t_check "no QEMU for $dom on h$j" test -z "$(tb_host_qemu_pid "$j" "$dom" || true)"
  done
}
drain_entries_moving() {
  djson job show "$1" | jq -e '[.drain.entries[] | select(.state == "migrating" or .state == "done")] | length > 0' >/dev/null
}

t_wait_for "3 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 3 ]"

# --- empty hosts drain at once: h2 and h3 in maintenance, so the guests start on h1
for h in h2 h3; do
  out=$(drover host maintenance "$h" --wait) || t_fail "maintenance of empty $h: $out"
  t_eq "$h in maintenance" maintenance "$(hstate "$h")"
done
GUESTS="dm1 di1 di2"
tb_guest_xml dm1 "$(tb_guest_disk dm1 "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/dm1.xml"
for g in di1 di2; do tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"; done
for g in $GUESTS; do
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "start $g" drover domain start "$g"
  t_eq "$g on h1" h1 "$(host_of "$g")"
done
for h in h2 h3; do t_eq "activate $h" "Host '$h' is now active" "$(drover host activate "$h")"; done
for g in $GUESTS; do sys_serial_grows "$g" 2 30; done

# --- unmovable: an anti-affinity group with a member on every host
for k in 1 2 3; do
  tb_guest_xml "ag$k" "$(tb_guest_disk "ag$k" "$IDLE_IMAGE")" 64 |
    sed "s|</name>|&\n  <metadata><drover:drover xmlns:drover=\"https://drover.dev/xml/1\"><drover:anti-affinity-group>ag</drover:anti-affinity-group></drover:drover></metadata>|" >"$T_DIR/ag$k.xml"
  t_check "define ag$k" drover domain define "$T_DIR/ag$k.xml"
  t_check "start ag$k" drover domain start "ag$k"
done
t_eq "one ag member per host" "h1,h2,h3" "$(for k in 1 2 3; do host_of "ag$k"; done | sort | tr '\n' ',' | sed 's/,$//')"
stuck=$(for k in 1 2 3; do [ "$(host_of "ag$k")" = h1 ] && echo "ag$k"; done)
plan=$(djson host maintenance h1 --dry-run) || t_fail "dry run: $plan"
t_eq "dry run: 4 domains" 4 "$(jq '.steps | length' <<<"$plan")"
t_check "dry run: $stuck cannot move (anti-affinity)" \
  jq -e --arg d "$stuck" '.steps[] | select(.domain == $d) | .dest == null and (.reason | test("anti-affinity"))' <<<"$plan"
for g in $GUESTS; do
  t_check "dry run: $g goes to h2 or h3" jq -e --arg d "$g" '.steps[] | select(.domain == $d) | .dest == "h2" or .dest == "h3"' <<<"$plan"
done
text=$(drover host maintenance h1 --dry-run)
t_check "dry run (text) names $stuck: $text" grep -q "^cannot move $stuck: .*anti-affinity" <<<"$text"
jobs_before=$(djson job list | jq '.jobs | length')
rc=0
out=$(drover host maintenance h1 2>&1) || rc=$?
t_eq "the real run is refused (exit 1)" 1 "$rc"
t_check "the refusal names $stuck and why: $out" grep -q "$stuck.*anti-affinity" <<<"$out"
t_eq "refused: no job" "$jobs_before" "$(djson job list | jq '.jobs | length')"
t_eq "refused: h1 still active" active "$(hstate h1)"
for g in $GUESTS; do only_on "$g" 1; done
# (on 2 loaded cores a destroy can outlast the agent's heartbeats: its answer may be lost, the
# domain still ends shut off; so wait for the state rather than trust one answer)
# shut_off DOMAIN — destroys DOMAIN until it is reported shut off (60 s)
shut_off() {
  local n
  for n in $(seq 60); do
    [ "$(djson domain info "$1" | jq -r .state)" = "shut off" ] && return 0
    drover domain destroy "$1" >/dev/null 2>&1 || sleep 1
  done
  return 1
}
for k in 1 2 3; do t_check "ag$k shut off" shut_off "ag$k"; done
for k in 1 2 3; do
  t_wait_for "undefine ag$k" 60 drover domain undefine "ag$k"
done

# --- the drain: 3 guests from h1 onto h2 and h3
declare -A tick
for g in $GUESTS; do tick[$g]=$(tb_guest_last_tick "$g"); done
t0=$(date +%s%N)
out=$(drover host maintenance h1 --wait) || t_fail "drain of h1: $out"
t_log "drain of h1 (3 guests): $(sys_ms_since "$t0") ms"
t_check "the outcome says the host is in maintenance: $(tail -n 1 <<<"$out")" grep -q "^Drain of h1 succeeded .* 3 of 3 domains moved; the host is in maintenance" <<<"$out"
id=$(djson job list | jq -r '[.jobs[] | select(.kind == "drain" and .drain.host == "h1")][-1].id')
job=$(djson job show "$id")
t_eq "drain job succeeded" succeeded "$(jq -r .state <<<"$job")"
t_eq "h1 in maintenance" maintenance "$(hstate h1)"
t_eq "libvirt on h1 holds no domain" "" "$(libvirt_doms 1)"
for g in $GUESTS; do
  to=$(host_of "$g")
  t_check "$g moved to h2 or h3 ($to)" test "$to" = h2 -o "$to" = h3
  t_eq "$g: entry done on its first attempt" "done 1 $to" "$(jq -r --arg d "$g" '.drain.entries[] | select(.domain == $d) | "\(.state) \(.attempts) \(.destination)"' <<<"$job")"
  only_on "$g" "${to#h}"
  sys_serial_grows "$g" 2 30
  t_check "$g's tick counter went on" test "$(tb_guest_last_tick "$g")" -gt "${tick[$g]}"
  t_eq "$g booted once" 1 "$(boots "$g")"
done
t_eq "etcd: the drain job" succeeded "$(etcd_get "jobs/$id" | jq -r .state)"
t_eq "etcd: three succeeded child migrations" 3 "$(etcd_values "jobs/$id:" | jq -s '[.[] | select(.state == "succeeded")] | length')"
# a new start avoids the host in maintenance
tb_guest_xml dn "$(tb_guest_disk dn "$IDLE_IMAGE")" 64 >"$T_DIR/dn.xml"
t_check "define dn" drover domain define "$T_DIR/dn.xml"
t_check "start dn" drover domain start dn
t_check "dn avoided h1 ($(host_of dn))" test "$(host_of dn)" != h1
t_check "destroy dn" drover domain destroy dn

# --- restore: back to h1
t0=$(date +%s%N)
out=$(drover host activate h1 --restore --wait) || t_fail "restore of h1: $out"
t_log "restore of h1 (3 guests): $(sys_ms_since "$t0") ms"
t_check "restore outcome: $(tail -n 1 <<<"$out")" grep -q "^Restore of h1 succeeded .* 3 of 3 domains moved; the host is active" <<<"$out"
t_eq "h1 active" active "$(hstate h1)"
for g in $GUESTS; do
  t_eq "$g back on h1" h1 "$(host_of "$g")"
  only_on "$g" 1
  sys_serial_grows "$g" 2 30
  t_eq "$g booted once" 1 "$(boots "$g")"
done
t_eq "libvirt on h1 holds the 3 guests" "di1,di2,dm1" "$(libvirt_doms 1)"

# --- the controller killed mid-drain
ctl_pid=$(cl_pid controller) || t_fail "no controller pid"
# followed by a CLI that must survive the restart too
drover host maintenance h1 --max-parallel 1 --wait >"$T_DIR/drain2.out" 2>&1 &
cli_pid=$!
T_PIDS+=("$cli_pid")
n_drains_is() { [ "$(djson job list | jq '[.jobs[] | select(.kind == "drain" and .drain.host == "h1")] | length')" = "$1" ]; }
t_wait_for "a second drain of h1" 30 n_drains_is 2
id2=$(djson job list | jq -r '[.jobs[] | select(.kind == "drain" and .drain.host == "h1")][-1].id')
t_check "a second drain job ($id2)" test "$id2" != "$id"
t_wait_for "drain $id2 has started moving" 30 drain_entries_moving "$id2"
out=$(drover host maintenance h1 2>&1) && t_fail "a second drain of h1 accepted"
t_check "a second drain of h1 is refused while $id2 runs: $out" grep -q "drain job '$id2' is in progress" <<<"$out"
out=$(drover host activate h1 2>&1) && t_fail "activate of h1 accepted during its drain"
t_check "activate is refused while $id2 runs: $out" grep -q "drain job '$id2' is in progress" <<<"$out"
kill -KILL "$ctl_pid"
t_log "controller (pid $ctl_pid) killed during $id2: $(etcd_get "jobs/$id2" | jq -c '[.drain.entries[] | "\(.domain) \(.state) \(.attempts)"]')"
t_eq "etcd: $id2 still running" running "$(etcd_get "jobs/$id2" | jq -r .state)"
t_wait_for "the controller is gone (or a zombie)" 10 sh -c "[ ! -e /proc/$ctl_pid ] || grep -q '^State:.*Z' /proc/$ctl_pid/status"
cl_spawn controller 'drover-controller' "$DROVER_BUILD_DIR/controller/drover-controller" --config "$TB_ROOT/controller.conf"
t_check "a new controller runs" cl_pid controller
t_wait_for "the new controller leads" 60 sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json --timeout 2 cluster status | jq -e .is_leader >/dev/null"
t_wait_for "drain $id2 ends" 120 sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json job show '$id2' | jq -e '.state != \"running\" and .state != \"pending\"' >/dev/null"
rc=0
wait "$cli_pid" || rc=$?
t_eq "maintenance --wait followed the drain through the restart: exit 0 ($(tail -n 2 "$T_DIR/drain2.out"))" 0 "$rc"
t_check "its outcome line" grep -q "^Drain of h1 succeeded .* 3 of 3 domains moved; the host is in maintenance" "$T_DIR/drain2.out"
job=$(djson job show "$id2")
t_eq "resumed drain succeeded ($(jq -r .error <<<"$job"))" succeeded "$(jq -r .state <<<"$job")"
t_eq "h1 in maintenance again" maintenance "$(hstate h1)"
t_eq "libvirt on h1 holds no domain" "" "$(libvirt_doms 1)"
for g in $GUESTS; do
  to=$(host_of "$g")
  t_check "$g on h2 or h3 ($to)" test "$to" = h2 -o "$to" = h3
  t_eq "$g moved exactly once (succeeded child migrations)" 1 \
    "$(etcd_values "jobs/$id2:$g:" | jq -s '[.[] | select(.state == "succeeded")] | length')"
  t_eq "$g: one attempt" 1 "$(jq -r --arg d "$g" '.drain.entries[] | select(.domain == $d) | .attempts' <<<"$job")"
  only_on "$g" "${to#h}"
  t_eq "libvirt knows $g on its host only" "$to" "$(libvirt_hosts_of "$g")"
  sys_serial_grows "$g" 2 30
  t_eq "$g booted once" 1 "$(boots "$g")"
done

# --- a restore cancelled midway (it has the drain's caps: one move at a time)
drover host activate h1 --restore >"$T_DIR/restore2.out" || t_fail "restore 2: $(cat "$T_DIR/restore2.out")"
rid=$(djson job list | jq -r '[.jobs[] | select(.kind == "restore")][-1].id')
t_eq "h1 active from the start of the restore" active "$(hstate h1)"
t_wait_for "restore $rid has started moving" 30 drain_entries_moving "$rid"
t_check "job cancel $rid" drover job cancel "$rid"
rc=0
drover job watch "$rid" >"$T_DIR/cancel-watch.log" 2>&1 || rc=$?
t_eq "job watch of the cancelled restore: exit 1" 1 "$rc"
t_check "job watch showed every guest: $(cat "$T_DIR/cancel-watch.log")" \
  sh -c "grep -q '^  dm1 ' '$T_DIR/cancel-watch.log' && grep -q '^  di1 ' '$T_DIR/cancel-watch.log' && grep -q '^  di2 ' '$T_DIR/cancel-watch.log'"
job=$(djson job show "$rid")
t_eq "restore cancelled" cancelled "$(jq -r .state <<<"$job")"
t_check "not every guest came back: $(jq -c '[.drain.entries[] | "\(.domain) \(.state)"]' <<<"$job")" \
  jq -e '[.drain.entries[] | select(.state == "planned")] | length > 0' <<<"$job"
for g in $GUESTS; do
  to=$(host_of "$g")
  t_eq "libvirt knows $g on its placement only ($to)" "$to" "$(libvirt_hosts_of "$g")"
  only_on "$g" "${to#h}"
  sys_serial_grows "$g" 2 30
  t_eq "$g booted once" 1 "$(boots "$g")"
done
t_check "the new controller took the drain over" grep -q "job '$id2' (drain of host 'h1', running) taken over" "$TB_ROOT/logs/controller.log"
t_check "no sanitizer report in the controller log" sh -c "! grep -qE 'runtime error|AddressSanitizer' '$TB_ROOT/logs/controller.log'"
