#!/usr/bin/env bash
# Resident memory and start-up time of edgecore with MetaServer on and N pods in the store, plus
# LIST/GET latency through curl. usage: bench/rss_with_pods.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; n=${2:-1000}
work=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
/usr/bin/python3 bench/make_pod_db.py "$work/edgecore.db" "$n"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/edgecore.yaml" <<YAML
apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database: {dataSource: $work/edgecore.db}
modules:
  deviceTwin: {enable: false}
  edgeHub: {enable: false}
  edged: {enable: false, hostnameOverride: edge-1}
  eventBus: {enable: false}
  metaManager: {metaServer: {enable: true, server: "127.0.0.1:$port"}}
YAML
t0=$(date +%s%N)
"$build/edgecore" --config "$work/edgecore.yaml" 2> "$work/log" & pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.005; done
t1=$(date +%s%N)
echo "start to ready: $(( (t1 - t0) / 1000000 )) ms"
echo "RSS after start: $(grep VmRSS /proc/$pid/status | awk '{print $2}') KiB"
for i in $(seq 1 20); do curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/pods"; done
echo "LIST all pods (curl, 20 runs): $(for i in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/api/v1/pods"; done | sort -n | sed -n 10p) s median, $(curl -s "http://127.0.0.1:$port/api/v1/pods" | wc -c) bytes"
echo "RSS after 40 LISTs: $(grep VmRSS /proc/$pid/status | awk '{print $2}') KiB"
