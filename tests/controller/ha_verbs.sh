#!/usr/bin/env bash
# Integration: the HA verbs on the test driver (issue 18, docs/ha.md). `domain ha` stores the policy
# with the domain (checked in etcd), `domain info`/`domain list` show it, bad options are usage
# errors that store nothing, a transient domain cannot be HA, an unknown domain fails naming it;
# the agents are told their HA sets; `host ha-plan` answers the N+1 question through the scheduler
# (priority first when room is short, the other waits with the reason); `cluster status` lists the
# controller, leading.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

# two 6 GiB guests land on h3 (16 GiB; spread); h2 (8 GiB) takes one of them, h1 (4 GiB) none
for g in big1 big2; do
  dom_xml "$g" 6144 1 >"$T_DIR/$g.xml"
  t_check "define $g" dr domain define "$T_DIR/$g.xml"
  t_eq "start $g on h3" h3 "$(dr domain start "$g" | jq -r .host)"
done

out=$(dr domain ha big2 --enable --priority 5 --restart-limit 2)
t_eq "domain ha big2: the answer" "true 5 2 0" "$(jq -r '"\(.ha.enabled) \(.ha.priority) \(.ha.restart_limit) \(.ha.restarts)"' <<<"$out")"
t_eq "etcd: big2's policy" "true 5 2" "$(etcd_get domains/big2 | jq -r '"\(.ha.enabled) \(.ha.priority) \(.ha.restart_limit)"')"
t_check "domain ha big1" dr domain ha big1 --enable
t_eq "domain info: big1 HA" "true 0" "$(dr domain info big1 | jq -r '"\(.ha.enabled) \(.ha.priority)"')"
list=$("$CLI_BIN" --timeout 20 domain list)
t_check "domain list: big2 'on p5': $list" grep -qE '^big2 .* on p5$' <<<"$list"
t_check "domain list: big1 'on'" grep -qE '^big1 .* on$' <<<"$list"
text=$("$CLI_BIN" --timeout 20 domain ha big2)
t_eq "domain ha without options: a query" "Domain 'big2' HA: enabled, priority 5, restart limit 2" "$text"

# refusals store nothing
rev=$(etcd_get domains/big1 | jq -r .revision)
mod() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get -w json "${PREFIX}domains/big1" | jq -r '.kvs[0].mod_revision'; }
m0=$(mod)
rc=0; out=$("$CLI_BIN" --timeout 20 domain ha big1 --priority many 2>&1) || rc=$?
t_eq "--priority many: usage (exit 2)" 2 "$rc"
t_check "names the option: $out" grep -q -- "--priority 'many'" <<<"$out"
rc=0; out=$("$CLI_BIN" --timeout 20 domain ha big1 --enable --disable 2>&1) || rc=$?
t_eq "--enable --disable: usage (exit 2)" 2 "$rc"
rc=0; out=$("$CLI_BIN" --timeout 20 domain ha nosuch --enable 2>&1) || rc=$?
t_eq "unknown domain: exit 1" 1 "$rc"
t_check "names it: $out" grep -q "domain 'nosuch' not found" <<<"$out"
t_eq "nothing stored by the refusals" "$m0" "$(mod)"
t_eq "big1 still at revision $rev" "$rev" "$(etcd_get domains/big1 | jq -r .revision)"

# the N+1 question for h3: big2 (priority 5) restarts on h2, big1 waits for memory
plan=$(dr host ha-plan h3)
t_eq "ha-plan: priority order" "big2 big1" "$(jq -r '[.domains[].name] | join(" ")' <<<"$plan")"
t_eq "ha-plan: big2 on h2" h2 "$(jq -r '.domains[0].restarts_on' <<<"$plan")"
t_eq "ha-plan: big1 waits" null "$(jq -r '.domains[1].restarts_on' <<<"$plan")"
t_check "ha-plan: the reason names memory: $(jq -r '.domains[1].waits' <<<"$plan")" \
  grep -q "memory" <<<"$(jq -r '.domains[1].waits' <<<"$plan")"
t_eq "ha-plan: 1 waiting" 1 "$(jq -r .waiting <<<"$plan")"
t_eq "ha-plan of a host without HA domains" 0 "$(dr host ha-plan h1 | jq '.domains | length')"
rc=0; "$CLI_BIN" --timeout 20 host ha-plan nosuch >/dev/null 2>&1 || rc=$?
t_eq "ha-plan of an unknown host: exit 1" 1 "$rc"
# disabled: out of the plan
t_check "domain ha big1 --disable" dr domain ha big1 --disable
t_eq "ha-plan without big1" "big2" "$(dr host ha-plan h3 | jq -r '[.domains[].name] | join(" ")')"
t_eq "etcd: big1 HA off" false "$(etcd_get domains/big1 | jq -r '.ha.enabled // false')"

# a transient domain cannot be HA
dom_xml tr1 64 1 >"$T_DIR/tr1.xml"
t_check "create transient tr1" dr domain create "$T_DIR/tr1.xml"
rc=0; out=$("$CLI_BIN" --timeout 20 domain ha tr1 --enable 2>&1) || rc=$?
t_eq "HA for a transient domain refused (exit 1)" 1 "$rc"
t_check "says why: $out" grep -q "transient" <<<"$out"

# every controller listed, this one leading; no HA recovery under way
st=$(dr cluster status)
t_eq "cluster status: one controller, leading, self" "1 true true" \
  "$(jq -r '"\(.controllers | length) \(.controllers[0].leading) \(.controllers[0].self)"' <<<"$st")"
t_eq "cluster status: no HA recovery" 0 "$(jq '.ha_recoveries | length' <<<"$st")"
t_eq "etcd: the controller's presence key" 1 "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" get --prefix "${PREFIX}controllers/" --keys-only | grep -c .)"
cluster_down
t_log "PASS ($T_CHECKS checks)"
