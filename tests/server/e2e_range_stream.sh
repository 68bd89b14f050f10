#!/usr/bin/env bash
# End-to-end: KV.RangeStream (etcd 3.7, server/api/range_stream.h) on a 3-member cluster, through
# `cairnctl get --stream` (the chunks merged in order): for a prefix of 3,000 keys x 1 KB (about 3 MB,
# several pages), with --limit, --rev, --keys-only, --count-only, a sort (one buffered message),
# serializable on a follower, every merged answer equals the unary Range's, byte for byte in JSON;
# a compacted revision and a user without read permission get etcd's errors.
#   usage: e2e_range_stream.sh path/to/cairn path/to/cairnctl   env: E2E_BASE_PORT (default 14200; +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_range_stream.sh path/to/cairn path/to/cairnctl}
CAIRNCTL=${2:?usage: e2e_range_stream.sh path/to/cairn path/to/cairnctl}
BASE=${E2E_BASE_PORT:-14200}
NAME=rangestream
source "$(dirname "$0")/../lib/cluster.sh"

cctl() { timeout 60 "$CAIRNCTL" --endpoints="${EPS:-$ALL}" --command-timeout=30s "$@" 2>&1; }

start 1; start 2; start 3
wait_healthy "$ALL"

# 3,000 keys in 30 transactions of 100 puts; then every key again (a history to read at --rev).
value=$(head -c 1000 /dev/zero | tr '\0' v)
load() { # load ROUND
  for t in $(seq 0 29); do
    { echo; for i in $(seq 0 99); do echo "put k/$((10000 + t * 100 + i)) $1$value"; done; echo; echo; } |
      cctl txn >/dev/null || { echo "FAIL load txn $t"; FAILED=1; }
  done
}
load a
mid=$(cctl get k/10000 -w json | sed -E 's/.*"revision":([0-9]+).*/\1/')
load b

same() { # same NAME ARGS...: get ARGS == get --stream ARGS (json)
  local name=$1
  shift
  local want got
  want=$(cctl get "$@" -w json)
  got=$(cctl get "$@" --stream -w json)
  if [[ -n $want && "$want" == "$got" ]]; then echo "ok   $name (${#want} bytes)"; else
    echo "FAIL $name: unary ${#want} bytes, stream ${#got} bytes: ${got:0:300}"
    FAILED=1
  fi
}
same "prefix of 3,000 keys" --prefix k/
same "limit 7" --prefix k/ --limit 7
same "limit 2999" --prefix k/ --limit 2999
same "revision mid-way" --prefix k/ --rev "$mid"
same "keys only" --prefix k/ --keys-only
same "count only" --prefix k/ --count-only
same "sorted by modify, descending" --prefix k/ --sort-by=MODIFY --order=DESCEND --limit 100
same "one key" k/10042
same "from key" k/12990 --from-key
EPS=$(ep_of 2) same "serializable on member 2" --prefix k/ --consistency=s
check "simple output: the count" "$(cctl get --prefix k/ --stream --count-only)" "3000"
check "simple output: keys" "$(cctl get --prefix k/ --stream --keys-only | grep -c '^k/')" "3000"

# ---- errors ----
check "compact" "$(cctl compaction "$mid")" "compacted revision $mid"
check_match "a compacted revision" "$(cctl get --prefix k/ --stream --rev 2)" \
  "etcdserver: mvcc: required revision has been compacted"
cctl user add root:rootpw >/dev/null
cctl user add alice:alicepw >/dev/null
cctl role add onlya >/dev/null
cctl role grant-permission onlya read a >/dev/null
cctl user grant-role alice onlya >/dev/null
check "auth enable" "$(cctl auth enable | tail -1)" "Authentication Enabled"
check_match "no read permission" "$(cctl --user alice:alicepw get --prefix k/ --stream)" \
  "etcdserver: permission denied"
check "root streams" "$(cctl --user root:rootpw get --prefix k/ --stream --count-only)" "3000"
exit $FAILED
