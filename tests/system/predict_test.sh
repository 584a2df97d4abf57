#!/usr/bin/env bash
# System: the migration predictor on real QEMU (issue 15, docs/migration.md "Prediction"), 2 hosts
# on testbed 62 (bridge drvtbr62, 10.77.62.0/24):
#   - two plain migrations of the memory-dirtying guest (there and back) give both ordered host
#     pairs a link estimate in etcd (links/<source>/<destination>);
#   - an idle guest migrated with --auto-converge --postcopy is predicted "pre-copy" and migrates
#     with it: the agent drops auto-converge, post-copy is not used;
#   - the dirtying guest (96 MiB per tick) with --postcopy --bandwidth 40 --max-downtime 300 is
#     predicted "post-copy" and migrates with it (result.postcopy_used), the guest keeps running on
#     the destination. Both pauses are printed, not
#     asserted (an idle TCG guest's switch-over exceeds 300 ms here; libvirt's post-copy "downtime"
#     covers the whole post-copy phase).
# The figures (predicted and measured time and pause, bytes, the time error) are printed. The
# issue's goal (time error within 30 %) is not asserted: it does not hold reliably yet on a loaded
# 2-core machine (docs/migration.md "Prediction": the idle guest's set-up and zero-page scan are
# mispredicted).
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
[ -f "$IDLE_IMAGE" ] || t_fail "missing $IDLE_IMAGE"
# the peer port is loopback-only and fixed by default (2380): another testbed may hold it
export CL_ETCD_PEER_PORT=$(t_free_port)
SYS_HOSTS=2 sys_cluster_up 62
t_wait_for "2 hosts reachable" 30 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json host list | jq '[.hosts[] | select(.reachable)] | length')\" = 2 ]"
other() { [ "$1" = h1 ] && echo h2 || echo h1; }
links_of() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" get --print-value-only "/drover/v1/links/$1/$2"; }
# figures JOB — one line of the job's prediction against its outcome
figures() {
  jq -r '.migrate.result as $r | $r.prediction as $p |
    "predicted \($p.verdict) \($p.time_ms) ms (pause \($p.downtime_ms) ms, \($p.bytes / 1048576 | floor) MiB),"
    + " measured \($r.stages.setup_ms + $r.stages.transfer_ms) ms (pause \($r.downtime_ms) ms,"
    + " \($r.bytes / 1048576 | floor) MiB), dirty rate \($r.stages.dirty_rate_bps / 1048576 | floor) MiB/s,"
    + " time error \($p.time_error_permille / 10) %, applied auto-converge \($p.applied_auto_converge)"
    + " post-copy \($p.applied_postcopy), post-copy used \($r.postcopy_used // false)"' <<<"$1"
}

# --- the guests
dom=pd1
tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
idle=pi1
tb_guest_xml "$idle" "$(tb_guest_disk "$idle" "$IDLE_IMAGE")" 128 >"$T_DIR/$idle.xml"
t_check "define $idle" drover domain define "$T_DIR/$idle.xml"
t_check "start $idle" drover domain start "$idle"
sys_serial_grows "$dom" 3 60

# --- the link estimates, learnt from two plain migrations of the dirtying guest
a=$(host_of "$dom")
b=$(other "$a")
for to in "$b" "$a"; do
  from=$(host_of "$dom")
  job=$(djson domain migrate "$dom" --to "$to") || t_fail "warm-up migration $from → $to: $job"
  t_eq "warm-up $from → $to succeeded" succeeded "$(jq -r .state <<<"$job")"
  t_wait_for "link estimate $from → $to stored" 10 sh -c \
    "ETCDCTL_API=3 etcdctl --endpoints '$ETCD' get --print-value-only /drover/v1/links/$from/$to | jq -e '.samples >= 1 and .bandwidth_bps > 0'"
  t_log "link $from → $to: $(links_of "$from" "$to")"
done

# --- the idle guest: predicted pre-copy, migrated without auto-converge
from=$(host_of "$idle")
to=$(other "$from")
job=$(djson domain migrate "$idle" --to "$to" --auto-converge --postcopy --max-downtime 300) ||
  t_fail "idle migration: $job"
t_log "idle $from → $to: $(figures "$job")"
t_eq "idle guest migrated" succeeded "$(jq -r .state <<<"$job")"
t_eq "idle guest predicted pre-copy" pre-copy "$(jq -r .migrate.result.prediction.verdict <<<"$job")"
t_eq "the agent dropped auto-converge" false "$(jq -r .migrate.result.prediction.applied_auto_converge <<<"$job")"
t_eq "post-copy not used" false "$(jq -r '.migrate.result.postcopy_used // false' <<<"$job")"
# the 30 % goal is not met reliably yet (docs/migration.md: set-up and the zero-page scan are
# mispredicted): printed, not asserted, so the tier stays a proof of what holds
t_log "idle prediction error on time $(jq -r .migrate.result.prediction.time_error_permille <<<"$job") ‰ (goal ≤ 300 ‰, not asserted)"
# not asserted: an idle TCG guest's pause is QEMU's switch-over cost (device state, the last bitmap
# sync), which QEMU's downtime test leaves out — 284-751 ms measured here for 128 MiB on a loaded
# 2-core machine (docs/migration.md "Prediction")
t_log "idle pause $(jq -r .migrate.result.downtime_ms <<<"$job") ms (max downtime 300 ms, predicted $(jq -r .migrate.result.prediction.downtime_ms <<<"$job") ms)"

# --- the dirtying guest under a 40 MiB/s cap: predicted post-copy, migrated with it
from=$(host_of "$dom")
to=$(other "$from")
tick=$(tb_guest_last_tick "$dom")
job=$(djson domain migrate "$dom" --to "$to" --postcopy --bandwidth 40 --max-downtime 300) ||
  t_fail "capped migration: $job"
t_log "dirtying $from → $to at 40 MiB/s: $(figures "$job")"
t_eq "dirtying guest migrated" succeeded "$(jq -r .state <<<"$job")"
t_eq "dirtying guest predicted post-copy" post-copy "$(jq -r .migrate.result.prediction.verdict <<<"$job")"
t_eq "post-copy was used" true "$(jq -r .migrate.result.postcopy_used <<<"$job")"
t_eq "the guest runs on $to" "$to" "$(host_of "$dom")"
sys_serial_grows "$dom" 2 30
t_check "the tick counter went on (was $tick)" test "$(tb_guest_last_tick "$dom")" -gt "$tick"
t_log "capped prediction error on time $(jq -r .migrate.result.prediction.time_error_permille <<<"$job") ‰ (goal ≤ 300 ‰, not asserted)"
# not asserted: for a post-copy migration libvirt's "downtime" covers the post-copy phase (the
# rest pulled at the 40 MiB/s cap while the guest already runs on the destination: 1,044 ms here),
# not the guest's pause (docs/migration.md "Limits")
t_log "capped pause as libvirt reports it $(jq -r .migrate.result.downtime_ms <<<"$job") ms (max downtime 300 ms, predicted $(jq -r .migrate.result.prediction.downtime_ms <<<"$job") ms)"
t_check "no sanitizer report in the controller log" sh -c "! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' '$TB_ROOT/logs/controller.log'"
