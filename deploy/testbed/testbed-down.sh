#!/usr/bin/env bash
# testbed-down.sh — stops a testbed: every host's QEMUs, libvirtd and virtlockd by PID, deletes the
# namespaces, the veths and the bridge, and removes the state directory (the shared directory too,
# unless --keep-shared). Safe to run twice or on a half-built testbed.
# Usage: testbed-down.sh [--name NAME | --root DIR] [--keep-shared]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/network.sh"
source "$here/host.sh"

keep_shared=0
while [ $# -gt 0 ]; do
  case "$1" in
    --name) TB_NAME=$2; shift 2 ;;
    --root) TB_ROOT=$2; shift 2 ;;
    --keep-shared) keep_shared=1; shift ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: testbed-down.sh [--name NAME | --root DIR] [--keep-shared]" >&2; exit 2 ;;
  esac
done
: "${TB_NAME:=drover}"
: "${TB_ROOT:=/run/drover/$TB_NAME}"
if ! tb_state_read "$TB_ROOT"; then
  # Without a record, the names are unknown: never guess (another testbed may use the defaults).
  tb_log "no testbed recorded in $TB_ROOT; nothing to stop"
  [ -d "$TB_ROOT/hosts" ] && tb_log "warning: $TB_ROOT/hosts exists without testbed.env; left alone"
  exit 0
fi
tb_config

[ "$(id -u)" -eq 0 ] || tb_die "must run as root"

n=$TB_HOSTS
for d in "$TB_ROOT"/hosts/h*; do
  [ -d "$d" ] || continue
  k=${d##*/h}
  case "$k" in '' | *[!0-9]*) continue ;; esac
  [ "$k" -gt "$n" ] && n=$k
done
# Every host's QEMUs at once (each takes ~1 s to stop), then every libvirtd at once.
qemus=()
libvirtds=()
lockds=()
for ((i = 1; i <= n; i++)); do
  [ -d "$(tb_host_dir "$i")" ] || continue
  mapfile -t -O "${#qemus[@]}" qemus < <(tb_host_qemu_pids "$i")
  pid=$(cat "$(tb_host_dir "$i")/libvirtd.pid" 2>/dev/null) && libvirtds+=("$pid")
  pid=$(cat "$(tb_host_dir "$i")/run/virtlockd.pid" 2>/dev/null) && lockds+=("$pid")
done
tb_stop_pids 'qemu-system' 10 "${qemus[@]}"
tb_stop_pids 'libvirtd' 15 "${libvirtds[@]}"
tb_stop_pids 'virtlockd' 10 "${lockds[@]}"
for ((i = 1; i <= n; i++)); do
  tb_network_host_down "$i"
done
tb_network_bridge_down
if [ "$keep_shared" = 1 ]; then
  rm -rf "$TB_ROOT/hosts" "$TB_ROOT/testbed.env"
else
  rm -rf "$TB_ROOT"
fi
tb_log "down"
