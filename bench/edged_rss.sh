#!/usr/bin/env bash
# edgecore (the real binary) with N static hostNetwork busybox pods on the local containerd: time
# from start to all containers running, and edgecore's resident memory with them running.
# usage (root, containerd running): bench/edged_rss.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; n=${2:-50}
work=$(mktemp -d)
ns="edged-rss-$$"
cleanup() {
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  # Remove the pods: an empty manifest dir makes a fresh edgecore remove them as orphans.
  rm -f "$work"/manifests/*.yaml
  "$build/edgecore" --config "$work/edgecore.yaml" 2>>"$work/log" & cpid=$!
  for _ in $(seq 1 300); do
    [ "$(grep -c 'orphan pod removed' "$work/log" || true)" -ge "$n" ] && break
    sleep 0.2
  done
  kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
  rm -rf "$work"
}
pid=0; trap cleanup EXIT
mkdir -p "$work/manifests"
for i in $(seq 1 "$n"); do
  cat > "$work/manifests/p$i.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p$i, namespace: $ns}
spec:
  hostNetwork: true
  containers:
  - name: c
    image: docker.io/library/busybox:local
    command: ["sh", "-c", "sleep 3600"]
YAML
done
cat > "$work/edgecore.yaml" <<YAML
apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database: {dataSource: $work/edgecore.db}
modules:
  deviceTwin: {enable: false}
  edgeHub: {enable: false}
  eventBus: {enable: false}
  edged:
    enable: true
    hostnameOverride: rss-node
    rootDirectory: $work/root
    tailoredKubeletConfig: {staticPodPath: $work/manifests, podLogsDir: $work/logs}
YAML
t0=$(date +%s%N)
"$build/edgecore" --config "$work/edgecore.yaml" 2> "$work/log" & pid=$!
until [ "$(grep -c 'container started' "$work/log" || true)" -ge "$n" ]; do
  sleep 0.05
  if [ $(( ($(date +%s%N) - t0) / 1000000000 )) -gt 120 ]; then echo "timeout"; exit 1; fi
done
t1=$(date +%s%N)
echo "edgecore start -> $n static pods started: $(( (t1 - t0) / 1000000 )) ms"
sleep 3  # a few relists and status rounds with everything running
echo "edgecore RSS with $n pods running: $(grep VmRSS /proc/$pid/status | awk '{print $2}') KiB"
echo "edgecore threads: $(ls /proc/$pid/task | wc -l)"
