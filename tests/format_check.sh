#!/usr/bin/env bash
# Every C source and header tracked by git follows the repo's .clang-format.
source "$(dirname "$0")/support/lib.sh"
command -v clang-format >/dev/null || t_skip "clang-format is not installed"
cd "$DROVER_SOURCE_DIR"
git rev-parse --git-dir >/dev/null 2>&1 || t_skip "not a git checkout"
mapfile -t files < <(git ls-files '*.c' '*.h')
t_check "there are C files to check" [ "${#files[@]}" -gt 0 ]
bad=$(clang-format --dry-run -Werror "${files[@]}" 2>&1 | grep -oE '^[^:]+\.(c|h):' | sort -u | tr -d ':' || true)
t_eq "files not formatted with .clang-format (run clang-format -i on them)" "" "$bad"
