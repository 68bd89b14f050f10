#!/usr/bin/env bash
# End-to-end: the cluster's quota through the log (server/disk/quota_sync.h). m1 runs with a small
# --quota-backend-bytes, m2 and m3 with a large one. Every member reports the leader's flag as the quota
# in force (etcd_server_quota_backend_bytes), it follows the leadership when that moves, and once m1
# leads, puts fill the small quota: every member refuses the same put (also the ones whose own flag is
# large, which before the cluster's quota applied it and parted from m1), NOSPACE is raised, HashKV agrees
# on all three and no CORRUPT alarm comes from the state check.
#   usage: e2e_quota_sync.sh path/to/cairn      env: E2E_BASE_PORT (default 27500; uses +0..+21)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_quota_sync.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-27500}
NAME=quota-sync
source "$(dirname "$0")/../lib/cluster.sh"

SMALL=60000
LARGE=$((64 << 20))
quota_of() { curl -s --max-time 5 "http://$(ep_of "$1")/metrics" | awk '$1 == "etcd_server_quota_backend_bytes" {print $2}'; }
quotas() { echo "$(quota_of 1) $(quota_of 2) $(quota_of 3)"; }
flag_of() { if [[ $1 == 1 ]]; then echo "$SMALL"; else echo "$LARGE"; fi; }
member_hex() { EPS=$(ep_of "$1") ctl endpoint status -w json | grep -o '"member_id":[0-9]*' | head -1 | cut -d: -f2 | xargs printf '%x'; }
lead_to() { # lead_to N: move the leadership to mN; prints the leader's number
  local l
  l=$(leader_num)
  [[ $l == "$1" ]] || EPS=$(ep_of "${l:-1}") ctl move-leader "$(member_hex "$1")" >/dev/null
  leader_num
}
as_number() { awk '{printf "%d %d %d\n", $1, $2, $3}' <<<"$1"; }

EXTRA_FLAGS=(--quota-backend-bytes=$SMALL)
start 1
EXTRA_FLAGS=(--quota-backend-bytes=$LARGE)
start 2; start 3
wait_healthy "$ALL"
l=$(leader_num)
[[ -n $l ]] || { echo "FAIL no leader"; exit 1; }
want="$(flag_of "$l") $(flag_of "$l") $(flag_of "$l")"
check "every member applies the leader's (m$l) quota" "$(as_number "$(retry 20 "^$want\$" quotas)")" "$want"

# The quota follows the leadership: to a member with the other flag, then to m1 (the small one).
other=2
[[ $l != 1 ]] && other=1
check "m$other leads" "$(retry 30 "^$other\$" lead_to $other)" "$other"
want="$(flag_of $other) $(flag_of $other) $(flag_of $other)"
check "the quota follows the leader (m$other)" "$(as_number "$(retry 20 "^$want\$" quotas)")" "$want"
check "m1 leads" "$(retry 30 '^1$' lead_to 1)" "1"
want="$SMALL $SMALL $SMALL"
check "the small quota is the cluster's" "$(as_number "$(retry 20 "^$want\$" quotas)")" "$want"

# Fill it through m2, whose own flag would take far more.
value=$(head -c 4000 /dev/zero | tr '\0' v)
refused=""
for i in $(seq 1 40); do
  out=$(EPS=$(ep_of 2) ctl put "k$i" "$value")
  if [[ $out != OK ]]; then refused=$out; break; fi
done
check_match "a put past the cluster's quota is refused through m2" "$refused" "database space exceeded"
check_match "NOSPACE is raised" "$(ctl alarm list)" "alarm:NOSPACE"
check_match "m3 (large flag) refuses too" "$(EPS=$(ep_of 3) ctl put extra x)" "database space exceeded"
hashes() { ctl endpoint hashkv -w json | grep -o '"hash":[0-9]*' | sort -u | wc -l; }
check "HashKV agrees on every member" "$(retry 20 '^1$' hashes)" "1"
check "no CORRUPT alarm" "$(ctl alarm list | grep -c CORRUPT)" "0"
for m in 1 2 3; do
  check "m$m counts no mismatched state check" \
    "$(curl -s --max-time 5 "http://$(ep_of "$m")/metrics" | awk '$1 == "cairn_state_checks_total{result=\"mismatched\"}" {print $2}')" "0"
done
