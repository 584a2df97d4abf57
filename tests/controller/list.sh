#!/usr/bin/env bash
# Integration (issue 19): `domain list` and `host list` filtered and paged by the controller.
# Every filtered answer is compared with the whole list filtered here (jq), so a filter that drops
# or adds an item fails; pages of --limit 3 joined give the whole list exactly once, in order, the
# last page has no token, `total` counts the matches; bad input is refused with a usage error.
source "$(dirname "$0")/../support/lib.sh"
source "$(dirname "$0")/cluster.sh"
cluster_up

for i in 1 2 3 4 5 6 7 8; do
  dom_xml "ls-$i" 128 >"$T_DIR/ls-$i.xml"
  dr domain define "$T_DIR/ls-$i.xml" >/dev/null
done
for i in 1 2 3 4 5; do dr domain start "ls-$i" >/dev/null; done
dr domain suspend ls-5 >/dev/null

whole=$(dr domain list --all)
t_eq "the whole list has 8 domains" 8 "$(jq '.domains | length' <<<"$whole")"
t_eq "the whole list says total 8 and has no token" "8 null" "$(jq -r '"\(.total) \(.continue)"' <<<"$whole")"
names() { jq -r '[.domains[].name] | join(",")'; }
# without --limit the CLI asks in pages and joins them (a whole reply may be over the frame limit):
# pages of 3 give the same 8 domains, in order, once each, with no token; the controller saw 3 asks
asks() { grep -c "request domain.list" "$T_DIR/controller-$CTL_RUNS.log" || true; }
before_asks=$(asks)
joined=$(DROVER_CLI_LIST_PAGE=3 dr domain list --all)
t_eq "pages of 3 joined: the whole list" "$(names <<<"$whole")" "$(names <<<"$joined")"
t_eq "pages of 3 joined: total 8, no token" "8 null" "$(jq -r '"\(.total) \(.continue)"' <<<"$joined")"
t_eq "pages of 3 joined: 3 requests" 3 "$(($(asks) - before_asks))"
t_eq "host list in pages of 1: every host" "h1,h2,h3" \
  "$(DROVER_CLI_LIST_PAGE=1 dr host list | jq -r '[.hosts[].id] | join(",")')"

# --host: for each host, exactly the domains placed there
for h in h1 h2 h3; do
  want=$(jq -r --arg h "$h" '[.domains[] | select(.host == $h) | .name] | join(",")' <<<"$whole")
  t_eq "domain list --host $h" "$want" "$(dr domain list --all --host "$h" | names)"
done
t_eq "domain list --host nobody is empty" "" "$(dr domain list --all --host nobody | names)"
# --state (implies --all)
t_eq "domain list --state running" "ls-1,ls-2,ls-3,ls-4" "$(dr domain list --state running | names)"
t_eq "domain list --state paused" "ls-5" "$(dr domain list --state paused | names)"
t_eq "domain list --state shutoff" "ls-6,ls-7,ls-8" "$(dr domain list --state shutoff | names)"
t_eq "domain list --state 'shut off'" "ls-6,ls-7,ls-8" "$(dr domain list --state 'shut off' | names)"
# --label: domains placed on a host with that label (h2 has rack=r2)
want=$(jq -r '[.domains[] | select(.host == "h2") | .name] | join(",")' <<<"$whole")
t_eq "domain list --label rack=r2 = the domains on h2" "$want" "$(dr domain list --all --label rack=r2 | names)"
# without --all, shut off domains meant to be off are left out, as before
t_eq "domain list without --all" "ls-1,ls-2,ls-3,ls-4,ls-5" "$(dr domain list | names)"

# paging: --limit 3 pages joined are the whole list, once, in order
joined="" token="" pages=0
while :; do
  if [ -n "$token" ]; then page=$(dr domain list --all --limit 3 --continue "$token"); else page=$(dr domain list --all --limit 3); fi
  n=$(jq '.domains | length' <<<"$page")
  t_check "page $pages holds at most 3 ($n)" test "$n" -le 3
  t_eq "page $pages total" 8 "$(jq .total <<<"$page")"
  joined+=$(names <<<"$page")","
  token=$(jq -r '.continue // empty' <<<"$page")
  pages=$((pages + 1))
  [ -n "$token" ] && [ "$pages" -lt 10 ] || break
done
t_eq "three pages" 3 "$pages"
t_eq "the pages joined are the whole list" "$(names <<<"$whole")," "$joined"
# paging with a filter
page=$("$CLI_BIN" --timeout 20 domain list --state running --limit 2)
t_check "the table says how to get the next page" grep -q "(2 of 4 domains shown; next page: --continue ls-2)" <<<"$page"
t_eq "the next running page" "ls-3,ls-4" "$(dr domain list --state running --limit 2 --continue ls-2 | names)"
# a token naming a domain undefined since still continues in order
dr domain undefine ls-7 >/dev/null
t_eq "continue after an undefined name" "ls-8" "$(dr domain list --all --continue ls-7 | names)"

# host list
t_eq "host list --state reachable" "h1,h2,h3" "$(dr host list --state reachable | jq -r '[.hosts[].id] | join(",")')"
t_eq "host list --state unreachable" "" "$(dr host list --state unreachable | jq -r '[.hosts[].id] | join(",")')"
t_eq "host list --label rack=r3" "h3" "$(dr host list --label rack=r3 | jq -r '[.hosts[].id] | join(",")')"
t_eq "host list --limit 2" "h1,h2 h2 3" "$(dr host list --limit 2 | jq -r '"\([.hosts[].id] | join(",")) \(.continue) \(.total)"')"
t_eq "host list --continue h2" "h3 null" "$(dr host list --continue h2 | jq -r '"\([.hosts[].id] | join(",")) \(.continue)"')"

# refusals
set +e
out=$("$CLI_BIN" --json --timeout 20 domain list --label norack 2>&1); rc=$?
set -e
t_eq "--label without = is a usage error" 2 "$rc"
t_check "and says so" grep -q "is not KEY=VALUE" <<<"$out"
cluster_down
