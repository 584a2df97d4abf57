# shellcheck shell=bash
# deploy/testbed/network.sh — the testbed's network: a bridge in the root namespace holding
# $TB_NET.254/24 and, per host, a network namespace with eth0 = $TB_NET.i/24 on a veth into the bridge.
# No default route and no forwarding: nothing leaves the machine. Source lib.sh first.

# tb_network_bridge_up — creates the bridge (idempotent).
tb_network_bridge_up() {
  if ! ip link show "$TB_BRIDGE" >/dev/null 2>&1; then
    ip link add "$TB_BRIDGE" type bridge || tb_die "cannot create bridge $TB_BRIDGE"
  fi
  if ! ip -4 addr show dev "$TB_BRIDGE" | grep "inet $TB_BRIDGE_IP/24" >/dev/null; then
    ip addr add "$TB_BRIDGE_IP/24" dev "$TB_BRIDGE" || tb_die "cannot add $TB_BRIDGE_IP/24 to $TB_BRIDGE"
  fi
  ip link set "$TB_BRIDGE" up
}

# tb_network_host_up I — creates host I's namespace and veth (idempotent).
tb_network_host_up() {
  local i=$1 ns veth ip
  ns=$(tb_ns "$i")
  veth=$(tb_veth "$i")
  ip=$(tb_host_ip "$i")
  if ! ip netns list | awk '{print $1}' | grep -x "$ns" >/dev/null; then
    ip netns add "$ns" || tb_die "cannot create network namespace $ns"
  fi
  ip -n "$ns" link set lo up
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    # A veth left from a namespace deleted a moment ago disappears asynchronously.
    tb_wait 10 sh -c "! ip link show '$veth' >/dev/null 2>&1" ||
      tb_die "stale interface $veth still exists"
    ip link add "$veth" type veth peer name eth0 netns "$ns" ||
      tb_die "cannot create veth $veth for $ns"
  fi
  ip link set "$veth" master "$TB_BRIDGE"
  ip link set "$veth" up
  if ! ip -n "$ns" -4 addr show dev eth0 | grep "inet $ip/24" >/dev/null; then
    ip -n "$ns" addr add "$ip/24" dev eth0 || tb_die "cannot add $ip/24 in $ns"
  fi
  ip -n "$ns" link set eth0 up
}

# tb_network_host_down I — deletes host I's namespace (its veth goes with it). Processes still
# inside keep the namespace alive: stop them first.
tb_network_host_down() {
  local i=$1 ns veth
  ns=$(tb_ns "$i")
  veth=$(tb_veth "$i")
  if ip netns list | awk '{print $1}' | grep -x "$ns" >/dev/null; then
    ip netns del "$ns" || tb_log "warning: cannot delete namespace $ns"
  fi
  # Deleting the namespace destroys the veth pair asynchronously; wait, then insist.
  if ! tb_wait 10 sh -c "! ip link show '$veth' >/dev/null 2>&1"; then
    ip link del "$veth" 2>/dev/null || tb_log "warning: interface $veth remains"
  fi
}

# tb_network_bridge_down — deletes the bridge.
tb_network_bridge_down() {
  if ip link show "$TB_BRIDGE" >/dev/null 2>&1; then
    ip link del "$TB_BRIDGE" || tb_log "warning: cannot delete bridge $TB_BRIDGE"
  fi
}

# tb_network_connect I ADDR PORT — true when a TCP connection from inside host I's namespace to
# ADDR:PORT succeeds within 2 s (there is no ping on a minimal machine; bash's /dev/tcp is enough).
tb_network_connect() {
  ip netns exec "$(tb_ns "$1")" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}
