#!/usr/bin/env bash
# End-to-end leases: three real cairn processes on loopback, driven by etcdctl 3.4 and curl.
#   usage: e2e_lease.sh path/to/cairn [path/to/lease_keepalive_probe]
#   env: E2E_LEASE_BASE_PORT (default 27379; below 32768)
# Covers grant/list/timetolive --keys/keep-alive --once/revoke, the minimum TTL, expiry deleting attached
# keys, keep-alive through a follower, the JSON gateway routes, and a leader kill: a kept-alive lease
# survives, an abandoned one expires (not before its TTL), keep-alive continues across the failure.
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_lease.sh path/to/cairn [path/to/lease_keepalive_probe]}
PROBE=${2:-}
BASE=${E2E_LEASE_BASE_PORT:-27379}
NAME=lease
source "$(dirname "$0")/../lib/cluster.sh"
now_ms() { date +%s%3N; }

start 1; start 2; start 3
wait_healthy

# ---- lifecycle
out=$(ctl lease grant 60)
check_match "grant" "$out" "^lease [0-9a-f]+ granted with TTL\(60s\)$"
id=$(echo "$out" | awk '{print $2}')
ctl put lk1 v --lease="$id" >/dev/null; ctl put lk2 v --lease="$id" >/dev/null
check_match "timetolive --keys" "$(ctl lease timetolive "$id" --keys)" \
  "^lease $id granted with TTL\(60s\), remaining\((59|60)s\), attached keys\(\[lk1 lk2\]\)$"
check_match "list" "$(ctl lease list)" "found 1 leases"$'\n'"$id"
check "keep-alive --once" "$(ctl lease keep-alive --once "$id")" "lease $id keepalived with TTL(60)"
rev_before=$(ctl get x -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "revoke" "$(ctl lease revoke "$id")" "lease $id revoked"
rev_after=$(ctl get x -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "revoke deletes both keys in one revision" "$((rev_after - rev_before))" "1"
check "revoked keys gone" "$(ctl get lk --prefix)" ""
check "timetolive after revoke" "$(ctl lease timetolive "$id")" "lease $id already expired"
check_match "revoke unknown" "$(ctl lease revoke "$id")" "etcdserver: requested lease not found"
check_match "keep-alive unknown" "$(ctl lease keep-alive --once "$id")" "requested lease not found"
check_match "minimum TTL (1.5 x 500 ms election timeout)" "$(ctl lease grant 0)" "granted with TTL\(1s\)$"
check_match "too large TTL" "$(ctl lease grant 9000000001)" "etcdserver: too large lease TTL"
check_match "put with unknown lease" "$(ctl put x y --lease=1234abcd)" "etcdserver: requested lease not found"

# ---- client-chosen ids and the JSON gateway
gw() { curl -s --max-time 10 -X POST "http://$(ep_of ${3:-2})$1" -d "$2"; }
check_match "gateway grant with id" "$(gw /v3/lease/grant '{"TTL":"30","ID":"4660"}')" '"ID":"4660","TTL":"30"'
check_match "gateway grant existing id" "$(gw /v3/lease/grant '{"TTL":30,"ID":4660}')" \
  '"error":"etcdserver: lease already exists".*"code":9'
check_match "gateway timetolive" "$(gw /v3/lease/timetolive '{"ID":4660}')" '"ID":"4660","TTL":"(29|30)","grantedTTL":"30"'
check_match "gateway kv/lease/timetolive" "$(gw /v3/kv/lease/timetolive '{"ID":4660,"keys":true}' 3)" '"grantedTTL":"30"'
check_match "gateway leases" "$(gw /v3/lease/leases '{}' 1)" '"leases":\[.*\{"ID":"4660"\}'
check_match "gateway keepalive" "$(gw /v3/lease/keepalive '{"ID":4660}{"ID":77}' 3)" \
  '^\{"result":\{"header":\{.*\},"ID":"4660","TTL":"30"\}\}'$'\n''\{"result":\{"header":\{.*\},"ID":"77"\}\}$'
check_match "gateway revoke" "$(gw /v3/lease/revoke '{"ID":4660}')" '^\{"header":\{"cluster_id"'
check_match "gateway kv/lease/revoke unknown" "$(curl -s -w ' %{http_code}' --max-time 10 -X POST \
  http://$(ep_of 1)/v3/kv/lease/revoke -d '{"ID":4660}')" '"code":5\} 404$'
check "timetolive unknown" "$(ctl lease timetolive 1234)" "lease 0000000000001234 already expired"

# ---- expiry deletes attached keys (never before the TTL)
id=$(ctl lease grant 3 | awk '{print $2}'); t0=$(now_ms)
ctl put ek1 v --lease="$id" >/dev/null; ctl put ek2 v --lease="$id" >/dev/null
sleep 2
alive=$(ctl get ek --prefix --keys-only | grep -c ek); t=$(now_ms)
(( t - t0 < 3000 )) && check "keys alive before the TTL" "$alive" "2"
gone=0
for _ in $(seq 40); do [[ -z "$(ctl get ek --prefix)" ]] && { gone=1; break; }; sleep 0.2; done
t=$(now_ms)
check "expired lease deleted its keys" "$gone" "1"
(( t - t0 >= 3000 )) && echo "ok   expiry not before the TTL ($((t - t0)) ms)" || { echo "FAIL expired after $((t - t0)) ms < 3000"; FAILED=1; }
check "expired lease gone from the list" "$(ctl lease list | grep -c "$id")" "0"

# ---- keep-alive through a follower endpoint
L=$(leader_num); F=$(( L % 3 + 1 ))
check_match "leader found" "$L" "^[123]$"
id=$(EPS=$(ep_of $F) ctl lease grant 2 | awk '{print $2}')
EPS=$(ep_of $F) ctl put fk v --lease="$id" >/dev/null
ETCDCTL_API=3 etcdctl --endpoints="$(ep_of $F)" lease keep-alive "$id" >"$WORK/ka1.out" 2>&1 &
BG+=($!); kpid=$!
sleep 5
check "kept alive through a follower" "$(EPS=$(ep_of $F) ctl get fk --print-value-only)" "v"
check_match "keep-alive responses via the follower" "$(head -1 "$WORK/ka1.out")" "^lease $id keepalived with TTL\(2\)$"
check_match "timetolive via a follower" "$(EPS=$(ep_of $F) ctl lease timetolive "$id")" "granted with TTL\(2s\), remaining\([012]s\)"
kill "$kpid" 2>/dev/null
gone=0
for _ in $(seq 30); do [[ -z "$(ctl get fk)" ]] && { gone=1; break; }; sleep 0.2; done
check "lease expires once keep-alive stops" "$gone" "1"

# ---- several leases on one keep-alive stream, through a follower and through the leader
if [[ -n $PROBE ]]; then
  L=$(leader_num); F=$(( L % 3 + 1 ))
  ids=(); for _ in 1 2 3; do ids+=("$(EPS=$(ep_of $F) ctl lease grant 10 | awk '{print $2}')"); done
  for ep in $F $L; do
    out=$(timeout 30 "$PROBE" "$(ep_of $ep)" 2 "${ids[@]}" abcdef 2>&1)
    check "one stream, 4 leases x 2 rounds via member $ep ($( [[ $ep = $L ]] && echo leader || echo follower))" \
      "$(echo "$out" | awk '{print $2}' | tr '\n' ' ')" "10 10 10 0 10 10 10 0 "
    check "answers in request order via member $ep" "$(echo "$out" | awk '{print $1}' | head -4 | tr '\n' ' ')" \
      "$(printf '%x ' "$((16#${ids[0]}))" "$((16#${ids[1]}))" "$((16#${ids[2]}))" "$((16#abcdef))")"
  done
  for id in "${ids[@]}"; do ctl lease revoke "$id" >/dev/null; done
fi

# ---- leader failure: a kept-alive lease survives, an abandoned one expires (not before its TTL)
keep=$(ctl lease grant 4 | awk '{print $2}')
ctl put keepk v --lease="$keep" >/dev/null
ETCDCTL_API=3 etcdctl --endpoints="$ALL" lease keep-alive "$keep" >"$WORK/ka2.out" 2>&1 &
BG+=($!); kpid=$!
sleep 1
drop=$(ctl lease grant 5 | awk '{print $2}'); t0=$(now_ms)
ctl put dropk v --lease="$drop" >/dev/null
L=$(leader_num)
kill -9 "${PIDS[$L]}"; t_kill=$(now_ms)
rest=""; for i in 1 2 3; do [[ $i != "$L" ]] && rest+="${rest:+,}$(ep_of $i)"; done
# The abandoned lease: still there just before its TTL, gone within TTL + grace + slack.
sleep 3.5
v=$(EPS=$rest ctl get dropk --print-value-only); t=$(now_ms)
(( t - t0 < 5000 )) && check "abandoned lease not expired before its TTL" "$v" "v"
gone=0
for _ in $(seq 60); do [[ -z "$(EPS=$rest ctl get dropk)" ]] && { gone=1; break; }; sleep 0.25; done
t=$(now_ms)
check "abandoned lease expired after the leader change" "$gone" "1"
(( t - t0 >= 5000 )) && echo "ok   abandoned lease lived its TTL ($((t - t0)) ms)" || { echo "FAIL abandoned lease gone after $((t - t0)) ms"; FAILED=1; }
sleep 4   # well past 4 s TTL + grace since the kill
check "kept-alive lease survived the leader change" "$(EPS=$rest ctl get keepk --print-value-only)" "v"
check "keep-alive client still running" "$(kill -0 "$kpid" 2>/dev/null && echo yes)" "yes"
check_match "keep-alive kept answering after the kill" "$(tail -1 "$WORK/ka2.out")" "^lease $keep keepalived with TTL\(4\)$"

# ---- the old leader comes back; keep-alive keeps working through every member, also after it
start "$L"
ok=0
for _ in $(seq 60); do
  [[ "$(EPS=$(ep_of $L) ctl get keepk --consistency=s --print-value-only)" == v ]] && { ok=1; break; }; sleep 0.25
done
check "restarted member caught up" "$ok" "1"
check_match "restarted member lists the lease" "$(EPS=$(ep_of $L) ctl lease list)" "$keep"
for i in 1 2 3; do
  check "keep-alive --once via member $i" "$(EPS=$(ep_of $i) ctl lease keep-alive --once "$keep")" "lease $keep keepalived with TTL(4)"
done
# Another leader change (kill the new leader), with the keep-alive loop still running.
L2=$(leader_num)
kill -9 "${PIDS[$L2]}"
sleep 6
rest=""; for i in 1 2 3; do [[ $i != "$L2" ]] && rest+="${rest:+,}$(ep_of $i)"; done
check "kept-alive lease survived a second leader change" "$(EPS=$rest ctl get keepk --print-value-only)" "v"
check "keep-alive client still running after the second kill" "$(kill -0 "$kpid" 2>/dev/null && echo yes)" "yes"
kill "$kpid" 2>/dev/null
check "revoke after failures" "$(EPS=$rest ctl lease revoke "$keep")" "lease $keep revoked"
check "revoked key gone" "$(EPS=$rest ctl get keepk)" ""
exit $FAILED
