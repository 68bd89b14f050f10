#!/usr/bin/env bash
# Builds watchload offline against etcd 3.4's Go client from Debian's golang-etcd-server-dev
# (GOPATH mode, GO111MODULE=off; nothing is downloaded).
#   usage: bench/watchload/build.sh [OUTPUT]   (default: bench/watchload/watchload)
# GOCACHE defaults to ~/.cache/cairn-watchload-go (CAIRN_GOCACHE overrides) so rebuilds are quick.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/watchload}")
if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]]; then
  echo "build.sh: needs golang-go and golang-etcd-server-dev (apt-get install golang-go golang-etcd-server-dev)" >&2
  exit 77
fi
cd "$here"
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
  GOCACHE=${CAIRN_GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-watchload-go} \
  go build -o "$out" .
echo "built $out"
