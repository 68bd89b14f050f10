#!/usr/bin/env bash
# etcd's command-line errors, checked live: each bad command line (and ETCD_* variable) goes to the
# installed etcd and to cairn; the first line each prints (etcd's log prefix dropped, 'etcd --help' read
# as 'cairn --help') and the exit status must be the same. tests/server/flag_errors_test.cc holds the
# same kind of table with etcd's text written down, for machines without etcd.
#   usage: flag_errors_vs_etcd.sh path/to/cairn       exits 77 (skipped) without etcd
set -uo pipefail
CAIRN=${1:?usage: flag_errors_vs_etcd.sh path/to/cairn}
command -v etcd >/dev/null || { echo "etcd not installed: skipped"; exit 77; }
WORK=$(mktemp -d /tmp/cairn-flag-errors.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
# One case per line: ENV (or -) then the arguments, separated by spaces.
CASES=$(cat <<'END'
- --no-such
- -no-such
- --no-such=1
- ---name
- -=x
- --name
- --snapshot-count
- --heartbeat-interval=abc
- --heartbeat-interval -5
- --election-timeout=1e3
- --max-txn-ops=-1
- --quota-backend-bytes=1x
- --snapshot-count=99999999999999999999
- --max-concurrent-streams=-1
- --max-concurrent-streams=4294967296
- --grpc-keepalive-min-time=5
- --grpc-keepalive-interval=2x
- --pre-vote=maybe
- --strict-reconfig-check=yes
- --initial-cluster-state=maybe
- --discovery-fallback=foo
- --proxy=sometimes
- --cors=foo
- --listen-client-urls=127.0.0.1:2379
- --listen-client-urls=localhost:2379
- --listen-client-urls=http://127.0.0.1
- --listen-client-urls=http://127.0.0.1:2379/
- --listen-client-urls=http://127.0.0.1:abc
- --listen-peer-urls=ftp://127.0.0.1:2380
- --initial-advertise-peer-urls=http://a:1,b
- extra-arg
- --name x -- --name y
- --logger=foo
- --auto-compaction-mode=foo
- --heartbeat-interval=0
- --heartbeat-interval=100 --election-timeout=200
- --election-timeout=60000
- --listen-client-urls=http://127.0.0.1:2379
- --listen-client-urls=http://:2379 --advertise-client-urls=http://127.0.0.1:2379
- --initial-advertise-peer-urls=http://:2380
- --experimental-enable-lease-checkpoint-persist
ETCD_HEARTBEAT_INTERVAL=abc
ETCD_PRE_VOTE=maybe
ETCD_SNAPSHOT_COUNT=-1
ETCD_NAME=x --name y
END
)
first_line() { # the first line of a run's stderr that is not a deprecation warning, log prefix dropped
  grep -v '^\[WARNING\]' "$1" | head -1 | sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ [A-Z] \| [a-z/]+: //; s/^cairn: //' |
    sed "s/'etcd --help'/'cairn --help'/"
}
run() { # run BINARY ENV ARGS...: prints "STATUS<TAB>FIRST LINE"
  local bin=$1 env=$2
  shift 2
  rm -rf "$WORK/data"
  if [[ $env == - ]]; then
    timeout 10 "$bin" --data-dir "$WORK/data" "$@" >/dev/null 2>"$WORK/err"
  else
    env "$env" timeout 10 "$bin" --data-dir "$WORK/data" "$@" >/dev/null 2>"$WORK/err"
  fi
  printf '%s\t%s' "$?" "$(first_line "$WORK/err")"
}
n=0
while read -r env args; do
  [[ -z $env ]] && continue
  [[ $env != - && $env != *=* ]] && { args="$env $args"; env=-; }
  # shellcheck disable=SC2086
  e=$(run etcd "$env" $args)
  # shellcheck disable=SC2086
  c=$(run "$CAIRN" "$env" $args)
  n=$((n + 1))
  if [[ "$e" == "$c" ]]; then
    echo "ok   [$env $args] ${e//$'\t'/: }"
  else
    echo "FAIL [$env $args]"
    echo "     etcd : ${e//$'\t'/: }"
    echo "     cairn: ${c//$'\t'/: }"
    FAILED=1
  fi
done <<<"$CASES"
echo "$n cases"
exit $FAILED
