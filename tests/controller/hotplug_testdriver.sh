#!/usr/bin/env bash
# Integration: device hotplug through the real `drover` CLI on libvirt's test driver, which has no
# attach/detach-device. Every form (--live, --config, neither; running or shut off) must fail with
# exit 1 and one `error:` line carrying libvirt's "not supported" message and naming the domain,
# and must change nothing: no new revision, the stored XML untouched, the domain idle again (a
# later command on it is not refused as busy). Hotplug on a real libvirtd is proved in
# tests/system/cluster_lifecycle_test.sh.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

dom_xml hp1 256 >"$T_DIR/hp1.xml"
dr domain define "$T_DIR/hp1.xml" >/dev/null
host=$(dr domain start hp1 | jq -r '.host')
case "$host" in h1 | h2 | h3) ;; *) t_fail "hp1 placed on '$host'" ;; esac
rev0=$(dr domain info hp1 | jq '.revision')
xml0=$(etcd_get domains/hp1 | jq -r '.xml')

cat >"$T_DIR/disk.xml" <<XML
<disk type='file' device='disk'>
  <driver name='qemu' type='raw'/>
  <source file='$T_DIR/extra.img'/>
  <target dev='vdb' bus='virtio'/>
</disk>
XML

# hotplug VERB [FLAGS...] — runs `drover domain VERB hp1 disk.xml FLAGS`; checks exit 1 and the message.
hotplug() {
  local verb=$1 rc=0
  shift
  "$CLI_BIN" --timeout 20 domain "$verb" hp1 "$T_DIR/disk.xml" "$@" >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
  t_log "$verb $*: $(cat "$T_DIR/err")"
  t_eq "$verb $*: exit status" 1 "$rc"
  t_eq "$verb $*: nothing on stdout" "" "$(cat "$T_DIR/out")"
  t_eq "$verb $*: one error line" 1 "$(wc -l <"$T_DIR/err")"
  t_check "$verb $*: an error line ($(cat "$T_DIR/err"))" grep -q '^error: ' "$T_DIR/err"
  t_check "$verb $*: names the domain ($(cat "$T_DIR/err"))" grep -q "domain 'hp1'" "$T_DIR/err"
  t_check "$verb $*: libvirt's not-supported message ($(cat "$T_DIR/err"))" \
    grep -qi 'not supported' "$T_DIR/err"
  t_check "$verb $*: names the libvirt call ($(cat "$T_DIR/err"))" \
    grep -q "virDomain$( [ "$verb" = attach-device ] && echo Attach || echo Detach)Device" "$T_DIR/err"
}

for flags in "--live" "--config" "--live --config" ""; do
  # shellcheck disable=SC2086 # the flags are separate words
  hotplug attach-device $flags
  # shellcheck disable=SC2086
  hotplug detach-device $flags
done

# the JSON form carries the same failure
rc=0
"$CLI_BIN" --json --timeout 20 domain attach-device hp1 "$T_DIR/disk.xml" --live >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
t_eq "--json attach-device: exit status" 1 "$rc"
t_check "--json attach-device: the same message" grep -qi "domain 'hp1'.*not supported" "$T_DIR/err"

# nothing changed, nothing left busy
t_eq "no new revision" "$rev0" "$(dr domain info hp1 | jq '.revision')"
t_eq "stored XML untouched" "$xml0" "$(etcd_get domains/hp1 | jq -r '.xml')"
t_eq "history has one revision" 1 "$(etcd_count history/hp1/)"
t_eq "still running on $host" "running $host" "$(dr domain info hp1 | jq -r '"\(.state) \(.host)"')"
t_eq "the domain is not left busy: suspend works" paused "$(dr domain suspend hp1 | jq -r '.state')"

# shut off: the persistent definition cannot be changed through the test driver either
dr domain destroy hp1 >/dev/null
hotplug attach-device --config
hotplug attach-device
t_eq "shut off: no new revision" "$rev0" "$(dr domain info hp1 | jq '.revision')"

# a missing device file is the CLI's own error (exit 1, names the file), checked before sending
rc=0
"$CLI_BIN" --timeout 20 domain attach-device hp1 "$T_DIR/missing.xml" >/dev/null 2>"$T_DIR/err" || rc=$?
t_eq "missing device file: exit status" 1 "$rc"
t_check "missing device file: named" grep -q "missing.xml" "$T_DIR/err"
cluster_down
