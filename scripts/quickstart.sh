#!/usr/bin/env bash
# Installs the dependencies, builds edgecore and runs it on its defaults in the foreground.
#   sudo scripts/quickstart.sh            (Ctrl-C stops it)
# Uses /etc/kubeedge/config/edgecore.yaml, writing `edgecore --defaultconfig` there first if the
# file does not exist yet (an existing file is never overwritten). Starts containerd with the local
# busybox/pause images when it is not running (scripts/test-services.sh) and copies the example
# static pod config/manifests/hello-edge.yaml into the default staticPodPath, so edged runs a pod
# right away, with no cloud.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
config=${EDGECORE_CONFIG:-/etc/kubeedge/config/edgecore.yaml}
if [ ! -f "$config" ]; then
  mkdir -p "$(dirname "$config")"
  # The defaults, with MetaServer on so that the pod can be seen with keadm ctl and kubectl.
  ./build/edgecore --defaultconfig \
    | sed '/^    metaServer:$/,/^    [a-zA-Z]/ s/^      enable: false$/      enable: true/' > "$config"
  chmod 0600 "$config"
  echo "quickstart: wrote default config to $config (MetaServer on 127.0.0.1:10550)"
fi
# containerd + runc with docker.io/library/busybox:local and the pause image (no registry needed);
# an already running containerd is left alone.
scripts/test-services.sh start
manifests=${EDGECORE_MANIFESTS:-/etc/kubeedge/manifests}
mkdir -p "$manifests"
for f in config/manifests/*.yaml; do
  if [ ! -e "$manifests/$(basename "$f")" ]; then
    cp "$f" "$manifests/"
    echo "quickstart: static pod $(basename "$f") -> $manifests"
  fi
done
echo "quickstart: starting edgecore --config $config (Ctrl-C to stop)"
./build/edgecore --config "$config" &
edgecore_pid=$!
# Ctrl-C reaches edgecore itself (same process group); a TERM sent to this script is passed on.
trap ':' INT
trap 'kill -TERM $edgecore_pid 2> /dev/null || true' TERM
# Once MetaServer answers, say how to see the pod; without MetaServer, say how to turn it on.
ready() { curl -fsS http://127.0.0.1:10550/readyz > /dev/null 2>&1; }
for _ in $(seq 1 100); do
  ready && break
  kill -0 "$edgecore_pid" 2> /dev/null || break
  sleep 0.1
done
config_flag=""
[ "$config" = /etc/kubeedge/config/edgecore.yaml ] || config_flag=" --config $config"
if ready; then
  cat <<EOF
quickstart: edgecore is up; the example pod starts within seconds. In another terminal:
  $PWD/build/keadm ctl${config_flag} get pod -A
  kubectl --server http://127.0.0.1:10550 get pods -A
  $PWD/build/keadm ctl${config_flag} logs hello-edge-$(hostname | tr '[:upper:]' '[:lower:]')
EOF
elif kill -0 "$edgecore_pid" 2> /dev/null; then
  echo "quickstart: MetaServer does not answer on 127.0.0.1:10550; to see pods with keadm ctl or" \
    "kubectl set modules.metaManager.metaServer.enable: true in $config"
fi
# Until edgecore ends (Ctrl-C stops it); its exit code is the script's.
status=0
while kill -0 "$edgecore_pid" 2> /dev/null; do wait "$edgecore_pid" || status=$?; done
exit "$status"
