#!/usr/bin/env bash
# record.sh — records real live migrations on a 2-host testbed (systest50, bridge drvtbr50,
# 10.77.50.0/24) as fixtures for the predictor's unit tests (tests/jobs/fixtures/migrations.txt):
# for each case, the guest's dirty rate from libvirt's dirty-rate calculation (page-sampling, 1 s;
# `virsh domdirtyrate-calc` + `domstats --dirtyrate`), then a live peer-to-peer migration with the
# case's bandwidth cap and policy, sampled every 250 ms (`domjobinfo`), and its completed statistics.
# Run as root from the source tree after building (needs tests/guest images):
#   bash bench/migrate_predict/record.sh [--build-dir DIR] [--out FILE]
# One line per case: `case NAME key=value ...`, one line per sample: `sample NAME key=value ...`.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
OUT=/dev/stdout
while [ $# -gt 0 ]; do
  case $1 in
  --build-dir) BUILD=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export DROVER_SOURCE_DIR=$SRC DROVER_BUILD_DIR=$BUILD T_NAME=record T_DIR=$(mktemp -d)
source "$SRC/tests/support/lib.sh"
source "$SRC/tests/system/system_lib.sh"
sys_require
sys_testbed_up 50 2
set +e  # a failed case is recorded, not fatal

# bytes VALUE UNIT — virsh's "12.5 MiB" in bytes.
bytes() { awk -v v="$1" -v u="$2" 'BEGIN { m = 1; if (u == "KiB") m = 1024; if (u == "MiB") m = 1048576;
  if (u == "GiB") m = 1073741824; printf "%d", v * m }'; }
# jobfield INFO NAME — a domjobinfo field ("Memory remaining:  12.5 MiB") in bytes or as the number.
jobfield() {
  local line
  line=$(grep -E "^$2:" <<<"$1" | head -n 1 | sed 's/^[^:]*: *//')
  [ -n "$line" ] || { echo 0; return; }
  set -- $line
  case ${2:-} in KiB | MiB | GiB | B) bytes "$1" "$2" ;; *) printf '%s' "${1%%.*}" ;; esac
}

# run NAME IMAGE MEM_MIB BW_MIBS MAXDOWN_MS EXTRA_FLAGS TIMEOUT_S
run() {
  local name=$1 image=$2 mem=$3 bw=$4 down=$5 flags=$6 timeout=$7 dom disk dr t0 pid info rc
  dom=rec-$name
  disk=$(tb_guest_disk "$dom" "$image")
  tb_guest_xml "$dom" "$disk" "$mem" >"$T_DIR/$dom.xml"
  tb_virsh 1 define "$T_DIR/$dom.xml" >/dev/null && tb_virsh 1 start "$dom" >/dev/null || return 1
  tb_guest_wait_ticks "$dom" 8 60
  tb_virsh 1 domdirtyrate-calc "$dom" --seconds 1 --mode page-sampling >/dev/null 2>&1
  sleep 1.5
  dr=$(tb_virsh 1 domstats "$dom" --dirtyrate | tr -d ' ' | grep -E 'dirtyrate\.(calc_status|megabytes_per_second|calc_period|calc_mode)=' | sed 's/^dirtyrate\./dirty_/' | tr '\n' ' ')
  tb_virsh 1 migrate-setmaxdowntime "$dom" "$down" >/dev/null
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  tb_virsh 1 migrate --live --p2p --persistent --undefinesource --unsafe $flags \
    ${bw:+--bandwidth $bw} "$dom" "$(tb_host_tcp_uri 2)" >"$T_DIR/$dom.migrate" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    info=$(tb_virsh 1 domjobinfo "$dom" 2>/dev/null || true)
    if grep -q '^Job type: *Unbounded' <<<"$info"; then
      printf 'sample %s t_ms=%s elapsed_ms=%s iteration=%s total=%s processed=%s remaining=%s dirty_rate_pps=%s bps=%s throttle_pct=%s postcopy_requests=%s\n' \
        "$name" "$(sys_ms_since "$t0")" "$(jobfield "$info" 'Time elapsed')" "$(jobfield "$info" 'Iteration')" \
        "$(jobfield "$info" 'Memory total')" "$(jobfield "$info" 'Memory processed')" \
        "$(jobfield "$info" 'Memory remaining')" "$(jobfield "$info" 'Dirty rate')" \
        "$(jobfield "$info" 'Memory bandwidth')" "$(jobfield "$info" 'Auto converge throttle')" \
        "$(jobfield "$info" 'Postcopy requests')"
      if [ "$(sys_ms_since "$t0")" -gt $((timeout * 1000)) ]; then tb_virsh 1 domjobabort "$dom" >/dev/null 2>&1; fi
    fi
    sleep 0.25
  done
  wait "$pid"; rc=$?
  local wall; wall=$(sys_ms_since "$t0")
  local host=1; [ $rc = 0 ] && host=2
  info=$(tb_virsh "$host" domjobinfo "$dom" --completed 2>/dev/null || true)
  printf 'case %s memory_mib=%s bandwidth_mibs=%s max_downtime_ms=%s flags="%s" outcome=%s wall_ms=%s time_ms=%s downtime_ms=%s iterations=%s processed=%s data_total=%s normal_pages=%s dirty_rate_pps=%s throttle_pct=%s %s\n' \
    "$name" "$mem" "${bw:-0}" "$down" "$flags" "$([ $rc = 0 ] && echo ok || echo aborted)" "$wall" \
    "$(jobfield "$info" 'Time elapsed')" "$(jobfield "$info" 'Total downtime')" "$(jobfield "$info" 'Iteration')" \
    "$(jobfield "$info" 'Memory processed')" "$(jobfield "$info" 'Data total')" "$(jobfield "$info" 'Memory normal')" \
    "$(jobfield "$info" 'Dirty rate')" "$(jobfield "$info" 'Auto converge throttle')" "$dr"
  tb_virsh "$host" destroy "$dom" >/dev/null 2>&1
  tb_virsh "$host" undefine "$dom" >/dev/null 2>&1
  tb_virsh 1 undefine "$dom" >/dev/null 2>&1
  rm -f "$disk"
}

IDLE=$BUILD/tests/guest/drover-guest-idle.img
DIRTY=$BUILD/tests/guest/drover-guest.img
{
  echo "# recorded $(date -u +%FT%TZ) on $(uname -n): libvirt $(virsh --version), $(qemu-system-x86_64 --version | head -n 1)"
  run idle128 "$IDLE" 128 "" 300 "" 30
  run dirty128 "$DIRTY" 128 "" 300 "" 30
  run dirty128-bw40 "$DIRTY" 128 40 300 "" 12
  run dirty128-bw40-ac "$DIRTY" 128 40 300 "--auto-converge" 40
  run idle512 "$IDLE" 512 "" 300 "" 30
} >"$OUT"
