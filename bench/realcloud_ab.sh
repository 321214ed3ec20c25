#!/usr/bin/env bash
# A/B against the real cloud: the same join + Deployment + logs/exec + CloudCore restart sequence
# with our edgecore and with KubeEdge's Go edgecore v1.15.4 (shipped in ../shared/realcloud),
# one after the other against one cloud (../shared/realcloud, CloudCore v1.17.5 by default) and
# one private containerd. Prints one table; a figure that could not be measured is "-" and the
# script exits 1.
#
#   sudo bench/realcloud_ab.sh            (after scripts/build.sh; REALCLOUD_HOME as in test/e2e)
#
# Figures per edgecore:
#   ready_ms      process start -> Node Ready (certificate bootstrap included)
#   deploy_ms     kubectl apply of a 3-replica Deployment -> 3 available
#   logs_ms       one `kubectl logs --tail=1` through CloudStream
#   exec_ms       one `kubectl exec -- true` through CloudStream
#   reconnect_ms  CloudCore started again after a kill -> `kubectl exec` works again
#   rss_kb        the edgecore process's RSS at the end (3 pods running)
#   warn/events   cloudcore's "resource type not found ... node/<name>" warnings (CloudHub's own
#                 connect/disconnect events, docs/realcloud.md finding 4) against the node's
#                 connects and disconnects
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../test/e2e/lib.sh
source "$REPO/test/e2e/lib.sh"
[ "$(id -u)" = 0 ] || { echo "realcloud_ab.sh: run as root" >&2; exit 1; }
# The real cloud: REALCLOUD_HOME, else ../shared/realcloud beside the checkout, else the
# workplace's /work/shared/realcloud (a checkout elsewhere, e.g. a CI clone under /tmp).
if [ -z "${REALCLOUD_HOME:-}" ]; then
  for REALCLOUD_HOME in "$REPO/../shared/realcloud" /work/shared/realcloud; do
    [ -x "$REALCLOUD_HOME/realcloud.sh" ] && break
  done
fi
EDGECORE_BIN=${EDGECORE_BIN:-$REPO/build/edgecore}
E2E_DIR=${E2E_DIR:-$(mktemp -d /var/tmp/edgecore-ab.XXXX)}
mkdir -p "$E2E_DIR/logs"
export REALCLOUD_DIR=$E2E_DIR/cloud
export KUBECONFIG=$REALCLOUD_DIR/admin.kubeconfig
export KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false
NS=default
CTD_SOCK=$E2E_DIR/containerd/containerd.sock
MQTT_PORT=${E2E_MQTT_PORT:-18884}
EDGED_PORT=10350  # the Go edgecore's edgestream dials 10350 whatever edged listens on
IMAGES=$("$REPO/scripts/test-services.sh" images)
GO_EDGECORE=$REALCLOUD_DIR/bin/edgecore-go-v1.15.4

cleanup() {
  teardown_all
  [ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$E2E_DIR"
}
trap cleanup EXIT

# run_one LABEL BINARY: the sequence; prints "LABEL ready deploy logs exec reconnect rss".
run_one() {
  local label=$1 bin=$2
  NODE=ab-$label
  EDGE_CONFIG=$E2E_DIR/edge/edgecore-$label.yaml
  EDGE_LOG=$E2E_DIR/logs/edgecore-$label.log
  rm -rf "$E2E_DIR/edge"
  write_edge_config
  local ready=- deploy=- logs=- exec=- reconnect=- rss=-
  EDGECORE_BIN=$bin start_edgecore
  if wait_until 60 "node $NODE Ready" node_ready; then ready=$(ms_since "$EDGE_STARTED_NS"); fi
  local t0; t0=$(date +%s%N)
  kubectl apply -f - > /dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: ab-$label, namespace: $NS}
spec:
  replicas: 3
  selector: {matchLabels: {app: ab-$label}}
  template:
    metadata: {labels: {app: ab-$label}}
    spec:
      nodeName: $NODE
      hostNetwork: true
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: docker.io/library/busybox:local
        imagePullPolicy: Never
        command: [sh, -c, "while true; do echo ab-line; sleep 1; done"]
EOF
  if wait_until 120 "ab-$label 3 available" deploy_available "ab-$label" 3; then deploy=$(ms_since "$t0"); fi
  sleep 3
  local pod; pod=$(kubectl -n "$NS" get pods -l "app=ab-$label" -o jsonpath='{.items[0].metadata.name}')
  t0=$(date +%s%N)
  timeout 30 kubectl -n "$NS" logs "$pod" --tail=1 2> /dev/null | grep -q ab-line && logs=$(ms_since "$t0")
  t0=$(date +%s%N)
  timeout 30 kubectl -n "$NS" exec "$pod" -- true 2> /dev/null && exec=$(ms_since "$t0")
  stop_cloudcore
  sleep 3
  t0=$(date +%s%N)
  start_cloudcore > /dev/null
  if wait_until 120 "exec after the cloudcore restart" timeout 10 kubectl -n "$NS" exec "$pod" -- true; then
    reconnect=$(ms_since "$t0")
  fi
  rss=$(ps -o rss= -p "$(cat "$E2E_DIR/edgecore.pid")" 2> /dev/null | tr -d ' ')
  kubectl -n "$NS" delete deployment "ab-$label" --wait=false > /dev/null
  wait_until 60 "ab-$label pods gone" deploy_gone_to_zero "ab-$label" || true
  stop_edgecore
  kubectl delete node "$NODE" --wait=false > /dev/null 2>&1 || true
  # cloudcore's "resource type not found ... node/<name>" lines against its connects of this node
  local cc=$REALCLOUD_DIR/logs/cloudcore.log warn conn
  warn=$(grep -c "message resource: node/$NODE, err" "$cc")
  conn=$(grep -cE "edge node $NODE for project .* (connected|disConnected)" "$cc")
  printf '%-8s %9s %10s %8s %8s %13s %9s %13s\n' "$label" "$ready" "$deploy" "$logs" "$exec" \
    "$reconnect" "${rss:--}" "$warn/$conn"
}

say "cloud up"
"$REALCLOUD_HOME/realcloud.sh" up > "$E2E_DIR/logs/realcloud-up.log" 2>&1 || { tail "$E2E_DIR/logs/realcloud-up.log"; exit 1; }
TOKEN=$("$REALCLOUD_HOME/realcloud.sh" token)
start_containerd || exit 1
start_mosquitto || exit 1
results=$(
  printf '%-8s %9s %10s %8s %8s %13s %9s %13s\n' edgecore ready_ms deploy_ms logs_ms exec_ms \
    reconnect_ms rss_kb warn/events
  run_one cpp "$EDGECORE_BIN"
  run_one go "$GO_EDGECORE"
)
echo
echo "CloudCore ${REALCLOUD_KUBEEDGE:-v1.17.5}, Kubernetes v1.26, $(nproc) cores; cpp = $("$EDGECORE_BIN" --version)"
echo "$results"
! echo "$results" | tail -n 2 | grep -q ' - '
