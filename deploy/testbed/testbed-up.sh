#!/usr/bin/env bash
# testbed-up.sh — brings up (or completes) a testbed of N emulated hypervisor hosts; idempotent.
# Usage: testbed-up.sh [--name NAME] [--hosts N] [--bridge BR] [--ns-prefix P] [--net A.B.C]
#                      [--root DIR] [--shared DIR]
# Every setting also reads from the environment (TB_NAME, TB_HOSTS, ...; see lib.sh). Prints the
# hosts' URIs at the end. Must run as root; when the machine cannot run it, says why and exits 77.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/network.sh"
source "$here/host.sh"
source "$here/pool.sh"

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --name) TB_NAME=$2; shift 2 ;;
    --hosts) TB_HOSTS=$2; shift 2 ;;
    --bridge) TB_BRIDGE=$2; shift 2 ;;
    --ns-prefix) TB_NS_PREFIX=$2; shift 2 ;;
    --net) TB_NET=$2; shift 2 ;;
    --root) TB_ROOT=$2; shift 2 ;;
    --shared) TB_SHARED=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
tb_config

if ! why=$(tb_can_run); then
  echo "testbed: this machine cannot run real hosts: $why" >&2
  exit 77
fi

# A second run with fewer hosts must not forget hosts the first one made: keep the larger count in the
# state file (testbed-down.sh stops all of them).
recorded_hosts=$TB_HOSTS
if [ -f "$TB_ROOT/testbed.env" ]; then
  recorded_hosts=$(sed -n 's/^TB_HOSTS=//p' "$TB_ROOT/testbed.env")
  [ "${recorded_hosts:-0}" -gt "$TB_HOSTS" ] 2>/dev/null || recorded_hosts=$TB_HOSTS
fi
want_hosts=$TB_HOSTS
TB_HOSTS=$recorded_hosts
tb_state_write
TB_HOSTS=$want_hosts

t0=$(date +%s%N)
tb_network_bridge_up
tb_pool_dir_up
for ((i = 1; i <= TB_HOSTS; i++)); do
  tb_network_host_up "$i"
  tb_host_prepare "$i"
done
# Host 1 first: its QEMU capability cache seeds the others (and the next testbed on this machine).
tb_host_start 1
tb_host_caps_save 1
for ((i = 2; i <= TB_HOSTS; i++)); do tb_host_launch "$i"; done
for ((i = 2; i <= TB_HOSTS; i++)); do tb_host_wait_ready "$i"; done
for ((i = 1; i <= TB_HOSTS; i++)); do tb_pool_define "$i"; done
# Every host reaches every other host's libvirtd (what p2p migration needs) and the bridge address.
for ((i = 1; i <= TB_HOSTS; i++)); do
  j=$((i % TB_HOSTS + 1))
  tb_network_connect "$i" "$(tb_host_ip "$j")" "$(tb_host_libvirt_port)" ||
    tb_die "host $i cannot reach host $j's libvirtd at $(tb_host_ip "$j"):$(tb_host_libvirt_port)"
done
ms=$((($(date +%s%N) - t0) / 1000000))
tb_log "$TB_HOSTS hosts up in ${ms} ms (bridge $TB_BRIDGE $TB_BRIDGE_IP, shared $TB_SHARED)"
for ((i = 1; i <= TB_HOSTS; i++)); do
  printf '%s %s %s pid=%s %s\n' "$(tb_host_id "$i")" "$(tb_ns "$i")" "$(tb_host_tcp_uri "$i")" \
    "$(tb_host_pid "$i")" "$(tb_host_unix_uri "$i")"
done
