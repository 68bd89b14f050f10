#!/usr/bin/env bash
# cairnctl snapshot status|restore run cairnutl from cairnctl's directory: same output and exit code as
# cairnutl itself, flags passed through, and a clear error when cairnutl is not installed beside it.
# Usage: snapshot_delegation.sh CAIRNCTL CAIRNUTL SNAPSHOT_DB. No ports, no servers.
set -uo pipefail
ctl=$1 utl=$2 db=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() {  # name, condition result
  if [[ $2 == 0 ]]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

for w in simple table json; do
  a=$("$ctl" -w "$w" snapshot status "$db" 2>&1); ra=$?
  b=$("$utl" snapshot status "$db" -w "$w" 2>&1); rb=$?
  [[ $ra == 0 && $ra == "$rb" && "$a" == "$b" ]]; check "status -w $w same as cairnutl" $?
done
a=$("$ctl" snapshot status "$tmp/missing.db" 2>&1); ra=$?
[[ $ra == 1 && $a == Error:* ]]; check "status of a missing file fails like cairnutl" $?

"$ctl" snapshot restore "$db" --name m1 --data-dir "$tmp/m1" --initial-cluster m1=http://127.0.0.1:2380 \
  --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster-token t1 2>"$tmp/restore.err"
[[ $? == 0 && -d $tmp/m1/member/wal && -d $tmp/m1/member/db ]]; check "restore writes the data dir" $?
grep -q "restored snapshot" "$tmp/restore.err"; check "restore reports on stderr" $?
"$ctl" snapshot restore "$db" --name m1 --data-dir "$tmp/m1" 2>/dev/null
[[ $? == 1 ]]; check "restore into an existing data dir fails" $?

mkdir "$tmp/alone" && cp "$ctl" "$tmp/alone/cairnctl"
a=$("$tmp/alone/cairnctl" snapshot status "$db" 2>&1); ra=$?
[[ $ra == 1 && $a == *"runs cairnutl"*"No such file or directory"* ]]; check "without cairnutl: clear error" $?
echo "$a"
exit $((fails > 0))
