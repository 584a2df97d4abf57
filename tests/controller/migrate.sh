#!/usr/bin/env bash
# Integration: `drover domain migrate` and `drover job ...` on libvirt's test driver (real etcd, real
# controller, 3 agents; docs/migration.md). The test driver cannot migrate, so this tier covers what
# happens before anything moves and the failure path:
#   - refusals, each naming its check, with no job and no reservation created: unknown host, the
#     source itself, a missing CPU flag (h3's agent masks avx2 with [agent] mask_cpu_features),
#     no room on the destination, no other host with room, a domain that does not run;
#   - host-passthrough guests (cpu-model check): h2's agent reports another CPU model ([test]
#     cpu_model), h3 lacks avx2 — a passthrough guest on h1 is refused by h2 (model) and h3 (flag
#     missing), one on h3 by h1 (extra flag), each naming both CPUs, while a custom-CPU guest moves
#     between the two models' hosts past the CPU checks;
#   - a migration the agent's libvirt refuses: the job ends failed with libvirt's reason, the
#     domain stays placed on its source, the reservation is released, jobs/<id> says failed,
#     events on topic job.<id> were published;
#   - job show / cancel of unknown and finished jobs.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"

etcd_start
cluster_ports
ctl_start
agent_write 3
sed -i 's/^reserved_memory = .*/&\nmask_cpu_features = avx2/' "$T_DIR/agent3.conf"
agent_write 2 # same flags as h1, another CPU model
sed -i 's/^cpu_model = .*/cpu_model = Broadwell-Client/' "$T_DIR/agent2.conf"
for n in 1 2 3; do agent_start "$n"; done
for n in 1 2 3; do t_wait_for "host h$n reachable" 20 host_reachable "h$n" true; done
events_start "$T_DIR/events.json"

t_eq "h3 does not advertise the masked flag" "aes,sse4.2" "$(dr host show h3 | jq -r '.cpu_features | join(",")')"
t_eq "h1 advertises it" "aes,avx2,sse4.2" "$(dr host show h1 | jq -r '.cpu_features | join(",")')"
t_eq "h2: another CPU model, the same flags" "Broadwell-Client aes,avx2,sse4.2" \
  "$(dr host show h2 | jq -r '"\(.cpu_model) \(.cpu_features | join(","))"')"
t_eq "h1 and h3: the same CPU model" "Skylake-Client Skylake-Client" \
  "$(dr host show h1 | jq -r .cpu_model) $(dr host show h3 | jq -r .cpu_model)"

# mig CMD... — the CLI with its error output, never failing the shell
mig() { "$CLI_BIN" --json --timeout 20 "$@" 2>&1; }
resv_count() { etcd_count reservations/; }

# A 6 GiB domain: spread places it on h3 (16 GiB); h1 (3.5 GiB usable) has no room for it.
dom_xml big 6144 >"$T_DIR/big.xml"
dr domain define "$T_DIR/big.xml" >/dev/null
t_eq "big placed on h3" h3 "$(dr domain start big | jq -r .host)"
# A domain needing avx2: never on h3.
cat >"$T_DIR/flagged.xml" <<XML
<domain type='test'>
  <name>flagged</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model><feature policy='require' name='avx2'/></cpu>
</domain>
XML
dr domain define "$T_DIR/flagged.xml" >/dev/null
fhost=$(dr domain start flagged | jq -r .host)
t_check "flagged placed off h3 ($fhost)" test "$fhost" = h1 -o "$fhost" = h2
dom_xml idle 128 >"$T_DIR/idle.xml"
dr domain define "$T_DIR/idle.xml" >/dev/null

# --- refusals before anything moves
out=$(mig domain migrate big --to nosuch) && t_fail "unknown host accepted"
t_check "unknown host: $out" grep -q "domain 'big': destination check failed: host 'nosuch' not found" <<<"$out"
out=$(mig domain migrate big --to h3) && t_fail "migration to its own host accepted"
t_check "own host: $out" grep -q "destination check failed: it already runs on host 'h3'" <<<"$out"
out=$(mig domain migrate flagged --to h3) && t_fail "migration to a host without avx2 accepted"
t_check "missing flag named: $out" grep -q "cpu-features check failed: host 'h3' lacks CPU features the guest uses: avx2" <<<"$out"
# host-passthrough guests need an identical host CPU: pt1 on h1 (rack r1), pt3 on h3 (rack r3)
for r in 1 3; do
  dom_xml_pinned "pt$r" 128 "r$r" | sed "s|<os>|<cpu mode='host-passthrough' check='none'/>\n  &|" >"$T_DIR/pt$r.xml"
  t_check "pt$r is host-passthrough" grep -q "<cpu mode='host-passthrough'" "$T_DIR/pt$r.xml"
  dr domain define "$T_DIR/pt$r.xml" >/dev/null
  t_eq "pt$r placed on h$r" "h$r" "$(dr domain start "pt$r" | jq -r .host)"
done
out=$(mig domain migrate pt1 --to h2) && t_fail "host-passthrough guest accepted by a host with another CPU model"
t_check "another CPU model: $out" grep -q "domain 'pt1': cpu-model check failed: a host-passthrough guest needs the same host CPU, and host 'h2' has Broadwell-Client where 'h1' has Skylake-Client" <<<"$out"
out=$(mig domain migrate pt1 --to h3) && t_fail "host-passthrough guest accepted by a host without avx2"
t_check "a flag missing: $out" grep -q "domain 'pt1': cpu-model check failed: a host-passthrough guest needs the same host CPU, and host 'h3' has Skylake-Client without avx2 where 'h1' has Skylake-Client" <<<"$out"
out=$(mig domain migrate pt3 --to h1) && t_fail "host-passthrough guest accepted by a host with an extra flag"
t_check "an extra flag: $out" grep -q "domain 'pt3': cpu-model check failed: a host-passthrough guest needs the same host CPU, and host 'h1' has Skylake-Client with extra avx2 where 'h3' has Skylake-Client" <<<"$out"
t_check "the CLI exits non-zero for the refusal" sh -c "! '$CLI_BIN' --timeout 20 domain migrate pt1 --to h2 2>/dev/null"
for r in 1 3; do
  t_eq "pt$r still placed on h$r and running" "h$r running" "$(dr domain info "pt$r" | jq -r '"\(.host) \(.state)"')"
  t_check "pt$r is idle (not left busy by the refusals)" sh -c "'$CLI_BIN' --json domain start pt$r 2>&1 | grep -q 'already running'"
done
out=$(mig domain migrate big --to h1) && t_fail "migration to a host without room accepted"
t_check "no room: $out" grep -q "domain 'big': room check failed on host 'h1': no host has 6 GiB free" <<<"$out"
out=$(mig domain migrate idle) && t_fail "migration of a shut off domain accepted"
t_check "not running: $out" grep -q "domain 'idle' is not placed; only a running or paused domain migrates live" <<<"$out"
out=$(mig domain migrate nodom) && t_fail "migration of an unknown domain accepted"
t_check "unknown domain: $out" grep -q "domain 'nodom' not found" <<<"$out"
out=$(mig domain migrate big --to h2 --bandwidth lots) && t_fail "a bad --bandwidth accepted"
t_check "usage error for --bandwidth: $out" grep -q -- "--bandwidth" <<<"$out"
t_eq "no migration job created by the refusals" 0 "$(dr job list | jq '[.jobs[] | select(.kind == "migrate")] | length')"
t_eq "no reservation created by the refusals" 0 "$(resv_count)"

# Fill h2 with a 5 GiB domain: now no other host than h3 has room for big.
dom_xml_pinned filler 5120 r2 >"$T_DIR/filler.xml"
dr domain define "$T_DIR/filler.xml" >/dev/null
t_eq "filler placed on h2" h2 "$(dr domain start filler | jq -r .host)"
out=$(mig domain migrate big) && t_fail "migration with no room anywhere accepted"
t_check "no other host: $out" grep -q "domain 'big': room check failed: no other host can take it" <<<"$out"
dr domain destroy filler >/dev/null

# --- the failure path: the scheduler picks h2, the test driver's libvirt refuses to migrate
rc=0
out=$(mig domain migrate big) || rc=$?
t_eq "the CLI exits 1 for a failed migration" 1 "$rc"
id=$(dr job list | jq -r '[.jobs[] | select(.kind == "migrate")][0].id')
job=$(dr job show "$id")
t_eq "job kind" migrate "$(jq -r .kind <<<"$job")"
t_eq "job state" failed "$(jq -r .state <<<"$job")"
t_eq "destination chosen by the scheduler" h2 "$(jq -r .migrate.destination <<<"$job")"
t_check "the reason is libvirt's: $(jq -r .error <<<"$job")" jq -e '.error | test("migration failed: domain .big.: ")' <<<"$job"
t_check "the CLI printed it: $out" grep -q "Migration of big from h3 to h2 failed" <<<"$out"
t_eq "big still placed on h3" h3 "$(dr domain info big | jq -r .host)"
t_eq "big still running" running "$(dr domain info big | jq -r .state)"
t_eq "reservation released" 0 "$(resv_count)"
t_eq "etcd: jobs/$id failed" failed "$(etcd_get "jobs/$id" | jq -r .state)"
t_eq "etcd: the reservation flag is off" false "$(etcd_get "jobs/$id" | jq -r .migrate.reserved)"
t_check "big is idle again (a start is refused as already running, not busy)" \
  sh -c "'$CLI_BIN' --json domain start big 2>&1 | grep -q 'already running'"
t_wait_for "events on topic job.$id" 5 grep -q "\"topic\":\"job.$id\"" "$T_DIR/events.json"
t_check "a 'failed' event was published" grep -q "\"type\":\"failed\".*\"topic\":\"job.$id\"" "$T_DIR/events.json"
t_check "the storage step was published" grep -q "\"type\":\"verifying-storage\".*\"topic\":\"job.$id\"" "$T_DIR/events.json"

# --- jobs
out=$(mig job show nojob) && t_fail "unknown job shown"
t_check "unknown job: $out" grep -q "job 'nojob' not found" <<<"$out"
out=$(mig job cancel "$id") && t_fail "finished job cancelled"
t_check "finished job: $out" grep -q "job '$id' has already failed" <<<"$out"
t_check "job list in a table" sh -c "'$CLI_BIN' job list | grep -E '^$id +migrate +failed +done +big +h3 +h2'"
t_check "job show as a sheet" sh -c "'$CLI_BIN' job show '$id' | grep -E '^Error: +migration failed'"

# --- the CPU model binds host-passthrough guests only: flagged (custom CPU, needs avx2) passes
# every check from h1 to h2 or back (another model, the same flags) and fails only in libvirt
fto=h1; [ "$fhost" = h1 ] && fto=h2
out=$(mig domain migrate flagged --to "$fto" --detach) || t_fail "flagged $fhost → $fto (another model) refused: $out"
fid=$(jq -r .id <<<"$out")
t_wait_for "flagged's job over" 20 sh -c "'$CLI_BIN' --json job show '$fid' | jq -e '.state != \"running\" and .state != \"pending\"'"
t_eq "flagged's job failed (the test driver cannot migrate)" failed "$(dr job show "$fid" | jq -r .state)"
t_check "flagged's job failed in libvirt, past the checks: $(dr job show "$fid" | jq -r .error)" \
  sh -c "'$CLI_BIN' --json job show '$fid' | jq -e '.error | test(\"^migration failed: domain .flagged.: \")'"
t_eq "no reservation left by flagged's job" 0 "$(resv_count)"
t_eq "flagged still on $fhost" "$fhost" "$(dr domain info flagged | jq -r .host)"

# --- a restarted controller reaps a reservation whose job is gone or over
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}reservations/stale" \
  '{"id":"stale","job":"gone","host":"h1","domain":"x","vcpus":1,"memory_kib":1048576}' >/dev/null
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}reservations/$id" \
  "{\"id\":\"$id\",\"job\":\"$id\",\"host\":\"h2\",\"domain\":\"big\",\"vcpus\":1,\"memory_kib\":1048576}" >/dev/null
t_eq "two stale reservations written" 2 "$(resv_count)"
# link estimates (issue 15, links/<source>/<destination>): one valid, one key of the wrong shape,
# one document that is not an estimate — the restarted leader loads the valid one only
links_put() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}links/$1" "$2" >/dev/null; }
# --dry-run (issue 15): the checks and the prediction, nothing booked; no link estimate yet
resv_before=$(resv_count)
dry=$(mig domain migrate flagged --dry-run)
fdst=$(jq -r .destination <<<"$dry")
t_check "dry run of flagged names a destination other than its host: $dry" sh -c "[ -n '$fdst' ] && [ '$fdst' != null ] && [ '$fdst' != '$fhost' ]"
t_eq "dry run without a link estimate: unknown" "unknown null false" \
  "$(jq -r '"\(.prediction.verdict) \(.link) \(.dirty_rate_known)"' <<<"$dry")"
t_eq "the dry run booked nothing" "$resv_before" "$(resv_count)"
links_put "$fhost/$fdst" '{"bandwidth_bps":104857600,"fixed_ms":1400,"samples":3,"fixed_samples":3,"updated_ms":1}'
links_put h1 '{"bandwidth_bps":1}'
links_put h9/h8 '{"bandwidth_bps":-5}'
ctl_stop
ctl_start
CTL_LOG="$T_DIR/controller-$CTL_RUNS.log"
t_wait_for "link estimates loaded" 10 grep -q "link estimates loaded: 1 host pairs" "$CTL_LOG"
t_check "the key of the wrong shape is named and ignored" grep -q "ignoring link key 'links/h1'" "$CTL_LOG"
t_check "the bad document is named and ignored" grep -q "ignoring link estimate 'links/h9/h8'" "$CTL_LOG"
# the loaded estimate is the dry run's: an idle 128 MiB guest at 100 MiB/s is predicted pre-copy,
# 256 MiB in 2.56 s + the pair's 1,400 ms fixed cost + the 280 ms switch-over
dry=$(mig domain migrate flagged --to "$fdst" --dry-run)
t_eq "dry run with the loaded link estimate: [verdict, link bandwidth, bytes, time]" \
  "[\"pre-copy\",104857600,268435456,4240]" \
  "$(jq -c '[.prediction.verdict, .link.bandwidth_bps, .prediction.bytes, .prediction.time_ms]' <<<"$dry")"
t_check "the CLI shows the prediction" sh -c "'$CLI_BIN' --timeout 20 domain migrate flagged --to '$fdst' --dry-run | grep -q '^Prediction:  pre-copy, 4.2 s'"
t_eq "the dry runs booked nothing" 0 "$(resv_count)"
t_wait_for "stale reservations reaped" 10 sh -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints '$ETCD_ENDPOINT' get --prefix --keys-only '${PREFIX}reservations/' | grep -c .)\" = 0 ]"

cluster_down
