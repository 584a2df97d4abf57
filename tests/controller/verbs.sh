#!/usr/bin/env bash
# Integration: the rest of the verbs through `drover --json`: create (transient), reboot, shutdown,
# dumpxml live/inactive, setvcpus/setmem (--config stores a new revision), capacity, cpu-baseline,
# export-snapshot, drain-plan, cluster status; and an agent that stops answering → the client gets
# "host 'h1' did not answer ... within 1 s" instead of waiting forever.
HB_MS=1000 CMD_TIMEOUT_MS=1000
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

# transient domain: created and running, gone from the cluster once it stops
dom_xml tr1 512 >"$T_DIR/tr1.xml"
out=$(dr domain create "$T_DIR/tr1.xml")
t_eq "create: running" running "$(jq -r '.state' <<<"$out")"
t_eq "create: transient" true "$(jq '.transient' <<<"$out")"
t_eq "etcd: transient domain stored while it runs" true "$(etcd_get domains/tr1 | jq '.transient')"
t_eq "create: no history for a transient domain" 0 "$(etcd_count history/tr1/)"
t_check "create of an existing name is refused" sh -c "! '$CLI_BIN' --json domain create '$T_DIR/tr1.xml' >/dev/null 2>&1"
t_eq "destroy transient: shut off" "shut off" "$(dr domain destroy tr1 | jq -r '.state')"
t_eq "etcd: transient domain gone" "" "$(etcd_get domains/tr1)"
t_check "domain info tr1 fails now" sh -c "! '$CLI_BIN' --json domain info tr1 >/dev/null 2>&1"

# lifecycle on a persistent domain
dom_xml web1 1024 2 >"$T_DIR/web1.xml"
dr domain define "$T_DIR/web1.xml" >/dev/null
host=$(dr domain start web1 | jq -r '.host')
t_eq "reboot: still running" running "$(dr domain reboot web1 | jq -r '.state')"
t_eq "reboot: desired unchanged" running "$(etcd_get domains/web1 | jq -r '.desired_state')"
live=$(dr domain dumpxml web1)
t_eq "dumpxml of a running domain comes from its host" true "$(jq '.live' <<<"$live")"
t_check "live XML names the domain" grep -q '<name>web1</name>' <<<"$(jq -r '.xml' <<<"$live")"
t_eq "dumpxml --inactive is the stored XML" "$(etcd_get domains/web1 | jq -r '.xml')" \
  "$(dr domain dumpxml web1 --inactive | jq -r '.xml')"
out=$(dr domain setvcpus web1 1 --live)
t_eq "setvcpus --live: no new revision" 1 "$(jq '.revision' <<<"$out")"
out=$(dr domain setmem web1 512M --config)
t_eq "setmem --config: new revision" 2 "$(jq '.revision' <<<"$out")"
t_check "setmem --config: stored XML has the new current memory" \
  grep -q "524288" <<<"$(etcd_get domains/web1 | jq -r '.xml')"
t_eq "history comment" setmem "$(dr domain history web1 | jq -r '.revisions[1].comment')"
t_check "setvcpus with a bad count is a usage error" sh -c "'$CLI_BIN' --json domain setvcpus web1 zero >/dev/null 2>&1; [ \$? -eq 2 ]"
# the maximums, as virsh has them (issue 17): in the definition, a new revision each
out=$(dr domain setvcpus web1 4 --maximum) || t_fail "setvcpus --maximum: $out"
t_eq "setvcpus --maximum: new revision" 3 "$(jq '.revision' <<<"$out")"
t_eq "setvcpus --maximum: the maximum is 4" 4 "$(jq '.vcpus' <<<"$out")"
t_check "stored XML: <vcpu ...>4</vcpu>" grep -Eq "<vcpu[^>]*>4</vcpu>" <<<"$(etcd_get domains/web1 | jq -r '.xml')"
out=$(dr domain setmaxmem web1 2G) || t_fail "setmaxmem: $out"
t_eq "setmaxmem: new revision" 4 "$(jq '.revision' <<<"$out")"
t_eq "setmaxmem: memory 2 GiB" 2097152 "$(jq '.memory_kib' <<<"$out")"
t_eq "setmaxmem: CLI says so" "Domain 'web1' maximum memory set to 2 GiB" \
  "$("$CLI_BIN" domain setmaxmem web1 2G)"
rc=0
"$CLI_BIN" domain setvcpus web1 4 --maximum --live >/dev/null 2>&1 || rc=$?
t_eq "setvcpus --maximum --live is a usage error" 2 "$rc"
dr domain setmaxmem web1 1G >/dev/null || t_fail "setmaxmem back to 1 GiB"
dr domain setvcpus web1 2 --maximum >/dev/null || t_fail "setvcpus --maximum back to 2"
t_eq "maximums back: 2 vCPUs, 1 GiB" "2 1048576" "$(dr domain info web1 | jq -r '"\(.vcpus) \(.memory_kib)"')"

# scheduler questions
cap=$(dr capacity --vcpus 1 --memory 1GiB)
# room: h1 3.5 GiB → 3, h2 7.5 → 7, h3 15.5 - 1 (web1) → 14
t_eq "capacity total" 24 "$(jq '.total' <<<"$cap")"
t_eq "capacity per host" 3 "$(jq '[.hosts[] | select(.host == "h1")][0].fits' <<<"$cap")"
t_check "capacity with N+1 is computed" jq -e '.n_plus_one_total != null' <<<"$(dr capacity --vcpus 1 --memory 1GiB --n-plus-one)"
base=$(dr cluster cpu-baseline)
t_eq "baseline features" "aes avx2 sse4.2" "$(jq -r '.features | join(" ")' <<<"$base")"
t_check "baseline cpu xml" grep -q "Skylake-Client" <<<"$(jq -r '.cpu_xml' <<<"$base")"
snap=$(dr cluster export-snapshot)
t_eq "snapshot: 3 hosts" 3 "$(jq '.hosts | length' <<<"$snap")"
t_eq "snapshot: web1 placed" "$host" "$(jq -r '.domains[] | select(.name == "web1") | .host' <<<"$snap")"
plan=$(dr host drain-plan "$host")
t_eq "drain plan moves web1" web1 "$(jq -r '.steps[0].domain' <<<"$plan")"
t_check "drain plan destination is another host" \
  test "$(jq -r '.steps[0].dest' <<<"$plan")" != "$host"
st=$(dr cluster status)
t_eq "status: leader" true "$(jq '.is_leader' <<<"$st")"
t_eq "status: hosts" 3 "$(jq '.hosts_reachable' <<<"$st")"
t_eq "status: running" 1 "$(jq '.domains_running' <<<"$st")"

# shutdown (the test driver's guests obey)
out=$(dr domain shutdown web1)
t_eq "shutdown: shut off" "shut off" "$(jq -r '.state' <<<"$out")"
t_eq "shutdown: desired shutoff" shutoff "$(etcd_get domains/web1 | jq -r '.desired_state')"

# an agent that stops answering (SIGSTOP) → bounded wait, "unknown outcome" (exit 3): the command
# reached the agent, so whether it ran is not known; it expires and is refused unrun later
dom_xml_pinned p1 256 r1 >"$T_DIR/p1.xml"
dr domain define "$T_DIR/p1.xml" >/dev/null
t_eq "p1 on h1" h1 "$(dr domain start p1 | jq -r '.host')"
kill -STOP "${AGENT_PID[1]}"
set +e
"$CLI_BIN" --json domain suspend p1 >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
kill -CONT "${AGENT_PID[1]}"
t_eq "silent agent: exit 3 (unknown outcome)" 3 "$rc"
t_check "silent agent: the error names the host and the wait" \
  grep -q "unknown outcome: host 'h1' did not answer suspend of domain 'p1' within 1 s" "$T_DIR/err"
t_wait_for "h1 answers again" 10 host_reachable h1 true
resumed() { dr domain resume p1 >/dev/null 2>&1 || true; [ "$(dr domain state p1 | jq -r .state)" = running ]; }
t_wait_for "p1 usable again" 10 resumed

# an unknown outcome outlives its controller: the watch is stored (outcomes/ in etcd); a restarted
# controller takes it over, asks the agent again under the same id and expiry, learns that the
# suspend expired unrun, and puts the desired state back (without the take-over the stored intent
# would say "paused" of a running guest)
t_wait_for "the first unknown outcome resolved" 20 \
  sh -c "'$CLI_BIN' --json cluster status | jq -e '.outcomes_unknown == 0'"
t_eq "no stored unknown outcome left" 0 "$(etcd_count outcomes/)"
kill -STOP "${AGENT_PID[1]}"
set +e
"$CLI_BIN" --json domain suspend p1 >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
t_eq "silent agent again: exit 3 (unknown outcome)" 3 "$rc"
t_eq "the unknown outcome is stored" 1 "$(etcd_count outcomes/)"
t_eq "the intent (paused) is stored" paused "$(etcd_get domains/p1 | jq -r '.desired_state')"
ctl_stop KILL
ctl_start
t_eq "the restarted controller took the unknown outcome over" 1 \
  "$(dr cluster status | jq '.outcomes_unknown')"
kill -CONT "${AGENT_PID[1]}"
t_wait_for "the restarted controller resolved it" 20 \
  sh -c "'$CLI_BIN' --json cluster status | jq -e '.outcomes_unknown == 0'"
t_eq "the stored unknown outcome is removed" 0 "$(etcd_count outcomes/)"
t_eq "the suspend expired unrun: p1 running" running "$(dr domain state p1 | jq -r .state)"
t_eq "the desired state is back to running" running "$(etcd_get domains/p1 | jq -r '.desired_state')"
t_check "the take-over is logged" grep -q "took over 1 unknown outcome" "$T_DIR/controller-$CTL_RUNS.log"
cluster_down
