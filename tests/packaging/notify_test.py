#!/usr/bin/env python3
"""sd_notify end to end: a single cairn member started with $NOTIFY_SOCKET pointing at a datagram socket
of this script sends READY=1 once it serves clients (/livez answers at that moment) and STOPPING=1 on
SIGTERM, then exits 0.
   usage: notify_test.py path/to/cairn      env: E2E_BASE_PORT (default 26730; uses +0, +1)
The unit file is packaging/systemd/cairn.service."""
import os, signal, socket, subprocess, sys, tempfile, time, urllib.request

cairn = sys.argv[1]
base = int(os.environ.get("E2E_BASE_PORT", "26730"))
work = tempfile.mkdtemp(prefix="cairn-notify.")
sock_path = os.path.join(work, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sock_path)
client, peer = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
log = open(os.path.join(work, "cairn.log"), "w")
env = dict(os.environ, NOTIFY_SOCKET=sock_path)
proc = subprocess.Popen([cairn, "--name", "n", "--data-dir", os.path.join(work, "data"),
                         "--listen-client-urls", client, "--advertise-client-urls", client,
                         "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                         "--initial-cluster", f"n={peer}"], env=env, stdout=log, stderr=log)
failed = False


def fail(msg):
    global failed
    print("FAIL " + msg)
    failed = True


def wait_for(field, seconds):
    """The first datagram with a line `field`, within `seconds`; None on timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            return None
        if field in msg.split("\n"):
            return msg
    return None


try:
    ready = wait_for("READY=1", 60)
    if ready is None:
        fail("no READY=1 within 60 s")
    else:
        print("ok   READY=1 (" + ready.replace("\n", " ") + ")")
        if "STATUS=serving clients on 127.0.0.1:%d" % base not in ready:
            fail("READY=1 without the serving STATUS")
        try:
            with urllib.request.urlopen(client + "/livez", timeout=10) as r:
                body = r.read().decode()
            if r.status == 200 and body == "ok\n":
                print("ok   /livez answers once READY=1 is sent")
            else:
                fail(f"/livez: {r.status} {body!r}")
        except OSError as e:
            fail(f"/livez after READY=1: {e}")
        proc.send_signal(signal.SIGTERM)
        if wait_for("STOPPING=1", 30) is None:
            fail("no STOPPING=1 within 30 s of SIGTERM")
        else:
            print("ok   STOPPING=1 on SIGTERM")
        try:
            rc = proc.wait(timeout=30)
            if rc == 0:
                print("ok   exit status 0")
            else:
                fail(f"exit status {rc}")
        except subprocess.TimeoutExpired:
            fail("still running 30 s after SIGTERM")
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()
    if failed:
        print(open(os.path.join(work, "cairn.log")).read()[-3000:])
        print("logs kept in " + work)
    else:
        subprocess.run(["rm", "-rf", work])
sys.exit(1 if failed else 0)
