#!/usr/bin/env bash
# Starts/stops the real services the integration tests talk to, as root, without systemd:
#   - containerd + runc on the standard socket /run/containerd/containerd.sock, with two local
#     images (no registry is reachable): docker.io/library/busybox:local (workloads) and
#     registry.k8s.io/pause:3.6 (the sandbox image), both built here from busybox-static and
#     test/images/pause.c;
#   - mosquitto on 127.0.0.1:1883.
# A service that already answers is left alone (and not stopped later).
#   scripts/test-services.sh start|stop|status|images
# Logs and pid files: $EDGECORE_SERVICES_DIR (default /var/tmp/edgecore-test-services).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${EDGECORE_SERVICES_DIR:-/var/tmp/edgecore-test-services}
ctd_conf=$work/containerd.toml
export CONTAINERD_ADDRESS=/run/containerd/containerd.sock

log() { echo "test-services: $*"; }

containerd_up() { ctr version >/dev/null 2>&1; }
mosquitto_up() { mosquitto_pub -h 127.0.0.1 -p 1883 -t edgecore/ci/ping -m x >/dev/null 2>&1; }

build_images() {
  local img=$work/images
  rm -rf "$img"; mkdir -p "$img"/busybox/{bin,etc,tmp,proc,sys,dev,root} "$img/pause"
  cp /bin/busybox "$img/busybox/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$img/busybox/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$img/busybox/etc/passwd"
  echo 'root:x:0:' > "$img/busybox/etc/group"
  gcc -Os -static -o "$img/pause/pause" test/images/pause.c && strip "$img/pause/pause"
  test/images/make-image.sh "$img/busybox.tar" docker.io/library/busybox:local "$img/busybox" '["/bin/sh"]' 'null'
  test/images/make-image.sh "$img/pause.tar" registry.k8s.io/pause:3.6 "$img/pause" '["/pause"]' 'null'
}

write_containerd_config() {
  mkdir -p /etc/cni/net.d /etc/containerd/certs.d
  cat > "$ctd_conf" <<'TOML'
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    # Must exist locally (imported below), otherwise RunPodSandbox tries to pull it.
    sandbox_image = "registry.k8s.io/pause:3.6"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    # Without CAP_SYS_RESOURCE the pause container cannot lower its oom_score_adj.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
    # Per-registry hosts.toml files, read at each pull: the local-registry pull tests write
    # certs.d/127.0.0.1:PORT/hosts.toml for their loopback registries (docs/testing.md).
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
TOML
}

start_containerd() {
  if containerd_up; then
    log "containerd already answers on $CONTAINERD_ADDRESS; using it"
  else
    write_containerd_config
    # Started directly (not in a subshell) so that $! is containerd itself.
    containerd --config "$ctd_conf" > "$work/containerd.log" 2>&1 &
    echo $! > "$work/containerd.pid"
    for _ in $(seq 1 100); do containerd_up && break; sleep 0.1; done
    containerd_up || { cat "$work/containerd.log" >&2; log "containerd did not start"; exit 1; }
    log "containerd started (pid $(cat "$work/containerd.pid"), log $work/containerd.log)"
  fi
  build_images
  ctr -n k8s.io images import "$work/images/busybox.tar" >/dev/null
  ctr -n k8s.io images import "$work/images/pause.tar" >/dev/null
  log "images: $(ctr -n k8s.io images ls -q | grep -E 'busybox:local|pause:3.6' | tr '\n' ' ')"
}

start_mosquitto() {
  if mosquitto_up; then
    log "mosquitto already answers on 127.0.0.1:1883; using it"
    return
  fi
  cat > "$work/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
CONF
  # Background with $! rather than -d: as root, -d with a pid file in a root-owned dir dies silently.
  mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
  echo $! > "$work/mosquitto.pid"
  for _ in $(seq 1 50); do mosquitto_up && break; sleep 0.1; done
  mosquitto_up || { cat "$work/mosquitto.log" >&2; log "mosquitto did not start"; exit 1; }
  log "mosquitto started (pid $(cat "$work/mosquitto.pid"))"
}

# Unmounts every mount point whose path starts with PREFIX, deepest first.
unmount_under() {
  { grep -F " $1" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
  done
}

stop_all() {
  if [ -f "$work/containerd.pid" ]; then
    # Shims outlive containerd: remove the test pods' tasks and containers first.
    for task in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -n k8s.io tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
    sleep 0.5
    for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do
      ctr -n k8s.io tasks rm -f "$c" >/dev/null 2>&1 || true
      ctr -n k8s.io containers rm "$c" >/dev/null 2>&1 || true
    done
    local pid; pid=$(cat "$work/containerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$work/containerd.pid"
    # The CRI sandboxes' /dev/shm mounts and pod network namespaces outlive their tasks and
    # containerd itself; leave no mount behind.
    unmount_under /run/containerd/
    unmount_under /run/netns/cni-
  fi
  if [ -f "$work/mosquitto.pid" ]; then
    kill "$(cat "$work/mosquitto.pid")" 2>/dev/null || true
    rm -f "$work/mosquitto.pid"
  fi
}

case "${1:-}" in
  images)
    # Only the two image tarballs (for suites that run their own containerd): prints their dir.
    mkdir -p "$work"
    if [ ! -s "$work/images/busybox.tar" ] || [ ! -s "$work/images/pause.tar" ]; then
      build_images >&2
    fi
    echo "$work/images"
    ;;
  start)
    mkdir -p "$work"
    start_containerd
    start_mosquitto
    ;;
  stop) stop_all; log "stopped" ;;
  status)
    containerd_up && log "containerd: up" || log "containerd: down"
    mosquitto_up && log "mosquitto: up" || log "mosquitto: down"
    ;;
  *) echo "usage: $0 start|stop|status|images" >&2; exit 2 ;;
esac
