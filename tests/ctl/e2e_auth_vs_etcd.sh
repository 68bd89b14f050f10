#!/usr/bin/env bash
# The auth command family (user, role, auth) and --user/--password against a real etcd 3.4: cairnctl's
# output and exit codes are compared with etcdctl's for the reads and the errors, and checked against
# etcdctl 3.4's texts for the mutations, in every output format.
# Usage: e2e_auth_vs_etcd.sh CAIRNCTL ETCD   (ports PORT, PORT+1; default 17460)
set -uo pipefail
CTL=$1
ETCD=$2
PORT=${PORT:-17460}
command -v etcdctl >/dev/null || { echo "etcdctl not installed: skipped"; exit 77; }
WORK=$(mktemp -d /tmp/cairn-e2e-ctlauth.XXXXXX)
FAILED=0
EP=127.0.0.1:$PORT
"$ETCD" --name a1 --data-dir "$WORK/etcd" --listen-client-urls "http://$EP" --advertise-client-urls "http://$EP" \
  --listen-peer-urls "http://127.0.0.1:$((PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((PORT + 1))" \
  --initial-cluster "a1=http://127.0.0.1:$((PORT + 1))" >"$WORK/etcd.log" 2>&1 &
EPID=$!
cleanup() {
  kill "$EPID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$EPID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$EPID" 2>/dev/null
  if [[ $FAILED = 0 ]]; then rm -rf "$WORK"; else tail -n 20 "$WORK/etcd.log"; echo "logs kept in $WORK"; fi
  exit $FAILED
}
trap cleanup EXIT
deadline=$((SECONDS + 30))
until ETCDCTL_API=3 etcdctl --endpoints=$EP endpoint health >/dev/null 2>&1; do
  (( SECONDS < deadline )) || { echo "FAIL etcd not healthy in 30 s"; FAILED=1; exit 1; }
  sleep 0.2
done

# Both print the output with trailing newlines trimmed and one added, then the exit code.
c() {
  local out rc
  out=$(timeout 20 "$CTL" --endpoints=$EP "$@" 2>&1)
  rc=$?
  echo "$out"
  echo "rc=$rc"
}
# etcdctl's clientv3 logs JSON warnings on stderr ({"level":"warn",...}); cairnctl does not.
e() {
  local out rc
  out=$(ETCDCTL_API=3 timeout 20 etcdctl --endpoints=$EP "$@" 2>&1)
  rc=$?
  echo "$out" | grep -av '^{"level"'
  echo "rc=$rc"
}
check() { if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected [$3] got [$2]"; FAILED=1; fi; }
same() { # NAME ARGS...: cairnctl and etcdctl print the same and exit the same
  local n=$1; shift
  check "$n (same as etcdctl)" "$(c "$@")" "$(e "$@")"
}

check "role add" "$(c role add r1)" $'Role r1 created\nrc=0'
check "role add root" "$(c role add root)" $'Role root created\nrc=0'
check "grant read prefix" "$(c role grant-permission r1 read /a/ --prefix)" $'Role r1 updated\nrc=0'
check "grant readwrite key" "$(c role grant-permission r1 readwrite k1)" $'Role r1 updated\nrc=0'
check "grant write range" "$(c role grant-permission r1 write x z)" $'Role r1 updated\nrc=0'
check "grant from-key" "$(c role grant-permission r1 read m --from-key)" $'Role r1 updated\nrc=0'
same "role get" role get r1
same "role list" role list
same "role get missing" role get nosuch
same "bad permission type" role grant-permission r1 readish k
same "prefix with end key" role grant-permission r1 read a b --prefix
check "user add name:password" "$(c user add root:rootpw)" $'User root created\nrc=0'
check "user add from stdin" "$(echo apw | c user add alice --interactive=false)" $'User alice created\nrc=0'
same "user add existing" user add alice:x
check "grant root" "$(c user grant-role root root)" $'Role root is granted to user root\nrc=0'
check "grant r1" "$(c user grant-role alice r1)" $'Role r1 is granted to user alice\nrc=0'
same "user get" user get alice
same "user list" user list
same "user get missing" user get nosuch
check "auth enable" "$(c auth enable)" $'Authentication Enabled\nrc=0'
same "no user" get k1
same "permission denied" --user=alice:apw put other v
check "allowed put" "$(c --user=alice:apw put k1 v1)" $'OK\nrc=0'
same "allowed prefix read" --user=alice:apw get k1
same "wrong password" --user=alice:wrong get k1
same "--user and --password" --user=alice --password=apw get k1
same "non-root user list" --user=alice:apw user list
check "revoke prefix" "$(c --user=root:rootpw role revoke-permission r1 /a/ --prefix)" \
  $'Permission of range [/a/, /a0) is revoked from role r1\nrc=0'
check "revoke key" "$(c --user=root:rootpw role revoke-permission r1 k1)" $'Permission of key k1 is revoked from role r1\nrc=0'
same "revoked" --user=alice:apw get k1
check "passwd from stdin" "$(echo newpw | c --user=root:rootpw user passwd alice --interactive=false)" $'Password updated\nrc=0'
same "old password" --user=alice:apw get k1
check "revoke-role" "$(c --user=root:rootpw user revoke-role alice r1)" $'Role r1 is revoked from user alice\nrc=0'
check "user delete" "$(c --user=root:rootpw user delete alice)" $'User alice deleted\nrc=0'
check "role delete" "$(c --user=root:rootpw role delete r1)" $'Role r1 deleted\nrc=0'
check "auth disable" "$(c --user=root:rootpw auth disable)" $'Authentication Disabled\nrc=0'
# The other output formats, byte for byte as etcdctl prints them.
check "role add r2" "$(c role add r2)" $'Role r2 created\nrc=0'
check "grant write range" "$(c role grant-permission r2 write a z)" $'Role r2 updated\nrc=0'
check "grant read key" "$(c role grant-permission r2 read k)" $'Role r2 updated\nrc=0'
for w in json fields protobuf table; do
  same "role get -w $w" role get r2 -w $w
  same "role list -w $w" role list -w $w
  same "user get -w $w" user get root -w $w
  same "user list -w $w" user list -w $w
  # A mutation runs once per client: each gets its own, equivalent one (the same header comes back).
  check "role add -w $w (as etcdctl)" "$(c role add "r3$w-c" -w $w)" "$(e role add "r3$w-e" -w $w)"
  check "grant/revoke-role -w $w (as etcdctl)" "$(c user grant-role root r2 -w $w)" \
    "$(e user revoke-role root r2 -w $w)"
done
# auth enable when the root user lacks the root role: etcdctl (and cairnctl) add the role, grant it, retry.
check "revoke root role" "$(c user revoke-role root root)" $'Role root is revoked from user root\nrc=0'
check "delete root role" "$(c role delete root)" $'Role root deleted\nrc=0'
check "auth enable adds root role" "$(c auth enable)" $'Authentication Enabled\nrc=0'
check "root has root role" "$(c --user=root:rootpw user get root)" $'User: root\nRoles: root\nrc=0'
check "auth disable again" "$(c --user=root:rootpw auth disable -w json)" $'Authentication Disabled\nrc=0'
