#!/usr/bin/env bash
# migrate_test.sh — live migration through the whole stack on real hosts (docs/migration.md):
# deploy/cluster-up.sh brings up 3 real libvirtd hosts (bridge drvtbr7, 10.77.7.0/24), etcd, the
# controller and one agent per namespace; then, only through the drover CLI:
#   - a memory-dirtying guest migrates A → B → C → A and keeps running: QEMU moves to the
#     destination's namespace, the serial log keeps growing, the tick counter never goes back and
#     the guest booted once; downtime and time are reported;
#   - a snapshot taken before the moves is listed on each new host and reverted at the end;
#   - a guest that needs CPU flag `hypervisor` is refused before anything moves by host h3, whose
#     agent masks that flag ([agent] mask_cpu_features); an unknown host is refused;
#   - a guest whose disk is outside the shared pool is refused before anything moves;
#   - a slow migration (--bandwidth 2) cancelled midway leaves the guest running on its source;
#   - the destination's libvirtd killed (by PID) midway: the job fails with libvirt's reason, the
#     guest runs on its source, the reservation is released;
#   - the policy options (issue 7 audit): --bandwidth 2 --timeout 3 → the agent aborts, the job
#     fails with the timeout as its reason, the guest runs on its source, the reservation is
#     released; --postcopy under a bandwidth limit the dirtying guest never converges with → the
#     agent switches to post-copy, the job records it (migrate.result.postcopy_used), the guest
#     runs on the destination; --auto-converge --max-downtime 300 → succeeds, the job records the
#     policy and the source agent ran the migration with it.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
sys_cluster_up 7

resv_count() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --prefix --keys-only /drover/v1/reservations/ | grep -c . || true; }
job_count() { djson job list | jq '[.jobs[] | select(.kind == "migrate")] | length'; }
boots() { grep -ac '^drover-guest boot' "$(tb_guest_serial "$1")" || true; }
# job_phase_moving ID — the job migrates and the agent reported bytes sent.
job_moving() {
  djson job show "$1" | jq -e '.migrate.phase == "migrating" and .migrate.progress.data_processed > 0' >/dev/null
}
# no_qemu_except DOMAIN HOST — DOMAIN has a QEMU on HOST (1..3) and on no other host.
only_on() {
  local dom=$1 hi=$2 j
  sys_qemu_in_ns "$hi" "$dom"
  for j in 1 2 3; do
    [ "$j" = "$hi" ] && continue
    t_check "no QEMU for $dom on h$j" test -z "$(tb_host_qemu_pid "$j" "$dom" || true)"
  done
}

t_wait_for "3 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 3 ]"

# --- h3 advertises a reduced CPU: its agent is restarted with [agent] mask_cpu_features
agent_pid=$(cl_pid agent-h3) || t_fail "no agent for h3"
tb_stop_pid "$agent_pid" drover-agent 10
sed 's/^log_level = .*/mask_cpu_features = hypervisor\n&/' "$TB_ROOT/agents/h3.conf" >"$TB_ROOT/agents/h3-masked.conf"
cl_spawn agent-h3 'drover-agent' ip netns exec "$(tb_ns 3)" "$DROVER_BUILD_DIR/hostagent/drover-agent" \
  --config "$TB_ROOT/agents/h3-masked.conf"
t_wait_for "h3 registered without flag hypervisor" 30 sh -c \
  "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host show h3 | jq -e '.reachable and (.cpu_features | index(\"hypervisor\") == null)'"
t_check "h1 still advertises hypervisor" sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host show h1 | jq -e '.cpu_features | index(\"hypervisor\") != null' >/dev/null"

# --- the memory-dirtying guest
dom=mg1
tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
a=$(host_of "$dom")
sys_serial_grows "$dom" 3 30
t_check "snapshot s1 of $dom" drover snapshot create "$dom" s1
case "$a" in h1) b=h2 c=h3 ;; h2) b=h3 c=h1 ;; *) b=h1 c=h2 ;; esac
t_log "A→B→C→A = $a → $b → $c → $a"

n=0
for to in "$b" "$c" "$a"; do
  n=$((n + 1))
  from=$(host_of "$dom")
  tick=$(tb_guest_last_tick "$dom")
  t0=$(date +%s%N)
  if [ "$n" = 1 ]; then
    # people's output: the outcome names the result, the downtime and the total time
    out=$(drover domain migrate "$dom" --to "$to") || t_fail "migrate $dom $from → $to: $out"
    t_check "outcome line names result, downtime and time ($out)" \
      grep -Eq "Migration of $dom from $from to $to succeeded in [0-9.]+ m?s \(downtime [0-9.]+ m?s" <<<"$out"
    job=$(djson job list | jq -c '[.jobs[] | select(.kind == "migrate")][-1]')
  else
    job=$(djson domain migrate "$dom" --to "$to") || t_fail "migrate $dom $from → $to: $job"
  fi
  wall=$(sys_ms_since "$t0")
  t_eq "job state ($from → $to)" succeeded "$(jq -r .state <<<"$job")"
  t_check "downtime reported ($from → $to)" jq -e '.migrate.result.downtime_ms > 0' <<<"$job"
  t_check "at least the dirtied 96 MiB sent ($from → $to): $(jq -c .migrate.result <<<"$job")" \
    jq -e '.migrate.result.bytes >= 96 * 1048576' <<<"$job"
  t_log "migration $n $from → $to: wall $wall ms, job $(jq '.updated_ms - .created_ms' <<<"$job") ms, migration $(jq .migrate.result.time_ms <<<"$job") ms, downtime $(jq .migrate.result.downtime_ms <<<"$job") ms, $(( $(jq .migrate.result.bytes <<<"$job") / 1048576 )) MiB"
  t_eq "placement after the move" "$to" "$(host_of "$dom")"
  only_on "$dom" "${to#h}"
  # the controller's view agrees with libvirt: the source no longer reports the guest
  t_wait_for "no drift for $dom after $from → $to" 10 sh -c \
    "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json domain info '$dom' | jq -e '.drift == null and .state == \"running\"'"
  t_check "libvirt on $from no longer knows $dom" sh -c "! virsh -q -c '$(tb_host_unix_uri "${from#h}")' dominfo '$dom' >/dev/null 2>&1"
  sys_serial_grows "$dom" 3 30
  t_check "the tick counter went on (was $tick, now $(tb_guest_last_tick "$dom"))" test "$(tb_guest_last_tick "$dom")" -gt "$tick"
  t_eq "the guest booted once" 1 "$(boots "$dom")"
  t_eq "no reservation left" 0 "$(resv_count)"
  t_eq "snapshots listed on $to" s1 "$(djson snapshot list "$dom" | jq -r '[.snapshots[].name] | join(",")')"
  t_eq "libvirt on $to has the snapshot" s1 "$(tb_virsh "${to#h}" snapshot-list "$dom" --name | sed '/^$/d' | tr '\n' ',' | sed 's/,$//')"
done
t_eq "every tick line in order (no restart, no gap back)" "" \
  "$(grep -a '^drover-guest tick' "$(tb_guest_serial "$dom")" | awk '$3 <= prev {print "tick " $3 " after " prev} {prev = $3}' | head -n 3)"

# --- refusals before anything moves
jobs_before=$(job_count)
src=$(host_of "$dom")
out=$(drover domain migrate "$dom" --to nosuch 2>&1) && t_fail "migration to an unknown host accepted"
t_check "unknown host refused ($out)" grep -q "destination check failed: host 'nosuch' not found" <<<"$out"

cpu=mgcpu
tb_guest_xml "$cpu" "$(tb_guest_disk "$cpu" "$IDLE_IMAGE")" 64 |
  sed "s|<features><acpi/></features>|&\n  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model><feature policy='require' name='hypervisor'/></cpu>|" >"$T_DIR/$cpu.xml"
t_check "define $cpu (needs CPU flag hypervisor)" drover domain define "$T_DIR/$cpu.xml"
t_check "start $cpu" drover domain start "$cpu"
cpu_host=$(host_of "$cpu")
t_check "$cpu was not placed on h3 (it lacks the flag)" test "$cpu_host" != h3
out=$(drover domain migrate "$cpu" --to h3 2>&1) && t_fail "migration to a host without the flag accepted"
t_check "missing CPU flag refused by name ($out)" grep -q "cpu-features check failed: host 'h3' lacks CPU features the guest uses: hypervisor" <<<"$out"
t_eq "$cpu still placed on $cpu_host" "$cpu_host" "$(host_of "$cpu")"
only_on "$cpu" "${cpu_host#h}"
t_check "destroy $cpu" drover domain destroy "$cpu"

loc=mglocal
mkdir -p "$TB_ROOT/local"
qemu-img create -q -f qcow2 -F raw -b "$TB_SHARED/base-$(basename "$IDLE_IMAGE")" "$TB_ROOT/local/$loc.qcow2"
tb_guest_xml "$loc" "$TB_ROOT/local/$loc.qcow2" 64 >"$T_DIR/$loc.xml"
t_check "define $loc (disk outside the shared pool)" drover domain define "$T_DIR/$loc.xml"
t_check "start $loc" drover domain start "$loc"
loc_host=$(host_of "$loc")
out=$(drover domain migrate "$loc" 2>&1) && t_fail "migration of a domain on a non-shared disk accepted"
t_check "non-shared disk refused ($out)" grep -q "shared-storage check failed: disk hda ($TB_ROOT/local/$loc.qcow2) is not in any storage pool" <<<"$out"
only_on "$loc" "${loc_host#h}"
t_check "destroy $loc" drover domain destroy "$loc"
t_eq "no job was created by the refusals" "$jobs_before" "$(job_count)"
t_eq "no reservation left" 0 "$(resv_count)"

# --- cancel midway: the guest stays on its source
src=$(host_of "$dom")
case "$src" in h1) dst=h2 ;; *) dst=h1 ;; esac
id=$(djson domain migrate "$dom" --to "$dst" --bandwidth 2 --detach | jq -r .id)
t_wait_for "job $id migrating" 30 job_moving "$id"
t_eq "destination reserved meanwhile" 1 "$(resv_count)"
t_check "job cancel $id" drover job cancel "$id"
t0=$(date +%s%N)
drover job watch "$id" >"$T_DIR/cancel-watch.log" 2>&1 && t_fail "a cancelled job watched as succeeded"
t_log "cancelled in $(sys_ms_since "$t0") ms"
t_eq "job state" cancelled "$(djson job show "$id" | jq -r .state)"
t_eq "still placed on $src" "$src" "$(host_of "$dom")"
only_on "$dom" "${src#h}"
sys_serial_grows "$dom" 3 30
t_eq "reservation released" 0 "$(resv_count)"
t_eq "libvirt on $src kept the snapshot" s1 "$(tb_virsh "${src#h}" snapshot-list "$dom" --name | sed '/^$/d' | tr '\n' ',' | sed 's/,$//')"

# --- the destination's libvirtd dies midway: the job fails, the guest stays on its source
id=$(djson domain migrate "$dom" --to "$dst" --bandwidth 2 --detach | jq -r .id)
t_wait_for "job $id migrating" 30 job_moving "$id"
lv=$(tb_host_pid "${dst#h}") || t_fail "no libvirtd pid for $dst"
t0=$(date +%s%N)
kill -KILL "$lv"
drover job watch "$id" >"$T_DIR/kill-watch.log" 2>&1 && t_fail "job watched as succeeded after the destination died"
t_log "killed libvirtd of $dst (pid $lv) during job $id: job over $(sys_ms_since "$t0") ms later"
job=$(djson job show "$id")
t_eq "job state" failed "$(jq -r .state <<<"$job")"
t_check "the job says why ($(jq -r .error <<<"$job"))" jq -e '.error | test("migration failed: domain .mg1.: migration to .qemu\\+tls://")' <<<"$job"
t_eq "still placed on $src" "$src" "$(host_of "$dom")"
only_on "$dom" "${src#h}"
sys_serial_grows "$dom" 3 30
t_eq "reservation released" 0 "$(resv_count)"
t_eq "the guest booted once" 1 "$(boots "$dom")"
tb_host_start "${dst#h}"

# --- the snapshot taken on the first host reverts on this one
t_check "snapshot revert s1 on $(host_of "$dom")" drover snapshot revert "$dom" s1
t_eq "running after the revert" running "$(tb_virsh "${src#h}" domstate "$dom" | head -n 1)"
sys_serial_grows "$dom" 2 30

# --- policy options. The third host: neither $src nor $dst (whose libvirtd was just restarted).
for other in h1 h2 h3; do [ "$other" != "$src" ] && [ "$other" != "$dst" ] && break; done
t_policy=$(date +%s%N)
agent_log() { cat "$TB_ROOT/logs/agent-$1.log"; }
policy_of() { jq -c '.migrate.policy | [.max_downtime_ms, .bandwidth_mibs, .auto_converge, .postcopy, .timeout_s]' <<<"$1"; }

# --timeout: a migration limited to 2 MiB/s cannot finish in 3 s; the agent aborts it
tick=$(tb_guest_last_tick "$dom")
rc=0
job=$(djson domain migrate "$dom" --to "$other" --bandwidth 2 --timeout 3) || rc=$?
t_eq "exit status of a timed-out migration" 1 "$rc"
t_eq "timed-out job state" failed "$(jq -r .state <<<"$job")"
t_check "the job's reason is the timeout ($(jq -r .error <<<"$job"))" \
  jq -e '.error | test("^migration failed: domain .mg1.: migration to .qemu\\+tls://.* aborted after the 3 s timeout: ")' <<<"$job"
t_eq "timed-out job's policy [downtime, bandwidth, auto-converge, postcopy, timeout]" \
  "[0,2,false,false,3]" "$(policy_of "$job")"
t_eq "still placed on $src after the timeout" "$src" "$(host_of "$dom")"
only_on "$dom" "${src#h}"
t_eq "reservation released after the timeout" 0 "$(resv_count)"
sys_serial_grows "$dom" 3 30
t_check "the tick counter went on after the timeout" test "$(tb_guest_last_tick "$dom")" -gt "$tick"
t_eq "libvirt on $src kept the snapshot after the timeout" s1 "$(tb_virsh "${src#h}" snapshot-list "$dom" --name | sed '/^$/d' | tr '\n' ',' | sed 's/,$//')"

# --postcopy: at 40 MiB/s pre-copy never catches up with a guest dirtying 96 MiB per tick; after 3
# iterations the agent switches to post-copy and the migration completes on the destination
tick=$(tb_guest_last_tick "$dom")
t0=$(date +%s%N)
job=$(djson domain migrate "$dom" --to "$other" --postcopy --bandwidth 40) || t_fail "post-copy migration $src → $other: $job"
t_log "post-copy migration $src → $other: wall $(sys_ms_since "$t0") ms, migration $(jq .migrate.result.time_ms <<<"$job") ms, downtime $(jq .migrate.result.downtime_ms <<<"$job") ms, $(( $(jq .migrate.result.bytes <<<"$job") / 1048576 )) MiB, iteration $(jq .migrate.progress.iteration <<<"$job")"
t_eq "post-copy job state" succeeded "$(jq -r .state <<<"$job")"
t_eq "the job records that post-copy was used" true "$(jq -r .migrate.result.postcopy_used <<<"$job")"
t_eq "post-copy job's policy (the default timeout: 60 s + 120 s per GiB)" "[0,40,false,true,180]" "$(policy_of "$job")"
t_check "the source agent switched to post-copy" grep -q "domain '$dom': migration switched to post-copy" <<<"$(agent_log "$src")"
t_check "job show says post-copy was used" sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' job show '$(jq -r .id <<<"$job")' | grep -Eq '^Post-copy: +used'"
t_eq "placement after the post-copy move" "$other" "$(host_of "$dom")"
only_on "$dom" "${other#h}"
sys_serial_grows "$dom" 3 30
t_check "the tick counter went on after post-copy (was $tick)" test "$(tb_guest_last_tick "$dom")" -gt "$tick"
t_eq "the guest booted once (post-copy)" 1 "$(boots "$dom")"
t_eq "no reservation left after post-copy" 0 "$(resv_count)"

# --auto-converge --max-downtime 300: succeeds; the policy is in the job and reached libvirt
tick=$(tb_guest_last_tick "$dom")
out=$(drover domain migrate "$dom" --to "$src" --auto-converge --max-downtime 300) || t_fail "auto-converge migration $other → $src: $out"
t_check "outcome line ($out)" grep -Eq "Migration of $dom from $other to $src succeeded in [0-9.]+ m?s \(downtime [0-9.]+ m?s, migration [0-9.]+ m?s, [0-9.]+ [KMG]iB transferred\)$" <<<"$out"
job=$(djson job list | jq -c '[.jobs[] | select(.kind == "migrate")][-1]')
t_eq "auto-converge job state" succeeded "$(jq -r .state <<<"$job")"
t_eq "auto-converge job's policy (default timeout)" "[300,0,true,false,180]" "$(policy_of "$job")"
t_eq "no post-copy recorded without --postcopy" null "$(jq -r .migrate.result.postcopy_used <<<"$job")"
t_check "the source agent migrated with auto-converge and a max downtime of 300 ms accepted by libvirt" \
  grep -q "domain '$dom': migrating to 'qemu+tls://[0-9.]*/system' (live, peer-to-peer, tls (control), unsafe, auto-converge, max downtime 300 ms (set), timeout 180 s)" <<<"$(agent_log "$other")"
t_check "job show names the policy" sh -c "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' job show '$(jq -r .id <<<"$job")' | grep -Eq '^Policy: +max downtime 300 ms, bandwidth unlimited, auto-converge yes, post-copy no, timeout 180 s'"
t_eq "placement after the auto-converge move" "$src" "$(host_of "$dom")"
only_on "$dom" "${src#h}"
sys_serial_grows "$dom" 3 30
t_check "the tick counter went on after auto-converge (was $tick)" test "$(tb_guest_last_tick "$dom")" -gt "$tick"
t_eq "the guest booted once (auto-converge)" 1 "$(boots "$dom")"
t_eq "no reservation left after auto-converge" 0 "$(resv_count)"
t_log "policy options (timeout, post-copy, auto-converge) checked in $(sys_ms_since "$t_policy") ms"

# --- the job history
t_eq "jobs by state" "cancelled=1 failed=2 succeeded=5" \
  "$(djson job list | jq -r '[.jobs[] | select(.kind == "migrate") | .state] | group_by(.) | map("\(.[0])=\(length)") | join(" ")')"
t_check "no sanitizer report in the controller log" sh -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$TB_ROOT/logs/controller.log'"
