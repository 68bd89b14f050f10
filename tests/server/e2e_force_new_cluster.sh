#!/usr/bin/env bash
# End-to-end: --force-new-cluster, the recovery path after losing quorum for good. A 3-member cluster takes
# writes; the leader and one follower are killed and their data deleted; the survivor restarts with
# --force-new-cluster and must serve every acknowledged key, as a one-member cluster with the same cluster
# id; two new members join it with member add; the survivor then restarts without the flag and the
# three-member cluster stays healthy with the same data everywhere.
#   usage: e2e_force_new_cluster.sh path/to/cairn      env: E2E_BASE_PORT (default 29720; uses +0..+41)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_force_new_cluster.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-29720}
NAME=fnc
source "$(dirname "$0")/../lib/cluster.sh"

start_joiner() { # start_joiner N INITIAL_CLUSTER: a new member mN joining an existing cluster
  "$CAIRN" --name "m$1" --data-dir "$WORK/m$1" \
    --listen-client-urls "http://$(ep_of "$1")" --advertise-client-urls "http://$(ep_of "$1")" \
    --listen-peer-urls "http://127.0.0.1:$(pport "$1")" --initial-advertise-peer-urls "http://127.0.0.1:$(pport "$1")" \
    --initial-cluster "$2" --initial-cluster-state existing --initial-cluster-token "e2e-$NAME" \
    --heartbeat-interval 50 --election-timeout 500 >>"$WORK/m$1.log" 2>&1 &
  PIDS[$1]=$!
  disown $!
}
dump() { EPS=$1 ctl get "" --prefix --consistency=s -w simple; }
cluster_id() { EPS=$1 ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["cluster_id"])'; }

start 1; start 2; start 3
wait_healthy "$ALL"
for i in $(seq 1 100); do
  [[ "$(ctl put "key$i" "value$i")" == OK ]] || { echo "FAIL put key$i"; FAILED=1; }
done
check "txn acknowledged" "$(printf '\nput txnkey txnvalue\n\n\n' | ctl txn)" $'SUCCESS\n\nOK'
leader=$(leader_num)
survivor=$(( leader % 3 + 1 ))
lost=""
for i in 1 2 3; do [[ $i != "$survivor" ]] && lost+=" $i"; done
S=$(ep_of "$survivor")
# The survivor has applied everything acknowledged (a serializable read of the last write sees it).
deadline=$((SECONDS + 20))
until [[ "$(EPS=$S ctl get txnkey --consistency=s --print-value-only)" == txnvalue ]]; do
  (( SECONDS < deadline )) || { echo "FAIL the survivor never caught up"; FAILED=1; exit 1; }
  sleep 0.1
done
before=$(dump "$ALL")
id_before=$(cluster_id "$S")

for i in $lost; do kill -9 "${PIDS[$i]}"; rm -rf "$WORK/m$i"; done
kill "${PIDS[$survivor]}"
wait_gone=$((SECONDS + 10))
while kill -0 "${PIDS[$survivor]}" 2>/dev/null && (( SECONDS < wait_gone )); do sleep 0.1; done

EXTRA_FLAGS=(--force-new-cluster)
start "$survivor"
EXTRA_FLAGS=()
wait_healthy "$S"
check "one member left" "$(EPS=$S ctl member list | wc -l)" "1"
check "every acknowledged key is served" "$(dump "$S")" "$before"
check "same cluster id" "$(cluster_id "$S")" "$id_before"
check "writes go through" "$(EPS=$S ctl put after-recovery yes)" "OK"
check_match "the log says so" "$(cat "$WORK/m$survivor.log")" "force-new-cluster: restarting as a one-member cluster"

# Two new members join, one at a time (the second needs the first started: --strict-reconfig-check).
sname="m$survivor"
cluster="$sname=http://127.0.0.1:$(pport "$survivor")"
for n in 4 5; do
  check_match "member add m$n" "$(EPS=$S ctl member add "m$n" --peer-urls="http://127.0.0.1:$(pport $n)")" "Member [0-9a-f]+ added"
  cluster+=",m$n=http://127.0.0.1:$(pport $n)"
  start_joiner "$n" "$cluster"
  wait_healthy "$(ep_of $n)"
done
NEW="$S,$(ep_of 4),$(ep_of 5)"
check "three members" "$(EPS=$S ctl member list | wc -l)" "3"
check "a new member has every key" "$(dump "$(ep_of 5)" | grep -v '^after-recovery$' | grep -v '^yes$')" "$before"

# The flag is for one restart: without it the survivor rejoins its new cluster.
kill "${PIDS[$survivor]}"
while kill -0 "${PIDS[$survivor]}" 2>/dev/null; do sleep 0.1; done
start "$survivor"
wait_healthy "$NEW"
check "writes after the restart" "$(EPS=$NEW ctl put final yes)" "OK"
check "still three members" "$(EPS=$NEW ctl member list | wc -l)" "3"
sums=$(EPS=$NEW ctl endpoint hashkv -w json | python3 -c 'import json,sys; print(len(set(s["HashKV"]["hash"] for s in json.load(sys.stdin))))')
check "hashkv agrees" "$sums" "1"
