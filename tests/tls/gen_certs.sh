#!/usr/bin/env bash
# Generates the certificates the TLS tests use, into DIR (created): two CAs, and for each a server
# certificate (valid for 127.0.0.1 and localhost, server and client use: members use theirs both ways)
# and a client certificate. ECDSA P-256, valid two days.
#   ca.pem          server.pem/server-key.pem          client.pem/client-key.pem
#   other-ca.pem    other-server.pem/other-server-key.pem  other-client.pem/other-client-key.pem
set -euo pipefail
dir=${1:?usage: gen_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # ca NAME
  key "$1-key.pem"
  openssl req -x509 -new -key "$1-key.pem" -out "$1.pem" -days 2 -subj "/CN=cairn test $1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {  # leaf NAME CA CN EXT
  key "$1-key.pem"
  openssl req -new -key "$1-key.pem" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
server_ext=$'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature'
client_ext=$'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature'
ca ca
ca other-ca
leaf server ca server "$server_ext"
leaf client ca client "$client_ext"
leaf other-server other-ca server "$server_ext"
leaf other-client other-ca client "$client_ext"
