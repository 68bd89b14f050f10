#!/usr/bin/python3
"""End-to-end test of etcd's Lock and Election services on a 3-member cairn cluster.

Usage: e2e_lock.py <cairn> <protoc> <suite> <base port>
  suite "services": the v3lock/v3election gRPC services (driven with Debian's python3-grpcio, messages
                    from our proto/etcd/*.proto compiled with protoc --python_out into a temp dir) and
                    their JSON gateway routes;
  suite "etcdctl":  etcdctl's client-side recipes (`etcdctl lock`, `etcdctl elect`: KV + Lease + Watch)
                    against cairn, and their interplay with the Lock service (same keys, same algorithm);
  suite "clientv3": etcd 3.4's Go client (v3lockpb/v3electionpb stubs and concurrency recipes, built from
                    Debian's golang-etcd-server-dev in GOPATH mode) against the services.
Members listen on 127.0.0.1:<base>, <base+10>, <base+20> (peers on +1). Exits 77 (skipped) when a
needed tool is missing. Every process it starts is killed by pid; its temp dir is removed on success.

Also used as its own helper: `e2e_lock.py --hold <pb dir> <endpoint> <name> <ttl>` grants a lease,
keeps it alive, takes the lock, prints "LOCKED <key>" and waits to be killed.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

try:
    import grpc
except ImportError:
    print("python3-grpcio not installed: skipped")
    sys.exit(77)

failures = []
pb = None  # the generated modules (namespace with rpc, kv, lock, election)


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)), flush=True)
    if not cond:
        failures.append(name)
    return cond


def load_protos(protoc, src_root, out_dir):
    files = ["proto/etcd/kv.proto", "proto/etcd/auth.proto", "proto/etcd/rpc.proto",
             "proto/etcd/v3lock.proto", "proto/etcd/v3election.proto"]
    subprocess.run([protoc, "--python_out=" + out_dir, "-I", src_root] + files, check=True)
    return import_protos(out_dir)


def import_protos(out_dir):
    sys.path.insert(0, out_dir)
    from proto.etcd import kv_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

    class P:
        pass
    p = P()
    p.kv, p.rpc, p.lock, p.election = kv_pb2, rpc_pb2, v3lock_pb2, v3election_pb2
    return p


# ---- thin typed wrappers over generic grpcio calls ----

def unary(ch, path, req, resp_cls, timeout=15):
    fn = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=resp_cls.FromString)
    return fn(req, timeout=timeout)


def unary_future(ch, path, req, resp_cls, timeout=None):
    fn = ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=resp_cls.FromString)
    return fn.future(req, timeout=timeout)


def grant(ch, ttl):
    return unary(ch, "/etcdserverpb.Lease/LeaseGrant", pb.rpc.LeaseGrantRequest(TTL=ttl),
                 pb.rpc.LeaseGrantResponse).ID


def get_prefix(ch, prefix):
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    return unary(ch, "/etcdserverpb.KV/Range", pb.rpc.RangeRequest(key=prefix, range_end=end),
                 pb.rpc.RangeResponse).kvs


def lock(ch, name, lease, timeout=30):
    return unary(ch, "/v3lockpb.Lock/Lock", pb.lock.LockRequest(name=name, lease=lease), pb.lock.LockResponse,
                 timeout)


def lock_future(ch, name, lease, timeout=None):
    return unary_future(ch, "/v3lockpb.Lock/Lock", pb.lock.LockRequest(name=name, lease=lease),
                        pb.lock.LockResponse, timeout)


def unlock(ch, key):
    return unary(ch, "/v3lockpb.Lock/Unlock", pb.lock.UnlockRequest(key=key), pb.lock.UnlockResponse)


def campaign_future(ch, name, lease, value, timeout=None):
    return unary_future(ch, "/v3electionpb.Election/Campaign",
                        pb.election.CampaignRequest(name=name, lease=lease, value=value),
                        pb.election.CampaignResponse, timeout)


def campaign(ch, name, lease, value, timeout=30):
    return campaign_future(ch, name, lease, value, timeout).result()


def proclaim(ch, leader, value):
    return unary(ch, "/v3electionpb.Election/Proclaim", pb.election.ProclaimRequest(leader=leader, value=value),
                 pb.election.ProclaimResponse)


def leader(ch, name):
    return unary(ch, "/v3electionpb.Election/Leader", pb.election.LeaderRequest(name=name),
                 pb.election.LeaderResponse)


def resign(ch, leader_key):
    return unary(ch, "/v3electionpb.Election/Resign", pb.election.ResignRequest(leader=leader_key),
                 pb.election.ResignResponse)


def observe(ch, name):
    fn = ch.unary_stream("/v3electionpb.Election/Observe", request_serializer=lambda m: m.SerializeToString(),
                         response_deserializer=pb.election.LeaderResponse.FromString)
    return fn(pb.election.LeaderRequest(name=name))


def status(ch):
    return unary(ch, "/etcdserverpb.Maintenance/Status", pb.rpc.StatusRequest(), pb.rpc.StatusResponse, 5)


def rpc_error(fn):
    """Runs fn; returns the grpc.RpcError it raised, or None."""
    try:
        fn()
    except grpc.RpcError as e:
        return e
    return None


def wait_until(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if cond():
                return True
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    return False


class Observer:
    """Collects an Observe stream's values in a thread."""

    def __init__(self, ch, name):
        self.call = observe(ch, name)
        self.values = []
        self.error = None
        self.cv = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for resp in self.call:
                with self.cv:
                    self.values.append(resp.kv.value)
                    self.cv.notify_all()
        except grpc.RpcError as e:
            with self.cv:
                self.error = e
                self.cv.notify_all()

    def wait_for(self, value, seconds=15):
        with self.cv:
            return self.cv.wait_for(lambda: value in self.values or self.error is not None, seconds) and \
                value in self.values

    def stop(self):
        self.call.cancel()
        self.thread.join(10)


class KeepAlive:
    """Keeps a lease alive over one LeaseKeepAlive stream until stopped."""

    def __init__(self, ch, lease, interval=0.5):
        self.stopped = threading.Event()
        fn = ch.stream_stream("/etcdserverpb.Lease/LeaseKeepAlive",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=pb.rpc.LeaseKeepAliveResponse.FromString)

        def requests():
            while not self.stopped.is_set():
                yield pb.rpc.LeaseKeepAliveRequest(ID=lease)
                self.stopped.wait(interval)
        self.call = fn(requests())
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        try:
            for _ in self.call:
                pass
        except grpc.RpcError:
            pass

    def stop(self):
        self.stopped.set()
        self.call.cancel()
        self.thread.join(5)


# ---- the cluster ----

class Cluster:
    def __init__(self, cairn, base, work):
        self.cairn, self.base, self.work = cairn, base, work
        self.procs = {}
        self.peers = ",".join("m%d=http://127.0.0.1:%d" % (i, self.pport(i)) for i in (1, 2, 3))

    def cport(self, i):
        return self.base + 10 * (i - 1)

    def pport(self, i):
        return self.cport(i) + 1

    def ep(self, i):
        return "127.0.0.1:%d" % self.cport(i)

    def start(self, i):
        log = open(os.path.join(self.work, "m%d.log" % i), "ab")
        url = lambda p: "http://127.0.0.1:%d" % p
        self.procs[i] = subprocess.Popen(
            [self.cairn, "--name", "m%d" % i, "--data-dir", os.path.join(self.work, "m%d" % i),
             "--listen-client-urls", url(self.cport(i)), "--advertise-client-urls", url(self.cport(i)),
             "--listen-peer-urls", url(self.pport(i)), "--initial-advertise-peer-urls", url(self.pport(i)),
             "--initial-cluster", self.peers, "--initial-cluster-token", "e2e-lock",
             "--heartbeat-interval", "50", "--election-timeout", "500"],
            stdout=log, stderr=log)
        log.close()

    def kill(self, i, sig=signal.SIGKILL):
        p = self.procs.pop(i, None)
        if p:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i, signal.SIGTERM)

    def healthy(self, i):
        try:
            with urllib.request.urlopen("http://%s/health" % self.ep(i), timeout=2) as r:
                return json.load(r).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, members=(1, 2, 3), seconds=60):
        return wait_until(lambda: all(self.healthy(i) for i in members), seconds)

    def raft_leader(self, members=(1, 2, 3)):
        """The member number of the raft leader, as the members report it (0 if none agree)."""
        ids = {}
        leaders = set()
        for i in members:
            try:
                with grpc.insecure_channel(self.ep(i)) as ch:
                    s = status(ch)
                    ids[s.header.member_id] = i
                    leaders.add(s.leader)
            except grpc.RpcError:
                return 0
        if len(leaders) != 1:
            return 0
        return ids.get(leaders.pop(), 0)

    def sanitizer_reports(self):
        """Lines of the members' logs where ASan/UBSan/LSan reported an error (sanitizer builds)."""
        found = []
        for i in (1, 2, 3):
            path = os.path.join(self.work, "m%d.log" % i)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    found += ["m%d: %s" % (i, l.strip()) for l in f
                              if "Sanitizer" in l and "ERROR" in l or "runtime error:" in l]
        return found

    def dump_logs(self):
        for i in (1, 2, 3):
            path = os.path.join(self.work, "m%d.log" % i)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = f.readlines()[-20:]
                print("--- m%d.log (last %d lines)" % (i, len(lines)))
                sys.stdout.write("".join(lines))


def gateway(c, i, path, body):
    """POST a JSON body to the gateway; returns (HTTP status, parsed JSON)."""
    req = urllib.request.Request("http://%s%s" % (c.ep(i), path), data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def b64(s):
    return base64.b64encode(s).decode()


# ---- suite "services" ----

def test_errors(c, chs):
    e = rpc_error(lambda: leader(chs[1], b"e-none"))
    check("Leader without a leader: election: no leader (Unknown)",
          e is not None and e.code() == grpc.StatusCode.UNKNOWN and e.details() == "election: no leader",
          e and (e.code(), e.details()))
    e = rpc_error(lambda: proclaim(chs[1], None, b"v"))
    check("Proclaim without leader: \"leader\" field must be provided",
          e is not None and e.code() == grpc.StatusCode.UNKNOWN and e.details() == '"leader" field must be provided',
          e and (e.code(), e.details()))
    e = rpc_error(lambda: lock(chs[2], b"l-nolease", 0x7fffabcd))
    check("Lock with an unknown lease: etcd's lease not found",
          e is not None and e.code() == grpc.StatusCode.NOT_FOUND and
          e.details() == "etcdserver: requested lease not found", e and (e.code(), e.details()))
    st, body = gateway(c, 3, "/v3/election/leader", {"name": b64(b"e-none")})
    check("gateway leader without a leader: 500, code 2", st == 500 and body.get("code") == 2 and
          body.get("error") == "election: no leader", (st, body))


def test_lock_unlock(c, chs):
    lease = grant(chs[1], 30)
    r = lock(chs[1], b"l-basic", lease)
    check("Lock returns <name>/<lease hex>", r.key == b"l-basic/%x" % lease, r.key)
    check("Lock header carries the revision", r.header.revision > 0 and r.header.member_id != 0, r.header)
    kvs = get_prefix(chs[2], b"l-basic/")
    check("lock key exists with the lease", len(kvs) == 1 and kvs[0].lease == lease and kvs[0].key == r.key,
          kvs)
    r2 = lock(chs[3], b"l-basic", lease, timeout=10)
    check("Lock again with the same lease reuses the key", r2.key == r.key and
          len(get_prefix(chs[2], b"l-basic/")) == 1, r2)
    u = unlock(chs[2], r.key)
    check("Unlock answers with a header", u.header.revision > r.header.revision, u.header)
    check("Unlock deletes the key", len(get_prefix(chs[1], b"l-basic/")) == 0)
    r0 = lock(chs[1], b"l-nolease", 0)
    kvs = get_prefix(chs[1], b"l-nolease/")
    check("Lock with lease 0 gets a lease granted by the server", len(kvs) == 1 and kvs[0].lease != 0 and
          r0.key == b"l-nolease/%x" % kvs[0].lease, kvs)
    unlock(chs[1], r0.key)


def test_mutual_exclusion(c, chs):
    rounds = 3
    state = {"inside": 0, "max": 0, "acquired": 0, "errors": []}
    mu = threading.Lock()

    def worker(i):
        try:
            lease = grant(chs[i], 60)
            for _ in range(rounds):
                r = lock(chs[i], b"l-mutex", lease, timeout=60)
                with mu:
                    state["inside"] += 1
                    state["max"] = max(state["max"], state["inside"])
                    state["acquired"] += 1
                time.sleep(0.15)
                with mu:
                    state["inside"] -= 1
                unlock(chs[i], r.key)
        except grpc.RpcError as e:
            state["errors"].append((i, e.code(), e.details()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check("3 concurrent lockers (one per member): no errors", not state["errors"], state["errors"])
    check("3 concurrent lockers: every round acquired", state["acquired"] == 3 * rounds, state)
    check("3 concurrent lockers: never two holders at once", state["max"] == 1, state)
    check("3 concurrent lockers: no key left", len(get_prefix(chs[1], b"l-mutex/")) == 0)


def test_handover_on_kill(c, chs, pb_dir):
    holder = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--hold", pb_dir, c.ep(2), "l-kill", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = holder.stdout.readline().decode().strip()
        if not check("holder process takes the lock", line.startswith("LOCKED "), line + holder.stderr.read(300).decode()
                     if not line else line):
            return
        lease = grant(chs[3], 60)
        waiter = lock_future(chs[3], b"l-kill", lease, timeout=40)
        time.sleep(1.5)
        check("a second locker waits while the holder lives", not waiter.done())
        killed_at = time.time()
        holder.kill()
        holder.wait()
        try:
            r = waiter.result(timeout=30)
            took = time.time() - killed_at
            check("the waiter gets the lock once the killed holder's lease expires (%.1f s)" % took,
                  r.key == b"l-kill/%x" % lease and took < 20, (r.key, took))
            check("the dead holder's key is gone", [kv.key for kv in get_prefix(chs[1], b"l-kill/")] == [r.key])
            unlock(chs[1], r.key)
        except grpc.RpcError as e:
            check("the waiter gets the lock once the killed holder's lease expires", False, (e.code(), e.details()))
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
        holder.stderr.close()


def test_cancelled_lock(c, chs):
    la, lb, lc = grant(chs[1], 60), grant(chs[2], 60), grant(chs[3], 60)
    held = lock(chs[1], b"l-cancel", la)
    # A deadline: the server's handler is cancelled at the deadline.
    e = rpc_error(lambda: lock(chs[2], b"l-cancel", lb, timeout=1.5))
    check("a waiting Lock with a deadline fails DEADLINE_EXCEEDED",
          e is not None and e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e and e.code())
    # An explicit cancel (RST_STREAM) while waiting.
    f = lock_future(chs[3], b"l-cancel", lc)
    time.sleep(1.0)
    f.cancel()
    only_holder = lambda: [kv.key for kv in get_prefix(chs[1], b"l-cancel/")] == [held.key]
    check("cancelled Lock calls leave no key behind", wait_until(only_holder, 10),
          [kv.key for kv in get_prefix(chs[1], b"l-cancel/")])
    unlock(chs[1], held.key)
    r = lock(chs[2], b"l-cancel", lb, timeout=10)
    check("the lock is free after the holder unlocks", r.key == b"l-cancel/%x" % lb, r.key)
    unlock(chs[2], r.key)
    # A cancelled Campaign resigns.
    ca = campaign(chs[1], b"e-cancel", la, b"a")
    f = campaign_future(chs[2], b"e-cancel", lb, b"b")
    time.sleep(1.0)
    f.cancel()
    only_leader = lambda: [kv.key for kv in get_prefix(chs[1], b"e-cancel/")] == [ca.leader.key]
    check("a cancelled Campaign leaves no key behind", wait_until(only_leader, 10),
          [kv.key for kv in get_prefix(chs[1], b"e-cancel/")])
    resign(chs[1], ca.leader)


def test_election(c, chs):
    la, lb = grant(chs[1], 60), grant(chs[2], 60)
    obs = Observer(chs[3], b"e-basic")
    a = campaign(chs[1], b"e-basic", la, b"alpha")
    check("Campaign returns the leader key", a.leader.name == b"e-basic" and
          a.leader.key == b"e-basic/%x" % la and a.leader.lease == la and a.leader.rev > 0, a.leader)
    check("Campaign's rev is the key's create revision",
          get_prefix(chs[2], b"e-basic/")[0].create_revision == a.leader.rev)
    l = leader(chs[2], b"e-basic")
    check("Leader names the campaigner", l.kv.key == a.leader.key and l.kv.value == b"alpha", l.kv)
    check("Observe sees the first leader", obs.wait_for(b"alpha"), obs.values)
    b = campaign_future(chs[2], b"e-basic", lb, b"beta")
    time.sleep(1.0)
    check("a second Campaign waits while the leader holds", not b.done())
    proclaim(chs[3], a.leader, b"alpha2")
    check("Proclaim changes the leader's value", leader(chs[1], b"e-basic").kv.value == b"alpha2")
    check("Observe sees the proclamation", obs.wait_for(b"alpha2"), obs.values)
    fake = pb.election.LeaderKey(name=b"e-basic", key=b"e-basic/%x" % lb, rev=a.leader.rev, lease=lb)
    e = rpc_error(lambda: proclaim(chs[1], fake, b"usurper"))
    check("Proclaim by a non-leader: election: not leader (Unknown)",
          e is not None and e.code() == grpc.StatusCode.UNKNOWN and e.details() == "election: not leader",
          e and (e.code(), e.details()))
    r = resign(chs[1], a.leader)
    check("Resign answers with a header", r.header.revision > 0)
    try:
        br = b.result(timeout=15)
        check("the waiting campaigner becomes leader after Resign", br.leader.key == b"e-basic/%x" % lb, br.leader)
    except grpc.RpcError as e:
        check("the waiting campaigner becomes leader after Resign", False, (e.code(), e.details()))
        return
    check("Leader reports the new leader", leader(chs[3], b"e-basic").kv.value == b"beta")
    check("Observe sees the leader change", obs.wait_for(b"beta"), obs.values)
    check("Observe's values in order", obs.values[:3] == [b"alpha", b"alpha2", b"beta"], obs.values)
    resign(chs[1], a.leader)  # stale: must not remove the new leader's key
    check("a stale Resign leaves the new leader alone", leader(chs[1], b"e-basic").kv.value == b"beta")
    resign(chs[2], br.leader)
    e = rpc_error(lambda: leader(chs[2], b"e-basic"))
    check("no leader after the last Resign", e is not None and e.details() == "election: no leader",
          e and e.details())
    obs.stop()


def test_gateway(c, chs):
    lease = grant(chs[1], 60)
    st, body = gateway(c, 1, "/v3/lock/lock", {"name": b64(b"g-lock"), "lease": str(lease)})
    key = body.get("key", "")
    check("gateway /v3/lock/lock", st == 200 and base64.b64decode(key) == b"g-lock/%x" % lease and
          "revision" in body.get("header", {}), (st, body))
    st, body = gateway(c, 2, "/v3/lock/unlock", {"key": key})
    check("gateway /v3/lock/unlock", st == 200 and len(get_prefix(chs[1], b"g-lock/")) == 0, (st, body))
    st, body = gateway(c, 3, "/v3/election/campaign", {"name": b64(b"g-elect"), "lease": str(lease),
                                                        "value": b64(b"v1")})
    ldr = body.get("leader", {})
    check("gateway /v3/election/campaign", st == 200 and base64.b64decode(ldr.get("key", "")) ==
          b"g-elect/%x" % lease and ldr.get("lease") == str(lease) and int(ldr.get("rev", 0)) > 0, (st, body))
    st, body = gateway(c, 1, "/v3/election/proclaim", {"leader": ldr, "value": b64(b"v2")})
    check("gateway /v3/election/proclaim", st == 200, (st, body))
    st, body = gateway(c, 2, "/v3/election/leader", {"name": b64(b"g-elect")})
    check("gateway /v3/election/leader", st == 200 and base64.b64decode(body["kv"]["value"]) == b"v2", (st, body))
    bad = dict(ldr, rev=str(int(ldr.get("rev", 0)) + 1000))
    st, body = gateway(c, 2, "/v3/election/proclaim", {"leader": bad, "value": b64(b"v3")})
    check("gateway proclaim by a non-leader: 500 election: not leader",
          st == 500 and body.get("error") == "election: not leader" and body.get("code") == 2, (st, body))
    st, body = gateway(c, 3, "/v3/election/resign", {"leader": ldr})
    check("gateway /v3/election/resign", st == 200 and len(get_prefix(chs[1], b"g-elect/")) == 0, (st, body))


def test_observe_across_raft_leader_change(c, chs):
    """Observe on a follower keeps going when the raft leader dies (run last: leaves one member down)."""
    lead = c.raft_leader()
    if not check("a raft leader is known", lead != 0):
        return
    f1, f2 = [i for i in (1, 2, 3) if i != lead]
    lease = grant(chs[f2], 60)
    obs = Observer(chs[f1], b"e-fail")
    a = campaign(chs[f2], b"e-fail", lease, b"before")
    check("Observe on a follower sees the leader", obs.wait_for(b"before"), obs.values)
    c.kill(lead)
    # The two survivors elect a raft leader; the proclamation goes through once they have.
    ok = wait_until(lambda: proclaim(chs[f2], a.leader, b"after") is not None, 20)
    check("Proclaim succeeds after the raft leader was killed", ok)
    check("Observe sees the proclamation made under the new raft leader", obs.wait_for(b"after", 20),
          (obs.values, obs.error and obs.error.details()))
    resign(chs[f2], a.leader)
    obs.stop()


def suite_services(c, pb_dir):
    chs = {i: grpc.insecure_channel(c.ep(i)) for i in (1, 2, 3)}
    try:
        test_errors(c, chs)
        test_lock_unlock(c, chs)
        test_mutual_exclusion(c, chs)
        test_handover_on_kill(c, chs, pb_dir)
        test_cancelled_lock(c, chs)
        test_election(c, chs)
        test_gateway(c, chs)
        test_observe_across_raft_leader_change(c, chs)
    finally:
        for ch in chs.values():
            ch.close()


# ---- suite "etcdctl": etcd's own client-side recipes against cairn ----

def etcdctl(c, members, *args, timeout=20):
    eps = ",".join(c.ep(i) for i in members)
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(["etcdctl", "--endpoints=" + eps, "--command-timeout=10s"] + list(args), env=env,
                          capture_output=True, text=True, timeout=timeout)


def etcdctl_bg(c, member, *args):
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.Popen(["etcdctl", "--endpoints=" + c.ep(member)] + list(args), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_line(proc, seconds):
    """The next stdout line of proc within seconds ('' on timeout or EOF)."""
    out = []
    t = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(seconds)
    return out[0].strip() if out else ""


def stop(proc, sig=signal.SIGINT):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()


def suite_etcdctl(c, pb_dir):
    if shutil.which("etcdctl") is None:
        print("etcdctl not installed: skipped")
        return 77
    chs = {i: grpc.insecure_channel(c.ep(i)) for i in (1, 2, 3)}
    procs = []
    try:
        # etcdctl lock: the first holder prints its key; a second waits until the first lets go (SIGINT
        # makes etcdctl unlock), then runs its command.
        h1 = etcdctl_bg(c, 1, "lock", "ctl-lock")
        procs.append(h1)
        k1 = read_line(h1, 15)
        check("etcdctl lock prints the ownership key", k1.startswith("ctl-lock/"), k1)
        h2 = etcdctl_bg(c, 2, "lock", "ctl-lock", "echo", "second-ran")
        procs.append(h2)
        time.sleep(1.5)
        check("a second etcdctl lock waits", h2.poll() is None)
        # The Lock service runs the same algorithm on the same keys: it waits too.
        lease = grant(chs[3], 60)
        svc = lock_future(chs[3], b"ctl-lock", lease, timeout=60)
        time.sleep(0.5)
        check("the Lock service waits behind etcdctl's holder", not svc.done())
        stop(h1)
        out = read_line(h2, 20)
        check("the second etcdctl lock runs its command after the first releases", out == "second-ran", out)
        h2.wait(20)
        try:
            r = svc.result(timeout=20)
            check("the Lock service gets the lock after both etcdctl holders", r.key == b"ctl-lock/%x" % lease, r.key)
            # And an etcdctl lock waits for the service's holder.
            h3 = etcdctl_bg(c, 1, "lock", "ctl-lock")
            procs.append(h3)
            time.sleep(1.5)
            check("etcdctl lock waits behind the Lock service's holder", h3.poll() is None and
                  len(get_prefix(chs[1], b"ctl-lock/")) == 2)
            unlock(chs[2], r.key)
            k3 = read_line(h3, 15)
            check("etcdctl lock acquires after Unlock", k3.startswith("ctl-lock/"), k3)
            stop(h3)
        except grpc.RpcError as e:
            check("the Lock service gets the lock after both etcdctl holders", False, (e.code(), e.details()))
        check("no lock key left", wait_until(lambda: len(get_prefix(chs[1], b"ctl-lock/")) == 0, 10))

        # etcdctl elect: a campaigner, a listener, the Election service seeing the same leader.
        listener = etcdctl_bg(c, 3, "elect", "-l", "ctl-elect")
        procs.append(listener)
        e1 = etcdctl_bg(c, 1, "elect", "ctl-elect", "p1")
        procs.append(e1)
        key1 = read_line(e1, 15)
        val1 = read_line(e1, 5)
        check("etcdctl elect prints the leader key and proposal", key1.startswith("ctl-elect/") and val1 == "p1",
              (key1, val1))
        l = leader(chs[2], b"ctl-elect")
        check("the Election service reports etcdctl's leader", l.kv.key.decode() == key1 and l.kv.value == b"p1", l.kv)
        lk, lv = read_line(listener, 10), read_line(listener, 5)
        check("etcdctl elect -l shows the leader", lk == key1 and lv == "p1", (lk, lv))
        # A service campaigner waits behind etcdctl's leader, and wins when etcdctl resigns (SIGINT).
        lease = grant(chs[2], 60)
        camp = campaign_future(chs[2], b"ctl-elect", lease, b"svc")
        time.sleep(1.0)
        check("a Campaign waits behind etcdctl's leader", not camp.done())
        stop(e1)
        try:
            cr = camp.result(timeout=20)
            check("the Campaign wins after etcdctl resigns", cr.leader.key == b"ctl-elect/%x" % lease, cr.leader)
            lk, lv = read_line(listener, 10), read_line(listener, 5)
            check("etcdctl elect -l shows the service's leader", lk == "ctl-elect/%x" % lease and lv == "svc",
                  (lk, lv))
            resign(chs[2], cr.leader)
        except grpc.RpcError as e:
            check("the Campaign wins after etcdctl resigns", False, (e.code(), e.details()))
        stop(listener)
    finally:
        for p in procs:
            stop(p, signal.SIGKILL)
        for ch in chs.values():
            ch.close()
    return 0


# ---- suite "clientv3": etcd's Go client (Debian's golang-etcd-server-dev) against the services ----

GOPATH_ETCD = "/usr/share/gocode"


def suite_clientv3(c, pb_dir):
    go = shutil.which("go")
    if go is None or not os.path.isdir(os.path.join(GOPATH_ETCD, "src/go.etcd.io/etcd/clientv3")):
        print("go or golang-etcd-server-dev not installed: skipped")
        return 77
    work = os.path.dirname(pb_dir)
    src = os.path.join(work, "go/src/clientv3check")
    os.makedirs(src)
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "clientv3_check.go"),
                os.path.join(src, "main.go"))
    env = dict(os.environ, GOPATH=os.path.join(work, "go") + ":" + GOPATH_ETCD, GO111MODULE="off",
               GOFLAGS="", GOCACHE=os.environ.get("CAIRN_GOCACHE", os.path.join(work, "gocache")))
    binary = os.path.join(work, "clientv3_check")
    b = subprocess.run([go, "build", "-o", binary, "clientv3check"], env=env, capture_output=True, text=True,
                       timeout=600)
    if not check("clientv3_check builds", b.returncode == 0, b.stdout + b.stderr):
        return 1
    r = subprocess.run([binary] + [c.ep(i) for i in (1, 2, 3)], capture_output=True, text=True, timeout=120)
    sys.stdout.write(r.stdout)
    check("clientv3_check passes", r.returncode == 0, r.stderr[-2000:])
    return 0


# ---- helper mode: hold a lock until killed ----

def hold(pb_dir, endpoint, name, ttl):
    global pb
    pb = import_protos(pb_dir)
    ch = grpc.insecure_channel(endpoint)
    lease = grant(ch, int(ttl))
    KeepAlive(ch, lease, interval=0.3)
    r = lock(ch, name.encode(), lease)
    print("LOCKED " + r.key.decode(), flush=True)
    while True:
        time.sleep(1)


def main():
    global pb
    if len(sys.argv) >= 2 and sys.argv[1] == "--hold":
        hold(*sys.argv[2:6])
        return 0
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    cairn, protoc, suite, base = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if not os.access(protoc, os.X_OK):
        print("protoc not found: skipped")
        return 77
    src_root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    work = tempfile.mkdtemp(prefix="cairn-lock-e2e.")
    pb_dir = os.path.join(work, "pb")
    os.makedirs(pb_dir)
    pb = load_protos(protoc, src_root, pb_dir)
    c = Cluster(cairn, base, work)
    rc = 1
    try:
        for i in (1, 2, 3):
            c.start(i)
        if not check("cluster healthy", c.wait_healthy()):
            return 1
        try:
            rc = {"services": suite_services, "etcdctl": suite_etcdctl, "clientv3": suite_clientv3}[suite](c, pb_dir) or 0
        except Exception as e:  # an unexpected error (e.g. an RPC that should not fail) fails the test
            import traceback
            traceback.print_exc()
            check("no unexpected exception", False, repr(e))
    finally:
        c.stop_all()
        reports = c.sanitizer_reports()
        check("no sanitizer reports in the members' logs", not reports, "\n".join(reports[:20]))
        if failures or rc not in (0, 77):
            c.dump_logs()
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if rc == 77:
        return 77
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("all %s checks passed" % suite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
