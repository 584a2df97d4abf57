#!/usr/bin/env bash
# Integration (libvirt's test driver, real etcd + controller + 3 agents): keeping a guest's memory
# across a stop, as virsh does, cluster-wide (issue 17; docs/cli.md):
#   - `domain save` writes the image beside the first disk (shared storage), the record in etcd
#     names it (intent first), the state is `saved (save file)`, `domain list` hides it like a shut
#     off domain, and `domain start` refuses, naming `restore` (never a silent restore or loss);
#   - a drain cold-moves the saved domain; `domain restore` then runs it on the other host from the
#     file (the test driver's save files carry the definition), the file is removed and the
#     record cleared; the state is `running (restored)`;
#   - `domain managedsave`: `saved (managed save)`, start refuses, restore resumes it on its host;
#     `managedsave-remove` discards either image, after which start boots afresh;
#   - a drain refuses to cold-move a managed-saved domain (its image cannot move), naming why;
#   - `domain state` prints the reason: `shut off (destroyed)`.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
shared="$T_DIR/shared"
mkdir -p "$shared"
DISK_ALLOW_PREFIXES=$shared
# every test-driver host reports a storage pool at $shared (the storage they all see)
NODE_EXTRA_XML="<pool type='dir'><name>shared</name><target><path>$shared</path></target></pool>"
cluster_up
t_eq "h1 reports the shared pool" "shared $shared" "$(dr host show h1 | jq -r '.pools[] | select(.name == "shared") | "\(.name) \(.path)"')"

save_xml() {
  cat <<XML
<domain type='test'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='$shared/$1.img'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>
XML
}
field() { dr domain info "$1" | jq -r ".$2"; }

# ---- save to a file on shared storage
save_xml sv1 >"$T_DIR/sv1.xml"
dr domain define "$T_DIR/sv1.xml" >/dev/null
h=$(dr domain start sv1 | jq -r .host)
rc=0
"$CLI_BIN" domain save sv1 --file relative.drover-save >/dev/null 2>&1 || rc=$?
t_eq "save --file must be absolute (usage)" 2 "$rc"
out=$(dr domain save sv1) || t_fail "save: $out"
t_eq "save: state saved" saved "$(jq -r .state <<<"$out")"
t_eq "save: reason save file" "save file" "$(jq -r .reason <<<"$out")"
t_eq "save: the file beside the disk" "$shared/sv1.drover-save" "$(jq -r .saved_path <<<"$out")"
t_check "save: the image exists" test -s "$shared/sv1.drover-save"
t_eq "etcd: record names the file" "$shared/sv1.drover-save" "$(etcd_get domains/sv1 | jq -r .saved_path)"
t_eq "etcd: desired shutoff" shutoff "$(etcd_get domains/sv1 | jq -r .desired_state)"
t_eq "domain state prints the reason" "saved (save file)" "$("$CLI_BIN" domain state sv1)"
t_eq "domain list hides it (desired off)" 0 "$(dr domain list | jq '[.domains[] | select(.name == "sv1")] | length')"
t_eq "domain list --all shows it" saved "$(dr domain list --all | jq -r '.domains[] | select(.name == "sv1") | .state')"
rc=0
msg=$("$CLI_BIN" domain start sv1 2>&1) || rc=$?
t_eq "start of a saved domain: refused" 1 "$rc"
t_check "start names restore ($msg)" grep -q "drover domain restore sv1" <<<"$msg"
t_eq "start refused: still saved" saved "$(field sv1 state)"

# ---- a drain cold-moves it; restore runs it on the other host from the file
out=$("$CLI_BIN" --timeout 30 host maintenance "$h" --wait 2>&1) || t_fail "maintenance of $h: $out"
h2=$(field sv1 host)
t_check "drain moved the saved domain off $h (now on $h2)" test "$h2" != "$h"
t_eq "still saved after the move" "saved" "$(field sv1 state)"
out=$(dr domain restore sv1) || t_fail "restore: $out"
t_eq "restore: running" running "$(jq -r .state <<<"$out")"
t_eq "restore: on the host it moved to" "$h2" "$(jq -r .host <<<"$out")"
t_eq "restore: desired running" running "$(etcd_get domains/sv1 | jq -r .desired_state)"
record_cleared() { [ "$(etcd_get domains/sv1 | jq -r .saved_path)" = null ]; }
t_wait_for "record cleared" 5 record_cleared
t_check "the image file is removed" test ! -e "$shared/sv1.drover-save"
rc=0
"$CLI_BIN" domain restore sv1 >/dev/null 2>&1 || rc=$?
t_eq "restore of a running domain: refused" 1 "$rc"
out=$("$CLI_BIN" host activate "$h" 2>&1) || t_fail "activate $h: $out"

# ---- managed save on the host
save_xml sv2 >"$T_DIR/sv2.xml"
dr domain define "$T_DIR/sv2.xml" >/dev/null
h=$(dr domain start sv2 | jq -r .host)
out=$(dr domain managedsave sv2) || t_fail "managedsave: $out"
t_eq "managedsave: saved (managed save)" "saved/managed save" "$(jq -r '.state + "/" + .reason' <<<"$out")"
t_eq "managedsave: desired shutoff" shutoff "$(etcd_get domains/sv2 | jq -r .desired_state)"
rc=0
msg=$("$CLI_BIN" domain start sv2 2>&1) || rc=$?
t_eq "start of a managed-saved domain: refused" 1 "$rc"
t_check "start says managed save ($msg)" grep -q "managed save image on host '$h'" <<<"$msg"
# a drain may not cold-move it: the image lives on $h
rc=0
out=$("$CLI_BIN" --timeout 30 host maintenance "$h" --wait 2>&1) || rc=$?
t_check "drain of $h with a managed-saved domain does not succeed" test "$rc" -ne 0
t_check "the drain says why ($out)" grep -q "managed save image" <<<"$out"
t_eq "sv2 stays on $h" "$h" "$(field sv2 host)"
"$CLI_BIN" --timeout 30 host activate "$h" >/dev/null 2>&1 || true
t_wait_for "$h active again" 10 sh -c "'$CLI_BIN' --json host show $h | jq -e '.state == \"active\"'"
out=$(dr domain restore sv2) || t_fail "restore (managed): $out"
t_eq "restore (managed): running on its host" "running/$h" "$(jq -r '.state + "/" + .host' <<<"$out")"

# ---- managedsave-remove: either image, then a fresh boot
dr domain managedsave sv2 >/dev/null
out=$(dr domain managedsave-remove sv2) || t_fail "managedsave-remove: $out"
t_eq "managedsave-remove: shut off" "shut off" "$(jq -r .state <<<"$out")"
t_eq "start boots afresh" running "$(dr domain start sv2 | jq -r .state)"
dr domain save sv1 >/dev/null
t_check "sv1 saved again" test -s "$shared/sv1.drover-save"
out=$(dr domain managedsave-remove sv1) || t_fail "managedsave-remove of a save file: $out"
t_eq "save file removed: shut off" "shut off" "$(jq -r .state <<<"$out")"
t_eq "etcd: no saved_path" null "$(etcd_get domains/sv1 | jq -r .saved_path)"
t_check "the file is gone" test ! -e "$shared/sv1.drover-save"
rc=0
"$CLI_BIN" domain managedsave-remove sv1 >/dev/null 2>&1 || rc=$?
t_eq "managedsave-remove without an image: refused" 1 "$rc"

# ---- domain state prints the reason
dr domain destroy sv2 >/dev/null
t_eq "domain state: shut off (destroyed)" "shut off (destroyed)" "$("$CLI_BIN" domain state sv2)"
t_eq "JSON: state and reason apart" '"shut off","destroyed"' "$(dr domain state sv2 | jq -c '[.state, .reason]' | tr -d '[]')"

cluster_down
