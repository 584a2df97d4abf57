# shellcheck shell=bash
# deploy/testbed/host.sh — one emulated hypervisor host: its state directory, its libvirtd.conf and
# qemu.conf, and its libvirtd running inside the host's network namespace and a private mount namespace
# where /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are the
# host's own directories. Source lib.sh first.
#
# Host I's directory $TB_ROOT/hosts/hI holds etc/ run/ lib/ log/ cache/ (seen by its libvirtd and its
# QEMUs at the usual paths), libvirtd.out (the daemon's stdout/stderr) and libvirtd.pid (the PID this
# script started, also written by libvirtd itself to run/libvirtd.pid). QEMU's pid files are run/qemu/*.pid.
#
# Disk leases (docs/ha.md): unless TB_LOCKD=0, each host runs its own virtlockd in the same mount
# namespace (socket and pid file in its run/, so /run/libvirt/virtlockd-sock is that host's) and its
# qemu.conf says lock_manager = "lockd" with the lockspace directory on the shared storage
# ($TB_SHARED/lockspace): a disk one host's virtlockd holds cannot be opened by a QEMU of another.

# Migration over TLS (docs/security.md): unless TB_TLS=0, each libvirtd listens on TLS only (16514,
# client certificates required, no plain-TCP listener): the libvirtd-to-libvirtd connection of every
# peer-to-peer migration is TLS. With TB_MIGRATE_STREAM_TLS=1 QEMU's memory stream is TLS too and
# required (migrate_tls_force); off by default in the testbed, where TCG guests on two shared cores
# cannot encrypt a guest that dirties 96 MiB per tick fast enough to converge (docs/security.md). The testbed's CA is in
# $TB_ROOT/tls/libvirt; host I's own certificate (CN hI, its address as subjectAltName) serves as
# libvirtd's server and client certificate and QEMU's, laid out in its pki/ directory, which its
# mount namespace sees as /etc/pki (where libvirt's client looks for its certificate when it connects
# to the destination of a peer-to-peer migration). tools/ holds a client certificate for tests.
TB_LIBVIRT_DIRS="etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt pki:/etc/pki"

# tb_host_uuid I — a stable UUID for host I of this testbed (libvirt refuses to migrate to "itself").
tb_host_uuid() {
  local h
  h=$(printf 'drover-testbed %s %s' "$TB_NAME" "$1" | md5sum | cut -c1-32)
  echo "${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
}

# tb_host_prepare I — creates host I's directories and configuration (idempotent; configuration is
# rewritten every time, state is kept).
tb_host_prepare() {
  local i=$1 dir ip
  dir=$(tb_host_dir "$i")
  ip=$(tb_host_ip "$i")
  mkdir -p "$dir"/{run,lib,log,cache,pki}
  [ "${TB_TLS:-1}" = 1 ] && tb_host_pki "$i"
  if [ ! -d "$dir/etc" ]; then
    # Start from the distribution's configuration, without its networks, domains or pools.
    cp -a /etc/libvirt "$dir/etc"
    rm -rf "$dir/etc/qemu/networks/autostart" "$dir/etc/storage" "$dir/etc/secrets" "$dir/etc/nodedev"
    find "$dir/etc/qemu" -maxdepth 1 -name '*.xml' -delete
  fi
  cat >"$dir/etc/libvirtd.conf" <<EOF
# testbed host $i ($TB_NAME): written by deploy/testbed/host.sh
$(tb_host_listen_conf)
listen_addr = "$ip"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0770"
host_uuid = "$(tb_host_uuid "$i")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
keepalive_interval = 5
keepalive_count = 5
EOF
  cat >"$dir/etc/qemu.conf" <<EOF
# testbed host $i ($TB_NAME): written by deploy/testbed/host.sh
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = []
cgroup_controllers = []
migration_host = "$ip"
migration_address = "$ip"
EOF
  if [ "${TB_TLS:-1}" = 1 ] && [ "${TB_MIGRATE_STREAM_TLS:-0}" = 1 ]; then
    cat >>"$dir/etc/qemu.conf" <<EOF
migrate_tls_x509_cert_dir = "/etc/pki/qemu"
migrate_tls_x509_verify = 1
migrate_tls_force = 1
EOF
  fi
  if [ "${TB_LOCKD:-1}" != 0 ]; then
    mkdir -p "$TB_SHARED/lockspace"
    echo 'lock_manager = "lockd"' >>"$dir/etc/qemu.conf"
    cat >"$dir/etc/qemu-lockd.conf" <<EOF
# testbed host $i ($TB_NAME): written by deploy/testbed/host.sh — leases on the shared storage
auto_disk_leases = 1
require_lease_for_disks = 1
file_lockspace_dir = "$TB_SHARED/lockspace"
EOF
    cat >"$dir/etc/virtlockd.conf" <<EOF
# testbed host $i ($TB_NAME): written by deploy/testbed/host.sh
log_outputs = "3:file:/var/log/libvirt/virtlockd.log"
EOF
  fi
}

# tb_host_listen_conf — libvirtd.conf's listener lines: TLS only (client certificates from the
# testbed's CA required) unless TB_TLS=0, then plain TCP without authentication.
tb_host_listen_conf() {
  if [ "${TB_TLS:-1}" = 1 ]; then
    printf 'listen_tls = 1\nlisten_tcp = 0\nauth_tls = "none"\ntls_no_verify_certificate = 0\n'
  else
    printf 'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\n'
  fi
}

# tb_host_pki I — host I's certificates (made once) laid out where libvirt and QEMU look for them
# (its pki/ directory is /etc/pki in its mount namespace), and the tools' client certificate.
tb_host_pki() {
  local i=$1 ca=$TB_ROOT/tls/libvirt id pki
  id=$(tb_host_id "$i")
  pki=$(tb_host_dir "$i")/pki
  tb_tls_ca "$ca" "drover testbed libvirt CA ($TB_NAME)" || tb_die "cannot make the testbed's libvirt CA"
  tb_tls_cert "$ca" "$id" "$id" "$(tb_host_ip "$i")" || tb_die "cannot make host $i's certificate"
  mkdir -p "$pki"/{CA,libvirt/private,qemu,agent}
  install -m 644 "$ca/ca.pem" "$pki/CA/cacert.pem"
  install -m 644 "$ca/ca.pem" "$pki/qemu/ca-cert.pem"
  local role
  for role in server client; do
    install -m 644 "$ca/$id.pem" "$pki/libvirt/${role}cert.pem"
    install -m 600 "$ca/$id.key" "$pki/libvirt/private/${role}key.pem"
    install -m 644 "$ca/$id.pem" "$pki/qemu/$role-cert.pem"
    install -m 600 "$ca/$id.key" "$pki/qemu/$role-key.pem"
  done
  # the agent's own connections to a destination (outside the mount namespace): pkipath layout
  install -m 644 "$ca/ca.pem" "$pki/agent/cacert.pem"
  install -m 644 "$ca/$id.pem" "$pki/agent/clientcert.pem"
  install -m 600 "$ca/$id.key" "$pki/agent/clientkey.pem"
  if [ ! -f "$ca/tools/clientkey.pem" ]; then
    tb_tls_cert "$ca" tools "drover testbed tools" || tb_die "cannot make the tools' certificate"
    mkdir -p "$ca/tools"
    install -m 644 "$ca/ca.pem" "$ca/tools/cacert.pem"
    install -m 644 "$ca/tools.pem" "$ca/tools/clientcert.pem"
    install -m 600 "$ca/tools.key" "$ca/tools/clientkey.pem"
  fi
}

# tb_host_pid I — prints the PID of host I's running libvirtd (our record, cross-checked), or fails.
tb_host_pid() {
  local dir pid
  dir=$(tb_host_dir "$1")
  pid=$(cat "$dir/libvirtd.pid" 2>/dev/null) || return 1
  tb_pid_is "$pid" 'libvirtd' || return 1
  echo "$pid"
}

# tb_host_ready I — true when host I's libvirtd answers on its unix socket and on its TCP address.
tb_host_ready() {
  local i=$1
  tb_virsh "$i" version >/dev/null 2>&1 || return 1
  ip netns exec "$(tb_ns "$i")" virsh -q -c "$(tb_host_tool_uri "$i")" uri >/dev/null 2>&1
}

# tb_host_caps_seed I — copies the machine's QEMU capability cache into host I's cache, so its
# libvirtd does not spend ~8 s probing QEMU (libvirt re-probes by itself when an entry is stale).
TB_CAPS_CACHE=${TB_CAPS_CACHE:-/var/cache/drover/libvirt-qemu-capabilities}
tb_host_caps_seed() {
  local dst
  dst=$(tb_host_dir "$1")/cache/qemu/capabilities
  compgen -G "$TB_CAPS_CACHE/*.xml" >/dev/null || return 0
  mkdir -p "$dst"
  cp -n "$TB_CAPS_CACHE"/*.xml "$dst/" 2>/dev/null || true
}

# tb_host_caps_save I — stores host I's QEMU capability cache as the machine's seed.
tb_host_caps_save() {
  local src
  src=$(tb_host_dir "$1")/cache/qemu/capabilities
  compgen -G "$src/*.xml" >/dev/null || return 0
  mkdir -p "$TB_CAPS_CACHE"
  cp "$src"/*.xml "$TB_CAPS_CACHE/" 2>/dev/null || true
}

# tb_host_launch I — starts host I's libvirtd unless it runs; does not wait (see tb_host_wait_ready).
tb_host_launch() {
  local i=$1 dir ns pid binds="" pair src dst
  dir=$(tb_host_dir "$i")
  ns=$(tb_ns "$i")
  tb_host_pid "$i" >/dev/null && return 0
  for pair in $TB_LIBVIRT_DIRS; do
    src=$dir/${pair%%:*}
    dst=${pair#*:}
    mkdir -p "$dst"
    binds+="mount --bind '$src' '$dst' && "
  done
  rm -f "$dir/run/libvirtd.pid" "$dir/run/libvirt-sock" "$dir/run/libvirt-sock-ro"
  # virtlockd first (it daemonizes; a running one — it outlives libvirtd — is kept: it holds the
  # leases of the QEMUs that still run)
  if [ "${TB_LOCKD:-1}" != 0 ] && ! tb_host_virtlockd_pid "$i" >/dev/null; then
    rm -f "$dir/run/virtlockd.pid" "$dir/run/virtlockd-sock" "$dir/run/virtlockd-admin-sock"
    binds+="virtlockd -d -f /etc/libvirt/virtlockd.conf -p /run/libvirt/virtlockd.pid && "
  fi
  tb_host_caps_seed "$i"
  # setsid: the daemon outlives the script that started it (cluster-up) and ignores its terminal.
  # ip netns exec, unshare and sh all exec, so $! is libvirtd's PID.
  setsid ip netns exec "$ns" unshare -m --propagation private \
    sh -c "${binds}exec libvirtd --listen --pid-file /run/libvirt/libvirtd.pid" \
    </dev/null >>"$dir/libvirtd.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/libvirtd.pid"
}

# tb_host_wait_ready I [TIMEOUT_S] — waits until host I's libvirtd answers (default 60 s) or dies.
tb_host_wait_ready() {
  local i=$1 timeout=${2:-60} dir pid own
  dir=$(tb_host_dir "$i")
  pid=$(cat "$dir/libvirtd.pid" 2>/dev/null) || tb_die "host $i: libvirtd was not started"
  if ! tb_wait "$timeout" tb_host_ready "$i"; then
    tail -n 20 "$dir/libvirtd.out" "$dir/log/libvirtd.log" >&2 2>/dev/null || true
    tb_die "libvirtd of host $i (pid $pid, namespace $(tb_ns "$i")) did not answer within $timeout s"
  fi
  own=$(cat "$dir/run/libvirtd.pid" 2>/dev/null || true)
  [ "$own" = "$pid" ] || tb_log "warning: host $i: libvirtd wrote pid '$own', started $pid"
}

# tb_host_start I — tb_host_launch then tb_host_wait_ready.
tb_host_start() {
  tb_host_launch "$1"
  tb_host_wait_ready "$1"
}

# tb_host_qemu_pids I — PIDs of the QEMU processes host I's libvirtd runs (from libvirt's pid files).
tb_host_qemu_pids() {
  local f pid
  for f in "$(tb_host_dir "$1")"/run/qemu/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    tb_pid_is "$pid" 'qemu-system' && echo "$pid"
  done
  return 0
}

# tb_host_qemu_pid I DOMAIN — the PID of DOMAIN's QEMU on host I, or fails.
tb_host_qemu_pid() {
  local pid
  pid=$(cat "$(tb_host_dir "$1")/run/qemu/$2.pid" 2>/dev/null) || return 1
  tb_pid_is "$pid" 'qemu-system' || return 1
  echo "$pid"
}

# tb_host_stop_libvirtd I — stops host I's libvirtd by PID (guests keep running, as with a real host).
tb_host_stop_libvirtd() {
  local pid
  pid=$(cat "$(tb_host_dir "$1")/libvirtd.pid" 2>/dev/null) || return 0
  tb_stop_pid "$pid" 'libvirtd' 15
  rm -f "$(tb_host_dir "$1")/libvirtd.pid"
}

# tb_host_virtlockd_pid I — prints the PID of host I's running virtlockd, or fails.
tb_host_virtlockd_pid() {
  local pid
  pid=$(cat "$(tb_host_dir "$1")/run/virtlockd.pid" 2>/dev/null) || return 1
  tb_pid_is "$pid" 'virtlockd' || return 1
  echo "$pid"
}

# tb_host_stop I — stops host I's QEMUs, then its libvirtd, then its virtlockd, all by PID.
tb_host_stop() {
  local i=$1 pid
  for pid in $(tb_host_qemu_pids "$i"); do
    tb_stop_pid "$pid" 'qemu-system' 10
  done
  tb_host_stop_libvirtd "$i"
  if pid=$(tb_host_virtlockd_pid "$i"); then
    tb_stop_pid "$pid" 'virtlockd' 10
  fi
}
