#!/usr/bin/env bash
# provision_test.sh — issue 14 on a real 3-host testbed (bridge drvtbr40, namespaces drvt40-h*,
# 10.77.40.0/24), only through the drover CLI: pool define (a shared pool verified by marker files,
# an unshared one reported as such), vol create/info/delete, net define on every host, then
# `domain create web1 ... --cloud-init FILE --start` boots the Linux test guest (tests/guest/linux),
# whose serial log shows the seed's hostname and command, and `domain shutdown` powers it off
# through ACPI. Bad input (a size that does not fit, an unknown pool or network, a volume in use,
# invalid cloud-config) gives a clear error and leaves no volume behind. A second guest web2 on
# another host keeps one TCP connection to web1's counter service over the cluster network tbnet
# (a bridge per host joined to the testbed bridge) while web1 is live-migrated to the third host:
# its serial log shows the replies counting on without a close or restart.
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

export TB_NAME=systest40 TB_BRIDGE=drvtbr40 TB_NS_PREFIX=drvt40-h TB_NET=10.77.40 TB_HOSTS=3
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
# joined across hosts: a veth per host from tbbr0 to the testbed bridge (the cluster's L2), so
# guests on different hosts share one segment (192.168.77.0/24, their own addresses).
for k in 1 2 3; do
  ip netns exec "$(tb_ns $k)" ip link add tbbr0 type bridge 2>/dev/null || true
  ip netns exec "$(tb_ns $k)" ip link set tbbr0 up
  ip link add "${TB_BRIDGE}c$k" type veth peer name tbup netns "$(tb_ns $k)" ||
    t_fail "cannot create the cluster-network veth of host $k"
  ip link set "${TB_BRIDGE}c$k" master "$TB_BRIDGE"
  ip link set "${TB_BRIDGE}c$k" up
  ip netns exec "$(tb_ns $k)" ip link set tbup master tbbr0
  ip netns exec "$(tb_ns $k)" ip link set tbup up
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

# --- a second guest on another host talks to web1 over tbnet across a live migration of web1.
# web2's seed runs a sender: one line a second into ONE TCP connection to web1's counter service
# (port 7, which numbers the lines of each connection from 1); every reply goes to web2's serial
# log. A reconnect would print 'peer closed' and restart the numbering at 1.
cat >"$T_DIR/user-data2.yaml" <<'YAML'
#cloud-config
hostname: web2
write_files:
  - path: /bin/peer
    content: |
      #!/bin/sh
      until ip addr show eth0 | grep -q 192.168.77.12; do sleep 1; done
      while :; do
        i=0
        while :; do i=$((i + 1)); echo "ping $i"; sleep 1; done | nc 192.168.77.11 7 |
          while IFS= read -r l; do echo "peer reply $l" >/dev/ttyS0; done
        echo "peer closed" >/dev/ttyS0
        sleep 1
      done
runcmd:
  - sh /bin/peer >/dev/null 2>&1 &
YAML
printf 'version: 2\nethernets:\n  eth0:\n    addresses: [192.168.77.12/24]\n' >"$T_DIR/net2.yaml"
serial2="$TB_SHARED/serial/web2.log"
t_check "domain create web2 --start" drover domain create web2 "${common[@]}" \
  --disk pool=vms,size=1G --network tbnet --cloud-init "$T_DIR/user-data2.yaml" \
  --network-config "$T_DIR/net2.yaml" --serial-log "$serial2" --start
h1=$(djson domain info web1 | jq -r .host)
h2=$(djson domain info web2 | jq -r .host)
if [ "$h1" = "$h2" ]; then
  # the scheduler put both on one host: move web2 away first (before its connection exists, or
  # across it — either way the proof below is about web1's migration).
  other=$(djson host list | jq -r --arg a "$h1" '[.hosts[].id | select(. != $a)][0]')
  t_check "web2 moved to another host ($other)" drover domain migrate web2 --to "$other"
  h2=$(djson domain info web2 | jq -r .host)
fi
t_log "web1 on $h1, web2 on $h2"
t_check "web1 and web2 on different hosts" test "$h1" != "$h2"
s_serial2() { tr -d '\r' <"$serial2" 2>/dev/null | grep -qa "$1"; }
last_reply() { tr -d '\r' <"$serial2" | grep -a '^peer reply ' | tail -n 1 | awk '{ print $3 }'; }
t_wait_for "web2 booted" 120 s_serial2 '^drover-linux ready'
t_wait_for "web2 reaches web1 over tbnet (a reply)" 60 s_serial2 '^peer reply 3 ping 3$'
dst=$(djson host list | jq -r --arg a "$h1" --arg b "$h2" '[.hosts[].id | select(. != $a and . != $b)][0]')
before=$(last_reply)
t_log "before the migration: reply $before"
t_check "live-migrate web1 $h1 → $dst" drover domain migrate web1 --to "$dst"
t_eq "web1 now on $dst" "$dst" "$(djson domain info web1 | jq -r .host)"
t_eq "web1 still running" "running" "$(djson domain info web1 | jq -r .state)"
after_mig=$(last_reply)
t_wait_for "the connection kept exchanging data after the migration" 60 \
  sh -c "[ \"\$(tr -d '\r' <'$serial2' | grep -a '^peer reply ' | tail -n 1 | awk '{ print \$3 }')\" -ge $((after_mig + 5)) ]"
t_check "no reconnect: the connection never closed once it answered" sh -c \
  "tr -d '\r' <'$serial2' | awk '/^peer reply / { r = 1 } /^peer closed/ && r { exit 1 }'"
t_eq "no reconnect: each reply numbers one line of the same connection" \
  "$(tr -d '\r' <"$serial2" | grep -ac '^peer reply ')" "$(last_reply)"
t_check "no reconnect: the replies count up without a restart" sh -c \
  "tr -d '\r' <'$serial2' | grep -a '^peer reply ' | awk '{ if (\$3 != NR || \$5 != NR) exit 1 }'"
t_log "replies: $before before, $after_mig at the end of the migration, $(last_reply) now"
t_check "domain destroy web2" drover domain destroy web2
t_check "undefine web2 --remove-storage" drover domain undefine web2 --remove-storage

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
