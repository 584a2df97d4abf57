#!/usr/bin/env bash
# scale.sh — one controller, a real etcd (data on /dev/shm) and bench/agent_sim's simulated hosts;
# prints the table of issue 19. Expects a Release build (no sanitizers):
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc
#   cmake --build build-rel -j2 --target drover-controller drover agent_sim
#   DROVER_BUILD_DIR=$PWD/build-rel bench/scale/scale.sh --hosts 1000 --domains 20000
# Rows: idle controller CPU (% of one core, over 10 s) and RSS with N hosts heartbeating at 1 Hz;
# define and start throughput from CLIENTS (50) parallel clients; cold start (controller restart
# until every host is reachable again) with N hosts and D domains in etcd; etcd's DB size; the time
# to notice one silent host (controller event timestamp − the moment the host fell silent);
# `domain list` / `host list` latency (table and --json); the drain of a host holding 200 domains.
set -euo pipefail
HOSTS=200
DOMAINS=2000
CLIENTS=50
SAMPLE=2000
while [ $# -gt 0 ]; do
  case $1 in
    --hosts) HOSTS=$2; shift 2 ;;
    --domains) DOMAINS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --define-sample) SAMPLE=$2; shift 2 ;;
    *) echo "usage: $0 [--hosts N] [--domains D] [--clients C] [--define-sample S]" >&2; exit 2 ;;
  esac
done
# the define row measures the real verb (one CLI process per define) on SAMPLE domains; the rest
# of the D domains are written straight into etcd (bench/scale/bulk_define.py) for the cold start
# and list rows, which are measured after a controller restart has loaded them all
[ "$SAMPLE" -le "$DOMAINS" ] || SAMPLE=$DOMAINS
export DROVER_BUILD_DIR=${DROVER_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
export DROVER_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
export DROVER_TEST_OUT=${DROVER_TEST_OUT:-/tmp/drover-scale}
source "$DROVER_SOURCE_DIR/tests/support/lib.sh"
source "$DROVER_SOURCE_DIR/tests/controller/cluster.sh"
SIM_BIN=$DROVER_BUILD_DIR/bench/agent_sim/agent_sim
[ -x "$SIM_BIN" ] || t_fail "$SIM_BIN is not built"
HB_MS=1000
CMD_TIMEOUT_MS=60000
ROWS=()
row() { ROWS+=("$(printf '%-58s %s' "$1" "$2")"); printf '%-58s %s\n' "$1" "$2" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# cpu_pct PID SECONDS — % of one core used by PID over SECONDS (utime+stime from /proc)
cpu_pct() {
  local pid=$1 s=$2 hz a b
  hz=$(getconf CLK_TCK)
  a=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  sleep "$s"
  b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v a="$a" -v b="$b" -v hz="$hz" -v s="$s" 'BEGIN { printf "%.1f", (b - a) * 100 / hz / s }'
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# ms CMD... — wall ms of one run
ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1 || true; echo $(( $(now_ms) - t0 )); }

etcd_start
cluster_ports
ctl_start
SIM_KEYS=$KEY_DIR/sim
"$SIM_BIN" --keygen-only --hosts "$HOSTS" --keys-dir "$SIM_KEYS" >"$T_DIR/sim-keys.txt"
# hostkeys/ written directly (what `host enroll` stores): N CLI runs would dominate the bench
while read -r id pub; do
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put -- "${PREFIX}hostkeys/$id" "$(cat "$pub")" >/dev/null
done <"$T_DIR/sim-keys.txt"
SILENT=sim0001
SIM_PID=$(t_spawn sim "$SIM_BIN" --hosts "$HOSTS" --latency-ms 5 --migrate-ms 20 \
  --keys-dir "$SIM_KEYS" --controller "tcp://127.0.0.1:$AGENT_PORT" \
  --controller-key "$KEY_DIR/controller.pub" --silent "$SILENT" --host-label "sim0000:drain=1" \
  --host-label "sim0002:drain=1")
all_reachable() {
  [ "$(dr host list | jq '[.hosts[] | select(.reachable)] | length')" -eq "$HOSTS" ]
}
t_wait_for "all $HOSTS hosts reachable" 300 all_reachable
sleep 3
row "hosts / domains / parallel clients" "$HOSTS / $DOMAINS / $CLIENTS"
row "controller idle CPU, % of one core (10 s)" "$(cpu_pct "$CTL_PID" 10)"
row "controller RSS, MB" "$(rss_mb "$CTL_PID")"
row "agent_sim CPU, % of one core (10 s)" "$(cpu_pct "$SIM_PID" 10)"

# define D domains from CLIENTS clients (each an etcd write)
mkdir -p "$T_DIR/xml"
for i in $(seq 1 "$SAMPLE"); do
  printf "<domain type='kvm'><name>d%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n" "$i" >"$T_DIR/xml/d$i.xml"
done
t0=$(now_ms)
seq 1 "$SAMPLE" | xargs -P "$CLIENTS" -I{} "$CLI_BIN" --json --timeout 60 domain define "$T_DIR/xml/d{}.xml" >/dev/null 2>"$T_DIR/define.err" || true
t=$(( $(now_ms) - t0 ))
row "define: $SAMPLE from $CLIENTS clients, per s" "$(awk -v n="$SAMPLE" -v t="$t" 'BEGIN{printf "%.0f (%d ms)", n*1000/t, t}')"
# start a tenth of the sample (each a placement txn + agent commands)
STARTS=$(( SAMPLE / 10 ))
t0=$(now_ms)
seq 1 "$STARTS" | xargs -P "$CLIENTS" -I{} "$CLI_BIN" --json --timeout 60 domain start "d{}" >/dev/null 2>"$T_DIR/start.err" || true
t=$(( $(now_ms) - t0 ))
row "start: $STARTS from $CLIENTS clients, placements per s" "$(awk -v n="$STARTS" -v t="$t" 'BEGIN{printf "%.0f (%d ms)", n*1000/t, t}')"
running=$(dr domain list | jq '[.domains[] | select(.state == "running")] | length')
row "  running after the starts" "$running"


# one silent host
events_start "$T_DIR/events.json"
kill -USR1 "$SIM_PID"
silent_seen() { dr host show "$SILENT" | jq -e '.reachable == false' >/dev/null; }
t_wait_for "$SILENT unreachable" 30 silent_seen
line=$(grep "$SILENT silent at wall" "$T_DIR/sim.log")
silent_ms=$(sed -E 's/.* at wall ([0-9]+) ms.*/\1/' <<<"$line")
verdict=$(jq -r --arg t "host.$SILENT" 'select(.topic == $t and .type == "unreachable") | .timestamp_ms' "$T_DIR/events.json" | head -n 1)
others=$(dr host list | jq --arg s "$SILENT" '[.hosts[] | select((.reachable | not) and .id != $s)] | length')
row "one silent host noticed after, ms (others unreachable)" "$(( verdict - silent_ms )) ($others)"
kill -USR2 "$SIM_PID"

# drain a host holding 200 domains (pinned drain=1: sim0000 and sim0002; sim0002 in maintenance
# while they are placed, so all 200 land on sim0000, then back to active)
for i in $(seq 1 200); do
  printf "<domain type='kvm'><name>dr%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os><metadata><drover:drover xmlns:drover=\"https://drover.dev/xml/1\"><drover:labels>drain=1</drover:labels></drover:drover></metadata></domain>\n" "$i" >"$T_DIR/xml/dr$i.xml"
done
dr host maintenance sim0002 >/dev/null 2>&1 || true
seq 1 200 | xargs -P "$CLIENTS" -I{} sh -c "'$CLI_BIN' --json --timeout 60 domain define '$T_DIR/xml/dr{}.xml' >/dev/null && '$CLI_BIN' --json --timeout 60 domain start dr{} >/dev/null" 2>"$T_DIR/drain-start.err" || true
dr host activate sim0002 >/dev/null 2>&1 || true
on0=$(dr domain list | jq '[.domains[] | select(.host == "sim0000" and (.name | startswith("dr")))] | length')
t0=$(now_ms)
dr --timeout 600 host maintenance sim0000 --wait >"$T_DIR/drain.out" 2>&1 || true
drained() { [ "$(dr domain list | jq '[.domains[] | select(.host == "sim0000")] | length')" -eq 0 ]; }
t_wait_for "sim0000 drained" 600 drained
row "drain of a host with $on0 domains, s" "$(awk -v t="$(( $(now_ms) - t0 ))" 'BEGIN{printf "%.1f", t/1000}')"

# the rest of the D domains straight into etcd, copies of one the controller stored
if [ "$DOMAINS" -gt "$SAMPLE" ]; then
  # the last sample domain: defined, never started (the template of a started one made 18,000
  # domains "desired running on sim0001" and a registration storm, docs/scale.md)
  etcd_get "domains/d$SAMPLE" >"$T_DIR/template.json"
  t0=$(now_ms)
  python3 "$DROVER_SOURCE_DIR/bench/scale/bulk_define.py" "$ETCD_ENDPOINT" "$PREFIX" "$T_DIR/template.json" \
    $((SAMPLE + 1)) "$DOMAINS"
  t_log "bulk-loaded $((DOMAINS - SAMPLE)) domains into etcd in $(( $(now_ms) - t0 )) ms"
fi
row "etcd DB size, MB" "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" endpoint status -w json | jq '.[0].Status.dbSize / 1048576 | . * 10 | floor / 10')"

# cold start: restart the controller with everything in etcd
etcd_rev() {
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" endpoint status -w json | jq '.[0].Status.header.revision'
}
ctl_stop
rev0=$(etcd_rev)
t0=$(now_ms)
ctl_start
row "cold start to leader (state loaded), s" "$(awk -v t="$(( $(now_ms) - t0 ))" 'BEGIN{printf "%.1f", t/1000}')"
t_wait_for "all hosts reachable after the restart" 600 all_reachable
row "cold start to leader + all $HOSTS hosts reachable, s" "$(awk -v t="$(( $(now_ms) - t0 ))" 'BEGIN{printf "%.1f", t/1000}')"
# the re-registration wave: registrations the new controller handled, and etcd writes meanwhile
row "  registrations / etcd writes until all reachable" "$(grep -c "registered (" "$T_DIR/controller-2.log" || true) / $(( $(etcd_rev) - rev0 ))"
loaded=$(grep -h "state loaded from etcd" "$T_DIR"/controller-2.log | tail -n 1 | sed -E 's/.*: ([0-9]+ hosts, [0-9]+ domains).*/\1/')
row "  loaded" "$loaded"

# lists with everything loaded (time to the whole answer; the CLI prints only at the end)
row "host list latency, ms (table / --json)" "$(ms "$CLI_BIN" host list) / $(ms dr host list)"
row "domain list --all latency, ms (table / --json)" "$(ms "$CLI_BIN" domain list --all) / $(ms dr domain list --all)"
row "domain list --all --limit 500 (first page), ms" "$(ms dr domain list --all --limit 500)"
row "domain list --host sim0005 --all, ms" "$(ms dr domain list --all --host sim0005)"
row "domain list --all --limit 500 --continue (2nd page), ms" "$(ms dr domain list --all --limit 500 --continue d1500)"
sleep 3
row "controller idle CPU after the load, % of one core (10 s)" "$(cpu_pct "$CTL_PID" 10)"
row "controller RSS after the load, MB" "$(rss_mb "$CTL_PID")"

printf '\n%s\n' "drover scale bench, $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m))"
printf '%s\n' "${ROWS[@]}"
t_stop "$SIM_PID"
cluster_down
