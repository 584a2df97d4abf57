#!/usr/bin/env bash
# etcd over TLS with client certificates (issue 13; docs/security.md): etcd serves https and
# requires a client certificate signed by its CA (--client-cert-auth):
#   - the controller (etcd_ca_file, etcd_cert_file, etcd_key_file) loads, leads, stores and watches
#     over https: three agents register, a definition reaches etcd;
#   - etcd refuses a client without a certificate (so the check above is not vacuous);
#   - a controller that trusts another CA never talks to this etcd and says why (certificate);
#   - a key file that cannot be read stops the controller at start with the file named.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
command -v openssl >/dev/null || t_skip "openssl is not installed"
export ETCD_TLS=1
cluster_up
t_check "etcd listens on https" grep -q '^https://' <<<"$ETCD_ENDPOINT"
t_check "the controller's config names the client certificate" grep -q '^etcd_cert_file = ' "$T_DIR/controller.conf"

cat >"$T_DIR/tls1.xml" <<XML
<domain type='test'><name>tls1</name><memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
XML
dr domain define "$T_DIR/tls1.xml" >/dev/null || t_fail "define over a TLS etcd"
t_check "the definition is in etcd (read with the client certificate)" grep -q tls1 <<<"$(etcd_get domains/tls1)"
dr domain start tls1 >/dev/null || t_fail "start over a TLS etcd"
t_eq "tls1 runs (the watch and the txn path work over https)" running "$(dr domain info tls1 | jq -r .state)"

# etcd itself refuses a client without a certificate
if ETCDCTL_API=3 timeout 10 etcdctl --endpoints "$ETCD_ENDPOINT" --cacert "$ETCD_TLS_DIR/ca.pem" \
  --command-timeout 3s get --prefix "$PREFIX" >"$T_DIR/nocert.out" 2>&1; then
  t_fail "etcd answered a client without a certificate"
fi

# a controller trusting another CA: never served by this etcd, and its log names the certificate
ports() { echo "agent_bind = tcp://127.0.0.1:$(t_free_port)"; echo "client_bind = tcp://127.0.0.1:$(t_free_port)"; echo "event_bind = tcp://127.0.0.1:$(t_free_port)"; }
mkconf() { # NAME SED-EXPR
  grep -v '^agent_bind\|^client_bind\|^event_bind' "$T_DIR/controller.conf" | sed -e "$2" >"$T_DIR/$1.conf"
  sed -i "/^\[controller\]/r /dev/stdin" "$T_DIR/$1.conf" <<<"$(ports)"
}
mkconf otherca "s|^etcd_ca_file = .*|etcd_ca_file = $ETCD_TLS_DIR/other-ca.pem|"
rc=0
timeout 6 "$CTL_BIN" --config "$T_DIR/otherca.conf" --log-level debug >"$T_DIR/otherca.log" 2>&1 || rc=$?
t_eq "the controller with another CA ran until stopped (it waits for etcd)" 124 "$rc"
t_check "its log names the certificate problem" grep -qiE "certificate|SSL" "$T_DIR/otherca.log"
t_check "it never became the leader" sh -c "! grep -q 'is now the leader' '$T_DIR/otherca.log'"
t_eq "the real controller still leads" true "$(dr cluster status | jq -r .is_leader)"

# a client key that cannot be read: refused at start, the file named
mkconf nokey "s|^etcd_key_file = .*|etcd_key_file = $T_DIR/missing.key|"
rc=0
timeout 10 "$CTL_BIN" --config "$T_DIR/nokey.conf" >"$T_DIR/nokey.log" 2>&1 || rc=$?
t_check "a missing key file stops the controller (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
t_check "the message names the key file" grep -q "client key '$T_DIR/missing.key' cannot be read" "$T_DIR/nokey.log"
t_log "etcd over TLS: ok"
