#!/usr/bin/env bash
# fault_soak.sh — issue 12's fault soak on a real 3-host testbed (bridge drvtbr23, 10.77.23.0/24):
# deploy/cluster-up.sh brings up 3 real libvirtd hosts, etcd, the controller and one agent per host;
# a few real boot-sector guests run. Then SOAK_FAULTS times (default 6; any count by hand), with a
# random seed printed at start (SOAK_SEED replays it):
#   - an activity starts in the background: a drain (`host maintenance hN --wait`, then
#     `host activate hN`), live migrations (`domain migrate`), or parallel starts/destroys;
#   - while it runs, one fault is injected for real: kill -9 of the controller (restarted), of an
#     agent (restarted), of a libvirtd (restarted); SIGSTOP of an agent or of etcd for 3-6 s then
#     SIGCONT; a host's veth down for 3-6 s then up; all by PID / on this testbed's own veth;
#   - the cluster is left to settle (leader, 3 hosts reachable, no job running).
# A monitor samples the QEMU processes of each host's network namespace every 0.5 s (the guest name
# from `-name guest=NAME`). The test fails when:
#   - a guest ran twice: at one sample two QEMUs of it in two namespaces, the younger one not an
#     incoming migration (a cold start while a copy ran), or two copies for longer than
#     SOAK_OVERLAP_S (default 30 s); or its serial log shows two copies writing (tick went back
#     without a boot line);
#   - a verb reported failure (non-zero exit, no "unknown outcome") for an action that happened: a
#     start that started the guest, a destroy that stopped it, a migrate that moved it, a drain
#     whose job succeeded; or a drain reported success while the host still ran guests;
#   - after settling, a domain's desired state or drover's reported state/host disagrees with the
#     QEMU truth, or a domain definition is lost (domain list before vs after).
# It prints every fault injected and every anomaly found, one line each, and a summary line.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
SOAK_FAULTS=${SOAK_FAULTS:-6}
SOAK_SEED=${SOAK_SEED:-$(( $(date +%s%N) % 1000000 ))}
SOAK_OVERLAP_S=${SOAK_OVERLAP_S:-30}
RANDOM=$SOAK_SEED
t_log "SOAK seed=$SOAK_SEED faults=$SOAK_FAULTS (replay: SOAK_SEED=$SOAK_SEED SOAK_FAULTS=$SOAK_FAULTS)"
sys_cluster_up "${SOAK_TESTBED:-23}"
CLI="$DROVER_BUILD_DIR/cli/drover"
ACTS="$T_DIR/acts.tsv"      # t0_ms t1_ms kind target rc message
MON="$T_DIR/monitor.log"    # T_ms guest@hostnum ...
ANOM="$T_DIR/anomalies.txt"
FAULTS="$T_DIR/faults.txt"
: >"$ACTS"; : >"$ANOM"; : >"$FAULTS"
T_START=$(now_ms)
anomaly() { echo "ANOMALY: $*" >>"$ANOM"; t_log "ANOMALY: $*"; }
ctl_ok() { "$CLI" --controller "$CONTROLLER" --json --timeout 3 cluster status 2>/dev/null | jq -e .is_leader >/dev/null 2>&1; }
n_reachable() { "$CLI" --controller "$CONTROLLER" --json --timeout 5 host list 2>/dev/null | jq '[.hosts[] | select(.reachable)] | length' 2>/dev/null || echo 0; }

fl_monitor_start "$MON" "$ANOM" "$SOAK_OVERLAP_S"

# act KIND TARGET CLI-ARGS... — runs one drover verb, records t0 t1 kind target rc message.
act() {
  local kind=$1 target=$2 t0 t1 rc=0 out
  shift 2
  t0=$(now_ms)
  out=$(timeout 150 "$CLI" --controller "$CONTROLLER" --timeout 60 "$@" 2>&1) || rc=$?
  t1=$(now_ms)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t0" "$t1" "$kind" "$target" "$rc" \
    "$(tr '\n\t' '  ' <<<"$out" | cut -c1-400)" >>"$ACTS"
}

running_now() { fl_running "$1"; }

# --- guests
GUESTS="sk1 sk2 sk3 sk4 sk5"
tb_guest_xml sk1 "$(tb_guest_disk sk1 "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/sk1.xml"
for g in sk2 sk3 sk4 sk5; do tb_guest_xml "$g" "$(tb_guest_disk "$g" "$IDLE_IMAGE")" 64 >"$T_DIR/$g.xml"; done
for g in $GUESTS; do t_check "define $g" drover domain define "$T_DIR/$g.xml"; done
for g in sk1 sk2 sk3 sk4; do t_check "start $g" drover domain start "$g"; done
defs_before=$(djson domain list --all | jq -r '[.domains[].name] | sort | join(",")')
t_log "domains before: $defs_before; placement: $(djson domain list --all | jq -r '[.domains[] | "\(.name)=\(.host // "-")/\(.state)"] | join(" ")')"

# --- activities (each runs in the background while a fault is injected)
pick() { local a=($@); echo "${a[RANDOM % ${#a[@]}]}"; }
act_drain() {
  local h=$1
  act drain "$h" host maintenance "$h" --wait
  act activate "$h" host activate "$h"
}
act_migrate() {
  local g
  for g in "$@"; do act migrate "$g" domain migrate "$g" & done
  wait
}
act_churn() {
  local g
  for g in "$@"; do
    if [ -n "$(running_now "$g")" ]; then act destroy "$g" domain destroy "$g" &
    else act start "$g" domain start "$g" & fi
  done
  wait
}

# --- faults (each injected for real, by PID or on this testbed's own veth)
hold() { sleep "$((3 + RANDOM % 4))"; }
fault() {
  local kind=$1 k=$2 pid
  case "$kind" in
    kill-controller)
      pid=$(cl_pid controller) || return 0
      kill -KILL "$pid"
      sleep "$((1 + RANDOM % 3))"
      cl_spawn controller 'drover-controller' "$DROVER_BUILD_DIR/controller/drover-controller" --config "$TB_ROOT/controller.conf"
      echo "kill -9 controller (pid $pid), restarted" ;;
    kill-agent)
      pid=$(cl_pid "agent-h$k") || return 0
      kill -KILL "$pid"
      sleep "$((1 + RANDOM % 2))"
      cl_spawn "agent-h$k" 'drover-agent' ip netns exec "$(tb_ns "$k")" "$DROVER_BUILD_DIR/hostagent/drover-agent" --config "$TB_ROOT/agents/h$k.conf"
      echo "kill -9 agent of h$k (pid $pid), restarted" ;;
    kill-libvirtd)
      pid=$(tb_host_pid "$k") || return 0
      kill -KILL "$pid"
      sleep 2
      (tb_host_start "$k") >>"$T_DIR/libvirtd-restart.log" 2>&1
      echo "kill -9 libvirtd of h$k (pid $pid), restarted (pid $(tb_host_pid "$k" || echo '?'))" ;;
    stop-agent)
      pid=$(cl_pid "agent-h$k") || return 0
      kill -STOP "$pid"; hold; kill -CONT "$pid"
      echo "SIGSTOP/SIGCONT agent of h$k (pid $pid)" ;;
    stop-etcd)
      pid=$(cl_pid etcd) || return 0
      kill -STOP "$pid"; hold; kill -CONT "$pid"
      echo "SIGSTOP/SIGCONT etcd (pid $pid)" ;;
    veth-down)
      ip link set "$(tb_veth "$k")" down; hold; ip link set "$(tb_veth "$k")" up
      echo "veth $(tb_veth "$k") of h$k down, then up" ;;
  esac
}

# every verb whose outcome was unknown has been resolved (outcome.h)
outcomes_known() { [ "$("$CLI" --controller "$CONTROLLER" --json --timeout 3 cluster status 2>/dev/null | jq -r .outcomes_unknown 2>/dev/null)" = 0 ]; }
# settle — the controller leads, 3 hosts are reachable, no job runs, no outcome is still unknown,
# every host is active again.
n_jobs_running() {
  "$CLI" --controller "$CONTROLLER" --json --timeout 5 job list 2>/dev/null |
    jq '[.jobs[] | select(.state == "running" or .state == "pending")] | length' 2>/dev/null
}
settle() {
  local t0 deadline h why
  t0=$(now_ms)
  deadline=$((t0 + 60000))
  while :; do
    why=""
    ctl_ok || why="$why no leader answers;"
    [ "$(n_reachable)" = 3 ] || why="$why $(n_reachable) of 3 hosts reachable;"
    outcomes_known || why="$why outcomes unknown: $("$CLI" --controller "$CONTROLLER" --json --timeout 3 cluster status 2>/dev/null | jq -r .outcomes_unknown 2>/dev/null);"
    [ "$(n_jobs_running)" = 0 ] || why="$why jobs running: $("$CLI" --controller "$CONTROLLER" --json --timeout 5 job list 2>/dev/null | jq -c '[.jobs[] | select(.state == "running" or .state == "pending") | {id, kind, state}]' 2>/dev/null);"
    [ -n "$why" ] || { echo "settled in $(( $(now_ms) - t0 )) ms" >>"$T_DIR/settle.log"; break; }
    if [ "$(now_ms)" -ge "$deadline" ]; then
      { echo "--- settle failed at $(( ($(now_ms) - T_START) / 1000 ))s:$why"
        "$CLI" --controller "$CONTROLLER" --json --timeout 5 cluster status
        "$CLI" --controller "$CONTROLLER" --json --timeout 5 job list
        ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --prefix /drover/ --keys-only
      } >>"$T_DIR/settle-failures.log" 2>&1
      anomaly "the cluster did not settle within 60 s:$why (details in settle-failures.log)"
      return 1
    fi
    sleep 0.5
  done
  for h in h1 h2 h3; do
    [ "$(djson host show "$h" | jq -r .state)" = active ] || drover host activate "$h" >>"$T_DIR/fixup.log" 2>&1 || true
  done
}

FAULT_KINDS=(kill-controller kill-agent kill-libvirtd stop-agent stop-etcd veth-down)
for ((i = 1; i <= SOAK_FAULTS; i++)); do
  kind=${FAULT_KINDS[RANDOM % ${#FAULT_KINDS[@]}]}
  k=$((1 + RANDOM % 3))
  running=() stopped=()
  for g in $GUESTS; do if [ -n "$(running_now "$g")" ]; then running+=("$g"); else stopped+=("$g"); fi; done
  act_kind=$((RANDOM % 3))
  [ "${#running[@]}" -gt 0 ] || [ "$act_kind" != 1 ] || act_kind=2
  case $act_kind in
    0) what="drain of h$k"; act_drain "h$k" & ;;
    1) m1=$(pick "${running[@]}"); m2=$(pick "${running[@]}")
       [ "$m1" = "$m2" ] && m2=""
       what="migration of $m1 $m2"; act_migrate $m1 $m2 & ;;
    *) c1=$(pick $GUESTS); c2=$(pick $GUESTS); c3=$(pick $GUESTS)
       set -- $(printf '%s\n' "$c1" "$c2" "$c3" | sort -u)
       what="parallel starts/destroys of $*"; act_churn "$@" & ;;
  esac
  act_pid=$!
  sleep "0.$((RANDOM % 10))"
  fk=$k
  case "$kind" in kill-agent | kill-libvirtd | stop-agent | veth-down) [ $((RANDOM % 2)) = 0 ] || fk=$((1 + RANDOM % 3)) ;; esac
  t_f=$(( ($(now_ms) - T_START) / 1000 ))
  desc=$(fault "$kind" "$fk")
  echo "FAULT $i/$SOAK_FAULTS at +${t_f}s: $desc, during $what" | tee -a "$FAULTS" >&2
  wait "$act_pid" || true
  settle || true
done

# --- the verdict, after letting the cluster settle
settle || true
sleep 5
T_END=$(now_ms)
# drain jobs: kind host state created_ms
djson job list | jq -r '.jobs[] | select(.kind == "drain") | "\(.drain.host) \(.state) \(.created_ms)"' >"$T_DIR/drains.txt" || true
awk -F'\t' -v mon="$MON" -v tend="$T_END" -v drains="$T_DIR/drains.txt" '
  BEGIN {
    n = 0
    while ((getline l < mon) > 0) {
      m = split(l, f, " "); if (m < 1 || f[1] !~ /^[0-9]+$/) continue
      n++; T[n] = f[1]; S[n] = " "
      for (i = 2; i <= m; i++) S[n] = S[n] f[i] " "
    }
    while ((getline l < drains) > 0) { split(l, f, " "); nd++; DH[nd] = f[1]; DS[nd] = f[2]; DC[nd] = f[3] }
  }
  # hosts(g, j): the host numbers running g at sample j, as "1 3 "
  function hosts(g, j,   out, k) { out = ""; for (k = 1; k <= 3; k++) if (index(S[j], " " g "@" k " ")) out = out k " "; return out }
  function at(t,   j) { for (j = n; j >= 1; j--) if (T[j] <= t) return j; return 1 }
  { A++; t0[A] = $1; t1[A] = $2; kind[A] = $3; tg[A] = $4; rc[A] = $5; msg[A] = $6 }
  END {
    for (a = 1; a <= A; a++) {
      if (kind[a] == "drain" && rc[a] == 0) {
        # the sample just after the answer, before any later verb could place a guest there again
        cut = t1[a] + 1000
        for (b = 1; b <= A; b++) if (kind[b] != "activate" && t0[b] > t1[a] && t0[b] - 1 < cut) cut = t0[b] - 1
        j = at(cut); h = substr(tg[a], 2); left = ""
        m = split(S[j], f, " ")
        for (i = 1; i <= m; i++) { split(f[i], p, "@"); if (p[2] == h) left = left p[1] " " }
        if (left != "") printf "ANOMALY: drain of %s reported success (%s) while it still ran %s\n", tg[a], msg[a], left
      }
      if (rc[a] == 0 || msg[a] ~ /unknown outcome/) continue
      nx = tend
      # judged until the next verb on the same target, or the next drain (which moves guests too)
      for (b = 1; b <= A; b++) if (b != a && (tg[b] == tg[a] || kind[b] == "drain") && t0[b] > t0[a] && t0[b] < nx) nx = t0[b]
      j0 = at(t0[a]); before = hosts(tg[a], j0)
      if (kind[a] == "drain") {
        for (d = 1; d <= nd; d++)
          if (DH[d] == tg[a] && DC[d] >= t0[a] - 2000 && DC[d] <= t1[a] && DS[d] == "succeeded")
            printf "ANOMALY: drain of %s reported failure (rc %s: %s) but its job succeeded\n", tg[a], rc[a], msg[a]
        continue
      }
      happened = 0; where = ""
      for (j = j0 + 1; j <= n && T[j] <= nx; j++) {
        now = hosts(tg[a], j)
        if (kind[a] == "start" && before == "" && now != "") { happened = 1; where = now; break }
        if (kind[a] == "destroy" && before != "" && now == "") { happened = 1; break }
        if (kind[a] == "migrate" && before != "" && now != "" && now != before && split(now, q, " ") == 1) { happened = 1; where = now; break }
      }
      if (happened)
        printf "ANOMALY: %s %s reported failure (rc %s: %s) but it happened (QEMU on host %s before, %s after, at +%ds)\n", kind[a], tg[a], rc[a], msg[a], (before == "" ? "none" : before), (where == "" ? "none" : where), (T[j] - T[1]) / 1000
    }
  }' "$ACTS" >>"$ANOM"

# the serial logs: two copies writing at once make the tick counter go back without a boot line
for g in $GUESTS; do
  awk -v g="$g" '/^drover-guest boot/ { last = 0; next }
    /^drover-guest tick [0-9]+$/ { if ($3 < last) { printf "ANOMALY: guest %s ran twice: its serial log went from tick %d back to %d without a boot\n", g, last, $3; exit } last = $3 }' \
    "$(tb_guest_serial "$g")" 2>/dev/null >>"$ANOM" || true
done

kill -0 "$FL_MON_PID" 2>/dev/null || anomaly "the QEMU monitor (pid $FL_MON_PID) died; the samples end early"
# drover's view against the QEMU truth
defs_after=$(djson domain list --all | jq -r '[.domains[].name] | sort | join(",")') || defs_after="(the controller did not answer domain list)"
[ "$defs_after" = "$defs_before" ] || anomaly "domain definitions lost: before $defs_before, after $defs_after"
djson domain list --all >"$T_DIR/final-list.json" || echo '{"domains":[]}' >"$T_DIR/final-list.json"
for g in $GUESTS; do
  truth=$(running_now "$g")
  st="" desired="" host="" busy=""
  read -r st desired host busy < <(jq -r --arg g "$g" '.domains[] | select(.name == $g) | "\(.state | gsub(" "; "_")) \(.desired_state) \(.host // "-") \(.busy // "-")"' "$T_DIR/final-list.json") || true
  [ -n "${st:-}" ] || continue
  case "$truth" in
    "") [ "$desired" = shutoff ] || anomaly "$g: desired $desired but no QEMU runs it"
        [ "$st" = shut_off ] || anomaly "$g: drover reports '$st' on $host but no QEMU runs it" ;;
    ?" ") [ "$desired" != shutoff ] || anomaly "$g: desired shutoff but its QEMU runs on h${truth% }"
          [ "$host" = "h${truth% }" ] && { [ "$st" = running ] || [ "$st" = paused ]; } ||
            anomaly "$g: drover reports '$st' on $host but its QEMU runs on h${truth% }" ;;
    *) anomaly "$g: QEMUs on hosts $truth after settling" ;;
  esac
done

# --- report
n_acts=$(wc -l <"$ACTS")
n_failed=$(awk -F'\t' '$5 != 0' "$ACTS" | wc -l)
t_log "verbs run: $n_acts ($n_failed non-zero); per verb: $(awk -F'\t' '{ c[$3 "/" ($5 == 0 ? "ok" : "fail")]++ } END { for (k in c) printf "%s=%d ", k, c[k] }' "$ACTS")"
awk -F'\t' '$5 != 0 { printf "  verb failed: %s %s rc=%s: %s\n", $3, $4, $5, $6 }' "$ACTS" >&2
cat "$FAULTS" >&2
sort -u "$ANOM" >"$ANOM.u"
cat "$ANOM.u" >&2
n_anom=$(grep -c . "$ANOM.u" || true)
t_log "SOAK SUMMARY seed=$SOAK_SEED faults=$SOAK_FAULTS verbs=$n_acts anomalies=$n_anom time=$(( ($(now_ms) - T_START) / 1000 ))s"
T_CHECKS=$((T_CHECKS + 1))
[ "$n_anom" = 0 ] || t_fail "$n_anom anomalies (seed $SOAK_SEED): $(head -n 3 "$ANOM.u" | tr '\n' ' ')"
