#!/usr/bin/env bash
# Generates the certificates the TLS tests use, into DIR (created): two CAs, and for each a server
# certificate (valid for 127.0.0.1 and localhost, server and client use: members use theirs both ways)
# and a client certificate. ECDSA P-256, valid two days.
#   ca.pem          server.pem/server-key.pem          client.pem/client-key.pem
#   other-ca.pem    other-server.pem/other-server-key.pem  other-client.pem/other-client-key.pem
# and two more member certificates from ca: member2.pem (CN member2, IP SAN 127.0.0.2) and member3.pem
# (CN member3, IP SAN 127.0.0.3), for the peer identity rules; revoked.pem, crl.pem, empty-crl.pem (below).
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
leaf member2 ca member2 $'subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature'
leaf member3 ca member3 $'subjectAltName=IP:127.0.0.3\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature'
# Revocation: revoked.pem (a client certificate from ca) is listed in crl.pem; empty-crl.pem lists none.
leaf revoked ca revoked "$client_ext"
printf '[ ca ]\ndefault_ca = test\n[ test ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n' >ca.cnf
: >index.txt
echo 01 >crlnumber
openssl ca -config ca.cnf -gencrl -keyfile ca-key.pem -cert ca.pem -out empty-crl.pem 2>/dev/null
openssl ca -config ca.cnf -revoke revoked.pem -keyfile ca-key.pem -cert ca.pem 2>/dev/null
openssl ca -config ca.cnf -gencrl -keyfile ca-key.pem -cert ca.pem -out crl.pem 2>/dev/null
rm -f ca.cnf index.txt* crlnumber*
