#!/usr/bin/env bash
# Integration (issue 16): `drover cluster balance` run for real on libvirt's test driver (real
# etcd, real controller, 3 agents; docs/observability.md). The test driver cannot migrate live, so
# this tier covers the plan → job → moves path and the job around failing migrations, not the
# moves themselves (tests/system/balance_test.sh does those on QEMU):
#   - two domains on h1, the others empty: the dry run (objective memory) proposes a move off h1
#     and changes nothing; a viewer may plan but not run it;
#   - the real run starts a balance job stored in etcd BEFORE its move (the job key's create
#     revision precedes its child migration's), the move runs as child migration
#     "<job>:<domain>:1" to the planned destination, fails (test driver), is not retried elsewhere
#     (no alternates), the job fails naming it, `--wait` exits 1, and the job is in job list/show;
#   - resume: balance jobs left "running" in etcd are taken over by a restarted controller: a move
#     whose child never got created counts as an interrupted attempt; a planned move whose domain
#     is no longer on its origin is refused at the re-check before launch (nothing launched);
#   - a move from a host whose inventory is unknown (agent stopped) waits; while it waits a second
#     balance is refused (one drain/restore/balance at a time); `job cancel` ends it cancelled with
#     nothing launched;
#   - the continuous policy ([scheduler] balance_interval_s): off by default (no job unless asked);
#     on, the leader starts a balance job by itself, cut to balance_max_moves_per_hour, and no
#     second one while the hour's budget is spent.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"

STATS_MS=500
cluster_up

run() { "$CLI_BIN" --json --timeout 20 "$@" 2>&1; }
dhost() { dr domain info "$1" | jq -r .host; }
etcd_rev() { # KEY — its create revision in etcd
  # shellcheck disable=SC2086
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" $ETCDCTL_TLS get -w json "$PREFIX$1" |
    jq -r '.kvs[0].create_revision'
}

# --- two domains on h1 (h2 and h3 in maintenance while they start), then every host active
for h in h2 h3; do run host maintenance "$h" --wait >/dev/null || t_fail "maintenance of $h"; done
for d in b1 b2; do
  dom_xml "$d" 1024 >"$T_DIR/$d.xml"
  dr domain define "$T_DIR/$d.xml" >/dev/null || t_fail "define $d"
  t_eq "$d started on h1" h1 "$(dr domain start "$d" | jq -r .host)"
done
for h in h2 h3; do dr host activate "$h" >/dev/null || t_fail "activate $h"; done

# --- the dry run: a move off h1 once the domains have load samples
plan_has_move() {
  dr cluster balance --dry-run --objective memory --min-gain 0.001 --max-moves 1 >"$T_DIR/plan.json" &&
    jq -e '.moves | length == 1' "$T_DIR/plan.json"
}
t_wait_for "the dry run proposes a move" 30 plan_has_move
dom=$(jq -r '.moves[0].domain' "$T_DIR/plan.json")
dest=$(jq -r '.moves[0].dest' "$T_DIR/plan.json")
t_eq "dry run: the move is off h1" h1 "$(jq -r '.moves[0].source' "$T_DIR/plan.json")"
t_check "dry run: one of b1, b2 ($dom) to h2 or h3 ($dest)" \
  sh -c "echo '$dom $dest' | grep -qE '^b[12] h[23]$'"
t_check "dry run: it says what it gains" jq -e '.moves[0].gain > 0 and
  .score_after < .score_before' "$T_DIR/plan.json"
t_eq "dry run: no balance job" 0 "$(dr job list | jq '[.jobs[] | select(.kind == "balance")] | length')"
t_check "a viewer may plan" dr_as viewer cluster balance --dry-run --objective memory
out=$(dr_as viewer cluster balance --objective memory --min-gain 0.001 2>&1) &&
  t_fail "a viewer ran a balance: $out"
t_check "a viewer may not run it: $out" grep -q "needs role operator" <<<"$out"
t_eq "still no balance job" 0 "$(dr job list | jq '[.jobs[] | select(.kind == "balance")] | length')"

# --- the real run
rc=0
out=$(run cluster balance --objective memory --min-gain 0.001 --max-moves 1 --wait) || rc=$?
t_eq "--wait exits 1: the move failed (the test driver cannot migrate)" 1 "$rc"
id=$(dr job list | jq -r '[.jobs[] | select(.kind == "balance")][0].id')
t_check "a balance job ($id)" grep -q '^balance-' <<<"$id"
job=$(dr job show "$id")
t_eq "job: kind balance" balance "$(jq -r .kind <<<"$job")"
t_eq "job: failed" failed "$(jq -r .state <<<"$job")"
t_eq "job: no host of its own" null "$(jq -r .drain.host <<<"$job")"
t_eq "job: the planned move" "$dom h1 $dest" \
  "$(jq -r '.drain.entries[0] | "\(.domain) \(.origin) \(.planned)"' <<<"$job")"
t_eq "job: one move only (max-moves 1)" 1 "$(jq '.drain.entries | length' <<<"$job")"
t_eq "job: one attempt, to the planned destination, not retried elsewhere" "1 $dest failed" \
  "$(jq -r '.drain.entries[0] | "\(.attempts) \(.destination) \(.state)"' <<<"$job")"
t_check "job: the error names the attempt: $(jq -r .error <<<"$job")" \
  jq -e '.error | test("balance: not every move was made") and test("attempt 1 to '"$dest"'")' <<<"$job"
child=$(etcd_get "jobs/$id:$dom:1")
t_eq "the move ran as child migration $id:$dom:1" "migrate $dom h1 $dest failed" \
  "$(jq -r '"\(.kind) \(.migrate.domain) \(.migrate.source) \(.migrate.destination) \(.state)"' <<<"$child")"
t_check "intent first: the job was stored before its move ($(etcd_rev "jobs/$id") < $(etcd_rev "jobs/$id:$dom:1"))" \
  test "$(etcd_rev "jobs/$id")" -lt "$(etcd_rev "jobs/$id:$dom:1")"
t_eq "$dom still on h1" h1 "$(dhost "$dom")"
"$CLI_BIN" --timeout 10 job list >"$T_DIR/jobs.txt" || t_fail "job list (table)"
t_check "job list (table): the balance row" grep -qE "^$id +balance +failed" "$T_DIR/jobs.txt"
"$CLI_BIN" --timeout 10 job show "$id" >"$T_DIR/job.txt" || t_fail "job show (table)"
t_check "job show (table): the summary line" grep -q "balance of the cluster failed: 0 done" "$T_DIR/job.txt"

# --- resume after a restart, and cancel
ctl_stop
agent_stop 3
now=$(($(date +%s) * 1000))
opts='"options":{"max_parallel":8,"per_source":2,"per_dest":2,"on_unmovable":"refuse","n_plus_one":true}'
put_job() { # ID ENTRIES
  cat >"$T_DIR/$1.json" <<JSON
{"version":1,"id":"$1","kind":"balance","state":"running","created_ms":$now,"updated_ms":$now,
 "owner":"dead","cancel_requested":false,"drain":{$opts,"entries":$2}}
JSON
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}jobs/$1" \
    "$(jq -c . "$T_DIR/$1.json")" >/dev/null || t_fail "store $1"
}
# b1's move was launched (attempt 1) but its child was never created; b2's plan said it is on h2
# (to h1), it is on h1
put_job balance-resume1 '[{"domain":"b1","origin":"h1","planned":"h2","alternates":[],"attempts":1,"destination":"h2","state":"migrating"},
  {"domain":"b2","origin":"h2","planned":"h1","alternates":[],"attempts":0,"state":"planned"}]'
# a move out of h3, whose agent is stopped: its inventory is not authoritative
put_job balance-cancel1 '[{"domain":"b2","origin":"h3","planned":"h2","alternates":[],"attempts":0,"state":"planned"}]'
ctl_start
for n in 1 2; do t_wait_for "host h$n reachable again" 20 host_reachable "h$n" true; done
t_wait_for "the resumed balance ends" 30 \
  sh -c "'$CLI_BIN' --json job show balance-resume1 | jq -e '.state != \"running\"'"
job=$(dr job show balance-resume1)
t_eq "resumed: failed" failed "$(jq -r .state <<<"$job")"
t_eq "resumed: owner is the new controller" "$(dr cluster status | jq -r .instance)" "$(jq -r .owner <<<"$job")"
t_check "resumed: b1's lost attempt counted, not retried elsewhere: $(jq -r '.drain.entries[0].error' <<<"$job")" \
  jq -e '.drain.entries[0] | .attempts == 1 and .state == "failed" and
    (.error | test("interrupted by a controller restart"))' <<<"$job"
t_eq "resumed: no child for b1's attempt 1" "" "$(etcd_get "jobs/balance-resume1:b1:1")"
t_check "re-check: b2 is not moved, it is no longer on h2: $(jq -r '.drain.entries[1].error' <<<"$job")" \
  jq -e '.drain.entries[1] | .attempts == 0 and .state == "failed" and
    .error == "not moved to h1: b2 is no longer on h2 (now h1)"' <<<"$job"
t_eq "re-check: nothing launched for b2" 0 "$(etcd_count "jobs/balance-resume1:b2")"
t_eq "b1 and b2 still on h1" "h1 h1" "$(dhost b1) $(dhost b2)"

# the move out of h3 waits for h3's inventory: running, nothing launched
sleep 2
t_eq "waiting: the balance out of h3 still runs" running "$(dr job show balance-cancel1 | jq -r .state)"
out=$(run cluster balance --objective memory --min-gain 0.001) && t_fail "a second balance started: $out"
t_check "one at a time: a new balance is refused naming the one running: $out" \
  grep -q "balance-cancel1.*one drain, restore or balance at a time" <<<"$out"
dr job cancel balance-cancel1 >/dev/null || t_fail "job cancel"
t_wait_for "the cancelled balance ends" 30 \
  sh -c "'$CLI_BIN' --json job show balance-cancel1 | jq -e '.state == \"cancelled\"'"
t_eq "cancelled: nothing launched" "0 planned" \
  "$(dr job show balance-cancel1 | jq -r '.drain.entries[0] | "\(.attempts) \(.state)"')"
t_eq "cancelled: no child" 0 "$(etcd_count "jobs/balance-cancel1:")"
agent_start 3
t_wait_for "host h3 reachable again" 20 host_reachable h3 true

# --- continuous balance: off until configured (no job appeared above without being asked); on, the
# leader starts a balance job by itself, and no more than balance_max_moves_per_hour moves
n_before=$(dr job list | jq '[.jobs[] | select(.kind == "balance")] | length')
ctl_stop
CTL_EXTRA="[scheduler]
balance_interval_s = 2
balance_min_score = 0
balance_min_gain = 0.001
balance_max_moves_per_hour = 1"
ctl_start
n_bal() { dr job list | jq '[.jobs[] | select(.kind == "balance")] | length'; }
t_wait_for "the policy starts a balance job by itself" 40 sh -c "[ \$('$CLI_BIN' --json job list |
  jq '[.jobs[] | select(.kind == \"balance\")] | length') -gt $n_before ]"
auto=$(dr job list | jq -r --argjson n "$n_before" '[.jobs[] | select(.kind == "balance")] |
  sort_by(.created_ms) | .[-1]')
t_eq "the policy's job: one move (the hour's budget)" 1 "$(jq '.drain.entries | length' <<<"$auto")"
t_check "the policy's job: a move off h1" jq -e '.drain.entries[0].origin == "h1"' <<<"$auto"
t_check "the controller log says why it started" \
  grep -q "continuous balance: started job '$(jq -r .id <<<"$auto")' (1 of" "$T_DIR/controller-$CTL_RUNS.log"
sleep 6 # three more intervals: the budget is spent
t_eq "no second job within the hour (budget 1 move)" $((n_before + 1)) "$(n_bal)"
t_eq "the log names one start only" 1 \
  "$(grep -c 'continuous balance: started job' "$T_DIR/controller-$CTL_RUNS.log")"

cluster_down
