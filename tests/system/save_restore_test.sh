#!/usr/bin/env bash
# save_restore_test.sh — issue 17 on a real 3-host testbed (bridge drvtbr35, 10.77.35.0/24;
# deploy/cluster-up.sh: a real libvirtd per namespace, etcd, controller, agents) with real QEMU
# (TCG) guests whose serial log counts ticks, so "resumed" and "booted afresh" can be told apart:
#   - `domain save` writes the memory image beside the disk in the shared directory, no QEMU of the
#     guest runs any more, the state is `saved (save file)`, and `domain start` refuses;
#   - a drain of its host cold-moves the saved domain; `domain restore` runs it on the other host
#     from the file: the guest's tick counter goes on from where it stopped (not a fresh boot),
#     the state is `running (restored)`, the file is removed;
#   - `domain managedsave` / `restore`: `saved (managed save)`, resumed on its own host, ticks go on;
#   - a QEMU killed by PID (SIGKILL) shows `shut off (crashed)`, as virsh says, with the drift;
#   - the drain plan of a host with a guest on a local disk says it cannot move, naming the disk.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
sys_cluster_up 35
dom=sr1
state_is() { [ "$("$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" domain state "$1")" = "$2" ]; }
no_qemu() { for i in 1 2 3; do tb_host_qemu_pid "$i" "$1" >/dev/null && return 1; done; return 0; }

tb_guest_xml "$dom" "$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")" 128 >"$T_DIR/$dom.xml"
t_check "define $dom" drover domain define "$T_DIR/$dom.xml"
t_check "start $dom" drover domain start "$dom"
sys_serial_grows "$dom" 3 60
h=$(host_of "$dom")
t_log "$dom runs on $h"

# ---- the drain plan knows a local disk cannot move (it said "h3" and failed in the real run)
loc=srlocal
mkdir -p "$TB_ROOT/local"
qemu-img create -q -f qcow2 -F raw -b "$TB_SHARED/base-$(basename "$SYS_GUEST_IMAGE")" "$TB_ROOT/local/$loc.qcow2"
tb_guest_xml "$loc" "$TB_ROOT/local/$loc.qcow2" 64 >"$T_DIR/$loc.xml"
t_check "define $loc (disk outside the shared pool)" drover domain define "$T_DIR/$loc.xml"
t_check "start $loc" drover domain start "$loc"
lh=$(host_of "$loc")
plan=$(drover host drain-plan "$lh" 2>&1)
t_log "drain plan of $lh: $(tr '\n' '|' <<<"$plan")"
t_check "the plan says $loc cannot move, naming its local disk" \
  grep -q "cannot move $loc: no host fits: 2 hosts lack storage pools local disk $TB_ROOT/local/$loc.qcow2" <<<"$plan"
t_eq "plan JSON: no destination for $loc" null \
  "$(djson host drain-plan "$lh" | jq -r --arg d "$loc" '.steps[] | select(.domain == $d) | .dest')"
t_check "destroy $loc" drover domain destroy "$loc"
t_check "undefine $loc" drover domain undefine "$loc"

# ---- save to the shared directory, then restore on another host
out=$(djson domain save "$dom") || t_fail "save: $out"
before=$(tb_guest_last_tick "$dom")
t_eq "save: saved (save file)" "saved/save file" "$(jq -r '.state + "/" + .reason' <<<"$out")"
t_eq "save: the image beside the disk" "$TB_SHARED/$dom.drover-save" "$(jq -r .saved_path <<<"$out")"
t_check "save: the image exists" test -s "$TB_SHARED/$dom.drover-save"
t_check "save: no QEMU of $dom runs" no_qemu "$dom"
t_eq "libvirt on $h: shut off (saved)" "shut off (saved)" "$(tb_virsh "${h#h}" domstate --reason "$dom" | head -n 1)"
rc=0
msg=$(drover domain start "$dom" 2>&1) || rc=$?
t_check "start of a saved domain is refused, naming restore ($msg)" \
  sh -c "[ $rc -ne 0 ] && grep -q 'drover domain restore $dom' <<'EOM'
$msg
EOM"
t_check "drain of $h (cold-moves the saved domain)" drover host maintenance "$h" --wait
h2=$(host_of "$dom")
t_check "$dom now placed on another host ($h2)" test "$h2" != "$h"
out=$(djson domain restore "$dom") || t_fail "restore: $out"
t_eq "restore: on $h2" "$h2" "$(jq -r .host <<<"$out")"
t_eq "restore: running (restored)" "running (restored)" "$(jq -r '.state + " (" + .reason + ")"' <<<"$out")"
t_check "restore: QEMU of $dom on $h2" tb_host_qemu_pid "${h2#h}" "$dom"
# the tick counter goes on from $before: the memory came back (a fresh boot starts again at 1)
sys_serial_grows "$dom" 3 60
t_check "ticks went on from $before (now $(tb_guest_last_tick "$dom"))" test "$(tb_guest_last_tick "$dom")" -gt $((before + 2))
t_check "restore: the image is removed" test ! -e "$TB_SHARED/$dom.drover-save"
t_check "activate $h" drover host activate "$h"

# ---- managed save on its host, restored there
out=$(djson domain managedsave "$dom") || t_fail "managedsave: $out"
before=$(tb_guest_last_tick "$dom")
t_eq "managedsave: saved (managed save)" "saved/managed save" "$(jq -r '.state + "/" + .reason' <<<"$out")"
t_check "managedsave: no QEMU of $dom runs" no_qemu "$dom"
t_check "domain state prints it" state_is "$dom" "saved (managed save)"
out=$(djson domain restore "$dom") || t_fail "restore (managed): $out"
t_eq "restore (managed): on its own host $h2" "$h2" "$(jq -r .host <<<"$out")"
sys_serial_grows "$dom" 3 60
t_check "ticks went on from $before (now $(tb_guest_last_tick "$dom"))" test "$(tb_guest_last_tick "$dom")" -gt $((before + 2))

# ---- a QEMU killed by PID: shut off (crashed)
pid=$(tb_host_qemu_pid "${h2#h}" "$dom") || t_fail "no QEMU pid for $dom on $h2"
kill -KILL "$pid"
t_log "killed $dom's QEMU (pid $pid) on $h2"
t_wait_for "$dom: shut off (crashed)" 20 state_is "$dom" "shut off (crashed)"
t_eq "JSON: state and reason" '"shut off","crashed"' "$(djson domain state "$dom" | jq -c '[.state, .reason]' | tr -d '[]')"
t_eq "drift names it" "desired running, host $h2 reports shut off (crashed)" "$(djson domain info "$dom" | jq -r .drift)"
t_eq "libvirt agrees" "shut off (crashed)" "$(tb_virsh "${h2#h}" domstate --reason "$dom" | head -n 1)"
