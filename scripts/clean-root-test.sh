#!/usr/bin/env bash
# The README's two set-up commands on a bare Debian 12: builds a clean bookworm root with
# debootstrap (minbase: no compiler, no kubectl, nothing of ours), copies the checkout in, and runs
# in it (in mount and PID namespaces of their own, pivoted into the root; docs/testing.md):
#   1. scripts/install-deps.sh and scripts/build.sh (what both README commands start with, timed
#      on their own);
#   2. scripts/quickstart.sh until the example static pod has written its first line, then Ctrl-C;
#   3. scripts/run-tests.sh (the whole ctest suite, RealCloudE2E included).
# Every phase prints its time; the exit status is non-zero if any phase failed.
#
#   sudo scripts/clean-root-test.sh [ctest args for step 3, e.g. -L unit]
#
# Environment:
#   CLEAN_ROOT          where the root is built (default /var/tmp/edgecore-clean-root); an old
#                       one there is deleted first
#   CLEAN_ROOT_MIRROR   Debian mirror for debootstrap (default: the first bookworm URI of this
#                       machine's apt sources, else http://deb.debian.org/debian)
#   CLEAN_ROOT_TARBALL  cache of the debootstrapped root for local re-runs: unpacked when it
#                       exists, written after debootstrap when it does not (CI starts from nothing)
#   CLEAN_ROOT_CCACHE   a host ccache directory to bind into the root (local re-runs)
#   CLEAN_ROOT_KEEP=1   leave the root on disk at the end (unmounted, processes stopped)
#   CLEAN_ROOT_STEPS    which of "quickstart tests" to run after the build (default: both)
#   CLEAN_ROOT_AFTER    a command line to run in the root, in the checkout, at the end (e.g. CI's
#                       packaging of the build tree the tests ran); its failure fails the script
#   CLEAN_ROOT_BARE=1   no dependencies, no build, no quickstart or tests: the root stays a bare
#                       Debian 12 with the checkout's files in it, for CLEAN_ROOT_AFTER alone
#   CLEAN_ROOT_DEBS     a directory whose .deb files are copied to /var/tmp/debs in the root
#
# The root shares this machine's kernel, network namespace and cgroup tree; its /run, /tmp and
# /var are its own. The checkout goes to the same absolute path inside the root, and ../shared
# (tests read ../shared/realcloud and ../shared/refdata) is bind-mounted read-only beside it.
# Tests inside the root take their locks in the root's /tmp, so this script takes the host's
# /tmp/containerd-tests.lock and /tmp/realcloud.lock around steps 2 and 3. docs/testing.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${CLEAN_ROOT:-/var/tmp/edgecore-clean-root}
steps=${CLEAN_ROOT_STEPS:-quickstart tests}
[ "${CLEAN_ROOT_BARE:-0}" = 1 ] && steps=""
[ "$(id -u)" = 0 ] || { echo "clean-root-test.sh: run as root (debootstrap, mount, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "clean-root-test.sh: debootstrap missing (scripts/install-deps.sh)" >&2; exit 1; }

t0=$(date +%s)
phase_start=$t0
declare -a times=()
log() { echo "clean-root: [$(( $(date +%s) - t0 ))s] $*"; }
phase_done() {  # name status
  local s=$(( $(date +%s) - phase_start ))
  times+=("$(printf '%-28s %4ds (%dm%02ds)  %s' "$1" "$s" $((s / 60)) $((s % 60)) "$2")")
  log "phase $1: $2 in ${s}s"
  phase_start=$(date +%s)
}

mirror() {
  [ -n "${CLEAN_ROOT_MIRROR:-}" ] && { echo "$CLEAN_ROOT_MIRROR"; return; }
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # deb822: the URIs of the stanza whose Suites has plain "bookworm".
    uri=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && /Types:[^\n]*deb( |\n|$)/ {
                 if (match($0, /URIs:[ ]*[^ \n]+/)) { u=substr($0,RSTART,RLENGTH); sub(/URIs:[ ]*/,"",u); print u; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Mounts under the root; cleanup unmounts everything below the root, deepest first.
mnt() {  # target, then mount(8) args
  local target=$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
}

# Every process whose root directory is inside the root (our chroots and the containers they ran).
root_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
  done
}

# Our unshare processes (descendants of this script): killing one takes its namespace down.
our_unshares() {
  local p q
  for p in $(pgrep -x unshare); do
    q=$p
    while [ -n "$q" ] && [ "$q" -gt 1 ]; do
      q=$(ps -o ppid= -p "$q" 2>/dev/null | tr -d ' ')
      [ "$q" = $$ ] && { echo "$p"; break; }
    done
  done
}

cleanup() {
  local rc=$?
  set +e
  local pids
  pids=$(our_unshares)
  [ -z "$pids" ] || { log "stopping the root's namespaces"; kill -KILL $pids 2>/dev/null; sleep 1; }
  pids=$(root_pids)
  if [ -n "$pids" ]; then
    log "stopping $(echo "$pids" | wc -w) leftover processes in the root"
    kill -TERM $pids 2>/dev/null; sleep 2
    pids=$(root_pids); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null && sleep 1
  fi
  # Whatever the tests mounted inside (containerd's overlays and shm, netns files), then ours.
  local m
  for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  if awk -v r="$root" '$2 == r || index($2, r "/") == 1 {found=1} END {exit !found}' /proc/self/mounts; then
    log "WARNING: still mounted under $root:"; grep " $root" /proc/self/mounts
  elif [ "${CLEAN_ROOT_KEEP:-0}" != 1 ]; then
    rm -rf --one-file-system "$root"
  fi
  echo
  echo "clean-root: phase times"
  printf '  %s\n' "${times[@]}"
  echo "clean-root: total $(( $(date +%s) - t0 ))s, exit $rc"
  exit "$rc"
}

# ------------------------------------------------------------------------------------------
# 1. The root.
if [ -e "$root" ]; then
  if grep -q " $root" /proc/self/mounts; then
    echo "clean-root-test.sh: $root has mounts (another run?); unmount it first" >&2; exit 1
  fi
  rm -rf --one-file-system "$root"
fi
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$root"
if [ -n "${CLEAN_ROOT_TARBALL:-}" ] && [ -s "$CLEAN_ROOT_TARBALL" ]; then
  log "unpacking the cached minbase root $CLEAN_ROOT_TARBALL"
  tar -xzf "$CLEAN_ROOT_TARBALL" -C "$root"
  phase_done "root (cached tarball)" ok
else
  m=$(mirror)
  log "debootstrap --variant=minbase bookworm $root $m"
  debootstrap --variant=minbase bookworm "$root" "$m" > "$root.debootstrap.log" 2>&1 \
    || { tail -n 30 "$root.debootstrap.log"; phase_done debootstrap FAILED; exit 1; }
  rm -f "$root.debootstrap.log"
  if [ -n "${CLEAN_ROOT_TARBALL:-}" ]; then
    tar -czf "$CLEAN_ROOT_TARBALL" -C "$root" . && log "cached the root as $CLEAN_ROOT_TARBALL"
  fi
  phase_done debootstrap ok
fi
# apt inside the root uses the machine's Debian sources (bookworm, -updates, -security), as a
# freshly installed Debian 12 would.
if [ -s /etc/apt/sources.list.d/debian.sources ]; then
  cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
  : > "$root/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp /etc/hosts "$root/etc/hosts"

# ------------------------------------------------------------------------------------------
# 2. Mounts. The root is made a mount point of its own (pivot_root needs the new root to be one),
# private so nothing propagates back; /proc is mounted in each command's own PID namespace.
mnt "$root" --bind "$root"
mount --make-private "$root"
mnt "$root/sys" -t sysfs sysfs
# The host's cgroup tree as it is (v2, or v1/hybrid as on these machines): runc in the root must
# find the controllers where the kernel has them.
mnt "$root/sys/fs/cgroup" --rbind /sys/fs/cgroup
mnt "$root/dev" --bind /dev
mnt "$root/dev/pts" --bind /dev/pts
mnt "$root/dev/shm" -t tmpfs tmpfs -o mode=1777
mnt "$root/run" -t tmpfs tmpfs -o mode=0755
shared=$(cd "$repo/.." && pwd)/shared
if [ -d "$shared" ]; then
  mnt "$root$shared" --bind "$shared"
  mount -o remount,bind,ro "$root$shared"
else
  log "WARNING: no $shared beside the checkout (RealCloudE2E and the refdata tests will fail)"
fi
if [ -n "${CLEAN_ROOT_CCACHE:-}" ]; then
  mnt "$root/root/.cache/ccache" --bind "$CLEAN_ROOT_CCACHE"
fi
# Binds of shared mounts (systemd makes "/" shared) would join their peer groups: an unmount at
# cleanup must never propagate to the host's /sys/fs/cgroup or /dev.
mount --make-rprivate "$root"

# ------------------------------------------------------------------------------------------
# 3. The checkout: the files git knows (tracked, plus untracked ones not ignored), at the same
# absolute path. A CI checkout is clean, so this is the commit under test.
mkdir -p "$root$repo"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$root$repo"
if [ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]; then
  log "note: the checkout has uncommitted changes; they are in the root too"
fi
log "checkout copied to $root$repo ($(du -sh "$root$repo" | cut -f1))"
if [ -n "${CLEAN_ROOT_DEBS:-}" ]; then
  mkdir -p "$root/var/tmp/debs"
  cp "$CLEAN_ROOT_DEBS"/*.deb "$root/var/tmp/debs/"
  log "packages copied to /var/tmp/debs: $(cd "$root/var/tmp/debs" && echo *.deb)"
fi

# Runs a command line in the root, in the checkout, as root with a login-like environment, in
# new mount and PID namespaces whose root is the clean root (pivot_root, not a bare chroot):
# `runc exec` enters a container through its mount namespace's root, and in a chroot that root
# is the host's "/", so exec probes and `kubectl exec` would run on the host's files. When the
# command ends, the kernel kills whatever it left running (containerd, shims, pods), and the
# mounts made inside (overlays, shm, netns) go with the namespace.
in_root() {
  local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
             TERM=dumb LANG=C.UTF-8)
  if [ -n "${CLEAN_ROOT_CCACHE:-}" ]; then
    env+=(CCACHE_DIR=/root/.cache/ccache "CCACHE_BASEDIR=$(dirname "$repo")" CCACHE_NOHASHDIR=1)
  fi
  unshare --mount --pid --fork --kill-child --propagation private -- /bin/sh -ec '
    root=$1; shift
    mount -t proc proc "$root/proc"
    cd "$root"; old=$(mktemp -d .host.XXXXXX); pivot_root . "$old"
    exec /usr/sbin/chroot . /bin/sh -c "umount -l /$old && rmdir /$old; \"\$@\"" sh "$@"' \
    sh "$root" /usr/bin/env -i "${env[@]}" /bin/bash -c "cd '$repo' && $1"
}
status=0

# ------------------------------------------------------------------------------------------
# 4. Dependencies and build (the first half of both README commands; they find both done).
if [ "${CLEAN_ROOT_BARE:-0}" != 1 ]; then
  log "scripts/install-deps.sh in the root"
  if in_root scripts/install-deps.sh; then phase_done "install-deps (apt)" ok
  else phase_done "install-deps (apt)" FAILED; exit 1; fi
  log "kubectl in the root: $(in_root 'command -v kubectl && kubectl version --client --short 2>/dev/null | head -1' | tr '\n' ' ')"
  log "scripts/build.sh in the root"
  [ -z "${CLEAN_ROOT_CCACHE:-}" ] || in_root 'ccache -z > /dev/null'
  if in_root 'scripts/build.sh > /var/tmp/build.log 2>&1'; then phase_done "build" ok
  else tail -n 40 "$root/var/tmp/build.log"; phase_done "build" FAILED; exit 1; fi
  [ -z "${CLEAN_ROOT_CCACHE:-}" ] || in_root 'ccache -s | grep -E "Hits|Misses" | head -3'
fi

# The host's test locks (the tests in the root lock files in the root's /tmp); held on fds 8/9
# by this shell, released by flock -u or at exit.
take_locks() {
  exec 8>/tmp/containerd-tests.lock 9>/tmp/realcloud.lock
  flock 8; flock 9
  log "holding /tmp/containerd-tests.lock and /tmp/realcloud.lock"
}

# ------------------------------------------------------------------------------------------
# 5. README command 1: scripts/quickstart.sh, until the example pod has logged, then Ctrl-C.
if [[ " $steps " == *" quickstart "* ]]; then
  log "scripts/quickstart.sh in the root (waiting for the host's test locks)"
  quickstart() {
    phase_start=$(date +%s)
    in_root 'exec scripts/quickstart.sh > /var/tmp/quickstart.log 2>&1' &
    local qs=$! ok=0 i
    for i in $(seq 1 240); do
      if grep -qs 'hello from' "$root"/var/log/pods/default_hello-edge-*/hello/0.log; then ok=1; break; fi
      kill -0 "$qs" 2>/dev/null || break
      sleep 0.5
    done
    if [ "$ok" = 1 ]; then
      log "example pod runs: $(cat "$root"/var/log/pods/default_hello-edge-*/hello/0.log | head -1)"
      grep -m1 'container started pod=default/hello-edge' "$root/var/tmp/quickstart.log" || true
    else
      log "the example pod wrote no line in 120 s; quickstart log:"; tail -n 40 "$root/var/tmp/quickstart.log"
    fi
    # Ctrl-C, as the README says: SIGINT to edgecore (quickstart exec'd it).
    local p host_pidns
    host_pidns=$(readlink /proc/self/ns/pid)
    for p in $(pgrep -x edgecore); do
      [ "$(readlink "/proc/$p/ns/pid")" != "$host_pidns" ] && kill -INT "$p"
    done
    local stopped=0
    for i in $(seq 1 30); do kill -0 "$qs" 2>/dev/null || { stopped=1; break; }; sleep 0.5; done
    wait "$qs"; local rc=$?
    [ "$stopped" = 1 ] || { log "edgecore did not stop within 15 s of SIGINT"; ok=0; }
    log "quickstart exited $rc after SIGINT"
    grep -E 'edgecore (stopped|exiting)|stopped' "$root/var/tmp/quickstart.log" | tail -n 2 || true
    in_root 'scripts/test-services.sh stop'
    [ "$ok" = 1 ] && [ "$rc" = 0 ]
  }
  take_locks
  if quickstart; then phase_done "quickstart (to pod running)" ok
  else phase_done "quickstart (to pod running)" FAILED; status=1; fi
  flock -u 9; flock -u 8
fi

# ------------------------------------------------------------------------------------------
# 6. README command 2: scripts/run-tests.sh (install-deps and build again: no-ops by now).
if [[ " $steps " == *" tests "* ]]; then
  log "scripts/run-tests.sh $* in the root (waiting for the host's test locks)"
  take_locks
  # The root shares the host's network: a broker some other run left on 127.0.0.1:1883 would be
  # used (and maybe stopped mid-suite) instead of the root's own (scripts/test-services.sh).
  if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    log "WARNING: something already listens on 127.0.0.1:1883 on this machine; the suite will use it"
  fi
  phase_start=$(date +%s)
  if in_root "scripts/run-tests.sh $(printf '%q ' "$@") 2>&1 | tee /var/tmp/run-tests.log; exit \${PIPESTATUS[0]}"; then
    phase_done "run-tests (ctest)" ok
  else
    phase_done "run-tests (ctest)" FAILED; status=1
  fi
  flock -u 9; flock -u 8
  grep -E '^[0-9]+% tests passed|The following tests FAILED' -A 30 "$root/var/tmp/run-tests.log" | head -n 40 || true
fi
# ------------------------------------------------------------------------------------------
# 7. Whatever else CI wants from this build tree, in the root (e.g. packaging): CLEAN_ROOT_AFTER.
if [ -n "${CLEAN_ROOT_AFTER:-}" ]; then
  log "in the root: $CLEAN_ROOT_AFTER"
  phase_start=$(date +%s)
  if in_root "$CLEAN_ROOT_AFTER"; then phase_done "CLEAN_ROOT_AFTER" ok
  else phase_done "CLEAN_ROOT_AFTER" FAILED; status=1; fi
fi
exit "$status"
