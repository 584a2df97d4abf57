# shellcheck shell=bash
# deploy/testbed/lib.sh — the testbed's settings and small helpers. Source it (bash).
#
# A testbed is N emulated hypervisor hosts on this machine: a bridge in the root network namespace and,
# per host, a network namespace (veth into the bridge), a private mount namespace whose /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are that host's own
# directories, and a libvirtd listening on the host's address. See docs/testbed.md.
#
# Settings (environment, or flags of testbed-up.sh / testbed-down.sh); every name derives from TB_NAME
# unless set:
#   TB_NAME       testbed name (default "drover"); state root /run/drover/$TB_NAME
#   TB_HOSTS      number of hosts (default 3)
#   TB_BRIDGE     bridge name, at most 11 characters (default drvbr0)
#   TB_NS_PREFIX  network namespace name prefix; host i is "${TB_NS_PREFIX}$i" (default drv-h)
#   TB_NET        the /24's first three octets (default 10.77.0): bridge .254, host i .i
#   TB_ROOT       state root (default /run/drover/$TB_NAME)
#   TB_SHARED     the shared directory all hosts see, their storage pool "shared" (default $TB_ROOT/shared)
# Two testbeds can run at once when their bridge, prefix, subnet and name all differ.


# tb_config — fills every unset TB_* setting with its default. Call after reading flags.
tb_config() {
  : "${TB_NAME:=drover}"
  : "${TB_HOSTS:=3}"
  : "${TB_BRIDGE:=drvbr0}"
  : "${TB_NS_PREFIX:=drv-h}"
  : "${TB_NET:=10.77.0}"
  : "${TB_ROOT:=/run/drover/$TB_NAME}"
  : "${TB_SHARED:=$TB_ROOT/shared}"
  TB_BRIDGE_IP="$TB_NET.254"
  export TB_NAME TB_HOSTS TB_BRIDGE TB_NS_PREFIX TB_NET TB_ROOT TB_SHARED
  if [ "${#TB_BRIDGE}" -gt 11 ]; then tb_die "bridge name '$TB_BRIDGE' is longer than 11 characters"; fi
  case "$TB_HOSTS" in '' | *[!0-9]*) tb_die "--hosts must be a number, got '$TB_HOSTS'" ;; esac
  if [ "$TB_HOSTS" -lt 1 ] || [ "$TB_HOSTS" -gt 200 ]; then tb_die "--hosts must be 1..200, got $TB_HOSTS"; fi
}

tb_log() { printf '[testbed %s] %s\n' "${TB_NAME:-?}" "$*" >&2; }
tb_die() {
  printf '[testbed %s] error: %s\n' "${TB_NAME:-?}" "$*" >&2
  exit 1
}

# tb_ns I / tb_host_ip I / tb_host_dir I / tb_host_id I — names of host I (1-based).
tb_ns() { echo "${TB_NS_PREFIX}$1"; }
tb_host_ip() { echo "$TB_NET.$1"; }
tb_host_dir() { echo "$TB_ROOT/hosts/h$1"; }
tb_host_id() { echo "h$1"; }
# tb_veth I — the root-namespace end of host I's veth (the other end is eth0 inside the namespace).
tb_veth() { echo "${TB_BRIDGE}p$1"; }

# tb_host_tcp_uri I — libvirt URI of host I over its address (reachable from every namespace of the
# testbed and from the root namespace through the bridge): qemu+tls, unless TB_TLS=0 (plain qemu+tcp).
# That is the URI the other hosts' libvirtds migrate to (peer to peer, inside their own mount namespace
# where /etc/pki holds their certificates). From outside a host's mount namespace use tb_host_tool_uri.
tb_host_tcp_uri() {
  if [ "${TB_TLS:-1}" = 1 ]; then echo "qemu+tls://$(tb_host_ip "$1")/system"; else echo "qemu+tcp://$(tb_host_ip "$1")/system"; fi
}
# tb_host_libvirt_port — the port a host's libvirtd listens on: 16514 (TLS) or 16509 (TB_TLS=0).
tb_host_libvirt_port() { if [ "${TB_TLS:-1}" = 1 ]; then echo 16514; else echo 16509; fi; }
# tb_host_tool_uri I — tb_host_tcp_uri for a client outside the hosts' mount namespaces (virsh in a
# test): with TLS it names the directory holding the test tools' client certificate (pkipath).
tb_host_tool_uri() {
  if [ "${TB_TLS:-1}" = 1 ]; then echo "$(tb_host_tcp_uri "$1")?pkipath=$TB_ROOT/tls/libvirt/tools"; else tb_host_tcp_uri "$1"; fi
}
# tb_host_unix_uri I — libvirt URI of host I over its unix socket (from any namespace on the machine).
tb_host_unix_uri() { echo "qemu+unix:///system?socket=$(tb_host_dir "$1")/run/libvirt-sock"; }

# tb_virsh I ARGS... — virsh against host I over its unix socket (quiet connect, 10 s keepalive).
tb_virsh() {
  local i=$1
  shift
  virsh -q -c "$(tb_host_unix_uri "$i")" "$@"
}

# tb_pid_is PID PATTERN — true when PID is alive and its command line matches PATTERN (grep -E), so
# a recycled PID is never signalled.
tb_pid_is() {
  local pid=$1 pattern=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -E -- "$pattern" >/dev/null
}

# tb_stop_pid PID PATTERN [TIMEOUT_S] — SIGTERM, wait, then SIGKILL; only when tb_pid_is matches.
tb_stop_pid() {
  local pid=$1 pattern=$2 timeout=${3:-10} i
  tb_pid_is "$pid" "$pattern" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    [ -d "/proc/$pid" ] || return 0
    # A zombie child of ours counts as stopped.
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  tb_gone_wait 5 "$pid"
}

# tb_gone_wait TIMEOUT_S PID... — waits until every PID has exited (or is a zombie): a SIGKILLed
# process may take a moment to go (QEMU releasing its memory), and "stopped" means gone.
tb_gone_wait() {
  local timeout=$1 pid i left
  shift
  for ((i = 0; i < timeout * 10; i++)); do
    left=0
    for pid in "$@"; do
      [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  return 0
}

# tb_stop_pids PATTERN TIMEOUT_S PID... — tb_stop_pid for many processes at once: SIGTERM to all, one
# shared wait, then SIGKILL to what is left.
tb_stop_pids() {
  local pattern=$1 timeout=$2 pid i left
  shift 2
  local pids=()
  for pid in "$@"; do
    tb_pid_is "$pid" "$pattern" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    left=0
    for pid in "${pids[@]}"; do
      [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    tb_pid_is "$pid" "$pattern" && kill -KILL "$pid" 2>/dev/null
  done
  tb_gone_wait 5 "${pids[@]}"
}

# tb_wait TIMEOUT_S COMMAND... — polls COMMAND every 0.1 s; returns 1 on timeout.
tb_wait() {
  local timeout=$1
  shift
  local deadline=$(($(date +%s%N) + timeout * 1000000000))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# tb_can_run — prints why this machine cannot run a real testbed and returns 1, or returns 0.
tb_can_run() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "not root (network namespaces, bridges and bind mounts need root)"
    return 1
  fi
  local cmd
  for cmd in ip unshare libvirtd virsh qemu-system-x86_64 qemu-img; do
    command -v "$cmd" >/dev/null 2>&1 || {
      echo "'$cmd' is not installed (deploy/install-deps.sh)"
      return 1
    }
  done
  local probe="drvprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "cannot create network namespaces here ('ip netns add' failed)"
    return 1
  fi
  ip netns del "$probe" 2>/dev/null || true
  if ! unshare -m --propagation private true 2>/dev/null; then
    echo "cannot create mount namespaces here ('unshare -m' failed)"
    return 1
  fi
  return 0
}

# tb_state_write — records the settings in $TB_ROOT/testbed.env so testbed-down.sh finds them.
tb_state_write() {
  mkdir -p "$TB_ROOT"
  {
    local v
    for v in TB_NAME TB_HOSTS TB_BRIDGE TB_NS_PREFIX TB_NET TB_ROOT TB_SHARED; do
      printf '%s=%q\n' "$v" "${!v}"
    done
  } >"$TB_ROOT/testbed.env"
}

# tb_state_read ROOT — loads a testbed's recorded settings; returns 1 when there are none.
tb_state_read() {
  local f="$1/testbed.env"
  [ -f "$f" ] || return 1
  # shellcheck disable=SC1090
  source "$f"
}

# shellcheck source=tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"
