#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with ASan+UBSan and warnings as errors,
# checks that gcc builds it warning-free too, then runs every test tier with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cc=gcc
fuzz=OFF
if command -v clang >/dev/null 2>&1; then
  cc=clang
  fuzz=ON
fi

echo "== build ($cc, ASan+UBSan, -Werror) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$cc" \
  -DDROVER_SANITIZE=ON -DDROVER_WERROR=ON -DDROVER_FUZZ="$fuzz" >build-configure.log 2>&1 ||
  { cat build-configure.log; exit 1; }
cmake --build build -j"$jobs"

if [ "$cc" = clang ]; then
  echo "== build (gcc, -Werror, compile check) =="
  cmake -S . -B build-gcc -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc -DDROVER_WERROR=ON \
    >build-gcc-configure.log 2>&1 || { cat build-gcc-configure.log; exit 1; }
  cmake --build build-gcc -j"$jobs" >build-gcc.log 2>&1 || { cat build-gcc.log; exit 1; }
fi

echo "== tests =="
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd build
ctest --output-on-failure --timeout 900 "$@"
