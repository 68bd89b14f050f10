#!/usr/bin/env bash
# cairnctl bench against a 3-member etcd 3.4 cluster and a 3-member cairn cluster on loopback, one after
# the other, with the same flags (the figures in docs/benchmarks.md). Not part of ctest (minutes long).
#   usage: bench_compare.sh CAIRNCTL CAIRN [ETCD]   (ports BASE+10..BASE+61, default 17000)
# Prints, per workload and cluster, the report's Requests/sec, Average, and the 50/99 % latencies.
set -uo pipefail
CTL=$1
CAIRN=$2
ETCD=${3:-$(command -v etcd)}
BASE=${BASE:-17000}
WORK=$(mktemp -d /tmp/ctl-bench-compare.XXXXXX)
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; done
  PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT
start_cluster() { # BIN BASE
  local bin=$1 base=$2 cluster="" n
  for n in 1 2 3; do cluster+="${cluster:+,}b$n=http://127.0.0.1:$((base + 10 * n + 1))"; done
  for n in 1 2 3; do
    "$bin" --name "b$n" --data-dir "$WORK/$base-b$n" \
      --listen-client-urls "http://127.0.0.1:$((base + 10 * n))" --advertise-client-urls "http://127.0.0.1:$((base + 10 * n))" \
      --listen-peer-urls "http://127.0.0.1:$((base + 10 * n + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((base + 10 * n + 1))" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench >"$WORK/$base-b$n.log" 2>&1 &
    PIDS+=($!)
  done
  EPS="127.0.0.1:$((base + 10)),127.0.0.1:$((base + 20)),127.0.0.1:$((base + 30))"
  for _ in $(seq 150); do "$CTL" --endpoints="$EPS" endpoint health >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "cluster $bin did not become healthy" >&2
  return 1
}
WORKLOADS=(
  "put --conns=10 --clients=100 --total=30000 --val-size=256 --key-space-size=100000"
  "range foo --conns=10 --clients=100 --total=30000 --consistency=l"
  "range foo --conns=10 --clients=100 --total=30000 --consistency=s"
  "txn --conns=10 --clients=100 --total=20000 --val-size=256 --key-space-size=100000"
  "watch --conns=10 --streams=10 --watchers-per-stream=100 --put-total=1000 --put-rate=200 --clients=10"
  "lease-keepalive --conns=10 --clients=100 --total=30000"
)
run_all() { # LABEL
  "$CTL" --endpoints="$EPS" put foo bar >/dev/null
  for w in "${WORKLOADS[@]}"; do
    # shellcheck disable=SC2086
    out=$("$CTL" --endpoints="$EPS" --command-timeout=30s bench $w 2>/dev/null)
    rps=$(echo "$out" | awk -F'\t' '/Requests\/sec/ {print $2}')
    avg=$(echo "$out" | awk '/Average:/ {print $2}')
    p50=$(echo "$out" | awk '/ 50% in/ {print $3}')
    p99=$(echo "$out" | awk '/ 99% in/ {print $3}')
    err=$(echo "$out" | grep -c "Error distribution")
    printf '| %s | %s | %.0f | %.1f | %.1f | %.1f |%s\n' "$1" "bench $w" "$rps" "$(echo "$avg * 1000" | bc -l)" \
      "$(echo "$p50 * 1000" | bc -l)" "$(echo "$p99 * 1000" | bc -l)" "$([[ $err != 0 ]] && echo " errors")"
  done
}
echo "| cluster | command | requests/s | average ms | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
start_cluster "$ETCD" "$BASE" && run_all "etcd 3.4"
stop_all
start_cluster "$CAIRN" "$((BASE + 30))" && run_all cairn
