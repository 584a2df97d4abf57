#!/usr/bin/env bash
# console_test.sh — issue 17: `drover domain console NAME` on a real 3-host testbed (bridge
# drvtbr36, 10.77.36.0/24) with a real QEMU (TCG) guest whose COM1 is a pty serial console: the
# guest's tick lines reach the CLI through the agent and the controller; typed input is accepted;
# a second client is refused while one holds the console, and --force takes it over; the end of
# the input ends the session; a domain that is shut off has no console.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
sys_cluster_up 36
dom=con1
# the test guest with its COM1 on a pty (the console), not on a file
tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 64 |
  sed -e "/<serial type='file'>/,/<\/serial>/c\\    <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>" \
  >"$T_DIR/$dom.xml"
t_check "the definition has a pty console" grep -q "<console type='pty'>" "$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
h=$(host_of "$dom")
CLI="$DROVER_BUILD_DIR/cli/drover --controller $CONTROLLER --timeout 20"

# 4 s attached, typing a line meanwhile (the guest ignores input; the console must take it)
t0=$(date +%s%N)
(sleep 1; printf 'hello\r'; sleep 3) | $CLI domain console "$dom" >"$T_DIR/console.out" 2>"$T_DIR/console.err"
rc=$?
t_log "console attached for $(sys_ms_since "$t0") ms: $(wc -c <"$T_DIR/console.out") bytes, last: $(grep -a 'tick' "$T_DIR/console.out" | tail -n 1 | tr -d '\r')"
t_eq "console exits 0 at the end of its input ($(cat "$T_DIR/console.err"))" 0 "$rc"
t_check "it said it connected" grep -q "Connected to domain '$dom'" "$T_DIR/console.err"
n=$(grep -ac 'drover-guest tick' "$T_DIR/console.out")
t_check "the guest's tick lines came through the console ($n lines)" test "$n" -ge 2
t_check "the ticks count up" sh -c "grep -a 'drover-guest tick' '$T_DIR/console.out' | tr -d '\r' | awk '{print \$3}' | sort -n -c"

# one client at a time: a second is refused while the first holds it; --force takes it over
(sleep 6) | $CLI domain console "$dom" >"$T_DIR/first.out" 2>"$T_DIR/first.err" &
first=$!
sleep 2
rc=0
(sleep 1) | $CLI domain console "$dom" >"$T_DIR/second.out" 2>"$T_DIR/second.err" || rc=$?
t_check "a second client is refused ($(tr '\n' ' ' <"$T_DIR/second.err"))" test "$rc" -ne 0
t_check "the refusal names --force" grep -q -- "--force" "$T_DIR/second.err"
rc=0
(sleep 2) | $CLI domain console "$dom" --force >"$T_DIR/forced.out" 2>"$T_DIR/forced.err" || rc=$?
t_eq "--force takes it over ($(tr '\n' ' ' <"$T_DIR/forced.err"))" 0 "$rc"
t_check "the forced client sees ticks" grep -aq 'drover-guest tick' "$T_DIR/forced.out"
wait "$first" || true
t_log "first client after the take-over: $(tr '\n' ' ' <"$T_DIR/first.err")"

# a shut-off domain has no console
t_check "destroy $dom" drover domain destroy "$dom"
rc=0
msg=$( (true) | $CLI domain console "$dom" 2>&1) || rc=$?
t_check "console of a shut-off domain is refused ($msg)" sh -c "[ $rc -ne 0 ] && grep -q 'no console' <<'EOM'
$msg
EOM"
