#!/usr/bin/env bash
# The JSON gateway's streaming routes against a 3-member cluster, driven by curl: POST /v3/watch
# (events, a chunked body carrying progress and cancel requests, compaction cancel, the stream ending
# when the client goes away), POST /v3/election/observe, and a waiting gateway Lock whose client
# disconnects giving up its place in the queue at once (not when its lease ends).
#   usage: e2e_gateway_watch.sh path/to/cairn      env: E2E_BASE_PORT (default 21300)
# Exits 77 (skipped) without etcdctl or curl. Every process it starts is stopped by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_gateway_watch.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-21300}
NAME=gwwatch
command -v curl >/dev/null || { echo "curl not installed: skipped"; exit 77; }
source "$(dirname "$0")/../lib/cluster.sh"

URL="http://$(ep_of 1)"
b64() { printf %s "$1" | base64 -w0; }
# curl_bg OUT BODY|- PATH: a streaming POST in the background (bounded by timeout); with BODY "-" the
# body is read, chunked, from the fifo OUT.in as the test writes to it (curl -T . reads stdin without
# blocking, so each request goes out as soon as it is written).
curl_bg() {
  local out=$1 body=$2 path=$3
  if [[ $body == - ]]; then
    mkfifo "$out.in"
    timeout 60 curl -sN -X POST -H "Content-Type: application/json" -T . "$URL$path" <"$out.in" >"$out" 2>"$out.err" &
    BG+=($!)
    exec {FEED}>"$out.in"
  else
    timeout 60 curl -sN -X POST -d "$body" "$URL$path" >"$out" 2>"$out.err" &
    BG+=($!)
  fi
}
# wait_grep FILE REGEX [N]: until FILE has N (default 1) lines matching REGEX, at most 15 s.
wait_grep() {
  local deadline=$((SECONDS + 15)) n=${3:-1} c
  # A file the background curl has not created yet counts 0 (an empty count would end the loop).
  while c=$(grep -cE "$2" "$1" 2>/dev/null); (( ${c:-0} < n )); do
    (( SECONDS < deadline )) || { echo "FAIL waiting for /$2/ x$n in $1:"; cat "$1"; FAILED=1; return 1; }
    sleep 0.05
  done
}
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# Every line of a stream is one JSON object with "result" (or "error").
all_json() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o = json.loads(l); assert "result" in o or "error" in o, l
print("ok")' "$1" 2>&1 | tail -1; }

start 1; start 2; start 3
wait_healthy

# 1. Events: created, then a put and a delete of the key, nothing of other keys.
curl_bg "$WORK/events" "{\"create_request\":{\"key\":\"$(b64 gk)\",\"prev_kv\":true}}" /v3/watch
wait_grep "$WORK/events" '"created":true'
ctl put other x >/dev/null; ctl put gk v1 >/dev/null; ctl put gk v2 >/dev/null; ctl del gk >/dev/null
wait_grep "$WORK/events" '"type":"DELETE"'
check "events: one line per response, all JSON" "$(all_json "$WORK/events")" ok
check "events: puts then delete" "$(python3 -c 'import json,sys,base64
evs=[e for l in open(sys.argv[1]) for e in json.loads(l)["result"].get("events",[])]
print(" ".join(e.get("type","PUT")+":"+base64.b64decode(e["kv"]["key"]).decode()+"="+base64.b64decode(e["kv"].get("value","")).decode() for e in evs))
print(base64.b64decode(evs[1]["prev_kv"]["value"]).decode())' "$WORK/events")" "PUT:gk=v1 PUT:gk=v2 DELETE:gk=
v1"
check_match "events: header names the cluster" "$(head -1 "$WORK/events")" '"header":\{"cluster_id":"[0-9]+","member_id":"[0-9]+","revision":"[0-9]+","raft_term":"[0-9]+"\}'

# 2. One stream, a chunked body: two watchers, a progress request, a cancel.
curl_bg "$WORK/multi" - /v3/watch
echo "{\"create_request\":{\"key\":\"$(b64 ma)\",\"watch_id\":7}}" >&$FEED
wait_grep "$WORK/multi" '"watch_id":"7","created":true'
echo "{\"create_request\":{\"key\":\"$(b64 mb)\",\"watch_id\":8}}" >&$FEED
wait_grep "$WORK/multi" '"watch_id":"8","created":true'
echo '{"progress_request":{}}' >&$FEED
wait_grep "$WORK/multi" '^\{"result":\{"header":\{[^}]*\}\}\}$|"watch_id":"-1"'
ctl put ma 1 >/dev/null
wait_grep "$WORK/multi" '"watch_id":"7","events"'
echo '{"cancel_request":{"watch_id":"7"}}' >&$FEED
wait_grep "$WORK/multi" '"watch_id":"7","canceled":true'
ctl put ma 2 >/dev/null; ctl put mb 1 >/dev/null
wait_grep "$WORK/multi" '"watch_id":"8","events"'
check "multi: no event after the cancel" "$(grep -c '"watch_id":"7","events"' "$WORK/multi")" 1
check "multi: all JSON" "$(all_json "$WORK/multi")" ok
echo '{"create_request": nope}' >&$FEED
wait_grep "$WORK/multi" '^\{"error":\{"grpc_code":3,"http_code":400'
exec {FEED}>&-

# 3. Compaction: a watch from a compacted revision is created and canceled with compact_revision.
for i in 1 2 3; do ctl put ck "$i" >/dev/null; done
rev=$(ctl get ck -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl compact "$rev" >/dev/null
curl_bg "$WORK/compact" "{\"create_request\":{\"key\":\"$(b64 ck)\",\"start_revision\":2}}" /v3/watch
wait_grep "$WORK/compact" '"canceled":true'
check_match "compact: compact_revision given" "$(cat "$WORK/compact")" "\"compact_revision\":\"$rev\""

# 4. Disconnect: the stream's connection is released once curl goes away, and the member keeps serving.
for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG=()
deadline=$((SECONDS + 15))
base=$(metric cairn_net_connections_open)
curl_bg "$WORK/gone" "{\"create_request\":{\"key\":\"$(b64 gone)\"}}" /v3/watch
wait_grep "$WORK/gone" '"created":true'
with=$(metric cairn_net_connections_open)
kill "${BG[-1]}"; wait "${BG[-1]}" 2>/dev/null
until [[ $(metric cairn_net_connections_open) -lt $with ]] || (( SECONDS > deadline )); do sleep 0.05; done
# Fewer open than with the stream (not "= base": a connection another process opened meanwhile may
# still be open).
check "disconnect: stream connection closed" "$(( $(metric cairn_net_connections_open) < with ))" 1
check "disconnect: member still serves" "$(ctl put after x)" OK

# 5. Observe: the current leader, then a proclamation.
lease=$(ctl lease grant 30 | awk '{print $2}')
lease_dec=$((16#$lease))
curl -s -X POST -d "{\"name\":\"$(b64 el)\",\"value\":\"$(b64 one)\",\"lease\":$lease_dec}" "$URL/v3/election/campaign" >"$WORK/campaign"
check_match "observe: campaign won" "$(cat "$WORK/campaign")" '"leader":\{"name":'
curl_bg "$WORK/observe" "{\"name\":\"$(b64 el)\"}" /v3/election/observe
wait_grep "$WORK/observe" "\"value\":\"$(b64 one)\""
leader_json=$(python3 -c 'import json,sys; print(json.dumps({"leader": json.load(open(sys.argv[1]))["leader"], "value": sys.argv[2]}))' "$WORK/campaign" "$(b64 two)")
curl -s -X POST -d "$leader_json" "$URL/v3/election/proclaim" >/dev/null
wait_grep "$WORK/observe" "\"value\":\"$(b64 two)\""
check "observe: all JSON" "$(all_json "$WORK/observe")" ok

# 6. A waiting gateway Lock whose client disconnects leaves the queue at once.
l1=$(ctl lease grant 60 | awk '{print $2}'); l2=$(ctl lease grant 60 | awk '{print $2}')
curl -s -X POST -d "{\"name\":\"$(b64 lk)\",\"lease\":$((16#$l1))}" "$URL/v3/lock/lock" >"$WORK/lock1"
holder=$(python3 -c 'import json,sys,base64; print(base64.b64decode(json.load(open(sys.argv[1]))["key"]).decode())' "$WORK/lock1")
curl_bg "$WORK/lock2" "{\"name\":\"$(b64 lk)\",\"lease\":$((16#$l2))}" /v3/lock/lock
deadline=$((SECONDS + 15))
until [[ $(ctl get lk --prefix --keys-only | grep -c .) == 2 ]] || (( SECONDS > deadline )); do sleep 0.05; done
check "lock: second waiter queued" "$(ctl get lk --prefix --keys-only | grep -c .)" 2
kill "${BG[-1]}"; wait "${BG[-1]}" 2>/dev/null
deadline=$((SECONDS + 15))
until [[ $(ctl get lk --prefix --keys-only | grep -c .) == 1 ]] || (( SECONDS > deadline )); do sleep 0.05; done
check "lock: the gone waiter's key deleted, the holder's kept" "$(ctl get lk --prefix --keys-only | grep -v '^$')" "$holder"

# The clients go before the members do, and their connections are released while the members serve.
for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
BG=()
deadline=$((SECONDS + 15))
until [[ $(metric cairn_net_connections_open) -le $base ]] || (( SECONDS > deadline )); do sleep 0.05; done
check "end: every stream's connection released" "$(metric cairn_net_connections_open)" "$base"
[[ $FAILED = 0 ]] && echo "PASS gateway streaming routes"
