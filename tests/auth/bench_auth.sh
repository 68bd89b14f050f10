#!/usr/bin/env bash
# Put and range throughput with auth off, with simple tokens and with JWT (ES256), in one run: for each
# setting a fresh 3-member cairn cluster on loopback (etcd's default heartbeat and election timeout), the
# same `cairnctl bench` commands, then the cluster is stopped. With auth on the benchmark runs as root:
# every request pays the token check, the identity in its entry and the apply-time decision (root's
# short-circuit, not a key-range search). ROUNDS rounds (default 3), each running the three settings in
# turn, so that a change in the machine's load hits every setting alike; prints each setting's median
# requests/s over the rounds and its ratio to auth off, then every round's figures.
# Usage: bench_auth.sh CAIRN CAIRNCTL   (ports BASE..BASE+21, default 18960; release builds)
set -uo pipefail
CAIRN=$1
CTL=$2
BASE=${BASE:-18960}
WORK=$(mktemp -d /tmp/cairn-bench-auth.XXXXXX)
PIDS=()
EPS="127.0.0.1:$BASE,127.0.0.1:$((BASE + 10)),127.0.0.1:$((BASE + 20))"
CLUSTER="m1=http://127.0.0.1:$((BASE + 1)),m2=http://127.0.0.1:$((BASE + 11)),m3=http://127.0.0.1:$((BASE + 21))"
PUT=(bench put --conns=10 --clients=100 --total=${PUT_TOTAL:-20000} --val-size=256 --key-space-size=100000)
RANGE=(bench range foo --conns=10 --clients=100 --total=${RANGE_TOTAL:-30000} --consistency=l)
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT
c() { timeout 300 "$CTL" --endpoints="$EPS" "$@"; }
rps() { awk '/Requests\/sec/ {print $2}'; }

run() { # run NAME [cairn flags...]
  local name=$1
  shift
  rm -rf "$WORK/d"
  for i in 1 2 3; do
    local cp=$((BASE + 10 * (i - 1)))
    "$CAIRN" "$@" --name "m$i" --data-dir "$WORK/d/m$i" --listen-client-urls "http://127.0.0.1:$cp" \
      --advertise-client-urls "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$((cp + 1))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((cp + 1))" --initial-cluster "$CLUSTER" \
      --initial-cluster-token bench-auth >"$WORK/m$i-$name.log" 2>&1 &
    PIDS+=($!)
  done
  for _ in $(seq 150); do c endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  local user=()
  if [[ $name != off ]]; then
    c user add root:rootpw >/dev/null && c user grant-role root root >/dev/null
    c auth enable >/dev/null
    user=(--user root:rootpw)
  fi
  c "${user[@]}" put foo bar >/dev/null
  PUT_RPS[$name]+="$(c "${user[@]}" "${PUT[@]}" 2>/dev/null | rps) "
  RANGE_RPS[$name]+="$(c "${user[@]}" "${RANGE[@]}" 2>/dev/null | rps) "
  stop_all
}

declare -A PUT_RPS RANGE_RPS
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/jwt.key" 2>/dev/null
openssl pkey -in "$WORK/jwt.key" -pubout -out "$WORK/jwt.pub" 2>/dev/null
for _ in $(seq "${ROUNDS:-3}"); do
  run off
  run simple --auth-token simple
  run jwt --auth-token "jwt,pub-key=$WORK/jwt.pub,priv-key=$WORK/jwt.key,sign-method=ES256"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : "?")}'; }
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}x')" 2>/dev/null || echo "?"; }
row() { # row LABEL off simple jwt   (each a list of per-round figures)
  local o s j
  o=$(median <<<"$2") s=$(median <<<"$3") j=$(median <<<"$4")
  echo "| \`cairnctl $1\` | $o | $s | $(ratio "$s" "$o") | $j | $(ratio "$j" "$o") |"
}
echo "| workload (median of ${ROUNDS:-3} rounds) | auth off req/s | simple req/s | ratio | jwt req/s | ratio |"
echo "|---|---|---|---|---|---|"
row "${PUT[*]}" "${PUT_RPS[off]}" "${PUT_RPS[simple]}" "${PUT_RPS[jwt]}"
row "${RANGE[*]}" "${RANGE_RPS[off]}" "${RANGE_RPS[simple]}" "${RANGE_RPS[jwt]}"
for k in off simple jwt; do echo "rounds, $k: put ${PUT_RPS[$k]}| range ${RANGE_RPS[$k]}"; done
