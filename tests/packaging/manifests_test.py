#!/usr/bin/env python3
"""The container and Kubernetes packaging, checked as far as this machine allows (no container runtime):
  packaging/docker/Dockerfile: Debian bookworm stages, a non-root USER, a HEALTHCHECK on /livez, every
    ETCD_* variable it sets names a flag of `cairn --help`, and the build stage installs only packages
    that scripts/deps installs (so it builds with what CI builds with);
  packaging/kubernetes/cairn.yaml: parses (python3-yaml), a 3-replica StatefulSet on a headless service
    that publishes not-ready addresses, probes on /livez and /readyz, required anti-affinity, a
    PodDisruptionBudget that keeps a quorum; and member cairn-0's args, with the pod's names filled in
    and the service DNS names pointed at loopback ports, start a member whose /livez answers.
   usage: manifests_test.py path/to/cairn REPO_ROOT     env: E2E_BASE_PORT (default 13100; +0..+21)"""
import os, re, shutil, subprocess, sys, tempfile, time, urllib.request

cairn, root = sys.argv[1], sys.argv[2]
try:
    import yaml
except ImportError:
    print("python3-yaml not installed: skipped")
    sys.exit(77)
base = int(os.environ.get("E2E_BASE_PORT", "13100"))
failed = False


def check(name, cond, detail=""):
    global failed
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))
    failed |= not cond


def dockerfile():
    text = open(os.path.join(root, "packaging/docker/Dockerfile")).read()
    joined = re.sub(r"\\\n", " ", text)
    froms = re.findall(r"^FROM (\S+)", joined, re.M)
    check("Dockerfile: Debian bookworm stages", froms and all(f.startswith("debian:bookworm") for f in froms), froms)
    users = re.findall(r"^USER (\S+)", joined, re.M)
    check("Dockerfile: runs as a non-root user", users and users[-1].split(":")[0] not in ("root", "0"), users)
    hc = re.findall(r"^HEALTHCHECK .*", joined, re.M)
    check("Dockerfile: HEALTHCHECK on /livez", hc and "/livez" in hc[0], hc)
    help_text = subprocess.run([cairn, "--help"], capture_output=True, text=True).stdout
    envs = re.findall(r"\b(ETCD_[A-Z_]+)=", joined)
    unknown = [e for e in envs if "--" + e[5:].lower().replace("_", "-") not in help_text]
    check(f"Dockerfile: its {len(envs)} ETCD_* variables are cairn flags", envs and not unknown, unknown)
    build_stage = joined.split("\nFROM ")[1]
    pkgs = re.search(r"apt-get install -y --no-install-recommends (.*?)&&", build_stage).group(1).split()
    deps = open(os.path.join(root, "scripts/deps")).read()
    missing = [p for p in pkgs if not re.search(r"(^|\s)" + re.escape(p) + r"(\s|$)", deps, re.M)]
    check("Dockerfile: build packages are scripts/deps packages", not missing, missing)


def manifest():
    docs = list(yaml.safe_load_all(open(os.path.join(root, "packaging/kubernetes/cairn.yaml"))))
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    headless = [s for s in by_kind["Service"] if s["metadata"]["name"] == spec["serviceName"]]
    check("k8s: StatefulSet of 3 on a headless service",
          spec["replicas"] == 3 and headless and headless[0]["spec"].get("clusterIP") == "None", spec["serviceName"])
    check("k8s: the peer service publishes not-ready addresses",
          headless and headless[0]["spec"].get("publishNotReadyAddresses") is True)
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    check("k8s: liveness on /livez, readiness on /readyz",
          c["livenessProbe"]["httpGet"]["path"] == "/livez" and c["readinessProbe"]["httpGet"]["path"] == "/readyz")
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    check("k8s: members on different nodes", anti[0]["topologyKey"] == "kubernetes.io/hostname")
    pdb = by_kind["PodDisruptionBudget"][0]["spec"]
    check("k8s: the disruption budget keeps a quorum", pdb["minAvailable"] == spec["replicas"] // 2 + 1, pdb)
    labels = spec["template"]["metadata"]["labels"]
    check("k8s: selectors match the pod labels",
          all(labels.get(k) == v for k, v in pdb["selector"]["matchLabels"].items()) and
          all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()))
    return c["args"]


def start_member(args):
    work = tempfile.mkdtemp(prefix="cairn-k8s.")
    ports = {"cairn-0": base, "cairn-1": base + 10, "cairn-2": base + 20}
    out = []
    for a in args:
        a = a.replace("$(POD_NAME)", "cairn-0").replace("$(POD_NAMESPACE)", "default")
        for name, p in ports.items():
            a = a.replace(f"{name}.cairn-peer.default.svc:2380", f"127.0.0.1:{p + 1}")
            a = a.replace(f"{name}.cairn-peer.default.svc:2379", f"127.0.0.1:{p}")
        a = a.replace("0.0.0.0:2379", f"127.0.0.1:{base}").replace("0.0.0.0:2380", f"127.0.0.1:{base + 1}")
        a = a.replace("0.0.0.0:2381", f"127.0.0.1:{base + 2}")
        a = a.replace("/var/lib/cairn/data", os.path.join(work, "data"))
        out.append(a)
    leftover = [a for a in out if re.search(r"\$\(|svc|0\.0\.0\.0|/var/lib", a)]
    check("k8s: every arg maps onto the test's addresses", not leftover, leftover)
    log = open(os.path.join(work, "cairn.log"), "w")
    proc = subprocess.Popen([cairn] + out, stdout=log, stderr=log)
    ok = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{base}/livez", timeout=2) as r:
                ok = r.status == 200
                break
        except Exception:
            time.sleep(0.2)
    rc = proc.poll()
    check("k8s: member cairn-0 starts with the manifest's args and /livez answers", ok,
          f"exit {rc}: " + open(os.path.join(work, "cairn.log")).read()[-1500:])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 2}/metrics", timeout=3) as r:
            check("k8s: the metrics URL serves /metrics", b"etcd_server_has_leader" in r.read())
    except Exception as e:
        check("k8s: the metrics URL serves /metrics", False, e)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if not failed:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("logs kept in " + work)


dockerfile()
start_member(manifest())
sys.exit(1 if failed else 0)
