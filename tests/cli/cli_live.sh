#!/usr/bin/env bash
# cli_live.sh — drover's own features against the real controller (the integration cluster of
# tests/controller/cluster.sh: real etcd, controller, 3 agents on libvirt's test driver):
# people's tables, `domain edit` (no change, change, refused edit kept, stale revision), `events`,
# and `capacity` live vs `--from-file` on the exported snapshot giving the same answer.
source "$DROVER_SOURCE_DIR/tests/support/lib.sh"
[ -f "$DROVER_SOURCE_DIR/tests/controller/cluster.sh" ] || t_skip "tests/controller/cluster.sh missing"
source "$DROVER_SOURCE_DIR/tests/controller/cluster.sh"
cluster_up

run_drover() { # sets RC; stdout in $T_DIR/out, stderr in $T_DIR/err
  set +e
  "$CLI_BIN" --timeout 20 "$@" >"$T_DIR/out" 2>"$T_DIR/err"
  RC=$?
  set -e
}

# --- tables
run_drover host list
t_eq "host list" 0 "$RC"
t_check "host list header" grep -Eq '^ID +STATE +REACHABLE +CPUS +MEM\(free/total\) +VCPUS\(alloc\) +DOMAINS$' "$T_DIR/out"
for h in h1 h2 h3; do
  t_check "host list row $h" grep -Eq "^$h +active +yes +[0-9]+ +[0-9.]+ [KMGT]iB / [0-9.]+ [KMGT]iB +0 +0$" "$T_DIR/out"
done

# --- events: two events about web1 (defined, then placed/started ...)
"$CLI_BIN" --timeout 20 events --topic domain.web1 --count 2 >"$T_DIR/events.log" 2>&1 &
EV_PID=$!
T_PIDS+=("$EV_PID")
sleep 0.5 # let the SUB socket connect first

dom_xml web1 1024 2 >"$T_DIR/web1.xml"
set +e
"$CLI_BIN" domain define - <"$T_DIR/web1.xml" >"$T_DIR/out" 2>"$T_DIR/err"
RC=$?
set -e
t_eq "define from stdin" 0 "$RC"
t_eq "define message" "Domain 'web1' defined (revision 1)" "$(cat "$T_DIR/out")"
run_drover domain start web1
t_check "start message names the host ($(cat "$T_DIR/out"))" grep -Eq "^Domain 'web1' started on h[123]$" "$T_DIR/out"

t_wait_for "drover events to exit after 2 events" 20 sh -c "! kill -0 $EV_PID"
wait "$EV_PID" 2>/dev/null && EV_RC=0 || EV_RC=$?
t_eq "events exit status" 0 "$EV_RC"
t_eq "events printed" 2 "$(grep -c ' domain\.web1 ' "$T_DIR/events.log")"
t_check "first event: defined" grep -Eq '^[0-9-]+ [0-9:.]+ domain\.web1 defined ' "$T_DIR/events.log"

run_drover domain list
t_check "domain list row" grep -Eq '^web1 +running \(booted\) +h[123] +2 +1 GiB +running +-$' "$T_DIR/out"

# --- edit
EDITOR=true run_drover domain edit web1
t_eq "edit without change" 0 "$RC"
t_eq "edit without change: message" "Domain 'web1': no changes" "$(cat "$T_DIR/out")"
t_eq "still revision 1" 1 "$("$CLI_BIN" --json domain info web1 | jq .revision)"

EDITOR="sed -i s#<vcpu>2</vcpu>#<vcpu>3</vcpu>#" run_drover domain edit web1
t_eq "edit" 0 "$RC"
t_eq "edit message" "Domain 'web1' XML stored as revision 2" "$(cat "$T_DIR/out")"
t_check "stored XML has the edit" sh -c "'$CLI_BIN' domain dumpxml web1 --inactive | grep -q '<vcpu>3</vcpu>'"

EDITOR="sed -i s#<name>web1</name>#<name>other</name>#" run_drover domain edit web1
t_eq "refused edit" 1 "$RC"
t_check "refusal printed ($(cat "$T_DIR/err"))" grep -q "^error: domain 'web1'" "$T_DIR/err"
kept=$(sed -n 's/^error: your edited XML is kept in //p' "$T_DIR/err")
t_check "the refused edit is kept ($kept)" grep -q '<name>other</name>' "$kept"
rm -f "$kept"

# a stale revision is refused, nothing stored
EDITOR="sed -i s#<vcpu>3</vcpu>#<vcpu>4</vcpu>#" run_drover domain edit web1 --expect-revision 1
t_eq "stale edit" 1 "$RC"
kept=$(sed -n 's/^error: your edited XML is kept in //p' "$T_DIR/err")
[ -n "$kept" ] && rm -f "$kept"
t_eq "still revision 2" 2 "$("$CLI_BIN" --json domain info web1 | jq .revision)"

run_drover domain history web1
t_eq "history rows" 2 "$(grep -Ec '^[0-9]+ +[0-9]{4}-' "$T_DIR/out")"
run_drover domain rollback web1 1
t_eq "rollback message" "Domain 'web1' rolled back to revision 1 (now revision 3)" "$(cat "$T_DIR/out")"

# --- errors from the controller: exit 1, its message
run_drover domain start nosuch
t_eq "unknown domain" 1 "$RC"
t_eq "unknown domain message" "error: domain 'nosuch' not found" "$(cat "$T_DIR/err")"

# --- capacity: live and offline on the exported snapshot agree, as JSON and as tables
"$CLI_BIN" cluster export-snapshot >"$T_DIR/c.json"
for fmt in --json ""; do
  # shellcheck disable=SC2086
  "$CLI_BIN" $fmt capacity --vcpus 1 --memory 512M --n-plus-one >"$T_DIR/live"
  # shellcheck disable=SC2086
  "$CLI_BIN" $fmt capacity --vcpus 1 --memory 512M --n-plus-one --from-file "$T_DIR/c.json" >"$T_DIR/offline"
  t_check "capacity ${fmt:-table}: live = offline" cmp -s "$T_DIR/live" "$T_DIR/offline"
done
t_check "capacity answers how many hosts may be down" sh -c \
  "'$CLI_BIN' --json capacity --vcpus 1 --memory 512M | jq -e '.hosts_may_fail >= 0' >/dev/null"
t_check "capacity table lists h3" grep -Eq '^h3 +[0-9]+ +memory' "$T_DIR/offline"
