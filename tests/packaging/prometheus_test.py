#!/usr/bin/env python3
"""Prometheus against a live cairn cluster, with the alerting rules of packaging/prometheus/:
  1. `promtool check rules` and `promtool test rules` (the unit tests in cairn-rules.test.yml);
  2. three members with --metrics=extensive: every scrape has histograms with etcd's buckets, and every
     metric name the rules and etcd's Grafana dashboard read is in a real scrape;
  3. Debian's prometheus scrapes them every second with a copy of the rules whose membership alerts have
     short `for:` durations: on the healthy cluster every rule evaluates without error and none fires;
     with a follower SIGKILLed etcdMembersDown fires (and etcdInsufficientMembers / etcdNoLeader do
     not); with a second one killed etcdInsufficientMembers fires.
Every wait is a bounded poll. Exit 77 (skipped) without prometheus/promtool.
   usage: prometheus_test.py path/to/cairn RULES_DIR     env: E2E_BASE_PORT (default 13000; +0..+90)"""
import json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.parse, urllib.request

cairn, rules_dir = sys.argv[1], sys.argv[2]
if not all(shutil.which(t) for t in ("prometheus", "promtool", "etcdctl")):
    print("prometheus, promtool or etcdctl not installed: skipped")
    sys.exit(77)
base = int(os.environ.get("E2E_BASE_PORT", "13000"))
work = tempfile.mkdtemp(prefix="cairn-prometheus.")
procs = {}
failed = False

# What etcd's Grafana dashboard (etcd's contrib/mixin dashboards) queries, besides the rules' series.
DASHBOARD = """etcd_server_has_leader etcd_server_leader_changes_seen_total etcd_server_proposals_failed_total
etcd_server_proposals_pending etcd_server_proposals_committed_total etcd_server_proposals_applied_total
etcd_mvcc_db_total_size_in_bytes etcd_debugging_mvcc_db_total_size_in_bytes etcd_debugging_mvcc_keys_total
etcd_disk_wal_fsync_duration_seconds_bucket etcd_disk_backend_commit_duration_seconds_bucket
etcd_network_client_grpc_received_bytes_total etcd_network_client_grpc_sent_bytes_total
etcd_network_peer_received_bytes_total etcd_network_peer_sent_bytes_total
etcd_network_peer_round_trip_time_seconds_bucket grpc_server_started_total grpc_server_handled_total
grpc_server_handling_seconds_bucket process_resident_memory_bytes process_cpu_seconds_total
process_open_fds process_max_fds process_start_time_seconds etcd_server_version etcd_cluster_version
etcd_server_quota_backend_bytes etcd_mvcc_db_total_size_in_use_in_bytes etcd_mvcc_put_total
etcd_mvcc_range_total etcd_mvcc_txn_total etcd_mvcc_delete_total""".split()


def fail(msg):
    global failed
    print("FAIL " + msg)
    failed = True


def ok(msg):
    print("ok   " + msg)


def get(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_until(what, fn, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.2)
    fail(f"{what}: not within {seconds} s")
    return None


def client(n):
    return f"http://127.0.0.1:{base + 10 * (n - 1)}"


def start_members():
    peers = {n: f"http://127.0.0.1:{base + 10 * (n - 1) + 1}" for n in (1, 2, 3)}
    cluster = ",".join(f"m{n}={peers[n]}" for n in peers)
    for n in peers:
        log = open(os.path.join(work, f"m{n}.log"), "w")
        procs[n] = subprocess.Popen(
            [cairn, "--name", f"m{n}", "--data-dir", os.path.join(work, f"m{n}"), "--metrics", "extensive",
             "--listen-client-urls", client(n), "--advertise-client-urls", client(n),
             "--listen-peer-urls", peers[n], "--initial-advertise-peer-urls", peers[n],
             "--initial-cluster", cluster, "--initial-cluster-token", "prom", "--heartbeat-interval", "50",
             "--election-timeout", "500"], stdout=log, stderr=log)


def put(n, key, value):
    """A put over gRPC (etcdctl), so the grpc_server_* series have a handled call."""
    r = subprocess.run(["etcdctl", "--endpoints", client(n), "--command-timeout=5s", "put", key, value],
                       env=dict(os.environ, ETCDCTL_API="3"), capture_output=True, text=True, timeout=20)
    return r.returncode == 0


def sample_names(text):
    return {re.split(r"[{ ]", line, 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def check_scrapes():
    names, leader = set(), None
    for n in (1, 2, 3):
        _, text = get(client(n) + "/metrics")
        names |= sample_names(text)
        if re.search(r"^etcd_server_is_leader 1$", text, re.M):
            leader = n
        les = re.findall(r'^etcd_disk_wal_fsync_duration_seconds_bucket\{le="([^"]+)"\}', text, re.M)
        want = ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512",
                "1.024", "2.048", "4.096", "8.192", "+Inf"]
        if les != want:
            fail(f"m{n}: wal fsync buckets {les}, want etcd's {want}")
    rules_text = open(os.path.join(rules_dir, "cairn-rules.yml")).read()
    used = set(re.findall(r"\b((?:etcd|grpc_server|process)_[a-z_]+)\b", rules_text)) | set(DASHBOARD)
    missing = sorted(used - names)
    if missing:
        fail(f"series the rules or the dashboard read are not in any scrape: {missing}")
    else:
        ok(f"all {len(used)} series the rules and the dashboard read are scraped; buckets are etcd's")
    return leader


def prom_query(q):
    _, body = get(f"http://127.0.0.1:{base + 90}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    return json.loads(body)["data"]["result"]


def alerts(state="firing"):
    _, body = get(f"http://127.0.0.1:{base + 90}/api/v1/alerts")
    return sorted({a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"] if a["state"] == state})


def start_prometheus():
    # The membership alerts get short `for:` durations; the others keep theirs (they must evaluate
    # cleanly, not fire, within the test).
    short = {"etcdMembersDown": "2s", "etcdInsufficientMembers": "2s", "etcdNoLeader": "5s"}
    lines, current = [], None
    for line in open(os.path.join(rules_dir, "cairn-rules.yml")):
        m = re.match(r"\s*- alert: (\S+)", line)
        if m:
            current = m.group(1)
        if re.match(r"\s*for: ", line) and current in short:
            line = re.sub(r"for: \S+", "for: " + short[current], line)
        lines.append(line)
    open(os.path.join(work, "rules.yml"), "w").write("".join(lines))
    targets = ", ".join(f"'127.0.0.1:{base + 10 * (n - 1)}'" for n in (1, 2, 3))
    open(os.path.join(work, "prometheus.yml"), "w").write(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        f"scrape_configs:\n  - job_name: cairn\n    static_configs:\n      - targets: [{targets}]\n")
    log = open(os.path.join(work, "prometheus.log"), "w")
    procs["prometheus"] = subprocess.Popen(
        ["prometheus", "--config.file", os.path.join(work, "prometheus.yml"), "--storage.tsdb.path",
         os.path.join(work, "tsdb"), "--web.listen-address", f"127.0.0.1:{base + 90}"],
        cwd=work, stdout=log, stderr=log)


def rules_healthy(after):
    _, body = get(f"http://127.0.0.1:{base + 90}/api/v1/rules")
    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    if bad:
        fail(f"rules that do not evaluate: {bad}")
        return True
    # RFC 3339 with nanoseconds; compare as text after trimming to seconds.
    return rules and all(r["lastEvaluation"][:19] > after for r in rules)


def main():
    r = subprocess.run(["promtool", "check", "rules", "cairn-rules.yml"], cwd=rules_dir, capture_output=True, text=True)
    ok("promtool check rules") if r.returncode == 0 else fail("promtool check rules: " + r.stdout + r.stderr)
    r = subprocess.run(["promtool", "test", "rules", "cairn-rules.test.yml"], cwd=rules_dir, capture_output=True,
                       text=True)
    ok("promtool test rules") if r.returncode == 0 else fail("promtool test rules: " + r.stdout + r.stderr)

    start_members()
    for n in (1, 2, 3):
        wait_until(f"m{n} ready", lambda n=n: get(client(n) + "/readyz")[0] == 200, 30)
    for i in range(10):
        wait_until("put", lambda i=i: put(1 + i % 3, f"k{i}", "v" * 100), 10)
    leader = wait_until("round trips measured", check_scrapes_when_ready, 15)
    start_prometheus()
    wait_until("prometheus scrapes 3 members",
               lambda: prom_query('count(up{job="cairn"} == 1)')[0]["value"][1] == "3", 30)
    t0 = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3))
    wait_until("rules evaluated 3 s after every member is up", lambda: rules_healthy(t0), 20)
    firing = alerts()
    ok("healthy cluster: no alert fires") if not firing else fail(f"healthy cluster: alerts firing {firing}")

    followers = [n for n in (1, 2, 3) if n != leader]
    procs[followers[0]].send_signal(signal.SIGKILL)
    if wait_until("etcdMembersDown fires with a member killed", lambda: "etcdMembersDown" in alerts(), 30):
        ok("one member SIGKILLed: etcdMembersDown fires")
    wrong = [a for a in alerts() if a in ("etcdInsufficientMembers", "etcdNoLeader")]
    ok("quorum kept: no etcdInsufficientMembers/etcdNoLeader") if not wrong else fail(f"with quorum: {wrong}")

    procs[followers[1]].send_signal(signal.SIGKILL)
    if wait_until("etcdInsufficientMembers fires", lambda: "etcdInsufficientMembers" in alerts(), 30):
        ok("two members SIGKILLed: etcdInsufficientMembers fires")


def check_scrapes_when_ready():
    # The leader's round-trip histogram appears after its first heartbeat response.
    texts = [get(client(n) + "/metrics")[1] for n in (1, 2, 3)]
    if not any("etcd_network_peer_round_trip_time_seconds_bucket" in t for t in texts):
        return None
    return check_scrapes()


try:
    main()
finally:
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    san = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:")
    for n in (1, 2, 3):
        path = os.path.join(work, f"m{n}.log")
        if os.path.exists(path) and san.search(open(path).read()):
            fail(f"sanitizer report in m{n}.log")
    if failed:
        for f in sorted(os.listdir(work)):
            if f.endswith(".log"):
                print(f"--- {f} (last 20 lines)")
                print("".join(open(os.path.join(work, f)).readlines()[-20:]))
        print("logs kept in " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failed else 0)
