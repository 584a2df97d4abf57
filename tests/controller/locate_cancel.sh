#!/usr/bin/env bash
# Integration (issue 17): `job cancel` ends a drain whose child migration is stuck in "locating"
# with both agents answering that they hold the domain (libvirt's test driver on h2 is given a
# running domain of the same name, as a destination holds the incoming guest during a migration:
# the migration runner reads that as "still migrating" every round). The drain and its child were
# left running in etcd by a controller that died after locating for 60 s (locating_since_ms
# stored); the next controller resumes them, `job cancel` of the drain is accepted at once, and the
# child gives up when the locate limit (120 s from the stored start, not from the restart) is
# reached: the child ends cancelled with location_unknown and a message naming both hosts, the
# drain's entry fails with it (never retried on another host), the drain ends cancelled, the
# domain's placement is unchanged. (The child had timed out before the crash: aborting, every
# "still migrating" answer sends CANCEL again; test_job_migrate covers the rest of the limit.)
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

etcd_put() {
  # shellcheck disable=SC2086
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" $ETCDCTL_TLS put "$PREFIX$1" "$2" >/dev/null
}
ctl_log() { cat "$T_DIR/controller-$CTL_RUNS.log"; }

dom_xml_pinned d1 128 r1 >"$T_DIR/d1.xml"
dr domain define "$T_DIR/d1.xml" >/dev/null
t_eq "d1 starts on h1" h1 "$(dr domain start d1 | jq -r .host)"

# h2's libvirt also holds a running d1 (restart its agent on a node file that has it)
agent_stop 2
sed -i "s|</node>|<domain type='test'><name>d1</name><memory unit='MiB'>128</memory><os><type>hvm</type></os></domain>\n&|" \
  "$T_DIR/node2.xml"
agent_start 2
t_wait_for "host h2 reachable again" 20 host_reachable h2 true
t_wait_for "h2's inventory shows d1" 20 sh -c "'$CLI_BIN' --json host show h2 | jq -e '[.inventory[] | select(.name == \"d1\")] | length == 1'"

# the drain and its child as a controller leaves them that had been locating for 60 s after the
# migration's timeout (aborting: a "still migrating" answer sends CANCEL again, not back to wait)
ctl_stop
now=$(($(date +%s) * 1000))
since=$((now - 60000))
etcd_put jobs/drain-loc1 "$(jq -c . <<JSON
{"version":1,"id":"drain-loc1","kind":"drain","state":"running","created_ms":$since,"updated_ms":$now,
 "owner":"dead","cancel_requested":false,
 "drain":{"host":"h1","options":{"max_parallel":8,"per_source":2,"per_dest":2,"on_unmovable":"refuse","n_plus_one":false},
  "entries":[{"domain":"d1","origin":"h1","planned":"h2","alternates":["h3"],"attempts":1,"destination":"h2","state":"migrating"}]}}
JSON
)"
etcd_put jobs/drain-loc1:d1:1 "$(jq -c . <<JSON
{"version":1,"id":"drain-loc1:d1:1","kind":"migrate","state":"running","created_ms":$since,"updated_ms":$now,
 "owner":"dead","cancel_requested":false,"error":"migration timed out after 630000 ms",
 "migrate":{"domain":"d1","source":"h1","destination":"h2","reservation_id":"drain-loc1:d1:1",
  "policy":{"max_downtime_ms":0,"bandwidth_mibs":0,"auto_converge":false,"postcopy":false,"timeout_s":600},
  "phase":"locating","phase_ms":$now,"reserved":false,"locating_since_ms":$since,
  "progress":{"data_total":0,"data_processed":0,"data_remaining":0,"memory_bps":0,"iteration":0,"elapsed_ms":0},
  "result":{"downtime_ms":0,"time_ms":0,"bytes":0}}}
JSON
)"
ctl_start
for n in 1 2 3; do t_wait_for "host h$n reachable again" 20 host_reachable "h$n" true; done
t_wait_for "the child is resumed and locates d1 as still migrating" 30 \
  sh -c "grep -q \"job 'drain-loc1:d1:1': domain 'd1' located: migrating\" '$T_DIR/controller-$CTL_RUNS.log'"
t_eq "the drain runs" running "$(dr job show drain-loc1 | jq -r .state)"
out=$(dr job cancel drain-loc1) || t_fail "job cancel: $out"
t_eq "job cancel is recorded" true "$(jq -r .cancel_requested <<<"$out")"
t_wait_for "the drain ends" 100 sh -c "'$CLI_BIN' --json job show drain-loc1 | jq -e '.state != \"running\"'"
ended_ms=$(($(date +%s%N) / 1000000))
t_check "not before the locate limit (120 s from the stored start): $((ended_ms - since)) ms" \
  test $((ended_ms - since)) -ge 120000
child=$(etcd_get jobs/drain-loc1:d1:1)
t_eq "child cancelled" cancelled "$(jq -r .state <<<"$child")"
t_eq "child: location unknown" true "$(jq -r .migrate.location_unknown <<<"$child")"
t_check "child's message: $(jq -r .error <<<"$child")" \
  jq -e '.error | test("^gave up locating d1 after 1[2-5][0-9] s: neither h1 nor h2 said the migration ended .* see `drover domain info d1`$")' <<<"$child"
t_check "it kept asking until then (several 'located: migrating' rounds)" \
  test "$(ctl_log | grep -c "job 'drain-loc1:d1:1': domain 'd1' located: migrating")" -ge 2
job=$(dr job show drain-loc1)
t_eq "drain cancelled" cancelled "$(jq -r .state <<<"$job")"
t_eq "entry failed on attempt 1 (not retried on h3)" "failed 1" \
  "$(jq -r '.drain.entries[0] | "\(.state) \(.attempts)"' <<<"$job")"
t_check "entry error: $(jq -r '.drain.entries[0].error' <<<"$job")" \
  jq -e '.drain.entries[0].error | test("^attempt 1 to h2: gave up locating d1 after")' <<<"$job"
t_eq "no attempt 2 was created" "" "$(etcd_get jobs/drain-loc1:d1:2)"
t_eq "d1's placement unchanged" h1 "$(dr domain info d1 | jq -r .host)"
text=$("$CLI_BIN" job show drain-loc1)
t_check "job show (text) carries the reason: $text" grep -q "gave up locating d1" <<<"$text"
cluster_down
