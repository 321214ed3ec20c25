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
  ./build/edgecore --defaultconfig > "$config"
  echo "quickstart: wrote default config to $config"
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
exec ./build/edgecore --config "$config"
