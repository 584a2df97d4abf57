#!/usr/bin/env bash
# Integration (issue 19): etcd hygiene (controller/hygiene.c). With a round every second, keeping 20
# etcd revisions and finished jobs for 1 day:
#  - `cluster status` shows etcd's DB size, revision and drover's key counts, equal to what etcdctl
#    counts;
#  - the leader compacts etcd's history: an old revision of a key can no longer be read, the
#    current value and drover's own `domain history` still can;
#  - a finished job whose last change is 30 days old is deleted, a recent one stays.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
CTL_EXTRA="hygiene_interval_s = 1
etcd_compact_keep_revisions = 20
job_retention_days = 1"
cluster_up

for i in $(seq 1 12); do
  dom_xml "hy-$i" 128 >"$T_DIR/hy-$i.xml"
  dr domain define "$T_DIR/hy-$i.xml" >/dev/null
done
first_rev=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get "${PREFIX}domains/hy-1" -w json | jq -r '.kvs[0].mod_revision')
# a second revision of hy-1's definition, for drover's own history
sed 's|<vcpu>1</vcpu>|<vcpu>2</vcpu>|' "$T_DIR/hy-1.xml" >"$T_DIR/hy-1b.xml"
dr domain define "$T_DIR/hy-1b.xml" >/dev/null
dr domain start hy-2 >/dev/null
dr domain start hy-3 >/dev/null

st() { dr cluster status; }
counts_seen() { [ "$(st | jq '.etcd.keys.domains')" = 12 ]; }
sleep 2
t_log "etcd in cluster status: $(st | jq -c .etcd)"
t_wait_for "cluster status shows the etcd figures" 20 counts_seen
s=$(st)
t_check "etcd DB size shown ($(jq .etcd.db_size_bytes <<<"$s") bytes)" test "$(jq .etcd.db_size_bytes <<<"$s")" -gt 0
t_check "etcd revision shown" test "$(jq .etcd.revision <<<"$s")" -gt "$first_rev"
n_hist=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix "${PREFIX}history/" --keys-only | grep -c .)
t_eq "history count as etcd counts it" "$n_hist" "$(jq .etcd.keys.history <<<"$s")"
t_eq "hosts count" 3 "$(jq .etcd.keys.hosts <<<"$s")"

# compaction: etcd's revision history up to current − 20 is gone
compacted() { [ "$(st | jq '.etcd.compacted_revision')" -gt "$first_rev" ]; }
t_wait_for "the leader compacted etcd past hy-1's first revision" 20 compacted
set +e
old=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --rev="$first_rev" "${PREFIX}domains/hy-1" 2>&1)
set -e
t_check "an old revision is compacted in etcd ($old)" grep -q "compacted" <<<"$old"
t_check "the current definition is intact" \
  sh -c "'$CLI_BIN' --json domain dumpxml --inactive hy-1 | jq -e '.xml | contains(\"<vcpu>2</vcpu>\")' >/dev/null"
t_check "drover's own history still has both revisions" \
  sh -c "[ \$('$CLI_BIN' --json domain history hy-1 | jq '.revisions | length') -ge 2 ]"

# job retention: age one finished job by 30 days; it goes, the other stays
jobs=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix "${PREFIX}jobs/" --keys-only | grep -v '^$' || true)
t_check "the starts left finished jobs in etcd ($(wc -l <<<"$jobs"))" test "$(grep -c . <<<"$jobs")" -ge 2
old_key=$(head -n 1 <<<"$jobs")
new_key=$(sed -n 2p <<<"$jobs")
month_ago=$(( $(date +%s) * 1000 - 30 * 86400 * 1000 ))
doc=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --print-value-only "$old_key")
t_eq "the job to age is finished" true "$(jq '.state == "succeeded" or .state == "failed"' <<<"$doc")"
jq -c --argjson t "$month_ago" '.created_ms = $t | .updated_ms = $t' <<<"$doc" |
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "$old_key" >/dev/null
job_gone() { [ -z "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get "$old_key" --keys-only)" ]; }
t_wait_for "the 30-day-old finished job is deleted" 20 job_gone
t_check "the recent finished job stays" test -n "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get "$new_key" --keys-only)"
t_check "cluster status counts the deletion" test "$(st | jq .etcd.jobs_deleted)" -ge 1
t_check "the controller logged it" grep -q "finished jobs older than 1 days deleted" "$T_DIR/controller-1.log"
cluster_down
