#!/usr/bin/env bash
# build.sh OUTDIR — builds drover's Linux test guest offline from Debian packages into OUTDIR:
#   OUTDIR/vmlinuz        the kernel of Debian's linux-image-amd64 (extracted, never installed)
#   OUTDIR/initrd.gz      busybox-static + the virtio/CD-ROM/ACPI modules of that kernel + init
#   OUTDIR/VERSION        the kernel version
# The packages are fetched with `apt-get download` into OUTDIR/debs once and reused; the image is
# rebuilt only when init or this script changed. Needs apt-get, dpkg-deb, cpio and gzip.
# Exits 77 (skip) when the packages cannot be had (no apt, offline), 1 on any other failure.
set -euo pipefail
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
# One build at a time per OUTDIR (tests may call this concurrently).
exec 9>"$out/.lock"
flock 9

stamp=$(cat "$here/init" "$here/build.sh" | md5sum | cut -d' ' -f1)
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found" >&2; exit 77; }
done

# The kernel package linux-image-amd64 depends on (linux-image-6.1.0-NN-amd64).
cd "$out/debs"
s_kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
kpkg=$(s_kernel_pkg)
if [ -z "$kpkg" ] && [ "$(id -u)" -eq 0 ]; then
  apt-get update -q >"$out/update.log" 2>&1 || true
  kpkg=$(s_kernel_pkg)
fi
[ -n "$kpkg" ] || { echo "build.sh: apt-cache does not know linux-image-amd64 (apt-get update?)" >&2; exit 77; }
for pkg in "$kpkg" busybox-static; do
  if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
    apt-get download "$pkg" >"$out/download.log" 2>&1 ||
      { cat "$out/download.log" >&2; echo "build.sh: cannot download $pkg" >&2; exit 77; }
  fi
done

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$(ls "${kpkg}"_*.deb | head -n 1)" "$work/kernel"
dpkg-deb -x "$(ls busybox-static_*.deb | head -n 1)" "$work/busybox"
kver=$(ls "$work/kernel/lib/modules" | head -n 1)
mods=$work/kernel/lib/modules/$kver/kernel

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,etc,seed,lib/modules}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
# The modules init loads, in dependency order (see init); all must match the kernel exactly.
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
  failover net_failover virtio_net scsi_common scsi_mod libata ata_piix cdrom sr_mod isofs \
  button evdev; do
  f=$(find "$mods" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
  [ -n "$f" ] || { echo "build.sh: module $m not in $kpkg" >&2; exit 1; }
  case $f in
  *.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
  *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done
cp "$here/init" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/initrd.gz"

cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$work/initrd.gz" "$out/initrd.gz"
echo "$kver" >"$out/VERSION"
echo "$stamp" >"$out/stamp"
echo "build.sh: Linux test guest $kver in $out ($(du -k "$out/initrd.gz" | cut -f1) KiB initrd)"
