#!/usr/bin/env bash
# cluster_lifecycle_test.sh — the whole stack on real hosts: deploy/cluster-up.sh brings up 3 real
# libvirtd hosts in namespaces (its own bridge drvtbr2, 10.77.2.0/24), etcd, drover-controller and one
# drover-agent per namespace; then, only through the drover CLI: define → start → snapshot →
# suspend/resume → destroy → undefine a real QEMU guest, checking at each step what libvirt on the host
# and the guest itself say (QEMU in the right namespace, serial log growing or not). It kills the
# guest's host's libvirtd by PID, restarts it, and checks the same agent carries out commands again.
# deploy/cluster-down.sh tears everything down, also when a check fails.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
for b in controller/drover-controller hostagent/drover-agent cli/drover; do
  [ -x "$DROVER_BUILD_DIR/$b" ] || t_skip "$b is not built in $DROVER_BUILD_DIR"
done

export TB_NAME=systest2 TB_BRIDGE=drvtbr2 TB_NS_PREFIX=drvt2-h TB_NET=10.77.2 TB_HOSTS=3
export TB_ROOT=/run/drover/$TB_NAME
unset TB_SHARED
tb_config
CONTROLLER="tcp://$TB_BRIDGE_IP:7702"
down() { bash "$DROVER_SOURCE_DIR/deploy/cluster-down.sh" --name "$TB_NAME"; }
down >"$T_DIR/cluster-predown.log" 2>&1 || true
# On failure, keep the cluster's logs with the test's, then tear down.
collect_and_down() {
  local k
  cp "$TB_ROOT"/logs/*.log "$T_DIR/" 2>/dev/null
  for k in 1 2 3; do cp "$TB_ROOT/hosts/h$k/log/libvirtd.log" "$T_DIR/libvirtd-h$k.log" 2>/dev/null; done
  down >"$T_DIR/cluster-down.log" 2>&1
}
t_on_exit collect_and_down

t0=$(date +%s%N)
bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" \
  --ns-prefix "$TB_NS_PREFIX" --net "$TB_NET" --hosts 3 --samples 0 --no-install --no-build \
  --build-dir "$DROVER_BUILD_DIR" >"$T_DIR/cluster-up.log" 2>&1 ||
  t_fail "cluster-up.sh failed: $(tail -n 15 "$T_DIR/cluster-up.log")"
t_log "cluster of 3 hosts up in $(sys_ms_since "$t0") ms"
# the cluster is secured: the CLI speaks as the admin key cluster-up.sh made and enrolled
export DROVER_KEY_FILE=$TB_ROOT/keys/admin.key DROVER_CONTROLLER_KEY=$TB_ROOT/keys/controller.pub

drover() { "$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" --timeout 60 "$@"; }
djson() { drover --json "$@"; }

t_eq "reachable hosts" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"
for i in 1 2 3; do
  t_eq "h$i's libvirt host UUID (reported by its agent from its own libvirtd)" "$(tb_host_uuid "$i")" \
    "$(djson host show "h$i" | jq -r '.host_uuid')"
  t_eq "h$i reports the shared pool" "shared $TB_SHARED true" \
    "$(djson host show "h$i" | jq -r '.pools[] | select(.name == "shared") | "\(.name) \(.path) \(.active)"')"
  t_check "the agent of h$i runs in namespace $(tb_ns "$i")" \
    test "$(ip netns identify "$(awk -v n="agent-h$i" '$1 == n {print $2}' "$TB_ROOT/pids")")" = "$(tb_ns "$i")"
done

# --- define
dom=sysvm
disk=$(tb_guest_disk "$dom" "$SYS_GUEST_IMAGE")
tb_guest_xml "$dom" "$disk" 128 >"$T_DIR/$dom.xml"
t_check "drover domain define" drover domain define "$T_DIR/$dom.xml"
t_eq "desired state after define" "shutoff" "$(djson domain info "$dom" | jq -r '.desired_state')"

# --- start
t0=$(date +%s%N)
t_check "drover domain start" drover domain start "$dom"
t_log "start through drover: $(sys_ms_since "$t0") ms"
host=$(djson domain info "$dom" | jq -r '.host')
case "$host" in h1 | h2 | h3) ;; *) t_fail "domain placed on '$host', not on h1..h3" ;; esac
hi=${host#h}
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
sys_qemu_in_ns "$hi" "$dom"
qemu_pid=$(tb_host_qemu_pid "$hi" "$dom")
sys_serial_grows "$dom" 3 30
for j in 1 2 3; do
  [ "$j" = "$hi" ] && continue
  t_check "no QEMU for $dom on h$j" test -z "$(tb_host_qemu_pid "$j" "$dom" || true)"
done
t_wait_for "drover reports $dom running" 20 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json domain info '$dom' | jq -r .state)\" = running ]"

# --- snapshot
t0=$(date +%s%N)
t_check "drover snapshot create" drover snapshot create "$dom" s1
t_log "snapshot through drover: $(sys_ms_since "$t0") ms"
t_eq "drover snapshot list" "s1" "$(djson snapshot list "$dom" | jq -r '[.snapshots[].name] | join(",")')"
t_eq "libvirt on $host has the snapshot" "s1" "$(tb_virsh "$hi" snapshot-list "$dom" --name | sed '/^$/d' | tr '\n' ',' | sed 's/,$//')"
sys_serial_grows "$dom" 2 30

# --- suspend / resume
t_check "drover domain suspend" drover domain suspend "$dom"
t_eq "libvirt on $host says" "paused" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
t_wait_for "drover reports $dom paused" 20 sh -c "[ \"\$('$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --json domain info '$dom' | jq -r .state)\" = paused ]"
tick=$(tb_guest_last_tick "$dom")
sleep 1.5
t_eq "a paused guest writes nothing" "$tick" "$(tb_guest_last_tick "$dom")"
t_check "drover domain resume" drover domain resume "$dom"
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
sys_serial_grows "$dom" 3 30

# --- the host's libvirtd dies and comes back
agent_pid=$(awk -v n="agent-$host" '$1 == n {print $2}' "$TB_ROOT/pids")
lv_pid=$(tb_host_pid "$hi") || t_fail "no libvirtd pid for $host"
kill -KILL "$lv_pid"
t_wait_for "libvirtd of $host (pid $lv_pid) gone" 10 sh -c "! kill -0 $lv_pid 2>/dev/null || [ \"\$(awk '{print \$3}' /proc/$lv_pid/stat)\" = Z ]"
t_log "killed libvirtd of $host (pid $lv_pid)"
sys_serial_grows "$dom" 2 30 # the guest does not care: QEMU outlives libvirtd
t_check "QEMU still runs (pid $qemu_pid)" kill -0 "$qemu_pid"
sleep 2 # the agent notices the dead connection
t0=$(date +%s%N)
tb_host_start "$hi"
t_log "libvirtd of $host restarted in $(sys_ms_since "$t0") ms"
t_check "the agent of $host is the same process (pid $agent_pid)" tb_pid_is "$agent_pid" drover-agent
# The agent reconnects by itself; then a command through the controller reaches libvirt again.
t0=$(date +%s%N)
t_wait_for "a suspend through drover reaches the restarted libvirtd" 60 sh -c \
  "'$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' --timeout 10 domain suspend '$dom' &&
   [ \"\$(virsh -q -c '$(tb_host_unix_uri "$hi")' domstate '$dom' | head -n 1)\" = paused ]"
t_log "agent reconnected and served a command $(sys_ms_since "$t0") ms after the restart"
t_check "drover domain resume after the restart" drover domain resume "$dom"
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
sys_serial_grows "$dom" 2 30
t_eq "reachable hosts after the restart" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"

# --- device hotplug on real libvirtd (the guest has <features><acpi/> and, by default, a USB
# controller). A USB disk comes and goes without the guest's help; a virtio (PCI) disk needs the
# guest to release it, which a guest without an OS never does.
extra="$TB_SHARED/$dom-extra.img"
qemu-img create -q -f raw "$extra" 1M
disk_xml() { # disk_xml TARGET BUS
  printf "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/><target dev='%s' bus='%s'/></disk>\n" "$extra" "$1" "$2"
}
disk_xml sdb usb >"$T_DIR/usb-disk.xml"
disk_xml vdb virtio >"$T_DIR/virtio-disk.xml"
host_uri=$(tb_host_tool_uri "$hi")
blk() { virsh -q -c "$host_uri" domblklist "$@" "$dom" | awk '{print $1 "=" $2}' | sort | tr '\n' ' '; }
blk_base="hda=$disk "
lacks() { ! grep -qF "$1" <<<"$2"; } # lacks NEEDLE TEXT
# unreachable_count — how often the controller has logged a host becoming unreachable so far.
unreachable_count() { grep -c "host 'h[0-9]*' is unreachable" "$TB_ROOT/logs/controller.log" || true; }
unreach0=$(unreachable_count)
rev0=$(djson domain info "$dom" | jq '.revision')
t_eq "libvirt on $host: disks before hotplug" "$blk_base" "$(blk)"

t_check "drover domain attach-device --live (USB disk)" drover domain attach-device "$dom" "$T_DIR/usb-disk.xml" --live
t_eq "libvirt on $host (virsh -c $host_uri domblklist): USB disk attached" "${blk_base}sdb=$extra " "$(blk)"
t_eq "libvirt on $host: the persistent definition is unchanged" "$blk_base" "$(blk --inactive)"
t_check "drover domain dumpxml (live) shows the USB disk" \
  grep -q "<target dev='sdb' bus='usb'/>" <<<"$(drover domain dumpxml "$dom")"
t_check "drover domain dumpxml --inactive does not" lacks "$extra" "$(drover domain dumpxml "$dom" --inactive)"
t_eq "a --live attach is no new revision" "$rev0" "$(djson domain info "$dom" | jq '.revision')"
t_check "drover domain detach-device --live (USB disk)" drover domain detach-device "$dom" "$T_DIR/usb-disk.xml" --live
t_eq "libvirt on $host: USB disk gone" "$blk_base" "$(blk)"
sys_serial_grows "$dom" 2 30

t_check "drover domain attach-device --config (USB disk)" drover domain attach-device "$dom" "$T_DIR/usb-disk.xml" --config
t_eq "--config attach: a new revision" $((rev0 + 1)) "$(djson domain info "$dom" | jq '.revision')"
t_check "--config attach: drover domain dumpxml --inactive shows the disk" \
  grep -q "<source file='$extra'/>" <<<"$(drover domain dumpxml "$dom" --inactive)"
t_eq "--config attach: libvirt on $host has it in the persistent definition" "${blk_base}sdb=$extra " "$(blk --inactive)"
t_eq "--config attach: not in the running guest" "$blk_base" "$(blk)"
t_check "drover domain detach-device --config (USB disk)" drover domain detach-device "$dom" "$T_DIR/usb-disk.xml" --config
t_eq "--config detach: a new revision" $((rev0 + 2)) "$(djson domain info "$dom" | jq '.revision')"
t_check "--config detach: gone from drover domain dumpxml --inactive" \
  lacks "$extra" "$(drover domain dumpxml "$dom" --inactive)"
t_eq "--config detach: gone from libvirt's persistent definition" "$blk_base" "$(blk --inactive)"

# long_cmd_start OUT ARGS... — runs `drover ARGS` in the background (exit status in OUT.rc).
long_cmd_start() {
  local out=$1
  shift
  (rc=0
   "$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" --timeout 60 "$@" >"$out" 2>&1 || rc=$?
   echo "$rc" >"$out.rc") &
  LONG_PID=$!
}
# long_cmd_midway WHAT — 3.5 s in (more than the 3 s liveness window: heartbeats every 1 s,
# liveness 3), checks that the command still runs and that drover reports its host reachable:
# the agent kept heartbeating while it carried the command out.
long_cmd_midway() {
  sleep 3.5
  t_check "$1 still running 3.5 s in" kill -0 "$LONG_PID"
  t_eq "drover host show $host during $1: reachable" true "$(djson host show "$host" | jq '.reachable')"
  t_check "$1 still running after the check" kill -0 "$LONG_PID"
  wait "$LONG_PID" || true
}

t_check "drover domain attach-device --live (virtio disk)" drover domain attach-device "$dom" "$T_DIR/virtio-disk.xml" --live
t_eq "libvirt on $host: virtio disk attached" "${blk_base}vdb=$extra " "$(blk)"
# QEMU asks the guest to let the PCI device go and libvirt waits 5 s for it; the guest never does.
long_cmd_start "$T_DIR/detach-virtio.out" domain detach-device "$dom" "$T_DIR/virtio-disk.xml" --live
long_cmd_midway "detach-device of a virtio disk"
t_eq "detach-device of a virtio disk: exit status (libvirt: request sent) $(cat "$T_DIR/detach-virtio.out")" \
  0 "$(cat "$T_DIR/detach-virtio.out.rc")"
t_eq "libvirt on $host: the guest did not release the virtio disk (documented: unplug needs the guest)" \
  "${blk_base}vdb=$extra " "$(blk)"

# --- a guest that ignores shutdown (the boot sector has no ACPI handling); the agent keeps
# heartbeating while it waits
long_cmd_start "$T_DIR/shutdown.out" domain shutdown "$dom" --timeout 5
long_cmd_midway "shutdown --timeout 5"
t_eq "shutdown --timeout 5 of a guest that ignores it: exit status" 1 "$(cat "$T_DIR/shutdown.out.rc")"
t_check "shutdown: the error says the guest ignored it ($(cat "$T_DIR/shutdown.out"))" \
  grep -q "^error: domain '$dom': still running 5000 ms after the shutdown request: the guest ignored it" \
  "$T_DIR/shutdown.out"
t_eq "libvirt on $host says, after the ignored shutdown" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
t_eq "drover after the ignored shutdown: state, desired" "running running" \
  "$(djson domain info "$dom" | jq -r '"\(.state) \(.desired_state)"')"
sys_serial_grows "$dom" 2 30
t_eq "no host became unreachable during the long commands" "$unreach0" "$(unreachable_count)"
t_eq "reachable hosts after the long commands" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"

# --- cluster-up.sh again on the running cluster reuses everything
pids_before=$(cat "$TB_ROOT/pids")
lv_before=$(for i in 1 2 3; do tb_host_pid "$i"; done | tr '\n' ' ')
t0=$(date +%s%N)
bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" \
  --ns-prefix "$TB_NS_PREFIX" --net "$TB_NET" --hosts 3 --samples 0 --no-install --no-build \
  --build-dir "$DROVER_BUILD_DIR" >"$T_DIR/cluster-up-again.log" 2>&1 ||
  t_fail "cluster-up.sh a second time failed: $(tail -n 15 "$T_DIR/cluster-up-again.log")"
t_log "cluster-up.sh again on the running cluster: $(sys_ms_since "$t0") ms"
t_eq "same etcd, controller and agents (name pid pattern)" "$pids_before" "$(cat "$TB_ROOT/pids")"
while read -r name pid _; do
  t_check "$name (pid $pid) still runs" kill -0 "$pid"
done <"$TB_ROOT/pids"
t_eq "same libvirtds" "$lv_before" "$(for i in 1 2 3; do tb_host_pid "$i"; done | tr '\n' ' ')"
t_check "same QEMU for $dom (pid $qemu_pid)" kill -0 "$qemu_pid"
t_eq "QEMU pid file of $dom on $host" "$qemu_pid" "$(tb_host_qemu_pid "$hi" "$dom")"
t_eq "libvirt on $host says" "running" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
sys_serial_grows "$dom" 2 30
t_eq "reachable hosts after cluster-up again" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"
t_eq "drover still has $dom running on $host (revision kept)" "running $host $((rev0 + 2))" \
  "$(djson domain info "$dom" | jq -r '"\(.state) \(.host) \(.revision)"')"
t_eq "drover domain list: still one domain" "$dom" "$(djson domain list | jq -r '[.domains[].name] | join(",")')"
t_check "drover domain suspend after cluster-up again" drover domain suspend "$dom"
t_eq "libvirt on $host says" "paused" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
t_check "drover domain resume after cluster-up again" drover domain resume "$dom"

# --- destroy / undefine
t0=$(date +%s%N)
t_check "drover domain destroy" drover domain destroy "$dom"
t_log "destroy through drover: $(sys_ms_since "$t0") ms"
t_eq "libvirt on $host says" "shut off" "$(tb_virsh "$hi" domstate "$dom" | head -n 1)"
t_wait_for "QEMU (pid $qemu_pid) gone" 15 sh -c "! kill -0 $qemu_pid 2>/dev/null"
tick=$(tb_guest_last_tick "$dom")
sleep 1
t_eq "a destroyed guest writes nothing" "$tick" "$(tb_guest_last_tick "$dom")"
t_check "drover domain undefine" drover domain undefine "$dom"
t_check "libvirt on $host no longer knows $dom" sh -c "! virsh -q -c '$(tb_host_unix_uri "$hi")' dominfo '$dom' >/dev/null 2>&1"
t_check "drover no longer knows $dom" sh -c "! '$DROVER_BUILD_DIR/cli/drover' --controller '$CONTROLLER' domain info '$dom' >/dev/null 2>&1"

# --- teardown leaves nothing
pids=$(awk '{print $2}' "$TB_ROOT/pids")
lv_pids=$(for i in 1 2 3; do tb_host_pid "$i" || true; done)
down >"$T_DIR/cluster-down.log" 2>&1 || t_fail "cluster-down.sh failed: $(tail -n 5 "$T_DIR/cluster-down.log")"
for p in $pids $lv_pids; do
  t_check "process $p stopped" sh -c "! kill -0 $p 2>/dev/null || [ \"\$(awk '{print \$3}' /proc/$p/stat)\" = Z ]"
done
for i in 1 2 3; do
  t_check "namespace $(tb_ns "$i") removed" sh -c "! ip netns list | awk '{print \$1}' | grep -qx '$(tb_ns "$i")'"
done
t_check "bridge $TB_BRIDGE removed" sh -c "! ip link show '$TB_BRIDGE' >/dev/null 2>&1"
t_check "state directory removed" test ! -e "$TB_ROOT"
