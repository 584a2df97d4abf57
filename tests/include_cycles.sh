#!/usr/bin/env bash
# No two controller modules include each other (issue 11: "the circle of controller files that
# import each other is gone"): the layers depend downward only. A module's own private headers
# count as the module. Fails naming the modules of any new circle.
source "$(dirname "$0")/support/lib.sh"
command -v python3 >/dev/null || t_skip "python3 is not installed"
python3 "$DROVER_SOURCE_DIR/tools/include_cycles.py" --check \
  --part migrate_private=migrate_run --part migrate_launch=migrate_run \
  --part api_private=api --part api_prov=api "$DROVER_SOURCE_DIR/controller" ||
  t_fail "controller modules include each other (above); move the declaration to the header that owns it"
echo "ok: no controller modules include each other"
