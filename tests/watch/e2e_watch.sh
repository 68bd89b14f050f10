#!/usr/bin/env bash
# End-to-end Watch: three real cairn processes on loopback, driven by `etcdctl watch` (etcdctl 3.4).
#   usage: e2e_watch.sh path/to/cairn      env: E2E_BASE_PORT (default 28379; below the ephemeral range)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_watch.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-28379}
NAME=watch
EXTRA_FLAGS=(--experimental-watch-progress-notify-interval 500ms)
source "$(dirname "$0")/../lib/cluster.sh"
# watch_bg OUTFILE ARGS...: an etcdctl watch in the background (bounded by timeout).
watch_bg() {
  local out=$1; shift
  ETCDCTL_API=3 timeout 30 etcdctl --endpoints="${EPS:-$ALL}" watch "$@" >"$out" 2>&1 &
  BG+=($!)
}
# wait_lines FILE N: until FILE has N lines (at most 10 s).
wait_lines() {
  local deadline=$((SECONDS + 10))
  while (( $(wc -l <"$1") < $2 && SECONDS < deadline )); do sleep 0.1; done
}
stop_bg() { kill "${BG[-1]}" 2>/dev/null; wait "${BG[-1]}" 2>/dev/null; }
revision() { ctl get "$1" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }

start 1; start 2; start 3
wait_healthy

# Basic: a put and a delete of one key, nothing of other keys.
watch_bg "$WORK/basic" wk
sleep 1; ctl put other x >/dev/null; ctl put wk v1 >/dev/null; ctl del wk >/dev/null
wait_lines "$WORK/basic" 5; stop_bg
check "watch basic" "$(cat "$WORK/basic")" $'PUT\nwk\nv1\nDELETE\nwk'

# --prefix --prev-kv: the second put shows the previous value; other prefixes are not seen.
watch_bg "$WORK/prefix" wp --prefix --prev-kv
sleep 1; ctl put wp1 a >/dev/null; ctl put wp1 b >/dev/null; ctl put xx z >/dev/null; ctl put wp2 c >/dev/null
wait_lines "$WORK/prefix" 10; stop_bg
check "watch --prefix --prev-kv" "$(cat "$WORK/prefix")" $'PUT\nwp1\na\nPUT\nwp1\na\nwp1\nb\nPUT\nwp2\nc'

# A transaction's puts arrive together, in op order.
watch_bg "$WORK/txn" t --prefix
sleep 1; printf '\nput t2 x\nput t1 y\n\n\n' | ctl txn >/dev/null
wait_lines "$WORK/txn" 6; stop_bg
check "watch txn events" "$(cat "$WORK/txn")" $'PUT\nt2\nx\nPUT\nt1\ny'

# --rev: history replay, then live events.
r=$(ctl put hk h1 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
ctl put hk h2 >/dev/null; ctl put hk h3 >/dev/null
watch_bg "$WORK/hist" hk --rev="$r"
wait_lines "$WORK/hist" 9; ctl put hk live >/dev/null
wait_lines "$WORK/hist" 12; stop_bg
check "watch --rev history then live" "$(cat "$WORK/hist")" $'PUT\nhk\nh1\nPUT\nhk\nh2\nPUT\nhk\nh3\nPUT\nhk\nlive'

# Compacted start revision: etcdctl reports the compaction and exits non-zero.
ctl put cw a >/dev/null; ctl put cw b >/dev/null
rev=$(revision cw); ctl compaction "$rev" >/dev/null
out=$(ETCDCTL_API=3 timeout 5 etcdctl --endpoints="$ALL" watch cw --rev=$((rev - 1)) 2>&1); code=$?
check_match "watch compacted message" "$out" "required revision has been compacted"
check "watch compacted exit code" "$code" "5"
# At the compaction revision itself: allowed.
out=$(ETCDCTL_API=3 timeout 3 etcdctl --endpoints="$ALL" watch cw --rev="$rev" 2>&1)
check "watch at the compaction revision" "$out" $'PUT\ncw\nb'

# Interactive: two watches on one stream, then a progress request.
out=$( (printf 'watch ip\nwatch iq\n'; sleep 1; ETCDCTL_API=3 etcdctl --endpoints="$ALL" put iq 1 >/dev/null; printf 'progress\n'; sleep 1.5) |
       ETCDCTL_API=3 timeout 6 etcdctl --endpoints="$ALL" watch -i 2>&1)
check_match "watch -i events" "$out" $'PUT\niq\n1'
check_match "watch -i progress" "$out" "progress notify: [0-9]+"

# On a follower endpoint: writes through another member reach the follower's watchers.
follower=$(ctl endpoint status | awk -F', ' '$5 == "false" {print $1; exit}')
other=$(ctl endpoint status | awk -F', ' -v f="$follower" '$1 != f {print $1; exit}')
EPS=$follower watch_bg "$WORK/follower" fk
sleep 1; EPS=$other ctl put fk on-follower >/dev/null
wait_lines "$WORK/follower" 3; stop_bg
check "watch on a follower ($follower)" "$(cat "$WORK/follower")" $'PUT\nfk\non-follower'

# Many writes while a watcher runs: every revision exactly once, in order.
watch_bg "$WORK/many" mk --prefix
sleep 1
for i in $(seq 1 60); do ctl put mk$((i % 5)) "$i" >/dev/null; done
wait_lines "$WORK/many" 180; stop_bg
check "watch 60 puts in order" "$(awk 'NR % 3 == 0' "$WORK/many" | tr '\n' ' ')" "$(seq -s ' ' 1 60) "
exit $FAILED
