#!/usr/bin/env bash
# End-to-end: three real cairn processes on loopback, driven by etcdctl 3.4 (Debian etcd-client).
#   usage: e2e_etcdctl.sh path/to/cairn      env: E2E_BASE_PORT (default 24379)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_etcdctl.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-24379}
NAME=kv
source "$(dirname "$0")/../lib/cluster.sh"

"$CAIRN" --initial-cluster-state maybe >/dev/null 2>&1; check "bad flag exits 2" "$?" "2"

start 1; start 2; start 3
wait_healthy
check_match "cluster healthy" "$(ctl endpoint health)" "is healthy"
check "/health" "$(curl -s --max-time 10 http://127.0.0.1:$(cport 1)/health)" '{"health":"true"}'
check "/version" "$(curl -s --max-time 10 http://127.0.0.1:$(cport 2)/version)" '{"etcdserver":"3.6.0","etcdcluster":"3.6.0","storage":"3.6.0"}'
check_match "/metrics" "$(curl -s --max-time 10 http://127.0.0.1:$(cport 3)/metrics)" "etcd_server_has_leader 1"

check "put" "$(ctl put foo bar)" "OK"
check "get" "$(ctl get foo)" $'foo\nbar'
check "get on a follower endpoint" "$(EPS=127.0.0.1:$(cport 3) ctl get foo --print-value-only)" "bar"
for k in a1 a2 a3 b1; do ctl put $k v$k >/dev/null; done
check "get --prefix" "$(ctl get a --prefix --keys-only | grep -v '^$' | tr '\n' ' ')" "a1 a2 a3 "
check "get --limit --order" "$(ctl get a --prefix --limit=2 --order=DESCEND --keys-only | grep -v '^$' | tr '\n' ' ')" "a3 a2 "
check "get --consistency=s" "$(ctl get a2 --consistency=s --print-value-only)" "va2"
check "del --prefix" "$(ctl del a --prefix)" "3"
check "txn" "$(printf 'value("foo") = "bar"\n\nput foo baz\n\n\n' | ctl txn)" $'SUCCESS\n\nOK'
check "txn result" "$(ctl get foo --print-value-only)" "baz"
check_match "empty key error" "$(ctl put '' v)" "etcdserver: key is not provided"
rev=$(ctl get foo -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "compaction" "$(ctl compaction $((rev - 1)))" "compacted revision $((rev - 1))"
check_match "compacted error" "$(ctl get foo --rev=1)" "required revision has been compacted"
check_match "JSON gateway range" "$(curl -s --max-time 10 -X POST http://127.0.0.1:$(cport 2)/v3/kv/range -d '{"key":"Zm9v"}')" '"kvs":\[\{"key":"Zm9v".*"value":"YmF6"'
check_match "JSON gateway error" "$(curl -s --max-time 10 -X POST http://127.0.0.1:$(cport 2)/v3/kv/range -d '{}')" '"code":3'
check "member list" "$(ctl member list | grep -c ', started, m[123], ')" "3"
check "one leader" "$(ctl endpoint status | awk -F', ' '{print $5}' | grep -c true)" "1"
check "endpoint status version" "$(ctl endpoint status | awk -F', ' '{print $3}' | sort -u)" "3.6.0"

# A learner that has not caught up (never started here) cannot be promoted.
out=$(ctl member add m4 --learner --peer-urls=http://127.0.0.1:$((BASE + 35)))
lid=$(echo "$out" | sed -n 's/^Member *\([0-9a-f]*\) added.*/\1/p')  # etcdctl pads the id with spaces
check_match "learner added" "$lid" "^[0-9a-f]+$"
check_match "a second learner is refused (--max-learners 1)" \
  "$(ctl member add m5 --learner --peer-urls=http://127.0.0.1:$((BASE + 45)))" "etcdserver: too many learner members in cluster"
check "member list after the refused learner" "$(ctl member list | wc -l)" "4"
lep=$(ctl endpoint status | awk -F', ' '$5 == "true" {print $1}')
check_match "promote of a learner behind the leader" "$(EPS=$lep ctl member promote "$lid")" \
  "can only promote a learner member which is in sync with leader"
check_match "remove the learner" "$(ctl member remove "$lid")" "removed from cluster"

# Kill the leader: the other two elect a new one and keep serving; the restarted member catches up.
leader_ep=$(ctl endpoint status | awk -F', ' '$5 == "true" {print $1}')
victim=$(( ( $(echo "$leader_ep" | cut -d: -f2) - BASE ) / 10 + 1 ))
kill -9 "${PIDS[$victim]}"
rest=""
for i in 1 2 3; do [[ $i != "$victim" ]] && rest+="${rest:+,}127.0.0.1:$(cport $i)"; done
ok=0
for _ in $(seq 40); do [[ "$(EPS=$rest ctl put during down)" == OK ]] && { ok=1; break; }; sleep 0.25; done
check "two members accept writes" "$ok" "1"
check "two members serve reads" "$(EPS=$rest ctl get during --print-value-only)" "down"
start "$victim"
ok=0
for _ in $(seq 60); do
  [[ "$(EPS=127.0.0.1:$(cport $victim) ctl get during --consistency=s --print-value-only)" == down ]] && { ok=1; break; }
  sleep 0.25
done
check "restarted member catches up" "$ok" "1"
check "restarted member keeps old data" "$(EPS=127.0.0.1:$(cport $victim) ctl get foo --print-value-only)" "baz"
sums=$(ctl endpoint hashkv -w json | python3 -c 'import json,sys; print(len(set(s["HashKV"]["hash"] for s in json.load(sys.stdin))))')
check "hashkv agrees" "$sums" "1"
