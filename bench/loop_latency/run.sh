#!/usr/bin/env bash
# bench/loop_latency/run.sh — the controller's loop latency while it commits placements (issue 11):
# a real etcd (data on /dev/shm), drover-controller and 3 drover-agents on libvirt's test driver
# (tests/controller/cluster.sh, loopback), N small domains defined, then `loop_latency` starts them
# all from W client threads (each start is a placement txn in etcd) while it measures the round
# trip of `cluster.status` every 2 ms. Goal (issue 11): p99 ≤ 5 ms. Never run by ctest.
#
# usage: bench/loop_latency/run.sh [--build-dir DIR] [--domains N] [--writers W]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export DROVER_BUILD_DIR=$src/build
ndom=1000
writers=8
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) DROVER_BUILD_DIR=$(cd "$2" && pwd); shift 2 ;;
    --domains) ndom=$2; shift 2 ;;
    --writers) writers=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--domains N] [--writers W]" >&2; exit 2 ;;
  esac
done
export DROVER_SOURCE_DIR=$src HB_MS=${HB_MS:-1000} CPU_RATIO=64
source "$src/tests/support/lib.sh"
source "$src/tests/controller/cluster.sh"
BIN=$DROVER_BUILD_DIR/bench/loop_latency/loop_latency
[ -x "$BIN" ] || { echo "build $BIN first (cmake --build $DROVER_BUILD_DIR --target loop_latency)" >&2; exit 1; }
cluster_up
for ((i = 0; i < ndom; i++)); do
  cat >"$T_DIR/d.xml" <<XML
<domain type='test'><name>ll$i</name><memory unit='MiB'>8</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
XML
  "$CLI_BIN" --json domain define "$T_DIR/d.xml" >/dev/null
done
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%F)"
"$BIN" "$DROVER_CONTROLLER" ll "$ndom" "$writers" 2
cluster_down
