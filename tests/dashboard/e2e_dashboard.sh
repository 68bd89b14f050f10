#!/usr/bin/env bash
# The dashboard in a real browser: a 3-member cluster, headless Chromium driven over its DevTools
# protocol (cdp.py, python3 standard library only) by dashboard_check.py: the member table shows 3
# members and the leader, a key put with etcdctl is listed and shown, the watch tail shows a new event,
# a killed member shows as down within seconds. Screenshots are kept in $DASHBOARD_SHOTS (if set) or
# in the work dir on failure.
#   usage: e2e_dashboard.sh path/to/cairn      env: E2E_BASE_PORT (default 21400)
# Exits 77 (skipped) without chromium or etcdctl.
set -uo pipefail
CAIRN=${1:?usage: e2e_dashboard.sh path/to/cairn}
BASE=${E2E_BASE_PORT:-21400}
NAME=dashboard
CHROMIUM=$(command -v chromium || command -v chromium-browser) || { echo "chromium not installed: skipped"; exit 77; }
source "$(dirname "$0")/../lib/cluster.sh"

start 1; start 2; start 3
wait_healthy
CDP_PORT=$((BASE + 90))
"$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --user-data-dir="$WORK/chromium" --remote-debugging-address=127.0.0.1 --remote-debugging-port=$CDP_PORT \
  --window-size=1400,800 about:blank >"$WORK/chromium.log" 2>&1 &
BG+=($!)
timeout 90 python3 "$(dirname "$0")/dashboard_check.py" $CDP_PORT "http://$(ep_of 1)/ui/" "$WORK" "${PIDS[3]}" \
  "$(ep_of 1),$(ep_of 2)" || FAILED=1
if [[ -n ${DASHBOARD_SHOTS:-} ]]; then mkdir -p "$DASHBOARD_SHOTS" && cp "$WORK"/*.png "$DASHBOARD_SHOTS"/; fi
[[ $FAILED = 0 ]] && echo "PASS dashboard in chromium"
