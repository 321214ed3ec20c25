#!/usr/bin/env python3
"""Footprint figures of one edgecore binary (ours or KubeEdge's Go edgecore), MetaServer on and
edged off, so both run without a CRI. Called by bench/footprint.sh, which prints the table;
this prints one JSON object of figures.

usage: footprint.py BINARY DB_EMPTY_DIR DB_PODS N_PODS STARTS ROUNDS SETTLE_S AFTER_S [--smaps]

Every start gets a fresh copy of DB_PODS (the Go edgecore and ours both write to the file).
"First answer" is the first HTTP 200 to a single pod GET: both servers answer it, and /readyz
is ours only. The driver is one Python process with plain sockets, so its own cost is the same
for both binaries; LIST timings include reading the whole body.
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

LIST_PATH = "/api/v1/pods"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work, db, port, all_modules):
    path = os.path.join(work, "edgecore.yaml")
    if all_modules:
        # edged, edgeHub and edgeStream on as on a joined node, but their peers unreachable: the
        # CRI socket does not exist (the shared containerd is left alone), the cloud is port 1.
        # Each keeps retrying with backoff, which is its idle state without a peer.
        os.makedirs(os.path.join(work, "root"))
        modules = f"""  edgeHub:
    enable: true
    httpServer: https://127.0.0.1:1
    websocket: {{enable: true, server: "127.0.0.1:1"}}
    tlsCaFile: {work}/ca.crt
    tlsCertFile: {work}/edge.crt
    tlsPrivateKeyFile: {work}/edge.key
  edgeStream:
    enable: true
    server: 127.0.0.1:1
    tlsTunnelCAFile: {work}/ca.crt
    tlsTunnelCertFile: {work}/edge.crt
    tlsTunnelPrivateKeyFile: {work}/edge.key
  edged:
    enable: true
    hostnameOverride: edge-1
    rootDirectory: {work}/root
    tailoredKubeletConfig:
      containerRuntimeEndpoint: unix://{work}/no-cri.sock
      podLogsDir: {work}/logs
      readOnlyPort: {free_port()}
      staticPodPath: {work}/manifests
"""
    else:
        modules = """  edgeHub: {enable: false}
  edged: {enable: false, hostnameOverride: edge-1}
"""
    with open(path, "w") as f:
        f.write(f"""apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database: {{dataSource: {db}}}
modules:
  deviceTwin: {{enable: false}}
  eventBus: {{enable: false}}
{modules}  metaManager: {{metaServer: {{enable: true, server: "127.0.0.1:{port}"}}}}
""")
    return path


def request(port, path, timeout=30.0):
    """Status and body length of one GET on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, len(body)
    finally:
        conn.close()


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing for pid {pid}")


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def smaps_by_file(pid):
    """RSS per mapped file (KiB) plus the anonymous total, from /proc/PID/smaps."""
    per, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if not head:
                continue
            if "-" in head[0] and not head[0].endswith(":"):
                name = head[5] if len(head) > 5 else "[anon]"
                if not name.startswith("/"):
                    name = "[anon]" if not name.startswith("[") else name
            elif head[0] == "Rss:":
                per[name] = per.get(name, 0) + int(head[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        rollup = {l.split()[0].rstrip(":"): int(l.split()[1]) for l in f if l.split()[-1] == "kB"}
    return per, rollup


class Daemon:
    """One edgecore process on a fresh copy of a database, timed to its first answer."""

    def __init__(self, binary, db_src, probe_path, work, all_modules, reuse=None):
        """reuse: the work directory of a stopped Daemon, to restart on its database as it was left."""
        self.work = reuse or tempfile.mkdtemp(dir=work)
        db = os.path.join(self.work, "edgecore.db")
        if db_src and not reuse:
            shutil.copy(db_src, db)
        self.port = free_port()
        cfg = write_config(self.work, db, self.port, all_modules)
        self.log = open(os.path.join(self.work, "log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([os.path.abspath(binary), "--config", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.work)
        self.start_ms = self._wait_first_answer(probe_path, t0)
        self.pid = self.proc.pid

    def _wait_first_answer(self, path, t0):
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edgecore exited with {self.proc.returncode}; log in {self.work}")
            try:
                status, _ = request(self.port, path, timeout=5)
                if status == 200:
                    return (time.monotonic() - t0) * 1000
            except OSError:
                pass
            time.sleep(0.0005)
        raise RuntimeError(f"no answer within 60 s; log in {self.work}")

    def stop(self, keep_work=False):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if not keep_work:
            shutil.rmtree(self.work, ignore_errors=True)


def p50(samples):
    return round(statistics.median(samples), 3)


def timed(port, path):
    t = time.monotonic()
    status, size = request(port, path)
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}")
    return (time.monotonic() - t) * 1000, size


def main():
    binary, work, db_pods = sys.argv[1], sys.argv[2], sys.argv[3]
    n, starts, rounds = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    settle, after = float(sys.argv[7]), float(sys.argv[8])
    want_smaps = "--smaps" in sys.argv
    all_modules = "--all-modules" in sys.argv
    # make_pod_db.py names pod i app-<i:04d>-..., in "factory" when i % 3 == 0.
    one_pod = "/api/v1/namespaces/default/pods/app-0001-7d9c6b5f4-x01z"
    out = {}

    d = Daemon(binary, None, LIST_PATH, work, all_modules)  # empty database (file created by the daemon)
    try:
        time.sleep(settle)
        out["rss_empty_kb"] = status_kb(d.pid, "VmRSS")
        out["threads_empty"] = threads(d.pid)
        if want_smaps:
            per, rollup = smaps_by_file(d.pid)
            out["smaps_empty"] = sorted(per.items(), key=lambda kv: -kv[1])[:25]
            out["rollup_empty"] = rollup
    finally:
        d.stop()

    # A first start on a fresh copy of the database (as after a move from another edgecore: it
    # pays any one-time conversion, e.g. the journal mode), then a restart on the database that
    # start left behind after a clean stop (a service restart or a reboot).
    start_ms, restart_ms = [], []
    for i in range(starts):
        d = Daemon(binary, db_pods, one_pod, work, all_modules)
        start_ms.append(d.start_ms)
        d.stop(keep_work=True)
        d = Daemon(binary, None, one_pod, work, all_modules, reuse=d.work)
        restart_ms.append(d.start_ms)
        if i + 1 < starts:
            d.stop()
    out["start_ms"] = [round(x, 1) for x in start_ms]
    out["start_p50_ms"] = p50(start_ms)
    out["restart_ms"] = [round(x, 1) for x in restart_ms]
    out["restart_p50_ms"] = p50(restart_ms)
    try:
        time.sleep(settle)
        out["rss_pods_kb"] = status_kb(d.pid, "VmRSS")
        out["threads_pods"] = threads(d.pid)
        if want_smaps:
            out["rollup_pods"] = smaps_by_file(d.pid)[1]
        size, round_ms = 0, []
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(rounds):
                t = time.monotonic()
                for ms, size in pool.map(lambda _: timed(d.port, LIST_PATH), range(8)):
                    pass
                round_ms.append((time.monotonic() - t) * 1000)
        out["list_bytes"] = size
        out["list_round_p50_ms"] = p50(round_ms)
        out["rss_after_lists_kb"] = status_kb(d.pid, "VmRSS")
        out["hwm_kb"] = status_kb(d.pid, "VmHWM")
        time.sleep(after)
        out["rss_after_lists_later_kb"] = status_kb(d.pid, "VmRSS")
        out["threads_after"] = threads(d.pid)
        if want_smaps:
            out["rollup_after"] = smaps_by_file(d.pid)[1]
        out["list_p50_ms"] = p50([timed(d.port, LIST_PATH)[0] for _ in range(21)])
        out["get_p50_ms"] = p50([timed(d.port, one_pod)[0] for _ in range(200)])
        out["rss_end_kb"] = status_kb(d.pid, "VmRSS")
    finally:
        d.stop()
    out["pods"] = n
    print(json.dumps(out))


if __name__ == "__main__":
    main()
