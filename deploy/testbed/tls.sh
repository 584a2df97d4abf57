# shellcheck shell=bash
# deploy/testbed/tls.sh — X.509 certificates for a local cluster, made with openssl: a CA per purpose
# (etcd's clients and peers, libvirt/QEMU migration between hosts) and certificates it signs. Keys are
# EC P-256 (fast to make), 0600. Everything is made once and kept: running cluster-up.sh again reuses
# what exists, so daemons already running keep trusting the same CA.

# tb_tls_ca DIR NAME — DIR/ca.pem and DIR/ca.key, a self-signed CA called NAME (made once).
tb_tls_ca() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] && return 0
  (umask 077 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=$name" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null) ||
    { echo "tls: openssl could not make the CA '$name' in $dir" >&2; return 1; }
}

# tb_tls_cert DIR WHO CN IPS... — DIR/WHO.pem and DIR/WHO.key signed by DIR's CA (tb_tls_ca), valid
# for TLS servers and clients, with CN and one subjectAltName IP entry per IPS (made once).
tb_tls_cert() {
  local dir=$1 who=$2 cn=$3 san="" ip
  shift 3
  [ -f "$dir/$who.pem" ] && [ -f "$dir/$who.key" ] && return 0
  for ip in "$@"; do san+="${san:+,}IP:$ip"; done
  (
    umask 077
    cd "$dir" || exit 1
    {
      [ -n "$san" ] && echo "subjectAltName=$san"
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "keyUsage=digitalSignature,keyEncipherment"
    } >"$who.ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
      -keyout "$who.key" -out "$who.csr" 2>/dev/null &&
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$who.ext" -out "$who.pem" 2>/dev/null
    rc=$?
    rm -f "$who.csr" "$who.ext"
    exit $rc
  ) || { echo "tls: openssl could not make the certificate '$who' in $dir" >&2; return 1; }
}
