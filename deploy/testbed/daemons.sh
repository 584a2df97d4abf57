# shellcheck shell=bash
# deploy/testbed/daemons.sh — the long-running processes of a local cluster (etcd, drover-controller,
# one drover-agent per host), started detached (setsid) and recorded by PID in $CL_ROOT/pids, one
# "NAME PID PATTERN" line each, so cluster-down.sh stops exactly those processes (the pattern is checked
# against /proc/PID/cmdline first, so a recycled PID is never signalled). Source lib.sh first.
#
# Settings: CL_ROOT (state: configs, logs, pids), CL_LOG_DIR (default $CL_ROOT/logs).

# cl_pid NAME — prints the recorded PID of NAME when that process still runs, else fails.
cl_pid() {
  local name=$1 line pid pattern
  line=$(awk -v n="$name" '$1 == n { l = $0 } END { if (l != "") print l }' "$CL_ROOT/pids" 2>/dev/null)
  [ -n "$line" ] || return 1
  pid=$(awk '{print $2}' <<<"$line")
  pattern=$(cut -d' ' -f3- <<<"$line")
  tb_pid_is "$pid" "$pattern" || return 1
  echo "$pid"
}

# cl_spawn NAME PATTERN CMD... — starts CMD detached unless NAME already runs; its output goes to
# $CL_LOG_DIR/NAME.log; records "NAME PID PATTERN". CMD must exec into the process PATTERN names
# (ip netns exec and setsid do), so the recorded PID is the daemon's.
cl_spawn() {
  local name=$1 pattern=$2
  shift 2
  cl_pid "$name" >/dev/null && return 0
  mkdir -p "${CL_LOG_DIR:=$CL_ROOT/logs}"
  setsid "$@" </dev/null >>"$CL_LOG_DIR/$name.log" 2>&1 &
  local pid=$!
  # Drop an older record of the same name, then record this one.
  if [ -f "$CL_ROOT/pids" ]; then
    awk -v n="$name" '$1 != n' "$CL_ROOT/pids" >"$CL_ROOT/pids.tmp" && mv "$CL_ROOT/pids.tmp" "$CL_ROOT/pids"
  fi
  echo "$name $pid $pattern" >>"$CL_ROOT/pids"
}

# cl_stop_all — stops every recorded process, the last started first (consecutive processes of the same
# kind, e.g. the agents, together), and forgets them.
cl_stop_all() {
  [ -f "$CL_ROOT/pids" ] || return 0
  local name pid pattern batch_pattern="" batch=()
  while read -r name pid pattern; do
    [ -n "$pid" ] || continue
    if [ "$pattern" != "$batch_pattern" ] && [ ${#batch[@]} -gt 0 ]; then
      tb_stop_pids "$batch_pattern" 10 "${batch[@]}"
      batch=()
    fi
    batch_pattern=$pattern
    batch+=("$pid")
  done < <(tac "$CL_ROOT/pids")
  [ ${#batch[@]} -gt 0 ] && tb_stop_pids "$batch_pattern" 10 "${batch[@]}"
  rm -f "$CL_ROOT/pids"
}

# cl_wait_listen ADDR PORT TIMEOUT_S — waits until something listens on ADDR:PORT (TCP).
cl_wait_listen() {
  tb_wait "$3" sh -c "ss -Htln 'sport = :$2' | grep -F '$1:$2' >/dev/null"
}

# cl_port_busy ADDR PORT — true when something already listens on ADDR:PORT (or on every address).
cl_port_busy() {
  ss -Htln "sport = :$2" | awk '{print $4}' | grep -Ex "($1|0\.0\.0\.0|\*|\[::\]):$2" >/dev/null
}

# cl_etcd_tls_init ADDR — with CL_ETCD_TLS=1 (the default; 0 = plain http, for debugging only): the
# certificates of the cluster's etcd in $CL_ROOT/tls/etcd (made once, tls.sh): a CA, etcd's server
# certificate for ADDR and 127.0.0.1, and the client certificate the controller and the agents present
# (etcd runs with --client-cert-auth: a client without a certificate from this CA is refused). Sets
# CL_ETCD_SCHEME (https or http) and, with TLS, CL_ETCD_TLS_DIR; exports etcdctl's ETCDCTL_CACERT,
# ETCDCTL_CERT and ETCDCTL_KEY so a plain `etcdctl --endpoints https://...` works.
cl_etcd_tls_init() {
  local addr=$1
  CL_ETCD_SCHEME=http
  CL_ETCD_TLS_DIR=
  [ "${CL_ETCD_TLS:-1}" = 1 ] || return 0
  CL_ETCD_TLS_DIR=$CL_ROOT/tls/etcd
  tb_tls_ca "$CL_ETCD_TLS_DIR" "drover etcd CA ($TB_NAME)" || tb_die "cannot make etcd's CA"
  tb_tls_cert "$CL_ETCD_TLS_DIR" server "drover-etcd" "$addr" 127.0.0.1 ||
    tb_die "cannot make etcd's certificate"
  tb_tls_cert "$CL_ETCD_TLS_DIR" client "drover" || tb_die "cannot make the etcd client certificate"
  CL_ETCD_SCHEME=https
  export ETCDCTL_CACERT=$CL_ETCD_TLS_DIR/ca.pem ETCDCTL_CERT=$CL_ETCD_TLS_DIR/client.pem \
    ETCDCTL_KEY=$CL_ETCD_TLS_DIR/client.key
}

# cl_etcd_curl ARGS... — curl with the etcd client certificate when etcd is on TLS.
cl_etcd_curl() {
  if [ -n "${CL_ETCD_TLS_DIR:-}" ]; then
    curl --cacert "$CL_ETCD_TLS_DIR/ca.pem" --cert "$CL_ETCD_TLS_DIR/client.pem" \
      --key "$CL_ETCD_TLS_DIR/client.key" "$@"
  else
    curl "$@"
  fi
}

# cl_etcd_healthy URL — true when etcd at URL says it is healthy.
cl_etcd_healthy() { cl_etcd_curl -sf --max-time 1 "$1/health" | grep -q '"health":"true"'; }

# cl_etcd_conf_lines — the etcd_ca_file/etcd_cert_file/etcd_key_file lines of a controller's or an
# agent's configuration (nothing without TLS).
cl_etcd_conf_lines() {
  [ -n "${CL_ETCD_TLS_DIR:-}" ] || return 0
  printf 'etcd_ca_file = %s\netcd_cert_file = %s\netcd_key_file = %s\n' "$CL_ETCD_TLS_DIR/ca.pem" \
    "$CL_ETCD_TLS_DIR/client.pem" "$CL_ETCD_TLS_DIR/client.key"
}

# cl_etcd_start ADDR CLIENT_PORT PEER_PORT DATA_DIR — one etcd member named "drover" listening on
# ADDR (https with client certificates required after cl_etcd_tls_init, unless CL_ETCD_TLS=0); its
# peer port only on loopback (one member: no peer ever connects); waits for /health (30 s).
cl_etcd_start() {
  local addr=$1 port=$2 peer=$3 data=$4 url tls=()
  url="${CL_ETCD_SCHEME:-http}://$addr:$port"
  if [ -n "${CL_ETCD_TLS_DIR:-}" ]; then
    tls=(--cert-file "$CL_ETCD_TLS_DIR/server.pem" --key-file "$CL_ETCD_TLS_DIR/server.key"
      --client-cert-auth --trusted-ca-file "$CL_ETCD_TLS_DIR/ca.pem")
  fi
  if ! cl_pid etcd >/dev/null; then
    cl_port_busy "$addr" "$port" && tb_die "port $addr:$port is taken (another etcd?); pick --etcd-port"
    # the peer listener on the cluster's own address too (the testbed's bridge address): two
    # testbeds' etcds on 127.0.0.1:2380 collided ("bind: address already in use")
    cl_port_busy "$addr" "$peer" && tb_die "port $addr:$peer is taken (another etcd's peer port?); set CL_ETCD_PEER_PORT"
    mkdir -p "$data"
    cl_spawn etcd 'etcd' etcd --name drover --data-dir "$data" "${tls[@]}" \
      --listen-client-urls "$url" --advertise-client-urls "$url" \
      --listen-peer-urls "http://$addr:$peer" --initial-advertise-peer-urls "http://$addr:$peer" \
      --initial-cluster "drover=http://$addr:$peer" --initial-cluster-state new \
      --logger=zap --log-outputs=stderr
  fi
  tb_wait 30 cl_etcd_healthy "$url" ||
    tb_die "etcd on $url is not healthy after 30 s (log: $CL_LOG_DIR/etcd.log)"
}

# cl_keys_init CLI — the cluster's CURVE keys in $CL_ROOT/keys (made once with `drover keygen`): the
# controller's pair and the admin client's; exports DROVER_KEY_FILE and DROVER_CONTROLLER_KEY so
# the CLI authenticates as admin. CL_CLI is the drover binary the other cl_*key* helpers use.
cl_keys_init() {
  CL_CLI=$1
  CL_KEYS=$CL_ROOT/keys
  mkdir -p "$CL_KEYS"
  chmod 700 "$CL_KEYS"
  local k
  for k in controller admin; do
    [ -f "$CL_KEYS/$k.key" ] || "$CL_CLI" keygen "$CL_KEYS/$k" >/dev/null ||
      tb_die "drover keygen $CL_KEYS/$k failed"
  done
  export DROVER_KEY_FILE=$CL_KEYS/admin.key DROVER_CONTROLLER_KEY=$CL_KEYS/controller.pub
}

# cl_host_key ID CONTROLLER_URL — host ID's key pair ($CL_KEYS/ID.key, made once), enrolled with the
# controller at CONTROLLER_URL (retried for 30 s while it loads its state from etcd).
cl_host_key() {
  local id=$1 url=$2
  [ -f "$CL_KEYS/$id.key" ] || "$CL_CLI" keygen "$CL_KEYS/$id" >/dev/null ||
    tb_die "drover keygen $CL_KEYS/$id failed"
  tb_wait 30 "$CL_CLI" --controller "$url" --timeout 5 host enroll "$id" "$CL_KEYS/$id.pub" \
    >/dev/null 2>&1 || tb_die "drover host enroll $id failed (controller at $url)"
}

# cl_controller_conf FILE ADDR ETCD_URL AGENT_PORT CLIENT_PORT EVENT_PORT — a controller configuration
# binding ADDR on the three ports.
cl_controller_conf() {
  local file=$1 addr=$2 etcd=$3
  cat >"$file" <<EOF
# drover-controller of a local cluster: written by deploy/cluster-up.sh
[controller]
etcd_endpoints = $etcd
$(cl_etcd_conf_lines)
prefix = /drover/v1/
agent_bind = tcp://$addr:$4
client_bind = tcp://$addr:$5
event_bind = tcp://$addr:$6
heartbeat_interval_ms = 1000
liveness = 3
log_level = info

[security]
secret_key_file = $CL_KEYS/controller.key
# host-local images outside the shared pool (tests/system/migrate_test.sh's non-shared disk)
disk_allow_prefixes = $CL_ROOT/local/

[clients]
admin = admin $(cat "$CL_KEYS/admin.pub")
EOF
  if [ -n "${CL_METRICS_LISTEN:-}" ]; then # /metrics (docs/observability.md), e.g. 127.0.0.1:9750
    printf '\n[metrics]\nlisten = %s\n' "$CL_METRICS_LISTEN" >>"$file"
  fi
}

# cl_agent_conf FILE HOST_ID CONTROLLER LIBVIRT_URI MIGRATION_URI [TEST_UUID] — an agent's config
# (its key: cl_host_key). With CL_AGENT_ETCD (an etcd URL) the agent holds its own fencing lease
# there (fence_after_s = CL_FENCE_AFTER_S, default 10) and keeps its state in $CL_ROOT/agents.
# With TEST_UUID the host is a libvirt test-driver host and gets a [test] section describing it.
cl_agent_conf() {
  local file=$1 id=$2 controller=$3 uri=$4 mig=$5 uuid=${6:-}
  cat >"$file" <<EOF
# drover-agent of host $id of a local cluster: written by deploy/cluster-up.sh
[agent]
host_id = $id
controller = $controller
secret_key_file = $CL_KEYS/$id.key
controller_key = $CL_KEYS/controller.pub
libvirt_uri = $uri
migration_uri = $mig
$(case "$mig" in qemu+tls:*) echo "migration_pki_path = $TB_ROOT/hosts/$id/pki/agent" ;; esac)
$(case "$mig" in qemu+tls:*) echo "migration_stream_tls = $([ "${TB_MIGRATE_STREAM_TLS:-0}" = 1 ] && echo true || echo false)" ;; esac)
heartbeat_interval_ms = 1000
reserved_memory = 256MiB
log_level = info
stats_interval_ms = ${CL_STATS_MS:-10000}
EOF
  if [ -z "$uuid" ]; then
    cat >>"$file" <<EOF
# every host of this testbed is a network namespace of one machine: /proc/stat is the machine's,
# the same for all, so the host's CPU is taken from its own guests (docs/observability.md)
stats_host_cpu = guests
EOF
  fi
  if [ -n "${CL_AGENT_ETCD:-}" ]; then
    cat >>"$file" <<EOF
# HA self-fence (docs/ha.md): the agent's own etcd lease
etcd_endpoints = $CL_AGENT_ETCD
$(cl_etcd_conf_lines)
fence_after_s = ${CL_FENCE_AFTER_S:-10}
state_file = $CL_ROOT/agents/$id.state
EOF
  fi
  cat >>"$file" <<EOF

[labels]
cluster = ${TB_NAME:-drover}
rack = r$(( (${id#h} - 1) % 2 + 1 ))
EOF
  if [ -n "$uuid" ]; then
    cat >>"$file" <<EOF

[test]
cpu_model = Skylake-Client
cpu_features = sse4.2,avx,avx2,aes
host_uuid = $uuid
arch = x86_64
EOF
  fi
}

# cl_test_node_xml FILE — a libvirt test-driver host: 8 CPUs, 8 GiB.
cl_test_node_xml() {
  cat >"$1" <<'EOF'
<node>
  <cpu>
    <mhz>2400</mhz>
    <model>x86_64</model>
    <active>8</active>
    <max>8</max>
    <nodes>1</nodes>
    <sockets>1</sockets>
    <cores>8</cores>
    <threads>1</threads>
  </cpu>
  <memory>8388608</memory>
</node>
EOF
}
