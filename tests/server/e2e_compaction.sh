#!/usr/bin/env bash
# End-to-end: compaction in the background (server/node/compaction_sweeper.h) on a 3-member cluster.
# 40,000 revisions (20 txns of 2,000 puts over the same 2,000 keys) are compacted at once; the sweeper
# deletes 38,000 records in batches of 200 while the leader keeps its term (no election: heartbeats
# keep flowing); a follower is killed (SIGKILL) mid-way and restarted, and it finishes the job from
# what it finds on disk (its store's unflushed writes are lost with the process: it replays the WAL,
# compaction included, and deletes what is left). Every member ends with no backlog and the same HashKV.
# Then Compact with --physical answers only once the serving member's backlog is gone.
#   usage: e2e_compaction.sh path/to/cairn path/to/cairnctl   env: E2E_BASE_PORT (default 14300; +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_compaction.sh path/to/cairn path/to/cairnctl}
CAIRNCTL=${2:?usage: e2e_compaction.sh path/to/cairn path/to/cairnctl}
BASE=${E2E_BASE_PORT:-14300}
NAME=compaction
# etcd's default timeouts (the other e2e tests use 50/500 ms): "no election" then means what it would in
# a deployment, not the luck of a loaded CI machine.
EXTRA_FLAGS=(--max-txn-ops 2000 --experimental-compaction-batch-limit 200 --experimental-compaction-sleep-interval 20ms
  --heartbeat-interval 100 --election-timeout 1000)
source "$(dirname "$0")/../lib/cluster.sh"

cctl() { timeout 60 "$CAIRNCTL" --endpoints="${EPS:-$ALL}" --command-timeout=30s "$@" 2>&1; }
metric() { # metric N NAME: the value of an unlabelled series on member N (empty when unreachable)
  curl -s --max-time 10 "http://$(ep_of "$1")/metrics" | awk -v n="$2" '$1 == n {print $2}' | sed 's/\.0*$//'
}
term_of() { # term_of N
  EPS=$(ep_of "$1") ctl endpoint status -w json | sed -E 's/.*"raft_term":([0-9]+).*/\1/'
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, else the run fails
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    (( SECONDS < deadline )) || { echo "FAIL $what (not within the time bound)"; FAILED=1; return 1; }
    sleep 0.2
  done
  echo "ok   $what"
}

start 1; start 2; start 3
wait_healthy "$ALL"

for round in $(seq 1 20); do
  { echo; for i in $(seq 0 1999); do echo "put k/$i r$round"; done; echo; echo; } |
    cctl txn >/dev/null || { echo "FAIL load txn $round"; FAILED=1; }
done
rev=$(cctl get k/0 -w json | sed -E 's/.*"revision":([0-9]+).*/\1/')
check "history loaded" "$rev" "21"
leader=$(leader_num)
term=$(term_of "$leader")
victim=$(( leader % 3 + 1 ))  # a follower

check "compact" "$(cctl compaction "$rev")" "compacted revision $rev"
backlog_between() { local b; b=$(metric "$victim" cairn_mvcc_compaction_backlog_records); [[ -n $b && $b -gt 0 && $b -lt 30000 ]]; }
wait_for 60 "follower $victim is part-way through the deletions" backlog_between
kill -9 "${PIDS[$victim]}"
start "$victim"
no_backlog() { for n in 1 2 3; do [[ $(metric "$n" cairn_mvcc_compaction_backlog_records) == 0 ]] || return 1; done; }
wait_for 120 "every member deleted its backlog" no_backlog
check "the leader deleted 38,000 records" "$(metric "$leader" etcd_debugging_mvcc_db_compaction_keys_total)" "38000"
restarted=$(metric "$victim" etcd_debugging_mvcc_db_compaction_keys_total)
if [[ -n $restarted && $restarted -gt 0 && $restarted -le 38000 ]]; then
  echo "ok   restarted member $victim deleted what was left ($restarted records)"
else
  echo "FAIL restarted member $victim deleted [$restarted] records"; FAILED=1
fi
check "no election during compaction (leader $leader, term $term)" "$(leader_num) $(term_of "$leader")" "$leader $term"
hashes=$(ctl endpoint hashkv -w json | grep -o '"hash":[0-9]*' | sort -u | wc -l)
check "every member has the same HashKV" "$hashes" "1"
# --physical answers only once the serving member has deleted what the compaction dropped.
for round in 21 22 23 24 25; do
  { echo; for i in $(seq 0 1999); do echo "put k/$i r$round"; done; echo; echo; } |
    cctl txn >/dev/null || { echo "FAIL load txn $round"; FAILED=1; }
done
before=$(metric "$leader" etcd_debugging_mvcc_db_compaction_keys_total)
check "compact --physical" "$(EPS=$(ep_of "$leader") cctl compaction --physical $((rev + 5)))" "compacted revision $((rev + 5))"
check "no backlog on the serving member when --physical answers" \
  "$(metric "$leader" cairn_mvcc_compaction_backlog_records) $(( $(metric "$leader" etcd_debugging_mvcc_db_compaction_keys_total) - before ))" \
  "0 10000"
check "reads still see the latest value" "$(cctl get k/1999 --print-value-only)" "r25"
check_match "a read below the compaction is refused" "$(cctl get k/0 --rev $((rev - 1)))" "required revision has been compacted"
exit $FAILED
