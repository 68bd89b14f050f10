#!/usr/bin/env bash
# cairnctl bench end to end: every workload briefly against a 3-member cairn cluster (and, when etcd is
# installed, the write workloads against a single real etcd member), checking effects, not only that a
# report was printed: put and txn advance the revision by --total, range does not, --rate slows a run
# down, watch delivers every event to every watcher, lease-keepalive leaves its leases alive.
# Usage: e2e_bench.sh CAIRNCTL CAIRN [ETCD]   (ports BASE..BASE+21 and BASE+50..51, default 17300)
set -uo pipefail
CTL=$1
CAIRN=$2
ETCD=${3:-}
BASE=${BASE:-17300}
NAME=ctlbench
source "$(dirname "$0")/../lib/cluster.sh"

b() { timeout 120 "$CTL" --endpoints="${EPS:-$ALL}" --command-timeout=20s bench "$@" 2>"$WORK/bench.err"; }
c() { timeout 30 "$CTL" --endpoints="${EPS:-$ALL}" --command-timeout=10s "$@"; }
rev() { c get any-key -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
hist_sum() { echo "$1" | sed -n '/Response time histogram/,/Latency distribution/p' | grep -o '\[[0-9]*\]' | tr -d '[]' | paste -sd+ | bc; }
report_ok() { # NAME OUTPUT N: etcd's report layout with N requests in the histogram
  check_match "$1: report layout" "$2" $'Summary:\n  Total:\t[0-9.]+ secs\\.\n  Slowest:.*Requests/sec:\t[0-9.]+\n\nResponse time histogram:\n.*Latency distribution:\n  10% in [0-9.]+ secs\\.'
  check "$1: requests in the histogram" "$(hist_sum "$2")" "$3"
  [[ "$2" == *"Error distribution"* ]] && { echo "FAIL $1: errors: $2"; FAILED=1; }
}

workloads() { # against ${EPS}: LABEL
  local r0 r1 out
  r0=$(rev)
  out=$(b put --conns=2 --clients=4 --total=300 --key-space-size=1000 --sequential-keys --val-size=64)
  check "$1 bench put: exit 0" "$?" "0"
  r1=$(rev)
  check "$1 bench put --total 300 advances the revision by 300" "$((r1 - r0))" "300"
  report_ok "$1 bench put" "$out" 300
  check "$1 bench put --sequential-keys wrote keys 0..299" "$(c get "" --from-key --count-only)" "300"

  r0=$(rev)
  out=$(b txn --clients=4 --total=200 --txn-ops=2 --key-space-size=50)
  check "$1 bench txn: exit 0" "$?" "0"
  r1=$(rev)
  check "$1 bench txn --total 200 advances the revision by 200" "$((r1 - r0))" "200"
  report_ok "$1 bench txn" "$out" 200

  r0=$(rev)
  out=$(b range k --clients=4 --total=200 --consistency=s)
  check "$1 bench range: exit 0" "$?" "0"
  check "$1 bench range leaves the revision alone" "$(rev)" "$r0"
  report_ok "$1 bench range" "$out" 200

  out=$(b put --total=40 --rate=100)
  local secs
  secs=$(echo "$out" | awk '/Total:/ {print $2}')
  check "$1 bench put --rate 100: 40 puts take at least 0.39 s (took $secs)" "$(echo "$secs >= 0.39" | bc)" "1"

  r0=$(rev)
  out=$(b watch --streams=3 --watchers-per-stream=4 --watched-key-total=2 --put-total=60 --put-rate=0 --clients=2)
  check "$1 bench watch: exit 0" "$?" "0"
  check_match "$1 bench watch: every event to every watcher" "$out" "Watch events: 360 of 360 delivered \(60 puts"
  check "$1 bench watch: 60 puts" "$(( $(rev) - r0 ))" "60"
  report_ok "$1 bench watch" "$out" 360

  local before after
  before=$(c lease list | head -1 | awk '{print $2}')
  out=$(b lease-keepalive --clients=3 --total=150 --lease-ttl=60)
  check "$1 bench lease-keepalive: exit 0" "$?" "0"
  report_ok "$1 bench lease-keepalive" "$out" 150
  after=$(c lease list | head -1 | awk '{print $2}')
  check "$1 bench lease-keepalive: its 3 leases are alive" "$((after - before))" "3"
  local id ttl
  id=$(c lease list | sed -n 2p)
  ttl=$(c lease timetolive "$id" | grep -o 'remaining([0-9]*s)' | tr -dc 0-9)
  check "$1 bench lease-keepalive: lease $id kept alive (remaining ${ttl}s of 60)" "$(( ttl > 40 ))" "1"

  "$CTL" --endpoints="${EPS:-$ALL}" bench range >/dev/null 2>&1
  check "$1 bench range without a key: exit 128" "$?" "128"
}

for i in 1 2 3; do start "$i"; done
wait_healthy
workloads cairn
out=$(CAIRNCTL_PROGRESS=1 b put --total=20; cat "$WORK/bench.err")
check_match "progress bar on stderr when forced" "$out" "20 / 20 \[=+\] 100%"

if [[ -n $ETCD ]]; then
  EP=127.0.0.1:$((BASE + 50))
  "$ETCD" --name e1 --data-dir "$WORK/etcd" --listen-client-urls "http://$EP" --advertise-client-urls "http://$EP" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 51))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 51))" \
    --initial-cluster "e1=http://127.0.0.1:$((BASE + 51))" >"$WORK/etcd.log" 2>&1 &
  BG+=($!)
  wait_healthy "$EP"
  EPS=$EP workloads etcd
fi
