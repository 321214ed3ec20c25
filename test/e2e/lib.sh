# Helpers of the real-cloud end-to-end suite (test/e2e/realcloud.sh). Sourced, not run.
#
# Everything lives under $E2E_DIR: the cloud's state ($E2E_DIR/cloud), a private containerd
# ($E2E_DIR/containerd), a private mosquitto, our edgecore's config, database, certificates
# and logs ($E2E_DIR/edge). Nothing is written elsewhere except container logs under the edge's
# podLogsDir (also under $E2E_DIR) and what containerd itself keeps in its own root there.

E2E_T0=$SECONDS
E2E_FAILED=()
E2E_PASSED=()

say() { echo "e2e [$((SECONDS - E2E_T0))s] $*"; }

# The last lines of every log a failure needs, and what the cloud thinks of the node and pods.
diagnose() {
  local what=$1
  echo "---------------------------------------------------------------- FAILED: $what"
  echo "----- edgecore log (last 40 lines of $EDGE_LOG)"
  tail -n 40 "$EDGE_LOG" 2>/dev/null || true
  echo "----- cloudcore log (last 25 lines)"
  tail -n 25 "$REALCLOUD_DIR/logs/cloudcore.log" 2>/dev/null || true
  echo "----- kubectl get nodes,pods -A -o wide"
  kc get nodes -o wide 2>&1 | tail -n 5 || true
  kc get pods -A -o wide 2>&1 | tail -n 15 || true
  echo "----------------------------------------------------------------"
}

# check NAME FUNCTION [ARGS...]: runs one scenario; a failure is recorded (with diagnostics)
# and the suite goes on with the next one.
check() {
  local name=$1; shift
  local t=$SECONDS rc=0
  say "CHECK $name"
  # A subshell with errexit (not tested by `if`, which would turn errexit off inside it): the
  # first failing step ends the check.
  ( set -e; "$@" )
  rc=$?
  if [ $rc = 0 ]; then
    say "PASS  $name ($((SECONDS - t)) s)"
    E2E_PASSED+=("$name")
  else
    say "FAIL  $name ($((SECONDS - t)) s)"
    E2E_FAILED+=("$name")
    diagnose "$name"
  fi
}

# fail MESSAGE: ends the current scenario.
fail() { echo "e2e: $*" >&2; return 1; }

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.25 s; on timeout says what it waited
# for and fails.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      fail "timed out after ${limit}s waiting for: $what"
      return 1
    fi
    sleep 0.25
  done
}

kc() { kubectl "$@"; }
kexec() { kubectl exec "$@"; }

jsonpath() { kc get "$1" "$2" ${3:+-n "$3"} -o jsonpath="$4" 2>/dev/null; }

node_ready() {
  [ "$(jsonpath node "$NODE" "" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
pod_phase_is() { [ "$(jsonpath pod "$1" "$NS" '{.status.phase}')" = "$2" ]; }
pod_ready() {
  [ "$(jsonpath pod "$1" "$NS" '{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
deploy_available() {
  local want=$2 have
  have=$(jsonpath deployment "$1" "$NS" '{.status.availableReplicas}')
  [ "${have:-0}" = "$want" ] && [ "$(jsonpath deployment "$1" "$NS" '{.status.replicas}')" = "$want" ]
}
deploy_gone_to_zero() {
  [ -z "$(kc -n "$NS" get pods -l "app=$1" -o name 2>/dev/null)" ]
}

# Containers of our private containerd with a pod label value, any state.
containers_of() { # LABEL=VALUE
  ctr -a "$CTD_SOCK" -n k8s.io containers ls -q "labels.\"${1%%=*}\"==${1#*=}" 2>/dev/null
}
running_tasks() { ctr -a "$CTD_SOCK" -n k8s.io tasks ls 2>/dev/null | awk '$3=="RUNNING"{print $1}'; }

# ---- services ----

start_containerd() {
  local d=$E2E_DIR/containerd
  mkdir -p "$d" "$d/cni/net.d"
  cat > "$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/net.d"
  # Per-registry hosts.toml files (a check's loopback registry over plain HTTP).
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/certs.d"
EOF
  # Pods use hostNetwork; a loopback CNI config makes the runtime report NetworkReady.
  echo '{"cniVersion":"0.4.0","name":"e2e-loopback","plugins":[{"type":"loopback"}]}' \
    > "$d/cni/net.d/10-loopback.conflist"
  setsid containerd --config "$d/config.toml" > "$E2E_DIR/logs/containerd.log" 2>&1 < /dev/null &
  echo $! > "$E2E_DIR/containerd.pid"
  wait_until 30 "containerd on $CTD_SOCK" ctr -a "$CTD_SOCK" version || return 1
  ctr -a "$CTD_SOCK" -n k8s.io images import "$IMAGES/pause.tar" > /dev/null
  ctr -a "$CTD_SOCK" -n k8s.io images import "$IMAGES/busybox.tar" > /dev/null
}

stop_containerd() {
  [ -f "$E2E_DIR/containerd.pid" ] || return 0
  # Shims outlive containerd: remove what runs first.
  local t c
  for t in $(ctr -a "$CTD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr -a "$CTD_SOCK" -n k8s.io tasks kill -s SIGKILL "$t" > /dev/null 2>&1 || true
  done
  sleep 0.5
  for c in $(ctr -a "$CTD_SOCK" -n k8s.io containers ls -q 2>/dev/null); do
    ctr -a "$CTD_SOCK" -n k8s.io tasks rm -f "$c" > /dev/null 2>&1 || true
    ctr -a "$CTD_SOCK" -n k8s.io containers rm "$c" > /dev/null 2>&1 || true
  done
  kill "$(cat "$E2E_DIR/containerd.pid")" 2> /dev/null || true
  rm -f "$E2E_DIR/containerd.pid"
}

start_mosquitto() {
  cat > "$E2E_DIR/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
  mosquitto -c "$E2E_DIR/mosquitto.conf" > "$E2E_DIR/logs/mosquitto.log" 2>&1 &
  echo $! > "$E2E_DIR/mosquitto.pid"
  wait_until 10 "mosquitto on 127.0.0.1:$MQTT_PORT" \
    mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t e2e/ping -m x
}

stop_mosquitto() {
  [ -f "$E2E_DIR/mosquitto.pid" ] && kill "$(cat "$E2E_DIR/mosquitto.pid")" 2> /dev/null || true
  rm -f "$E2E_DIR/mosquitto.pid"
}

# ---- cloudcore alone (the rest of the cloud stays up) ----

cloudcore_pid() { awk '$1=="cloudcore"{p=$2} END{print p}' "$REALCLOUD_DIR/pids"; }

stop_cloudcore() {
  local p; p=$(cloudcore_pid)
  [ -n "$p" ] || return 0
  kill -KILL "$p" 2> /dev/null || true
  while kill -0 "$p" 2> /dev/null; do sleep 0.1; done
}

# Starts cloudcore again with the config realcloud.sh wrote (or the one given); recorded so
# `realcloud.sh down` stops it too.
start_cloudcore() {
  local bin="$REALCLOUD_DIR/bin/cloudcore-${REALCLOUD_KUBEEDGE:-v1.17.5}"
  setsid "$bin" --config "${1:-$REALCLOUD_DIR/cloudcore/cloudcore.yaml}" --v=2 \
    >> "$REALCLOUD_DIR/logs/cloudcore.log" 2>&1 < /dev/null &
  echo "cloudcore $!" >> "$REALCLOUD_DIR/pids"
  wait_until 60 "cloudhub listening again on 127.0.0.1:10000" \
    bash -c 'ss -Hltn "sport = :10000" | grep -q .'
}

# ---- our edgecore ----

write_edge_config() {
  local e=$E2E_DIR/edge
  mkdir -p "$e/ca" "$e/certs" "$e/manifests" "$e/volume-plugins"
  # What `keadm join` writes on top of the defaults, for a node on this loopback cloud. The
  # edged server is moved off its default port on purpose (EDGED_PORT): edgestream must dial
  # where edged listens, not the 10350 CloudStream names. The same file serves KubeEdge's Go
  # edgecore v1.15 (bench/realcloud_ab.sh): it reads the runtime from edged.remote*Endpoint and
  # needs a writable volumePluginDir; each side ignores the keys only the other reads.
  cat > "$EDGE_CONFIG" <<EOF
apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
database:
  dataSource: $e/edgecore.db
modules:
  edgeHub:
    httpServer: https://127.0.0.1:10002
    token: "$TOKEN"
    tlsCaFile: $e/ca/rootCA.crt
    tlsCertFile: $e/certs/server.crt
    tlsPrivateKeyFile: $e/certs/server.key
    websocket:
      enable: true
      server: 127.0.0.1:10000
  edgeStream:
    enable: true
    server: 127.0.0.1:10004
    tlsTunnelCAFile: $e/ca/rootCA.crt
    tlsTunnelCertFile: $e/certs/server.crt
    tlsTunnelPrivateKeyFile: $e/certs/server.key
  edged:
    hostnameOverride: $NODE
    nodeIP: 127.0.0.1
    rootDirectory: $e/kubelet
    podSandboxImage: registry.k8s.io/pause:3.6
    remoteRuntimeEndpoint: unix://$CTD_SOCK
    remoteImageEndpoint: unix://$CTD_SOCK
    nodeLabels:
      e2e.kubeedge.io/suite: realcloud
    tailoredKubeletConfig:
      containerRuntimeEndpoint: unix://$CTD_SOCK
      imageServiceEndpoint: unix://$CTD_SOCK
      staticPodPath: $e/manifests
      volumePluginDir: $e/volume-plugins
      podLogsDir: $e/pod-logs
      readOnlyPort: $EDGED_PORT
  deviceTwin:
    dmiSockPath: $e/dmi.sock
  eventBus:
    enable: true
    mqttMode: 2
    mqttServerExternal: tcp://127.0.0.1:$MQTT_PORT
  metaManager:
    metaServer:
      enable: true
${EDGE_EXTRA_MODULES:-}
EOF
  chmod 600 "$EDGE_CONFIG"
}

start_edgecore() {
  EDGECORE_EDGED_BACKOFF_BASE_MS=${EDGECORE_EDGED_BACKOFF_BASE_MS:-2000} \
    setsid "$EDGECORE_BIN" --config "$EDGE_CONFIG" >> "$EDGE_LOG" 2>&1 < /dev/null &
  echo $! > "$E2E_DIR/edgecore.pid"
  EDGE_STARTED_NS=$(date +%s%N)
}

stop_edgecore() {
  [ -f "$E2E_DIR/edgecore.pid" ] || return 0
  local p; p=$(cat "$E2E_DIR/edgecore.pid")
  kill -TERM "$p" 2> /dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2> /dev/null || true
  rm -f "$E2E_DIR/edgecore.pid"
}

# The DMI test mapper: TERM, then KILL if it has not gone within 3 s (a mapper left behind keeps
# whatever file descriptors the run inherited, a lock file included).
stop_mapper() {
  [ -f "$E2E_DIR/mapper.pid" ] || return 0
  local p; p=$(cat "$E2E_DIR/mapper.pid")
  kill -TERM "$p" 2> /dev/null || true
  local i
  for i in $(seq 1 30); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2> /dev/null || true
  rm -f "$E2E_DIR/mapper.pid"
}

# Everything a run started, in reverse: edgecore, the DMI mapper, containerd (and what it runs),
# mosquitto, the cloud, then the pod volume mounts under $E2E_DIR.
# A loopback registry a check started (t_image_prepull_v1alpha1).
stop_registry() {
  [ -f "$E2E_DIR/registry.pid" ] || return 0
  kill -KILL "$(cat "$E2E_DIR/registry.pid")" 2> /dev/null || true
  rm -f "$E2E_DIR/registry.pid"
}

teardown_all() {
  stop_registry
  stop_edgecore
  stop_mapper
  stop_containerd
  stop_mosquitto
  "$REALCLOUD_HOME/realcloud.sh" down > /dev/null 2>&1 || true
  grep " $E2E_DIR/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
    umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true
  done
}

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
