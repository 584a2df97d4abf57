# lib.sh — helpers for drover's bash tests. Source it; it sets `set -euo pipefail`.
# Every process a test starts is recorded by PID and stopped by PID at exit (never by name).
# Logs live in $T_DIR; they are kept (and their tails printed) when the test fails.
set -euo pipefail

: "${DROVER_BUILD_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}"
: "${DROVER_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${DROVER_TEST_OUT:=$DROVER_BUILD_DIR/test-out}"
T_NAME=$(basename "${0%.sh}")
mkdir -p "$DROVER_TEST_OUT"
T_DIR=$(mktemp -d "$DROVER_TEST_OUT/$T_NAME.XXXXXX")
T_PIDS=()
T_FAILED=0
T_CHECKS=0
T_CLEANUPS=()

t_log() { printf '[%s] %s\n' "$T_NAME" "$*" >&2; }

# t_fail MSG — records a failure and stops the test.
t_fail() {
  T_FAILED=1
  printf '[%s] FAIL: %s\n' "$T_NAME" "$*" >&2
  exit 1
}

# t_check DESCRIPTION COMMAND... — runs a check, fails the test if it fails.
t_check() {
  local what=$1; shift
  T_CHECKS=$((T_CHECKS + 1))
  if ! "$@"; then t_fail "$what"; fi
}

# t_eq DESCRIPTION EXPECTED ACTUAL
t_eq() {
  T_CHECKS=$((T_CHECKS + 1))
  [ "$2" == "$3" ] || t_fail "$1: expected '$2', got '$3'"
}

# t_skip REASON — the tier cannot run here. On CI (CI set and not "false") every tier must run, so
# a skip there is a failure that names the reason.
t_skip() {
  if [ -n "${CI:-}" ] && [ "${CI:-}" != false ]; then
    printf '[%s] FAIL: cannot run on CI: %s\n' "$T_NAME" "$*" >&2
    exit 1
  fi
  printf 'SKIPPED: %s\n' "$*"
  exit 77
}

# t_spawn NAME CMD... — starts a process in the background, log in $T_DIR/NAME.log; prints its PID.
# Usually called as PID=$(t_spawn ...), i.e. in a subshell: the PID is therefore recorded in a file
# ($T_DIR/.pids), which the exit trap reads, so every spawned process is stopped by PID at exit.
t_spawn() {
  local name=$1; shift
  "$@" >>"$T_DIR/$name.log" 2>&1 &
  local pid=$!
  echo "$pid" >>"$T_DIR/.pids"
  T_PIDS+=("$pid")
  echo "$pid"
}

# t_stop PID [SIGNAL] — stops one process by PID and waits for it (up to 10 s, then SIGKILL).
t_stop() {
  local pid=$1 sig=${2:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# t_wait_for DESCRIPTION TIMEOUT_S COMMAND... — polls COMMAND every 0.1 s until it succeeds.
t_wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || t_fail "timed out after ${timeout}s waiting for: $what"
    sleep 0.1
  done
}

# t_free_port — prints a TCP port nobody listens on (loopback).
t_free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      if [ -z "${T_PORTS_USED:-}" ] || ! grep -qw "$p" <<<"$T_PORTS_USED"; then
        T_PORTS_USED="${T_PORTS_USED:-} $p"
        echo "$p"; return 0
      fi
    fi
  done
  t_fail "no free port"
}

# etcd_tls_certs DIR — a CA, a server certificate for 127.0.0.1 and a client pair (openssl):
# DIR/ca.pem, server.pem, server.key, client.pem, client.key, and other-ca.pem (an unrelated CA).
etcd_tls_certs() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    for ca in ca other-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=drover test $ca" \
        -keyout "$ca.key" -out "$ca.pem" 2>/dev/null || exit 1
    done
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext.cnf
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=drover-$who" -keyout "$who.key" \
        -out "$who.csr" 2>/dev/null || exit 1
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out "$who.pem" 2>/dev/null || exit 1
    done
  ) || t_fail "making TLS certificates in $d"
}

# etcd_start [BIND_ADDR] — a real etcd with data on /dev/shm; sets ETCD_PID, ETCD_ENDPOINT, ETCD_DATA.
# ETCD_TLS=1: https with client certificates required (certificates in $T_DIR/etcd-tls, see
# etcd_tls_certs); ETCDCTL_TLS holds the etcdctl flags, ETCD_CURL_TLS curl's.
etcd_start() {
  local addr=${1:-127.0.0.1} scheme=http tls_args=()
  ETCD_PORT=${ETCD_PORT:-$(t_free_port)}
  ETCD_PEER_PORT=${ETCD_PEER_PORT:-$(t_free_port)}
  ETCD_DATA=${ETCD_DATA:-$(mktemp -d /dev/shm/drover-etcd.XXXXXX)}
  ETCDCTL_TLS="" ETCD_CURL_TLS=""
  if [ "${ETCD_TLS:-0}" = 1 ]; then
    ETCD_TLS_DIR=$T_DIR/etcd-tls
    [ -f "$ETCD_TLS_DIR/client.pem" ] || etcd_tls_certs "$ETCD_TLS_DIR"
    scheme=https
    tls_args=(--cert-file "$ETCD_TLS_DIR/server.pem" --key-file "$ETCD_TLS_DIR/server.key"
      --client-cert-auth --trusted-ca-file "$ETCD_TLS_DIR/ca.pem")
    ETCDCTL_TLS="--cacert $ETCD_TLS_DIR/ca.pem --cert $ETCD_TLS_DIR/client.pem --key $ETCD_TLS_DIR/client.key"
    ETCD_CURL_TLS="--cacert $ETCD_TLS_DIR/ca.pem --cert $ETCD_TLS_DIR/client.pem --key $ETCD_TLS_DIR/client.key"
  fi
  ETCD_ENDPOINT="$scheme://$addr:$ETCD_PORT"
  ETCD_PID=$(t_spawn etcd etcd --name t --data-dir "$ETCD_DATA" "${tls_args[@]}" \
    --listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "t=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --logger=zap --log-outputs=stderr)
  t_wait_for "etcd /health at $ETCD_ENDPOINT" 20 \
    sh -c "curl -sf --max-time 1 $ETCD_CURL_TLS '$ETCD_ENDPOINT/health' | grep -q '\"health\":\"true\"'"
}

etcd_stop() {
  [ -n "${ETCD_PID:-}" ] && t_stop "$ETCD_PID"
  ETCD_PID=
}

t_on_exit() { T_CLEANUPS+=("$*"); }

t__exit() {
  local rc=$?
  set +e
  local i
  for (( i=${#T_CLEANUPS[@]}-1; i>=0; i-- )); do eval "${T_CLEANUPS[$i]}"; done
  local pids=("${T_PIDS[@]}")
  [ -f "$T_DIR/.pids" ] && mapfile -t -O "${#pids[@]}" pids <"$T_DIR/.pids"
  for (( i=${#pids[@]}-1; i>=0; i-- )); do t_stop "${pids[$i]}"; done
  [ -n "${ETCD_DATA:-}" ] && rm -rf "$ETCD_DATA"
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    printf '[%s] failed (exit %d); logs kept in %s\n' "$T_NAME" "$rc" "$T_DIR" >&2
    for f in "$T_DIR"/*.log; do
      [ -f "$f" ] || continue
      printf -- '--- tail %s ---\n' "$f" >&2
      tail -n 25 "$f" >&2
    done
  else
    [ "$rc" -eq 0 ] && printf '[%s] %d checks passed\n' "$T_NAME" "$T_CHECKS"
    if [ -n "${T_KEEP:-}" ]; then printf '[%s] logs kept in %s (T_KEEP)\n' "$T_NAME" "$T_DIR"; else rm -rf "$T_DIR"; fi
  fi
  exit "$rc"
}
trap t__exit EXIT
