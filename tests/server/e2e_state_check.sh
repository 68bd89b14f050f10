#!/usr/bin/env bash
# End-to-end: the continuous corruption check (server/corrupt/chain_check.h). Member m3 runs with
# --debug-unsafe-corrupt-puts (debug builds only: it alters every value it applies), the HashKV checks are
# off. With --state-check-interval the leader puts its state chain in the log; the member that differs
# from it raises CORRUPT naming itself, within seconds of the first put and with the revision window of the
# divergence in its log; writes are then refused everywhere with etcd's error, reads go on; the members
# that agree with the leader count matching checks in /metrics. A healthy cluster never raises it: the
# other e2e and fault tests run with the default interval (1s).
#   usage: e2e_state_check.sh path/to/cairn      env: E2E_BASE_PORT (default 29870; uses +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_state_check.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-29870}
NAME=state-check
source "$(dirname "$0")/../lib/cluster.sh"

EXTRA_FLAGS=(--state-check-interval=100ms)
start 1; start 2
EXTRA_FLAGS=(--state-check-interval=100ms --debug-unsafe-corrupt-puts)
start 3
EXTRA_FLAGS=(--state-check-interval=100ms)
wait_healthy "$ALL"
leader=$(leader_num)
[[ -n $leader ]] || { echo "FAIL no leader"; exit 1; }
ctl put k1 v1 >/dev/null
deadline=$((SECONDS + 30))
until [[ "$(ctl alarm list)" == *"alarm:CORRUPT"* ]]; do
  (( SECONDS < deadline )) || { echo "FAIL no CORRUPT alarm in 30 s"; FAILED=1; break; }
  sleep 0.1
done
alarms=$(ctl alarm list)
member_id() { EPS=$(ep_of "$1") ctl endpoint status -w json | grep -o '"member_id":[0-9]*' | head -1 | cut -d: -f2; }
id_hex() { printf '%x' "$(member_id "$1")"; }
# The diverged member names itself; when it is the leader, every follower differs from it instead.
if [[ $leader != 3 ]]; then raisers=(3); else raisers=(1 2); fi
for m in "${raisers[@]}"; do
  check_match "m$m raised CORRUPT for itself" "$alarms" "memberID:$(member_id "$m") alarm:CORRUPT"
  line=$(grep -m1 "state check: this member's state differs" "$WORK/m$m.log")
  check_match "m$m logged the mismatch" "$line" "\"remote-member-id\":\"$(id_hex "$leader")\""
  # k1 made revision 2: the divergence lies after the last matching check (revision 1 or none) and at or
  # before the check's revision.
  check_match "m$m logged where it diverged" "$line" '"diverged-after-revision":"[01]"'
  check_match "m$m counts it" "$(curl -s --max-time 5 "http://$(ep_of "$m")/metrics")" \
    'cairn_state_checks_total\{result="mismatched"\} [1-9]'
done
for m in 1 2 3; do
  [[ " ${raisers[*]} " == *" $m "* ]] && continue
  check "m$m raised nothing" "$(grep -c "state check: this member's state differs" "$WORK/m$m.log")" "0"
done
check_match "writes are refused" "$(ctl put k2 v2)" "etcdserver: corrupt cluster"
check "reads are served" "$(EPS=$(ep_of 1) ctl get k1 --print-value-only)" "v1"
