#!/usr/bin/env bash
# End-to-end: the peer port locked down (server/net/peer_transport.h, docs/security.md "The peer port").
# On a 3-member cluster: a member of another cluster (another --initial-cluster-token) dialing m1 is
# refused with a logged reason; a HELLO claiming an id that is not a member is refused; an oversized frame
# is refused before it is buffered; 9 idle connections to m1's peer port (the bound is 8
# that have not said HELLO) get the oldest closed. Throughout, the leader and its term stay the same and
# writes through m1 succeed.
#   usage: e2e_peer_port.sh path/to/cairn      env: E2E_BASE_PORT (default 13400; uses +0..+51)
# Exits 77 (skipped) without etcdctl. Every process it starts is killed by pid on exit.
set -uo pipefail
CAIRN=${1:?usage: e2e_peer_port.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-13400}
NAME=peerport
source "$(dirname "$0")/../lib/cluster.sh"

start 1; start 2; start 3
wait_healthy "$ALL"
check "a write" "$(ctl put k0 v0)" "OK"
status() { EPS=$ALL ctl endpoint status | awk -F', ' '$5 == "true" {print $2 "/" $7}' | head -1; }  # leader id/term
before=$(status)
[[ -n $before ]] || { echo "FAIL no leader"; FAILED=1; exit 1; }
M1_PEER=$(pport 1)

# A member of another cluster: its --initial-cluster names m1's peer URL, its token is another.
FOREIGN_C=$((BASE + 50)) FOREIGN_P=$((BASE + 51))
"$CAIRN" --name x --data-dir "$WORK/x" --listen-client-urls "http://127.0.0.1:$FOREIGN_C" \
  --advertise-client-urls "http://127.0.0.1:$FOREIGN_C" --listen-peer-urls "http://127.0.0.1:$FOREIGN_P" \
  --initial-advertise-peer-urls "http://127.0.0.1:$FOREIGN_P" \
  --initial-cluster "x=http://127.0.0.1:$FOREIGN_P,m1=http://127.0.0.1:$M1_PEER" \
  --initial-cluster-token other-cluster --heartbeat-interval 50 --election-timeout 500 >>"$WORK/mx.log" 2>&1 &
BG+=($!)
deadline=$((SECONDS + 20))
until grep -q "refused: member .* belongs to cluster" "$WORK/m1.log"; do
  (( SECONDS < deadline )) || { echo "FAIL m1 did not log the foreign member's refusal"; FAILED=1; break; }
  sleep 0.2
done
check_match "the foreign member is refused with a reason" "$(grep -m1 'belongs to cluster' "$WORK/m1.log")" \
  "another --initial-cluster-token"

# Raw connections (python3): an unknown id, an oversized frame, idle connections.
python3 - "$M1_PEER" >"$WORK/raw.out" 2>&1 <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
def frame(t, payload):
    return struct.pack(">II", len(payload), crc32c(bytes([t]) + payload)) + bytes([t]) + payload
def hello(sender):
    return frame(1, b"CAIRNPT1" + struct.pack(">QQ", sender, 0))
def closed(s, timeout=10):
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
def conn():
    return socket.create_connection(("127.0.0.1", port))
s = conn(); s.sendall(hello(0x1234)); print("unknown id closed", closed(s))
# A frame header announcing 1 GiB (the length is checked before anything else, before any allocation).
# Not after a HELLO claiming a member: without peer TLS that would push the member's real connection out.
s = conn(); s.sendall(struct.pack(">II", 1 << 30, 0) + b"\x01"); print("oversized closed", closed(s))
idle = [conn() for _ in range(9)]
time.sleep(0.5)
print("oldest idle closed", closed(idle[0], 3))
print("newest idle open", not closed(idle[8], 0.5))
PY
cat "$WORK/raw.out"
check "an id that is not a member is refused" "$(grep 'unknown id' "$WORK/raw.out")" "unknown id closed True"
check "an oversized frame is refused" "$(grep 'oversized' "$WORK/raw.out")" "oversized closed True"
check "the 9th idle connection closes the oldest" "$(grep 'oldest' "$WORK/raw.out")" "oldest idle closed True"
check "the newest idle connection stays (until HELLO is due)" "$(grep 'newest' "$WORK/raw.out")" "newest idle open True"
check_match "m1 logged the refusals" "$(grep -c 'peer connection from .* refused' "$WORK/m1.log")" "^[3-9]|^[1-9][0-9]"

check "writes through m1 still succeed" "$(EPS=$(ep_of 1) ctl put k1 v1)" "OK"
check "same leader, same term" "$(status)" "$before"
