#!/usr/bin/env bash
# Integration: the provisioning verbs' logic on the test driver (docs/provisioning.md), through the
# real CLI, checked in etcd. pool undefine (refused while it holds volumes or a domain's XML names
# a file in it; then gone from etcd and every host); vol clone (the copy's record, a missing
# source, an existing name); vol resize / vol wipe / vol upload refusals that store nothing (bad
# size, shrink without --shrink, unknown algorithm, in use, too big, not qcow2) and, as the test
# driver cannot resize, wipe or upload, the host's real failure: the record goes back to "ready"
# (resize, wipe) or is removed with the half-made volume (upload); domain undefine
# --remove-storage (refused while running, nothing marked; then the disk volume gone from etcd and
# the host, a disk outside cluster pools kept and named); domain create --cpu / --ha validation
# and the XML of --cpu host-model and the baseline (--dry-run). The successful resize, wipe and
# upload need real libvirt: tests/system/provision_storage_test.sh.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
# the test driver's pools are not in the hosts' registration: allow their directory for define
DISK_ALLOW_PREFIXES="$T_DIR/,/srv/elsewhere/"
cluster_up

# fails_with TEXT CMD... — the CLI fails and says TEXT.
fails_with() {
  local text=$1 out rc=0
  shift
  out=$("$CLI_BIN" --timeout 20 "$@" 2>&1) || rc=$?
  t_eq "drover $* fails" 1 "$([ "$rc" -ne 0 ] && echo 1 || echo 0)"
  t_check "drover $*: says '$text': $out" grep -qF -- "$text" <<<"$out"
}
vstate() { etcd_get "volumes/$1" | jq -r .state; }

t_check "pool define p1" dr pool define p1 --path "$T_DIR/p1"
t_check "vol create p1/base" dr vol create p1 base --size 64M --format raw
t_eq "base on h1" h1 "$(dr vol info p1 base | jq -r .host)"

# --- vol clone
out=$(dr vol clone p1 base copy1)
t_eq "clone: the copy's record" "ready h1 base raw 67108864" "$(jq -r '"\(.state) \(.host) \(.cloned_from) \(.format) \(.capacity_bytes)"' <<<"$out")"
t_eq "etcd: copy1 ready" ready "$(vstate p1/copy1)"
fails_with "volume 'p1/nosuch' not found" vol clone p1 nosuch copy2
fails_with "already exists" vol clone p1 base copy1
t_eq "no record for the refused clone" 0 "$(etcd_count volumes/p1/copy2)"
rc=0; "$CLI_BIN" --timeout 20 vol clone p1 base base >/dev/null 2>&1 || rc=$?
t_eq "clone onto itself: usage (exit 2)" 2 "$rc"

# --- vol resize: refusals store nothing; the test driver's own refusal puts the record back
m0=$(etcd_get volumes/p1/base | md5sum)
fails_with "shrinking loses data: pass --shrink" vol resize p1 base 32M
rc=0; "$CLI_BIN" --timeout 20 vol resize p1 base lots >/dev/null 2>&1 || rc=$?
t_eq "resize to 'lots': usage (exit 2)" 2 "$rc"
fails_with "volume 'p1/none' not found" vol resize p1 none 1G
t_eq "refusals stored nothing" "$m0" "$(etcd_get volumes/p1/base | md5sum)"
fails_with "not supported" vol resize p1 base 128M
t_eq "failed resize: base ready again" "ready 67108864 null" "$(etcd_get volumes/p1/base | jq -r '"\(.state) \(.capacity_bytes) \(.resize_to)"')"

# --- vol wipe
fails_with "unknown wipe algorithm 'sprinkle' (one of: zero, nnsa, dod" vol wipe p1 base --algorithm sprinkle
fails_with "not supported" vol wipe p1 base --algorithm zero
t_eq "failed wipe: base ready again, not marked wiped" "ready null" "$(etcd_get volumes/p1/base | jq -r '"\(.state) \(.wiped_with)"')"

# --- vol upload
head -c 3000 /dev/urandom >"$T_DIR/img.raw"
truncate -s 16M "$T_DIR/big.img"
fails_with "an upload is at most 15728640 bytes" vol upload p1 big "$T_DIR/big.img"
fails_with "the image has no qcow2 header" vol upload p1 up1 "$T_DIR/img.raw" --format qcow2
fails_with "pool 'nopool' not found" vol upload nopool up1 "$T_DIR/img.raw"
fails_with "virStorageVolUpload" vol upload p1 up1 "$T_DIR/img.raw"
t_eq "failed upload: no record left" 0 "$(etcd_count volumes/p1/up1)"
t_eq "failed upload: no volume left on h1" "" "$(dr vol list p1 | jq -r '.volumes[] | select(.name == "up1") | .name')"

# --- domain undefine --remove-storage: the disk in a cluster pool goes, the other disk stays
disk=$(dr vol info p1 copy1 | jq -r .path)
cat >"$T_DIR/vm1.xml" <<XML
<domain type='test'>
  <name>vm1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='$disk'/><target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='/srv/elsewhere/data.img'/><target dev='vdb'/></disk>
  </devices>
</domain>
XML
t_check "define vm1 (disk p1/copy1)" dr domain define "$T_DIR/vm1.xml"
fails_with "in use by domain 'vm1'" vol wipe p1 copy1
fails_with "pool 'p1' holds 2 volumes (base, copy1)" pool undefine p1
t_check "start vm1" dr domain start vm1
fails_with "is running on host" domain undefine vm1 --remove-storage
t_eq "refused: copy1 not marked" "ready null" "$(etcd_get volumes/p1/copy1 | jq -r '"\(.state) \(.removing_with)"')"
fails_with "in use by domain 'vm1', which is not shut off" vol clone p1 copy1 copy3
t_eq "no record for the refused clone of a running disk" 0 "$(etcd_count volumes/p1/copy3)"
t_check "destroy vm1" dr domain destroy vm1
out=$(dr domain undefine vm1 --remove-storage)
t_eq "removed: the cluster volume" '["p1/copy1"]' "$(jq -c .removed_volumes <<<"$out")"
t_eq "kept: the disk outside cluster pools" '["/srv/elsewhere/data.img"]' "$(jq -c .kept_disks <<<"$out")"
t_eq "etcd: vm1 gone" 0 "$(etcd_count domains/vm1)"
t_eq "etcd: copy1's record gone" 0 "$(etcd_count volumes/p1/copy1)"
t_eq "etcd: base kept" ready "$(vstate p1/base)"

# --- pool undefine
cat >"$T_DIR/vm2.xml" <<XML
<domain type='test'>
  <name>vm2</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices><disk type='file' device='disk'><source file='$T_DIR/p1/hand-made.img'/><target dev='vda'/></disk></devices>
</domain>
XML
t_check "vol delete base" dr vol delete p1 base
t_check "define vm2 (a file in p1 without a record)" dr domain define "$T_DIR/vm2.xml"
fails_with "pool 'p1' is used by domain 'vm2'" pool undefine p1
t_check "undefine vm2" dr domain undefine vm2
fails_with "pool 'nosuch' not found" pool undefine nosuch
out=$(dr pool undefine p1)
t_eq "pool undefine: every host" 3 "$(jq '[.hosts[] | select(.ok)] | length' <<<"$out")"
t_eq "etcd: pools/p1 gone" 0 "$(etcd_count pools/p1)"
fails_with "pool 'p1' not found" pool info p1

# --- domain create --cpu / --ha
t_check "pool define p2" dr pool define p2 --path "$T_DIR/p2"
rc=0; out=$("$CLI_BIN" --timeout 20 domain create bad --memory 256M --disk pool=p2,size=1G --cpu fancy --dry-run 2>&1) || rc=$?
t_check "--cpu fancy refused: $out" grep -q "cpu 'fancy': baseline or host-model" <<<"$out"
xml=$(dr domain create web9 --memory 256M --disk pool=p2,size=1G --cpu host-model --dry-run | jq -r .xml)
t_check "--cpu host-model in the XML" grep -q "<cpu mode='host-model'" <<<"$xml"
xml=$(dr domain create web9 --memory 256M --disk pool=p2,size=1G --dry-run | jq -r .xml)
t_check "default: the cluster baseline's model" grep -q "<model fallback='allow'>Skylake-Client</model>" <<<"$xml"
t_check "default: the cluster baseline's features" grep -q "<feature policy='require' name='avx2'/>" <<<"$xml"
for bad in 'a/../../x' $'web\nuser: root'; do
  rc=0; out=$("$CLI_BIN" --timeout 20 domain create "$bad" --memory 256M --disk pool=p2,size=1G 2>&1) || rc=$?
  t_eq "name ${bad@Q} refused as usage" 2 "$rc"
  t_check "name ${bad@Q}: the rule is named: $out" grep -q -e "is not a valid name" -e "may not contain" <<<"$out"
done
t_eq "dry runs and refused names created nothing" 0 "$(etcd_count volumes/p2/)"

cluster_down
t_log "PASS ($T_CHECKS checks)"
