#!/usr/bin/env bash
# Peer TLS end to end: a three-member cairn cluster with https:// peer URLs, --peer-cert-file /
# --peer-key-file / --peer-trusted-ca-file / --peer-client-cert-auth (and TLS client URLs) forms and
# replicates; a fourth member whose peer certificate another CA signed is added but cannot join.
# Usage: e2e_tls_peer.sh CAIRN_BIN   (ports 18200-18299)
set -uo pipefail
CAIRN=$1
BASE=18200
NAME=tlspeer
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cluster.sh
source "$HERE/../lib/cluster.sh"
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }

C=$WORK/certs
bash "$HERE/gen_certs.sh" "$C" || { echo "FAIL generating certificates"; FAILED=1; exit 1; }
PEERS="m1=https://127.0.0.1:$(pport 1),m2=https://127.0.0.1:$(pport 2),m3=https://127.0.0.1:$(pport 3)"
TLS_ALL="https://$(ep_of 1),https://$(ep_of 2),https://$(ep_of 3)"

# start_tls N STATE CLUSTER CERT: member mN with TLS on both ports; CERT names its peer certificate.
start_tls() {
  "$CAIRN" --name "m$1" --data-dir "$WORK/m$1" \
    --listen-client-urls "https://$(ep_of "$1")" --advertise-client-urls "https://$(ep_of "$1")" \
    --cert-file "$C/server.pem" --key-file "$C/server-key.pem" \
    --listen-peer-urls "https://127.0.0.1:$(pport "$1")" --initial-advertise-peer-urls "https://127.0.0.1:$(pport "$1")" \
    --peer-cert-file "$C/$4.pem" --peer-key-file "$C/$4-key.pem" --peer-trusted-ca-file "$C/ca.pem" \
    --peer-client-cert-auth --initial-cluster "$3" --initial-cluster-state "$2" \
    --initial-cluster-token e2e-tlspeer --heartbeat-interval 50 --election-timeout 500 >>"$WORK/m$1.log" 2>&1 &
  PIDS[$1]=$!
  disown $!
}
tctl() { ETCDCTL_API=3 timeout 20 etcdctl --cacert "$C/ca.pem" --dial-timeout=2s --command-timeout=5s "$@" 2>&1; }
wait_tls_healthy() { # wait_tls_healthy ENDPOINTS: at most 30 s
  local deadline=$((SECONDS + 30))
  until tctl --endpoints "$1" endpoint health >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "FAIL $1 not healthy in 30 s"; FAILED=1; exit 1; }
    sleep 0.2
  done
}

for n in 1 2 3; do start_tls $n new "$PEERS" server; done
wait_tls_healthy "$TLS_ALL"
check "TLS cluster: put on m1" "$(tctl --endpoints "https://$(ep_of 1)" put pk pv)" "OK"
check "TLS cluster: linearizable get on m3" "$(tctl --endpoints "https://$(ep_of 3)" get pk --print-value-only)" "pv"
check "TLS cluster: three started members" \
  "$(tctl --endpoints "https://$(ep_of 2)" member list | grep -c ', started, m[123], https://')" 3
for i in $(seq 50); do tctl --endpoints "https://$(ep_of $((i % 3 + 1)))" put "k$i" "v$i" >/dev/null; done
check "TLS cluster: 50 writes replicated to m2" \
  "$(tctl --endpoints "https://$(ep_of 2)" get k --prefix --keys-only --consistency=s | grep -c .)" 50

# A fourth member whose peer certificate the cluster's CA did not sign: added, never joins.
out=$(tctl --endpoints "$TLS_ALL" member add m4 --peer-urls "https://127.0.0.1:$(pport 4)")
check_match "member add m4" "$out" "Member [0-9a-f]+ added"
start_tls 4 existing "$PEERS,m4=https://127.0.0.1:$(pport 4)" other-server
sleep 5
check_match "m4 (wrong CA) stays unstarted" "$(tctl --endpoints "$TLS_ALL" member list)" ", unstarted, , https://127.0.0.1:$(pport 4)"
out=$(tctl --endpoints "https://$(ep_of 4)" get pk --print-value-only); rc=$?
check "m4 (wrong CA) cannot serve linearizable reads" "$([[ $rc != 0 ]] && echo refused)" "refused"
check "the cluster still serves writes" "$(tctl --endpoints "https://$(ep_of 1)" put after m4)" "OK"
exit $FAILED
