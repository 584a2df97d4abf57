#!/usr/bin/env bash
# Integration (issue 11): the controller killed by PID (SIGKILL) in the middle of a `domain start`
# (the DEFINE sent to the host, the START not yet) and of a `domain undefine` (the UNDEFINE sent):
# the next controller takes the stored job over and finishes it; `job list` shows it succeeded and
# the domain is defined on exactly one host (start) or on none and gone from the cluster
# (undefine). The destination agent is SIGSTOPped by PID before the command so that the controller
# dies with the command unanswered; it is SIGCONTed before the new controller starts.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

# hosts whose agent-reported inventory has the domain
defined_on() {
  local n=0
  for h in h1 h2 h3; do
    dr host show "$h" | jq -e --arg d "$1" '[.inventory[] | select(.name == $d)] | length > 0' \
      >/dev/null && n=$((n + 1))
  done
  echo "$n"
}
ctl_log() { cat "$T_DIR/controller-$CTL_RUNS.log"; }

# ---- start: killed after the DEFINE was sent to h2, before the START
dom_xml_pinned c1 256 r2 >"$T_DIR/c1.xml"
dr domain define "$T_DIR/c1.xml" >/dev/null
kill -STOP "${AGENT_PID[2]}"
(dr domain start c1 >"$T_DIR/start.out" 2>&1 || true) &
t_wait_for "the controller sent the DEFINE of c1" 5 \
  sh -c "grep -q \"sent define of 'c1' to host 'h2'\" '$T_DIR/controller-$CTL_RUNS.log'"
t_check "no START was sent before the crash" sh -c "! grep -q \"sent start of 'c1'\" '$T_DIR/controller-$CTL_RUNS.log'"
job=$(dr job list | jq -r '.jobs[] | select(.kind == "start" and .lifecycle.domain == "c1") | .id')
t_check "the start job is stored before the command ($job)" test -n "$job"
t_eq "stored in step defining" defining "$(etcd_get "jobs/$job" | jq -r '.lifecycle.step')"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
CTL_PID=
kill -CONT "${AGENT_PID[2]}"
ctl_start
done_ok() { [ "$(dr job show "$job" | jq -r '.state')" = succeeded ]; }
t_wait_for "the new leader finishes the start job" 30 done_ok
t_check "it was taken over" sh -c "grep -q \"job '$job' (start 'c1' on host 'h2', defining) taken over\" '$T_DIR/controller-$CTL_RUNS.log'"
t_eq "job list shows it succeeded" succeeded \
  "$(dr job list | jq -r --arg id "$job" '.jobs[] | select(.id == $id) | .state')"
running() { [ "$(dr domain state c1 | jq -r '.state')" = running ]; }
t_wait_for "c1 runs" 10 running
t_eq "c1 placed on h2" h2 "$(dr domain info c1 | jq -r '.host')"
t_eq "c1 defined on exactly one host" 1 "$(defined_on c1)"

# ---- undefine: killed after the UNDEFINE was sent to h3
dom_xml_pinned u1 256 r3 >"$T_DIR/u1.xml"
dr domain define "$T_DIR/u1.xml" >/dev/null
dr domain start u1 >/dev/null
dr domain destroy u1 >/dev/null
t_eq "u1 defined on h3 before" 1 "$(defined_on u1)"
kill -STOP "${AGENT_PID[3]}"
(dr domain undefine u1 >"$T_DIR/undefine.out" 2>&1 || true) &
t_wait_for "the controller sent the UNDEFINE of u1" 5 \
  sh -c "grep -q \"sent undefine of 'u1' to host 'h3'\" '$T_DIR/controller-$CTL_RUNS.log'"
ujob=$(dr job list | jq -r '.jobs[] | select(.kind == "undefine" and .lifecycle.domain == "u1") | .id')
t_check "the undefine job is stored ($ujob)" test -n "$ujob"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
CTL_PID=
kill -CONT "${AGENT_PID[3]}"
ctl_start
udone() { [ "$(dr job show "$ujob" | jq -r '.state')" = succeeded ]; }
t_wait_for "the new leader finishes the undefine job" 30 udone
t_eq "u1 gone from the cluster" 0 "$(dr domain list --all | jq '[.domains[] | select(.name == "u1")] | length')"
t_eq "u1 defined on no host" 0 "$(defined_on u1)"
t_eq "etcd has no u1" "" "$(etcd_get domains/u1)"
t_eq "c1 still defined on exactly one host" 1 "$(defined_on c1)"
cluster_down
