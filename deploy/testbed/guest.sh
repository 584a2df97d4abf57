# shellcheck shell=bash
# deploy/testbed/guest.sh — domains running drover's test guest (tests/guest/boot.S): a qcow2 overlay
# in the shared directory over the raw guest image, and a serial log in $TB_SHARED/serial/NAME.log
# opened in append mode, so the log of a guest keeps growing across hosts and live migrations.
# Source lib.sh first.

# tb_guest_disk NAME IMAGE — creates $TB_SHARED/NAME.qcow2 backed by a copy of IMAGE in the shared
# directory (the base is copied once, as base-<image file name>). Prints the overlay's path.
tb_guest_disk() {
  local name=$1 image=$2 base disk
  [ -f "$image" ] || tb_die "guest image $image not found (build target drover-guest)"
  base="$TB_SHARED/base-$(basename "$image")"
  if [ ! -f "$base" ] || ! cmp -s "$image" "$base"; then
    cp "$image" "$base.tmp" && mv "$base.tmp" "$base"
  fi
  disk="$TB_SHARED/$name.qcow2"
  if [ ! -f "$disk" ]; then
    qemu-img create -q -f qcow2 -F raw -b "$base" "$disk" || tb_die "cannot create $disk"
  fi
  echo "$disk"
}

# tb_guest_serial NAME — the path of NAME's serial log.
tb_guest_serial() { echo "$TB_SHARED/serial/$1.log"; }

# tb_guest_xml NAME DISK [MEMORY_MIB] — prints a TCG domain definition booting DISK, 1 vCPU,
# MEMORY_MIB of RAM (default 128), COM1 appended to tb_guest_serial NAME, a virtio balloon and ACPI
# (so setmem --live and attach-device --live work).
tb_guest_xml() {
  local name=$1 disk=$2 mem=${3:-128}
  cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <currentMemory unit='MiB'>$mem</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64 || echo /usr/bin/qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <serial type='file'>
      <source path='$(tb_guest_serial "$name")' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
XML
}

# tb_guest_last_tick NAME — the last tick number NAME wrote to its serial log (0 when none).
tb_guest_last_tick() {
  local t
  t=$(grep -a '^drover-guest tick [0-9]*$' "$(tb_guest_serial "$1")" 2>/dev/null | tail -n 1 | awk '{print $3}')
  echo "${t:-0}"
}

# tb_guest_wait_ticks NAME N TIMEOUT_S — waits until NAME's serial log shows N more ticks than now.
tb_guest_wait_ticks() {
  local name=$1 n=$2 timeout=$3 from
  from=$(tb_guest_last_tick "$name")
  tb_wait "$timeout" tb_guest_tick_reached "$name" $((from + n))
}
tb_guest_tick_reached() { [ "$(tb_guest_last_tick "$1")" -ge "$2" ]; }
