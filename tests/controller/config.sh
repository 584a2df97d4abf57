#!/usr/bin/env bash
# drover-controller's configuration errors: exit 2 and a message naming the file, group and key;
# the sample config parses.
source "$(dirname "$0")/../support/lib.sh"
CTL_BIN=$DROVER_BUILD_DIR/controller/drover-controller
[ -x "$CTL_BIN" ] || t_skip "$CTL_BIN is not built"

expect_exit2() { # DESCRIPTION PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  local rc=0
  timeout 10 "$CTL_BIN" "$@" >"$T_DIR/out" 2>&1 || rc=$?
  t_eq "$what: exit 2" 2 "$rc"
  t_check "$what: message matches '$pattern'" grep -qE "$pattern" "$T_DIR/out"
}

printf '[controller]\nliveness = lots\n' >"$T_DIR/bad-int.conf"
expect_exit2 "non-integer" "bad-int.conf.*\\[controller\\] liveness" --config "$T_DIR/bad-int.conf"
printf '[controller]\nheartbeat_interval_ms = 1\n' >"$T_DIR/range.conf"
expect_exit2 "out of range" "range.conf.*heartbeat_interval_ms.*range" --config "$T_DIR/range.conf"
printf '[scheduler]\nweigher = random\n' >"$T_DIR/weigher.conf"
expect_exit2 "bad weigher" "weigher.conf.*\\[scheduler\\] weigher" --config "$T_DIR/weigher.conf"
printf '[scheduler]\ncpu_ratio = -1\n' >"$T_DIR/ratio.conf"
expect_exit2 "bad ratio" "ratio.conf.*cpu_ratio" --config "$T_DIR/ratio.conf"
printf '[controller\n' >"$T_DIR/syntax.conf"
expect_exit2 "syntax error" "syntax.conf" --config "$T_DIR/syntax.conf"
expect_exit2 "missing file" "nope.conf" --config "$T_DIR/nope.conf"
expect_exit2 "unknown flag" "bogus" --bogus
expect_exit2 "bad log level" "log level 'loud'" --log-level loud
expect_exit2 "stray argument" "unexpected argument" extra

# the sample parses; the controller starts before etcd does and serves once etcd is up; pid file;
# SIGTERM → exit 0
command -v etcd >/dev/null || t_skip "etcd is not installed"
CLI_BIN=$DROVER_BUILD_DIR/cli/drover
ETCD_PORT=$(t_free_port)
CLIENT=tcp://127.0.0.1:$(t_free_port)
[ -x "$CLI_BIN" ] || t_skip "$CLI_BIN is not built"
"$CLI_BIN" keygen "$T_DIR/controller" >/dev/null
"$CLI_BIN" keygen "$T_DIR/admin" >/dev/null
export DROVER_KEY_FILE=$T_DIR/admin.key DROVER_CONTROLLER_KEY=$T_DIR/controller.pub
sed -e "s|^etcd_endpoints = .*|etcd_endpoints = http://127.0.0.1:$ETCD_PORT|" \
  -e "s|^secret_key_file = .*|secret_key_file = $T_DIR/controller.key|" \
  "$DROVER_SOURCE_DIR/deploy/controller.conf.sample" >"$T_DIR/sample.conf"
# [clients] is the sample's last group (a z85 key holds '&', which sed would expand)
printf 'alice = admin %s\n' "$(cat "$T_DIR/admin.pub")" >>"$T_DIR/sample.conf"
# a world-readable secret key is refused
cp "$T_DIR/controller.key" "$T_DIR/open.key"
chmod 644 "$T_DIR/open.key"
sed -e "s|^secret_key_file = .*|secret_key_file = $T_DIR/open.key|" "$T_DIR/sample.conf" \
  >"$T_DIR/open.conf"
rc=0
timeout 10 "$CTL_BIN" --config "$T_DIR/open.conf" --client-bind "tcp://127.0.0.1:$(t_free_port)" \
  --agent-bind "tcp://127.0.0.1:$(t_free_port)" --event-bind "tcp://127.0.0.1:$(t_free_port)" \
  >"$T_DIR/open.out" 2>&1 || rc=$?
t_check "a world-readable secret key stops the controller" test "$rc" -ne 0
t_check "and says why" grep -q "readable by others" "$T_DIR/open.out"
"$CTL_BIN" --config "$T_DIR/sample.conf" --prefix "/drover/cfg$$/" \
  --agent-bind "tcp://127.0.0.1:$(t_free_port)" --client-bind "$CLIENT" \
  --event-bind "tcp://127.0.0.1:$(t_free_port)" --pid-file "$T_DIR/ctl.pid" \
  >"$T_DIR/controller-sample.log" 2>&1 &
pid=$!
T_PIDS+=("$pid")
t_wait_for "pid file written" 10 test -s "$T_DIR/ctl.pid"
t_eq "pid file holds the PID" "$pid" "$(cat "$T_DIR/ctl.pid")"
if [ -x "$CLI_BIN" ]; then
  no_etcd() {
    local out
    out=$("$CLI_BIN" --controller "$CLIENT" --json --timeout 2 domain list 2>&1) && return 1
    grep -qE "not the leader|loading" <<<"$out"
  }
  t_wait_for "without etcd, clients are told it is not serving yet" 10 no_etcd
fi
t_check "without etcd, it keeps running" kill -0 "$pid"
etcd_start
t_wait_for "leads once etcd is up" 15 grep -q "is now the leader" "$T_DIR/controller-sample.log"
if [ -x "$CLI_BIN" ]; then
  t_eq "and serves" 0 "$("$CLI_BIN" --controller "$CLIENT" --json domain list | jq '.domains | length')"
fi
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
t_eq "SIGTERM: exit 0" 0 "$rc"
t_check "pid file removed" test ! -e "$T_DIR/ctl.pid"
t_check "no sanitizer report" sh -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$T_DIR/controller-sample.log'"
