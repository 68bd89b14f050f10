#!/usr/bin/env bash
# cairnctl snapshot save/status/restore end to end: a 3-member cairn cluster gets keys, one member's
# snapshot (etcd's format) is saved, `snapshot status` prints what etcdctl prints for it, the snapshot is
# restored into 3 new data dirs with a new token and new peer URLs, the old cluster is stopped, the
# restored cluster starts, has the keys and a new cluster id, takes writes, keeps them across a member
# restart, and its members' HashKV agree. Also: malformed bbolt files, damaged files and existing data
# dirs are refused.
# Usage: e2e_snapshot_restore.sh CAIRNCTL CAIRN   (ports BASE..BASE+130, default 17100)
set -uo pipefail
CTL=$1
CAIRN=$2
BASE=${BASE:-17100}
NAME=ctlrestore
source "$(dirname "$0")/../lib/cluster.sh"

c() { timeout 60 "$CTL" --endpoints="${EPS:-$ALL}" --command-timeout=10s "$@"; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for i in 1 2 3; do start "$i"; done
wait_healthy
# 40 keys in one transaction (then one deletion).
{ echo; for i in $(seq 1 40); do echo "put key/$i value-$i"; done; echo; echo; } | c txn >/dev/null || { echo "FAIL txn"; FAILED=1; }
c del key/40 >/dev/null
old_cid=$(c get key/1 -w json | jget 'd["header"]["cluster_id"]')
rev=$(c get key/1 -w json | jget 'd["header"]["revision"]')

EPS=$(ep_of 1) c snapshot save "$WORK/snap.db" >"$WORK/save.out" 2>&1
check "snapshot save" "$(cat "$WORK/save.out")" "Snapshot saved at $WORK/snap.db"

st=$("$CTL" snapshot status "$WORK/snap.db" -w json)
check "snapshot status revision" "$(echo "$st" | jget 'd["revision"]')" "$rev"
check "snapshot status = etcdctl's" "$st" "$(ETCDCTL_API=3 etcdctl snapshot status "$WORK/snap.db" -w json 2>/dev/null)"
check_match "snapshot status simple" "$("$CTL" snapshot status "$WORK/snap.db")" "^[0-9a-f]+, $rev, [0-9]+, [0-9.]+ [kM]B$"
check_match "snapshot status table" "$("$CTL" snapshot status "$WORK/snap.db" -w table)" "HASH.*REVISION.*TOTAL KEYS.*TOTAL SIZE"
"$CTL" snapshot status "$WORK/snap.db" -w protobuf >/dev/null 2>&1
check "snapshot status -w protobuf: exit 4 as etcdctl" "$?" "4"

# Refusals.
head -c 4096 /dev/zero >"$WORK/bolt.db"
printf '\xed\xda\x0c\xed' | dd of="$WORK/bolt.db" bs=1 seek=16 conv=notrunc 2>/dev/null
check_match "malformed bbolt file refused" "$("$CTL" snapshot restore "$WORK/bolt.db" --data-dir "$WORK/x" --skip-hash-check 2>&1)" "bbolt: no valid meta page"
cp "$WORK/snap.db" "$WORK/bad.db"
size=$(stat -c %s "$WORK/bad.db")
printf 'X' | dd of="$WORK/bad.db" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
check_match "damaged snapshot refused" "$("$CTL" snapshot restore "$WORK/bad.db" --data-dir "$WORK/x" 2>&1)" "sha256 checksum mismatch"
[[ -e $WORK/x ]] && { echo "FAIL a refused restore left $WORK/x"; FAILED=1; }

# Restore into 3 new members.
RBASE=$((BASE + 100))
rc() { echo $((RBASE + 10 * ($1 - 1))); }
rp() { echo $((RBASE + 10 * ($1 - 1) + 1)); }
RCLUSTER="r1=http://127.0.0.1:$(rp 1),r2=http://127.0.0.1:$(rp 2),r3=http://127.0.0.1:$(rp 3)"
RALL="127.0.0.1:$(rc 1),127.0.0.1:$(rc 2),127.0.0.1:$(rc 3)"
for i in 1 2 3; do
  "$CTL" snapshot restore "$WORK/snap.db" --name "r$i" --data-dir "$WORK/r$i" --initial-cluster "$RCLUSTER" \
    --initial-cluster-token restored-token --initial-advertise-peer-urls "http://127.0.0.1:$(rp "$i")" \
    >"$WORK/restore$i.out" 2>&1
  check "snapshot restore r$i" "$?" "0"
done
"$CTL" snapshot restore "$WORK/snap.db" --name r1 --data-dir "$WORK/r1" --initial-cluster "$RCLUSTER" \
  --initial-cluster-token restored-token --initial-advertise-peer-urls "http://127.0.0.1:$(rp 1)" >/dev/null 2>&1
check "restore into an existing data dir: exit 1" "$?" "1"

# The old cluster goes away before the new one starts.
for i in 1 2 3; do kill "${PIDS[$i]}"; done
for i in 1 2 3; do for _ in $(seq 100); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done; done

rstart() {
  "$CAIRN" --name "r$1" --data-dir "$WORK/r$1" \
    --listen-client-urls "http://127.0.0.1:$(rc "$1")" --advertise-client-urls "http://127.0.0.1:$(rc "$1")" \
    --listen-peer-urls "http://127.0.0.1:$(rp "$1")" --initial-advertise-peer-urls "http://127.0.0.1:$(rp "$1")" \
    --initial-cluster "$RCLUSTER" --initial-cluster-token restored-token --heartbeat-interval 50 --election-timeout 500 \
    >>"$WORK/mr$1.log" 2>&1 &
  PIDS[r$1]=$!
  disown $!
}
for i in 1 2 3; do rstart "$i"; done
wait_healthy "$RALL"
export EPS=$RALL
check "restored keys" "$(c get key/ --prefix --count-only)" "39"
check "restored value" "$(c get key/17 --print-value-only)" "value-17"
check "deleted key stays deleted" "$(c get key/40 --count-only)" "0"
new_cid=$(c get key/1 -w json | jget 'd["header"]["cluster_id"]')
[[ $new_cid != "$old_cid" ]] && echo "ok   new cluster id" || { echo "FAIL cluster id unchanged ($new_cid)"; FAILED=1; }
check "member names from --initial-cluster" "$(c member list | awk -F', ' '{print $3}' | sort | tr '\n' ' ')" "r1 r2 r3 "
check_match "a write after restore" "$(c put after restore -w json)" "\"revision\":$((rev + 1))"
# A restored member restarts from its WAL (snapshot marker + the new entries).
kill "${PIDS[r2]}"; for _ in $(seq 100); do kill -0 "${PIDS[r2]}" 2>/dev/null || break; sleep 0.1; done
rstart 2
wait_healthy "$RALL"
c put after2 x >/dev/null
sleep 1
hashes=$(c endpoint hashkv -w json | jget '" ".join(str(e["HashKV"]["hash"]) for e in d)')
check "HashKV agrees across the restored members" "$(echo "$hashes" | tr ' ' '\n' | sort -u | wc -l)" "1"
check "every restored member answers hashkv" "$(echo "$hashes" | wc -w)" "3"
check "value written before the restart, read from r2" "$(EPS=127.0.0.1:$(rc 2) c get after --print-value-only --consistency=s)" "restore"
