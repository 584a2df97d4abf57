#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with ASan+UBSan and warnings as errors,
# checks that gcc builds it warning-free too (Debug and Release), then runs every test tier with ctest
# and fails on any sanitizer report of any process, the daemons' included.
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

# gcc's warnings differ by optimisation level (-Wformat-truncation fires at -O0, -Wmaybe-uninitialized
# and -Wstringop-* mostly at -O2): a Debug and a Release tree, -Werror, built but never run (the
# tests run once, in build/). Each is a few tens of seconds against minutes of tests.
if [ "$cc" = clang ]; then
  for type in Debug Release; do
    dir=build-gcc-$(tr '[:upper:]' '[:lower:]' <<<"$type")
    echo "== build (gcc $type, -Werror, compile check) =="
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_COMPILER=gcc -DDROVER_WERROR=ON \
      >"$dir-configure.log" 2>&1 || { cat "$dir-configure.log"; exit 1; }
    cmake --build "$dir" -j"$jobs" >"$dir.log" 2>&1 ||
      { grep -E -B2 -A5 'error|warning' "$dir.log" | head -n 80 || tail -n 40 "$dir.log"; exit 1; }
  done
fi

echo "== tests =="
# Sanitizer reports of every process (the daemons' too: their logs are removed when a test passes)
# go to one file per process in $san_dir; any report fails the run, whatever ctest said.
san_dir=$root/build/sanitizer-logs
rm -rf "$san_dir"
mkdir -p "$san_dir"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0:log_path=$san_dir/asan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
rc=0
(cd build && ctest --output-on-failure --timeout 900 "$@") || rc=$?
mapfile -t reports < <(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)' "$san_dir"/* 2>/dev/null || true)
if [ ${#reports[@]} -gt 0 ]; then
  for f in "${reports[@]}"; do
    printf -- '--- %s ---\n' "$f"
    cat "$f"
  done
  echo "run-tests: ${#reports[@]} process(es) reported sanitizer errors (above; for full leak stacks run again with ASAN_OPTIONS=...:fast_unwind_on_malloc=0)" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
