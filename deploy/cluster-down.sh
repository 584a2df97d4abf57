#!/usr/bin/env bash
# cluster-down.sh — stops everything deploy/cluster-up.sh started: the drover-agents, the controller
# and etcd by their recorded PIDs (last started first), then the testbed (every host's QEMUs and
# libvirtd by PID, the namespaces, veths and bridge), and removes etcd's data and the state directory.
# Safe to run twice, or after a cluster-up.sh that failed half-way.
# Usage: deploy/cluster-down.sh [--name NAME]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/deploy/testbed/lib.sh"
source "$src/deploy/testbed/daemons.sh"

TB_NAME=${TB_NAME:-drover}
while [ $# -gt 0 ]; do
  case "$1" in
    --name) TB_NAME=$2; shift 2 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: deploy/cluster-down.sh [--name NAME]" >&2; exit 2 ;;
  esac
done

# The state directory: root's clusters live in /run/drover, others' (test driver) in their runtime dir.
roots=()
[ -n "${TB_ROOT:-}" ] && roots+=("$TB_ROOT")
roots+=("/run/drover/$TB_NAME" "${XDG_RUNTIME_DIR:-/tmp}/drover-$(id -u)/$TB_NAME" "/tmp/drover-$(id -u)/$TB_NAME")
found=0
for root in "${roots[@]}"; do
  [ -d "$root" ] || continue
  found=1
  CL_ROOT=$root
  CL_DRIVER=
  CL_ETCD_DATA=
  [ -f "$root/cluster.env" ] && source "$root/cluster.env"
  cl_stop_all
  echo "==> stopped the processes cluster-up.sh recorded in $root/pids"
  if [ -f "$root/testbed.env" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "cluster-down: the testbed in $root needs root to remove" >&2
      exit 1
    fi
    bash "$src/deploy/testbed/testbed-down.sh" --root "$root"
    echo "==> removed the hosts, their namespaces and the bridge"
  fi
  if [ -n "$CL_ETCD_DATA" ]; then
    case "$CL_ETCD_DATA" in /dev/shm/drover-*) rm -rf "$CL_ETCD_DATA" ;; esac
  fi
  rm -rf "$root"
done
if [ "$found" = 0 ]; then
  echo "==> no cluster named '$TB_NAME' here; nothing to do"
else
  echo "==> cluster '$TB_NAME' is down"
fi
