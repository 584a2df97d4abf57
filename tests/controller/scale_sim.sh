#!/usr/bin/env bash
# Integration (issue 19): a real etcd and drover-controller with SIM_HOSTS (200) simulated hosts
# from bench/agent_sim (each its own DEALER socket and enrolled CURVE key, heartbeat 1 s,
# liveness 3), all on loopback.
#   1. every host becomes reachable;
#   2. one host goes silent (agent_sim SIGUSR1): it alone is marked unreachable, within 3 s of the
#      silence; a watcher polling `drover --json host list` all test long sees no other host ever
#      leave reachable;
#   3. 20 parallel clients start domains: 20 pinned (label tight=1) to 5 hosts with room for 10 of
#      them, and 100 more anywhere; the simulator's own record (its SIGHUP dump, i.e. what "runs"
#      on each host) shows every started domain running on exactly one host and no host holding
#      more memory or vCPUs than its capacity (memory - reserved; cpus × cpu_ratio).
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
SIM_BIN=$DROVER_BUILD_DIR/bench/agent_sim/agent_sim
[ -x "$SIM_BIN" ] || t_skip "$SIM_BIN is not built"
SIM_HOSTS=${SIM_HOSTS:-200}
SILENT=sim0123
HB_MS=1000
CPU_RATIO=4
T_START=$(date +%s)

etcd_start
cluster_ports
ctl_start

# keys for every simulated host, enrolled through the real CLI (admin)
SIM_KEYS=$KEY_DIR/sim
"$SIM_BIN" --keygen-only --hosts "$SIM_HOSTS" --keys-dir "$SIM_KEYS" >"$T_DIR/sim-keys.txt"
t_eq "a key pair per simulated host" "$SIM_HOSTS" "$(wc -l <"$T_DIR/sim-keys.txt")"
# the first 8 through the real CLI (admin, `host enroll`); the rest written to etcd's hostkeys/
# directly, as `host enroll` stores them (the value is the z85 public key): 200 sanitizer-built
# CLI runs take ~50 s here, and enrolment is not what this test measures
head -n 8 "$T_DIR/sim-keys.txt" | while read -r id pub; do
  dr host enroll "$id" "$pub" >/dev/null || t_fail "enrolling $id"
done
tail -n +9 "$T_DIR/sim-keys.txt" | while read -r id pub; do
  # shellcheck disable=SC2086
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" $ETCDCTL_TLS put -- \
    "${PREFIX}hostkeys/$id" "$(cat "$pub")" >/dev/null || t_fail "storing the key of $id"
done
t_log "enrolled $SIM_HOSTS hosts after $(( $(date +%s) - T_START )) s"

labels=()
for h in sim0000 sim0001 sim0002 sim0003 sim0004; do labels+=(--host-label "$h:tight=1"); done
SIM_PID=$(t_spawn sim "$SIM_BIN" --hosts "$SIM_HOSTS" --domains-per-host 2 --cpus 4 \
  --memory-mib 8192 --latency-ms 20 --keys-dir "$SIM_KEYS" \
  --controller "tcp://127.0.0.1:$AGENT_PORT" --controller-key "$KEY_DIR/controller.pub" \
  --silent "$SILENT" --dump-file "$T_DIR/sim.dump" "${labels[@]}")

reachable_count() {
  dr host list | jq '[.hosts[] | select(.reachable)] | length'
}
all_reachable() { [ "$(reachable_count)" -eq "$SIM_HOSTS" ]; }
t_wait_for "all $SIM_HOSTS simulated hosts reachable" 60 all_reachable
t_log "all reachable after $(( $(date +%s) - T_START )) s"

# the watcher: every poll's unreachable hosts, one line each ("-" when none)
watch_hosts() {
  while :; do
    "$CLI_BIN" --json --timeout 20 host list 2>/dev/null |
      jq -r '[.hosts[] | select(.reachable | not) | .id] | if length == 0 then "-" else join(" ") end' \
      >>"$T_DIR/watch.txt" || true
    sleep 0.2
  done
}
watch_hosts &
WATCH_PID=$!
T_PIDS+=("$WATCH_PID")
sleep 2 # a few clean polls first

events_start "$T_DIR/events.json"
kill -USR1 "$SIM_PID"
silent_seen() {
  dr host show "$SILENT" | jq -e '.reachable == false' >/dev/null
}
t_wait_for "$SILENT marked unreachable" 10 silent_seen
# the controller's verdict time (its event's timestamp) vs the moment the host fell silent and its
# last message before that (both printed by the simulator; same machine, same wall clock)
line=$(grep "$SILENT silent at wall" "$T_DIR/sim.log") || t_fail "the simulator did not say when $SILENT fell silent"
silent_ms=$(sed -E 's/.* at wall ([0-9]+) ms.*/\1/' <<<"$line")
before_ms=$(sed -E 's/.*last message ([0-9]+) ms before.*/\1/' <<<"$line")
verdict_ms=$(jq -r --arg t "host.$SILENT" \
  'select(.topic == $t and .type == "unreachable") | .timestamp_ms' "$T_DIR/events.json" | head -n 1)
[ -n "$verdict_ms" ] || t_fail "no unreachable event for $SILENT"
after_silence=$((verdict_ms - silent_ms))
after_last=$((after_silence + before_ms))
t_log "$SILENT unreachable ${after_silence} ms after it fell silent (${after_last} ms after its last message; liveness 3 x 1000 ms)"
T_CHECKS=$((T_CHECKS + 1))
[ "$after_silence" -le 3000 ] || t_fail "$SILENT marked unreachable ${after_silence} ms after falling silent (> 3000)"
T_CHECKS=$((T_CHECKS + 1))
[ "$after_last" -ge 2900 ] || t_fail "$SILENT marked unreachable only ${after_last} ms after its last message (< 3 intervals: a false verdict)"
t_eq "exactly one host unreachable" "$((SIM_HOSTS - 1))" "$(reachable_count)"

# 20 parallel clients: 20 pinned domains of 3 GiB, 2 vCPUs for the 5 tight hosts (7.5 GiB usable
# each: 2 fit per host, so 10 in all), then 100 of 1 GiB, 1 vCPU anywhere (5 per client)
for i in $(seq 1 20); do
  cat >"$T_DIR/tight$i.xml" <<XML
<domain type='kvm'>
  <name>tight$i</name>
  <memory unit='MiB'>3072</memory>
  <vcpu>2</vcpu>
  <os><type>hvm</type></os>
  <metadata>
    <drover:drover xmlns:drover="https://drover.dev/xml/1"><drover:labels>tight=1</drover:labels></drover:drover>
  </metadata>
</domain>
XML
done
for i in $(seq 1 100); do dom_xml "any$i" 1024 1 >"$T_DIR/any$i.xml"; done
define_all() {
  local f
  for f in "$@"; do dr domain define "$f" >/dev/null || return 1; done
}
pids=()
for c in $(seq 1 20); do
  files=("$T_DIR/tight$c.xml")
  for k in 1 2 3 4 5; do files+=("$T_DIR/any$(( (c - 1) * 5 + k )).xml"); done
  define_all "${files[@]}" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "a define failed"; done
t_eq "120 domains defined (in etcd)" 120 "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" \
  get --prefix --keys-only "${PREFIX}domains/" | grep -cE "/domains/(tight|any)[0-9]+$")"

start_one() { # NAME → exit 0 started, 1 refused
  "$CLI_BIN" --json --timeout 30 domain start "$1" >"$T_DIR/start-$1.out" 2>"$T_DIR/start-$1.err"
}
pids=()
for c in $(seq 1 20); do start_one "tight$c" & pids+=($!); done
ok=0
for p in "${pids[@]}"; do if wait "$p"; then ok=$((ok + 1)); fi; done
t_eq "10 of 20 pinned starts succeeded (room for 2 per tight host)" 10 "$ok"
t_check "a refused pinned start says there is no room" \
  sh -c "cat '$T_DIR'/start-tight*.err | grep -qiE 'no host|memory|room'"
pids=()
for c in $(seq 1 20); do
  ( for k in 1 2 3 4 5; do start_one "any$(( (c - 1) * 5 + k ))" || exit 1; done ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "an unpinned start failed: $(cat "$T_DIR"/start-any*.err | head -3)"; done

# the truth: what runs on the simulated hosts
rm -f "$T_DIR/sim.dump"
kill -HUP "$SIM_PID"
t_wait_for "the simulator's dump" 10 test -s "$T_DIR/sim.dump"
t_eq "every started domain runs on exactly one host" 110 \
  "$(awk '$2 ~ /^(tight|any)/ && $3 == "running" {print $2}' "$T_DIR/sim.dump" | sort -u | wc -l)"
t_eq "no domain runs twice" 0 \
  "$(awk '$2 ~ /^(tight|any)/ && $3 == "running" {print $2}' "$T_DIR/sim.dump" | sort | uniq -d | wc -l)"
t_eq "the pinned ones run on tight hosts only" 10 \
  "$(awk '$2 ~ /^tight/ && $3 == "running" && $1 ~ /^sim000[0-4]$/' "$T_DIR/sim.dump" | wc -l)"
# per host: drover's domains (running) within memory - reserved and cpus × ratio
usable_kib=$(( 8192 * 1024 - 512 * 1024 ))
vcpu_cap=$(( 4 * CPU_RATIO ))
over=$(awk -v m="$usable_kib" -v c="$vcpu_cap" '$2 ~ /^(tight|any)/ && $3 == "running" {
    mem[$1] += $5; cpu[$1] += $4 }
  END { for (h in mem) if (mem[h] > m || cpu[h] > c) print h, mem[h], cpu[h] }' "$T_DIR/sim.dump")
t_eq "no host over-committed" "" "$over"
# the controller's books agree with the hosts
for n in $(seq 1 20) ; do echo "tight$n"; done >"$T_DIR/names.txt"
for n in $(seq 1 100) ; do echo "any$n"; done >>"$T_DIR/names.txt"
while read -r n; do
  etcd_get "domains/$n" | jq -r --arg n "$n" 'select(.desired_state == "running") | "\(.host) \($n)"'
done <"$T_DIR/names.txt" | sort >"$T_DIR/placed.txt"
t_eq "etcd places the 110 exactly where they run" "" "$(awk '$2 ~ /^(tight|any)/ && $3 == "running" {
   print $1, $2}' "$T_DIR/sim.dump" | sort | comm -3 - "$T_DIR/placed.txt")"

kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
polls=$(wc -l <"$T_DIR/watch.txt")
t_log "watcher: $polls polls of host list"
T_CHECKS=$((T_CHECKS + 1))
[ "$polls" -ge 10 ] || t_fail "the watcher polled only $polls times"
t_eq "no host but $SILENT ever left reachable" "" \
  "$(tr ' ' '\n' <"$T_DIR/watch.txt" | grep -v -e '^-$' -e "^$SILENT\$" | sort -u | tr '\n' ' ')"
t_check "the watcher saw $SILENT unreachable" grep -qw "$SILENT" "$T_DIR/watch.txt"

t_stop "$SIM_PID"
cluster_down
t_log "runtime $(( $(date +%s) - T_START )) s"
