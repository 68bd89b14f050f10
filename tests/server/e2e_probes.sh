#!/usr/bin/env bash
# End-to-end: etcd 3.6's /livez and /readyz (server/api/probes.h) on a 3-member cluster, driven by curl.
#   1. healthy: both 200 "ok"; ?verbose lists the checks in order; per-check paths; an unknown check is
#      404; another method is 405; a --listen-metrics-urls listener serves the same probes.
#   2. alarms: NOSPACE fails /health but not /readyz (etcd 3.6: only CORRUPT is a readiness check);
#      CORRUPT fails /readyz with data_corruption named, /livez still passes, ?exclude=data_corruption
#      passes; disarming restores readiness.
#   3. quorum lost (m2 and m3 stopped): /readyz fails on linearizable_read, /livez still passes,
#      ?exclude=linearizable_read passes; with m2 and m3 back /readyz passes again.
#   usage: e2e_probes.sh path/to/cairn      env: E2E_BASE_PORT (default 26700; uses +0..+21 and +5)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_probes.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-26700}
NAME=probes
source "$(dirname "$0")/../lib/cluster.sh"

M1=http://$(ep_of 1)
METRICS=http://127.0.0.1:$((BASE + 5))
body() { curl -s --max-time 15 "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$@"; }
wait_code() { # wait_code URL CODE: the URL answers CODE within 30 s, else the run fails
  local deadline=$((SECONDS + 30))
  until [[ "$(code "$1")" == "$2" ]]; do
    (( SECONDS < deadline )) || { echo "FAIL $1 did not answer $2 in 30 s"; FAILED=1; return 1; }
    sleep 0.2
  done
}
alarm() { # alarm ACTION TYPE: through the JSON gateway on m1, for m1
  local id
  id=$(EPS=$(ep_of 1) ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["member_id"])')
  curl -s --max-time 10 -X POST -d "{\"action\":\"$1\",\"alarm\":\"$2\",\"memberID\":\"$id\"}" \
    "$M1/v3/maintenance/alarm" >/dev/null
}
stop() { # stop N: SIGTERM member N and wait for it to exit
  kill "${PIDS[$1]}"
  while kill -0 "${PIDS[$1]}" 2>/dev/null; do sleep 0.1; done
}

EXTRA_FLAGS=(--listen-metrics-urls "$METRICS")
start 1
EXTRA_FLAGS=()
start 2; start 3
wait_healthy "$ALL"

# ---- 1. healthy ----
READY_ALL=$'[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok'
check "/livez" "$(body "$M1/livez")" "ok"
check "/readyz" "$(body "$M1/readyz")" "ok"
check "/livez?verbose" "$(body "$M1/livez?verbose")" $'[+]serializable_read ok\nok'
check "/readyz?verbose" "$(body "$M1/readyz?verbose")" "$READY_ALL"
check "/readyz?verbose=false is verbose too (etcd)" "$(body "$M1/readyz?verbose=false")" "$READY_ALL"
check_match "content type" "$(curl -s -D - -o /dev/null --max-time 15 "$M1/readyz")" \
  $'[Cc]ontent-[Tt]ype: text/plain; charset=utf-8'
check "/readyz/linearizable_read" "$(body "$M1/readyz/linearizable_read?verbose")" $'[+]linearizable_read ok\nok'
check "/livez/serializable_read" "$(body "$M1/livez/serializable_read")" "ok"
check "exclude two" "$(body "$M1/readyz?verbose&exclude=linearizable_read&exclude=non_learner")" \
  $'[+]data_corruption ok\n[+]serializable_read ok\nok'
check "exclude an unknown name: ignored" "$(body "$M1/readyz?verbose&exclude=nope")" "$READY_ALL"
check "unknown check: 404" "$(code "$M1/readyz/nope")" "404"
check "unknown check: body" "$(body "$M1/readyz/nope")" "404 page not found"
check "a readyz check is not a livez one" "$(code "$M1/livez/linearizable_read")" "404"
check "POST: 405" "$(code -X POST "$M1/readyz")" "405"
check "metrics listener /readyz?verbose" "$(body "$METRICS/readyz?verbose")" "$READY_ALL"
check "metrics listener /livez" "$(body "$METRICS/livez")" "ok"

# ---- 2. alarms ----
alarm ACTIVATE NOSPACE
check "NOSPACE: /health 503" "$(code "$M1/health")" "503"
check "NOSPACE: /readyz still 200 (etcd 3.6)" "$(code "$M1/readyz")" "200"
check "NOSPACE: /livez 200" "$(code "$M1/livez")" "200"
ctl alarm disarm >/dev/null
alarm ACTIVATE CORRUPT
wait_code "$M1/readyz" 503
check "CORRUPT: /readyz names it" "$(body "$M1/readyz")" \
  $'[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok'
check "CORRUPT: /readyz/data_corruption 503" "$(code "$M1/readyz/data_corruption")" "503"
check "CORRUPT: exclude=data_corruption passes" "$(body "$M1/readyz?exclude=data_corruption")" "ok"
check "CORRUPT: /livez 200" "$(body "$M1/livez")" "ok"
check "CORRUPT: on the metrics listener" "$(code "$METRICS/readyz")" "503"
ctl alarm disarm >/dev/null
wait_code "$M1/readyz" 200

# ---- 3. quorum lost ----
stop 2; stop 3
wait_code "$M1/readyz" 503
check_match "no quorum: linearizable_read fails" "$(body "$M1/readyz")" \
  $'^\\[\\+\\]data_corruption ok\n\\[\\+\\]serializable_read ok\n\\[-\\]linearizable_read failed: etcdserver: (no leader|request timed out)\n\\[\\+\\]non_learner ok$'
check "no quorum: /livez 200" "$(body "$M1/livez?verbose")" $'[+]serializable_read ok\nok'
check "no quorum: exclude=linearizable_read passes" "$(body "$M1/readyz?exclude=linearizable_read")" "ok"
check "no quorum: /readyz/serializable_read passes" "$(code "$M1/readyz/serializable_read")" "200"
start 2; start 3
wait_code "$M1/readyz" 200
check "quorum back: /readyz?verbose" "$(body "$M1/readyz?verbose")" "$READY_ALL"
