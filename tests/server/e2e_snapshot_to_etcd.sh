#!/usr/bin/env bash
# cairn -> etcd: a 3-member cairn cluster gets keys over many revisions (overwrites, a txn, deletes,
# re-creates, a large value), leases with keys, and a compaction; `etcdctl snapshot save` from a cairn
# member, `etcdctl snapshot status` of it, `etcdctl snapshot restore`, and a real etcd 3.4 started on
# the restored dir serves the same keys, values, create/mod revisions, versions, history above the
# compaction point, compacted revisions, leases (granted TTLs, attached keys), takes writes at the next
# revision, and enforces cairn's users and roles (auth enabled on cairn before the save: root and a
# reader who may read key/ only). The member leaves no export files behind, also when a client is killed mid-stream.
#   usage: e2e_snapshot_to_etcd.sh path/to/cairn     env: BASE (default 17600; uses BASE..BASE+61)
# Exits 77 (skipped) without etcd/etcdctl. Every process it starts is stopped by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_snapshot_to_etcd.sh path/to/cairn}
BASE=${BASE:-17600}
NAME=snap2etcd
source "$(dirname "$0")/../lib/cluster.sh"
command -v etcd >/dev/null || { echo "etcd not installed: skipped"; exit 77; }
export ETCDCTL_API=3

start 1; start 2; start 3
wait_healthy

# History: overwrites, a txn of several keys, deletes and a re-created key, a compaction, a big value.
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
for i in $(seq 1 60); do echo "put key/many/$i value-$i"; done | { echo; cat; echo; echo; } | ctl txn >/dev/null
ctl put key/a a-last >/dev/null

kvs() { # kvs ENDPOINT [--rev=R]: every key as JSON lines, sorted, without the header
  EPS=$1 ctl get key/ --prefix -w json "${@:2}" |
    python3 -c 'import json,sys; [print(json.dumps(kv, sort_keys=True)) for kv in json.load(sys.stdin).get("kvs", [])]'
}
header_rev() { EPS=$1 ctl get key/a -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
CAIRN_EP=$(ep_of 1)
rev=$(header_rev "$CAIRN_EP")
kvs "$CAIRN_EP" >"$WORK/cairn.kvs"
kvs "$CAIRN_EP" --rev=$((compact_at + 1)) >"$WORK/cairn.hist"
# one line per lease, its attached keys sorted (etcd lists them in Go map order, which varies)
lease_line() {
  local line keys
  sed 's/remaining([0-9]*s)//' | while IFS= read -r line; do
    keys=$(grep -o '\[[^]]*\]' <<<"$line" | tr -d '[]' | tr ' ' '\n' | sort | paste -sd' ')
    echo "${line%%attached keys*}attached keys([$keys])"
  done
}
for l in $L1 $L2; do EPS=$CAIRN_EP ctl lease timetolive "$l" --keys | lease_line >>"$WORK/cairn.leases"; done

# Auth on: root, and alice who may read key/. From here on every etcdctl call (on cairn and on the
# restored etcd) is root's, through etcdctl's ETCDCTL_USER.
ctl role add reader >/dev/null
ctl role grant-permission reader read key/ --prefix >/dev/null
ctl user add alice:alicepw >/dev/null
ctl user grant-role alice reader >/dev/null
ctl role add root >/dev/null
ctl user add root:rootpw >/dev/null
ctl user grant-role root root >/dev/null
check "auth enable on cairn" "$(ctl auth enable | tail -1)" "Authentication Enabled"
export ETCDCTL_USER=root:rootpw

EPS=$CAIRN_EP ctl snapshot save "$WORK/snap.db" >"$WORK/save.out" 2>&1
check_match "etcdctl snapshot save from cairn" "$(tail -1 "$WORK/save.out")" "Snapshot saved at"
check "no export files left on the member" "$(ls -A "$WORK/m1/member/snapshot-export" | wc -l)" "0"
size=$(stat -c %s "$WORK/snap.db")
check "snapshot has etcd's sha256 trailer (size % 512)" "$((size % 512))" "32"
st=$(etcdctl snapshot status "$WORK/snap.db" -w json 2>&1)
check "etcdctl snapshot status: revision" "$(echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')" "$rev"
keys=$(echo "$st" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totalKey"])')
# 70 key records (what the compaction at revision 10 keeps: the txn's 3 and key/back's second life; then
# 66 puts), 2 leases, 3 members, 4 meta keys, clusterVersion, and auth: authEnabled, authRevision, 2
# users, 2 roles.
check "etcdctl snapshot status: total keys" "$keys" "86"

ECLIENT=$((BASE + 50)); EPEER=$((BASE + 51))
etcdctl snapshot restore "$WORK/snap.db" --name e1 --data-dir "$WORK/e1.etcd" \
  --initial-cluster "e1=http://127.0.0.1:$EPEER" --initial-advertise-peer-urls "http://127.0.0.1:$EPEER" \
  --initial-cluster-token restored >"$WORK/restore.out" 2>&1
check "etcdctl snapshot restore of a cairn snapshot" "$?" "0"
etcd --name e1 --data-dir "$WORK/e1.etcd" --listen-client-urls "http://127.0.0.1:$ECLIENT" \
  --advertise-client-urls "http://127.0.0.1:$ECLIENT" --listen-peer-urls "http://127.0.0.1:$EPEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$EPEER" --initial-cluster "e1=http://127.0.0.1:$EPEER" \
  --initial-cluster-token restored >"$WORK/etcd.log" 2>&1 &
BG+=($!)
ETCD_EP=127.0.0.1:$ECLIENT
wait_healthy "$ETCD_EP"

kvs "$ETCD_EP" >"$WORK/etcd.kvs"
check "etcd serves the same keys, values, revisions, versions, leases" "$(diff "$WORK/cairn.kvs" "$WORK/etcd.kvs" && echo same)" "same"
check "key count" "$(wc -l <"$WORK/etcd.kvs")" "$(wc -l <"$WORK/cairn.kvs")"
check "the same current revision" "$(header_rev "$ETCD_EP")" "$rev"
kvs "$ETCD_EP" --rev=$((compact_at + 1)) >"$WORK/etcd.hist"
check "the same history above the compaction point" "$(diff "$WORK/cairn.hist" "$WORK/etcd.hist" && echo same)" "same"
check_match "the compacted revision is compacted on etcd" "$(EPS=$ETCD_EP ctl get key/a --rev=$((compact_at - 1)))" "required revision has been compacted"
for l in $L1 $L2; do EPS=$ETCD_EP ctl lease timetolive "$l" --keys | lease_line >>"$WORK/etcd.leases"; done
check "leases: granted TTLs and attached keys" "$(diff "$WORK/cairn.leases" "$WORK/etcd.leases" && echo same)" "same"
check_match "lease TTL as granted" "$(cat "$WORK/etcd.leases")" "granted with TTL\(900s\).*attached keys\(\[key/leased1\]\)"
check_match "a write on etcd gets the next revision" "$(EPS=$ETCD_EP ctl put key/new v -w json)" "\"revision\":$((rev + 1))"
check "etcd has cairn's users" "$(EPS=$ETCD_EP ctl user list | tr '\n' ' ')" "alice root "
check "etcd has cairn's roles" "$(EPS=$ETCD_EP ctl role list | tr '\n' ' ')" "reader root "
check "alice's password (cairn's bcrypt hash) works on etcd" \
  "$(EPS=$ETCD_EP ETCDCTL_USER=alice:alicepw ctl get key/a --print-value-only)" "a-last"
check_match "etcd denies alice a write, as cairn did" "$(EPS=$ETCD_EP ETCDCTL_USER=alice:alicepw ctl put key/a x)" \
  "permission denied"
check_match "etcd requires a user" "$(EPS=$ETCD_EP ETCDCTL_USER= ctl get key/a)" "user name is empty"

# A client that goes away mid-stream: ~20 MB more in the store, etcdctl killed after 0.3 s (whether it
# was still streaming or had finished, the member must stay healthy and clean up).
val=$(head -c 100000 /dev/zero | tr '\0' x)
for t in $(seq 1 20); do
  { echo; for j in $(seq 1 10); do echo "put big/$t/$j $val"; done; echo; echo; } | EPS=$CAIRN_EP ctl txn >/dev/null
done
EPS=$CAIRN_EP timeout -s KILL 0.3 etcdctl --endpoints="$CAIRN_EP" snapshot save "$WORK/cut.db" >/dev/null 2>&1
clean=0
for _ in $(seq 300); do
  [[ -z "$(ls -A "$WORK/m1/member/snapshot-export")" ]] && { clean=1; break; }
  sleep 0.1
done
check "export files removed after a client went away" "$clean" "1"
wait_healthy "$CAIRN_EP"
EPS=$CAIRN_EP ctl snapshot save "$WORK/after.db" >/dev/null 2>&1
check_match "a snapshot after that" "$(etcdctl snapshot status "$WORK/after.db" -w json 2>&1)" "\"totalKey\":"
