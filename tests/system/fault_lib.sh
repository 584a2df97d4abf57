# shellcheck shell=bash
# tests/system/fault_lib.sh — helpers of the fault tests (issue 12): a monitor of the QEMU processes
# in each testbed host's network namespace, and soft checks that record a failure and go on, so one
# run reports every defect it shows. Source after system_lib.sh (needs tb_ns, T_DIR).

fl_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
now_ms() { fl_now_ms; }

# fl__monitor — every 0.5 s one line "T_MS guest@hostnum ..." on stdout, one entry per QEMU found in
# host i's namespace (drvtN-hi, via `ip netns pids`), the guest's name from `-name guest=NAME`. A
# guest with QEMUs in two namespaces at once is written to $FL_ANOM as having run twice when the
# younger QEMU is not an incoming migration (no -incoming: a cold start while a copy ran), or when the
# overlap lasts more than FL_OVERLAP_S seconds (a migration's source and destination coexist only
# for the switch-over).
fl__monitor() {
  set +e
  local -A first_overlap=()
  local ns_pids k pid line args a name inc st guests key
  while :; do
    line="$(now_ms)"
    local -A where=() start=() incoming=()
    for ((k = 1; k <= TB_HOSTS; k++)); do
      ns_pids=$(ip netns pids "$(tb_ns "$k")" 2>/dev/null) || continue
      for pid in $ns_pids; do
        mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || continue
        [[ "${args[0]:-}" == *qemu-system* ]] || continue
        name="" inc=0
        for ((a = 0; a < ${#args[@]}; a++)); do
          [ "${args[a]}" = -name ] && { name=${args[a + 1]#guest=}; name=${name%%,*}; }
          [ "${args[a]}" = -incoming ] && inc=1
        done
        [ -n "$name" ] || continue
        read -r -a st 2>/dev/null <"/proc/$pid/stat" || continue
        line+=" $name@$k"
        where[$name]+="$k "
        # the youngest copy (latest start time) decides whether an overlap is a migration
        if [ -z "${start[$name]:-}" ] || [ "${st[21]}" -gt "${start[$name]}" ]; then
          start[$name]=${st[21]}
          incoming[$name]=$inc
        fi
      done
    done
    echo "$line"
    for name in "${!where[@]}"; do
      guests=(${where[$name]})
      [ "${#guests[@]}" -ge 2 ] || { unset "first_overlap[$name]"; continue; }
      key="$name"
      if [ -z "${first_overlap[$key]:-}" ] && [ "${incoming[$name]}" = 0 ]; then
        echo "ANOMALY: guest $name ran twice at +$(( ($(now_ms) - FL_T0) / 1000 ))s: QEMUs on hosts ${where[$name]}and the younger one is a cold start, not an incoming migration" >>"$FL_ANOM"
      fi
      : "${first_overlap[$key]:=$(now_ms)}"
      if [ $(( $(now_ms) - first_overlap[$key] )) -gt $((FL_OVERLAP_S * 1000)) ]; then
        echo "ANOMALY: guest $name ran twice: QEMUs on hosts ${where[$name]}for more than ${FL_OVERLAP_S}s" >>"$FL_ANOM"
        first_overlap[$key]=$(now_ms)
      fi
    done
    for key in "${!first_overlap[@]}"; do [ -n "${where[$key]:-}" ] || unset "first_overlap[$key]"; done
    unset where start incoming
    sleep 0.5
  done
}


# fl_monitor_start MONITOR_LOG ANOMALY_FILE [OVERLAP_S] — starts the monitor in the background; it
# is stopped by PID when the test exits.
fl_monitor_start() {
  FL_MON=$1 FL_ANOM=$2 FL_OVERLAP_S=${3:-30} FL_T0=$(fl_now_ms)
  touch "$FL_ANOM"
  fl__monitor >>"$FL_MON" 2>"$T_DIR/monitor.err" &
  FL_MON_PID=$!
  echo "$FL_MON_PID" >>"$T_DIR/.pids"
  tb_wait 10 test -s "$FL_MON" || t_fail "the QEMU monitor wrote no sample"
}

# fl_running GUEST — the host numbers whose namespace runs GUEST's QEMU at the latest sample, as "1 3 ".
fl_running() { tail -n 1 "$FL_MON" | tr ' ' '\n' | sed -n "s/^$1@//p" | sort -u | tr '\n' ' '; }

# fl_ran_twice — prints the monitor's "ran twice" findings so far (empty when none).
fl_ran_twice() { grep 'ran twice' "$FL_ANOM" 2>/dev/null | sort -u || true; }

# fl_lacks REGEX TEXT — true when TEXT does not match REGEX (grep -E, case-insensitive).
fl_lacks() { ! grep -qiE -- "$1" <<<"$2"; }

# fl_expect DESCRIPTION COMMAND... — a soft check: a failure is printed and recorded, the test goes on;
# fl_finish fails the test when any was recorded.
FL_FAILS=()
fl_expect() {
  local what=$1
  shift
  T_CHECKS=$((T_CHECKS + 1))
  if "$@"; then
    t_log "ok: $what"
  else
    FL_FAILS+=("$what")
    printf '[%s] CHECK FAILED: %s\n' "$T_NAME" "$what" >&2
  fi
}
fl_finish() {
  local twice
  fl_expect "the QEMU monitor (pid ${FL_MON_PID:-?}) ran until the end" kill -0 "${FL_MON_PID:-0}"
  twice=$(fl_ran_twice)
  T_CHECKS=$((T_CHECKS + 1))
  if [ -n "$twice" ]; then
    FL_FAILS+=("the QEMU monitor saw a guest run twice: $(tr '\n' ' ' <<<"$twice")")
    printf '[%s] CHECK FAILED: %s\n' "$T_NAME" "$twice" >&2
  fi
  [ "${#FL_FAILS[@]}" = 0 ] && return 0
  local f
  for f in "${FL_FAILS[@]}"; do printf '[%s] FAILED: %s\n' "$T_NAME" "$f" >&2; done
  t_fail "${#FL_FAILS[@]} of the checks failed: ${FL_FAILS[0]}"
}
