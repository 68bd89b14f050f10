#!/usr/bin/env bash
# etcd -> cairn: a 3-member etcd 3.4 cluster gets keys over many revisions (overwrites, a txn, deletes,
# re-creates, a large value on overflow pages, enough keys for branch pages), leases with keys and a
# compaction; `etcdctl snapshot save`; `cairnctl snapshot status` prints what etcdctl prints for it;
# `cairnctl snapshot restore` makes 3 cairn data dirs, the etcd cluster stops, and the cairn cluster
# started on them serves the same keys, values, create/mod revisions, versions, history above the
# compaction point, compacted revisions and leases, takes writes at the next revision, and its members'
# HashKV agree. An etcd member's member/snap/db is restored too (it has no digest: --skip-hash-check).
#   usage: e2e_restore_from_etcd.sh CAIRNCTL CAIRN     env: BASE (default 17700; uses BASE..BASE+81)
# Exits 77 (skipped) without etcd/etcdctl. Every process it starts is stopped by pid on exit.
set -uo pipefail
CTL=$1
CAIRN=$2
BASE=${BASE:-17700}
NAME=etcd2cairn
source "$(dirname "$0")/../lib/cluster.sh"
command -v etcd >/dev/null || { echo "etcd not installed: skipped"; exit 77; }
export ETCDCTL_API=3

# The etcd cluster: member eN on client BASE+50+10(N-1), peer +1.
ecport() { echo $((BASE + 50 + 10 * ($1 - 1))); }
epport() { echo $((BASE + 51 + 10 * ($1 - 1))); }
ECLUSTER="e1=http://127.0.0.1:$(epport 1),e2=http://127.0.0.1:$(epport 2),e3=http://127.0.0.1:$(epport 3)"
EALL="127.0.0.1:$(ecport 1),127.0.0.1:$(ecport 2),127.0.0.1:$(ecport 3)"
declare -A EPIDS
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$WORK/e$i" --listen-client-urls "http://127.0.0.1:$(ecport $i)" \
    --advertise-client-urls "http://127.0.0.1:$(ecport $i)" --listen-peer-urls "http://127.0.0.1:$(epport $i)" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(epport $i)" --initial-cluster "$ECLUSTER" \
    --initial-cluster-token source-etcd --heartbeat-interval 50 --election-timeout 500 >"$WORK/etcd$i.log" 2>&1 &
  EPIDS[$i]=$!
  BG+=($!)
done
wait_healthy "$EALL"
export EPS=$EALL

for i in 1 2 3; do ctl put key/a "a-v$i" >/dev/null; done
printf '\nput key/t1 t1\nput key/t2 t2\nput key/a a-txn\n\n\n' | ctl txn >/dev/null
ctl put key/gone soon >/dev/null
ctl del key/gone >/dev/null
ctl put key/back first >/dev/null
ctl del key/back >/dev/null
ctl put key/back second >/dev/null
compact_at=$(ctl get key/a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl put key/a a-after >/dev/null
ctl compaction "$compact_at" >/dev/null
L1=$(ctl lease grant 900 | awk '{print $2}')
L2=$(ctl lease grant 1200 | awk '{print $2}')
ctl put key/leased1 x --lease="$L1" >/dev/null
ctl put key/leased2 y --lease="$L2" >/dev/null
ctl put key/leased3 z --lease="$L2" >/dev/null
ctl put key/big "$(head -c 20000 /dev/zero | tr '\0' B)" >/dev/null
for i in $(seq 1 300); do echo "put key/many/$i value-$i-$(printf '%040d' 0)"; done | { echo; cat; echo; echo; } | ctl txn >/dev/null
for i in $(seq 1 20); do ctl del "key/many/$((i * 7))" >/dev/null; done
ctl put key/a a-last >/dev/null

kvs() { # kvs [--rev=R]: every key as JSON lines, sorted, without the header
  ctl get key/ --prefix -w json "$@" |
    python3 -c 'import json,sys; [print(json.dumps(kv, sort_keys=True)) for kv in json.load(sys.stdin).get("kvs", [])]'
}
header_rev() { ctl get key/a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
rev=$(header_rev)
kvs >"$WORK/etcd.kvs"
kvs --rev=$((compact_at + 1)) >"$WORK/etcd.hist"
kvs --rev=$((rev - 5)) >"$WORK/etcd.hist2"
# "attached keys([...])" with the keys sorted: etcd lists them in Go map order, which varies.
lease_lines() {
  ctl lease timetolive "$1" --keys | sed 's/remaining([0-9]*s)//' | python3 -c 'import re,sys
for l in sys.stdin:
    print(re.sub(r"attached keys\(\[(.*)\]\)", lambda m: "attached keys([" + " ".join(sorted(m.group(1).split())) + "])", l.rstrip("\n")))'
}
for l in $L1 $L2; do lease_lines "$l" >>"$WORK/etcd.leases"; done

EPS=127.0.0.1:$(ecport 1) ctl snapshot save "$WORK/snap.db" >/dev/null
check "cairnctl snapshot status = etcdctl's" "$("$CTL" snapshot status "$WORK/snap.db" -w json)" \
  "$(etcdctl snapshot status "$WORK/snap.db" -w json 2>/dev/null)"
check "cairnctl snapshot status -w table = etcdctl's" "$("$CTL" snapshot status "$WORK/snap.db" -w table)" \
  "$(etcdctl snapshot status "$WORK/snap.db" -w table 2>/dev/null)"

# Three cairn members from the etcd snapshot, with their own names, token and peer URLs.
RCLUSTER="c1=http://127.0.0.1:$(pport 1),c2=http://127.0.0.1:$(pport 2),c3=http://127.0.0.1:$(pport 3)"
for i in 1 2 3; do
  "$CTL" snapshot restore "$WORK/snap.db" --name "c$i" --data-dir "$WORK/c$i" --initial-cluster "$RCLUSTER" \
    --initial-cluster-token migrated --initial-advertise-peer-urls "http://127.0.0.1:$(pport "$i")" \
    >"$WORK/restore$i.out" 2>&1
  check "cairnctl snapshot restore c$i" "$?" "0"
done
check_match "restore names what it did" "$(cat "$WORK/restore1.out")" "revision $rev, raft log starts after index [0-9]+"

# The etcd cluster goes away; the member/snap/db of a stopped member is a backup too.
for i in 1 2 3; do kill "${EPIDS[$i]}"; done
for i in 1 2 3; do for _ in $(seq 100); do kill -0 "${EPIDS[$i]}" 2>/dev/null || break; sleep 0.1; done; done
"$CTL" snapshot restore "$WORK/e1/member/snap/db" --data-dir "$WORK/nohash" >"$WORK/nohash.out" 2>&1
check_match "member/snap/db without --skip-hash-check: etcdctl's refusal" "$(cat "$WORK/nohash.out")" \
  "snapshot missing hash but --skip-hash-check=false"
check_match "cairnctl snapshot status of member/snap/db" "$("$CTL" snapshot status "$WORK/e1/member/snap/db" -w json)" \
  "\"revision\":$rev,"

crun() { # crun N: cairn member cN on a restored data dir (cluster.sh's ports of member N)
  "$CAIRN" --name "c$1" --data-dir "$WORK/c$1" \
    --listen-client-urls "http://$(ep_of "$1")" --advertise-client-urls "http://$(ep_of "$1")" \
    --listen-peer-urls "http://127.0.0.1:$(pport "$1")" --initial-advertise-peer-urls "http://127.0.0.1:$(pport "$1")" \
    --initial-cluster "$RCLUSTER" --initial-cluster-token migrated --heartbeat-interval 50 --election-timeout 500 \
    >>"$WORK/m$1.log" 2>&1 &
  PIDS[$1]=$!
  disown $!
}
for i in 1 2 3; do crun "$i"; done
export EPS=$ALL
wait_healthy "$ALL"

kvs >"$WORK/cairn.kvs"
check "cairn serves the same keys, values, revisions, versions, leases" "$(diff "$WORK/etcd.kvs" "$WORK/cairn.kvs" && echo same)" "same"
check "key count" "$(wc -l <"$WORK/cairn.kvs")" "$(wc -l <"$WORK/etcd.kvs")"
check "the same current revision" "$(header_rev)" "$rev"
kvs --rev=$((compact_at + 1)) >"$WORK/cairn.hist"
kvs --rev=$((rev - 5)) >"$WORK/cairn.hist2"
check "the same history just above the compaction point" "$(diff "$WORK/etcd.hist" "$WORK/cairn.hist" && echo same)" "same"
check "the same history 5 revisions back" "$(diff "$WORK/etcd.hist2" "$WORK/cairn.hist2" && echo same)" "same"
check_match "the compacted revision is compacted on cairn" "$(ctl get key/a --rev=$((compact_at - 1)))" "required revision has been compacted"
for l in $L1 $L2; do lease_lines "$l" >>"$WORK/cairn.leases"; done
check "leases: granted TTLs and attached keys" "$(diff "$WORK/etcd.leases" "$WORK/cairn.leases" && echo same)" "same"
check_match "a write on cairn gets the next revision" "$(ctl put key/new v -w json)" "\"revision\":$((rev + 1))"
check "member names from --initial-cluster" "$(ctl member list | awk -F', ' '{print $3}' | sort | tr '\n' ' ')" "c1 c2 c3 "
# Every member has applied the write before the hashes are compared.
for i in 1 2 3; do
  for _ in $(seq 100); do
    [[ "$(EPS=$(ep_of "$i") ctl get key/new --consistency=s --print-value-only)" == v ]] && break
    sleep 0.1
  done
done
hashes=$(ctl endpoint hashkv -w json | python3 -c 'import json,sys; print(" ".join(str(e["HashKV"]["hash"]) for e in json.load(sys.stdin)))')
check "every member answers hashkv" "$(echo "$hashes" | wc -w)" "3"
check "HashKV agrees across the cairn members" "$(echo "$hashes" | tr ' ' '\n' | sort -u | wc -l)" "1"

# member/snap/db of the stopped etcd member e1, restored into one more cairn member's data dir.
"$CTL" snapshot restore "$WORK/e1/member/snap/db" --skip-hash-check --name solo --data-dir "$WORK/solo" \
  --initial-cluster "solo=http://127.0.0.1:$((BASE + 81))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 81))" \
  >"$WORK/solo.out" 2>&1
check "restore of member/snap/db with --skip-hash-check" "$?" "0"
check_match "it holds the same revision" "$(cat "$WORK/solo.out")" "revision $rev,"
