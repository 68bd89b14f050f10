#!/usr/bin/env bash
# Captures etcdctl 3.4's output for the golden tests in data/: starts a real etcd on loopback, writes a
# fixed data set, and for each case stores the response bytes (-w protobuf, or the response object from
# -w json for commands etcdctl prints no protobuf for) next to the text etcdctl printed in each format.
#   usage: tests/ctl/capture_golden.sh   (rewrites tests/ctl/data; read the diff before committing)
set -euo pipefail
cd "$(dirname "$0")"
OUT=data
PORT=${PORT:-40479}
WORK=$(mktemp -d /tmp/cairnctl-golden.XXXXXX)
etcd --name golden --data-dir "$WORK/d" --listen-client-urls http://127.0.0.1:$PORT \
  --advertise-client-urls http://127.0.0.1:$PORT --listen-peer-urls http://127.0.0.1:$((PORT + 1)) \
  --initial-advertise-peer-urls http://127.0.0.1:$((PORT + 1)) \
  --initial-cluster golden=http://127.0.0.1:$((PORT + 1)) >"$WORK/etcd.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
export ETCDCTL_API=3
E() { etcdctl --endpoints=127.0.0.1:$PORT "$@"; }
for _ in $(seq 50); do E endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
rm -rf "$OUT"; mkdir -p "$OUT"
E put foo bar >/dev/null
E put 'sp ace' 'hello world' >/dev/null
E put quote '"q"\tx' >/dev/null
E put empty '' >/dev/null
E put foo baz >/dev/null
LEASE=$(E lease grant 1000 | awk '{print $2}')
E put leased v --lease="$LEASE" >/dev/null
printf 'bin\001\002\377' | E put binkey >/dev/null || true

# case NAME FORMATS -- etcdctl args   (FORMATS: the text formats to store besides protobuf)
case_pb() {
  local name=$1 formats=$2; shift 3
  E "$@" -w protobuf >"$OUT/$name.pb"
  for f in $formats; do E "$@" -w "$f" >"$OUT/$name.$f" 2>&1 || true; done
}
case_pb get_all "simple json fields table" -- get "" --prefix
case_pb get_keys_only "simple" -- get "" --prefix --keys-only
case_pb get_hex "simple json fields" -- get "" --prefix --hex
E get foo -w protobuf >"$OUT/get_value_only.pb"; E get foo --print-value-only >"$OUT/get_value_only.simple"
case_pb get_limit "simple json fields" -- get "" --prefix --limit=2
case_pb get_none "simple json fields" -- get nosuchkey
case_pb member_list "simple json fields table" -- member list
case_pb alarm_list "simple json" -- alarm list
printf 'value("foo") = "baz"\n\nget foo\nget sp --prefix\n\nget leased\n\n' >"$WORK/txn1"
printf 'value("foo") = "nope"\nmod("foo") > "1"\n\nget foo\n\nget leased --keys-only\n\n' >"$WORK/txn2"
for t in txn1 txn2; do
  E txn -w protobuf <"$WORK/$t" >"$OUT/$t.pb"
  for f in simple json fields; do E txn -w $f <"$WORK/$t" >"$OUT/$t.$f" 2>&1 || true; done
done
# Status and HashKV have no protobuf output in etcdctl: keep the response object from the JSON output.
for c in status hashkv; do
  E endpoint $c -w json >"$OUT/endpoint_$c.json"
  python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print(json.dumps(d['Status' if '$c'=='status' else 'HashKV']))" \
    <"$OUT/endpoint_$c.json" >"$OUT/endpoint_$c.pbjson"
  for f in simple fields table; do E endpoint $c -w $f >"$OUT/endpoint_$c.$f" 2>&1; done
done
echo "127.0.0.1:$PORT" >"$OUT/endpoint"
echo "captured $(ls "$OUT" | wc -l) files into $OUT"
