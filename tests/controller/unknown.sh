#!/usr/bin/env bash
# Integration: never act on "unknown" (issue 12) on libvirt's test driver, 3 agents.
#   - an agent SIGSTOPped: its host is unreachable; its domains show "unknown (host unreachable)"
#     in `domain list` (never "shut off", also the shut-off one); `domain start` of them is refused
#     naming the reason (it may run there); `host maintenance` of the host is refused up front, the
#     host stays active, no job; SIGCONT → the agent sends a full inventory, the states are known;
#   - an agent whose libvirt cannot be reached (a test-driver URI that does not open): it registers
#     with libvirt disconnected and an empty list that is not the truth: its domains show "unknown
#     (libvirt disconnected)"; a start and a migration are refused; a new start is not placed there; a drain of it
#     moves nothing (no cold move), the host never enters maintenance while it cannot be seen
#     empty; once libvirt is back (a good URI) the drain goes ahead and the host enters maintenance;
#   - busy from the first instant: a drain job stored in etcd with a child migration in flight; the
#     controller restarted while every agent is stopped (none registers): the child's domain is busy
#     at once, `domain start` of it is refused as busy; once the agents are back the job ends and
#     the mark goes with it.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

run() { "$CLI_BIN" --json --timeout 20 "$@" 2>&1; }
hstate() { dr host show "$1" | jq -r .state; }
dfield() { dr domain info "$1" | jq -r ".$2"; }
jobs_of() { dr job list | jq "[.jobs[] | select(.kind == \"drain\" and .drain.host == \"$1\")] | length"; }

# two domains on h1 (label rack=r1): one running, one shut off (still placed there)
dom_xml_pinned on1 256 r1 >"$T_DIR/on1.xml"
dom_xml_pinned off1 256 r1 >"$T_DIR/off1.xml"
for d in on1 off1; do
  dr domain define "$T_DIR/$d.xml" >/dev/null
  t_eq "$d started on h1" h1 "$(dr domain start "$d" | jq -r .host)"
done
dr domain destroy off1 >/dev/null
t_eq "off1 shut off" "shut off" "$(dfield off1 state)"

# --- SIGSTOP h1's agent: unreachable
kill -STOP "${AGENT_PID[1]}"
t_wait_for "h1 unreachable" 5 host_reachable h1 false
for d in on1 off1; do
  t_eq "$d: state unknown" unknown "$(dfield "$d" state)"
  t_eq "$d: reason host unreachable" "host unreachable" "$(dfield "$d" reason)"
done
list=$("$CLI_BIN" domain list)
t_check "domain list: off1 unknown (host unreachable): $list" grep -qE '^off1 +unknown \(host unreachable\) +h1' <<<"$list"
t_eq "domain list: nothing shows shut off" 0 "$(grep -c 'shut off' <<<"$list" || true)"
rc=0; out=$(run domain start off1) || rc=$?
t_eq "start of off1 (may run on h1) refused: exit 1" 1 "$rc"
t_check "the refusal names the reason: $out" grep -q "state on host 'h1' is unknown (host unreachable)" <<<"$out"
t_eq "off1 still placed on h1, desired shutoff" "h1 shutoff" "$(dr domain info off1 | jq -r '"\(.host) \(.desired_state)"')"
rc=0; out=$(run host maintenance h1) || rc=$?
t_eq "maintenance of unreachable h1 refused: exit 1" 1 "$rc"
t_check "the refusal says why: $out" grep -q "host 'h1' is unreachable.*nothing moved" <<<"$out"
t_eq "h1 stays active" active "$(hstate h1)"
t_eq "no drain job for h1" 0 "$(jobs_of h1)"
kill -CONT "${AGENT_PID[1]}"
t_wait_for "h1 reachable again" 10 host_reachable h1 true
t_wait_for "h1's inventory authoritative again" 10 \
  sh -c "'$CLI_BIN' --json host show h1 | jq -e '.inventory_authoritative == true'"
t_eq "on1 running again" running "$(dfield on1 state)"
t_eq "off1 shut off again" "shut off" "$(dfield off1 state)"
t_eq "off1: libvirt's reason once known" destroyed "$(dfield off1 reason)"

# --- libvirt disconnected on h1: restart its agent with a URI that does not open
agent_stop 1
cp "$T_DIR/agent1.conf" "$T_DIR/agent1.good"
sed -i "s|^libvirt_uri = .*|libvirt_uri = test://$T_DIR/missing-node.xml|" "$T_DIR/agent1.conf"
agent_start 1
t_wait_for "h1 registered (libvirt down)" 10 \
  sh -c "'$CLI_BIN' --json host show h1 | jq -e '.reachable and .inventory_reason == \"libvirt disconnected\"'"
for d in on1 off1; do
  t_eq "$d: unknown (libvirt disconnected)" "unknown libvirt disconnected" \
    "$(dr domain info "$d" | jq -r '"\(.state) \(.reason)"')"
done
t_check "host show: the inventory is not authoritative" \
  sh -c "'$CLI_BIN' host show h1 | grep -q '^Inventory: *not authoritative (libvirt disconnected)'"
t_check "domain list (text): on1 unknown (libvirt disconnected)" \
  sh -c "'$CLI_BIN' domain list | grep -qE '^on1 +unknown \(libvirt disconnected\) +h1'"
t_check "drift names the reason" grep -q "state unknown on host h1 (libvirt disconnected)" <<<"$(dfield on1 drift)"
rc=0; out=$(run domain start off1) || rc=$?
t_eq "start of off1 refused (libvirt disconnected): exit 1" 1 "$rc"
t_check "refusal: $out" grep -q "unknown (libvirt disconnected) and it may still run there" <<<"$out"
rc=0; out=$(run domain migrate on1 --to h2) || rc=$?
t_eq "migrate of on1 (state unknown) refused: exit 1" 1 "$rc"
t_check "migrate refusal: $out" grep -q "domain 'on1': its state on host 'h1' is unknown (libvirt disconnected); nothing migrated" <<<"$out"
rc=0; out=$(run domain undefine off1) || rc=$?
t_eq "undefine of off1 (state unknown) refused: exit 1" 1 "$rc"
t_check "undefine refusal: $out" grep -q "unknown (libvirt disconnected); not undefined" <<<"$out"
# a new domain that can only go to h1 is not placed there: its free room is unknown
dom_xml_pinned new1 128 r1 >"$T_DIR/new1.xml"
dr domain define "$T_DIR/new1.xml" >/dev/null
rc=0; out=$(run domain start new1) || rc=$?
t_eq "new1 (rack r1 only) not placed on h1: exit 1" 1 "$rc"
t_check "placement refusal names h1's inventory: $out" grep -q "h1 (inventory not authoritative: libvirt disconnected)" <<<"$out"
# h2 may take h1's domains from now on (same rack label)
dr host label h2 rack=r1 >/dev/null
# the drain moves nothing and does not declare maintenance
out=$(run host maintenance h1 --on-unmovable leave) || t_fail "maintenance of h1 (libvirt down): $out"
id=$(jq -r .id <<<"$out")
sleep 3
job=$(dr job show "$id")
t_eq "drain still running (waiting for h1's inventory)" running "$(jq -r .state <<<"$job")"
t_eq "h1 preparing-maintenance, not maintenance" preparing-maintenance "$(hstate h1)"
t_eq "off1 not cold-moved: still on h1" h1 "$(dfield off1 host)"
t_eq "on1 not moved: still on h1" h1 "$(dfield on1 host)"
t_eq "no move launched" 0 "$(jq '[.drain.entries[] | select(.attempts > 0)] | length' <<<"$job")"
# libvirt back: a fresh, authoritative inventory (the fresh test driver runs nothing): the drain
# goes ahead (cold moves of what is now known to be off) and the host is seen empty
agent_stop 1
cp "$T_DIR/agent1.good" "$T_DIR/agent1.conf"
agent_start 1
t_wait_for "the drain ends once h1 is seen again" 30 \
  sh -c "'$CLI_BIN' --json job show $id | jq -e '.state != \"running\"'"
job=$(dr job show "$id")
t_eq "drain succeeded" succeeded "$(jq -r .state <<<"$job")"
t_eq "h1 in maintenance" maintenance "$(hstate h1)"
t_check "off1 moved off h1 ($(dfield off1 host))" test "$(dfield off1 host)" != h1
out=$(run host activate h1) || t_fail "activate h1: $out"

# --- busy from the first instant: a stored drain with a child migration in flight
t_eq "on1 runs again" running "$(dr domain start on1 | jq -r .state)"
src=$(dfield on1 host)
dst=h3
[ "$src" = h3 ] && dst=h2
ctl_stop
now=$(($(date +%s) * 1000))
jput() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}jobs/$1" "$(jq -c . <<<"$2")" >/dev/null; }
jput drain-busy1 "$(jq -n --arg src "$src" --arg dst "$dst" --argjson now "$now" '{
  version: 1, id: "drain-busy1", kind: "drain", state: "running", created_ms: $now,
  updated_ms: $now, owner: "dead", cancel_requested: false,
  drain: {host: $src, options: {max_parallel: 8, per_source: 2, per_dest: 2,
                                on_unmovable: "refuse", n_plus_one: false},
          entries: [{domain: "on1", origin: $src, planned: $dst, alternates: [], attempts: 1,
                     destination: $dst, state: "migrating"}]}}')"
jput drain-busy1:on1:1 "$(jq -n --arg src "$src" --arg dst "$dst" --argjson now "$now" '{
  version: 1, id: "drain-busy1:on1:1", kind: "migrate", state: "running", created_ms: $now,
  updated_ms: $now, owner: "dead", cancel_requested: false,
  migrate: {domain: "on1", source: $src, destination: $dst, reservation_id: "drain-busy1:on1:1",
            policy: {max_downtime_ms: 0, bandwidth_mibs: 0, auto_converge: false,
                     postcopy: false, timeout_s: 0},
            phase: "migrating", phase_ms: $now, reserved: false,
            progress: {data_total: 0, data_processed: 0, data_remaining: 0, memory_bps: 0,
                       iteration: 0, elapsed_ms: 0},
            result: {downtime_ms: 0, time_ms: 0, bytes: 0}}}')"
t_eq "etcd: the child is stored" running "$(etcd_get jobs/drain-busy1:on1:1 | jq -r .state)"
for n in 1 2 3; do kill -STOP "${AGENT_PID[$n]}"; done
ctl_start
t_eq "on1 busy at once (no host registered)" migrate "$(dfield on1 busy)"
t_eq "$src not registered with the new controller" false "$(dr host show "$src" | jq .registered)"
rc=0; out=$(run domain start on1) || rc=$?
t_eq "start of the drain's child refused: exit 1" 1 "$rc"
t_check "refused as busy: $out" grep -q "domain 'on1': a migrate is already in progress" <<<"$out"
t_check "the controller logged the mark" grep -q "1 domain busy from the start" "$T_DIR/controller-$CTL_RUNS.log"
for n in 1 2 3; do kill -CONT "${AGENT_PID[$n]}"; done
for n in 1 2 3; do t_wait_for "host h$n reachable" 20 host_reachable "h$n" true; done
t_wait_for "the resumed drain ends" 40 \
  sh -c "'$CLI_BIN' --json job show drain-busy1 | jq -e '.state != \"running\"'"
t_wait_for "on1 no longer busy once its job ended" 20 \
  sh -c "'$CLI_BIN' --json domain info on1 | jq -e '.busy == null'"
t_eq "on1 still runs on $src" "running $src" "$(dr domain info on1 | jq -r '"\(.state) \(.host)"')"

cluster_down
