#!/usr/bin/env bash
# Integration (issue 16): GET /metrics on the controller. The text passes promtool's check (the
# Prometheus project's own parser, Debian's prometheus package) and a strict parser in the test
# (prom_text.py); its values follow the cluster: hosts by state, capacity and allocations, the
# agents' statistics reaching the controller's window (reports counted, a running domain's CPU and
# steal series, a host's CPU pressure), an unreachable host counted as such, and its figures gone.
# The endpoint is off by default, refused outside loopback unless allowed, and answers only GET
# /metrics.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
command -v curl >/dev/null || t_skip "curl is not installed"
PROMTOOL=$(command -v promtool || true)
PROM=$(dirname "$0")/prom_text.py

# refused outside loopback; a bad address names the key
sec_init
i=0
for bad in "0.0.0.0:$(t_free_port)" "localhost:80" "127.0.0.1:http" "127.0.0.1"; do
  i=$((i + 1))
  sec_conf >"$T_DIR/bad.conf"
  printf '[metrics]\nlisten = %s\n' "$bad" >>"$T_DIR/bad.conf"
  rc=0
  timeout 10 "$CTL_BIN" --config "$T_DIR/bad.conf" --etcd http://127.0.0.1:1 \
    --client-bind "tcp://127.0.0.1:$(t_free_port)" --agent-bind "tcp://127.0.0.1:$(t_free_port)" \
    --event-bind "tcp://127.0.0.1:$(t_free_port)" >"$T_DIR/bad-$i.out" 2>&1 || rc=$?
  t_check "listen = $bad is refused (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
  t_check "listen = $bad: the message names [metrics] listen" grep -q "\[metrics\] listen" \
    "$T_DIR/bad-$i.out"
done
t_check "0.0.0.0 refused for being outside loopback" grep -q "outside loopback.*allow_remote" \
  "$T_DIR/bad-1.out"

METRICS_PORT=$(t_free_port)
CTL_EXTRA="[metrics]
listen = 127.0.0.1:$METRICS_PORT"
STATS_MS=500
cluster_up
URL=http://127.0.0.1:$METRICS_PORT/metrics

fetch() { curl -fsS --max-time 5 "$URL" >"$T_DIR/m.txt"; }
# val SERIES — the value of one series in a fresh, validated fetch ('absent' when missing)
val() {
  fetch || { echo fetch-failed; return; }
  python3 "$PROM" "$T_DIR/m.txt" "$1"
}
val_is() { [ "$(val "$1")" == "$2" ]; }
present() { [ "$(val "$1")" != absent ] && [ "$(val "$1")" != fetch-failed ]; }
val_ge() { local v; v=$(val "$1"); [ "$v" != absent ] && awk -v v="$v" -v m="$2" 'BEGIN{exit !(v>=m)}'; }

fetch
t_check "promtool check metrics passes" sh -c "[ -z '$PROMTOOL' ] || '$PROMTOOL' check metrics <'$T_DIR/m.txt'"
t_check "the strict parser accepts the text" python3 "$PROM" "$T_DIR/m.txt"
ctype=$(curl -sS -o /dev/null -w '%{content_type}' "$URL")
t_check "content type is the text format 0.0.4 ($ctype)" grep -q 'version=0.0.4' <<<"$ctype"
t_eq "3 hosts up" 3 "$(val 'drover_hosts{state="up"}')"
t_eq "no host unreachable" 0 "$(val 'drover_hosts{state="unreachable"}')"
t_eq "3 agents connected" 3 "$(val drover_agents_connected)"
t_eq "leader" 1 "$(val drover_leader)"
t_eq "h3 has 16 cpus" 16 "$(val 'drover_host_cpus{host="h3"}')"
t_eq "h3 capacity: 16 x cpu_ratio 4" 64 "$(val 'drover_host_capacity_vcpus{host="h3"}')"
t_check "h1's clock skew is reported, in step (|skew| < 1 s)" sh -c \
  "v=\$(grep '^drover_host_clock_skew_seconds{host=\"h1\"}' '$T_DIR/m.txt' | awk '{print \$2}'); [ -n \"\$v\" ] && awk -v v=\"\$v\" 'BEGIN{exit !(v > -1 && v < 1)}'"
t_eq "h2 memory 8 GiB" 8589934592 "$(val 'drover_host_memory_bytes{host="h2"}')"

# a running domain: its allocation, its state, then its statistics series
dom_xml vm1 1024 2 >"$T_DIR/vm1.xml"
dr domain define "$T_DIR/vm1.xml" >/dev/null || t_fail "define vm1"
host=$(dr domain start vm1 | jq -r '.host')
t_check "vm1 placed ($host)" grep -q '^h[123]$' <<<"$host"
t_eq "vm1's host books 2 vCPUs" 2 "$(val "drover_host_allocated_vcpus{host=\"$host\"}")"
t_eq "vm1's host books 1 GiB" 1073741824 \
  "$(val "drover_host_allocated_memory_bytes{host=\"$host\"}")"
t_eq "one domain running" 1 "$(val 'drover_domains{state="running"}')"
t_check "commands were counted (start)" val_ge 'drover_commands_total{kind="start"}' 1
# the agents' reports reach the window: counted, and vm1's series appear with its host
t_wait_for "stats reports counted" 20 val_ge drover_stats_reports_total 6
t_wait_for "vm1's cpu series, labelled with its host" 20 \
  present "drover_domain_cpu_usage{domain=\"vm1\",host=\"$host\"}"
t_check "vm1's steal series" present "drover_domain_cpu_steal{domain=\"vm1\",host=\"$host\"}"
t_eq "no cpu series for a domain that does not run" absent \
  "$(val 'drover_domain_cpu_usage{domain="vm2",host="h1"}')"
for h in h1 h2 h3; do
  t_check "$h's CPU pressure is known" present "drover_host_cpu_pressure_ratio{host=\"$h\"}"
done
fetch

# the same window through the API and the CLI (`drover host stats`, `drover domain stats`)
hs=$(dr host stats "$host")
t_eq "host stats: known" true "$(jq '.known' <<<"$hs")"
# (on the test driver the host figures are this machine's /proc: only their presence is checked)
t_check "host stats: cpus and memory from /proc" jq -e '.cpus >= 1 and .memory_total_kib > 0 and
  .cpu_known == true' <<<"$hs"
t_eq "host stats: vm1 among its domains" 1 \
  "$(jq '[.domains[] | select(.name == "vm1")] | length' <<<"$hs")"
t_check "host stats: a window of samples" jq -e '.window_samples >= 1' <<<"$hs"
ds=$(dr domain stats vm1)
t_eq "domain stats: known" true "$(jq '.known' <<<"$ds")"
t_eq "domain stats: its host" "$host" "$(jq -r '.host' <<<"$ds")"
t_check "domain stats: vcpus reported" jq -e '(.vcpus | type) == "number"' <<<"$ds"
t_check "domain stats: window averages" jq -e '(.cpu_window | type) == "number" and
  (.steal_window | type) == "number"' <<<"$ds"
"$CLI_BIN" --timeout 10 host stats "$host" >"$T_DIR/hs.txt" || t_fail "host stats (table)"
t_check "host stats table: a vm1 row on its host" grep -qE "^vm1 +$host +[0-9]+ " "$T_DIR/hs.txt"
t_check "host stats table: the CPU line" grep -qE "^CPU +[0-9.]+% busy" "$T_DIR/hs.txt"
"$CLI_BIN" --timeout 10 domain stats vm1 >"$T_DIR/ds.txt" || t_fail "domain stats (table)"
t_check "domain stats table: host" grep -qE "^Host +$host\$" "$T_DIR/ds.txt"
t_check "domain stats table: CPU and steal" grep -qE "^CPU +[0-9.]+ CPUs used, [0-9.]+ CPUs waiting" \
  "$T_DIR/ds.txt"
t_check "host stats of an unknown host fails" sh -c "! '$CLI_BIN' --json host stats nope >/dev/null 2>&1"
t_check "domain stats of an unknown domain fails" \
  sh -c "! '$CLI_BIN' --json domain stats nope >/dev/null 2>&1"
dom_xml vm2 256 1 >"$T_DIR/vm2.xml"
dr domain define "$T_DIR/vm2.xml" >/dev/null || t_fail "define vm2"
t_eq "domain stats of a domain that never ran: unknown" false "$(dr domain stats vm2 | jq '.known')"

# the rebalancer on the live window (dry run): every host scored, no move for domains with no load
# (the test driver's counters do not move), options checked
bp=$(dr cluster balance --dry-run --objective cpu)
t_eq "balance: dry run" true "$(jq '.dry_run' <<<"$bp")"
t_eq "balance: 3 hosts scored (each has a fresh load)" 3 "$(jq '.scored_hosts' <<<"$bp")"
t_eq "balance: the loads it used" 3 "$(jq '.hosts_with_load' <<<"$bp")"
t_eq "balance: nothing worth moving (no domain has load)" 0 "$(jq '.moves | length' <<<"$bp")"
t_check "balance: a summary" jq -e '.summary | length > 0' <<<"$bp"
t_check "balance: score before and after" jq -e '(.score_before | type) == "number" and
  .score_after <= .score_before' <<<"$bp"
t_check "balance: a bad objective is refused" \
  sh -c "! '$CLI_BIN' --json cluster balance --dry-run --objective speed >/dev/null 2>&1"
t_check "balance: a bad threshold is refused" \
  sh -c "! '$CLI_BIN' --json cluster balance --dry-run --cpu-threshold lots >/dev/null 2>&1"
t_check "balance without --dry-run needs role operator (a viewer may only plan)" \
  sh -c "! DROVER_KEY_FILE=$KEY_DIR/viewer.key '$CLI_BIN' --json cluster balance >/dev/null 2>&1"
t_check "a viewer may see the plan" dr_as viewer cluster balance --dry-run
nb=$(dr cluster balance --objective cpu) || t_fail "balance with nothing to move"
t_eq "balance with nothing to move: no job, the plan says why" "false 0 null" \
  "$(jq -r '"\(.dry_run) \(.moves | length) \(.kind)"' <<<"$nb")"
"$CLI_BIN" --timeout 10 cluster balance --dry-run >"$T_DIR/bp.txt" || t_fail "balance (table)"
t_check "balance table: the score line" grep -qE "^Score +[0-9.]+ → [0-9.]+" "$T_DIR/bp.txt"

# drover top: every host, vm1 among the domains (one view)
"$CLI_BIN" --timeout 10 top --once >"$T_DIR/top.txt" || t_fail "top --once"
for h in h1 h2 h3; do
  t_check "top: a row for $h with its CPU bar" grep -qE "^$h +[0-9]+ +[0-9]+% +\[[# ]+\]" "$T_DIR/top.txt"
done
t_check "top: vm1 among the domains" grep -qE "^vm1 +$host " "$T_DIR/top.txt"
t_eq "top --once --json: 3 hosts" 3 "$("$CLI_BIN" --json top --once | jq '.hosts | length')"

t_check "etcd requests were timed" val_ge drover_etcd_request_duration_seconds_count 1
t_check "loop turns were timed" val_ge drover_loop_turn_duration_seconds_count 10
t_check "promtool accepts the text with domain series" \
  sh -c "[ -z '$PROMTOOL' ] || '$PROMTOOL' check metrics <'$T_DIR/m.txt'"

# an agent goes away: its host is counted unreachable and its figures are no longer shown
agent_stop 3 KILL
t_wait_for "h3 unreachable in /metrics" 20 val_is 'drover_hosts{state="unreachable"}' 1
t_eq "2 hosts up" 2 "$(val 'drover_hosts{state="up"}')"
t_eq "2 agents connected" 2 "$(val drover_agents_connected)"
t_eq "h3 up = 0" 0 "$(val 'drover_host_up{host="h3"}')"
t_eq "h3's CPU figure is gone (unknown, not 0)" absent \
  "$(val 'drover_host_cpu_busy_ratio{host="h3"}')"
"$CLI_BIN" --timeout 10 top --once >"$T_DIR/top2.txt" || t_fail "top --once (h3 lost)"
t_check "top: h3 unknown (host unreachable)" grep -qE "^h3 +- +unknown +host unreachable" "$T_DIR/top2.txt"
hs=$(dr host stats h3)
t_eq "host stats h3: unknown" false "$(jq '.known' <<<"$hs")"
t_eq "host stats h3: why" "host unreachable" "$(jq -r '.reason' <<<"$hs")"
if [ "$host" = h3 ]; then
  t_eq "domain stats of vm1 on the lost host: unknown" false "$(dr domain stats vm1 | jq '.known')"
  t_eq "vm1's cpu series is gone" absent "$(val 'drover_domain_cpu_usage{domain="vm1",host="h3"}')"
fi

# only GET /metrics
t_eq "other paths: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/")"
t_eq "POST: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$URL")"
# the loop is not held up by a client that connects and sends nothing
exec 7<>"/dev/tcp/127.0.0.1/$METRICS_PORT"
t_check "the API answers while an HTTP client is silent" \
  sh -c "'$CLI_BIN' --json --timeout 5 cluster status | jq -e '.is_leader == true' >/dev/null"
t_check "/metrics answers while an HTTP client is silent" fetch
exec 7>&-
