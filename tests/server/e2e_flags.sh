#!/usr/bin/env bash
# End-to-end: etcd's command lines, manifests and config files start cairn members that serve.
#   usage: e2e_flags.sh path/to/cairn        ports 29710-29712 (the config file's), 29800-29849
#   1. a kubeadm-style static-pod command line with client and peer TLS and --listen-metrics-urls;
#   2. tests/server/data/etcd-3.4-all-keys.yml, a config file setting every key etcd 3.4 knows;
#   3. URL forms: port 0, unix:// client and peer URLs (a 3-member cluster whose members talk over unix
#      sockets), etcdctl and curl on the sockets;
#   4. the gateway's /v3beta and /v3alpha prefixes and /v3/kv/lease/leases, /health under an alarm, the
#      etcd_mvcc_*_total counters (the same request sequence gives etcd 3.4.23's numbers), --max-txn-ops,
#      --log-outputs to a file;
#   5. `cairn gateway start` in front of a member, `cairn grpc-proxy` refused, refused values.
# Exits 77 (skipped) without etcdctl or curl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=$(realpath "${1:?usage: e2e_flags.sh path/to/cairn}")
HERE=$(cd "$(dirname "$0")" && pwd)
command -v curl >/dev/null || { echo "curl not installed: skipped"; exit 77; }
BASE=29840  # cluster.sh's members are not used here; its helpers are
NAME=flags
source "$HERE/../lib/cluster.sh"

# Logs are $WORK/m-*.log, so that cluster.sh's check for sanitizer reports reads them.
bg() { # bg NAME ARGS...: start cairn in the background from $WORK/NAME (its cwd), logging to m-NAME.log
  local name=$1
  shift
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && exec "$CAIRN" "$@") >>"$WORK/m-$name.log" 2>&1 &
  PIDS[$name]=$!
  disown $!
}
wait_url() { # wait_url URL [CURL ARGS...]: /health answers 200 within 30 s
  local url=$1
  shift
  local deadline=$((SECONDS + 30))
  until curl -fs --max-time 2 "$@" "$url" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "FAIL $url not healthy in 30 s"; FAILED=1; return 1; }
    sleep 0.2
  done
}
post() { curl -s --max-time 10 -X POST "$1" -d "$2"; }
metric() { curl -s --max-time 5 "$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }

# ---- 1. kubeadm's etcd static-pod command line (kubernetes/cmd/kubeadm/app/phases/etcd/local.go) ----
C=$WORK/pki
bash "$HERE/../tls/gen_certs.sh" "$C" || { echo "FAIL generating certificates"; FAILED=1; exit 1; }
bg kubeadm --advertise-client-urls=https://127.0.0.1:29800 --cert-file="$C/server.pem" --client-cert-auth=true \
  --data-dir="$WORK/kubeadm/data" --experimental-initial-corrupt-check=true \
  --experimental-watch-progress-notify-interval=5s --initial-advertise-peer-urls=https://127.0.0.1:29801 \
  --initial-cluster=node1=https://127.0.0.1:29801 --key-file="$C/server-key.pem" \
  --listen-client-urls=https://127.0.0.1:29800 --listen-metrics-urls=http://127.0.0.1:29802 \
  --listen-peer-urls=https://127.0.0.1:29801 --name=node1 --peer-cert-file="$C/server.pem" \
  --peer-client-cert-auth=true --peer-key-file="$C/server-key.pem" --peer-trusted-ca-file="$C/ca.pem" \
  --snapshot-count=10000 --trusted-ca-file="$C/ca.pem"
wait_url http://127.0.0.1:29802/health
TLS=(--cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem")
kctl() { ETCDCTL_API=3 timeout 20 etcdctl --endpoints=https://127.0.0.1:29800 "${TLS[@]}" --command-timeout=10s "$@" 2>&1; }
check "kubeadm: put over TLS" "$(kctl put /registry/pods/a x)" "OK"
check "kubeadm: get over TLS" "$(kctl get /registry/pods/a --print-value-only)" "x"
check "kubeadm: probe endpoint" "$(curl -s --max-time 5 http://127.0.0.1:29802/health)" '{"health":"true"}'
check_match "kubeadm: metrics endpoint" "$(curl -s --max-time 5 http://127.0.0.1:29802/metrics)" "etcd_server_has_leader 1"
check "kubeadm: metrics port serves no KV" "$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:29802/v3/kv/range -d '{}')" "404"
check_match "kubeadm: initial corruption check ran" "$(cat "$WORK/m-kubeadm.log")" "initial corruption check passed"

# ---- 2. a config file with every etcd 3.4 key ----
mkdir -p "$WORK/allkeys"
bg allkeys --config-file "$HERE/data/etcd-3.4-all-keys.yml"
wait_url http://127.0.0.1:29710/health
A=http://127.0.0.1:29710
check "config file: put" "$(EPS=127.0.0.1:29710 ctl put k v)" "OK"
check "config file: get" "$(EPS=127.0.0.1:29710 ctl get k --print-value-only)" "v"
check "config file: metrics URL" "$(curl -s --max-time 5 http://127.0.0.1:29712/health)" '{"health":"true"}'
check "config file: its name" "$(EPS=127.0.0.1:29710 ctl member list | cut -d, -f3 | tr -d ' ')" "allkeys"
check_match "config file: --metrics=extensive histograms" "$(curl -s --max-time 5 $A/metrics)" \
  'grpc_server_handling_seconds_bucket\{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary",le="\+Inf"\} 1'
check "config file: data dir relative to the working directory" "$([[ -d $WORK/allkeys/allkeys.etcd/member/wal ]] && echo yes)" "yes"

# ---- 3. URL forms: port 0, unix:// client and peer sockets ----
UCLUSTER="u1=unix://localhost:29821,u2=unix://localhost:29822,u3=unix://localhost:29823"
mkdir -p "$WORK/unix"
for i in 1 2 3; do
  (cd "$WORK/unix" && exec "$CAIRN" --name "u$i" --data-dir "u$i.etcd" \
    --listen-client-urls "http://127.0.0.1:0,unix://localhost:2981$i" --advertise-client-urls "unix://localhost:2981$i" \
    --listen-peer-urls "unix://localhost:2982$i" --initial-advertise-peer-urls "unix://localhost:2982$i" \
    --initial-cluster "$UCLUSTER" --heartbeat-interval 50 --election-timeout 500) >>"$WORK/m-u$i.log" 2>&1 &
  PIDS[u$i]=$!
  disown $!
done
uctl() { (cd "$WORK/unix" && ETCDCTL_API=3 timeout 20 etcdctl --endpoints="$1" --command-timeout=10s "${@:2}" 2>&1); }
UEPS=unix://localhost:29811,unix://localhost:29812,unix://localhost:29813
deadline=$((SECONDS + 30))
until uctl "$UEPS" endpoint health >/dev/null 2>&1; do
  (( SECONDS < deadline )) || { echo "FAIL unix cluster not healthy in 30 s"; FAILED=1; break; }
  sleep 0.2
done
check "unix: put through one member's socket" "$(uctl unix://localhost:29811 put uk uv)" "OK"
check "unix: replicated over unix peer sockets" "$(uctl unix://localhost:29813 get uk --print-value-only)" "uv"
check "unix: curl on the socket" "$(cd "$WORK/unix" && curl -s --max-time 5 --unix-socket localhost:29812 http://x/health)" '{"health":"true"}'
port=$(grep -o 'serving clients on 127.0.0.1:[0-9]*' "$WORK/m-u1.log" | head -1 | sed 's/.*://')
check_match "port 0: the startup line names the port" "${port:-none}" '^[0-9]+$'
[[ -n $port ]] && check "port 0: serves there" "$(curl -s --max-time 5 "http://127.0.0.1:$port/health")" '{"health":"true"}'

# ---- 4. gateway prefixes, /health under an alarm, mvcc counters, --max-txn-ops, --log-outputs ----
S=http://127.0.0.1:29830
bg single --name s --data-dir "$WORK/single/data" --listen-client-urls $S --advertise-client-urls $S \
  --listen-peer-urls http://127.0.0.1:29831 --initial-advertise-peer-urls http://127.0.0.1:29831 \
  --initial-cluster s=http://127.0.0.1:29831 --max-txn-ops=2 --log-outputs="$WORK/single/cairn.log"
wait_url $S/health
check_match "--log-outputs: the log went to the file" "$(cat "$WORK/single/cairn.log")" "serving clients on 127.0.0.1:29830"
check_match "/v3/kv/put" "$(post $S/v3/kv/put '{"key":"Zm9v","value":"YmFy"}')" '"revision":"2"'
check_match "/v3beta/kv/put" "$(post $S/v3beta/kv/put '{"key":"Zm9v","value":"YmFy"}')" '"revision":"3"'
check_match "/v3alpha/kv/range" "$(post $S/v3alpha/kv/range '{"key":"Zm9v"}')" '"value":"YmFy"'
lease=$(post $S/v3/lease/grant '{"TTL":60}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
check_match "/v3/kv/lease/leases (etcd 3.4's path)" "$(post $S/v3/kv/lease/leases '{}')" "\"ID\":\"$lease\""
check_match "/v3beta/lease/leases" "$(post $S/v3beta/lease/leases '{}')" "\"ID\":\"$lease\""
post $S/v3/lease/revoke "{\"ID\":\"$lease\"}" >/dev/null
# etcd 3.4.23 counts these requests as put 4, delete 1, range 3, txn 1 (two puts above, a range above,
# then a two-op txn, a one-op txn, a get and a delete).
post $S/v3/kv/txn '{"success":[{"requestPut":{"key":"YQ==","value":"Yg=="}},{"requestRange":{"key":"YQ=="}}]}' >/dev/null
post $S/v3/kv/txn '{"success":[{"requestPut":{"key":"YQ==","value":"Yg=="}}]}' >/dev/null
EPS=127.0.0.1:29830 ctl get foo >/dev/null
EPS=127.0.0.1:29830 ctl del a >/dev/null
check "etcd_mvcc_put_total" "$(metric $S etcd_mvcc_put_total)" "4"
check "etcd_mvcc_delete_total" "$(metric $S etcd_mvcc_delete_total)" "1"
check "etcd_mvcc_range_total" "$(metric $S etcd_mvcc_range_total)" "3"
check "etcd_mvcc_txn_total" "$(metric $S etcd_mvcc_txn_total)" "1"
check_match "grpc_server_handled_total" "$(curl -s --max-time 5 $S/metrics)" \
  'grpc_server_handled_total\{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"\} 1'
check "--metrics=basic: no histograms" "$(curl -s --max-time 5 $S/metrics | grep -c grpc_server_handling_seconds)" "0"
check_match "--max-txn-ops=2" "$(printf '\nput a 1\nput b 2\nput c 3\n\n\n' | EPS=127.0.0.1:29830 ctl txn)" \
  "etcdserver: too many operations in txn request"
member=$(EPS=127.0.0.1:29830 ctl member list -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["members"][0]["ID"])')
post $S/v3/maintenance/alarm "{\"action\":\"ACTIVATE\",\"alarm\":\"NOSPACE\",\"memberID\":\"$member\"}" >/dev/null
check "/health under NOSPACE: 503" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $S/health)" "503"
check "/health under NOSPACE: body" "$(curl -s --max-time 5 $S/health)" '{"health":"false","reason":"ALARM NOSPACE"}'
EPS=127.0.0.1:29830 ctl alarm disarm >/dev/null
check "/health after disarm" "$(curl -s --max-time 5 $S/health)" '{"health":"true"}'

# ---- 5. cairn gateway start; grpc-proxy and unsupported values refused ----
"$CAIRN" gateway start --endpoints=127.0.0.1:29830 --listen-addr=127.0.0.1:29835 >>"$WORK/m-gateway.log" 2>&1 &
PIDS[gateway]=$!
disown $!
wait_url http://127.0.0.1:29835/health
check "gateway: etcdctl through it" "$(EPS=127.0.0.1:29835 ctl put via-gateway yes)" "OK"
check "gateway: read back" "$(EPS=127.0.0.1:29830 ctl get via-gateway --print-value-only)" "yes"
out=$("$CAIRN" grpc-proxy start --endpoints=127.0.0.1:29830 2>&1); code=$?
check "grpc-proxy refused" "$code" "1"
check_match "grpc-proxy says why" "$out" "not supported by cairn"
for bad in --enable-v2=true --proxy=on --enable-pprof=true --discovery=https://discovery.etcd.io/x; do
  out=$("$CAIRN" --data-dir "$WORK/refused" "$bad" 2>&1); code=$?
  check "$bad refused (status 1)" "$code" "1"
  check_match "$bad: the message names it" "$out" "${bad%%=*}"
done
