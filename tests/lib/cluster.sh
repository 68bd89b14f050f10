# Shared by the end-to-end scripts (tests/*/e2e_*.sh): a three-member cairn cluster on loopback driven
# by etcdctl 3.4, and small assertion helpers. Source it after setting:
#   CAIRN      path to the cairn binary
#   BASE       first client port (member N: client BASE+10(N-1), peer +1); keep it below 32768, the start
#              of the kernel's ephemeral range, where a client socket could already hold the port
#   NAME       a short name for the temp dir and the cluster token
#   EXTRA_FLAGS (optional array) more cairn flags for every member
# It exits 77 (skipped) when etcdctl is missing. Every process started through start() or recorded in
# BG is stopped by pid on exit (SIGTERM, then SIGKILL after 6 s); a sanitizer report in a member's log
# fails the run; on failure the logs are printed and kept.
command -v etcdctl >/dev/null || { echo "etcdctl not installed: skipped"; exit 77; }
WORK=$(mktemp -d "/tmp/cairn-e2e-$NAME.XXXXXX")
declare -A PIDS
BG=()
FAILED=0
[[ -n ${EXTRA_FLAGS+x} ]] || EXTRA_FLAGS=()
cport() { echo $((BASE + 10 * ($1 - 1))); }
pport() { echo $((BASE + 10 * ($1 - 1) + 1)); }
ep_of() { echo "127.0.0.1:$(cport "$1")"; }
CLUSTER="m1=http://127.0.0.1:$(pport 1),m2=http://127.0.0.1:$(pport 2),m3=http://127.0.0.1:$(pport 3)"
ALL=$(ep_of 1),$(ep_of 2),$(ep_of 3)

start() { # start N: member mN (again, on its data dir, after a stop); EXTRA_FLAGS come last, so they win
  "$CAIRN" --name "m$1" --data-dir "$WORK/m$1" \
    --listen-client-urls "http://$(ep_of "$1")" --advertise-client-urls "http://$(ep_of "$1")" \
    --listen-peer-urls "http://127.0.0.1:$(pport "$1")" --initial-advertise-peer-urls "http://127.0.0.1:$(pport "$1")" \
    --initial-cluster "$CLUSTER" --initial-cluster-token "e2e-$NAME" --heartbeat-interval 50 --election-timeout 500 \
    "${EXTRA_FLAGS[@]}" >>"$WORK/m$1.log" 2>&1 &
  PIDS[$1]=$!
  disown $!
}

cleanup() {
  for p in "${BG[@]}" "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 60); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive = 0 ]] && break
    sleep 0.1
  done
  for p in "${BG[@]}" "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  local san="ERROR: (Address|Leak)Sanitizer|runtime error:"
  if grep -qE "$san" "$WORK"/m*.log 2>/dev/null; then
    grep -hE -A12 "$san" "$WORK"/m*.log | head -60
    echo "FAIL sanitizer report in the member logs"
    FAILED=1
  fi
  if [[ $FAILED = 0 ]]; then rm -rf "$WORK"; else
    for f in "$WORK"/*.log "$WORK"/*.out; do [[ -f $f ]] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }; done
    echo "logs kept in $WORK"
  fi
  exit $FAILED
}
trap cleanup EXIT

ctl() { ETCDCTL_API=3 timeout 20 etcdctl --endpoints="${EPS:-$ALL}" --command-timeout=10s "$@" 2>&1; }
check() { # check NAME ACTUAL EXPECTED
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$3] got [$2]"; FAILED=1; fi
}
check_match() { # check_match NAME ACTUAL REGEX
  if [[ "$2" =~ $3 ]]; then echo "ok   $1"; else echo "FAIL $1: expected /$3/ got [$2]"; FAILED=1; fi
}
wait_healthy() { # wait_healthy [ENDPOINTS]: at most 30 s, else the run fails
  local deadline=$((SECONDS + 30))
  until ETCDCTL_API=3 timeout 5 etcdctl --endpoints="${1:-$ALL}" --command-timeout=2s endpoint health >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "FAIL ${1:-$ALL} not healthy in 30 s"; FAILED=1; exit 1; }
    sleep 0.2
  done
}
retry() { # retry SECONDS REGEX CMD...: until CMD's output matches REGEX; prints the last output
  local deadline=$((SECONDS + $1)) re=$2 out
  shift 2
  while :; do
    out=$("$@")
    [[ $out =~ $re ]] && break
    (( SECONDS < deadline )) || break
    sleep 0.3
  done
  echo "$out"
}
leader_num() { # leader_num [ENDPOINTS]: member number of the current leader
  local ep
  ep=$(EPS=${1:-$ALL} ctl endpoint status | awk -F', ' '$5 == "true" {print $1}' | head -1)
  [[ -n $ep ]] && echo $(( ( $(echo "$ep" | cut -d: -f2) - BASE ) / 10 + 1 ))
}
