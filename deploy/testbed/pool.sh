# shellcheck shell=bash
# deploy/testbed/pool.sh — the shared directory every host sees (guests' disks and serial logs), defined
# on each host as a libvirt "dir" storage pool named "shared" with the same path everywhere. A plain
# directory is not a cluster file system: libvirt migrates guests on it only with VIR_MIGRATE_UNSAFE
# (virsh --unsafe), which drover passes only for pools it verified as shared. Source lib.sh first.

TB_POOL_NAME=shared

# tb_pool_dir_up — creates the shared directory and its serial/ subdirectory (idempotent).
tb_pool_dir_up() {
  mkdir -p "$TB_SHARED" "$TB_SHARED/serial"
}

# tb_pool_define I — defines, starts and autostarts pool "shared" on host I (idempotent).
tb_pool_define() {
  local i=$1
  if ! tb_virsh "$i" pool-info "$TB_POOL_NAME" >/dev/null 2>&1; then
    tb_virsh "$i" pool-define-as "$TB_POOL_NAME" dir --target "$TB_SHARED" >/dev/null ||
      tb_die "host $i: cannot define pool $TB_POOL_NAME at $TB_SHARED"
  fi
  local info
  info=$(tb_virsh "$i" pool-info "$TB_POOL_NAME" 2>/dev/null || true)
  if ! grep -Eq '^State: +running' <<<"$info"; then
    tb_virsh "$i" pool-start "$TB_POOL_NAME" >/dev/null || tb_die "host $i: cannot start pool $TB_POOL_NAME"
  fi
  tb_virsh "$i" pool-autostart "$TB_POOL_NAME" >/dev/null || true
}
