#!/usr/bin/env bash
# End-to-end: the corruption checks. Member m3 runs with --debug-unsafe-corrupt-puts (debug builds
# only: it alters every value it applies, so its HashKV drifts from the others'). With
# --experimental-corrupt-check-time the leader notices and raises CORRUPT through raft: every member
# then refuses writes with etcd's "etcdserver: corrupt cluster", serves reads, and /health says why.
# m3 restarted with --experimental-initial-corrupt-check refuses to serve ("found data inconsistency with
# peers", status 1); a healthy member restarted with it passes the check and serves. Disarming the alarm
# restores writes.
#   usage: e2e_corrupt.sh path/to/cairn      env: E2E_BASE_PORT (default 29770; uses +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_corrupt.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-29770}
NAME=corrupt
source "$(dirname "$0")/../lib/cluster.sh"

EXTRA_FLAGS=(--experimental-corrupt-check-time=1s)
start 1; start 2
EXTRA_FLAGS=(--experimental-corrupt-check-time=1s --debug-unsafe-corrupt-puts)
start 3
EXTRA_FLAGS=(--experimental-corrupt-check-time=1s)
wait_healthy "$ALL"
for i in $(seq 1 10); do ctl put "k$i" "v$i" >/dev/null; done
deadline=$((SECONDS + 30))
until [[ "$(ctl alarm list)" == *"alarm:CORRUPT"* ]]; do
  (( SECONDS < deadline )) || { echo "FAIL no CORRUPT alarm in 30 s"; FAILED=1; break; }
  sleep 0.2
done
check_match "the leader raised CORRUPT" "$(ctl alarm list)" "alarm:CORRUPT"
check_match "writes are refused" "$(ctl put k11 v11)" "etcdserver: corrupt cluster"
# k1: the alarm may be raised while the later puts are still being sent (they are then refused), but
# not before the first one was applied (until then the hashes agree).
check "reads are served" "$(EPS=$(ep_of 1) ctl get k1 --print-value-only)" "v1"
check "/health says why" "$(curl -s --max-time 5 "http://$(ep_of 1)/health")" '{"health":"false","reason":"ALARM CORRUPT"}'

# The corrupted member, restarted with the initial check, does not serve.
kill "${PIDS[3]}"
while kill -0 "${PIDS[3]}" 2>/dev/null; do sleep 0.1; done
EXTRA_FLAGS=(--experimental-initial-corrupt-check)
start 3
deadline=$((SECONDS + 30))
while kill -0 "${PIDS[3]}" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
check_match "it stopped itself" "$(cat "$WORK/m3.log")" "found data inconsistency with peers"
kill -0 "${PIDS[3]}" 2>/dev/null && { echo "FAIL m3 is still running"; FAILED=1; }

# A healthy member passes the same check and serves.
kill "${PIDS[2]}"
while kill -0 "${PIDS[2]}" 2>/dev/null; do sleep 0.1; done
start 2
wait_healthy "$(ep_of 2)"
check_match "a healthy member passes" "$(cat "$WORK/m2.log")" "initial corruption check passed"

ctl alarm disarm >/dev/null
check "writes after disarm" "$(EPS=$(ep_of 1),$(ep_of 2) ctl put k12 v12)" "OK"
