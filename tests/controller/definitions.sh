#!/usr/bin/env bash
# Integration: edit (EDITOR = a script) → history → rollback; bad XML is refused with the reason and
# nothing is stored (checked in etcd directly); unknown domains and hosts fail with exit 1 and a
# message naming them. Drift of a running domain: live vs config memory and devices, an edit
# waiting for a restart.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
DISK_ALLOW_PREFIXES=/var/lib/drover-test # the disk added to db1 below (device drift)
cluster_up

dom_xml db1 512 1 >"$T_DIR/db1.xml"
t_eq "define db1" 1 "$(dr domain define "$T_DIR/db1.xml" | jq '.revision')"

# edit through $EDITOR
cat >"$T_DIR/editor.sh" <<'ED'
#!/bin/sh
sed -i 's|<vcpu>1</vcpu>|<vcpu>2</vcpu>|' "$1"
ED
chmod +x "$T_DIR/editor.sh"
out=$(EDITOR="$T_DIR/editor.sh" dr domain edit db1)
t_eq "edit: revision 2" 2 "$(jq '.revision' <<<"$out")"
t_eq "edit: vcpus from the new XML" 2 "$(jq '.vcpus' <<<"$out")"
t_eq "etcd: revision 2 stored" 2 "$(etcd_get domains/db1 | jq '.revision')"
t_check "etcd: stored XML has 2 vCPUs" grep -q '<vcpu>2</vcpu>' <<<"$(etcd_get domains/db1 | jq -r '.xml')"
uuid=$(etcd_get domains/db1 | jq -r '.uuid')

# an edit that breaks the XML is refused and changes nothing
cat >"$T_DIR/bad-editor.sh" <<'ED'
#!/bin/sh
sed -i 's|<memory unit=.MiB.>512</memory>||' "$1"
ED
chmod +x "$T_DIR/bad-editor.sh"
t_check "edit removing <memory> is refused" \
  sh -c "! EDITOR='$T_DIR/bad-editor.sh' '$CLI_BIN' --json domain edit db1 >'$T_DIR/bad-edit.out' 2>&1"
t_check "the refusal names the field" grep -qi 'memory' "$T_DIR/bad-edit.out"
t_eq "refused edit stored nothing" 2 "$(etcd_get domains/db1 | jq '.revision')"

# history and rollback
hist=$(dr domain history db1)
t_eq "history: 2 revisions" "1 2" "$(jq -r '[.revisions[].revision] | join(" ")' <<<"$hist")"
t_eq "history: comments" "define edit" "$(jq -r '[.revisions[].comment] | join(" ")' <<<"$hist")"
t_check "history: sha256 differ" \
  test "$(jq -r '.revisions[0].xml_sha256' <<<"$hist")" != "$(jq -r '.revisions[1].xml_sha256' <<<"$hist")"
t_check "history-show 1 is the original" \
  grep -q '<vcpu>1</vcpu>' <<<"$(dr domain history-show db1 1 | jq -r '.xml')"
# domain diff: the last two revisions by default, as `diff -u` prints them
d=$("$CLI_BIN" domain diff db1)
t_check "diff: headed with both revisions" grep -q -- '^--- db1 revision 1$' <<<"$d"
t_check "diff: +++ revision 2" grep -q -- '^+++ db1 revision 2$' <<<"$d"
t_eq "diff: the one changed line" "-  <vcpu>1</vcpu> +  <vcpu>2</vcpu>" \
  "$(grep -E '^[-+] ' <<<"$d" | tr '\n' ' ' | sed 's/ $//')"
dr domain history-show db1 1 | jq -j .xml >"$T_DIR/r1.xml"
dr domain history-show db1 2 | jq -j .xml >"$T_DIR/r2.xml"
t_eq "diff: the same hunks as diff -u" "$(diff -u "$T_DIR/r1.xml" "$T_DIR/r2.xml" | tail -n +3)" \
  "$(tail -n +3 <<<"$d")"
t_eq "diff 1 1: nothing" "" "$("$CLI_BIN" domain diff db1 1 1)"
out=$(dr domain rollback db1 1)
t_eq "rollback: new revision 3" 3 "$(jq '.revision' <<<"$out")"
t_eq "rollback: vcpus back to 1" 1 "$(jq '.vcpus' <<<"$out")"
t_eq "rollback keeps the UUID" "$uuid" "$(jq -r '.uuid' <<<"$out")"
t_eq "history: 3 revisions" 3 "$(dr domain history db1 | jq '.revisions | length')"
t_eq "history: rollback comment" "rollback to 1" "$(dr domain history db1 | jq -r '.revisions[2].comment')"
t_eq "info: history_len" 3 "$(dr domain info db1 | jq '.history_len')"
t_check "diff 2 (against the latest, 3): + <vcpu>1" grep -q -- '^+  <vcpu>1</vcpu>$' <<<"$("$CLI_BIN" domain diff db1 2)"
t_check "diff of a missing revision fails" sh -c "! '$CLI_BIN' domain diff db1 9 >/dev/null 2>&1"
t_check "rollback to a missing revision fails" sh -c "! '$CLI_BIN' --json domain rollback db1 9 >/dev/null 2>&1"
t_check "edit with a stale expect-revision is refused" \
  sh -c "! EDITOR='$T_DIR/editor.sh' '$CLI_BIN' --json domain edit db1 --expect-revision 1 >/dev/null 2>&1"
t_eq "stale edit stored nothing" 3 "$(etcd_get domains/db1 | jq '.revision')"

# bad XML: refused with the reason, nothing stored
before_keys=$(etcd_count "")
printf '<domain type="test"><name>broken</name><memory>1024</memory>' >"$T_DIR/malformed.xml"
set +e
"$CLI_BIN" --json domain define "$T_DIR/malformed.xml" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
t_eq "malformed XML: exit 1" 1 "$rc"
t_check "malformed XML: the reason is given" grep -qi 'xml' "$T_DIR/err"
printf '<domain type="test"><name>nomem</name><vcpu>1</vcpu><os><type>hvm</type></os></domain>' >"$T_DIR/nomem.xml"
set +e
"$CLI_BIN" --json domain define "$T_DIR/nomem.xml" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
t_eq "missing memory: exit 1" 1 "$rc"
t_check "missing memory: the reason names memory" grep -qi 'memory' "$T_DIR/err"
printf '<domain type="test"><memory>1024</memory><vcpu>1</vcpu></domain>' >"$T_DIR/noname.xml"
t_check "missing name is refused" sh -c "! '$CLI_BIN' --json domain define '$T_DIR/noname.xml' >/dev/null 2>&1"
printf '<domain type="test"><name>dup</name><uuid>%s</uuid><memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>' "$uuid" >"$T_DIR/dupuuid.xml"
t_check "a UUID used by another domain is refused" \
  sh -c "! '$CLI_BIN' --json domain define '$T_DIR/dupuuid.xml' >/dev/null 2>'$T_DIR/err'"
t_check "the UUID refusal names db1" grep -q "db1" "$T_DIR/err"
t_eq "etcd: no key was added by the refused definitions" "$before_keys" "$(etcd_count "")"
t_eq "etcd: no domain 'broken'" "" "$(etcd_get domains/broken)"
t_eq "etcd: no domain 'nomem'" "" "$(etcd_get domains/nomem)"
t_eq "etcd: no history for 'nomem'" 0 "$(etcd_count history/nomem/)"

# unknown objects
for verb in start info undefine dumpxml destroy history; do
  set +e
  "$CLI_BIN" --json domain "$verb" ghost >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
  set -e
  t_eq "domain $verb ghost: exit 1" 1 "$rc"
  t_check "domain $verb ghost: message names the domain" grep -q "ghost" "$T_DIR/err"
done
set +e
"$CLI_BIN" --json host show nohost >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
t_eq "host show nohost: exit 1" 1 "$rc"
t_check "host show nohost: message names the host" grep -q "nohost" "$T_DIR/err"
set +e
"$CLI_BIN" --json snapshot list ghost >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
t_eq "snapshot list ghost: exit 1" 1 "$rc"

# labels
t_eq "label set" ssd "$(dr host label h2 disk=ssd | jq -r '.labels.disk')"
t_eq "etcd: label stored" ssd "$(etcd_get hosts/h2 | jq -r '.labels.disk')"
t_eq "label removed" null "$(dr host label h2 disk- | jq -r '.labels.disk')"
t_eq "agent labels kept" r2 "$(etcd_get hosts/h2 | jq -r '.labels.rack')"
# an edit of a running domain: "restart pending" until it stops (issue 17)
t_eq "start db1" running "$(dr domain start db1 | jq -r .state)"
t_eq "running db1: no drift" null "$(dr domain info db1 | jq -r .drift)"
rev=$(dr domain info db1 | jq .revision)
cat >"$T_DIR/mem-editor.sh" <<'ED'
#!/bin/sh
sed -i 's|<memory unit="MiB">512</memory>|<memory unit="MiB">384</memory>|' "$1"
ED
chmod +x "$T_DIR/mem-editor.sh"
out=$(EDITOR="$T_DIR/mem-editor.sh" dr domain edit db1) || t_fail "edit of running db1: $out"
t_eq "edit of the running domain: revision $((rev + 1))" $((rev + 1)) "$(jq .revision <<<"$out")"
t_eq "drift: live vs config and restart pending" "live memory 512 MiB, config 384 MiB; revision $rev runs, revision $((rev + 1)) is stored (restart pending)" \
  "$(dr domain info db1 | jq -r .drift)"
t_check "domain list shows it" grep -q "drift: db1: live memory 512 MiB, config 384 MiB; revision $rev runs" <<<"$("$CLI_BIN" domain list)"
dr domain destroy db1 >/dev/null
t_eq "stopped: nothing pending" null "$(dr domain info db1 | jq -r .drift)"
t_eq "started again: runs the stored revision" null "$(dr domain start db1 >/dev/null; dr domain info db1 | jq -r .drift)"
# device drift (issue 17): a disk added to the definition of the running db1 is not attached live
# (the agent names the devices of the live XML, the controller those of the stored definition);
# the test driver has no hotplug, so the live side changes only by a restart
events_start "$T_DIR/events.json"
rev=$(dr domain info db1 | jq .revision)
cat >"$T_DIR/disk-editor.sh" <<'ED'
#!/bin/sh
sed -i 's|</os>|</os><devices><disk type="file" device="disk"><source file="/var/lib/drover-test/db1-b.img"/><target dev="vdb" bus="virtio"/></disk></devices>|' "$1"
ED
chmod +x "$T_DIR/disk-editor.sh"
out=$(EDITOR="$T_DIR/disk-editor.sh" dr domain edit db1) || t_fail "disk edit of running db1: $out"
want="disk vdb in the definition, not attached live; revision $rev runs, revision $((rev + 1)) is stored (restart pending)"
t_eq "device drift: the disk of the definition is not attached live" "$want" "$(dr domain info db1 | jq -r .drift)"
t_check "domain list names the device" grep -qF "drift: db1: disk vdb in the definition, not attached live" <<<"$("$CLI_BIN" domain list)"
t_check "domain info names the device" grep -qF "Drift: disk vdb in the definition, not attached live" <<<"$("$CLI_BIN" domain info db1 | sed "s/  */ /g")"
drift_event() { grep -F '"drift"' "$T_DIR/events.json" | grep -qF 'disk vdb in the definition, not attached live'; }
t_wait_for "a drift event names the device" 5 drift_event
dr domain destroy db1 >/dev/null
t_eq "restarted with the disk: live and config devices agree" null "$(dr domain start db1 >/dev/null; dr domain info db1 | jq -r .drift)"
t_check "the live XML has the disk" grep -q "dev=.vdb" <<<"$(dr domain dumpxml db1 | jq -r .xml)"
cluster_down
