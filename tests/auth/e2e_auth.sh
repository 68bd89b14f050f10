#!/usr/bin/env bash
# Auth end to end on a 3-member cairn cluster (--snapshot-count 50, --bcrypt-cost 4), driven by etcdctl 3.4,
# cairnctl and curl: a token issued by one member works on the others (gateway Authorization header);
# forged tokens are refused; Lock and Election act with the caller's identity (a user without write on
# the lock prefix is refused); auth survives a member restart, a member brought back by a store snapshot
# from the leader, and `cairnctl snapshot restore` into a new member; members started with --auth-token
# jwt accept each other's tokens.
# Usage: e2e_auth.sh CAIRN CAIRNCTL   (ports BASE..BASE+80, default 18900)
set -uo pipefail
CAIRN=$1
CTL=$2
BASE=${BASE:-18900}
NAME=auth
EXTRA_FLAGS=(--snapshot-count 50 --experimental-snapshot-catchup-entries 10 --bcrypt-cost 4)
source "$(dirname "$0")/../lib/cluster.sh"
command -v curl >/dev/null || { echo "curl not installed: skipped"; exit 77; }

R=(--user root:rootpw)
A=(--user alice:alicepw)
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
b64() { printf %s "$1" | base64 -w0; }
gw() { curl -s -X POST "http://$1/v3/$2" -H "Authorization: $3" -d "$4"; }
# With auth on, etcdctl's endpoint health needs a user (its Get of "health" must be allowed or denied).
wait_auth() {
  local deadline=$((SECONDS + 30))
  until ETCDCTL_API=3 timeout 5 etcdctl --endpoints="$1" "${R[@]}" --command-timeout=2s endpoint health >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "FAIL $1 not healthy in 30 s"; FAILED=1; exit 1; }
    sleep 0.2
  done
}
# until_ok CMD...: runs CMD until it succeeds, for at most 30 s (a write right after a member was killed
# may meet an election: etcdctl reports the lost leader and does not retry).
until_ok() {
  local deadline=$((SECONDS + 30))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || { echo "FAIL not done in 30 s: $*"; FAILED=1; return 1; }
    sleep 0.2
  done
}
# wait_value EP KEY VALUE: a serializable read of KEY as bob on EP returns VALUE within 30 s (a member that
# installed a snapshot may still be applying the entries after it).
wait_value() {
  local deadline=$((SECONDS + 30))
  until [[ "$(EPS=$1 ctl --user bob:bobpw get "$2" --print-value-only --consistency=s)" == "$3" ]]; do
    (( SECONDS < deadline )) || return 0
    sleep 0.2
  done
}

for i in 1 2 3; do start "$i"; done
wait_healthy
check "user add root" "$(ctl user add root:rootpw)" "User root created"
ctl role add reader >/dev/null
ctl role grant-permission reader read /app/ --prefix >/dev/null
ctl role grant-permission reader readwrite /app/rw >/dev/null
ctl user add alice:alicepw >/dev/null
ctl user grant-role alice reader >/dev/null
ctl put /app/x 1 >/dev/null
check "auth enable" "$(ctl auth enable | grep -v '^{"level"')" "Authentication Enabled"

# A simple token from member 1 on members 2 and 3, through the gateway.
tok=$(gw "$(ep_of 1)" auth/authenticate "" '{"name":"alice","password":"alicepw"}' | jget 'd["token"]')
check_match "token issued" "$tok" '^[A-Za-z0-9]{32}$'
for m in 2 3; do
  out=$(gw "$(ep_of $m)" kv/range "$tok" "{\"key\":\"$(b64 /app/x)\"}")
  check "token from m1 reads on m$m" "$(echo "$out" | jget 'd["kvs"][0]["value"]')" "$(b64 1)"
done
check_match "forged token" "$(gw "$(ep_of 2)" kv/range forged "{\"key\":\"$(b64 /app/x)\"}")" '"code":16'
check_match "no token" "$(gw "$(ep_of 2)" kv/range "" "{\"key\":\"$(b64 /app/x)\"}")" 'user name is empty'
check_match "denied key" "$(gw "$(ep_of 3)" kv/range "$tok" "{\"key\":\"$(b64 /other)\"}")" '"code":7'
check_match "auth status" "$(gw "$(ep_of 1)" auth/status "$tok" '{}')" '"enabled":true'
check_match "wrong password" "$(gw "$(ep_of 1)" auth/authenticate "" '{"name":"alice","password":"x"}')" \
  'authentication failed, invalid user ID or password'
check_match "unknown user" "$(gw "$(ep_of 1)" auth/authenticate "" '{"name":"nobody","password":"x"}')" \
  'authentication failed, invalid user ID or password'
check_match "non-root defragment" "$(ctl "${A[@]}" defrag)" 'auth: permission denied'
check_match "non-root member add" "$(ctl "${A[@]}" member add x --peer-urls=http://127.0.0.1:1)" 'permission denied'

# Lock and Election run as the caller: alice may not write the lock's keys.
check_match "lock as alice denied" "$(ctl "${A[@]}" lock /locks/l1 echo held)" 'permission denied'
check "lock as root" "$(ctl "${R[@]}" lock /locks/l1 echo held)" "held"
check_match "campaign as alice denied" "$(timeout 10 env ETCDCTL_API=3 etcdctl --endpoints="$ALL" "${A[@]}" elect e1 p1 2>&1)" \
  'permission denied'
ctl "${R[@]}" role grant-permission reader readwrite /locks/ --prefix >/dev/null
check "lock as alice once granted" "$(ctl "${A[@]}" lock /locks/l1 echo held)" "held"

# Restart: the auth state is in the store.
kill "${PIDS[1]}"
for _ in $(seq 100); do kill -0 "${PIDS[1]}" 2>/dev/null || break; sleep 0.1; done
start 1
wait_auth "$(ep_of 1)"
check "alice reads after restart" "$(EPS=$(ep_of 1) ctl "${A[@]}" get /app/x --print-value-only)" "1"
check_match "still denied after restart" "$(EPS=$(ep_of 1) ctl "${A[@]}" get /other)" 'permission denied'

# Snapshot: member 3 misses more entries than the leader keeps, and gets the store.
kill "${PIDS[3]}"
for _ in $(seq 100); do kill -0 "${PIDS[3]}" 2>/dev/null || break; sleep 0.1; done
EPS=$(ep_of 1),$(ep_of 2) until_ok ctl "${R[@]}" user add bob:bobpw
EPS=$(ep_of 1),$(ep_of 2) until_ok ctl "${R[@]}" user grant-role bob reader
for i in $(seq 1 120); do EPS=$(ep_of 1),$(ep_of 2) until_ok ctl "${R[@]}" put "/app/k$i" "v$i"; done
start 3
wait_auth "$(ep_of 3)"
for _ in $(seq 100); do grep -q "installed the store snapshot" "$WORK/m3.log" && break; sleep 0.2; done
check_match "member 3 installed a snapshot" "$(grep -c 'installed the store snapshot' "$WORK/m3.log")" '^[1-9]'
wait_value "$(ep_of 3)" /app/k120 v120
check "bob (added while m3 was down) on m3" "$(EPS=$(ep_of 3) ctl --user bob:bobpw get /app/k120 --print-value-only --consistency=s)" "v120"
check_match "denied on m3" "$(EPS=$(ep_of 3) ctl --user bob:bobpw get /other --consistency=s)" 'permission denied'

# Snapshot restore into a new single member: users, roles and the enabled flag come along.
EPS=$(ep_of 1) timeout 60 "$CTL" --endpoints="$(ep_of 1)" "${R[@]}" snapshot save "$WORK/snap.db" >/dev/null 2>&1
check "snapshot save as root" "$?" "0"
check_match "snapshot save as alice" "$(timeout 60 "$CTL" --endpoints="$(ep_of 1)" "${A[@]}" snapshot save "$WORK/x.db" 2>&1)" \
  'auth: permission denied'
RP=$((BASE + 51)) RC=$((BASE + 50))
"$CTL" snapshot restore "$WORK/snap.db" --name r1 --data-dir "$WORK/r1" --initial-cluster "r1=http://127.0.0.1:$RP" \
  --initial-advertise-peer-urls "http://127.0.0.1:$RP" >/dev/null 2>&1
check "snapshot restore" "$?" "0"
"$CAIRN" --name r1 --data-dir "$WORK/r1" --listen-client-urls "http://127.0.0.1:$RC" \
  --advertise-client-urls "http://127.0.0.1:$RC" --listen-peer-urls "http://127.0.0.1:$RP" \
  --initial-advertise-peer-urls "http://127.0.0.1:$RP" --initial-cluster "r1=http://127.0.0.1:$RP" \
  --heartbeat-interval 50 --election-timeout 500 >>"$WORK/mr1.log" 2>&1 &
PIDS[r1]=$!
disown $!
wait_auth "127.0.0.1:$RC"
check_match "restored: auth enabled" "$(EPS=127.0.0.1:$RC ctl get /app/x)" 'user name is empty'
check "restored: alice reads" "$(EPS=127.0.0.1:$RC ctl "${A[@]}" get /app/x --print-value-only)" "1"
check "restored: users" "$(EPS=127.0.0.1:$RC ctl "${R[@]}" user list | tr '\n' ' ')" "alice bob root "

# JWT: two members with the same key pair accept each other's tokens; a token signed by another key does not.
for i in 1 2 3; do kill "${PIDS[$i]}" 2>/dev/null; done
kill "${PIDS[r1]}"
for p in "${PIDS[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/jwt.key" 2>/dev/null
openssl pkey -in "$WORK/jwt.key" -pubout -out "$WORK/jwt.pub" 2>/dev/null
JWT="jwt,pub-key=$WORK/jwt.pub,priv-key=$WORK/jwt.key,sign-method=ES256,ttl=10m"
EXTRA_FLAGS=(--auth-token "$JWT" --bcrypt-cost 4)
for i in 1 2 3; do start "$i"; done
wait_auth "$ALL"
jt=$(gw "$(ep_of 1)" auth/authenticate "" '{"name":"alice","password":"alicepw"}' | jget 'd["token"]')
check_match "jwt issued" "$jt" '^eyJ[^.]+\.[^.]+\.[^.]+$'
check "jwt from m1 reads on m3" "$(gw "$(ep_of 3)" kv/range "$jt" "{\"key\":\"$(b64 /app/x)\"}" | jget 'd["kvs"][0]["value"]')" "$(b64 1)"
check_match "tampered jwt" "$(gw "$(ep_of 2)" kv/range "${jt:0:40}x${jt:41}" "{\"key\":\"$(b64 /app/x)\"}")" '"code":16'
alt=A
[[ ${jt: -1} == A ]] && alt=B
check_match "re-spelled jwt" "$(gw "$(ep_of 2)" kv/range "${jt%?}$alt" "{\"key\":\"$(b64 /app/x)\"}")" '"code":16'
check "etcdctl with jwt" "$(ctl "${A[@]}" get /app/x --print-value-only)" "1"
ctl "${R[@]}" user passwd alice --interactive=false <<<"newpw" >/dev/null
check_match "jwt void after password change" "$(gw "$(ep_of 2)" kv/range "$jt" "{\"key\":\"$(b64 /app/x)\"}")" '"code":16'
check "auth disable" "$(ctl "${R[@]}" auth disable)" "Authentication Disabled"
echo "done: FAILED=$FAILED"
