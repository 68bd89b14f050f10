"""Drives the dashboard of a running 3-member cluster in headless Chromium (tests/dashboard/e2e_dashboard.sh
starts both). usage: dashboard_check.py CDP_PORT DASHBOARD_URL WORK_DIR KILL_PID ETCDCTL_ENDPOINTS"""
import os
import signal
import subprocess
import sys

from cdp import Page

port, url, work, kill_pid, endpoints = sys.argv[1:6]
failed = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failed.append(name)


def etcdctl(*args):
    return subprocess.run(["etcdctl", f"--endpoints={endpoints}", "--command-timeout=10s", *args],
                          env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, text=True, timeout=20).stdout


page = Page(int(port))
page.call("Page.enable")
page.call("Emulation.setDeviceMetricsOverride", width=1400, height=800, deviceScaleFactor=1, mobile=False)
page.call("Page.navigate", url=url + "#/members")

members = "document.querySelectorAll('#members tr.member').length"
leaders = "document.querySelectorAll('#members tr.member[data-role=leader]').length"
page.wait(f"{members} === 3 && {leaders} === 1", 20, "3 members and a leader")
check("members: 3 rows", page.eval(members) == 3)
check("members: one leader", page.eval(leaders) == 1)
check("members: all healthy", page.eval("[...document.querySelectorAll('#members td.ok')].length") == 3)
page.screenshot(os.path.join(work, "members.png"))

page.call("Page.navigate", url=url + "#/charts")
waited = page.wait("document.querySelector('#chart-rps .now') && /\\/s$/.test(document.querySelector('#chart-rps .now').textContent)",
                   15, "a requests/s sample")
check("charts: requests/s sampled from /metrics", True)

etcdctl("put", "dash/k1", '{"hello": "world"}')
page.call("Page.navigate", url=url + "#/keys?prefix=dash/")
row = "[...document.querySelectorAll('#keys tbody td.key')].some(td => td.textContent === 'dash/k1')"
page.wait(row, 10, "dash/k1 listed")
check("keys: etcdctl's key listed", page.eval(row))
page.eval("[...document.querySelectorAll('#keys tbody tr')].find(tr => tr.textContent.includes('dash/k1')).click()")
page.wait("document.querySelector('#kd-value').textContent.includes('world')", 10, "value shown")
page.eval("document.querySelector('#kd-modes [data-mode=json]').click()")
check("keys: JSON view", '"hello": "world"' in page.eval("document.querySelector('#kd-value').textContent"))

page.call("Page.navigate", url=url + "#/watch?prefix=dash/&on=1")
page.wait("document.querySelector('#watch-state').textContent.startsWith('watching')", 10, "watch created")
etcdctl("put", "dash/k2", "live")
ev = "[...document.querySelectorAll('#watch-events tr.event')].some(tr => tr.textContent.includes('dash/k2') && tr.textContent.includes('live'))"
page.wait(ev, 10, "watch event shown")
check("watch: tail shows the new event", page.eval(ev))
page.screenshot(os.path.join(work, "watch.png"))

page.call("Page.navigate", url=url + "#/members")
page.wait(f"{members} === 3", 10, "members again")
os.kill(int(kill_pid), signal.SIGKILL)
down = "document.querySelectorAll('#members tr.member[data-role=down]').length === 1"
secs = page.wait(down, 10, "killed member shown as down")
check(f"members: killed member down after {secs:.1f} s", page.eval(down))
page.screenshot(os.path.join(work, "member-down.png"))
sys.exit(1 if failed else 0)
