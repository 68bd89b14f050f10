#!/usr/bin/env bash
# Client-port TLS end to end: single-member cairn processes with etcd's TLS flags (command line, ETCD_*
# variables, --config-file), driven by the real etcdctl 3.4, curl, python3-grpcio and cairnctl; plain
# text and garbage on the TLS port; startup errors for bad certificate files; and cairnctl against a
# real etcd 3.4 with TLS and client-certificate authentication.
# Usage: e2e_tls.sh CAIRN_BIN CAIRNCTL_BIN   (ports 18100-18199)
set -uo pipefail
CAIRN=$1
CAIRNCTL=$2
BASE=18100
NAME=tls
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cluster.sh
source "$HERE/../lib/cluster.sh"
command -v curl >/dev/null || { echo "curl not installed: skipped"; exit 77; }
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 77; }

C=$WORK/certs
bash "$HERE/gen_certs.sh" "$C" || { echo "FAIL generating certificates"; FAILED=1; exit 1; }

# start_member KEY PORT FLAGS...: a one-member cluster (peer port PORT+1, plain) with extra flags.
start_member() {
  local key=$1 port=$2
  shift 2
  "$CAIRN" --name "$key" --data-dir "$WORK/$key" \
    --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
    --initial-cluster "$key=http://127.0.0.1:$((port + 1))" --heartbeat-interval 50 --election-timeout 500 \
    "$@" >>"$WORK/m-$key.log" 2>&1 &
  PIDS[$key]=$!
  disown $!
}
# wait_until DESC CMD...: CMD succeeds within 30 s, else the run fails.
wait_until() {
  local desc=$1 deadline=$((SECONDS + 30))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "FAIL $desc within 30 s"; FAILED=1; exit 1; }
    sleep 0.2
  done
}
tctl() { ETCDCTL_API=3 timeout 20 etcdctl --dial-timeout=2s --command-timeout=3s "$@" 2>&1; }
cctl() { timeout 20 "$CAIRNCTL" --dial-timeout=2s --command-timeout=3s "$@" 2>&1; }

# --- startup errors: etcd's wording and status 1 (unusable files and inconsistent flags, as etcd) ---
P=$((BASE + 90))
common=(--name bad --data-dir "$WORK/bad" --listen-client-urls "https://127.0.0.1:$P"
  --advertise-client-urls "https://127.0.0.1:$P" --listen-peer-urls "http://127.0.0.1:$((P + 1))"
  --initial-advertise-peer-urls "http://127.0.0.1:$((P + 1))" --initial-cluster "bad=http://127.0.0.1:$((P + 1))")
out=$(timeout 20 "$CAIRN" "${common[@]}" 2>&1); rc=$?
check "https without certificate: status" "$rc" 1  # etcd: a verification error, status 1
check_match "https without certificate: message" "$out" "TLS key/cert \(--cert-file, --key-file\) must be provided for client url https://127.0.0.1:$P with HTTPS scheme"
out=$(timeout 20 "$CAIRN" "${common[@]}" --cert-file "$C/nonexistent.pem" --key-file "$C/server-key.pem" 2>&1); rc=$?
check "missing cert file: status" "$rc" 1
check_match "missing cert file: message" "$out" "open $C/nonexistent.pem: no such file or directory"
out=$(timeout 20 "$CAIRN" "${common[@]}" --cert-file "$C/server.pem" --key-file "$C/client-key.pem" 2>&1); rc=$?
check "mismatched key: status" "$rc" 1
check_match "mismatched key: message" "$out" "tls: private key does not match public key"
cp "$C/server-key.pem" "$C/unreadable-key.pem" && chmod 000 "$C/unreadable-key.pem"
if [[ $(id -u) != 0 ]]; then
  out=$(timeout 20 "$CAIRN" "${common[@]}" --cert-file "$C/server.pem" --key-file "$C/unreadable-key.pem" 2>&1); rc=$?
  check "unreadable key: status" "$rc" 1
  check_match "unreadable key: message" "$out" "open $C/unreadable-key.pem: permission denied"
fi
out=$(timeout 20 "$CAIRN" "${common[@]}" --cert-file "$C/server.pem" --key-file "$C/server-key.pem" \
  --client-cert-auth --trusted-ca-file "$C/missing-ca.pem" 2>&1); rc=$?
check "missing trusted CA: status" "$rc" 1
check_match "missing trusted CA: message" "$out" "open $C/missing-ca.pem: no such file or directory"

# --- A: TLS with a server certificate (no client certificates) ---
PA=$BASE
start_member a "$PA" --listen-client-urls "https://127.0.0.1:$PA" --advertise-client-urls "https://127.0.0.1:$PA" \
  --cert-file "$C/server.pem" --key-file "$C/server-key.pem"
EA="https://127.0.0.1:$PA"
wait_until "member a answers /health over TLS" curl -sf --cacert "$C/ca.pem" "$EA/health"
check "etcdctl put over TLS" "$(tctl --endpoints "$EA" --cacert "$C/ca.pem" put tlskey tlsvalue)" "OK"
check "etcdctl get over TLS" "$(tctl --endpoints "$EA" --cacert "$C/ca.pem" get tlskey)" $'tlskey\ntlsvalue'
check "etcdctl get by localhost (DNS SAN)" "$(tctl --endpoints "https://localhost:$PA" --cacert "$C/ca.pem" get tlskey --print-value-only)" "tlsvalue"
out=$(tctl --endpoints "$EA" --cacert "$C/other-ca.pem" get tlskey); rc=$?
check "etcdctl with the wrong CA fails" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
out=$(tctl --endpoints "127.0.0.1:$PA" get tlskey); rc=$?
check "etcdctl in plain text on the TLS port fails" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
check_match "curl /health over TLS" "$(curl -s --cacert "$C/ca.pem" "$EA/health")" '"health":"true"'
check_match "curl /version over TLS" "$(curl -s --cacert "$C/ca.pem" "$EA/version")" '"etcdserver":"3\.6'
check_match "curl /metrics counts TLS failures" "$(curl -s --cacert "$C/ca.pem" "$EA/metrics")" 'cairn_net_tls_handshake_failures_total [1-9]'
check_match "JSON gateway over TLS" \
  "$(curl -s --cacert "$C/ca.pem" -X POST -d '{"key":"dGxza2V5"}' "$EA/v3/kv/range")" '"value":"dGxzdmFsdWU="'
check_match "curl --http2 over TLS still gets HTTP/1.1 (ALPN)" \
  "$(curl -s --http2 -o /dev/null -w '%{http_version}' --cacert "$C/ca.pem" "$EA/health")" '^1\.1$'
check "plain HTTP on the TLS port gets Go's 400" \
  "$(curl -s "http://127.0.0.1:$PA/health")" "Client sent an HTTP request to an HTTPS server."
# raw_exchange PORT BYTES: sends BYTES (printf %b) and prints what comes back until the server closes;
# status 124 if it does not close within 5 s.
raw_exchange() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "%b" "$1" >&3; cat <&3' "$1" "$2" 2>/dev/null
}
out=$(raw_exchange "$PA" 'garbage\x00\xff\xfe' | od -An -c | tr -s ' '); rc=${PIPESTATUS[0]}
check "garbage on the TLS port: closed" "$rc" 0
out=$(raw_exchange "$PA" '\x01\x02\x03' | wc -c); rc=${PIPESTATUS[0]}
check "binary garbage on the TLS port: closed without a reply" "$rc/$out" "0/0"
out=$(raw_exchange "$PA" '\x16\x03\x01\x00\x05hello' | wc -c); rc=${PIPESTATUS[0]}
check_match "broken TLS record: closed (at most an alert)" "$rc/$out" '^0/[0-7]$'
out=$(raw_exchange "$PA" 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'); rc=$?
check "HTTP/2 preface in clear: refused" "$rc/$out" $'0/HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.'
check "member a alive after garbage" "$(kill -0 "${PIDS[a]}" && echo alive)" "alive"
check "etcdctl still served after garbage" "$(tctl --endpoints "$EA" --cacert "$C/ca.pem" get tlskey --print-value-only)" "tlsvalue"
out=$(timeout 30 /usr/bin/python3 "$HERE/grpcio_tls.py" "127.0.0.1:$PA" "$C/ca.pem" tlskey tlsvalue 2>&1)
check "python3-grpcio ssl_channel_credentials" "$out" "grpcio over TLS: ok"
# cairnctl: --cacert makes a scheme-less endpoint TLS; https:// without trust fails like etcdctl.
check "cairnctl put over TLS" "$(cctl --endpoints "127.0.0.1:$PA" --cacert "$C/ca.pem" put ck cv)" "OK"
check "cairnctl get over https://" "$(cctl --endpoints "$EA" --cacert "$C/ca.pem" get ck --print-value-only)" "cv"
out=$(cctl --endpoints "$EA" get ck); rc=$?
check "cairnctl https:// with the system CAs fails" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
check_match "cairnctl names the handshake failure" "$out" 'authentication handshake failed: x509: certificate signed by unknown authority'
check "cairnctl --insecure-skip-tls-verify --insecure-transport=false" \
  "$(cctl --endpoints "127.0.0.1:$PA" --insecure-transport=false --insecure-skip-tls-verify get ck --print-value-only)" "cv"
out=$(cctl --endpoints "$EA" --cacert "$C/nonexistent.pem" get ck); rc=$?
check "cairnctl missing --cacert" "$rc/$out" "128/Error: open $C/nonexistent.pem: no such file or directory"
out=$(cctl --endpoints "$EA" --cert "$C/client.pem" get ck); rc=$?
check "cairnctl --cert without --key" "$rc/$out" "128/Error: KeyFile and CertFile must both be present[key: , cert: $C/client.pem]"
check_match "etcdctl lock (client-side recipe) over TLS" \
  "$(tctl --endpoints "$EA" --cacert "$C/ca.pem" lock tls-lock echo locked)" "locked"
if [[ ${CAIRN_TLS_LOCK:-1} = 1 ]]; then
  # The v3lock service (here through the gateway) calls the member's own TLS port
  # (net::Server::self_endpoint() with the loopback TLS context).
  check_match "v3lock service over TLS" \
    "$(curl -s --max-time 10 --cacert "$C/ca.pem" -X POST -d '{"name":"dGxzLWxvY2s="}' "$EA/v3/lock/lock")" '"key":"'
fi

# --- B: --client-cert-auth with --trusted-ca-file, set through ETCD_* variables ---
PB=$((BASE + 10))
EB="https://127.0.0.1:$PB"
ETCD_LISTEN_CLIENT_URLS=$EB ETCD_ADVERTISE_CLIENT_URLS=$EB ETCD_CERT_FILE=$C/server.pem \
  ETCD_KEY_FILE=$C/server-key.pem ETCD_CLIENT_CERT_AUTH=true ETCD_TRUSTED_CA_FILE=$C/ca.pem start_member b "$PB"
mtls=(--cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem")
wait_until "member b answers /health with a client certificate" \
  curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" "$EB/health"
check "client-cert-auth: etcdctl put with a certificate" "$(tctl --endpoints "$EB" "${mtls[@]}" put mk mv)" "OK"
check "client-cert-auth: etcdctl get with a certificate" "$(tctl --endpoints "$EB" "${mtls[@]}" get mk --print-value-only)" "mv"
out=$(tctl --endpoints "$EB" --cacert "$C/ca.pem" get mk); rc=$?
check "client-cert-auth: etcdctl without a certificate is refused" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
out=$(tctl --endpoints "$EB" --cacert "$C/ca.pem" --cert "$C/other-client.pem" --key "$C/other-client-key.pem" get mk); rc=$?
check "client-cert-auth: a certificate from another CA is refused" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
out=$(curl -s --cacert "$C/ca.pem" "$EB/health"); rc=$?
check "client-cert-auth: curl without a certificate fails" "$([[ $rc != 0 ]] && echo refused)" "refused"
check "client-cert-auth: cairnctl with a certificate" "$(cctl --endpoints "$EB" "${mtls[@]}" get mk --print-value-only)" "mv"
out=$(cctl --endpoints "$EB" --cacert "$C/ca.pem" get mk); rc=$?
check "client-cert-auth: cairnctl without a certificate is refused" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
check_match "client-cert-auth: cairnctl names the refusal" "$out" "error reading server preface: remote error: tls: certificate required"
out=$(cctl --endpoints "$EB" --cacert "$C/ca.pem" put mk2 mv2); rc=$?
check "client-cert-auth: cairnctl put without a certificate is refused" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
out=$(timeout 30 /usr/bin/python3 "$HERE/grpcio_tls.py" "127.0.0.1:$PB" "$C/ca.pem" mk mv "$C/client.pem" "$C/client-key.pem" 2>&1)
check "client-cert-auth: python3-grpcio with a certificate" "$out" "grpcio over TLS: ok"
out=$(timeout 30 /usr/bin/python3 "$HERE/grpcio_tls.py" "127.0.0.1:$PB" "$C/ca.pem" mk mv 2>&1); rc=$?
check "client-cert-auth: python3-grpcio without a certificate fails" "$rc" 1
# With auth on, a verified certificate's common name ("client") is the user when no token is sent.
tctl --endpoints "$EB" "${mtls[@]}" role add rw-mk >/dev/null
tctl --endpoints "$EB" "${mtls[@]}" role grant-permission rw-mk readwrite mk --prefix >/dev/null
tctl --endpoints "$EB" "${mtls[@]}" user add client --no-password >/dev/null
tctl --endpoints "$EB" "${mtls[@]}" user grant-role client rw-mk >/dev/null
tctl --endpoints "$EB" "${mtls[@]}" user add root:rootpw >/dev/null
check_match "client-cert-auth: auth enable" "$(tctl --endpoints "$EB" "${mtls[@]}" auth enable)" "Authentication Enabled"
check "client-cert-auth + auth: the certificate's CN is the user" \
  "$(tctl --endpoints "$EB" "${mtls[@]}" get mk --print-value-only)" "mv"
check "client-cert-auth + auth: the CN user writes its keys" "$(tctl --endpoints "$EB" "${mtls[@]}" put mk3 v3)" "OK"
check_match "client-cert-auth + auth: and nothing else" "$(tctl --endpoints "$EB" "${mtls[@]}" get other)" \
  "permission denied"
check_match "client-cert-auth + auth: gateway with the certificate" \
  "$(curl -s --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" -X POST -d '{"key":"b3RoZXI="}' "$EB/v3/kv/range")" \
  '"code":7'
# The v3lock service runs its recipe as the caller: the CN user may lock under its prefix only.
mtls_curl=(curl -s --max-time 10 --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" -X POST)
check_match "client-cert-auth + auth: v3lock acts as the CN user" \
  "$("${mtls_curl[@]}" -d '{"name":"bWstbG9jaw=="}' "$EB/v3/lock/lock")" '"key":"bWstbG9ja'
check_match "client-cert-auth + auth: v3lock refuses the CN user outside its keys" \
  "$("${mtls_curl[@]}" -d '{"name":"b3RoZXItbG9jaw=="}' "$EB/v3/lock/lock")" 'permission denied'
check "client-cert-auth + auth: a token wins over the certificate" \
  "$(tctl --endpoints "$EB" "${mtls[@]}" --user root:rootpw put other x)" "OK"
check "client-cert-auth + auth: auth disable" "$(tctl --endpoints "$EB" "${mtls[@]}" --user root:rootpw auth disable)" \
  "Authentication Disabled"

# --- C: --auto-tls (self-signed, under <data-dir>/fixtures/client) ---
PC=$((BASE + 20))
start_member c "$PC" --listen-client-urls "https://127.0.0.1:$PC" --advertise-client-urls "https://127.0.0.1:$PC" --auto-tls
wait_until "member c answers /health (auto TLS)" curl -sfk "https://127.0.0.1:$PC/health"
check "auto-tls: certificate written" "$(ls "$WORK/c/fixtures/client")" $'cert.pem\nkey.pem'
check "auto-tls: etcdctl --insecure-skip-tls-verify" \
  "$(tctl --endpoints "127.0.0.1:$PC" --insecure-transport=false --insecure-skip-tls-verify put ak av)" "OK"
check "auto-tls: the certificate verifies as its own CA" \
  "$(tctl --endpoints "https://127.0.0.1:$PC" --cacert "$WORK/c/fixtures/client/cert.pem" get ak --print-value-only)" "av"
check "auto-tls: cairnctl with the certificate as CA" \
  "$(cctl --endpoints "https://127.0.0.1:$PC" --cacert "$WORK/c/fixtures/client/cert.pem" get ak --print-value-only)" "av"
# The generated certificate names 127.0.0.1 only: cairnctl checks the host it dials.
out=$(cctl --endpoints "https://localhost:$PC" --cacert "$WORK/c/fixtures/client/cert.pem" get ak); rc=$?
check_match "cairnctl checks the certificate's names" "$rc/$out" '^1/.*x509: certificate is not valid for localhost'

# --- D: --config-file with client-transport-security ---
PD=$((BASE + 30))
cat >"$WORK/d.yaml" <<EOF
name: d
data-dir: $WORK/d
listen-client-urls: https://127.0.0.1:$PD
advertise-client-urls: https://127.0.0.1:$PD
listen-peer-urls: http://127.0.0.1:$((PD + 1))
initial-advertise-peer-urls: http://127.0.0.1:$((PD + 1))
initial-cluster: d=http://127.0.0.1:$((PD + 1))
client-transport-security:
  cert-file: $C/server.pem
  key-file: $C/server-key.pem
  client-cert-auth: true
  trusted-ca-file: $C/ca.pem
  auto-tls: false
peer-transport-security:
  cert-file:
  auto-tls: false
EOF
"$CAIRN" --config-file "$WORK/d.yaml" >>"$WORK/m-d.log" 2>&1 &
PIDS[d]=$!
disown $!
ED="https://127.0.0.1:$PD"
wait_until "member d answers /health (config file)" \
  curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" "$ED/health"
check "config file: etcdctl with a certificate" "$(tctl --endpoints "$ED" "${mtls[@]}" put dk dv)" "OK"
out=$(tctl --endpoints "$ED" --cacert "$C/ca.pem" get dk); rc=$?
check "config file: client-cert-auth enforced" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"

# --- cairnctl against the real etcd 3.4 with TLS and client-certificate authentication ---
if [[ -x /usr/bin/etcd ]]; then
  PE=$((BASE + 40))
  EE="https://127.0.0.1:$PE"
  /usr/bin/etcd --name e --data-dir "$WORK/etcd" --listen-client-urls "$EE" --advertise-client-urls "$EE" \
    --listen-peer-urls "http://127.0.0.1:$((PE + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((PE + 1))" \
    --initial-cluster "e=http://127.0.0.1:$((PE + 1))" --cert-file "$C/server.pem" --key-file "$C/server-key.pem" \
    --client-cert-auth --trusted-ca-file "$C/ca.pem" >>"$WORK/etcd.log" 2>&1 &
  BG+=($!)
  wait_until "etcd 3.4 answers over TLS" \
    curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client-key.pem" "$EE/health"
  check "cairnctl -> etcd (TLS, client cert): put" "$(cctl --endpoints "$EE" "${mtls[@]}" put ek ev)" "OK"
  check "cairnctl -> etcd (TLS, client cert): get" "$(cctl --endpoints "$EE" "${mtls[@]}" get ek --print-value-only)" "ev"
  check_match "cairnctl -> etcd: endpoint health" "$(cctl --endpoints "$EE" "${mtls[@]}" endpoint health)" "is healthy"
  out=$(cctl --endpoints "$EE" --cacert "$C/ca.pem" get ek); rc=$?
  check "cairnctl -> etcd without a client certificate is refused" "$rc/$(tail -1 <<<"$out")" "1/Error: context deadline exceeded"
  check_match "cairnctl -> etcd names the refusal" "$out" "remote error: tls: (bad certificate|certificate required)"
fi
exit $FAILED
