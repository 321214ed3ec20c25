#!/usr/bin/env bash
# What an operator does on a bare Debian 12 edge node, with only our packages and a cloud
# address: apt install the .deb, keadm join, edgecore connects; then keadm reset. Runs inside a
# bare root made by scripts/clean-root-test.sh (CLEAN_ROOT_BARE=1, CLEAN_ROOT_DEBS=dir), where
# nothing of the build is installed:
#   CLEAN_ROOT_BARE=1 CLEAN_ROOT_DEBS=build/packages \
#     CLEAN_ROOT_AFTER=scripts/node-install-test.sh scripts/clean-root-test.sh
# The cloud is cloudsim from the edgecore-cpp-cloudsim package. There is no systemd in the root,
# so join runs with --init-system=none and edgecore is started as join says to start it.
# Everything started here ends with the root's PID namespace.
set -euo pipefail
debs=${NODE_DEBS:-/var/tmp/debs}
work=/var/tmp/node-install
t0=$(date +%s)
say() { echo "node-install: [$(( $(date +%s) - t0 ))s] $*"; }
fail() { say "FAIL: $*"; exit 1; }
mkdir -p "$work"

# 1. The packages, with their Depends and Recommends (containerd, runc) from the Debian archive.
say "apt install $(cd "$debs" && echo *.deb)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$debs"/edgecore-cpp_*.deb "$debs"/edgecore-cpp-cloudsim_*.deb \
  > "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log"; fail "apt could not install the packages"; }
want=$(dpkg-query -W -f '${Version}' edgecore-cpp)
say "installed edgecore-cpp $want: $(edgecore --version)"
edgecore --version | grep -qF " ${want%-*} " || fail "edgecore --version does not name $want"
[ "$(keadm version)" = "$(edgecore --version)" ] || fail "keadm version differs from edgecore's"
[ "$(stat -c %a /var/lib/kubeedge)" = 700 ] || fail "/var/lib/kubeedge is not 0700"
command -v containerd > /dev/null || fail "containerd (Recommends) was not installed"

# 2. The node's runtime as the containerd package configures it, and a cloud.
mkdir -p /run/containerd
containerd > "$work/containerd.log" 2>&1 &
for _ in $(seq 1 100); do ctr version > /dev/null 2>&1 && break; sleep 0.1; done
ctr version > /dev/null 2>&1 || { tail -n 20 "$work/containerd.log"; fail "containerd did not start"; }
cloudsim init "$work/cloud" --node edge-deb --host 127.0.0.1 > /dev/null
cloudsim serve "$work/cloud" --ws-port 30000 --https-port 30002 --control-port 30005 \
  > "$work/cloudsim.log" 2>&1 &
for _ in $(seq 1 100); do (exec 3<> /dev/tcp/127.0.0.1/30002) 2> /dev/null && break; sleep 0.1; done
say "containerd and cloudsim up"

# 3. A token for another cloud first (well-formed, wrong CA hash): one clear line, non-zero,
# nothing written.
other_ca=$(printf '0%.0s' $(seq 1 64))
if keadm join --init-system=none --cloudcore-ipport=127.0.0.1:30000 --certport=30002 \
  --token="$other_ca.$(cut -d. -f2- "$work/cloud/token")" --edgenode-name=edge-deb \
  > "$work/join-bad.log" 2>&1; then
  fail "keadm join accepted a bad token"
fi
[ ! -e /etc/kubeedge/config/edgecore.yaml ] || fail "a failed join wrote the config"
say "bad token refused: $(grep -m1 error "$work/join-bad.log")"

# 4. keadm join, then edgecore as join says to start it.
keadm join --init-system=none --cloudcore-ipport=127.0.0.1:30000 --certport=30002 \
  --token="$(cat "$work/cloud/token")" --edgenode-name=edge-deb | tee "$work/join.log"
[ "$(stat -c %a /etc/kubeedge/config/edgecore.yaml)" = 600 ] || fail "edgecore.yaml is not 0600"
edgecore --config /etc/kubeedge/config/edgecore.yaml > "$work/edgecore.log" 2>&1 &
edgecore_pid=$!
for _ in $(seq 1 300); do grep -q 'cloud connected' "$work/edgecore.log" && break; sleep 0.1; done
grep -q 'cloud connected' "$work/edgecore.log" || { tail -n 30 "$work/edgecore.log"; fail "edgecore did not connect in 30 s"; }
cert=$(awk '/tlsCertFile:/ {print $2; exit}' /etc/kubeedge/config/edgecore.yaml)
openssl x509 -in "$cert" -noout -subject | grep -q 'CN *= *system:node:edge-deb' \
  || fail "no node certificate for edge-deb at $cert"
say "edgecore connected to the cloud with its node certificate ($cert)"

# 5. keadm reset removes what join wrote.
kill -TERM "$edgecore_pid"; wait "$edgecore_pid" || true
keadm reset --force > "$work/reset.log" 2>&1 || { cat "$work/reset.log"; fail "keadm reset failed"; }
for f in /etc/kubeedge/config/edgecore.yaml "$cert" /var/lib/kubeedge/edgecore.db; do
  [ ! -e "$f" ] || fail "keadm reset left $f"
done
say "keadm reset --force removed the config, the certificate and the database"
say "passed"
