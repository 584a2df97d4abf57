#!/usr/bin/env bash
# Integration: hosts whose clocks are off. h2's agent runs 120 s ahead of the controller, h3's 120 s
# behind ([test] clock_offset_ms shifts the agent's wall clock: its heartbeats' send times and its
# expiry checks). The controller estimates each skew from the agents' send times (a lower bound:
# controller/clock_skew.h), shows it (`host show`: clock_skew_ms, "Clock: …"), names it in its log,
# and states every command's expiry in the host's clock — so a start on h2 is run, where an expiry
# in the controller's clock would be 110 s past on arrival and refused "expired".
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

for n in 2 3; do
  agent_stop "$n"
  off=120000
  [ "$n" = 3 ] && off=-120000
  echo "clock_offset_ms = $off" >>"$T_DIR/agent$n.conf"
  agent_start "$n"
done
skew_known() { dr host show "$1" | jq -e '.clock_skew_ms != null and (.clock_skew_ms | fabs) > 100000' >/dev/null; }
t_wait_for "h2's skew measured" 20 skew_known h2
t_wait_for "h3's skew measured" 20 skew_known h3
s1=$(dr host show h1 | jq '.clock_skew_ms')
s2=$(dr host show h2 | jq '.clock_skew_ms')
s3=$(dr host show h3 | jq '.clock_skew_ms')
echo "skews: h1 $s1 ms, h2 $s2 ms, h3 $s3 ms"
t_check "h1 in step (|skew| < 1 s)" test "${s1#-}" -lt 1000
t_check "h2 ~120 s ahead, never above the truth (119..120 s)" \
  sh -c "[ $s2 -ge 119000 ] && [ $s2 -le 120000 ]"
t_check "h3 ~120 s behind, never above the truth (-121..-120 s)" \
  sh -c "[ $s3 -ge -121000 ] && [ $s3 -le -120000 ]"
t_check "host show says h2 is ahead" \
  grep -q "Clock: *1[12][0-9]\.[0-9] s ahead of the controller's" <<<"$("$CLI_BIN" host show h2)"
t_check "host show says h3 is behind" \
  grep -q "Clock: *1[12][0-9]\.[0-9] s behind the controller's" <<<"$("$CLI_BIN" host show h3)"
t_check "the controller's log names h2's clock" \
  grep -q "host 'h2': its clock is 1[12][0-9]\.[0-9] s ahead of the controller's" "$T_DIR"/controller-*.log

# commands to the skewed hosts run (their expiry is stated in the host's clock)
dom_xml_pinned fast2 256 r2 >"$T_DIR/fast2.xml"
dom_xml_pinned slow3 256 r3 >"$T_DIR/slow3.xml"
dr domain define "$T_DIR/fast2.xml" >/dev/null
dr domain define "$T_DIR/slow3.xml" >/dev/null
t_eq "start on h2 (clock 120 s ahead) runs" "running h2" \
  "$(dr domain start fast2 | jq -r '"\(.state) \(.host)"')"
t_eq "start on h3 (clock 120 s behind) runs" "running h3" \
  "$(dr domain start slow3 | jq -r '"\(.state) \(.host)"')"
t_check "h2's agent refused nothing as expired" sh -c "! grep -q 'expired' '$T_DIR'/agent2-*.log"
cluster_down
