# cluster.sh — the integration tier's cluster for the controller tests: a real etcd, a real
# drover-controller and 3 drover-agents, each on its own libvirt test-driver host
# (test:///ABS/nodeN.xml, different sizes), all on loopback. Source after tests/support/lib.sh.
#
#   cluster_up            etcd + controller + 3 agents, waits until the 3 hosts are reachable
#   ctl_start / ctl_stop  (re)start or stop the controller (CTL_PID)
#   agent_start N / agent_stop N   (AGENT_PID[N]); hosts are h1 (4 cpus, 4 GiB),
#                         h2 (8 cpus, 8 GiB), h3 (16 cpus, 16 GiB), 512 MiB reserved each
#   dr ARGS...            runs the real `drover --json` CLI against this controller
#   dom_xml NAME MIB [VCPUS]  prints a test-driver domain definition
#   etcd_get KEY          prints the value stored at PREFIX/KEY (empty when absent)
#   CTL_EXTRA: more lines for the controller's configuration (after [scheduler]); STATS_MS: the
#   agents' stats_interval_ms.
#   Every socket is CURVE: sec_init makes the keys, agent_key N enrols hN (see below).

CTL_BIN=$DROVER_BUILD_DIR/controller/drover-controller
AGENT_BIN=$DROVER_BUILD_DIR/hostagent/drover-agent
CLI_BIN=$DROVER_BUILD_DIR/cli/drover
for b in "$CTL_BIN" "$AGENT_BIN" "$CLI_BIN"; do
  [ -x "$b" ] || t_skip "$b is not built"
done
command -v etcd >/dev/null || t_skip "etcd is not installed"
command -v jq >/dev/null || t_skip "jq is not installed"

PREFIX=/drover/t$$/
HB_MS=${HB_MS:-300}
declare -a AGENT_PID
CTL_PID=
CTL_RUNS=0

# sec_init — the cluster's CURVE keys under $T_DIR/keys (once): the controller's, one client key
# per role (admin, operator, viewer) and one per agent (h1..h3, made by agent_key). The CLI runs as
# admin (DROVER_KEY_FILE); `dr_as ROLE ARGS...` runs it with another role's key.
KEY_DIR=
sec_init() {
  [ -n "$KEY_DIR" ] && return 0
  KEY_DIR=$T_DIR/keys
  mkdir -p "$KEY_DIR"
  local k
  for k in controller admin operator viewer; do
    "$CLI_BIN" keygen "$KEY_DIR/$k" >/dev/null || t_fail "keygen $k"
  done
  export DROVER_KEY_FILE=$KEY_DIR/admin.key
  export DROVER_CONTROLLER_KEY=$KEY_DIR/controller.pub
}

# sec_conf — the [security] and [clients] groups of the controller's configuration
# (DISK_ALLOW_PREFIXES, when set: [security] disk_allow_prefixes; SECURITY_EXTRA: more lines).
sec_conf() {
  sec_init
  cat <<CONF
[security]
secret_key_file = $KEY_DIR/controller.key
${DISK_ALLOW_PREFIXES:+disk_allow_prefixes = $DISK_ALLOW_PREFIXES}
${SECURITY_EXTRA:-}
[clients]
admin = admin $(cat "$KEY_DIR/admin.pub")
operator = operator $(cat "$KEY_DIR/operator.pub")
viewer = viewer $(cat "$KEY_DIR/viewer.pub")
CONF
}

# dr_as ROLE ARGS... — the CLI (JSON) with ROLE's client key.
dr_as() {
  local role=$1
  shift
  DROVER_KEY_FILE=$KEY_DIR/$role.key "$CLI_BIN" --json --timeout 20 "$@"
}

# agent_key N — host hN's key pair, enrolled with the running controller (once per test).
agent_key() {
  local n=$1
  sec_init
  [ -f "$KEY_DIR/h$n.key" ] || "$CLI_BIN" keygen "$KEY_DIR/h$n" >/dev/null || t_fail "keygen h$n"
  if [ ! -f "$KEY_DIR/h$n.enrolled" ] && [ -n "$CTL_PID" ]; then
    dr host enroll "h$n" "$KEY_DIR/h$n.pub" >/dev/null || t_fail "enrolling h$n"
    touch "$KEY_DIR/h$n.enrolled"
  fi
}

cluster_ports() {
  sec_init
  AGENT_PORT=$(t_free_port)
  CLIENT_PORT=$(t_free_port)
  EVENT_PORT=$(t_free_port)
  export DROVER_CONTROLLER="tcp://127.0.0.1:$CLIENT_PORT"
  export DROVER_EVENTS="tcp://127.0.0.1:$EVENT_PORT"
}

ctl_start() {
  CTL_RUNS=$((CTL_RUNS + 1))
  cat >"$T_DIR/controller.conf" <<CONF
[controller]
etcd_endpoints = $ETCD_ENDPOINT
prefix = $PREFIX
agent_bind = tcp://127.0.0.1:$AGENT_PORT
client_bind = tcp://127.0.0.1:$CLIENT_PORT
event_bind = tcp://127.0.0.1:$EVENT_PORT
heartbeat_interval_ms = $HB_MS
liveness = 3
command_timeout_ms = ${CMD_TIMEOUT_MS:-10000}
leader_ttl_s = ${LEADER_TTL_S:-3}
${CTL_EXTRA:-}
[scheduler]
cpu_ratio = ${CPU_RATIO:-4}
memory_ratio = 1.0
weigher = spread
${CTL_EXTRA:-}
CONF
  sec_conf >>"$T_DIR/controller.conf"
  if [ "${ETCD_TLS:-0}" = 1 ]; then
    sed -i "/^\[controller\]/a etcd_ca_file = $ETCD_TLS_DIR/ca.pem\netcd_cert_file = $ETCD_TLS_DIR/client.pem\netcd_key_file = $ETCD_TLS_DIR/client.key" "$T_DIR/controller.conf"
  fi
  # started here rather than through t_spawn's $(...) so that the test shell can `wait` for its
  # exit status
  "$CTL_BIN" --config "$T_DIR/controller.conf" --log-level debug \
    >"$T_DIR/controller-$CTL_RUNS.log" 2>&1 &
  CTL_PID=$!
  T_PIDS+=("$CTL_PID")
  t_wait_for "controller answers cluster status" 20 \
    sh -c "'$CLI_BIN' --json --timeout 2 cluster status | jq -e '.is_leader == true'"
}

ctl_stop() {
  [ -n "$CTL_PID" ] && t_stop "$CTL_PID" "${1:-TERM}"
  CTL_PID=
}

agent_write() {
  local n=$1 cpus mem_kib
  case $n in
    1) cpus=4; mem_kib=$((4 * 1024 * 1024)) ;;
    2) cpus=8; mem_kib=$((8 * 1024 * 1024)) ;;
    3) cpus=16; mem_kib=$((16 * 1024 * 1024)) ;;
  esac
  cat >"$T_DIR/node$n.xml" <<NODE
<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>$cpus</active><nodes>1</nodes><sockets>1</sockets><cores>$cpus</cores><threads>1</threads></cpu>
  <memory>$mem_kib</memory>
  ${NODE_EXTRA_XML:-}
</node>
NODE
  agent_key "$n"
  cat >"$T_DIR/agent$n.conf" <<CONF
[agent]
host_id = h$n
controller = tcp://127.0.0.1:$AGENT_PORT
secret_key_file = $KEY_DIR/h$n.key
controller_key = $KEY_DIR/controller.pub
libvirt_uri = test://$T_DIR/node$n.xml
heartbeat_interval_ms = $HB_MS
${STATS_MS:+stats_interval_ms = $STATS_MS}
reserved_memory = 512MiB
[labels]
rack = r$n
[test]
cpu_model = Skylake-Client
cpu_features = sse4.2, avx2, aes
host_uuid = 00000000-0000-4000-8000-00000000000$n
arch = x86_64
CONF
}

agent_start() {
  local n=$1
  [ -f "$T_DIR/agent$n.conf" ] || agent_write "$n"
  agent_key "$n"
  AGENT_PID[$n]=$(t_spawn "agent$n-$RANDOM" "$AGENT_BIN" --config "$T_DIR/agent$n.conf" \
    --log-level debug)
}

agent_stop() {
  local n=$1
  [ -n "${AGENT_PID[$n]:-}" ] && t_stop "${AGENT_PID[$n]}" "${2:-TERM}"
  AGENT_PID[$n]=
}

dr() {
  "$CLI_BIN" --json --timeout 20 "$@"
}

# host_reachable ID true|false — succeeds when `drover host show ID` says so.
host_reachable() {
  dr host show "$1" | jq -e --argjson want "$2" '.reachable == $want' >/dev/null
}

cluster_up() {
  etcd_start
  cluster_ports
  ctl_start
  for n in 1 2 3; do agent_start "$n"; done
  for n in 1 2 3; do
    t_wait_for "host h$n reachable" 20 host_reachable "h$n" true
  done
}

dom_xml() {
  local name=$1 mib=$2 vcpus=${3:-1}
  cat <<XML
<domain type='test'>
  <name>$name</name>
  <memory unit='MiB'>$mib</memory>
  <vcpu>$vcpus</vcpu>
  <os><type>hvm</type></os>
</domain>
XML
}

# dom_xml_pinned NAME MIB RACK — a definition that requires the host label rack=RACK (drover
# metadata), i.e. host h<N> for rack rN.
dom_xml_pinned() {
  cat <<XML
<domain type='test'>
  <name>$1</name>
  <memory unit='MiB'>$2</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <metadata>
    <drover:drover xmlns:drover="https://drover.dev/xml/1"><drover:labels>rack=$3</drover:labels></drover:drover>
  </metadata>
</domain>
XML
}

etcd_get() {
  # shellcheck disable=SC2086 # ETCDCTL_TLS is a list of flags
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" $ETCDCTL_TLS get --print-value-only "$PREFIX$1"
}

etcd_count() {
  # shellcheck disable=SC2086
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" $ETCDCTL_TLS get --prefix --keys-only "$PREFIX$1" |
    grep -c . || true
}

# events_start FILE — `drover --json events` in the background, one JSON document per event.
events_start() {
  EVENTS_PID=$(t_spawn "events-$RANDOM" sh -c "exec '$CLI_BIN' --json events >'$1'")
  sleep 0.5 # let the SUB socket connect before the events the test waits for
}

# cluster_down — stops the controller with SIGTERM and checks a clean exit (0: no leak reported by
# LeakSanitizer either) and that no sanitizer complained in any controller log.
cluster_down() {
  if [ -n "$CTL_PID" ]; then
    kill -TERM "$CTL_PID"
    local rc=0
    wait "$CTL_PID" || rc=$?
    CTL_PID=
    t_eq "controller exits 0 on SIGTERM" 0 "$rc"
  fi
  t_check "no sanitizer report in the controller logs" \
    sh -c "! grep -lE 'runtime error|AddressSanitizer|LeakSanitizer' '$T_DIR'/controller-*.log"
}
