#!/usr/bin/env bash
# balance_test.sh — the rebalancer end to end on real libvirtd hosts and QEMU (issue 16; docs/
# observability.md), testbed systest61 (bridge drvtbr61, 10.77.61.0/24, 3 hosts). Two CPU-busy
# guests (drover-guest-busy.img: the vCPU spins between ticks) run on h1, h2 and h3 are idle:
#   - /metrics shows the pressure on h1 (drover_host_cpu_demand_ratio, the rebalancer's pressure:
#     its guests' CPU + steal over its CPUs, well above the idle hosts');
#   - `cluster balance --dry-run` proposes a move off h1 and says what it gains;
#   - `cluster balance --wait` moves one busy guest off h1 by live migration (a balance job, its
#     child migration recorded; the guest runs in exactly one namespace and keeps ticking);
#   - the pressure figure of h1 drops.
# The testbed's hosts share one kernel, so their agents take the host CPU from their own guests
# (`stats_host_cpu = guests`, deploy/testbed/daemons.sh); stats every second (CL_STATS_MS).
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
BUSY_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-busy.img"
[ -f "$BUSY_IMAGE" ] || t_skip "$BUSY_IMAGE is not built"
METRICS_PORT=$(t_free_port)
export CL_METRICS_LISTEN=127.0.0.1:$METRICS_PORT CL_STATS_MS=1000
sys_cluster_up 61
t_wait_for "3 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 3 ]"

pressure() { # the host's drover_host_cpu_demand_ratio in /metrics (the rebalancer's pressure), as a number
  curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v h="$1" '$1 == "drover_host_cpu_demand_ratio{host=\"" h "\"}" { print $2; found = 1 }
                   END { if (!found) print "none" }'
}
# awk's comparison of two figures: "a > b + margin"
above() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN { exit !(a != "none" && b != "none" && a > b + m) }'; }

# --- two busy guests on h1: h2 and h3 in maintenance while they start, then active again
for h in h2 h3; do t_check "maintenance $h (empty)" drover host maintenance "$h" --wait; done
for g in hot1 hot2; do
  tb_guest_xml "$g" "$(tb_guest_disk "$g" "$BUSY_IMAGE")" 64 >"$T_DIR/$g.xml"
  t_check "define $g" drover domain define "$T_DIR/$g.xml"
  t_check "start $g" drover domain start "$g"
  t_eq "$g on h1" h1 "$(host_of "$g")"
done
for h in h2 h3; do t_check "activate $h" drover host activate "$h"; done
for g in hot1 hot2; do sys_serial_grows "$g" 2 30; done

# --- /metrics: the pressure is on h1
h1_hot() { above "$(pressure h1)" "$(pressure h2)" 0.2 && above "$(pressure h1)" "$(pressure h3)" 0.2; }
t_wait_for "/metrics: h1's CPU pressure above the idle hosts'" 40 h1_hot
before=$(pressure h1)
t_log "pressure before: h1 $before, h2 $(pressure h2), h3 $(pressure h3)"

# --- the dry run proposes a move off h1
t_check "dry run" sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json cluster balance --dry-run --max-moves 1 >'$T_DIR/plan.json'"
t_log "plan: $(jq -c '{moves, score_before, score_after}' "$T_DIR/plan.json")"
t_eq "dry run: one move" 1 "$(jq '.moves | length' "$T_DIR/plan.json")"
t_eq "dry run: off h1" h1 "$(jq -r '.moves[0].source' "$T_DIR/plan.json")"
t_check "dry run: a busy guest to an idle host" \
  sh -c "jq -r '\"\(.moves[0].domain) \(.moves[0].dest)\"' '$T_DIR/plan.json' | grep -qE '^hot[12] h[23]$'"
t_check "dry run: it says what it gains" \
  jq -e '.moves[0].gain > 0 and .score_after < .score_before' "$T_DIR/plan.json"
t_eq "dry run: no job" 0 "$(djson job list | jq '[.jobs[] | select(.kind == "balance")] | length')"

# --- the real run: a balance job moves one busy guest off h1 by live migration
out=$(drover cluster balance --max-moves 1 --wait 2>&1) || t_fail "cluster balance --wait: $out"
t_log "balance: $(tail -n 1 <<<"$out")"
id=$(djson job list | jq -r '[.jobs[] | select(.kind == "balance")][0].id')
job=$(djson job show "$id")
t_eq "the balance job succeeded" succeeded "$(jq -r .state <<<"$job")"
moved=$(jq -r '.drain.entries[0].domain' <<<"$job")
t_check "the moved guest is a busy one ($moved)" grep -qE '^hot[12]$' <<<"$moved"
dest=$(host_of "$moved")
t_check "$moved now on h2 or h3 ($dest)" grep -qE '^h[23]$' <<<"$dest"
t_eq "its child migration succeeded" succeeded \
  "$(djson job list | jq -r --arg d "$moved" '[.jobs[] | select(.kind == "migrate" and .migrate.domain == $d)][-1].state')"
sys_qemu_in_ns "${dest#h}" "$moved"
t_eq "no QEMU of $moved left on h1" "" "$(tb_virsh 1 list --name | grep -x "$moved" || true)"
sys_serial_grows "$moved" 2 30
other=$([ "$moved" = hot1 ] && echo hot2 || echo hot1)
t_eq "$other stays on h1" h1 "$(host_of "$other")"

# --- the pressure of h1 drops
dropped() { above "$before" "$(pressure h1)" 0.15; }
t_wait_for "/metrics: h1's pressure drops from $before" 40 dropped
t_log "pressure after: h1 $(pressure h1), h2 $(pressure h2), h3 $(pressure h3)"
t_log "PASS ($T_CHECKS checks)"
