#!/usr/bin/python3
"""Interop test: Debian's python3-grpcio (a gRPC client nobody here wrote) against cairn's server.

Usage: interop_grpcio.py <path to net_test_server>
Starts the server (it prints "PORT <n>"), runs every check, closes the server's stdin so it shuts down
gracefully, and fails if any check or the server's exit status fails. Raw-bytes messages: no protoc.
"""
import os
import subprocess
import sys
import time
import urllib.request

import grpc

failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + detail), flush=True)
    if not cond:
        failures.append(name)


def expect_error(name, fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        ok = e.code() == code and (details is None or e.details() == details)
        check(name, ok, "got %s %r" % (e.code(), e.details()))
        return
    check(name, False, "no error raised")


def main():
    server = subprocess.Popen([sys.argv[1]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line = server.stdout.readline().decode()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])
        target = "127.0.0.1:%d" % port
        with grpc.insecure_channel(target) as ch:
            run_checks(ch, port)
        run_etcdctl_checks(port)
    finally:
        server.stdin.close()
        try:
            rc = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = "killed after timeout"
        check("server exits cleanly after shutdown", rc == 0, "rc=%s" % rc)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("all interop checks passed")
    return 0


def run_checks(ch, port):
    unary = ch.unary_unary("/cairn.test.Echo/Unary")
    check("unary echo", unary(b"hello", timeout=10) == b"hello")
    check("unary empty message", unary(b"", timeout=10) == b"")
    big = bytes(range(256)) * 4096  # 1 MiB
    check("unary 1 MiB", unary(big, timeout=20) == big)
    resp, call = unary.with_call(b"meta", timeout=10, metadata=[("client-api-version", "3.4")])
    check("unary with_call status OK", call.code() == grpc.StatusCode.OK and resp == b"meta")

    stream = ch.unary_stream("/cairn.test.Echo/ServerStream")
    msgs = list(stream(b"200:100", timeout=20))
    check("server streaming count", len(msgs) == 200, "got %d" % len(msgs))
    check("server streaming order", all(m.startswith(b"%06d|" % i) and len(m) == 100 for i, m in enumerate(msgs)))
    msgs = list(stream(b"3:300000", timeout=20))
    check("server streaming large messages", [len(m) for m in msgs] == [300000] * 3)

    bidi = ch.stream_stream("/cairn.test.Echo/Bidi")
    sent = [b"m%d" % i * (i + 1) for i in range(50)]
    got = list(bidi(iter(sent), timeout=20))
    check("bidi echo in order", got == sent, "got %d msgs" % len(got))

    fail = ch.unary_unary("/cairn.test.Echo/Fail")
    msg = "etcdserver: bad thing 100% \u00fcn\u00efc\u00f8d\u00e9 \u2603 done"
    expect_error("error status with unicode message", lambda: fail(("5:" + msg).encode(), timeout=10),
                 grpc.StatusCode.NOT_FOUND, msg)
    expect_error("error status etcd string", lambda: fail(b"11:etcdserver: mvcc: required revision is a future revision", timeout=10),
                 grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")

    sleep = ch.unary_unary("/cairn.test.Echo/Sleep")
    t0 = time.monotonic()
    expect_error("deadline exceeded", lambda: sleep(b"30000", timeout=0.3), grpc.StatusCode.DEADLINE_EXCEEDED)
    check("deadline exceeded promptly", time.monotonic() - t0 < 10)
    check("sleep within deadline", sleep(b"10", timeout=10) == b"slept")

    expect_error("unknown method", lambda: ch.unary_unary("/cairn.test.Echo/Nope")(b"x", timeout=10),
                 grpc.StatusCode.UNIMPLEMENTED)
    expect_error("unknown service", lambda: ch.unary_unary("/no.Such/Thing")(b"x", timeout=10),
                 grpc.StatusCode.UNIMPLEMENTED)

    too_big = b"x" * (3 * 1024 * 1024)
    expect_error("message too large", lambda: unary(too_big, timeout=20), grpc.StatusCode.RESOURCE_EXHAUSTED)
    check("channel still usable after errors", unary(b"again", timeout=10) == b"again")

    offload = ch.unary_unary("/cairn.test.Echo/Offload")
    check("handler awaiting another thread", offload(b"abc", timeout=10) == b"offloaded:abc:3")

    futures = [unary.future(b"c%d" % i, timeout=30) for i in range(300)]
    check("300 concurrent unary calls", [f.result() for f in futures] == [b"c%d" % i for i in range(300)])

    # Cancel a server stream mid-way (RST_STREAM CANCEL) and keep using the channel.
    it = stream(b"100000:1000", timeout=30)
    first = next(it)
    it.cancel()
    check("cancel server stream", first.startswith(b"000000|"))
    check("channel usable after cancel", unary(b"post-cancel", timeout=10) == b"post-cancel")

    # A second channel with its own connection at the same time.
    with grpc.insecure_channel("127.0.0.1:%d" % port) as ch2:
        check("second channel", ch2.unary_unary("/cairn.test.Echo/Unary")(b"two", timeout=10) == b"two")

    # HTTP/1.1 on the same port.
    with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=10) as r:
        check("HTTP/1.1 /health on the gRPC port", r.status == 200 and b'"health":"true"' in r.read())


def run_etcdctl_checks(port):
    """grpc-go 1.33 (inside Debian's etcdctl 3.4) against stub etcd handlers, when etcdctl is installed."""
    etcdctl = "/usr/bin/etcdctl"
    if not os.path.exists(etcdctl):
        print("skip etcdctl checks: %s not installed" % etcdctl)
        return
    env = dict(os.environ, ETCDCTL_API="3")

    def run(*args):
        p = subprocess.run([etcdctl, "--command-timeout=10s", "--dial-timeout=10s"] + list(args),
                           env=env, capture_output=True, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    rc, out, err = run("--endpoints=127.0.0.1:%d" % port, "put", "foo", "bar")
    check("etcdctl put (grpc-go unary)", rc == 0 and out.strip() == "OK", "rc=%d out=%r err=%r" % (rc, out, err))
    # An endpoint with a scheme makes grpc-go send ":authority: http://127.0.0.1:PORT" (wire doc 1.2).
    rc, out, err = run("--endpoints=http://127.0.0.1:%d" % port, "endpoint", "status")
    check("etcdctl endpoint status with http:// endpoint", rc == 0 and ("127.0.0.1:%d" % port) in out,
          "rc=%d out=%r err=%r" % (rc, out, err))
    rc, out, err = run("--endpoints=127.0.0.1:%d" % port, "get", "foo")
    check("etcdctl sees etcd error string", rc != 0 and "required revision is a future revision" in err,
          "rc=%d out=%r err=%r" % (rc, out, err))


if __name__ == "__main__":
    sys.exit(main())
