#!/usr/bin/env bash
# The cost of being scraped: `cairnctl bench put` against one 3-member cairn cluster, in interleaved
# rounds without and with a scraper fetching /metrics from every member once a second (what Prometheus
# does at a 1 s interval, 15x more often than its default). Not part of ctest (minutes long); the figures
# in docs/benchmarks.md ("Metrics cost").
#   usage: bench_metrics_cost.sh CAIRNCTL CAIRN [ROUNDS]   (ports BASE+10..BASE+31, default 13150)
# Prints one row per round and the ratio of the medians (scraped / not scraped).
set -uo pipefail
CTL=$1
CAIRN=$2
ROUNDS=${3:-4}
BASE=${BASE:-13150}
WORK=$(mktemp -d /tmp/bench-metrics-cost.XXXXXX)
PIDS=()
SCRAPER=""
stop_all() {
  [[ -n $SCRAPER ]] && kill "$SCRAPER" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; done
}
trap 'stop_all; rm -rf "$WORK"' EXIT
cluster=""
for n in 1 2 3; do cluster+="${cluster:+,}b$n=http://127.0.0.1:$((BASE + 10 * n + 1))"; done
for n in 1 2 3; do
  "$CAIRN" --name "b$n" --data-dir "$WORK/b$n" --metrics extensive \
    --listen-client-urls "http://127.0.0.1:$((BASE + 10 * n))" --advertise-client-urls "http://127.0.0.1:$((BASE + 10 * n))" \
    --listen-peer-urls "http://127.0.0.1:$((BASE + 10 * n + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((BASE + 10 * n + 1))" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench >"$WORK/b$n.log" 2>&1 &
  PIDS+=($!)
done
EPS="127.0.0.1:$((BASE + 10)),127.0.0.1:$((BASE + 20)),127.0.0.1:$((BASE + 30))"
for _ in $(seq 150); do "$CTL" --endpoints="$EPS" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
scrape_every_second() {
  while true; do
    for n in 1 2 3; do curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$((BASE + 10 * n))/metrics"; done
    sleep 1
  done
}
WORKLOAD="put --conns=10 --clients=100 --total=30000 --val-size=256 --key-space-size=100000"
run() { # LABEL
  # shellcheck disable=SC2086
  "$CTL" --endpoints="$EPS" --command-timeout=30s bench $WORKLOAD 2>/dev/null | awk -F'\t' '/Requests\/sec/ {print $2}'
}
plain=() scraped=()
echo "| round | no scraping req/s | scraped every 1 s req/s |"
echo "|---|---|---|"
run_scraped() {
  scrape_every_second >/dev/null 2>&1 &
  SCRAPER=$!
  run
  kill "$SCRAPER" 2>/dev/null
  wait "$SCRAPER" 2>/dev/null
  SCRAPER=""
}
# Odd rounds run the plain half first, even rounds the scraped half: neither always sees the bigger store.
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then a=$(run); b=$(run_scraped); else b=$(run_scraped); a=$(run); fi
  plain+=("$a") scraped+=("$b")
  printf '| %d | %.0f | %.0f |\n' "$r" "$a" "$b"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ma=$(median "${plain[@]}") mb=$(median "${scraped[@]}")
printf 'median: %.0f vs %.0f req/s, scraped/plain = %.3f\n' "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
