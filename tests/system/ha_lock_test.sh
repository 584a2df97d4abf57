#!/usr/bin/env bash
# ha_lock_test.sh — disk leases, the last line of defence (issue 18, docs/ha.md). A cluster of 3 real
# libvirtd hosts (bridge drvtbr34, 10.77.34.0/24), each with its own virtlockd (lock_manager =
# "lockd", lockspace on the shared storage, deploy/testbed/host.sh). Guest lk1 runs on host A:
#   - its disk's lease file in the shared lockspace is held by A's virtlockd (lslocks: that PID,
#     that file, a write lock);
#   - bypassing drover, `virsh define` + `virsh start` of the same disk on host B is refused; and
#     with QEMU's own image lock out of the way (as on NFS: in B's mount namespace the disk's path
#     is a bind mount of a copy, another inode under the same path) it is still refused, by
#     virtlockd ("resource busy: Lockspace resource '<sha256>' is locked"), no QEMU left on B;
#   - a live migration of lk1 to B through drover still works under leases: afterwards B's
#     virtlockd holds the lease and A's none.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
source "$(dirname "$0")/fault_lib.sh"
sys_require
command -v lslocks >/dev/null || t_skip "lslocks (util-linux) is not installed"
IDLE_IMAGE="$DROVER_BUILD_DIR/tests/guest/drover-guest-idle.img"
sys_cluster_up 34
three_reachable() { [ "$(djson host list | jq '[.hosts[] | select(.reachable)] | length')" = 3 ]; }
t_wait_for "3 hosts reachable" 30 three_reachable
for k in 1 2 3; do
  t_check "h$k runs its own virtlockd" tb_host_virtlockd_pid "$k"
  t_check "h$k's qemu.conf uses lockd" grep -qx 'lock_manager = "lockd"' "$(tb_host_dir "$k")/etc/qemu.conf"
done

disk=$(tb_guest_disk lk1 "$IDLE_IMAGE")
tb_guest_xml lk1 "$disk" 64 >"$T_DIR/lk1.xml"
t_check "define lk1" drover domain define "$T_DIR/lk1.xml"
t_check "start lk1" drover domain start lk1
a=$(host_of lk1)
ai=${a#h}
b=h$((ai % 3 + 1))
bi=${b#h}
sys_qemu_in_ns "$ai" lk1
sys_serial_grows lk1 1 60
LOCKSPACE="$TB_SHARED/lockspace"

# holder PATH — the PID holding a write lock on a file of the lockspace, or empty.
holders() { lslocks -n -o PID,TYPE,MODE,PATH 2>/dev/null | awk -v d="$LOCKSPACE/" 'index($4, d) == 1 && $3 == "WRITE" { print $1 }' | sort -u | tr '\n' ' '; }
lk_a=$(tb_host_virtlockd_pid "$ai")
lk_b=$(tb_host_virtlockd_pid "$bi")
lslocks -n -o PID,TYPE,MODE,PATH >"$T_DIR/lslocks-before.txt" 2>&1
t_eq "the lease is held by $a's virtlockd (pid $lk_a) only: $(grep "$LOCKSPACE" "$T_DIR/lslocks-before.txt")" "$lk_a " "$(holders)"
t_check "the lockspace has the disk's lease file" sh -c "ls '$LOCKSPACE' | grep -qE '^[0-9a-f]{64}$'"

# --- bypass drover: the same disk on host B with plain virsh, two ways
sed -e 's|<name>lk1</name>|<name>lk1-copy</name>|' -e '/<uuid>/d' "$T_DIR/lk1.xml" >"$T_DIR/lk1-copy.xml"
t_check "virsh define lk1-copy on $b" tb_virsh "$bi" define "$T_DIR/lk1-copy.xml"
# (1) as it is: refused — here QEMU's own image lock fires first (one kernel; libvirt takes the
#     lease when the paused QEMU is resumed, after QEMU opened its images)
rc=0
out=$(tb_virsh "$bi" start lk1-copy 2>&1) || rc=$?
t_log "virsh start on $b: $out"
t_check "virsh start of a second copy on $b fails (rc $rc)" test "$rc" -ne 0
# (2) as on NFS, where QEMU's image lock may not see the other host's: in B's mount namespace only,
#     the disk's path is a bind mount of a copy (another inode, so no image-lock conflict; the same
#     path, so the same lease). Now only virtlockd stands in the way, and it refuses.
lv_b=$(tb_host_pid "$bi") || t_fail "no libvirtd pid for $b"
cp --sparse=always "$disk" "$TB_ROOT/lk1-copy-inode.qcow2"
nsenter -t "$lv_b" -m mount --bind "$TB_ROOT/lk1-copy-inode.qcow2" "$disk" || t_fail "bind mount in $b's mount namespace"
t_on_exit "nsenter -t $lv_b -m umount '$disk' 2>/dev/null"
rc=0
out=$(tb_virsh "$bi" start lk1-copy 2>&1) || rc=$?
t_log "virsh start on $b (image lock out of the way): $out"
t_check "refused again (rc $rc)" test "$rc" -ne 0
lease=$(ls "$LOCKSPACE" | head -n 1)
t_check "refused by virtlockd's lease on $lease: $out" grep -qF "resource busy: Lockspace resource '$lease' is locked" <<<"$out"
t_check "not by QEMU's image lock: $out" fl_lacks 'Failed to get "write" lock' "$out"
t_eq "no QEMU for lk1-copy on $b" "" "$(tb_host_qemu_pid "$bi" lk1-copy || true)"
t_eq "the lease is still held by $a's virtlockd only" "$lk_a " "$(holders)"
sys_serial_grows lk1 1 30
nsenter -t "$lv_b" -m umount "$disk" || t_fail "umount in $b's mount namespace"
t_check "virsh undefine lk1-copy" tb_virsh "$bi" undefine lk1-copy

# --- a live migration hands the lease over
out=$(drover domain migrate lk1 --to "$b" 2>&1) || t_fail "migrate lk1 to $b: $out"
t_eq "lk1 on $b" "$b" "$(host_of lk1)"
sys_qemu_in_ns "$bi" lk1
held_by_b() { [ "$(holders)" = "$lk_b " ]; }
t_wait_for "the lease moved to $b's virtlockd (pid $lk_b)" 10 held_by_b
sys_serial_grows lk1 1 30
t_log "PASS ($T_CHECKS checks)"
