#!/usr/bin/env bash
# End-to-end: a member whose membership lacks the current leader catches up from it (the peer
# transport admits a sender of its own cluster that names its peer URL: server/net/peer_transport.h,
# admit_unknown). m3 stops; m4 joins (as a learner, then promoted), m1 leaves, m4 takes the lead; m3
# restarts knowing only m1-m3. Refused as "not a member", m4 could never send m3 the entries that name it
# (the fault harness's bit-flip kind reached the same state when a WAL repair cut a conf change).
#   usage: e2e_stale_membership.sh path/to/cairn      env: E2E_BASE_PORT (default 15400; uses +0..+31)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_stale_membership.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-15400}
NAME=stalemembers
source "$(dirname "$0")/../lib/cluster.sh"

stop_member() { # stop_member N: SIGTERM, then wait (at most 15 s) until it is gone
  kill "${PIDS[$1]}" 2>/dev/null
  local deadline=$((SECONDS + 15))
  while kill -0 "${PIDS[$1]}" 2>/dev/null; do
    (( SECONDS < deadline )) || { kill -9 "${PIDS[$1]}"; break; }
    sleep 0.1
  done
}
member_id() { EPS=$2 ctl member list | awk -F', ' -v n="$1" '$3 == n {print $1}'; }

start 1; start 2; start 3
wait_healthy "$ALL"
check "a write" "$(ctl put k0 v0)" "OK"
stop_member 3
E12=$(ep_of 1),$(ep_of 2)
wait_healthy "$E12"  # m3 may have led
out=$(EPS=$E12 ctl member add m4 --learner --peer-urls="http://127.0.0.1:$(pport 4)")
id4=$(echo "$out" | sed -n 's/^Member *\([0-9a-f]*\) added.*/\1/p')
check_match "m4 added as a learner" "$out" "^Member +[0-9a-f]+ added"
[[ -n $id4 ]] || exit 1
"$CAIRN" --name m4 --data-dir "$WORK/m4" --listen-client-urls "http://$(ep_of 4)" \
  --advertise-client-urls "http://$(ep_of 4)" --listen-peer-urls "http://127.0.0.1:$(pport 4)" \
  --initial-advertise-peer-urls "http://127.0.0.1:$(pport 4)" \
  --initial-cluster "$CLUSTER,m4=http://127.0.0.1:$(pport 4)" --initial-cluster-state existing \
  --initial-cluster-token "e2e-$NAME" --heartbeat-interval 50 --election-timeout 500 >>"$WORK/m4.log" 2>&1 &
PIDS[4]=$!
disown $!
promote_m4() { EPS=$E12 ctl member promote "$id4"; }
check_match "m4 promoted once it caught up" "$(retry 30 promoted promote_m4)" "promoted"
E24=$(ep_of 2),$(ep_of 4)
id1=$(member_id m1 "$E12")
check_match "m1 removed" "$(EPS=$E24 ctl member remove "$id1")" "removed from cluster"
stop_member 1
wait_healthy "$E24"
move_to_m4() {
  local l
  l=$(leader_num "$E24")
  [[ $l == 4 ]] || EPS=$(ep_of "${l:-2}") ctl move-leader "$id4" >/dev/null
  leader_num "$E24"
}
check "m4 leads" "$(retry 30 '^4$' move_to_m4)" "4"
check "a write while m3 is down" "$(EPS=$E24 ctl put k1 v1)" "OK"

# m3 comes back knowing m1, m2 and m3: it must admit m4 and catch up from it.
start 3
wait_healthy "$(ep_of 3)"
check "m3 reads the write it missed" "$(EPS=$(ep_of 3) ctl get k1 --print-value-only)" "v1"
check "m3's membership has caught up" \
  "$(EPS=$(ep_of 3) ctl member list | awk -F', ' '{print $3}' | sort | tr '\n' ' ')" "m2 m3 m4 "
check "a write through m3" "$(EPS=$(ep_of 3) ctl put k2 v2)" "OK"
check "m4 still leads" "$(leader_num "$(ep_of 2),$(ep_of 3),$(ep_of 4)")" "4"
check_match "m3 logged that it admitted m4" "$(grep -c "member $id4 (peer URL .*) is not in this member's membership" "$WORK/m3.log")" "^[1-9]"
