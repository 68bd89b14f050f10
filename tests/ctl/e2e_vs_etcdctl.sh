#!/usr/bin/env bash
# End to end: one real etcd on loopback; every case runs the same command through etcdctl and cairnctl
# and compares stdout, stderr and exit codes (revisions and timings are masked where a mutation makes
# them differ between the two runs).
#   usage: e2e_vs_etcdctl.sh path/to/cairnctl
set -uo pipefail
CAIRNCTL=${1:?usage: e2e_vs_etcdctl.sh path/to/cairnctl}
PORT=${PORT:-26579}
WORK=$(mktemp -d /tmp/cairnctl-e2e.XXXXXX)
etcd --name e2e --data-dir "$WORK/d" --listen-client-urls http://127.0.0.1:$PORT \
  --advertise-client-urls http://127.0.0.1:$PORT --listen-peer-urls http://127.0.0.1:$((PORT + 1)) \
  --initial-advertise-peer-urls http://127.0.0.1:$((PORT + 1)) \
  --initial-cluster e2e=http://127.0.0.1:$((PORT + 1)) >"$WORK/etcd.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
export ETCDCTL_API=3
for _ in $(seq 100); do etcdctl --endpoints=127.0.0.1:$PORT endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

PASS=0; FAIL=0
# Drops clientv3's JSON log lines (etcdctl logs retries to stderr) and masks the volatile parts.
norm() {
  grep -a -v '^{"level":' | sed -E -e 's/"(revision|mod_revision|version|ttl)":[0-9]+/"\1":N/g' \
    -e 's/"(Revision|ModRevision|Version|PrevModRevision|PrevVersion|TTL)" : [0-9]+/"\1" : N/g' \
    -e 's/remaining\([0-9]+s\)/remaining(N)/' -e 's/took = [0-9.]+[µmn]?s/took = T/g' \
    -e 's/"took":"[0-9.]+[µmn]?s"/"took":"T"/g' -e 's/"Took" : [0-9.]+[µmn]?s/"Took" : T/' \
    -e 's/\| +[0-9.]+[µmn]?s \|/| T |/' -e 's/-{2,}/-/g' -e 's/ {2,}/ /g' -e 's/cairnctl/etcdctl/g'
}
run() { # run CLIENT STDIN args...
  local client=$1 input=$2; shift 2
  printf '%b' "$input" | ETCDCTL_ENDPOINTS=${EPS:-127.0.0.1:$PORT} timeout 20 "$client" "$@" >"$WORK/out" 2>"$WORK/err"
  echo "rc=$?"; norm <"$WORK/out"; echo "--stderr--"; norm <"$WORK/err"
}
# same NAME [--stdin=TEXT] args...: read-only (or idempotent) commands, run by both clients in turn.
same() {
  local name=$1; shift; local input=""
  if [[ "${1:-}" == --stdin=* ]]; then input=${1#--stdin=}; shift; fi
  local a b
  a=$(run etcdctl "$input" "$@"); b=$(run "$CAIRNCTL" "$input" "$@")
  if [ "$a" == "$b" ]; then PASS=$((PASS + 1)); echo "ok   $name"; else
    FAIL=$((FAIL + 1)); echo "FAIL $name"; diff <(echo "$a") <(echo "$b") | head -20; fi
}

E() { etcdctl --endpoints=127.0.0.1:$PORT "$@" >/dev/null; }
E put foo bar; E put a1 x; E put a2 y; E put 'sp ace' 'hello world'; E put empty ''
LEASE=$(etcdctl --endpoints=127.0.0.1:$PORT lease grant 1000 | awk '{print $2}')
E put leased v --lease="$LEASE"

for f in protobuf; do   # responses that do not change between the two runs
  same "get prefix -w $f" get "" --prefix -w $f
  same "member list -w $f" member list -w $f
  same "del none -w $f" del nosuch -w $f
  same "alarm list -w $f" alarm list -w $f
done
for f in simple json fields table; do
  same "get prefix -w $f" get "" --prefix -w $f
  same "member list -w $f" member list -w $f
  same "put -w $f" put foo bar -w $f
  same "put prev-kv -w $f" put foo bar --prev-kv -w $f
  same "del none -w $f" del nosuch -w $f
  same "txn -w $f" --stdin='value("foo") = "bar"\n\nget foo\nput foo bar\n\nget a --prefix\n\n' txn -w $f
  same "lease timetolive -w $f" lease timetolive "$LEASE" --keys -w $f
  # etcdctl 3.4 crashes printing alarms in the fields format (nil header); cairnctl prints the header.
  [ $f = fields ] || same "alarm list -w $f" alarm list -w $f
done
for f in simple json fields table; do
  same "endpoint hashkv -w $f" endpoint hashkv -w $f
  same "endpoint health -w $f" endpoint health -w $f
done
same "endpoint status --cluster" endpoint status --cluster -w json
same "get keys-only" get a --prefix --keys-only
same "get from-key" get a2 --from-key
same "get range" get a1 a2
same "get sorted" get a --prefix --sort-by=KEY --order=DESCEND
same "get limit" get a --prefix --limit=1 -w json
same "get hex" get "" --prefix --hex
same "get print-value-only" get foo --print-value-only
same "get serializable" get foo --consistency=s
same "get future rev" get foo --rev=100000
same "get no args" get
same "put empty key" put "" v
same "put ignore-value missing" put nokey --ignore-value
same "put bad lease" put k v --lease=zz
same "del no args" del
same "lease revoke missing" lease revoke 1234
same "lease keep-alive once missing" lease keep-alive --once 1234
same "lease timetolive expired" lease timetolive 1234
same "txn duplicate key" --stdin='\nput dup a\nput dup b\n\n\n' txn
same "txn failure" --stdin='value("foo") = "nope"\n\n\nget foo\n\n' txn
same "txn -i" --stdin='\nget foo\n\n\n' txn -i
same "member remove missing" member remove 1234
same "move-leader bad transferee" move-leader 1234
same "lock no args" lock
same "lock runs the command after the name" lock e2elock echo held
same "lock runs the command after --" lock e2elock -- echo held
same "elect no args" elect
same "defrag" defrag
same "check perf unknown load" check perf --load huge
E put /etcdctl-check-perf/left-over x
same "check perf prefix has keys" check perf
E del /etcdctl-check-perf/ --prefix
EPS=127.0.0.1:1 same "unreachable" --dial-timeout=1s --command-timeout=1s get foo
# cairnctl's own commands (no etcdctl counterpart): smoke checks.
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then PASS=$((PASS + 1)); echo "ok   $name"; else
  FAIL=$((FAIL + 1)); echo "FAIL $name"; fi; }
check "bench put" bash -c "ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' bench put --clients=4 --total=100 | grep -q Requests/sec"
check "bench range" bash -c "ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' bench range foo --total=100 | grep -q Requests/sec"
check "cluster status" bash -c "ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' cluster status | grep -q ' leader |'"
check "snapshot save" bash -c "ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' snapshot save $WORK/s.db | grep -q 'Snapshot saved at' && [ -s $WORK/s.db ]"
check "check perf (3 s of the s load): etcd's verdict lines, keys cleaned up" bash -c "
  out=\$(ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' check perf --load s --duration 3 2>/dev/null)
  echo \"\$out\" | grep -qE '^(PASS: Throughput is|FAIL: Throughput too low:) [0-9]+ writes/s\$' &&
  echo \"\$out\" | grep -qE '^(PASS|FAIL)\$' &&
  [ -z \"\$(etcdctl --endpoints=127.0.0.1:$PORT get /etcdctl-check-perf/ --prefix --keys-only)\" ]"
# etcdctl 3.5's --max-recv-bytes (the 3.4 etcdctl here has no such flag): a response above it fails with
# grpc's message; the default (clientv3's MaxInt32) and a limit above the response let it through.
E put max-recv-key "$(head -c 2000 /dev/zero | tr '\0' v)" >/dev/null
check "max-recv-bytes refuses a larger response" bash -c "
  out=\$(ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' --max-recv-bytes 1000 get max-recv-key 2>&1); rc=\$?
  [ \$rc -ne 0 ] && echo \"\$out\" | grep -q 'received message larger than max'"
check "max-recv-bytes above the response" bash -c "
  ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' --max-recv-bytes 100000 get max-recv-key | grep -q '^max-recv-key\$'"
check "ETCDCTL_MAX_RECV_BYTES" bash -c "
  ! ETCDCTL_MAX_RECV_BYTES=1000 ETCDCTL_ENDPOINTS=127.0.0.1:$PORT '$CAIRNCTL' get max-recv-key >/dev/null 2>&1"
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
