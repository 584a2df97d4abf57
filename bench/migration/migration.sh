#!/usr/bin/env bash
# bench/migration/migration.sh — live migration through the whole drover stack on the testbed
# (docs/testbed.md): 2 real libvirtd hosts in namespaces, etcd, drover-controller, 2 agents; the
# test guest (tests/guest/boot.S) migrated back and forth with `drover domain migrate`. Prints, per
# migration: guest RAM, MiB the guest dirties per timer tick, the job's time (request to result,
# as the controller records it), libvirt's migration time, the downtime, the bytes transferred
# and their ratio to the guest's RAM. Needs root (network namespaces); never run by ctest.
#
# Usage: bench/migration/migration.sh [--build-dir DIR] [--runs N] [--sizes MIB,...] [--dirty MIB]
#   --build-dir  a build with drover-controller, drover-agent, drover, drover-guest (default
#                build-cluster: deploy/cluster-up.sh builds it when missing)
#   --runs       migrations per guest (default 4: h1→h2→h1→…)
#   --sizes      guest RAM sizes in MiB (default 128,256,512)
#   --dirty      MiB the dirtying guest writes per tick (default 96); each size also runs an idle
#                guest (dirties nothing)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$src/build-cluster
runs=4
sizes=128,256,512
dirty=96
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --dirty) dirty=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--build-dir DIR] [--runs N] [--sizes MIB,...] [--dirty MIB]" >&2; exit 2 ;;
  esac
done

export TB_NAME=bench-mig TB_BRIDGE=drvbmbr0 TB_NS_PREFIX=drvbm-h TB_NET=10.77.80 TB_HOSTS=2
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
  --net "$TB_NET" --hosts 2 --samples 0 --no-install "${build_args[@]}" >"$work/up.log" 2>&1 ||
  { tail -n 20 "$work/up.log" >&2; exit 1; }
drover() { "$build_dir/cli/drover" --controller "tcp://$TB_BRIDGE_IP:7702" --timeout 120 "$@"; }

# guest_image DIRTY_MIB — the test guest assembled to dirty DIRTY_MIB per tick (0 = idle).
guest_image() {
  local img="$work/guest-$1.img"
  if [ ! -f "$img" ]; then
    as --32 --defsym "DIRTY_MIB=$1" --defsym LINE_TICKS=4 -o "$work/g.o" "$src/tests/guest/boot.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$img" "$work/g.o"
    truncate -s 1M "$img"
  fi
  echo "$img"
}

printf '%-8s %-9s %-4s %-8s %-10s %-12s %-11s %-12s %s\n' RAM_MiB DIRTY_MiB RUN ROUTE JOB_ms MIGRATION_ms DOWNTIME_ms SENT_MiB SENT/RAM
k=0
IFS=, read -r -a size_list <<<"$sizes"
for mem in "${size_list[@]}"; do
  d=$dirty
  [ "$d" -gt $((mem - 8)) ] && d=$((mem - 8))
  for dm in "$d" 0; do
    k=$((k + 1))
    name="bm$k"
    tb_guest_xml "$name" "$(tb_guest_disk "$name" "$(guest_image "$dm")")" "$mem" >"$work/$name.xml"
    drover domain define "$work/$name.xml" >/dev/null
    drover domain start "$name" >/dev/null
    tb_guest_wait_ticks "$name" 4 30 || true
    for ((r = 1; r <= runs; r++)); do
      from=$(drover --json domain info "$name" | jq -r .host)
      to=h1
      [ "$from" = h1 ] && to=h2
      job=$(drover --json domain migrate "$name" --to "$to")
      jq -r --arg mem "$mem" --arg dm "$dm" --arg r "$r" --arg route "$from>$to" \
        '[$mem, $dm, $r, $route, (.updated_ms - .created_ms), .migrate.result.time_ms,
          .migrate.result.downtime_ms, (.migrate.result.bytes / 1048576 * 10 | floor / 10),
          (.migrate.result.bytes / ($mem | tonumber) / 1048576 * 100 | floor / 100)] | @tsv' <<<"$job" |
        awk -F'\t' '{printf "%-8s %-9s %-4s %-8s %-10s %-12s %-11s %-12s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'
    done
    drover domain destroy "$name" >/dev/null
  done
done
