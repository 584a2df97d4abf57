#!/usr/bin/env bash
# A hostile etcd (fake_etcd.py on a loopback port) does not crash or stall the controller
# (issue 13; docs/security.md "Bounds on what etcd sends"):
#   - the first loads get a reply body over [security] etcd_max_reply_bytes: each is aborted and
#     logged naming the limit, and the controller retries;
#   - every prefix range carries keys shorter than the prefix, with NUL bytes, and invalid names:
#     they are skipped and logged; a forged "domains/vm1\0evil" does not replace vm1 (its memory
#     stays 128 MiB after a reload);
#   - the watch stream sends bytes without a newline forever: the stream is dropped at
#     etcd_max_watch_line_bytes, logged, and reconnected, again and again;
#   - all the while the controller leads and answers `cluster status` and `host list` at once.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
command -v python3 >/dev/null || t_skip "python3 is not installed"

FAKE_PORT=$(t_free_port)
mkdir -p "$T_DIR/fake"
FAKE_PID=$(t_spawn fake-etcd python3 "$(dirname "$0")/fake_etcd.py" "$FAKE_PORT" "$PREFIX" \
  "$T_DIR/fake" $((4 * 1024 * 1024)) 2)
ETCD_ENDPOINT=http://127.0.0.1:$FAKE_PORT
t_wait_for "the fake etcd listens" 10 sh -c "ss -Htln 'sport = :$FAKE_PORT' | grep -q ."

# the limits, small enough for the fake to cross them quickly
SECURITY_EXTRA="etcd_max_reply_bytes = 1048576
etcd_max_watch_line_bytes = 65536"

cluster_ports
ctl_start # waits until it leads
LOG=$T_DIR/controller-1.log
t_wait_for "the state is loaded" 20 grep -q "state loaded from etcd" "$LOG"
t_check "the huge replies were aborted at the limit, named" \
  grep -q "reply exceeds the limit of 1048576 bytes (\[security\] etcd_max_reply_bytes)" "$LOG"
t_eq "the fake sent both huge replies" 2 "$(grep -c . "$T_DIR/fake/huge_replies")"
t_check "the load was retried after them" grep -q "loading state from etcd: .*exceeds the limit.*retrying" "$LOG"
t_check "a key shorter than the prefix is logged and skipped" \
  grep -q "ignoring etcd key \"/d\" (2 bytes): not under the prefix" "$LOG"
t_check "a key with a NUL is logged and skipped" grep -q 'ignoring etcd key ".*\\x00.*it holds a NUL byte' "$LOG"
t_check "an invalid host name is logged and skipped" grep -q 'not a valid hosts name' "$LOG"
t_check "the host name's escape and newline are escaped in the log" grep -q 'hosts/h\\x1b\[31m\\x0aforged' "$LOG"
t_check "no log line was forged" sh -c "! grep -q '^forged' '$LOG'"

# the watch: dropped at the line limit and reconnected, more than once
t_wait_for "the watch line limit is hit" 20 grep -q "exceeds the limit of 65536 bytes (\[security\] etcd_max_watch_line_bytes) without a newline; dropping the stream and reconnecting" "$LOG"
t_wait_for "the watch reconnects (3 streams)" 20 sh -c "[ \$(grep -c . '$T_DIR/fake/watch_connections') -ge 3 ]"

# the loop answers at once while the watch misbehaves
for i in 1 2 3 4 5; do
  start=$(date +%s%N)
  st=$("$CLI_BIN" --json --timeout 3 cluster status) || t_fail "cluster status $i did not answer"
  ms=$((($(date +%s%N) - start) / 1000000))
  t_eq "cluster status $i: leader" true "$(jq -r .is_leader <<<"$st")"
  t_check "cluster status $i answered within 3 s (${ms} ms)" test "$ms" -lt 3000
  "$CLI_BIN" --json --timeout 3 host list >/dev/null || t_fail "host list $i did not answer"
  sleep 0.3
done
t_eq "no hostile key became a host" 0 "$(dr host list | jq '.hosts | length')"
t_eq "no hostile key became a domain" 0 "$(dr cluster status | jq .domains)"

# a real domain, then a reload: the forged vm1\0evil (999 GiB) must not replace it
dom_xml vm1 128 >"$T_DIR/vm1.xml"
dr domain define "$T_DIR/vm1.xml" >/dev/null || t_fail "define vm1 through the fake etcd"
t_eq "vm1 is defined with 128 MiB" 131072 "$(dr domain info vm1 | jq .memory_kib)"
ctl_stop
: >"$T_DIR/fake/huge_replies"
ctl_start
LOG=$T_DIR/controller-2.log
t_wait_for "the state is loaded again" 20 grep -q "state loaded from etcd" "$LOG"
t_check "the forged vm1 key was seen and skipped" grep -q 'domains/vm1\\x00evil.*it holds a NUL byte' "$LOG"
t_eq "vm1 still has 128 MiB" 131072 "$(dr domain info vm1 | jq .memory_kib)"
t_eq "one domain" 1 "$(dr cluster status | jq .domains)"
t_check "the fake etcd still runs" kill -0 "$FAKE_PID"
cluster_down
t_log "fake etcd: ok"
