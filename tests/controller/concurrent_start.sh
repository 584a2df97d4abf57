#!/usr/bin/env bash
# Integration: two `drover domain start`s fired at once for two domains that only h3 can hold one
# of (10 GiB each; h3 has 15.5 GiB usable, h1/h2 less than 10): one wins, the other gets a clear
# no-room error, and the host is never double-booked (checked in etcd).
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

for round in 1 2 3; do
  dom_xml "big$round-a" 10240 2 >"$T_DIR/a.xml"
  dom_xml "big$round-b" 10240 2 >"$T_DIR/b.xml"
  dr domain define "$T_DIR/a.xml" >/dev/null
  dr domain define "$T_DIR/b.xml" >/dev/null
  set +e
  "$CLI_BIN" --json domain start "big$round-a" >"$T_DIR/a.out" 2>"$T_DIR/a.err" &
  pa=$!
  "$CLI_BIN" --json domain start "big$round-b" >"$T_DIR/b.out" 2>"$T_DIR/b.err" &
  pb=$!
  wait "$pa"; ra=$?
  wait "$pb"; rb=$?
  set -e
  t_eq "round $round: exactly one start succeeded" 1 "$(( (ra == 0) + (rb == 0) ))"
  t_eq "round $round: the other failed with exit 1" 1 "$(( ra + rb ))"
  t_check "round $round: the loser is told why" \
    grep -qE "no host|memory" "$T_DIR/a.err" "$T_DIR/b.err"
  running_on_h3=0
  for d in a b; do
    v=$(etcd_get "domains/big$round-$d")
    if [ "$(jq -r '.desired_state' <<<"$v")" = running ]; then
      t_eq "round $round: the winner is on h3" h3 "$(jq -r '.host' <<<"$v")"
      running_on_h3=$((running_on_h3 + 1))
    fi
  done
  t_eq "round $round: h3 booked once" 1 "$running_on_h3"
  t_eq "round $round: h3 allocation is one domain" 10485760 \
    "$(dr host show h3 | jq '.allocated_memory_kib')"
  # free the room for the next round
  winner=a; [ "$ra" -eq 0 ] || winner=b
  dr domain destroy "big$round-$winner" >/dev/null
  t_eq "round $round: room freed" 0 "$(dr host show h3 | jq '.allocated_memory_kib')"
done

# the same domain started twice at once: one start, the other refused
dom_xml same 512 >"$T_DIR/same.xml"
dr domain define "$T_DIR/same.xml" >/dev/null
set +e
"$CLI_BIN" --json domain start same >/dev/null 2>&1 & p1=$!
"$CLI_BIN" --json domain start same >/dev/null 2>&1 & p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
set -e
t_eq "same domain: exactly one start succeeded" 1 "$(( (r1 == 0) + (r2 == 0) ))"
t_eq "same domain: running once" running "$(dr domain state same | jq -r '.state')"
cluster_down
