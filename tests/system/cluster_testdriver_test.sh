#!/usr/bin/env bash
# cluster_testdriver_test.sh — deploy/cluster-up.sh --driver test (no root, no namespaces: etcd, the
# controller and 3 agents on libvirt's test driver, all on loopback, on free ports) registers 3 hosts
# and starts the sample domains; a second cluster-up.sh reuses the same processes; cluster-down.sh stops
# every one of them by PID and removes the state directory and etcd's data.
source "$(dirname "$0")/../support/lib.sh"
for b in controller/drover-controller hostagent/drover-agent cli/drover; do
  [ -x "$DROVER_BUILD_DIR/$b" ] || t_skip "$b is not built in $DROVER_BUILD_DIR"
done
command -v jq >/dev/null || t_skip "jq is not installed"

name="itest$$"
for v in CL_ETCD_PORT CL_ETCD_PEER_PORT CL_AGENT_PORT CL_CLIENT_PORT CL_EVENT_PORT; do
  t_free_port >"$T_DIR/port" # not in a subshell: t_free_port remembers the ports it gave
  printf -v "$v" '%s' "$(cat "$T_DIR/port")"
  export "${v?}"
done
export TB_ROOT="$T_DIR/cluster"
down() { bash "$DROVER_SOURCE_DIR/deploy/cluster-down.sh" --name "$name"; }
t_on_exit "cp '$TB_ROOT'/logs/*.log '$T_DIR/' 2>/dev/null; down >'$T_DIR/cluster-down.log' 2>&1"
up() {
  bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --driver test --name "$name" --hosts 3 --samples 2 \
    --no-install --no-build --build-dir "$DROVER_BUILD_DIR" >"$T_DIR/cluster-up.log" 2>&1 ||
    t_fail "cluster-up.sh --driver test failed: $(tail -n 15 "$T_DIR/cluster-up.log")"
}
up
# cluster-up.sh secured the cluster: its admin key and the controller's public key
export DROVER_KEY_FILE=$TB_ROOT/keys/admin.key DROVER_CONTROLLER_KEY=$TB_ROOT/keys/controller.pub
t_check "the controller's secret key is 0600" test "$(stat -c %a "$TB_ROOT/keys/controller.key")" = 600
drover() { "$DROVER_BUILD_DIR/cli/drover" --controller "tcp://127.0.0.1:$CL_CLIENT_PORT" "$@"; }

t_eq "reachable hosts" 3 "$(drover --json host list | jq '[.hosts[] | select(.reachable == true)] | length')"
t_eq "every host is enrolled" 3 "$(drover --json cluster status | jq '.security.enrolled_hosts')"
t_check "without a key the CLI is refused" sh -c \
  "! DROVER_KEY_FILE= '$DROVER_BUILD_DIR/cli/drover' --controller tcp://127.0.0.1:$CL_CLIENT_PORT --timeout 2 host list"

# etcd is https only and requires a client certificate from the cluster's CA (docs/security.md)
etls=$TB_ROOT/tls/etcd
t_check "the etcd client key is 0600" test "$(stat -c %a "$etls/client.key")" = 600
t_check "etcd's configuration on the controller names the certificates" \
  grep -qx "etcd_cert_file = $etls/client.pem" "$TB_ROOT/controller.conf"
t_check "every agent presents the etcd client certificate" \
  sh -c "for f in '$TB_ROOT'/agents/h*.conf; do grep -qx 'etcd_key_file = $etls/client.key' \$f || exit 1; done"
t_check "etcd does not answer plain http" sh -c "! curl -s --max-time 3 http://127.0.0.1:$CL_ETCD_PORT/health"
t_check "etcd refuses a client without a certificate" \
  sh -c "! curl -s --max-time 3 --cacert '$etls/ca.pem' https://127.0.0.1:$CL_ETCD_PORT/v3/kv/range -d '{\"key\":\"Lw==\"}'"
t_check "etcd's peer port is on loopback only" sh -c "ss -Htln 'sport = :$CL_ETCD_PEER_PORT' | grep -q '127.0.0.1:$CL_ETCD_PEER_PORT'"
(
  # shellcheck disable=SC1091
  source "$TB_ROOT/env"
  t_check "the env file gives etcdctl the client certificate" \
    sh -c "ETCDCTL_API=3 etcdctl get --prefix --keys-only /drover/v1/hosts/ | grep -q /drover/v1/hosts/h1"
) || exit 1

t_eq "running sample domains" "vm1,vm2" \
  "$(drover --json domain list | jq -r '[.domains[] | select(.state == "running") | .name] | sort | join(",")')"
t_check "cluster-up printed the host list" grep -q '^h3 ' "$T_DIR/cluster-up.log"
t_check "cluster-up told what to try next" grep -q 'Next, try' "$T_DIR/cluster-up.log"
t_check "the env file points at the controller" \
  grep -qx "export DROVER_CONTROLLER=tcp://127.0.0.1:$CL_CLIENT_PORT" "$TB_ROOT/env"
t_eq "recorded processes" "etcd controller agent-h1 agent-h2 agent-h3" "$(awk '{print $1}' "$TB_ROOT/pids" | tr '\n' ' ' | sed 's/ $//')"
pids=$(awk '{print $2}' "$TB_ROOT/pids" | tr '\n' ' ')
for p in $pids; do t_check "process $p runs" kill -0 "$p"; done

# Idempotent: a second run keeps the same processes and domains.
up
t_eq "same processes after a second cluster-up" "$pids" "$(awk '{print $2}' "$TB_ROOT/pids" | tr '\n' ' ')"
t_eq "domains after a second cluster-up" 2 "$(drover --json domain list | jq '.domains | length')"

etcd_data=$(sed -n 's/^CL_ETCD_DATA=//p' "$TB_ROOT/cluster.env")
down >"$T_DIR/cluster-down.log" 2>&1 || t_fail "cluster-down.sh failed"
for p in $pids; do
  t_check "process $p stopped" sh -c "! kill -0 $p 2>/dev/null || [ \"\$(awk '{print \$3}' /proc/$p/stat)\" = Z ]"
done
t_check "state directory removed" test ! -e "$TB_ROOT"
t_check "etcd data removed ($etcd_data)" test ! -e "$etcd_data"
