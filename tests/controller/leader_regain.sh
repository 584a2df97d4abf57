#!/usr/bin/env bash
# Integration (issues 11 and 19): the leader loses its lease and takes it back. The controller is
# stopped (SIGSTOP of its PID, every thread) for longer than leader_ttl_s, so etcd expires its lease
# and the leader key. When it runs again it must notice (lost leadership), win the election again
# (alone, it is the only candidate), bind its agent socket again (the previous one may still be
# being released by ZeroMQ) and serve: the agents reconnect and every host is reachable again, a
# write succeeds, nothing stored is lost and the running guest was never touched.
# The lease itself is kept by controller/lease_keeper.c's thread (unit test controller_lease_keeper
# shows it is kept while the caller does nothing); this test is the loss-and-regain path end to end.
# Then the controller is killed (SIGKILL) and started again 9 s later: the new process must not
# mark any of the healthy hosts unreachable while their agents reconnect (registration grace of
# twice the liveness window; the agents' reconnect backoff capped at 1 s) — with one window and a
# 5 s cap, every host of the 4-host HA soak was marked unreachable once after a controller restart
# (agents reconnected 3.1 s after the new leader bound). That race depends on where ZeroMQ's
# backoff stands when the controller comes back, so this part does not reproduce it every run; it
# checks the property (no false verdict after a restart) on each run.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
LEADER_TTL_S=2
# the production heartbeat (1 s × 3): the agents' reconnect timing after a controller restart is what
# the second part checks
HB_MS=1000
cluster_up

dom_xml lr-a 256 >"$T_DIR/lr-a.xml"
dr domain define "$T_DIR/lr-a.xml" >/dev/null
dr domain start lr-a >/dev/null
t_eq "lr-a running before" running "$(dr domain state lr-a | jq -r .state)"

leader_name=$(etcd_get leader)
t_check "the leader key is set" test -n "$leader_name"

mark=$(wc -l <"$T_DIR/controller-1.log")
kill -STOP "$CTL_PID"
t_log "controller (pid $CTL_PID) stopped"
# etcd expires the lease (ttl 2 s) and with it the leader key while the controller cannot answer
etcd_leader_gone() { [ -z "$(etcd_get leader)" ]; }
t_wait_for "etcd expired the leader key" 15 etcd_leader_gone
sleep 1
kill -CONT "$CTL_PID"
t_log "controller resumed"

log_since() { tail -n +"$mark" "$T_DIR/controller-1.log"; }
t_wait_for "the controller noticed it lost the leadership" 15 \
  sh -c "tail -n +$mark '$T_DIR/controller-1.log' | grep -q 'lost leadership'"
t_wait_for "and leads again" 20 \
  sh -c "'$CLI_BIN' --json --timeout 2 cluster status | jq -e '.is_leader == true' >/dev/null"
t_eq "the leader key names it again" "$leader_name" "$(etcd_get leader)"
for n in 1 2 3; do
  t_wait_for "host h$n reachable again (agent reconnected)" 30 host_reachable "h$n" true
done
t_check "the agent socket was bound again (no give-up)" \
  sh -c "! tail -n +$mark '$T_DIR/controller-1.log' | grep -q 'giving up the leadership'"
t_check "the controller is still the same process" kill -0 "$CTL_PID"

# it serves writes again, and nothing was lost or touched
dom_xml lr-b 128 >"$T_DIR/lr-b.xml"
t_check "a define succeeds after the regain" dr domain define "$T_DIR/lr-b.xml"
t_eq "lr-b stored" lr-b "$(etcd_get domains/lr-b | jq -r .name)"
t_eq "lr-a still running (never touched)" running "$(dr domain state lr-a | jq -r .state)"
t_eq "lr-a desired state still running" running "$(etcd_get domains/lr-a | jq -r .desired_state)"
t_eq "both domains listed" "lr-a,lr-b" "$(dr domain list --all | jq -r '[.domains[].name] | sort | join(",")')"
log_since | grep -E "leader|lease" >"$T_DIR/leader-events.log" || true
t_log "leader events after the stop: $(tr '\n' '|' <"$T_DIR/leader-events.log" | cut -c1-600)"
# A controller restart: the agents reconnect and register without any false verdict.
kill -KILL "$CTL_PID"
t_log "controller (pid $CTL_PID) killed; starting again in 9 s"
CTL_PID=
sleep 9
ctl_start
for n in 1 2 3; do
  t_wait_for "host h$n registered with the new controller" 20 \
    grep -q "host 'h$n' registered" "$T_DIR/controller-$CTL_RUNS.log"
done
sleep 2
t_check "the new controller marked no healthy host unreachable" \
  sh -c "! grep -qE 'is unreachable|did not register' '$T_DIR/controller-$CTL_RUNS.log'"
for n in 1 2 3; do
  t_check "h$n reachable after the restart" host_reachable "h$n" true
done
cluster_down
