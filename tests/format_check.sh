#!/usr/bin/env bash
# Every C source and header of the repository follows the repo's .clang-format. In a git checkout
# the files are those git tracks; without git (a tarball, or a root with no git installed) every
# *.c / *.h below the source folder, leaving out build trees (a folder holding CMakeCache.txt) and
# hidden folders.
source "$(dirname "$0")/support/lib.sh"
command -v clang-format >/dev/null || t_skip "clang-format is not installed"
cd "$DROVER_SOURCE_DIR"
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  mapfile -t files < <(
    find . -mindepth 1 -type d \( -name '.*' -o -exec test -e '{}/CMakeCache.txt' \; \) -prune \
      -o -type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort
  )
fi
t_check "there are C files to check" [ "${#files[@]}" -gt 0 ]
bad=$(clang-format --dry-run -Werror "${files[@]}" 2>&1 | grep -oE '^[^:]+\.(c|h):' | sort -u | tr -d ':' || true)
t_eq "files not formatted with .clang-format (run clang-format -i on them)" "" "$bad"
