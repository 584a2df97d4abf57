#!/usr/bin/env bash
# linux_guest_test.sh — drover's Linux test guest (tests/guest/linux/), run by plain QEMU (TCG, no
# libvirt, no root): it boots Debian's kernel with the busybox initramfs, applies a NoCloud seed
# (an ISO labelled cidata made with xorriso: hostname, write_files, runcmd, the NIC's address),
# answers on its TCP counter service (reached through QEMU's user network, forwarded from loopback
# only), writes heartbeats, and powers off cleanly on the ACPI power button.
source "$(dirname "$0")/../support/lib.sh"

command -v qemu-system-x86_64 >/dev/null || t_skip "qemu-system-x86_64 not installed"
command -v xorriso >/dev/null || t_skip "xorriso not installed"
command -v socat >/dev/null || t_skip "socat not installed"
gdir="$DROVER_BUILD_DIR/tests/guest/linux"
rc=0
bash "$DROVER_SOURCE_DIR/tests/guest/linux/build.sh" "$gdir" >"$T_DIR/build.log" 2>&1 || rc=$?
[ "$rc" -eq 77 ] && t_skip "cannot build the Linux guest: $(tail -n 1 "$T_DIR/build.log")"
[ "$rc" -eq 0 ] || t_fail "build.sh failed: $(tail -n 5 "$T_DIR/build.log")"

mkdir -p "$T_DIR/seed"
cat >"$T_DIR/seed/user-data" <<'YAML'
#cloud-config
hostname: guest-one
write_files:
  - path: /etc/motd
    content: "hello from the seed"
  - path: /root/block.txt
    content: |
      first line
      second line
runcmd:
  - echo seed-command $(cat /etc/motd)
  - cat /root/block.txt
YAML
printf 'instance-id: i-1\nlocal-hostname: ignored-by-user-data\n' >"$T_DIR/seed/meta-data"
printf 'version: 2\nethernets:\n  eth0:\n    addresses: [10.0.2.15/24]\n' >"$T_DIR/seed/network-config"
xorriso -as mkisofs -quiet -o "$T_DIR/seed.iso" -V cidata -J -r "$T_DIR/seed" 2>"$T_DIR/xorriso.log"

port=$(t_free_port)
serial="$T_DIR/serial.log"
# s_serial PATTERN — the serial log (console lines end in CR LF) has a line matching PATTERN.
s_serial() { tr -d '\r' <"$serial" | grep -qa "$1"; }
mon="$T_DIR/monitor.sock"
pid=$(t_spawn qemu qemu-system-x86_64 -accel tcg -m 256 -display none -no-user-config -nodefaults \
  -machine pc -kernel "$gdir/vmlinuz" -initrd "$gdir/initrd.gz" -append "console=ttyS0 quiet" \
  -serial "file:$serial" -drive "file=$T_DIR/seed.iso,media=cdrom,if=ide,readonly=on" \
  -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:7" -device virtio-net-pci,netdev=n0 \
  -monitor "unix:$mon,server=on,wait=off")

t_wait_for "guest ready on its serial log" 90 s_serial '^drover-linux ready'
t_check "booted Debian's kernel" grep -qa "^drover-linux boot kernel=$(cat "$gdir/VERSION")" "$serial"
t_check "no module failed" bash -c "! grep -qa '^drover-linux module .* failed' '$serial'"
t_check "the seed was found" s_serial '^drover-linux seed /dev/sr0'
t_check "hostname from user-data" s_serial '^drover-linux hostname guest-one$'
t_check "file written" s_serial '^drover-linux wrote /etc/motd$'
t_check "runcmd ran, after write_files" s_serial '^seed-command hello from the seed$'
t_check "block content written" s_serial '^second line$'
t_check "NIC up with the seed's address" s_serial '^drover-linux nic eth0 addr 10.0.2.15/24$'
t_wait_for "heartbeat 3" 30 s_serial '^drover-linux heartbeat 3 guest-one$'

reply=$( (printf 'one\ntwo\n'; sleep 2) | timeout 10 socat - "TCP:127.0.0.1:$port" | tr -d '\r' | tr '\n' '|')
t_eq "counter service numbers the lines" "1 one|2 two|" "$reply"

echo system_powerdown | socat -t 2 - "UNIX-CONNECT:$mon" >/dev/null
t_wait_for "QEMU exits after the power button" 60 bash -c "! kill -0 $pid 2>/dev/null"
t_check "clean shutdown on the serial log" s_serial '^drover-linux power off$'
