#!/usr/bin/env bash
# Integration: an agent killed by PID → its host is unreachable within 3 s and its domains show
# state "unknown"; restarted → reachable again and reconciled: its (fresh test-driver) host lost
# the domains, so the autostart one is defined and started again, the other shows drift.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up
events_start "$T_DIR/events.json"

# two domains pinned to h1 through drover metadata (required host label rack=r1)
dom_xml_pinned auto1 256 r1 >"$T_DIR/auto1.xml"
dom_xml_pinned plain1 256 r1 >"$T_DIR/plain1.xml"
dr domain define "$T_DIR/auto1.xml" >/dev/null
dr domain define "$T_DIR/plain1.xml" >/dev/null
t_eq "autostart on" true "$(dr domain autostart auto1 | jq '.autostart')"
t_eq "auto1 placed on h1 (label)" h1 "$(dr domain start auto1 | jq -r '.host')"
t_eq "plain1 placed on h1 (label)" h1 "$(dr domain start plain1 | jq -r '.host')"

kill -KILL "${AGENT_PID[1]}"
t_wait_for "h1 unreachable within 3 s" 3 host_reachable h1 false
t_eq "etcd: h1 stored unreachable" false "$(etcd_get hosts/h1 | jq '.reachable')"
t_eq "auto1 state unknown" unknown "$(dr domain state auto1 | jq -r '.state')"
t_eq "desired state kept" running "$(dr domain state auto1 | jq -r '.desired_state')"
t_check "h2 still reachable" host_reachable h2 true
t_check "lifecycle on an unreachable host fails" sh -c "! '$CLI_BIN' --json domain suspend auto1 >/dev/null 2>'$T_DIR/err'"
t_check "the error names the host" grep -q "h1" "$T_DIR/err"

agent_start 1
t_wait_for "h1 reachable again" 10 host_reachable h1 true
t_eq "etcd: h1 stored reachable" true "$(etcd_get hosts/h1 | jq '.reachable')"
auto_running() { [ "$(dr domain state auto1 | jq -r '.state')" = running ]; }
t_wait_for "autostart domain running again on h1" 10 auto_running
t_eq "auto1 still placed on h1" h1 "$(dr domain info auto1 | jq -r '.host')"
t_eq "auto1 no drift" null "$(dr domain info auto1 | jq -r '.drift')"
t_eq "plain1 shut off (not autostart)" "shut off" "$(dr domain state plain1 | jq -r '.state')"
t_check "plain1 drift is reported" \
  grep -q 'desired running' <<<"$(dr domain info plain1 | jq -r '.drift')"
t_eq "labels survive re-registration" r1 "$(dr host show h1 | jq -r '.labels.rack')"
t_eq "plain1 can be started again" running "$(dr domain start plain1 | jq -r '.state')"

ev() { jq -r --arg t "$1" 'select(.topic == $t) | .type' "$T_DIR/events.json" | sort -u | tr '\n' ' '; }
t_check "events: h1 unreachable" grep -qw unreachable <<<"$(ev host.h1)"
t_check "events: h1 reachable" grep -qw reachable <<<"$(ev host.h1)"
t_check "events: h1 registered again" grep -qw registered <<<"$(ev host.h1)"
t_check "events: auto1 autostarted" grep -qw autostarted <<<"$(ev domain.auto1)"
t_check "events: plain1 drift" grep -qw drift <<<"$(ev domain.plain1)"
cluster_down
