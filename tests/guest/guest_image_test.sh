#!/usr/bin/env bash
# guest_image_test.sh — the test guest image is a bootable 1 MiB disk whose boot sector, run by QEMU
# (TCG, no libvirt, no root needed), prints its settings and then ticks that keep increasing, and
# dirties the memory it says it dirties.
source "$(dirname "$0")/../support/lib.sh"

img="$DROVER_BUILD_DIR/tests/guest/drover-guest.img"
[ -f "$img" ] || t_fail "missing $img (build target drover-guest)"
command -v qemu-system-x86_64 >/dev/null || t_skip "qemu-system-x86_64 not installed"

t_eq "image size" 1048576 "$(stat -c %s "$img")"
t_eq "boot signature" "55aa" "$(od -An -tx1 -j510 -N2 "$img" | tr -d ' \n')"

serial="$T_DIR/serial.log"
mon="$T_DIR/monitor.sock"
pid=$(t_spawn qemu qemu-system-x86_64 -accel tcg -m 128 -display none -no-user-config -nodefaults \
  -drive "file=$img,format=raw,if=ide,snapshot=on" -serial "file:$serial" \
  -monitor "unix:$mon,server=on,wait=off")

t_wait_for "guest tick 5 on the serial log" 30 grep -q '^drover-guest tick 5$' "$serial"
t_check "boot line names the dirty size" grep -q '^drover-guest boot dirty_mib=[0-9]* line_ticks=[0-9]* busy=0$' "$serial"
dirty_mib=$(sed -n 's/^drover-guest boot dirty_mib=\([0-9]*\).*/\1/p' "$serial")

# The ticks are 1, 2, 3, ... with no gap or repeat.
ticks=$(sed -n 's/^drover-guest tick \([0-9]*\)$/\1/p' "$serial")
n=$(wc -l <<<"$ticks")
t_eq "ticks count up from 1" "$(seq 1 "$n" | tr '\n' ' ')" "$(tr '\n' ' ' <<<"$ticks")"

# It keeps running: more ticks later.
t_wait_for "guest tick $((n + 3))" 30 grep -q "^drover-guest tick $((n + 3))\$" "$serial"

# The first dword of the first and of the last dirtied page holds the (non-zero) tick number; the page
# after the range is untouched.
if [ "$dirty_mib" -gt 0 ] && command -v socat >/dev/null; then
  last=$(printf '0x%x' $((0x100000 + dirty_mib * 1048576 - 4096)))
  after=$(printf '0x%x' $((0x100000 + dirty_mib * 1048576)))
  out=$(printf 'xp /1wx 0x100000\nxp /1wx %s\nxp /1wx %s\n' "$last" "$after" |
    socat -t 2 - "UNIX-CONNECT:$mon" | tr -d '\r')
  first_v=$(sed -n 's/^0*100000: \(0x[0-9a-f]*\)$/\1/p' <<<"$out")
  last_v=$(sed -n "s/^0*${last#0x}: \(0x[0-9a-f]*\)\$/\1/p" <<<"$out")
  after_v=$(sed -n "s/^0*${after#0x}: \(0x[0-9a-f]*\)\$/\1/p" <<<"$out")
  t_check "first dirty page written (got '$first_v')" test -n "$first_v" -a "$((first_v))" -gt 0
  t_check "last dirty page written (got '$last_v')" test -n "$last_v" -a "$((last_v))" -gt 0
  t_eq "page after the dirty range untouched" "0x00000000" "$after_v"
else
  t_log "socat missing or nothing dirtied: memory check not run"
fi
t_stop "$pid"

# The CPU-busy mode (drover-guest-busy.img): it still ticks, and its vCPU spins between ticks, so
# QEMU burns a host core where the idle image (same knobs, BUSY=0) leaves it nearly idle.
cpu_pct() { # PID SECONDS — % of one core used by PID over SECONDS
  local hz a b
  hz=$(getconf CLK_TCK)
  a=$(awk '{print $14 + $15}' "/proc/$1/stat")
  sleep "$2"
  b=$(awk '{print $14 + $15}' "/proc/$1/stat")
  echo $(( (b - a) * 100 / hz / $2 ))
}
for kind in busy idle; do
  img="$DROVER_BUILD_DIR/tests/guest/drover-guest-$kind.img"
  [ -f "$img" ] || t_fail "missing $img (build target drover-guest)"
  serial="$T_DIR/serial-$kind.log"
  pid=$(t_spawn "qemu-$kind" qemu-system-x86_64 -accel tcg -m 128 -display none -no-user-config \
    -nodefaults -drive "file=$img,format=raw,if=ide,snapshot=on" -serial "file:$serial")
  t_wait_for "$kind guest tick 3" 30 grep -q '^drover-guest tick 3$' "$serial"
  declare "cpu_$kind=$(cpu_pct "$pid" 4)"
  t_wait_for "$kind guest keeps ticking" 30 grep -q '^drover-guest tick 12$' "$serial"
  t_stop "$pid"
done
t_check "the busy image says busy=1" grep -q '^drover-guest boot dirty_mib=0 line_ticks=[0-9]* busy=1$' \
  "$T_DIR/serial-busy.log"
t_log "QEMU CPU: busy guest ${cpu_busy}% of a core, idle guest ${cpu_idle}%"
# (relative, not absolute: on a shared, loaded machine a spinning QEMU gets only its share of a core)
t_check "the busy guest uses several times the idle guest's CPU (${cpu_busy}% vs ${cpu_idle}%)" \
  test "$cpu_busy" -ge $((4 * cpu_idle + 8))
