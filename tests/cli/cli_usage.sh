#!/usr/bin/env bash
# cli_usage.sh — the drover binary's exit statuses and messages without a controller: help (0),
# usage errors (2, "error: ..." on stderr naming the verb) decided before any connection — the
# controller endpoint is one ZeroMQ cannot even connect to, which would give status 1 instead.
source "$DROVER_SOURCE_DIR/tests/support/lib.sh"
DROVER="$DROVER_BUILD_DIR/cli/drover"
[ -x "$DROVER" ] || t_fail "no drover binary at $DROVER"
export DROVER_CONTROLLER="bogus://nowhere"

# run_drover ARGS... — sets RC, OUT, ERR
run_drover() {
  set +e
  "$DROVER" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
  RC=$?
  set -e
  OUT=$(cat "$T_DIR/out"); ERR=$(cat "$T_DIR/err")
}

expect_usage() { # WANT_IN_STDERR ARGS...
  local want=$1; shift
  run_drover "$@"
  t_eq "exit status of 'drover $*'" 2 "$RC"
  t_check "stderr of 'drover $*' starts with error: ('$ERR')" grep -q '^error: ' "$T_DIR/err"
  t_check "stderr of 'drover $*' names '$want' ('$ERR')" grep -qF -- "$want" "$T_DIR/err"
  t_eq "stdout of 'drover $*'" "" "$OUT"
}

expect_usage "no verb given"
expect_usage "unknown command group 'frob'" frob
expect_usage "unknown verb 'domain frob'" domain frob
expect_usage "domain start: missing argument NAME" domain start
expect_usage "domain setmem: SIZE: bad size '12XB'" domain setmem web1 12XB
expect_usage "capacity: missing option --vcpus" capacity --memory 1G
expect_usage "domain list: unknown option --everything" domain list --everything
expect_usage "snapshot delete: missing argument NAME" snapshot delete web1
expect_usage "host label: missing argument" host label h1

# help, in every spelling, exits 0 and prints the verb's synopsis
for args in "help domain start" "domain start --help" "--help domain start"; do
  # shellcheck disable=SC2086
  run_drover $args
  t_eq "exit status of 'drover $args'" 0 "$RC"
  t_check "help of domain start" grep -q '^usage: drover domain start NAME' "$T_DIR/out"
done
run_drover help
t_eq "drover help" 0 "$RC"
for verb in "host list" "domain edit" "snapshot revert" "cluster export-snapshot" "capacity" "events"; do
  t_check "drover help lists '$verb'" grep -q "^  $verb " "$T_DIR/out"
done

# a verb that passes the usage checks does try the controller: status 1, not 2
run_drover host list
t_eq "exit status with an unusable controller endpoint" 1 "$RC"
t_check "names the endpoint ('$ERR')" grep -qF "bogus://nowhere" "$T_DIR/err"

# a body file that cannot be read is a failure (1) naming the file, before any connection
run_drover domain define "$T_DIR/missing.xml"
t_eq "exit status for a missing XML file" 1 "$RC"
t_check "names the file ('$ERR')" grep -qF "cannot read '$T_DIR/missing.xml'" "$T_DIR/err"
