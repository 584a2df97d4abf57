#!/usr/bin/env bash
# cli_offline.sh — the drover binary without a running cluster:
#  - `capacity --from-file` plans offline on a snapshot file with the scheduler library: exact
#    figures for a small cluster worked out by hand, the people's table and --json, stdin, bad files;
#  - a controller that is not there: exit 1 and "cannot reach the controller at URL: timed out
#    after N s" once the receive timeout passes (no hang).
source "$DROVER_SOURCE_DIR/tests/support/lib.sh"
DROVER="$DROVER_BUILD_DIR/cli/drover"
[ -x "$DROVER" ] || t_fail "no drover binary at $DROVER"
command -v jq >/dev/null || t_skip "jq is not installed"
SNAP="$DROVER_SOURCE_DIR/tests/cli/data/cluster-snapshot.json"

run_drover() {
  set +e
  "$DROVER" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
  RC=$?
  set -e
}

if ! "$DROVER" capacity --from-file "$SNAP" --vcpus 1 --memory 1G >/dev/null 2>"$T_DIR/probe" &&
   grep -q "built without the scheduler" "$T_DIR/probe"; then
  t_skip "drover was built without the scheduler (DROVER_CLI_OFFLINE=OFF)"
fi

# h1: 16 GiB, d1 holds 4 GiB → 3 more of 4 GiB; h2: 8 GiB → 2; h3 in maintenance → 0.
run_drover --json capacity --from-file "$SNAP" --vcpus 2 --memory 4G
t_eq "capacity exit status" 0 "$RC"
t_eq "total" 5 "$(jq -r .total "$T_DIR/out")"
t_eq "h1 fits" 3 "$(jq -r '.hosts[] | select(.host=="h1") | .fits' "$T_DIR/out")"
t_eq "h1 limited by" memory "$(jq -r '.hosts[] | select(.host=="h1") | .limit' "$T_DIR/out")"
t_eq "h2 fits" 2 "$(jq -r '.hosts[] | select(.host=="h2") | .fits' "$T_DIR/out")"
t_eq "h3 refused by" maintenance "$(jq -r '.hosts[] | select(.host=="h3") | .rejected_by' "$T_DIR/out")"
t_eq "hosts that may fail" 1 "$(jq -r .hosts_may_fail "$T_DIR/out")"
t_eq "no N+1 figures unless asked" null "$(jq -r .n_plus_one_total "$T_DIR/out")"

# only h1 has avx2
run_drover --json capacity --from-file "$SNAP" --vcpus 2 --memory 4G --flags avx2
t_eq "total with --flags avx2" 3 "$(jq -r .total "$T_DIR/out")"
t_eq "h2 refused by" cpu-features "$(jq -r '.hosts[] | select(.host=="h2") | .rejected_by' "$T_DIR/out")"

# N+1: one more domain goes to h1 (most free memory); losing h1 then means restarting 8 GiB on
# h2 (8 GiB free): fine. A second one also lands on h1 (tie, first host) and 12 GiB no longer fit.
run_drover --json capacity --from-file "$SNAP" --vcpus 2 --memory 4G --n-plus-one
t_eq "N+1 now" true "$(jq -r .n_plus_one_now "$T_DIR/out")"
t_eq "N+1 total" 1 "$(jq -r .n_plus_one_total "$T_DIR/out")"
t_eq "N+1 breaker" h1 "$(jq -r .n_plus_one_breaker "$T_DIR/out")"

# the people's view of the same plan
run_drover capacity --from-file "$SNAP" --vcpus 2 --memory 4G --n-plus-one
t_eq "table exit status" 0 "$RC"
t_check "summary line" grep -q '^Domains of 2 vCPUs, 4 GiB that fit: 5$' "$T_DIR/out"
t_check "N+1 line" grep -q '^Keeping N+1: 1 (one more and the loss of h1 could not be absorbed)$' "$T_DIR/out"
t_check "h1 row" grep -Eq '^h1 +3 +memory +14 +12 GiB$' "$T_DIR/out"
t_check "h3 row" grep -Eq '^h3 +0 +filter: maintenance ' "$T_DIR/out"

# what-if: the same file with h3 back in service, read from standard input
set +e
jq '(.hosts[] | select(.id=="h3") | .state) = "active"' "$SNAP" |
  "$DROVER" --json capacity --from-file - --vcpus 2 --memory 4G >"$T_DIR/out" 2>"$T_DIR/err"
RC=$?
set -e
t_eq "stdin exit status" 0 "$RC"
t_eq "total with h3 active (8 more)" 13 "$(jq -r .total "$T_DIR/out")"

# bad inputs: exit 1, the file named
run_drover capacity --from-file "$T_DIR/none.json" --vcpus 1 --memory 1G
t_eq "missing file" 1 "$RC"
t_check "names the missing file" grep -qF "error: capacity: cannot read '$T_DIR/none.json'" "$T_DIR/err"
echo '{"version":1,"hosts":"many"}' >"$T_DIR/bad.json"
run_drover capacity --from-file "$T_DIR/bad.json" --vcpus 1 --memory 1G
t_eq "bad snapshot" 1 "$RC"
t_check "names the bad file" grep -qF "snapshot file '$T_DIR/bad.json'" "$T_DIR/err"

# a controller that is not there: bounded, clear, exit 1
PORT=$(t_free_port)
run_drover --controller "tcp://127.0.0.1:$PORT" --timeout 2 host list
t_eq "exit status without a controller" 1 "$RC"
t_eq "message without a controller" \
  "error: cannot reach the controller at tcp://127.0.0.1:$PORT: timed out after 2 s (no client key: set DROVER_KEY_FILE and DROVER_CONTROLLER_KEY)" "$(cat "$T_DIR/err")"
t_eq "nothing on stdout" "" "$(cat "$T_DIR/out")"
# the same through the environment and with --json
set +e
DROVER_CONTROLLER="tcp://127.0.0.1:$PORT" "$DROVER" --json --timeout 1 domain list >"$T_DIR/out" 2>"$T_DIR/err"
RC=$?
set -e
t_eq "exit status (env)" 1 "$RC"
t_check "names the endpoint from DROVER_CONTROLLER" \
  grep -qF "cannot reach the controller at tcp://127.0.0.1:$PORT: timed out after 1 s" "$T_DIR/err"

# events with nobody publishing: SIGINT ends it (status 0); --timeout ends it, status 1 when --count
# was not reached, naming the endpoint
PORT=$(t_free_port)
"$DROVER" events --events "tcp://127.0.0.1:$PORT" >"$T_DIR/ev.out" 2>"$T_DIR/ev.err" &
EV_PID=$!
T_PIDS+=("$EV_PID")
sleep 1 # the handler is installed at start; give ASan-instrumented startup time
kill -INT "$EV_PID"
wait "$EV_PID" && RC=0 || RC=$?
t_eq "events after SIGINT" 0 "$RC"
t_eq "events printed nothing" "" "$(cat "$T_DIR/ev.out")"
run_drover --timeout 0.5 events --count 1 --events "tcp://127.0.0.1:$PORT"
t_eq "events --count not reached" 1 "$RC"
t_check "names the endpoint" grep -qF "error: events: 0 of 1 events from tcp://127.0.0.1:$PORT within 0.5 s" "$T_DIR/err"
