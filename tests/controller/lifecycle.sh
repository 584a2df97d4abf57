#!/usr/bin/env bash
# Integration: define → start (placed on a host with room) → suspend → resume → snapshot
# create/list/revert/delete → destroy → undefine, all through `drover --json`, against a real etcd,
# a real controller and 3 agents on libvirt's test driver.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up
events_start "$T_DIR/events.json"

t_eq "3 hosts listed" 3 "$(dr host list | jq '.hosts | length')"
t_eq "h3 facts: cpus" 16 "$(dr host show h3 | jq '.cpus')"
t_eq "h1 label from the agent config" r1 "$(dr host show h1 | jq -r '.labels.rack')"

# define
dom_xml web1 3072 2 >"$T_DIR/web1.xml"
out=$(dr domain define "$T_DIR/web1.xml")
t_eq "define: revision 1" 1 "$(jq '.revision' <<<"$out")"
t_eq "define: desired shutoff" shutoff "$(jq -r '.desired_state' <<<"$out")"
t_eq "define: not placed" null "$(jq -r '.host' <<<"$out")"
uuid=$(jq -r '.uuid' <<<"$out")
t_check "define: a UUID was assigned" grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-' <<<"$uuid"
stored=$(etcd_get "domains/web1")
t_eq "etcd: stored uuid" "$uuid" "$(jq -r '.uuid' <<<"$stored")"
t_check "etcd: stored XML carries the UUID" grep -q "$uuid" <<<"$(jq -r '.xml' <<<"$stored")"
t_eq "etcd: history revision 1" 1 "$(etcd_count history/web1/)"

# start: 3 GiB needs a host with room (h1 has 3.5 GiB usable, spread picks the emptiest: h3)
out=$(dr domain start web1)
host=$(jq -r '.host' <<<"$out")
t_eq "start: state running" running "$(jq -r '.state' <<<"$out")"
t_eq "start: desired running" running "$(jq -r '.desired_state' <<<"$out")"
t_eq "start: spread places on the emptiest host" h3 "$host"
t_eq "etcd: placement stored" "$host" "$(etcd_get domains/web1 | jq -r '.host')"
t_eq "host shows the allocation" 3145728 "$(dr host show "$host" | jq '.allocated_memory_kib')"
t_eq "host lists the domain" web1 "$(dr host show "$host" | jq -r '.domain_names[0]')"
t_check "start twice is refused" sh -c "! '$CLI_BIN' --json domain start web1 >/dev/null 2>&1"

# suspend / resume
t_eq "suspend: paused" paused "$(dr domain suspend web1 | jq -r '.state')"
t_eq "suspend: desired paused" paused "$(etcd_get domains/web1 | jq -r '.desired_state')"
t_eq "state verb" paused "$(dr domain state web1 | jq -r '.state')"
t_eq "resume: running" running "$(dr domain resume web1 | jq -r '.state')"
t_eq "resume: desired running" running "$(etcd_get domains/web1 | jq -r '.desired_state')"

# snapshots
t_eq "snapshot create" s1 "$(dr snapshot create web1 s1 | jq -r '.name')"
t_check "etcd: snapshots/web1/s1 holds the snapshot XML" \
  grep -q '<domainsnapshot' <<<"$(etcd_get snapshots/web1/s1 | jq -r '.xml')"
t_eq "snapshot create s2" s2 "$(dr snapshot create web1 s2 | jq -r '.name')"
list=$(dr snapshot list web1)
t_eq "snapshot list: 2" "s1 s2" "$(jq -r '[.snapshots[].name] | sort | join(" ")' <<<"$list")"
t_eq "snapshot list: s2's parent is s1" s1 \
  "$(jq -r '.snapshots[] | select(.name == "s2") | .parent' <<<"$list")"
t_eq "etcd: s2 is current" true "$(etcd_get snapshots/web1/s2 | jq '.current')"
dr domain suspend web1 >/dev/null
t_eq "snapshot revert s1" s1 "$(dr snapshot revert web1 s1 | jq -r '.name')"
t_eq "revert: running again (s1 was taken running)" running "$(dr domain state web1 | jq -r '.state')"
t_eq "revert: desired follows the snapshot" running "$(etcd_get domains/web1 | jq -r '.desired_state')"
t_eq "etcd: s1 is current after revert" true "$(etcd_get snapshots/web1/s1 | jq '.current')"
# intent first: a revert stores the snapshot's state as the desired state before the host is told
# anything, so while etcd is stopped (SIGSTOP of its PID) the guest is not touched
dr domain destroy web1 >/dev/null
kill -STOP "$ETCD_PID"
rc=0
"$CLI_BIN" --json --timeout 30 snapshot revert web1 s1 >"$T_DIR/revert.out" 2>"$T_DIR/revert.err" &
reverter=$!
sleep 1.2
stalled=$("$CLI_BIN" --json --timeout 2 domain state web1 | jq -r .state)
kill -CONT "$ETCD_PID"
wait "$reverter" || rc=$?
t_eq "revert during an etcd stall: nothing done before the intent was stored" "shut off" "$stalled"
t_eq "revert after etcd returned: ok ($(cat "$T_DIR/revert.err"))" 0 "$rc"
t_eq "revert after etcd returned: running" running "$(dr domain state web1 | jq -r '.state')"
t_eq "revert after etcd returned: desired running" running \
  "$(etcd_get domains/web1 | jq -r '.desired_state')"
t_eq "snapshot create s3 (child of s1)" s3 "$(dr snapshot create web1 s3 | jq -r '.name')"
t_eq "etcd: s3's parent is s1" s1 "$(etcd_get snapshots/web1/s3 | jq -r '.parent')"
t_eq "snapshot delete s1 (has children)" s1 "$(dr snapshot delete web1 s1 | jq -r '.name')"
t_eq "etcd: s1 removed" "" "$(etcd_get snapshots/web1/s1)"
t_eq "etcd: s2 re-parented like libvirt did" \
  "$(dr snapshot list web1 | jq -r '.snapshots[] | select(.name == "s2") | .parent')" \
  "$(etcd_get snapshots/web1/s2 | jq -r '.parent')"
t_eq "snapshot delete s2" s2 "$(dr snapshot delete web1 s2 | jq -r '.name')"
t_eq "snapshot list after delete" s3 "$(dr snapshot list web1 | jq -r '[.snapshots[].name] | join(" ")')"
t_eq "etcd: s2 removed" "" "$(etcd_get snapshots/web1/s2)"
t_eq "etcd: s3 kept" s3 "$(etcd_get snapshots/web1/s3 | jq -r '.name')"

# destroy → undefine
t_check "undefine refused while running" sh -c "! '$CLI_BIN' --json domain undefine web1 >/dev/null 2>&1"
out=$(dr domain destroy web1)
t_eq "destroy: shut off" "shut off" "$(jq -r '.state' <<<"$out")"
t_eq "destroy: desired shutoff" shutoff "$(etcd_get domains/web1 | jq -r '.desired_state')"
t_eq "destroy: keeps its placement" "$host" "$(etcd_get domains/web1 | jq -r '.host')"
t_eq "list without --all hides it" 0 "$(dr domain list | jq '.domains | length')"
t_eq "list --all shows it" 1 "$(dr domain list --all | jq '.domains | length')"
t_eq "undefine" true "$(dr domain undefine web1 | jq '.undefined')"
t_eq "etcd: domain gone" "" "$(etcd_get domains/web1)"
t_eq "etcd: history gone" 0 "$(etcd_count history/web1/)"
t_eq "etcd: snapshots gone" 0 "$(etcd_count snapshots/web1/)"
t_eq "host no longer lists it" 0 "$(dr host show "$host" | jq '.inventory | length')"

# the event stream saw the domain's life and the hosts
ev() { jq -r --arg t "$1" 'select(.topic == $t) | .type' "$T_DIR/events.json" | sort -u | tr '\n' ' '; }
t_check "events: web1 defined" grep -qw defined <<<"$(ev domain.web1)"
t_check "events: web1 placed" grep -qw placed <<<"$(ev domain.web1)"
t_check "events: web1 started" grep -qw started <<<"$(ev domain.web1)"
t_check "events: web1 state-changed" grep -qw state-changed <<<"$(ev domain.web1)"
# one change, one state-changed: never two in a row that say the same (issue 17)
dups=$(jq -c 'select(.topic == "domain.web1" and .type == "state-changed") | .object |
  [.state, .reason, .host, .desired_state]' "$T_DIR/events.json" | uniq -d | wc -l)
t_eq "events: no state-changed repeated for the same change" 0 "$dups"
t_check "events: state-changed carries the reason by name" \
  jq -e -s '[.[] | select(.topic == "domain.web1" and .type == "state-changed") | .object.reason]
    | index("destroyed") != null or index("booted") != null' "$T_DIR/events.json"
t_check "events: web1 snapshot-created" grep -qw snapshot-created <<<"$(ev domain.web1)"
t_check "events: web1 undefined" grep -qw undefined <<<"$(ev domain.web1)"
t_eq "events: the started event carries the domain object" "$host" \
  "$(jq -r 'select(.topic == "domain.web1" and .type == "started") | .object.host' "$T_DIR/events.json" | head -1)"
cluster_down
