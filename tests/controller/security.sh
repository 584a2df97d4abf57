#!/usr/bin/env bash
# security.sh — issue 13's defences on the integration cluster (real etcd, controller, 3 agents on
# libvirt's test driver, every socket CURVE). Each check fails when its defence is gone:
#   - agents: an unenrolled key hears nothing (ZAP); a key enrolled for another host, claiming a
#     connected host's routing id, is ignored while the real agent stays connected and its facts
#     stay; that key under a fresh routing id, or claiming another host id in its facts, or 1 PiB
#     of memory, registers nothing;
#   - replies: a registered impostor flooding the right command id with forged XML changes nothing
#     (the reply is accepted only from the host the command went to), and it is counted;
#   - clients: a viewer key cannot destroy (the refusal names the role it needs), an operator
#     cannot enrol, a client with no key or an unknown key is refused;
#   - hostile XML: DOCTYPE, a /etc/shadow disk, a name with whitespace, a duplicate UUID through
#     create (and define) are refused and nothing is stored;
#   - host remove: refused while the host holds domains; revokes the key (its agent is refused).
HB_MS=1000 # the liveness window (3 s) must outlast the forged-reply exchange below
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
IMP=$DROVER_BUILD_DIR/tests/controller/drv-impostor
[ -x "$IMP" ] || t_skip "$IMP is not built"
cluster_up
CTL_LOG=$T_DIR/controller-1.log
AGENT_EP=tcp://127.0.0.1:$AGENT_PORT
SRV_KEY=$KEY_DIR/controller.pub

# impostor KEYFILE ROUTING_ID CLAIMED_ID WAIT_MS [CMD_ID XML] — sets RC (0 heard, 3 refused)
impostor() {
  RC=0
  "$IMP" "$AGENT_EP" "$SRV_KEY" "$@" >"$T_DIR/impostor.out" 2>&1 || RC=$?
}
mem_of() { dr host show "$1" | jq -r .memory_kib; }
status_sec() { dr cluster status | jq -r ".security.$1"; }

dom_xml vm1 128 | dr domain define - >/dev/null
dr domain start vm1 >/dev/null
VM_HOST=$(dr domain info vm1 | jq -r .host)
N=${VM_HOST#h}
h1_mem=$(mem_of h1)
t_eq "the status says CURVE" true "$(status_sec curve)"

# --- agents
"$CLI_BIN" keygen "$KEY_DIR/evil" >/dev/null
impostor "$KEY_DIR/evil.key" h1 h1 1500
t_eq "an unenrolled key claiming h1 hears nothing" 3 "$RC"
t_check "the refusal is logged" grep -q "refused a drover-agents connection .*key is not enrolled" "$CTL_LOG"
impostor "$KEY_DIR/evil.key" evil evil 1500
t_eq "an unenrolled key as a new host hears nothing" 3 "$RC"
t_check "no host 'evil'" sh -c "! '$CLI_BIN' --json --timeout 5 host show evil"

"$CLI_BIN" keygen "$KEY_DIR/h4" >/dev/null
dr host enroll h4 "$KEY_DIR/h4.pub" >/dev/null || t_fail "enrolling h4"
t_eq "h4's stored key is the one in its .pub file" "$(tr -d '\n' <"$KEY_DIR/h4.pub")" "$(etcd_get hostkeys/h4)"
# A 40-byte path is also a well-formed Z85 key: the file it names is read, never the path itself.
k40=$(mktemp -d /tmp/drvk.XXXXXX)
p40="$k40/k"
while [ ${#p40} -lt 40 ]; do p40="${p40}k"; done
"$CLI_BIN" keygen "$KEY_DIR/h8" >/dev/null
cp "$KEY_DIR/h8.pub" "$p40"
dr host enroll h8 "$p40" >/dev/null || t_fail "enrolling h8 from a 40-byte path"
t_eq "a key file at a 40-byte path: its content is enrolled" "$(tr -d '\n' <"$KEY_DIR/h8.pub")" "$(etcd_get hostkeys/h8)"
rm -rf "$k40"
dr host remove h8 >/dev/null || t_fail "removing h8"
impostor "$KEY_DIR/h4.key" h1 h1 2000
t_eq "h4's key claiming connected h1's routing id hears nothing" 3 "$RC"
t_check "h1 stays reachable" host_reachable h1 true
t_eq "h1's facts stay (no 1 PiB)" "$h1_mem" "$(mem_of h1)"
sleep 3.5 # more than the liveness window: the real agent kept talking all along
t_check "h1 is still reachable after the liveness window" host_reachable h1 true
t_check "h1's agent never lost its link" sh -c "! grep -q reconnecting '$T_DIR'/agent1-*.log"

refused0=$(status_sec refused_agent_messages)
impostor "$KEY_DIR/h4.key" h5 h5 1500
t_eq "h4's key under routing id h5 hears nothing" 3 "$RC"
t_check "no host 'h5'" sh -c "! '$CLI_BIN' --json --timeout 5 host show h5"
t_check "the refused messages are counted" test "$(status_sec refused_agent_messages)" -gt "$refused0"
t_check "and logged" grep -q "routing id 'h5' refused: its key .* is enrolled for host 'h4'" "$CTL_LOG"

impostor "$KEY_DIR/h4.key" h4 h1 1500
t_eq "h4 claiming host id h1 in its facts is not registered" 3 "$RC"
t_check "logged" grep -q "registration of host 'h4' refused: its facts claim host id 'h1'" "$CTL_LOG"
impostor "$KEY_DIR/h4.key" h4 h4 1500
t_eq "h4 claiming 1 PiB of memory is not registered" 3 "$RC"
t_check "logged" grep -q "registration of host 'h4' refused: more than 64 TiB" "$CTL_LOG"
t_check "no host 'h4' yet" sh -c "! '$CLI_BIN' --json --timeout 5 host show h4"

# --- clients
out=$(dr_as viewer domain destroy vm1 2>&1) && t_fail "a viewer destroyed vm1"
t_check "the refusal names the role it needs" grep -q "domain.destroy needs role operator" <<<"$out"
t_eq "vm1 still runs" running "$(dr domain info vm1 | jq -r .state)"
t_eq "a viewer may read" 1 "$(dr_as viewer domain list | jq '.domains | length')"
out=$(dr_as operator host enroll h9 "$KEY_DIR/evil.pub" 2>&1) && t_fail "an operator enrolled a host"
t_check "enrolment needs admin" grep -q "host.enroll needs role admin" <<<"$out"
out=$(DROVER_KEY_FILE= "$CLI_BIN" --json --timeout 2 domain destroy vm1 2>&1) &&
  t_fail "a client with no key destroyed vm1"
t_check "the keyless client is told it needs a key: $out" grep -q "no client key" <<<"$out"
out=$(DROVER_KEY_FILE=$KEY_DIR/evil.key "$CLI_BIN" --json --timeout 2 domain destroy vm1 2>&1) &&
  t_fail "an unknown client key destroyed vm1"
t_check "the unknown client key is logged" grep -q "refused a drover-clients connection .*not an allowed client key" "$CTL_LOG"
t_eq "vm1 still runs" running "$(dr domain info vm1 | jq -r .state)"

# --- hostile XML: refused, nothing stored
n_domains=$(etcd_count domains/)
refused() { # WHAT PATTERN VERB (XML on stdin)
  local out
  out=$(dr domain "$3" - 2>&1) && t_fail "$1: accepted"
  grep -q "$2" <<<"$out" || t_fail "$1: the refusal does not say '$2': $out"
}
refused "DOCTYPE" "DOCTYPE" define <<'XML'
<?xml version="1.0"?>
<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<domain type='test'><name>lol</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><description>&b;</description></domain>
XML
shadow_xml() {
  cat <<XML
<domain type='test'><name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/etc/shadow'/>
<target dev='vda'/></disk></devices></domain>
XML
}
shadow_xml shadow | refused "/etc/shadow as a disk (define)" "outside every storage pool" define
shadow_xml shadow2 | refused "/etc/shadow as a disk (create)" "outside every storage pool" create
refused "a name with trailing whitespace" "leading or trailing whitespace" define <<'XML'
<domain type='test'><name>spaced </name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>
XML
refused "a name with a control character" "control character" define <<XML
<domain type='test'><name>bad&#9;name</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os></domain>
XML
uuid_xml() {
  cat <<XML
<domain type='test'><name>$1</name><uuid>6f1c0b3e-8a5d-4c1e-9f7a-0d2b3c4e5f60</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
XML
}
uuid_xml u1 | dr domain define - >/dev/null || t_fail "defining u1"
uuid_xml u2 | refused "a duplicate UUID through create" "is already used by 'u1'" create
uuid_xml u3 | refused "a duplicate UUID through define" "is already used by 'u1'" define
t_eq "nothing but u1 was stored" $((n_domains + 1)) "$(etcd_count domains/)"
t_eq "no 'spaced' key" "" "$(etcd_get domains/spaced)"
t_eq "no 'shadow2' key" "" "$(etcd_get domains/shadow2)"

# --- a forged reply from another (registered) peer
export IMPOSTOR_MEMORY_KIB=1048576
kill -STOP "${AGENT_PID[$N]}"
dr domain dumpxml vm1 >"$T_DIR/dump.out" 2>&1 &
dump_pid=$!
cmd_id() { grep -oE "command [0-9a-f]{32}: dumpxml of 'vm1'" "$CTL_LOG" | tail -n 1 | cut -d' ' -f2 | tr -d :; }
have_cmd() { [ -n "$(cmd_id)" ]; }
t_wait_for "the dumpxml command is sent to $VM_HOST" 2 have_cmd
CMD=$(cmd_id)
t_check "command ids are 128 random bits" grep -qE '^[0-9a-f]{32}$' <<<"$CMD"
dropped0=$(status_sec dropped_replies)
impostor "$KEY_DIR/h4.key" h4 h4 800 "$CMD" "<domain type='test'><name>FORGED</name></domain>"
kill -CONT "${AGENT_PID[$N]}"
t_eq "the impostor registered as h4 (it holds a valid key)" 0 "$RC"
t_check "and forged the reply" grep -q "forged $CMD" "$T_DIR/impostor.out"
wait "$dump_pid" || true
t_check "dumpxml does not return the forged XML" sh -c "! grep -q FORGED '$T_DIR/dump.out'"
t_check "dumpxml returns vm1's real XML" grep -q "<name>vm1</name>" "$T_DIR/dump.out"
t_check "the forged replies were dropped" grep -q "reply to command $CMD .* came from host 'h4'; dropped" "$CTL_LOG"
t_check "and counted" test "$(status_sec dropped_replies)" -gt "$dropped0"
t_check "$VM_HOST is reachable" host_reachable "$VM_HOST" true

# --- host remove
out=$(dr host remove "$VM_HOST" 2>&1) && t_fail "removed $VM_HOST with vm1 on it"
t_check "remove is refused while the host holds domains" grep -q "holds 1 domain" <<<"$out"
out=$(dr_as operator host remove h4 2>&1) && t_fail "an operator removed h4"
dr host remove h4 >/dev/null || t_fail "removing h4"
t_check "h4 is gone" sh -c "! '$CLI_BIN' --json --timeout 5 host show h4"
t_eq "its key is revoked in etcd" "" "$(etcd_get hostkeys/h4)"
impostor "$KEY_DIR/h4.key" h4 h4 1500
t_eq "a revoked key hears nothing" 3 "$RC"
t_eq "3 enrolled hosts remain" 3 "$(status_sec enrolled_hosts)"

cluster_down
