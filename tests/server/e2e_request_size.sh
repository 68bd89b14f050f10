#!/usr/bin/env bash
# End-to-end: one size policy for requests (server/node/size_policy.h) on a 3-member cluster started with
# the largest --max-request-bytes a member accepts (16,710,656).
#   1. startup: one byte more is refused with a message naming the limit.
#   2. a Put whose request is exactly the limit commits and replicates: every member serves it
#      (serializable reads), and replication goes on behind it (a small Put after it reaches every member).
#   3. one byte larger: etcd's "etcdserver: request is too large", and the members keep serving.
#   usage: e2e_request_size.sh path/to/cairn path/to/cairnctl   env: E2E_BASE_PORT (default 14000; +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_request_size.sh path/to/cairn path/to/cairnctl}
CAIRNCTL=${2:?usage: e2e_request_size.sh path/to/cairn path/to/cairnctl}
BASE=${E2E_BASE_PORT:-14000}
NAME=reqsize
LIMIT=16710656
source "$(dirname "$0")/../lib/cluster.sh"

cctl() { timeout 60 "$CAIRNCTL" --endpoints="${EPS:-$ALL}" --command-timeout=30s "$@" 2>&1; }
# A PutRequest{key="big", value=V} is 1+1+3 bytes of key field plus 1 + a 4-byte length + len(V).
VALUE_LEN=$((LIMIT - 10))

# ---- 1. startup refuses a larger limit ----
out=$(timeout 20 "$CAIRN" --name lone --data-dir "$WORK/lone" --max-request-bytes $((LIMIT + 1)) \
  --listen-client-urls "http://127.0.0.1:$((BASE + 50))" --advertise-client-urls "http://127.0.0.1:$((BASE + 50))" \
  --listen-peer-urls "http://127.0.0.1:$((BASE + 51))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 51))" \
  --initial-cluster "lone=http://127.0.0.1:$((BASE + 51))" 2>&1)
rc=$?
check "startup: a limit over $LIMIT exits 1" "$rc" "1"
check_match "startup: the message names the limit" "$out" "--max-request-bytes $((LIMIT + 1)) is larger than $LIMIT"

EXTRA_FLAGS=(--max-request-bytes "$LIMIT")
start 1; start 2; start 3
wait_healthy "$ALL"

# ---- 2. a Put at the limit replicates to every member ----
head -c "$VALUE_LEN" /dev/urandom >"$WORK/value"
want=$(sha256sum <"$WORK/value" | cut -d' ' -f1)
check "put at the limit" "$(cctl put big <"$WORK/value")" "OK"
check "a small put behind it" "$(cctl put after 1)" "OK"
for n in 1 2 3; do
  deadline=$((SECONDS + 30))
  until [[ "$(EPS=$(ep_of $n) cctl get after --consistency=s --print-value-only)" == "1" ]]; do
    (( SECONDS < deadline )) || break
    sleep 0.2
  done
  got=$(EPS=$(ep_of $n) timeout 60 "$CAIRNCTL" --endpoints="$(ep_of $n)" --command-timeout=30s \
    get big --consistency=s --print-value-only | head -c "$VALUE_LEN" | sha256sum | cut -d' ' -f1)
  check "member $n serves the value at the limit" "$got" "$want"
  check "member $n serves the put behind it" "$(EPS=$(ep_of $n) cctl get after --consistency=s --print-value-only)" "1"
done

# ---- 3. one byte larger ----
head -c $((VALUE_LEN + 1)) /dev/zero >"$WORK/value1"
check_match "one byte larger: etcd's error" "$(cctl put big2 <"$WORK/value1")" "etcdserver: request is too large"
check "the members keep serving" "$(cctl put after 2)" "OK"
check "nothing was written" "$(cctl get big2 --print-value-only)" ""
