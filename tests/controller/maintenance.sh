#!/usr/bin/env bash
# Integration: `drover host maintenance` / `drover host activate` on libvirt's test driver (real
# etcd, real controller, 3 agents; docs/maintenance.md). The test driver cannot migrate live, so
# this tier covers the plan, the refusals before anything moves, and the executor around failing
# migrations:
#   - draining an empty host: the job succeeds at once and the host is in maintenance; activate;
#   - a dry run lists every domain's destination, names the unmovable ones with the reason (a CPU
#     flag only their host has; anti-affinity) and changes nothing;
#   - the real run refuses up front naming each unmovable domain: no job, nothing moved, the host
#     still active; bad options are usage errors;
#   - --on-unmovable leave: the drain runs as a job in etcd: the host is preparing-maintenance, a
#     shut-off domain is moved (placement), the running one's migration fails (the test driver)
#     and is retried once on the next-best destination (two child migration jobs), the unmovable
#     ones are skipped; the job fails naming them, the host stays preparing-maintenance, a new
#     start avoids it; `--wait` exits 1 (the host is not empty); events on job.<id>;
#   - activate --restore: a restore job moves the drain's moved domain back; the host is active;
#   - resume: a drain job left "running" in etcd with a migrating entry whose child never started
#     is taken over by a restarted controller and finished (the attempt counted, retried once on
#     the next-best host);
#   - --on-unmovable shutdown: the unmovable domain is shut down, the host enters maintenance.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"

etcd_start
cluster_ports
ctl_start
for n in 1 2 3; do agent_write "$n"; done
# only h1 has avx2
sed -i 's/^reserved_memory = .*/&\nmask_cpu_features = avx2/' "$T_DIR/agent2.conf" "$T_DIR/agent3.conf"
for n in 1 2 3; do agent_start "$n"; done
for n in 1 2 3; do t_wait_for "host h$n reachable" 20 host_reachable "h$n" true; done
events_start "$T_DIR/events.json"

# run CMD... — the CLI (JSON) with its error output, never failing the shell
run() { "$CLI_BIN" --json --timeout 20 "$@" 2>&1; }
hstate() { dr host show "$1" | jq -r .state; }
dhost() { dr domain info "$1" | jq -r .host; }

dom_group() { # NAME MIB GROUP — anti-affinity group GROUP
  cat <<XML
<domain type='test'>
  <name>$1</name>
  <memory unit='MiB'>$2</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <metadata>
    <drover:drover xmlns:drover="https://drover.dev/xml/1"><drover:anti-affinity-group>$3</drover:anti-affinity-group></drover:drover>
  </metadata>
</domain>
XML
}
define() { dr domain define "$1" >/dev/null; }

# --- an empty host drains at once
for h in h2 h3; do
  out=$(run host maintenance "$h" --wait) || t_fail "maintenance of empty $h: $out"
  t_eq "drain of empty $h succeeded" succeeded "$(jq -r .state <<<"$out")"
  t_eq "$h in maintenance" maintenance "$(hstate "$h")"
done

# --- domains on h1 (the only active host)
dom_xml a1 256 >"$T_DIR/a1.xml"
dom_group a2 256 ag >"$T_DIR/a2.xml"
dom_xml cold 128 >"$T_DIR/cold.xml"
cat >"$T_DIR/flagged.xml" <<XML
<domain type='test'>
  <name>flagged</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model><feature policy='require' name='avx2'/></cpu>
</domain>
XML
for d in a1 a2 cold flagged; do
  define "$T_DIR/$d.xml"
  t_eq "$d started on h1" h1 "$(dr domain start "$d" | jq -r .host)"
done
dr domain destroy cold >/dev/null
t_eq "cold is shut off, still placed on h1" h1 "$(dhost cold)"
# members of a2's anti-affinity group on h2 and h3: a2 can go nowhere
out=$(run host activate h2)
t_eq "activate h2" active "$(jq -r .state <<<"$out")"
dom_group g2 128 ag >"$T_DIR/g2.xml"
define "$T_DIR/g2.xml"
t_eq "g2 on h2" h2 "$(dr domain start g2 | jq -r .host)"
t_eq "plain activate h3 (text)" "Host 'h3' is now active" "$("$CLI_BIN" host activate h3)"
dom_group g3 128 ag >"$T_DIR/g3.xml"
define "$T_DIR/g3.xml"
t_eq "g3 on h3" h3 "$(dr domain start g3 | jq -r .host)"

# --- dry run
plan=$(run host maintenance h1 --dry-run) || t_fail "dry run: $plan"
t_eq "dry run: 4 domains" 4 "$(jq '.steps | length' <<<"$plan")"
t_eq "dry run: 2 cannot move" 2 "$(jq .unmovable <<<"$plan")"
for d in a1 cold; do
  dst=$(jq -r --arg d "$d" '.steps[] | select(.domain == $d) | .dest' <<<"$plan")
  t_check "dry run: $d has a destination ($dst)" test "$dst" = h2 -o "$dst" = h3
done
t_check "dry run: flagged cannot move for avx2" \
  jq -e '.steps[] | select(.domain == "flagged") | .dest == null and (.reason | test("avx2"))' <<<"$plan"
t_check "dry run: a2 cannot move for anti-affinity" \
  jq -e '.steps[] | select(.domain == "a2") | .dest == null and (.reason | test("anti-affinity"))' <<<"$plan"
t_check "dry run: says the real run would refuse, naming both" \
  jq -e '(.refused | test("flagged")) and (.refused | test("a2"))' <<<"$plan"
text=$("$CLI_BIN" host maintenance h1 --dry-run)
t_check "dry run (text): the table" grep -qE '^a1 .* (h2|h3)$' <<<"$text"
t_check "dry run (text): cannot move flagged" grep -q '^cannot move flagged: .*avx2' <<<"$text"
t_check "dry run (text): nothing changed" grep -q '^Dry run: nothing changed' <<<"$text"
# issue 15: the plan's prediction — no migration ran, so no link estimate: every move unknown,
# no drain time
t_eq "dry run: predicted moves (running, movable) and their verdicts" "a1:unknown" \
  "$(jq -r '[.prediction.moves[] | "\(.domain):\(.verdict)"] | join(" ")' <<<"$plan")"
t_eq "dry run: no predicted drain time without link estimates" null "$(jq -r .prediction.drain_ms <<<"$plan")"
t_check "dry run (text): the drain time is unknown" grep -q '^Predicted drain time: unknown' <<<"$text"
plan1=$(run host maintenance h1 --dry-run --n-plus-one) || t_fail "dry run with N+1: $plan1"
t_check "dry run --n-plus-one: the N+1 verdict is given" jq -e 'has("n_plus_one_after")' <<<"$plan1"
t_eq "dry run: h1 still active" active "$(hstate h1)"
t_eq "dry run: no drain job" 0 "$(dr job list | jq '[.jobs[] | select(.drain.host == "h1")] | length')"

# --- refusal up front
rc=0
out=$(run host maintenance h1) || rc=$?
t_eq "refused: exit 1" 1 "$rc"
t_check "refused: names flagged and why: $out" grep -q "flagged.*avx2" <<<"$out"
t_check "refused: names a2 and why" grep -q "a2.*anti-affinity" <<<"$out"
t_check "refused: nothing moved" grep -q "nothing moved" <<<"$out"
t_eq "refused: h1 still active" active "$(hstate h1)"
t_eq "refused: no drain job for h1" 0 "$(dr job list | jq '[.jobs[] | select(.drain.host == "h1")] | length')"
for d in a1 a2 cold flagged; do t_eq "refused: $d still on h1" h1 "$(dhost "$d")"; done
rc=0; out=$(run host maintenance h1 --on-unmovable bogus) || rc=$?
t_eq "bad --on-unmovable: usage (2)" 2 "$rc"
rc=0; out=$(run host maintenance h1 --max-parallel 0) || rc=$?
t_eq "--max-parallel 0: usage (2)" 2 "$rc"
rc=0; out=$(run host maintenance h1 --force 2>&1) || rc=$?
t_eq "--force without --on-unmovable shutdown: usage (2)" 2 "$rc"
t_check "--force alone: the error names the flags: $out" \
  grep -q -- "--shutdown-timeout and --force apply only with --on-unmovable shutdown" <<<"$out"
rc=0; out=$(run host maintenance h1 --on-unmovable shutdown --shutdown-timeout 0 2>&1) || rc=$?
t_eq "--shutdown-timeout 0: usage (2)" 2 "$rc"
rc=0; out=$(run host maintenance nosuch) || rc=$?
t_check "unknown host: $out" grep -q "host 'nosuch' not found" <<<"$out"

# --- leave the unmovable ones: the job runs, fails for a1 (the test driver cannot migrate)
rc=0
out=$(run host maintenance h1 --on-unmovable leave --per-source 1 --wait) || rc=$?
t_eq "drain with unmovable domains left: exit 1 (host not empty)" 1 "$rc"
id=$(dr job list | jq -r '[.jobs[] | select(.kind == "drain" and .drain.host == "h1")][0].id')
job=$(dr job show "$id")
t_eq "drain job failed" failed "$(jq -r .state <<<"$job")"
t_eq "the options are recorded" "1 2 8 leave" "$(jq -r '.drain.options | "\(.per_source) \(.per_dest) \(.max_parallel) \(.on_unmovable)"' <<<"$job")"
t_eq "h1 stays preparing-maintenance" preparing-maintenance "$(hstate h1)"
e() { jq -r --arg d "$1" ".drain.entries[] | select(.domain == \$d) | $2" <<<"$job"; }
t_eq "cold: done" done "$(e cold .state)"
cdst=$(e cold .destination)
t_eq "cold: placed on its destination" "$cdst" "$(dhost cold)"
t_eq "a1: failed" failed "$(e a1 .state)"
t_eq "a1: retried once" 2 "$(e a1 .attempts)"
a1d1=$(e a1 .planned); a1d2=$(e a1 .destination)
t_check "a1: the retry went to the next-best host ($a1d1 then $a1d2)" test "$a1d1" != "$a1d2"
t_check "a1: libvirt's reason kept: $(e a1 .error)" grep -q "migration failed" <<<"$(e a1 .error)"
t_eq "a1 still on h1" h1 "$(dhost a1)"
t_eq "a1 still running" running "$(dr domain info a1 | jq -r .state)"
t_eq "flagged: skipped" skipped "$(e flagged .state)"
t_eq "a2: skipped" skipped "$(e a2 .state)"
t_check "the job's error names what is left: $(jq -r .error <<<"$job")" \
  jq -e '(.error | test("a1")) and (.error | test("left running: .*a2|left running: .*flagged"))' <<<"$job"
t_eq "etcd: jobs/$id failed" failed "$(etcd_get "jobs/$id" | jq -r .state)"
t_eq "etcd: child migration $id:a1:1 failed" failed "$(etcd_get "jobs/$id:a1:1" | jq -r .state)"
t_eq "etcd: child migration $id:a1:2 failed" failed "$(etcd_get "jobs/$id:a1:2" | jq -r .state)"
t_eq "etcd: no child for a third attempt" "" "$(etcd_get "jobs/$id:a1:3")"
t_eq "no reservation left" 0 "$(etcd_count reservations/)"
t_wait_for "events on topic job.$id" 5 grep -q "\"topic\":\"job.$id\"" "$T_DIR/events.json"
t_check "a 'failed' event for the drain" grep -q "\"type\":\"failed\".*\"topic\":\"job.$id\"" "$T_DIR/events.json"
t_check "host event: preparing-maintenance" grep -q '"state":"preparing-maintenance"' "$T_DIR/events.json"
text=$("$CLI_BIN" job show "$id")
t_check "job show: per-domain lines" grep -qE '^  a1 +h1 -> h[23] .*failed' <<<"$text"
rc=0
text=$("$CLI_BIN" job watch "$id" 2>&1) || rc=$?
t_eq "job watch of the failed drain: exit 1" 1 "$rc"
t_check "job watch: one line per domain: $text" grep -qE '^  cold +h1 -> h[23] +100%  done' <<<"$text"
t_check "job watch: the outcome" grep -q "^error: Drain of h1 failed in .*: 1 of 4 domains moved" <<<"$text"
t_check "job list: the drain row" sh -c "'$CLI_BIN' job list | grep -E '^$id +drain +failed +- +4 domains +h1'"
# new placements avoid a preparing-maintenance host
dom_xml fresh 128 >"$T_DIR/fresh.xml"
define "$T_DIR/fresh.xml"
fh=$(dr domain start fresh | jq -r .host)
t_check "a new start avoids h1 ($fh)" test "$fh" != h1
out=$(run host activate h1 --restore --wait) || t_fail "restore: $out"
t_eq "restore succeeded" succeeded "$(jq -r .state <<<"$out")"
t_eq "restore job kind" restore "$(jq -r .kind <<<"$out")"
t_eq "restore of the drain" "$id" "$(jq -r .drain.restore_of <<<"$out")"
t_eq "restore: only the moved domain" cold "$(jq -r '[.drain.entries[].domain] | join(",")' <<<"$out")"
t_eq "cold back on h1" h1 "$(dhost cold)"
t_eq "h1 active again" active "$(hstate h1)"

# --- resume after a restart: a running drain of fresh's host whose entry was launched (attempt 1)
# but whose child migration never got created (the controller died in between)
other=h2; [ "$fh" = h2 ] && other=h3
ctl_stop
now=$(($(date +%s) * 1000))
cat >"$T_DIR/drain.json" <<JSON
{"version":1,"id":"drain-resume1","kind":"drain","state":"running","created_ms":$now,"updated_ms":$now,
 "owner":"dead","cancel_requested":false,
 "drain":{"host":"$fh","options":{"max_parallel":8,"per_source":2,"per_dest":2,"on_unmovable":"refuse","n_plus_one":false},
  "entries":[{"domain":"fresh","origin":"$fh","planned":"$other","alternates":["h1"],"attempts":1,"destination":"$other","state":"migrating"}]}}
JSON
ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put "${PREFIX}jobs/drain-resume1" "$(jq -c . "$T_DIR/drain.json")" >/dev/null
ctl_start
for n in 1 2 3; do t_wait_for "host h$n reachable again" 20 host_reachable "h$n" true; done
t_wait_for "the resumed drain ends" 30 sh -c "'$CLI_BIN' --json job show drain-resume1 | jq -e '.state != \"running\"'"
job=$(dr job show drain-resume1)
t_eq "resumed: the drain failed (the test driver cannot migrate)" failed "$(jq -r .state <<<"$job")"
t_eq "resumed: the lost attempt counted, the retry was attempt 2" 2 "$(jq -r '.drain.entries[0].attempts' <<<"$job")"
t_check "resumed: attempt 2 failed in the migration: $(jq -r '.drain.entries[0].error' <<<"$job")" \
  jq -e '.drain.entries[0].error | test("attempt 2 to h1: migration failed")' <<<"$job"
t_eq "resumed: no child for attempt 1 was created" "" "$(etcd_get "jobs/drain-resume1:fresh:1")"
t_eq "resumed: attempt 2 ran as a child job" failed "$(etcd_get "jobs/drain-resume1:fresh:2" | jq -r .state)"
t_eq "resumed: attempt 2 went to the next-best host" h1 "$(etcd_get "jobs/drain-resume1:fresh:2" | jq -r .migrate.destination)"
t_eq "resumed: owner is the new controller" "$(dr cluster status | jq -r .instance)" "$(jq -r .owner <<<"$job")"
t_eq "fresh still on $fh" "$fh" "$(dhost fresh)"
t_eq "$fh preparing-maintenance (its drain failed)" preparing-maintenance "$(hstate "$fh")"

# --- shut the unmovable ones down: $other holds only its member of group ag (one on h1, one on $fh)
g=g${other#h}
t_eq "$g on $other" "$other" "$(dhost "$g")"
out=$(run host maintenance "$other" --on-unmovable shutdown --wait) || t_fail "drain with shutdown: $out"
t_eq "drain with shutdown: succeeded" succeeded "$(jq -r .state <<<"$out")"
t_eq "drain with shutdown: default timeout 120 s, no force" "120 false" \
  "$(jq -r '.drain.options | "\(.shutdown_timeout_s) \(.force)"' <<<"$out")"
t_eq "$g: skipped" skipped "$(jq -r '.drain.entries[0].state' <<<"$out")"
t_eq "$other in maintenance" maintenance "$(hstate "$other")"
t_eq "$g: desired shutoff" shutoff "$(dr domain info "$g" | jq -r .desired_state)"
t_wait_for "$g shut off" 10 sh -c "'$CLI_BIN' --json domain info $g | jq -e '.state == \"shut off\"'"

cluster_down
