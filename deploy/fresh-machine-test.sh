#!/usr/bin/env bash
# fresh-machine-test.sh — the README's two commands on a fresh Debian 12, first try.
#
# Usage: deploy/fresh-machine-test.sh [--only-up] [--tiers all|unit|LABEL-REGEX] [--testbed N]
#                                     [--mirror URL] [--keep]
#
# As root, with the network (apt): makes a minimal Debian 12 root with debootstrap (bookworm,
# --variant=minbase: no compiler, no git, no curl) under /var/tmp/drover-fresh-XXXX, copies this
# checkout in without .git (the working tree as it is, build trees left out), mounts /proc, /sys,
# /dev, /dev/pts and a private /run in it, and runs by chroot, in order:
#   deploy/cluster-up.sh      (installs the packages, builds, starts etcd + controller + 3 hosts)
#   deploy/cluster-down.sh    (stops every process cluster-up started, by PID)
#   deploy/run-tests.sh       (installs, builds with ASan+UBSan, runs the tiers; skipped by --only-up)
# then stops whatever still runs in the root (by PID), unmounts everything and deletes the root (kept
# with --keep). Any failure fails the script; the time each step took is printed at the end.
#
#   --only-up      cluster-up + cluster-down only
#   --tiers T      run-tests.sh's ctest label: `all` (default: every tier, as the README says) or
#                  e.g. `unit`, `unit|integration`. The system tier uses the tests' own testbeds
#                  (systest<N>): do not run it while something else uses them.
#   --testbed N    the testbed cluster-up uses inside the root (default 65): bridge drvtbr<N>,
#                  namespaces drvt<N>-h1.., subnet 10.77.<N>.0/24, cluster name fresh<N>
#   --mirror URL   the Debian mirror (default http://deb.debian.org/debian)
#   --keep         keep the root (and print its path) instead of deleting it
# The host needs debootstrap (installed with apt-get when missing). Not part of the ctest tiers: it
# needs the network and takes tens of minutes (docs/deploy.md records runs).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

only_up=0
tiers=all
tb=65
mirror=http://deb.debian.org/debian
keep=0
usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --only-up) only_up=1; shift ;;
    --tiers) tiers=$2; shift 2 ;;
    --testbed) tb=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
case "$tb" in '' | *[!0-9]*) echo "fresh-machine-test: --testbed must be a number" >&2; exit 2 ;; esac
[ "$tb" -ge 1 ] && [ "$tb" -le 253 ] || { echo "fresh-machine-test: --testbed must be 1..253" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine-test: must run as root (debootstrap, chroot, mounts)" >&2; exit 1; }

say() { printf '==> [%s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
t0=$(date +%s)
declare -a step_names=() step_secs=()
# step NAME CMD... — runs CMD, records how long it took; a failure ends the script (cleanup by trap).
step() {
  local name=$1 s
  shift
  say "$name"
  s=$(date +%s)
  "$@" || return $?
  step_names+=("$name")
  step_secs+=($(($(date +%s) - s)))
}

bridge="drvtbr$tb"
if ip link show "$bridge" >/dev/null 2>&1; then
  echo "fresh-machine-test: bridge $bridge exists already (testbed $tb in use?); pick another --testbed" >&2
  exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap on this machine"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends debootstrap >/dev/null; }
fi

root=$(mktemp -d /var/tmp/drover-fresh-XXXX)
mounts=()
# in_root_pids — PIDs of the processes whose root directory is the fresh root.
in_root_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
  done
}
cleanup() {
  local rc=$? pids i m
  trap - EXIT INT TERM
  set +e
  # cluster-down stopped what cluster-up started; anything left (a failed step) is stopped by PID.
  mapfile -t pids < <(in_root_pids)
  if [ ${#pids[@]} -gt 0 ]; then
    say "stopping ${#pids[@]} process(es) still running in the root: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null
    for i in $(seq 1 20); do
      mapfile -t pids < <(in_root_pids)
      [ ${#pids[@]} -eq 0 ] && break
      sleep 0.5
    done
    [ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null && sleep 1
  fi
  # A failed cluster-up may leave its bridge and namespaces (the namespaces' files live in the
  # root's private /run and go with it; the bridge lives in this machine's network namespace).
  ip link show "$bridge" >/dev/null 2>&1 && ip link del "$bridge" 2>/dev/null
  # Unmount what this script mounted (last first), and anything mounted below the root since.
  for m in $(awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    mountpoint -q "${mounts[$i]}" && { umount "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}"; }
  done
  if awk -v r="$root" '$5 == r || index($5, r "/") == 1 {f = 1} END {exit !f}' /proc/self/mountinfo; then
    echo "fresh-machine-test: something is still mounted below $root; not deleting it" >&2
    [ "$rc" -ne 0 ] || rc=1
  elif [ "$keep" = 1 ]; then
    say "kept the root: $root"
  else
    rm -rf --one-file-system "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_root() {
  local log=$root.debootstrap.log
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; rm -f "$log"; return 1; }
  mv "$log" "$root/var/log/drover-debootstrap.log"
}
step "debootstrap bookworm (minbase) into $root" make_root

# The checkout as it is (uncommitted changes included), without .git and without build trees.
copy_checkout() {
  mkdir -p "$root/drover"
  (cd "$src" && tar -cf - --exclude=./.git --exclude='./build*' \
    --exclude-tag=CMakeCache.txt .) | tar -xf - -C "$root/drover"
}
step "copying the checkout (no .git) to $root/drover" copy_checkout

mount_root() {
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The root a mount point of its own, as / is on a real machine: `unshare -m --propagation
  # private` (cluster-up's namespace check, each host's libvirtd) remounts / private and fails
  # with EINVAL on a plain directory.
  mount --bind "$root" "$root" && mounts+=("$root")
  mount -t proc proc "$root/proc" && mounts+=("$root/proc")
  mount -t sysfs sysfs "$root/sys" && mounts+=("$root/sys")
  mount --bind /dev "$root/dev" && mounts+=("$root/dev")
  mount --bind /dev/pts "$root/dev/pts" && mounts+=("$root/dev/pts")
  # A private /run: the root's netns files, libvirt sockets and drover state stay out of this
  # machine's /run.
  mount -t tmpfs -o mode=0755 tmpfs "$root/run" && mounts+=("$root/run")
  # A private /dev/shm too (etcd's data): a tmpfs over the bound /dev's shm.
  mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" && mounts+=("$root/dev/shm")
}
step "mounting the root on itself, /proc /sys /dev /dev/pts and a private /run, /dev/shm" mount_root

# in_root CMD — CMD by chroot in the fresh root, in the checkout, with a clean environment; the
# testbed is chosen by the TB_* variables cluster-up.sh and cluster-down.sh read.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TB_NAME="fresh$tb" TB_BRIDGE="$bridge" TB_NS_PREFIX="drvt$tb-h" TB_NET="10.77.$tb" \
    /bin/bash -c "cd /drover && $1"
}
step "deploy/cluster-up.sh (in the root)" in_root "deploy/cluster-up.sh"
step "deploy/cluster-down.sh (in the root)" in_root "deploy/cluster-down.sh"
left=$(in_root_pids | wc -l)
if [ "$left" -gt 0 ]; then
  echo "fresh-machine-test: $left process(es) still run in the root after cluster-down.sh:" >&2
  for p in $(in_root_pids); do printf '  %s %s\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline")" >&2; done
  exit 1
fi
if [ "$only_up" = 0 ]; then
  if [ "$tiers" = all ]; then
    step "deploy/run-tests.sh (in the root, every tier)" in_root "deploy/run-tests.sh"
  else
    step "deploy/run-tests.sh -L '$tiers' (in the root)" in_root "deploy/run-tests.sh -L '$tiers'"
  fi
fi

say "fresh machine test passed in $(($(date +%s) - t0)) s"
for i in "${!step_names[@]}"; do
  printf '  %5d s  %s\n' "${step_secs[$i]}" "${step_names[$i]}"
done
