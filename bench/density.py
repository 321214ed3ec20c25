#!/usr/bin/env python3
"""Pod density bench (issue #20 item 3): one edgecore with maxPods 110 on the real containerd,
fed by cloudsim. Measures the time from the cloud's first pod insert to all pods Running (as the
cloud sees them, through the edge's podpatch) and to all containers running in containerd, then
edgecore's RSS and CPU over a steady-state window (status, probes, lease), then deletes the pods
and checks that nothing is left. Prints a small table. A bench, not part of the test suite.

usage: bench/density.py [--build DIR] [--edgecore BINARY] [--go BINARY[.xz]] [--pods N]
                        [--steady SECONDS] [--sample SECONDS] [--keep-work]

Root, containerd on /run/containerd/containerd.sock with docker.io/library/busybox:local
(scripts/test-services.sh). Holds /tmp/containerd-tests.lock while pods exist, as the containerd
tests do. Pods live in the namespace edged-bench-<pid>, whose leftovers the containerd tests
remove once this process is gone (test/edged/cri_test_util.h); this driver removes them itself on
exit, SIGINT and SIGTERM.
"""
import argparse
import fcntl
import json
import lzma
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SOCKET = "/run/containerd/containerd.sock"
IMAGE = "docker.io/library/busybox:local"
LOCK = "/tmp/containerd-tests.lock"
CNI_CONF_DIR = "/etc/cni/net.d"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[density {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Cloud:
    """cloudsim serve on free ports, driven through its control API."""

    def __init__(self, build, work, node, lax_csr=False):
        self.dir = os.path.join(work, "cloud")
        self.ports = {k: free_port() for k in ("ws", "https", "control", "stream")}
        out = subprocess.run([os.path.join(build, "cloudsim"), "init", self.dir, "--node", node],
                             check=True, capture_output=True, text=True)
        with open(os.path.join(self.dir, "token")) as f:
            self.token = f.read().strip()
        del out
        self.log = open(os.path.join(work, "cloudsim.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "cloudsim"), "serve", self.dir, "--ws-port", str(self.ports["ws"]),
             "--https-port", str(self.ports["https"]), "--control-port", str(self.ports["control"]),
             "--stream-port", str(self.ports["stream"]), "--keepalive-timeout", "60"]
            # Go edgecore v1.15 asks for a certificate of another subject; CloudHub signs it.
            + (["--lax-csr"] if lax_csr else []),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                self.get("/status")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("cloudsim did not answer its control API")
                time.sleep(0.1)

    def call(self, method, path, body=None):
        url = f"http://127.0.0.1:{self.ports['control']}{path}"
        req = urllib.request.Request(url, data=body, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def get(self, path):
        return self.call("GET", path)

    def objects(self, type_):
        """The cloud store's objects of one type (its keys are "<type>/<ns>/<name>")."""
        return [o for k, o in (self.get("/objects") or {}).items()
                if k.startswith(type_ + "/") and isinstance(o, dict)]

    def manifest(self, op, obj):
        return self.call("POST", f"/manifest?op={op}", json.dumps(obj).encode())

    def pods(self, ns):
        """The cloud's pods of namespace ns (with the status the edge patched in)."""
        return [o for o in self.objects("pod") if o.get("metadata", {}).get("namespace") == ns]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def edge_config(work, cloud, node, db, max_pods, cloud_on=True, go=False):
    """edgecore.yaml for ours, or (go=True) for KubeEdge's Go edgecore v1.15, whose edged is the
    kubelet: endpoints and sandbox image under edged, and cgroups, image GC and node allocatable
    kept off the shared host (no kubepods cgroup, no iptables chains, never delete images other
    tests use)."""
    d = os.path.join(work, "edge")
    os.makedirs(os.path.join(d, "certs"), exist_ok=True)
    hub = f"""  edgeHub:
    enable: {'true' if cloud_on else 'false'}
    heartbeat: 15
    httpServer: https://127.0.0.1:{cloud.ports['https']}
    tlsCaFile: {d}/certs/ca.crt
    tlsCertFile: {d}/certs/server.crt
    tlsPrivateKeyFile: {d}/certs/server.key
    token: {cloud.token}
    websocket: {{enable: true, server: "127.0.0.1:{cloud.ports['ws']}"}}
"""
    if go:
        edged = f"""  edged:
    enable: true
    hostnameOverride: {node}
    rootDirectory: {d}/root
    containerRuntime: remote
    remoteRuntimeEndpoint: unix://{SOCKET}
    remoteImageEndpoint: unix://{SOCKET}
    podSandboxImage: registry.k8s.io/pause:3.6
    registerNodeNamespace: default
    tailoredKubeletConfig:
      address: 127.0.0.1
      readOnlyPort: {free_port()}
      maxPods: {max_pods}
      cgroupDriver: cgroupfs
      cgroupsPerQOS: false
      enforceNodeAllocatable: []
      imageGCHighThresholdPercent: 100
      imageGCLowThresholdPercent: 99
      evictionHard: {{}}
      staticPodPath: {d}/manifests
      failSwapOn: false
      makeIPTablesUtilChains: false
"""
    else:
        edged = f"""  edged:
    enable: true
    hostnameOverride: {node}
    rootDirectory: {d}/root
    tailoredKubeletConfig:
      address: 127.0.0.1
      readOnlyPort: {free_port()}
      maxPods: {max_pods}
      containerRuntimeEndpoint: unix://{SOCKET}
      podLogsDir: {d}/podlogs
      staticPodPath: {d}/manifests
"""
    name = ("edgecore" if cloud_on else "edgecore-offline") + ("-go" if go else "") + ".yaml"
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(f"""apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database: {{dataSource: {db}}}
modules:
{hub}  deviceTwin: {{enable: false}}
  eventBus: {{enable: false}}
  edgeStream: {{enable: false}}
  metaManager: {{metaServer: {{enable: false}}}}
{edged}""")
    return path


def foreign_containers(ns):
    """Containers in containerd's k8s.io namespace that are not of namespace ns: the Go edgecore's
    kubelet kills every pod it does not know, so it must not run next to other tests' pods."""
    mine = set(subprocess.run(["ctr", "-n", "k8s.io", "containers", "ls", "-q",
                               f'labels."io.kubernetes.pod.namespace"=={ns}'],
                              capture_output=True, text=True, timeout=60).stdout.split())
    every = set(subprocess.run(["ctr", "-n", "k8s.io", "containers", "ls", "-q"],
                               capture_output=True, text=True, timeout=60).stdout.split())
    return sorted(every - mine)


def make_pod(ns, node, i):
    """busybox sleeping, hostNetwork (no CNI here); every 2nd pod has an exec readiness probe,
    every 4th also an exec liveness probe, so probes run in the steady state."""
    c = {"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
         "command": ["sh", "-c", "touch /tmp/ready; exec sleep 86400"]}
    if i % 2 == 0:
        c["readinessProbe"] = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 10}
    if i % 4 == 0:
        c["livenessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": 10,
                              "initialDelaySeconds": 5}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i:03d}", "namespace": ns, "uid": f"{ns}-p{i:03d}"},
            "spec": {"nodeName": node, "hostNetwork": True, "restartPolicy": "Always",
                     "terminationGracePeriodSeconds": 1, "containers": [c]}}


def containerd_running(ns):
    """(containers of ns, of which with a RUNNING task) on containerd's k8s.io namespace;
    sandboxes (pause) excluded."""
    sel = f'labels."io.kubernetes.pod.namespace"=={ns}'
    out = subprocess.run(["ctr", "-n", "k8s.io", "containers", "ls", "-q", sel],
                         capture_output=True, text=True, timeout=60).stdout.split()
    ids = set(out)
    if not ids:
        return 0, 0, 0
    tasks = subprocess.run(["ctr", "-n", "k8s.io", "tasks", "ls"], capture_output=True, text=True,
                           timeout=60).stdout.splitlines()[1:]
    running = {t.split()[0] for t in tasks if t.split() and t.split()[-1] == "RUNNING"}
    info = subprocess.run(["ctr", "-n", "k8s.io", "containers", "ls",
                           f'labels."io.kubernetes.pod.namespace"=={ns},'
                           'labels."io.cri-containerd.kind"==container', "-q"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    apps = set(info)
    return len(ids), len(apps), len(apps & running)


def proc_sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return time.monotonic(), ticks, rss, threads


def is_running(pod):
    st = pod.get("status") or {}
    return st.get("phase") == "Running"


def is_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


class Bench:
    def __init__(self, args, go=False):
        self.args = args
        self.go = go
        self.work = tempfile.mkdtemp(prefix="density.")
        self.ns = f"edged-bench-{os.getpid()}"
        self.node = f"density-{os.getpid()}"
        self.cloud = None
        self.edge = None
        self.edge_log = None
        self.db = os.path.join(self.work, "edge", "edgecore.db")
        self.result = {}

    def start_edge(self, binary):
        cfg = edge_config(self.work, self.cloud, self.node, self.db, self.args.max_pods,
                          go=self.go)
        self.edge_log = open(os.path.join(self.work, "edgecore.log"), "a")
        self.edge = subprocess.Popen([binary, "--config", cfg], stdout=self.edge_log,
                                     stderr=subprocess.STDOUT)

    def wait(self, what, cond, timeout, every=0.2):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if self.edge is not None and self.edge.poll() is not None:
                raise RuntimeError(f"edgecore exited ({self.edge.returncode}) waiting for {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timeout waiting for {what}")
            time.sleep(every)

    def run(self, binary):
        a = self.args
        if self.go and not any(f.endswith((".conf", ".conflist", ".json"))
                               for f in os.listdir(CNI_CONF_DIR)):
            # Measured 2026-12-08: v1.15.4's kubelet asked for sandboxes with their own network
            # namespace although the pods are hostNetwork; without CNI every RunPodSandbox fails,
            # and the stop of what is left fails too, leaving sandboxes only a CNI config clears.
            raise RuntimeError(f"no CNI config in {CNI_CONF_DIR}: the Go edgecore's sandboxes "
                               "would fail (and stay); not run")
        if self.go and foreign_containers(self.ns):
            raise RuntimeError("containerd holds other pods: the Go edgecore's kubelet would kill "
                               "them (HandlePodCleanups); not run")
        self.cloud = Cloud(a.build, self.work, self.node, lax_csr=self.go)
        self.start_edge(binary)
        t_edge = time.monotonic()

        def node_ready():
            for o in self.cloud.objects("node"):
                if o.get("metadata", {}).get("name") == self.node:
                    return True
            return False
        self.wait("node registration", node_ready, 60)
        self.result["node_registered_s"] = round(time.monotonic() - t_edge, 2)
        time.sleep(2)  # let the start-up settle (lease, first node status)
        self.result["rss_before_kb"] = proc_sample(self.edge.pid)[2]

        log(f"pushing {a.pods} pods through cloudsim")
        t0 = time.monotonic()
        for i in range(a.pods):
            self.cloud.manifest("insert", make_pod(self.ns, self.node, i))
        self.result["push_s"] = round(time.monotonic() - t0, 2)

        seen = {"cloud": None, "ctr": None, "ready": None}

        def all_up():
            now = time.monotonic() - t0
            pods = self.cloud.pods(self.ns)
            running = sum(1 for p in pods if is_running(p))
            ready = sum(1 for p in pods if is_ready(p))
            if seen["cloud"] is None and running >= a.pods:
                seen["cloud"] = now
            if seen["ready"] is None and ready >= a.pods:
                seen["ready"] = now
            if seen["ctr"] is None:
                _, apps, up = containerd_running(self.ns)
                if up >= a.pods:
                    seen["ctr"] = now
            log(f"t={now:.1f}s cloud Running {running}, Ready {ready}")
            return all(v is not None for v in seen.values())
        self.wait("all pods running", all_up, a.start_timeout, every=1.0)
        self.result["running_cloud_s"] = round(seen["cloud"], 1)
        self.result["ready_cloud_s"] = round(seen["ready"], 1)
        self.result["running_containerd_s"] = round(seen["ctr"], 1)
        self.result["rss_after_start_kb"] = proc_sample(self.edge.pid)[2]
        self.result["hwm_start_kb"] = self.hwm()

        time.sleep(a.settle)
        log(f"steady state: {a.steady} s")
        t_s0, ticks0, _, _ = proc_sample(self.edge.pid)
        rss, thr = [], []
        msgs0 = self.upstream_count()
        end = t_s0 + a.steady
        while time.monotonic() < end:
            time.sleep(min(a.sample, max(0.0, end - time.monotonic())))
            if self.edge.poll() is not None:
                raise RuntimeError("edgecore exited during the steady state")
            _, _, r, t = proc_sample(self.edge.pid)
            rss.append(r)
            thr.append(t)
        t_s1, ticks1, r, t = proc_sample(self.edge.pid)
        wall = t_s1 - t_s0
        self.result["steady_s"] = round(wall, 1)
        self.result["cpu_pct"] = round(100.0 * (ticks1 - ticks0) / TICK / wall, 3)
        self.result["cpu_s"] = round((ticks1 - ticks0) / TICK, 2)
        self.result["rss_min_kb"] = min(rss + [r])
        self.result["rss_max_kb"] = max(rss + [r])
        self.result["rss_end_kb"] = r
        self.result["threads"] = max(thr + [t])
        self.result["hwm_kb"] = self.hwm()
        self.result["upstream_msgs_per_min"] = round(
            (self.upstream_count() - msgs0) * 60.0 / wall, 1)
        pods = self.cloud.pods(self.ns)
        self.result["running_at_end"] = sum(1 for p in pods if is_running(p))
        self.result["restarts_at_end"] = sum(
            cs.get("restartCount", 0) for p in pods
            for cs in (p.get("status") or {}).get("containerStatuses") or [])

        log("deleting the pods (graceful, as the cloud does)")
        t_d = time.monotonic()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for p in pods:
            p["metadata"]["deletionTimestamp"] = stamp
            p["metadata"]["deletionGracePeriodSeconds"] = 1
            self.cloud.manifest("update", p)
        self.wait("pods gone from the cloud and containerd",
                  lambda: not self.cloud.pods(self.ns) and containerd_running(self.ns)[0] == 0,
                  a.start_timeout, every=1.0)
        self.result["delete_s"] = round(time.monotonic() - t_d, 1)
        self.result["left_in_containerd"] = containerd_running(self.ns)[0]

    def upstream_count(self):
        return self.cloud.get("/status").get("counters", {}).get("frames_in", 0)

    def hwm(self):
        with open(f"/proc/{self.edge.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def cleanup(self, binary):
        """Stops edgecore; if pods of ours are still in containerd, the same binary on an empty
        database, cloud off, removes them: ours as orphans (sandboxes labelled with our node
        name), the Go edgecore's kubelet as pods it does not know."""
        if self.edge is not None and self.edge.poll() is None:
            self.edge.terminate()
            try:
                self.edge.wait(20)
            except subprocess.TimeoutExpired:
                self.edge.kill()
                self.edge.wait()
        if containerd_running(self.ns)[0] > 0 and self.cloud is not None:
            log("pods left in containerd: removing them with an offline edgecore as orphans")
            db = os.path.join(self.work, "edge", "cleanup.db")
            cfg = edge_config(self.work, self.cloud, self.node, db, self.args.max_pods,
                              cloud_on=False, go=self.go)
            with open(os.path.join(self.work, "cleanup.log"), "w") as lf:
                p = subprocess.Popen([binary, "--config", cfg], stdout=lf,
                                     stderr=subprocess.STDOUT)
                deadline = time.monotonic() + 180
                while containerd_running(self.ns)[0] > 0 and time.monotonic() < deadline:
                    time.sleep(1)
                p.terminate()
                p.wait(20)
            left = containerd_running(self.ns)[0]
            if left:
                log(f"WARNING: {left} containers of {self.ns} still in containerd")
        if self.cloud is not None:
            self.cloud.stop()
        # The Go edgecore's kubelet bind-mounts its root directory onto itself.
        root = os.path.join(self.work, "edge", "root")
        if self.go and os.path.ismount(root):
            subprocess.run(["umount", root], check=False)


def table(results):
    names = list(results)
    rows = [
        ("pods", lambda r: r["pods"]),
        ("node registered after start", lambda r: f"{r['node_registered_s']} s"),
        ("pushing the inserts (cloudsim control API)", lambda r: f"{r['push_s']} s"),
        ("first insert -> all Running (cloud)", lambda r: f"{r['running_cloud_s']} s"),
        ("first insert -> all Ready (cloud)", lambda r: f"{r['ready_cloud_s']} s"),
        ("first insert -> all containers running (containerd)",
         lambda r: f"{r['running_containerd_s']} s"),
        ("RSS before the pods", lambda r: f"{r['rss_before_kb'] / 1024:.1f} MB"),
        ("RSS right after all Running", lambda r: f"{r['rss_after_start_kb'] / 1024:.1f} MB"),
        ("RSS steady (min-max / end)",
         lambda r: f"{r['rss_min_kb'] / 1024:.1f}-{r['rss_max_kb'] / 1024:.1f} / "
                   f"{r['rss_end_kb'] / 1024:.1f} MB"),
        ("peak RSS (VmHWM)", lambda r: f"{r['hwm_kb'] / 1024:.1f} MB"),
        ("CPU steady state (% of one core)",
         lambda r: f"{r['cpu_pct']} % ({r['cpu_s']} s in {r['steady_s']} s)"),
        ("threads", lambda r: r["threads"]),
        ("upstream frames / min (steady)", lambda r: r["upstream_msgs_per_min"]),
        ("Running at the end / container restarts",
         lambda r: f"{r['running_at_end']} / {r['restarts_at_end']}"),
        ("delete all -> nothing left", lambda r: f"{r['delete_s']} s, {r['left_in_containerd']} left"),
    ]
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, f in rows:
        cells = []
        for n in names:
            try:
                cells.append(str(f(results[n])))
            except (KeyError, TypeError):
                cells.append("-")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--edgecore", help="edgecore binary (default BUILD/edgecore)")
    ap.add_argument("--go", help="also run this Go edgecore (.xz is unpacked)")
    ap.add_argument("--no-ours", action="store_true", help="with --go: run the Go edgecore only")
    ap.add_argument("--pods", type=int, default=110)
    ap.add_argument("--max-pods", type=int, default=110)
    ap.add_argument("--steady", type=float, default=300)
    ap.add_argument("--sample", type=float, default=5)
    ap.add_argument("--settle", type=float, default=10,
                    help="seconds between all Running and the steady-state window")
    ap.add_argument("--start-timeout", type=float, default=300)
    ap.add_argument("--keep-work", action="store_true")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.edgecore = os.path.abspath(args.edgecore or os.path.join(args.build, "edgecore"))
    if not os.path.exists(SOCKET):
        sys.exit(f"no containerd socket {SOCKET}: scripts/test-services.sh start")

    lock = open(LOCK, "a")
    log(f"waiting for {LOCK}")
    fcntl.flock(lock, fcntl.LOCK_EX)
    log("lock held")

    current = []

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    runs = [] if args.no_ours and args.go else [("ours", args.edgecore)]
    if args.go:
        go = args.go
        if go.endswith(".xz"):
            go = os.path.join(tempfile.mkdtemp(prefix="density-go."), "edgecore-go")
            with lzma.open(args.go) as src, open(go, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(go, 0o755)
        runs.append(("Go edgecore", go))
    results, failed = {}, False
    for name, binary in runs:
        b = Bench(args, go=name != "ours")
        current[:] = [b]
        log(f"{name}: {binary}, work {b.work}")
        try:
            b.run(binary)
        except (RuntimeError, KeyboardInterrupt, OSError, subprocess.SubprocessError) as e:
            log(f"{name} FAILED: {e} (logs in {b.work})")
            b.result["error"] = str(e)
            failed = True
        finally:
            b.cleanup(binary)
        b.result["pods"] = args.pods
        results[name] = b.result
        if not args.keep_work and "error" not in b.result:
            shutil.rmtree(b.work, ignore_errors=True)
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            break
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])}")
    table(results)
    print(json.dumps(results))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
