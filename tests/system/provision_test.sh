#!/usr/bin/env bash
# provision_test.sh — issue 14 on a real 3-host testbed (bridge drvtbr28, namespaces drvt28-h*,
# 10.77.28.0/24), only through the drover CLI: pool define (a shared pool verified by marker files,
# an unshared one reported as such), vol create/info/delete, net define on every host, then
# `domain create web1 ... --cloud-init FILE --start` boots the Linux test guest (tests/guest/linux),
# whose serial log shows the seed's hostname and command, and `domain shutdown` powers it off
# through ACPI. Bad input (a size that does not fit, an unknown pool or network, a volume in use,
# invalid cloud-config) gives a clear error and leaves no volume behind.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/system_lib.sh"
sys_require
for b in controller/drover-controller hostagent/drover-agent cli/drover; do
  [ -x "$DROVER_BUILD_DIR/$b" ] || t_skip "$b is not built in $DROVER_BUILD_DIR"
done
command -v xorriso >/dev/null || t_skip "xorriso not installed (deploy/install-deps.sh)"
gdir="$DROVER_BUILD_DIR/tests/guest/linux"
rc=0
bash "$DROVER_SOURCE_DIR/tests/guest/linux/build.sh" "$gdir" >"$T_DIR/guest-build.log" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && t_skip "cannot build the Linux guest: $(tail -n 1 "$T_DIR/guest-build.log")"
[ "$rc" -eq 0 ] || t_fail "guest build failed: $(tail -n 5 "$T_DIR/guest-build.log")"

export TB_NAME=systest28 TB_BRIDGE=drvtbr28 TB_NS_PREFIX=drvt28-h TB_NET=10.77.28 TB_HOSTS=3
export TB_ROOT=/run/drover/$TB_NAME
unset TB_SHARED
tb_config
CONTROLLER="tcp://$TB_BRIDGE_IP:7702"
down() { bash "$DROVER_SOURCE_DIR/deploy/cluster-down.sh" --name "$TB_NAME"; }
down >"$T_DIR/cluster-predown.log" 2>&1 || true
collect_and_down() {
  local k
  cp "$TB_ROOT"/logs/*.log "$T_DIR/" 2>/dev/null
  cp "$TB_SHARED"/serial/*.log "$T_DIR/" 2>/dev/null
  for k in 1 2 3; do cp "$TB_ROOT/hosts/h$k/log/libvirtd.log" "$T_DIR/libvirtd-h$k.log" 2>/dev/null; done
  down >"$T_DIR/cluster-down.log" 2>&1
}
t_on_exit collect_and_down

bash "$DROVER_SOURCE_DIR/deploy/cluster-up.sh" --name "$TB_NAME" --bridge "$TB_BRIDGE" \
  --ns-prefix "$TB_NS_PREFIX" --net "$TB_NET" --hosts 3 --samples 0 --no-install --no-build \
  --build-dir "$DROVER_BUILD_DIR" >"$T_DIR/cluster-up.log" 2>&1 ||
  t_fail "cluster-up.sh failed: $(tail -n 15 "$T_DIR/cluster-up.log")"

# the cluster's admin key (cluster-up.sh made and enrolled every key in $TB_ROOT/keys)
export DROVER_KEY_FILE=$TB_ROOT/keys/admin.key DROVER_CONTROLLER_KEY=$TB_ROOT/keys/controller.pub
drover() { "$DROVER_BUILD_DIR/cli/drover" --controller "$CONTROLLER" --timeout 60 "$@"; }
djson() { drover --json "$@"; }
# fails_with TEXT CMD... — the drover command fails and its message contains TEXT.
fails_with() {
  local text=$1 out
  shift
  if out=$(drover "$@" 2>&1); then t_fail "drover $* succeeded: $out"; fi
  T_CHECKS=$((T_CHECKS + 1))
  grep -qF -- "$text" <<<"$out" || t_fail "drover $*: expected '$text' in: $out"
  t_log "refused as expected: $out"
}
t_eq "reachable hosts" 3 "$(djson host list | jq '[.hosts[] | select(.reachable == true)] | length')"

# --- pools: a shared one (verified) and one whose directory differs per host
out=$(djson pool define vms --path "$TB_SHARED/vms" --shared)
t_eq "pool vms defined on every host" "3" "$(jq '[.hosts[] | select(.ok and .active)] | length' <<<"$out")"
t_eq "pool vms verified shared" "true" "$(jq -r .shared_verified <<<"$out")"
out=$(djson pool define local --path /var/lib/libvirt/drover-local --shared)
t_eq "pool local defined on every host" "3" "$(jq '[.hosts[] | select(.ok)] | length' <<<"$out")"
t_eq "pool local is not shared" "false" "$(jq -r .shared_verified <<<"$out")"
t_log "unshared: $(jq -r .shared_error <<<"$out")"
out=$(djson pool info vms)
t_eq "pool info: each host's view" "3" "$(jq '[.hosts[] | select(.capacity > 0 and .available > 0)] | length' <<<"$out")"
t_eq "pool list" "local vms" "$(djson pool list | jq -r '[.pools[].name] | sort | join(" ")')"

# --- volumes
t_check "vol create" drover vol create vms data1 --size 64M
t_eq "vol info" "ready 67108864" "$(djson vol info vms data1 | jq -r '"\(.state) \(.capacity_bytes)"')"
t_check "the volume file exists in the shared directory" test -f "$TB_SHARED/vms/data1"
fails_with "do not fit" vol create vms huge --size 900T
t_check "no record for the refused volume" sh -c "! $DROVER_BUILD_DIR/cli/drover --controller $CONTROLLER --json vol list vms | jq -e '.volumes[] | select(.name == \"huge\")'"
t_check "vol delete" drover vol delete vms data1
t_check "data1 gone" test ! -e "$TB_SHARED/vms/data1"

# --- a network on every host: a bridge in each host's namespace, forwarded to by libvirt
for k in 1 2 3; do
  ip netns exec "$(tb_ns $k)" ip link add tbbr0 type bridge 2>/dev/null || true
  ip netns exec "$(tb_ns $k)" ip link set tbbr0 up
done
out=$(djson net define tbnet --bridge tbbr0)
t_eq "net tbnet active on every host" "3" "$(jq '[.hosts[] | select(.ok and .active)] | length' <<<"$out")"
t_eq "net info" "3" "$(djson net info tbnet | jq '[.hosts[] | select(.active)] | length')"

# --- the guest
mkdir -p "$TB_SHARED/linux" "$TB_SHARED/serial"
cp "$gdir/vmlinuz" "$gdir/initrd.gz" "$TB_SHARED/linux/"
cat >"$T_DIR/user-data.yaml" <<'YAML'
#cloud-config
hostname: web1
write_files:
  - path: /etc/motd
    content: "provisioned by drover"
runcmd:
  - echo seed-command $(cat /etc/motd)
YAML
printf 'version: 2\nethernets:\n  eth0:\n    addresses: [192.168.77.11/24]\n' >"$T_DIR/net.yaml"
printf '#cloud-config\nhostname: [unclosed\n' >"$T_DIR/bad.yaml"
printf 'hostname: no-header\n' >"$T_DIR/noheader.yaml"
common=(--vcpus 1 --memory 256M --virt-type qemu
  --boot "kernel=$TB_SHARED/linux/vmlinuz,initrd=$TB_SHARED/linux/initrd.gz,cmdline=console=ttyS0 quiet")
fails_with "pool 'nopool' not found" domain create bad1 "${common[@]}" --disk pool=nopool,size=1G --cloud-init "$T_DIR/user-data.yaml"
fails_with "network 'nonet' not found" domain create bad2 "${common[@]}" --disk pool=vms,size=1G --network nonet --cloud-init "$T_DIR/user-data.yaml"
fails_with "invalid YAML" domain create bad3 "${common[@]}" --disk pool=vms,size=1G --cloud-init "$T_DIR/bad.yaml"
fails_with "#cloud-config" domain create bad4 "${common[@]}" --disk pool=vms,size=1G --cloud-init "$T_DIR/noheader.yaml"
fails_with "do not fit" domain create bad5 "${common[@]}" --disk pool=vms,size=900T --cloud-init "$T_DIR/user-data.yaml"
t_eq "nothing half-created by the refusals" "0" "$(djson vol list vms | jq '.volumes | length')"
t_check "no file left in the pool" test -z "$(ls "$TB_SHARED/vms")"
t_eq "no domain left" "0" "$(djson domain list --all | jq '.domains | length')"
t_check "dry run prints the XML" sh -c "$DROVER_BUILD_DIR/cli/drover --controller $CONTROLLER domain create web0 --memory 256M --disk pool=vms,size=1G --dry-run | grep -q \"<target dev='vda' bus='virtio'/>\""

serial="$TB_SHARED/serial/web1.log"
t_check "domain create web1 --start" drover domain create web1 "${common[@]}" \
  --disk pool=vms,size=1G --network tbnet --cloud-init "$T_DIR/user-data.yaml" \
  --network-config "$T_DIR/net.yaml" --serial-log "$serial" --start
t_eq "web1 running" "running" "$(djson domain info web1 | jq -r .state)"
t_eq "web1's volumes" "web1-disk0.qcow2 web1-seed.iso" "$(djson vol list vms | jq -r '[.volumes[].name] | sort | join(" ")')"
s_serial() { tr -d '\r' <"$serial" 2>/dev/null | grep -qa "$1"; }
t_wait_for "web1 booted (serial log)" 120 s_serial '^drover-linux ready'
t_check "hostname from the seed" s_serial '^drover-linux hostname web1$'
t_check "the seed's command ran" s_serial '^seed-command provisioned by drover$'
t_check "NIC with the seed's address" s_serial '^drover-linux nic eth0 addr 192.168.77.11/24$'
fails_with "in use by domain 'web1'" vol delete vms web1-disk0.qcow2

t_check "domain shutdown web1" drover domain shutdown web1 --timeout 90
t_check "the guest powered off cleanly" s_serial '^drover-linux power off$'
t_wait_for "drover reports web1 shut off" 30 sh -c "[ \"\$($DROVER_BUILD_DIR/cli/drover --controller $CONTROLLER --json domain info web1 | jq -r .state)\" = 'shut off' ]"
t_eq "web1's exact state after the guest's own power-off" "shut off (shutdown)" \
  "$(djson domain info web1 | jq -r '"\(.state) (\(.reason))"')"
t_check "undefine web1 --remove-storage" drover domain undefine web1 --remove-storage
t_eq "its disk and seed are gone (etcd)" "0" "$(djson vol list vms | jq '.volumes | length')"
t_check "its disk and seed are gone (files)" test -z "$(ls "$TB_SHARED/vms")"
t_check "pool undefine vms" drover pool undefine vms
t_eq "pool list without vms" "local" "$(djson pool list | jq -r '[.pools[].name] | join(" ")')"
