#!/usr/bin/env python3
"""Writes a KubeEdge-format edgecore.db holding N realistic pods (about 3 KiB of JSON each).

Rows are written as Go edgecore writes them: `meta` (key <ns>/pod/<name>, type pod) and
`meta_v2` (key /core/v1/pods/<ns>/<name>, GVR "/v1, Resource=pods"). Used by bench/rss_with_pods.sh.
usage: make_pod_db.py DB_PATH [N]
"""
import json
import sqlite3
import sys
import uuid

DDL = open(__file__.rsplit('/', 2)[0] + '/test/data/metamanager/kubeedge-v1.20.sql').read()


def pod(i):
    name = f"app-{i:04d}-7d9c6b5f4-x{i % 97:02d}z"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "default" if i % 3 else "factory",
            "uid": str(uuid.UUID(int=i + 1)), "resourceVersion": str(100000 + i),
            "creationTimestamp": "2026-11-01T08:00:00Z",
            "labels": {"app": f"app-{i % 20}", "tier": "edge", "pod-template-hash": "7d9c6b5f4"},
            "annotations": {"kubeedge.io/note": "x" * 200},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": f"app-{i:04d}-7d9c6b5f4", "uid": str(uuid.UUID(int=i + 10**6)),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "nodeName": "edge-1", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
            "containers": [{
                "name": "main", "image": "registry.example.com/factory/app:1.4.2",
                "command": ["/bin/app", "--config=/etc/app/config.yaml", "--verbose"],
                "env": [{"name": f"VAR_{k}", "value": f"value-{k}-{i}"} for k in range(8)],
                "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                              "requests": {"cpu": "100m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                                 {"name": "data", "mountPath": "/var/lib/app"}],
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}},
                        {"name": "data", "hostPath": {"path": "/var/lib/app", "type": "DirectoryOrCreate"}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running", "hostIP": "192.168.1.10", "podIP": f"10.88.{i // 250}.{i % 250 + 2}",
            "startTime": "2026-11-01T08:00:01Z", "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-11-01T08:00:05Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": i % 4,
                                   "image": "registry.example.com/factory/app:1.4.2",
                                   "imageID": "sha256:" + "ab" * 32,
                                   "containerID": "containerd://" + "cd" * 32, "started": True,
                                   "state": {"running": {"startedAt": "2026-11-01T08:00:04Z"}}}],
        },
    }


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    db = sqlite3.connect(path)
    db.executescript(DDL.split("INSERT")[0])  # schema only
    sizes = []
    for i in range(n):
        p = pod(i)
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        text = json.dumps(p, separators=(",", ":"), sort_keys=True)
        sizes.append(len(text))
        db.execute("INSERT OR REPLACE INTO meta (key, type, value) VALUES (?,?,?)",
                   (f"{ns}/pod/{name}", "pod", text))
        db.execute("INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace, name, "
                   "resourceversion, value) VALUES (?,?,?,?,?,?)",
                   (f"/core/v1/pods/{ns}/{name}", "/v1, Resource=pods", ns, name,
                    100000 + i, text))
    db.commit()
    print(f"wrote {n} pods to {path}, {sum(sizes) // len(sizes)} bytes of JSON each on average")


if __name__ == "__main__":
    main()
