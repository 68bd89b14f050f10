#!/usr/bin/env bash
# The Kubernetes contract (issue 18): kube_contract (Go, Debian's etcd 3.4 clientv3) makes the calls
# kube-apiserver's storage layer makes, against a 3-member cairn cluster and, as the control, against a
# 3-member etcd cluster, each with member 2 killed (SIGKILL) and restarted while the writers run.
# Phase A's transcripts ("T ..." lines) must be identical; phase B's checks must pass on both.
#   usage: e2e_kube_contract.sh CAIRN [ETCD]   env: OBJECTS (default 10000), GOCACHE_DIR
#   ports: cairn 26100-26121, etcd 26150-26171 (below the ephemeral range)
# Exits 77 (skipped) without etcdctl, go or Debian's golang-etcd-server-dev.
set -uo pipefail
GOPATH_ETCD=/usr/share/gocode

if [[ ${1:-} == --one ]]; then # --one SERVER BASE NAME OUT: one cluster, one run
  CAIRN=$2 BASE=$3 NAME=$4 OUT=$5
  source "$(dirname "$0")/../lib/cluster.sh"
  start 1; start 2; start 3
  wait_healthy
  "$KUBE_CONTRACT" -endpoints "$ALL" -objects "${OBJECTS:-10000}" -restart-dir "$WORK" >"$OUT" 2>&1 &
  gopid=$!
  BG+=("$gopid")
  deadline=$((SECONDS + 300))
  until [[ -f $WORK/restart.req ]] || ! kill -0 "$gopid" 2>/dev/null || (( SECONDS > deadline )); do sleep 0.05; done
  if [[ -f $WORK/restart.req ]]; then
    kill -9 "${PIDS[2]}"
    for _ in $(seq 100); do kill -0 "${PIDS[2]}" 2>/dev/null || break; sleep 0.05; done
    start 2
    wait_healthy
    touch "$WORK/restart.done"
  fi
  wait "$gopid"
  rc=$?
  grep -v '^T ' "$OUT" | sed "s/^/[$NAME] /"
  [[ $rc == 0 ]] || { echo "FAIL kube_contract against $NAME exited $rc"; FAILED=1; }
  exit $FAILED
fi

CAIRN=${1:?usage: e2e_kube_contract.sh CAIRN [ETCD]}
ETCD=${2:-$(command -v etcd || true)}
command -v etcdctl >/dev/null || { echo "etcdctl not installed: skipped"; exit 77; }
GO=$(command -v go) && [[ -d $GOPATH_ETCD/src/go.etcd.io/etcd/clientv3 ]] ||
  { echo "go or golang-etcd-server-dev not installed: skipped"; exit 77; }
WORK=$(mktemp -d /tmp/cairn-e2e-kube.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/go/src/kubecontract"
cp "$(dirname "$0")"/*.go "$WORK/go/src/kubecontract/"
export KUBE_CONTRACT=$WORK/kube_contract
if ! (cd "$WORK" && GOPATH=$WORK/go:$GOPATH_ETCD GO111MODULE=off GOFLAGS= GOCACHE=${GOCACHE_DIR:-$WORK/gocache} \
  "$GO" build -o "$KUBE_CONTRACT" kubecontract); then
  echo "FAIL kube_contract does not build"; exit 1
fi
FAILED=0
bash "$0" --one "$CAIRN" 26100 cairn "$WORK/cairn.out" || FAILED=1
if [[ -n $ETCD ]]; then
  bash "$0" --one "$ETCD" 26150 etcd "$WORK/etcd.out" || FAILED=1
  if diff <(grep '^T ' "$WORK/etcd.out") <(grep '^T ' "$WORK/cairn.out") >"$WORK/transcript.diff"; then
    echo "ok   phase A transcript identical to etcd's ($(grep -c '^T ' "$WORK/cairn.out") calls)"
  else
    echo "FAIL phase A transcript differs from etcd's (< etcd, > cairn):"; cat "$WORK/transcript.diff"; FAILED=1
  fi
else
  echo "skip etcd control run: etcd not installed"
fi
[[ $FAILED == 0 ]] || { echo "--- cairn transcript"; grep '^T ' "$WORK/cairn.out"; }
exit $FAILED
