# shellcheck shell=bash
# tests/system/system_lib.sh — helpers for the system tier: real libvirtd hosts in network namespaces
# (deploy/testbed/), real QEMU (TCG) guests. Source after tests/support/lib.sh.
#
# Each system test uses its own bridge, namespace prefix, subnet and state root, distinct from the
# cluster-up.sh defaults (drvbr0, drv-h, 10.77.0), so tests run while a local cluster is up.

SYS_TESTBED_DIR="$DROVER_SOURCE_DIR/deploy/testbed"
# shellcheck source=../../deploy/testbed/lib.sh
source "$SYS_TESTBED_DIR/lib.sh"
source "$SYS_TESTBED_DIR/host.sh"
source "$SYS_TESTBED_DIR/network.sh"
source "$SYS_TESTBED_DIR/pool.sh"
source "$SYS_TESTBED_DIR/guest.sh"

SYS_GUEST_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest.img"

# A test stopped by a signal (ctest's timeout, Ctrl-C) still runs lib.sh's exit trap, which tears the
# testbed down.
trap 'exit 143' TERM
trap 'exit 130' INT

# sys_require — skips (77) with the reason when this machine cannot run real hosts.
sys_require() {
  local why
  if ! why=$(tb_can_run); then t_skip "$why"; fi
  [ -f "$SYS_GUEST_IMAGE" ] || t_fail "missing $SYS_GUEST_IMAGE (build target drover-guest)"
}

# sys_testbed_up NUMBER HOSTS — a testbed named systest<NUMBER> on bridge drvtbr<NUMBER>, namespaces
# drvt<NUMBER>-h<i>, subnet 10.77.<NUMBER>.0/24, torn down when the test exits (even on failure).
sys_testbed_up() {
  local n=$1 hosts=$2
  export TB_NAME="systest$n" TB_HOSTS="$hosts" TB_BRIDGE="drvtbr$n" TB_NS_PREFIX="drvt$n-h"
  export TB_NET="10.77.$n" TB_ROOT="/run/drover/systest$n"
  unset TB_SHARED
  tb_config
  # Leftovers of an earlier run that was killed before its trap ran.
  bash "$SYS_TESTBED_DIR/testbed-down.sh" --root "$TB_ROOT" >"$T_DIR/testbed-predown.log" 2>&1 || true
  t_on_exit "bash '$SYS_TESTBED_DIR/testbed-down.sh' --root '$TB_ROOT' >'$T_DIR/testbed-down.log' 2>&1"
  local t0=$(date +%s%N)
  bash "$SYS_TESTBED_DIR/testbed-up.sh" >"$T_DIR/testbed-up.log" 2>&1 ||
    t_fail "testbed-up.sh failed: $(tail -n 5 "$T_DIR/testbed-up.log")"
  t_log "testbed of $hosts hosts up in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  sys_keep_host_logs
}

# sys_cluster_up NUMBER — a whole drover cluster through deploy/cluster-up.sh (3 real hosts, etcd,
# the controller, one agent per host, no sample guests) on testbed systest<NUMBER> (bridge
# drvtbr<NUMBER>, subnet 10.77.<NUMBER>.0/24). Torn down by deploy/cluster-down.sh when the test
# exits, even on failure, keeping the daemons' and each libvirtd's logs. Skips when the daemons are
# not built. Sets CONTROLLER and ETCD (and CL_ROOT/CL_LOG_DIR for daemons.sh's cl_pid/cl_spawn);
# defines drover (the CLI on that controller), djson (drover --json) and host_of DOMAIN.
sys_cluster_up() {
  local n=$1 b
  for b in controller/drover-controller hostagent/drover-agent cli/drover; do
    [ -x "$DROVER_BUILD_DIR/$b" ] || t_skip "$b is not built in $DROVER_BUILD_DIR"
  done
  command -v jq >/dev/null || t_skip "jq is not installed"
  export TB_NAME="systest$n" TB_BRIDGE="drvtbr$n" TB_NS_PREFIX="drvt$n-h" TB_NET="10.77.$n"
  export TB_HOSTS=${SYS_HOSTS:-3} # SYS_HOSTS: a test that needs more hypervisor hosts than 3
  export TB_ROOT=/run/drover/$TB_NAME
  unset TB_SHARED
  tb_config
  source "$SYS_TESTBED_DIR/daemons.sh"
  CL_ROOT=$TB_ROOT
  CL_LOG_DIR=$TB_ROOT/logs
  CONTROLLER="tcp://$TB_BRIDGE_IP:7702"
  sys__cluster_down >"$T_DIR/cluster-predown.log" 2>&1 || true
  t_on_exit sys__collect_and_cluster_down
  local t0=$(date +%s%N)
  bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" \
    --ns-prefix "$TB_NS_PREFIX" --net "$TB_NET" --hosts "$TB_HOSTS" --samples 0 --no-install --no-build \
    --build-dir "$DROVER_BUILD_DIR" >"$T_DIR/cluster-up.log" 2>&1 ||
    t_fail "cluster-up.sh failed: $(tail -n 15 "$T_DIR/cluster-up.log")"
  t_log "cluster of $TB_HOSTS hosts up in $(sys_ms_since "$t0") ms"
  # etcd is on https with client certificates (cluster-up's default): the env file it wrote exports
  # ETCDCTL_ENDPOINTS and etcdctl's certificate variables, so every `etcdctl --endpoints "$ETCD"` works
  # shellcheck disable=SC1091
  source "$TB_ROOT/env"
  ETCD=$ETCDCTL_ENDPOINTS
  unset ETCDCTL_ENDPOINTS # etcdctl refuses the variable and --endpoints together (the tests pass it)
  # the cluster's admin key (cluster-up.sh made and enrolled every key in $TB_ROOT/keys)
  CL_CLI=$DROVER_BUILD_DIR/cli/drover
  CL_KEYS=$TB_ROOT/keys
  export DROVER_KEY_FILE=$CL_KEYS/admin.key DROVER_CONTROLLER_KEY=$CL_KEYS/controller.pub
  drover() { "$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" --timeout 60 "$@"; }
  djson() { drover --json "$@"; }
  host_of() { djson domain info "$1" | jq -r '.host'; }
}

sys__cluster_down() { bash "$DROVER_SOURCE_DIR/deploy/cluster-down.sh" --name "$TB_NAME"; }
sys__collect_and_cluster_down() {
  local k
  cp "$TB_ROOT"/logs/*.log "$T_DIR/" 2>/dev/null
  for ((k = 1; k <= TB_HOSTS; k++)); do
    cp "$TB_ROOT/hosts/h$k/log/libvirtd.log" "$T_DIR/libvirtd-h$k.log" 2>/dev/null
  done
  sys__cluster_down >"$T_DIR/cluster-down.log" 2>&1
}

# sys_keep_host_logs — makes every host's libvirtd log part of the logs printed on failure.
sys_keep_host_logs() {
  local i
  for ((i = 1; i <= TB_HOSTS; i++)); do
    t_on_exit "cp '$(tb_host_dir "$i")/log/libvirtd.log' '$T_DIR/libvirtd-h$i.log' 2>/dev/null"
  done
}

# sys_ms_since T0_NS — milliseconds since T0 (from date +%s%N).
sys_ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# sys_qemu_in_ns HOST DOMAIN — checks DOMAIN's QEMU runs and lives in HOST's network namespace.
sys_qemu_in_ns() {
  local i=$1 dom=$2 pid ns
  pid=$(tb_host_qemu_pid "$i" "$dom") || t_fail "no QEMU pid file for $dom on host $i"
  ns=$(ip netns identify "$pid")
  t_eq "network namespace of $dom's QEMU (pid $pid)" "$(tb_ns "$i")" "$ns"
}

# sys_serial_grows DOMAIN N TIMEOUT_S — checks DOMAIN's serial log gains N ticks within TIMEOUT_S.
sys_serial_grows() {
  local dom=$1 n=$2 timeout=$3 from
  from=$(tb_guest_last_tick "$dom")
  T_CHECKS=$((T_CHECKS + 1))
  tb_guest_wait_ticks "$dom" "$n" "$timeout" ||
    t_fail "$dom's serial log did not grow by $n ticks in ${timeout}s (last tick $from, now $(tb_guest_last_tick "$dom"))"
}
