#!/usr/bin/env bash
# bench/ha/ha.sh — time from a fault to every HA guest running again (issue 18, docs/ha.md), p50 and
# max over a soak of random faults (tests/system/ha_soak.sh: partition, host crash, agent, libvirtd
# and controller kills, etcd stall) on --hosts real libvirtd hosts (bridge drvtbr33). Prints every fault's
# recovery time, then "HA recovery: N faults, p50 X ms, max Y ms". Needs root; never run by ctest.
#
# Usage: bench/ha/ha.sh [--build-dir DIR] [--faults N] [--guests N] [--hosts N] [--seed S]
#   --build-dir  a build with the daemons, the CLI and drover-guest (default build)
#   --faults     faults in a row (default 20)
#   --guests     HA guests (default 8)
#   --hosts      hypervisor hosts (default 4)
#   --seed       RANDOM seed, to replay a run (default: the PID)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$src/build
faults=20
guests=8
hosts=4
seed=$$
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    --guests) guests=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--build-dir DIR] [--faults N] [--guests N] [--hosts N] [--seed S]" >&2; exit 2 ;;
  esac
done
summary=$(mktemp)
trap 'rm -f "$summary" "$summary.faults"' EXIT
rc=0
DROVER_SOURCE_DIR=$src DROVER_BUILD_DIR=$build_dir HA_SOAK_FAULTS=$faults HA_SOAK_GUESTS=$guests HA_SOAK_HOSTS=$hosts \
  HA_SOAK_SEED=$seed HA_SOAK_SUMMARY=$summary bash "$src/tests/system/ha_soak.sh" >&2 || rc=$?
[ -s "$summary" ] || { echo "bench/ha: the soak failed before the end (exit $rc)" >&2; exit 1; }
printf '%-6s %-16s %-5s %s\n' FAULT KIND HOST RECOVERY_MS
while read -r n kind host ms; do printf '%-6s %-16s %-5s %s\n' "$n" "$kind" "$host" "$ms"; done <"$summary.faults"
eval "$(tr ' ' '\n' <"$summary")"
echo "HA recovery: $faults faults ($guests HA guests, $hosts hosts, seed $seed), p50 $p50_ms ms, max $max_ms ms"
exit "$rc"
