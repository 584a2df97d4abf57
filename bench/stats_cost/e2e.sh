#!/usr/bin/env bash
# e2e.sh — the controller's cost of the agents' statistics end to end: one controller, a real etcd
# (data on /dev/shm) and bench/agent_sim's simulated hosts sending StatsReports (simulated load,
# the real message) over CURVE, as drover-agent does every stats_interval_ms. Prints, with HOSTS
# hosts × DOMAINS domains each: the controller's CPU (% of one core, over SECONDS) while the hosts
# only heartbeat, then while they also send a StatsReport every STATS_MS (staggered), the reports
# the controller counted (drover_stats_reports_total), its loop latency and RSS, and one /metrics
# scrape (time and size). Expects a Release build (no sanitizers):
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
#   cmake --build build-rel -j2 --target drover-controller drover agent_sim
#   DROVER_BUILD_DIR=$PWD/build-rel bench/stats_cost/e2e.sh --hosts 1000 --domains 20
set -euo pipefail
HOSTS=1000
DOMAINS=20
STATS_MS=10000
SECONDS_=30
while [ $# -gt 0 ]; do
  case $1 in
    --hosts) HOSTS=$2; shift 2 ;;
    --domains) DOMAINS=$2; shift 2 ;;
    --stats-ms) STATS_MS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    *) echo "usage: $0 [--hosts N] [--domains PER-HOST] [--stats-ms MS] [--seconds S]" >&2; exit 2 ;;
  esac
done
export DROVER_BUILD_DIR=${DROVER_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
export DROVER_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
export DROVER_TEST_OUT=${DROVER_TEST_OUT:-/tmp/drover-stats-e2e}
source "$DROVER_SOURCE_DIR/tests/support/lib.sh"
source "$DROVER_SOURCE_DIR/tests/controller/cluster.sh"
SIM_BIN=$DROVER_BUILD_DIR/bench/agent_sim/agent_sim
[ -x "$SIM_BIN" ] || t_fail "$SIM_BIN is not built"
HB_MS=1000
METRICS_PORT=$(t_free_port)
CTL_EXTRA="[metrics]
listen = 127.0.0.1:$METRICS_PORT"
row() { printf '%-62s %s\n' "$1" "$2"; }
cpu_pct() { # PID SECONDS — % of one core used by PID over SECONDS (utime+stime from /proc)
  local pid=$1 s=$2 hz a b
  hz=$(getconf CLK_TCK)
  a=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  sleep "$s"
  b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v a="$a" -v b="$b" -v hz="$hz" -v s="$s" 'BEGIN { printf "%.1f", (b - a) * 100 / hz / s }'
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
metric() { # NAME — one series' value from a scrape
  curl -fsS --max-time 30 "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

etcd_start
cluster_ports
ctl_start
SIM_KEYS=$KEY_DIR/sim
"$SIM_BIN" --keygen-only --hosts "$HOSTS" --keys-dir "$SIM_KEYS" >"$T_DIR/sim-keys.txt"
while read -r id pub; do
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put -- "${PREFIX}hostkeys/$id" "$(cat "$pub")" >/dev/null
done <"$T_DIR/sim-keys.txt"
all_reachable() {
  [ "$(dr host list | jq '[.hosts[] | select(.reachable)] | length')" -eq "$HOSTS" ]
}
sim_run() { # STATS_MS
  "$SIM_BIN" --hosts "$HOSTS" --domains-per-host "$DOMAINS" --keys-dir "$SIM_KEYS" \
    --controller "tcp://127.0.0.1:$AGENT_PORT" --controller-key "$KEY_DIR/controller.pub" \
    --stats-ms "$1" >"$T_DIR/sim-$1.log" 2>&1 &
  SIM_PID=$!
  T_PIDS+=("$SIM_PID")
  t_wait_for "all $HOSTS hosts reachable" 300 all_reachable
}

row "hosts × domains each / stats interval" "$HOSTS × $DOMAINS / $STATS_MS ms"
sim_run 0
sleep 3
row "controller CPU, heartbeats only, % of one core (${SECONDS_} s)" "$(cpu_pct "$CTL_PID" "$SECONDS_")"
t_stop "$SIM_PID"
sim_run "$STATS_MS"
sleep $(( STATS_MS / 1000 + 2 )) # every host has sent its first report (no rates yet) and more
r0=$(metric drover_stats_reports_total)
row "controller CPU, heartbeats + stats, % of one core (${SECONDS_} s)" "$(cpu_pct "$CTL_PID" "$SECONDS_")"
r1=$(metric drover_stats_reports_total)
row "  StatsReports counted meanwhile (expected ≈ hosts × s / interval)" \
  "$(awk -v a="$r0" -v b="$r1" 'BEGIN{printf "%d", b - a}') (≈ $(( HOSTS * SECONDS_ * 1000 / STATS_MS )))"
row "controller RSS, MB" "$(rss_mb "$CTL_PID")"
t0=$(date +%s%N)
curl -fsS --max-time 30 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T_DIR/metrics.txt"
t1=$(date +%s%N)
row "one /metrics scrape: ms / bytes / series" \
  "$(( (t1 - t0) / 1000000 )) / $(wc -c <"$T_DIR/metrics.txt") / $(grep -vc '^#' "$T_DIR/metrics.txt")"
grep -E '^drover_loop_turn_duration_seconds_(sum|count) ' "$T_DIR/metrics.txt" | sed 's/^/  /' || true
t_stop "$SIM_PID"
cluster_down
