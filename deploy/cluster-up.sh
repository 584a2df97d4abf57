#!/usr/bin/env bash
# cluster-up.sh — a local drover cluster on this machine, in one command (the README's first one).
#
# Usage: deploy/cluster-up.sh [--hosts N] [--driver qemu|test] [--samples N] [--name NAME]
#                             [--build-dir DIR] [--no-install] [--no-build]
#                             [--bridge BR] [--net A.B.C] [--ns-prefix P]
#
#   --driver qemu (default, root): N emulated hypervisor hosts, each a real libvirtd in its own network
#       and mount namespace on bridge drvbr0 (10.77.0.254/24, hosts 10.77.0.1..N), real QEMU (TCG)
#       guests on a shared directory; etcd and drover-controller listen on 10.77.0.254; one
#       drover-agent runs inside each host's namespace.
#   --driver test: the same cluster with every agent on libvirt's test driver, all on loopback, no
#       namespaces and no root needed (no live migration: the test driver cannot migrate).
#
# It installs missing packages, builds (Release, in build-cluster/), starts what is not running yet,
# builds the test guest, defines and starts --samples domains (default 3) through the drover CLI and
# prints `drover host list` and `drover domain list`. Running it again completes or reuses what runs;
# it starts a sample only when drover reports it shut off and not busy (never one whose state is
# unknown: its host unreachable or its libvirt disconnected, where it may still run).
# Every PID it starts is recorded; deploy/cluster-down.sh stops exactly those and removes the rest.
# Secured by default: every ZeroMQ socket is CURVE (keys in $CL_ROOT/keys, every host enrolled), etcd
# serves https only and requires a client certificate (certificates in $CL_ROOT/tls/etcd), and the
# libvirtds migrate over TLS (qemu+tls, per-host certificates; docs/security.md).
# CL_ETCD_TLS=0 (environment) starts etcd on plain http instead, for debugging only.
# Ports (environment): CL_ETCD_PORT (2379), CL_ETCD_PEER_PORT (2380), CL_AGENT_PORT (7701),
# CL_CLIENT_PORT (7702), CL_EVENT_PORT (7703).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/deploy/testbed/lib.sh"
source "$src/deploy/testbed/daemons.sh"
source "$src/deploy/testbed/guest.sh"

driver=qemu
samples=3
build_dir="$src/build-cluster"
do_install=1
do_build=1
TB_NAME=${TB_NAME:-drover}
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) TB_HOSTS=$2; shift 2 ;;
    --driver) driver=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --name) TB_NAME=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-install) do_install=0; shift ;;
    --no-build) do_build=0; shift ;;
    --bridge) TB_BRIDGE=$2; shift 2 ;;
    --net) TB_NET=$2; shift 2 ;;
    --ns-prefix) TB_NS_PREFIX=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
case "$driver" in qemu | test) ;; *) echo "cluster-up: --driver must be qemu or test" >&2; exit 2 ;; esac
case "$samples" in '' | *[!0-9]*) echo "cluster-up: --samples must be a number" >&2; exit 2 ;; esac

say() { printf '==> %s\n' "$*"; }
t_start=$(date +%s%N)

# 0. Packages, first: what the checks below look for (libvirtd, qemu, ip) is what it installs.
if [ "$do_install" = 1 ]; then
  say "installing missing packages (deploy/install-deps.sh)"
  bash "$src/deploy/install-deps.sh"
fi

if [ "$driver" = qemu ]; then
  if ! why=$(tb_can_run); then
    cat >&2 <<EOF
cluster-up: this machine cannot run real hypervisor hosts: $why.
  Run it as root on a machine with network namespaces (Debian 12), or start the same cluster on
  libvirt's test driver, all on loopback and without root:
    deploy/cluster-up.sh --driver test
EOF
    exit 1
  fi
  TB_ROOT=${TB_ROOT:-/run/drover/$TB_NAME}
else
  if [ "$(id -u)" -eq 0 ]; then
    TB_ROOT=${TB_ROOT:-/run/drover/$TB_NAME}
  else
    TB_ROOT=${TB_ROOT:-${XDG_RUNTIME_DIR:-/tmp}/drover-$(id -u)/$TB_NAME}
  fi
fi
tb_config
CL_ROOT=$TB_ROOT
CL_LOG_DIR=$CL_ROOT/logs
mkdir -p "$CL_ROOT" "$CL_LOG_DIR"
if [ -f "$CL_ROOT/cluster.env" ] && ! grep -qx "CL_DRIVER=$driver" "$CL_ROOT/cluster.env"; then
  echo "cluster-up: cluster '$TB_NAME' already runs with another driver; run deploy/cluster-down.sh first" >&2
  exit 1
fi

# 1. Build.
if [ "$do_build" = 1 ]; then
  say "building into $build_dir"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >"$CL_LOG_DIR/cmake-configure.log" 2>&1 ||
      { tail -n 30 "$CL_LOG_DIR/cmake-configure.log" >&2; tb_die "cmake configure failed"; }
  fi
  cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)" \
    --target drover-controller drover-agent drover drover-guest >"$CL_LOG_DIR/cmake-build.log" 2>&1 ||
    { tail -n 30 "$CL_LOG_DIR/cmake-build.log" >&2; tb_die "build failed (log: $CL_LOG_DIR/cmake-build.log)"; }
fi
# find_bin DIR/NAME — the built program, where CMake puts it (or anywhere in the build tree).
find_bin() {
  local f="$build_dir/$1"
  if [ ! -x "$f" ]; then
    f=$(find "$build_dir" -name "$(basename "$1")" -type f -perm -u+x -not -path '*/CMakeFiles/*' \
      2>/dev/null | head -n 1)
  fi
  [ -n "$f" ] || tb_die "$(basename "$1") not found in $build_dir (build it, or pass --build-dir)"
  echo "$f"
}
controller_bin=$(find_bin controller/drover-controller)
agent_bin=$(find_bin hostagent/drover-agent)
cli_bin=$(find_bin cli/drover)
guest_img="$build_dir/tests/guest/drover-guest.img"
[ -f "$guest_img" ] || tb_die "test guest image $guest_img not built (target drover-guest)"

if [ "$driver" = qemu ]; then
  addr=$TB_BRIDGE_IP
else
  addr=127.0.0.1
fi
etcd_port=${CL_ETCD_PORT:-2379}
etcd_peer_port=${CL_ETCD_PEER_PORT:-2380}
agent_port=${CL_AGENT_PORT:-7701}
client_port=${CL_CLIENT_PORT:-7702}
event_port=${CL_EVENT_PORT:-7703}
controller_url="tcp://$addr:$client_port"
{
  echo "CL_DRIVER=$driver"
  printf 'CL_BUILD_DIR=%q\n' "$build_dir"
  printf 'CL_ETCD_DATA=%q\n' "/dev/shm/drover-$TB_NAME-$(id -u)-etcd"
  echo "CL_CONTROLLER=$controller_url"
  echo "CL_EVENTS=tcp://$addr:$event_port"
} >"$CL_ROOT/cluster.env"
etcd_data="/dev/shm/drover-$TB_NAME-$(id -u)-etcd"

# 2. Hosts.
if [ "$driver" = qemu ]; then
  say "starting $TB_HOSTS hypervisor hosts (bridge $TB_BRIDGE $TB_BRIDGE_IP/24, namespaces ${TB_NS_PREFIX}1..$TB_HOSTS)"
  bash "$src/deploy/testbed/testbed-up.sh" >"$CL_LOG_DIR/testbed-up.log" 2>&1 ||
    { tail -n 20 "$CL_LOG_DIR/testbed-up.log" >&2; tb_die "testbed-up.sh failed"; }
fi

# 3. etcd and the controller.
cl_etcd_tls_init "$addr"
etcd_url="$CL_ETCD_SCHEME://$addr:$etcd_port"
say "starting etcd on $etcd_url${CL_ETCD_TLS_DIR:+ (client certificates required)} (data $etcd_data)"
cl_etcd_start "$addr" "$etcd_port" "$etcd_peer_port" "$etcd_data"
say "starting drover-controller on $addr (agents :$agent_port, clients :$client_port, events :$event_port)"
cl_keys_init "$cli_bin"
cl_controller_conf "$CL_ROOT/controller.conf" "$addr" "$etcd_url" \
  "$agent_port" "$client_port" "$event_port"
if ! cl_pid controller >/dev/null; then
  for p in "$agent_port" "$client_port" "$event_port"; do
    cl_port_busy "$addr" "$p" && tb_die "port $addr:$p is taken (another controller? set CL_*_PORT)"
  done
fi
cl_spawn controller 'drover-controller' "$controller_bin" --config "$CL_ROOT/controller.conf"
cl_wait_listen "$addr" "$client_port" 30 ||
  { tail -n 20 "$CL_LOG_DIR/controller.log" >&2; tb_die "drover-controller does not listen on $addr:$client_port"; }

# 4. One agent per host, each holding its own fencing lease in etcd (docs/ha.md).
mkdir -p "$CL_ROOT/agents"
export CL_AGENT_ETCD="$etcd_url"
# CL_STANDBY_AGENT_PORT: a standby controller's agent port the agents try when theirs stops answering
agent_controllers="tcp://$addr:$agent_port${CL_STANDBY_AGENT_PORT:+,tcp://$addr:$CL_STANDBY_AGENT_PORT}"
for ((i = 1; i <= TB_HOSTS; i++)); do
  id=$(tb_host_id "$i")
  conf="$CL_ROOT/agents/$id.conf"
  cl_host_key "$id" "$controller_url"
  if [ "$driver" = qemu ]; then
    cl_agent_conf "$conf" "$id" "$agent_controllers" "$(tb_host_unix_uri "$i")" "$(tb_host_tcp_uri "$i")"
    cl_spawn "agent-$id" 'drover-agent' ip netns exec "$(tb_ns "$i")" "$agent_bin" --config "$conf"
  else
    cl_test_node_xml "$CL_ROOT/agents/$id-node.xml"
    uuid=$(printf 'drover-test-host %s %s' "$TB_NAME" "$i" | md5sum | cut -c1-32 |
      sed -E 's/(.{8})(.{4})(.{4})(.{4})(.{12})/\1-\2-\3-\4-\5/')
    cl_agent_conf "$conf" "$id" "$agent_controllers" "test://$CL_ROOT/agents/$id-node.xml" \
      "test://$CL_ROOT/agents/$id-node.xml" "$uuid"
    cl_spawn "agent-$id" 'drover-agent' "$agent_bin" --config "$conf"
  fi
done
say "started ${TB_HOSTS} drover-agents; waiting for them to register"
drover() { "$cli_bin" --controller "$controller_url" "$@"; }
hosts_reachable() {
  local n
  n=$(drover --json host list 2>/dev/null | jq '[.hosts[] | select(.reachable == true)] | length' 2>/dev/null)
  [ "${n:-0}" -ge "$TB_HOSTS" ]
}
if ! tb_wait 60 hosts_reachable; then
  tail -n 10 "$CL_LOG_DIR"/agent-h1.log "$CL_LOG_DIR"/controller.log >&2 2>/dev/null || true
  tb_die "not all $TB_HOSTS agents registered within 60 s (logs in $CL_LOG_DIR)"
fi

# 5. Sample domains: the test guest, a qcow2 overlay in the shared directory.
if [ "$samples" -gt 0 ]; then
  if [ "$driver" = qemu ]; then
    say "defining and starting $samples sample domains (the test guest; serial logs in $TB_SHARED/serial)"
  else
    say "defining and starting $samples sample domains (test-driver domains)"
  fi
  for ((k = 1; k <= samples; k++)); do
    name="vm$k"
    if ! drover domain info "$name" >/dev/null 2>&1; then
      if [ "$driver" = qemu ]; then
        disk=$(tb_guest_disk "$name" "$guest_img")
        tb_guest_xml "$name" "$disk" 128 >"$CL_ROOT/$name.xml"
      else
        cat >"$CL_ROOT/$name.xml" <<EOF
<domain type='test'>
  <name>$name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
EOF
      fi
      drover domain define "$CL_ROOT/$name.xml" >/dev/null || tb_die "drover domain define $name failed"
    fi
    # Start a sample only when drover knows it is off and nothing is being done to it: a sample
    # whose state is unknown (its host unreachable, libvirt disconnected, no inventory yet) may
    # still run there, and a busy one (start, migration, drain) is being moved or started already.
    info=$(drover --json domain info "$name" 2>/dev/null) || info=
    state=$(jq -r '.state // empty' <<<"$info" 2>/dev/null || true)
    busy=$(jq -r '.busy // empty' <<<"$info" 2>/dev/null || true)
    case "$state" in
      "shut off" | crashed)
        if [ -n "$busy" ]; then
          say "sample $name: a $busy is in progress; not starting it"
        else
          drover domain start "$name" >/dev/null || tb_die "drover domain start $name failed"
        fi
        ;;
      running | paused | blocked) ;;
      "") say "sample $name: drover did not say what state it is in; not starting it" ;;
      *) say "sample $name is '$state'${busy:+ (a $busy is in progress)}; not starting it" ;;
    esac
  done
fi

# 6. An env file for the user's shell, the listings and what to try next.
cat >"$CL_ROOT/env" <<EOF
export DROVER_CONTROLLER=$controller_url
export DROVER_EVENTS=tcp://$addr:$event_port
export DROVER_KEY_FILE=$CL_KEYS/admin.key
export DROVER_CONTROLLER_KEY=$CL_KEYS/controller.pub
export PATH=$(dirname "$cli_bin"):\$PATH
export ETCDCTL_ENDPOINTS=$etcd_url
EOF
if [ -n "$CL_ETCD_TLS_DIR" ]; then
  cat >>"$CL_ROOT/env" <<EOF
export ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY
EOF
fi
echo
say "drover host list"
drover host list || true
echo
say "drover domain list"
drover domain list || true
echo
say "cluster '$TB_NAME' ($driver driver, $TB_HOSTS hosts) is up in $((($(date +%s%N) - t_start) / 1000000)) ms"
cat <<EOF

Next, try:
  source $CL_ROOT/env                 # DROVER_CONTROLLER, the admin key (CURVE) and PATH for drover
  drover host list
  drover domain list
  drover domain info vm1
  drover snapshot create vm1 s1 && drover snapshot list vm1
  drover domain suspend vm1 && drover domain resume vm1
  drover capacity --vcpus 1 --memory 128MiB
EOF
if [ "$driver" = qemu ]; then
  cat <<EOF
  drover domain migrate vm1 --to h2   # live migration between real libvirtd hosts
  tail -f $TB_SHARED/serial/vm1.log   # the guest's counter keeps going
  virsh -c '$(tb_host_unix_uri 1)' list   # host h1 with plain virsh
EOF
fi
cat <<EOF
Logs: $CL_LOG_DIR. Stop everything: deploy/cluster-down.sh$([ "$TB_NAME" != drover ] && echo " --name $TB_NAME")
EOF
