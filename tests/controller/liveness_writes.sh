#!/usr/bin/env bash
# Integration: heartbeats are not written to etcd, liveness transitions are. With real etcd, the
# controller and 3 agents on the test driver (heartbeat 300 ms, liveness 3), the host keys'
# mod_revision and version (read with `etcdctl -w json`) stay the same while heartbeats flow for
# 3 s; an agent killed by PID makes its host unreachable, which is written exactly once (version + 1),
# and then the key stays put while the host stays silent. The agent coming back is one more write
# (its registration), then the key is stable again. The other hosts' keys never change.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

# kv_field HOST FIELD — mod_revision or version of PREFIX/hosts/HOST, as etcd reports it.
kv_field() {
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" -w json get "${PREFIX}hosts/$1" |
    jq -er --arg f "$2" '.kvs[0][$f]'
}
# kv_state HOST — "MOD_REVISION VERSION" of the host's key.
kv_state() { echo "$(kv_field "$1" mod_revision) $(kv_field "$1" version)"; }

# Registration has settled once every host is reachable; a moment more for the reconcile that
# follows it.
sleep 1
declare -A before
for h in h1 h2 h3; do before[$h]=$(kv_state "$h"); done
t_log "host keys before: h1=${before[h1]} h2=${before[h2]} h3=${before[h3]}"

# 3 s = 10 heartbeat intervals, more than 3 liveness windows (900 ms): a host still reachable after
# them has been heartbeating all along.
sleep 3
for h in h1 h2 h3; do
  t_check "$h reachable after 3 s (its heartbeats flowed)" host_reachable "$h" true
  t_eq "$h's key not rewritten by heartbeats (mod_revision version)" "${before[$h]}" "$(kv_state "$h")"
done
t_check "agent of h1 still runs (pid ${AGENT_PID[1]})" kill -0 "${AGENT_PID[1]}"

# h1's agent dies: one write, reachable false
read -r mod1 ver1 <<<"${before[h1]}"
kill -KILL "${AGENT_PID[1]}"
t_wait_for "h1 unreachable" 10 host_reachable h1 false
read -r mod2 ver2 <<<"$(kv_state h1)"
t_eq "etcd: h1 stored unreachable" false "$(etcd_get hosts/h1 | jq '.reachable')"
t_eq "h1's key written exactly once for the transition (version)" $((ver1 + 1)) "$ver2"
t_check "h1's mod_revision moved ($mod1 → $mod2)" test "$mod2" -gt "$mod1"
sleep 2 # more than two liveness windows of silence
t_eq "h1's key stable while the host stays unreachable" "$mod2 $ver2" "$(kv_state h1)"
for h in h2 h3; do
  t_eq "$h's key untouched" "${before[$h]}" "$(kv_state "$h")"
done

# h1's agent comes back: reachable again, written once, then stable again
agent_start 1
t_wait_for "h1 reachable again" 10 host_reachable h1 true
sleep 1 # the reconcile that follows the registration
read -r mod3 ver3 <<<"$(kv_state h1)"
t_eq "etcd: h1 stored reachable" true "$(etcd_get hosts/h1 | jq '.reachable')"
t_eq "h1's key written exactly once for the re-registration (version)" $((ver2 + 1)) "$ver3"
t_check "h1's mod_revision moved ($mod2 → $mod3)" test "$mod3" -gt "$mod2"
sleep 3
t_check "h1 still reachable" host_reachable h1 true
t_eq "h1's key not rewritten by heartbeats after the restart" "$mod3 $ver3" "$(kv_state h1)"
for h in h2 h3; do
  t_eq "$h's key untouched" "${before[$h]}" "$(kv_state "$h")"
done
cluster_down
