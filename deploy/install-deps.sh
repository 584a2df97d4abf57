#!/usr/bin/env bash
# Installs the Debian 12 packages drover needs to build, test and run a local cluster.
# Idempotent: only missing packages are installed, with one apt-get update. Quiet unless it fails.
set -euo pipefail

# libclang-rt-14-dev: ASan/UBSan runtimes of Debian 12's clang (14); with --no-install-recommends
# clang does not bring them, and every sanitized test would fail to link.
PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev binutils
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libxml2-dev libxml2-utils
  libcurl4-openssl-dev libcmocka-dev libglib2.0-dev libjson-c-dev
  libvirt-dev libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu
  qemu-system-x86 qemu-utils etcd-server etcd-client iproute2 curl procps jq
  socat util-linux clang-format
  cpio xorriso libyaml-dev openssl
  libmicrohttpd-dev prometheus python3
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi

log=$(mktemp /tmp/drover-install.XXXXXX)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: failed to install: ${missing[*]}" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
