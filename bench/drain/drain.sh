#!/usr/bin/env bash
# bench/drain/drain.sh — host maintenance through the whole drover stack on the testbed
# (docs/maintenance.md): 3 real libvirtd hosts in namespaces, etcd, drover-controller, 3 agents.
# G test guests (tests/guest/boot.S; K of them dirty memory, the others idle) start on h1; h1 is
# drained onto h2 and h3 (`drover host maintenance h1 --wait`) and restored
# (`drover host activate h1 --restore --wait`) once per concurrency level C (max-parallel =
# per-source = per-dest = C). Prints, per drain and restore: the concurrency, the wall time of the
# command, the job's own time, the bytes all its migrations transferred (Σ of libvirt's data
# processed, from the child migration jobs), the bandwidth measured beforehand with one migration
# alone (bytes / libvirt's migration time of the dirtying guest, h1 → h2 → h1, averaged), the
# bound Σ bytes / bandwidth (the time the data alone would take at that rate, one stream after the
# other) and wall / bound. Needs root (network namespaces); never run by ctest.
#
# Usage: bench/drain/drain.sh [--build-dir DIR] [--guests G] [--dirtying K] [--concurrency C,...]
#   --build-dir    a build with drover-controller, drover-agent, drover, drover-guest (default
#                  build-cluster: deploy/cluster-up.sh builds it when missing)
#   --guests       guests on the drained host (default 4)
#   --dirtying     how many of them dirty 96 MiB per tick (default 1; 128 MiB guests; idle ones
#                  have 64 MiB)
#   --concurrency  concurrency levels (default 1,2,4)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$src/build-cluster
guests=4
dirtying=1
levels=1,2,4
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --guests) guests=$2; shift 2 ;;
    --dirtying) dirtying=$2; shift 2 ;;
    --concurrency) levels=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--build-dir DIR] [--guests G] [--dirtying K] [--concurrency C,...]" >&2; exit 2 ;;
  esac
done

export TB_NAME=bench-drain TB_BRIDGE=drvbdbr0 TB_NS_PREFIX=drvbd-h TB_NET=10.77.81 TB_HOSTS=3
export TB_ROOT=/run/drover/$TB_NAME
source "$src/deploy/testbed/lib.sh"
tb_config
source "$src/deploy/testbed/guest.sh"
work=$(mktemp -d)
down() {
  bash "$src/deploy/cluster-down.sh" --name "$TB_NAME" >"$work/down.log" 2>&1 || true
  rm -rf "$work"
}
trap down EXIT
bash "$src/deploy/cluster-down.sh" --name "$TB_NAME" >/dev/null 2>&1 || true
build_args=(--build-dir "$build_dir")
[ -x "$build_dir/controller/drover-controller" ] && build_args+=(--no-build)
bash "$src/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" --ns-prefix "$TB_NS_PREFIX" \
  --net "$TB_NET" --hosts 3 --samples 0 --no-install "${build_args[@]}" >"$work/up.log" 2>&1 ||
  { tail -n 20 "$work/up.log" >&2; exit 1; }
drover() { "$build_dir/cli/drover" --controller "tcp://$TB_BRIDGE_IP:7702" --timeout 120 "$@"; }
djson() { drover --json "$@"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
for _ in $(seq 60); do
  [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = 3 ] && break
  sleep 0.5
done

# every guest on h1: the other hosts in maintenance (empty drains) while they start
drover host maintenance h2 --wait >/dev/null
drover host maintenance h3 --wait >/dev/null
for ((i = 1; i <= guests; i++)); do
  if [ "$i" -le "$dirtying" ]; then
    img=$build_dir/tests/guest/drover-guest.img mem=128
  else
    img=$build_dir/tests/guest/drover-guest-idle.img mem=64
  fi
  tb_guest_xml "bd$i" "$(tb_guest_disk "bd$i" "$img")" "$mem" >"$work/bd$i.xml"
  drover domain define "$work/bd$i.xml" >/dev/null
  drover domain start "bd$i" >/dev/null
done
drover host activate h2 >/dev/null
drover host activate h3 >/dev/null
tb_guest_wait_ticks bd1 4 30 || true

# the bandwidth of one migration alone: bd1 h1 → h2 → h1
bytes=0 time_ms=0
for to in h2 h1; do
  job=$(djson domain migrate bd1 --to "$to")
  bytes=$((bytes + $(jq .migrate.result.bytes <<<"$job")))
  time_ms=$((time_ms + $(jq .migrate.result.time_ms <<<"$job")))
done
bw=$(awk -v b="$bytes" -v t="$time_ms" 'BEGIN { printf "%.1f", b / 1048576 / (t / 1000) }')
echo "bandwidth of one migration alone (bd1, $((bytes / 2 / 1048576)) MiB each): $bw MiB/s"
echo "$guests guests on h1 ($dirtying dirtying 96 MiB per tick), drained onto h2 and h3"

printf '%-8s %-11s %-8s %-8s %-9s %-9s %-9s %s\n' KIND CONCURRENCY WALL_ms JOB_ms SENT_MiB BW_MiB/s BOUND_ms WALL/BOUND
# row KIND C JOB_JSON WALL_MS — one line of the table from a finished drain/restore job
row() {
  local kind=$1 c=$2 job=$3 wall=$4 id sent
  id=$(jq -r .id <<<"$job")
  sent=$(djson job list | jq --arg p "$id:" '[.jobs[] | select(.id | startswith($p)) | select(.state == "succeeded") | .migrate.result.bytes] | add // 0')
  awk -v k="$kind" -v c="$c" -v w="$wall" -v j="$(jq '.updated_ms - .created_ms' <<<"$job")" \
    -v s="$sent" -v bw="$bw" 'BEGIN {
      bound = s / 1048576 / bw * 1000
      printf "%-8s %-11s %-8d %-8d %-9.1f %-9.1f %-9.0f %.2f\n", k, c, w, j, s / 1048576, bw, bound, (bound > 0 ? w / bound : 0)
    }'
}
IFS=, read -r -a level_list <<<"$levels"
for c in "${level_list[@]}"; do
  t0=$(date +%s%N)
  job=$(djson host maintenance h1 --max-parallel "$c" --per-source "$c" --per-dest "$c" --wait) ||
    { echo "drain at concurrency $c failed: $(jq -r .error <<<"$job")" >&2; exit 1; }
  row drain "$c" "$job" "$(ms_since "$t0")"
  t0=$(date +%s%N)
  job=$(djson host activate h1 --restore --wait) ||
    { echo "restore at concurrency $c failed: $(jq -r .error <<<"$job")" >&2; exit 1; }
  row restore "$c" "$job" "$(ms_since "$t0")"
done
