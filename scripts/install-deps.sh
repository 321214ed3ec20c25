#!/usr/bin/env bash
# Installs every build and test dependency of edgecore-cpp from Debian bookworm's apt archive.
# Usage: sudo scripts/install-deps.sh        (idempotent; safe to re-run)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get needs it), e.g. sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format
  # libFuzzer targets (scripts/fuzz.sh): clang 14 and its runtime (libFuzzer, ASan, UBSan)
  clang-14 libclang-rt-14-dev
  # libraries (Boost 1.81 replaces bookworm's default 1.74 headers; never install both)
  libboost1.81-dev libboost-url1.81-dev
  nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libssl-dev openssl
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  # MQTT client library for eventbus
  libmosquitto-dev
  # real services the integration tests talk to (scripts/test-services.sh)
  containerd runc containernetworking-plugins busybox-static gcc libc6-dev
  mosquitto mosquitto-clients
  # the distribution registry the image pre-pull tests push to and pull from on loopback
  # (test/util/local_registry.cc; its own ports, so the packaged service on :5000 does not matter)
  docker-registry
  # the fault matrix's clock jumps (libfaketime, LD_PRELOADed into edgecore)
  faketime
  # systemd-analyze verify for the packaged unit; lintian for the .deb (scripts/package.sh)
  systemd lintian
  # the real-cloud suite (test/e2e): etcd for ../shared/realcloud, its xz-packed binaries, and
  # the tools the checks use
  etcd-server xz-utils jq curl util-linux iproute2 python3
  # the clean-root job (scripts/clean-root-test.sh) and .ci/run's formatting step
  debootstrap git ca-certificates
)
# Stock kubectl for the kubectl tests and RealCloudE2E: Debian's kubernetes-client (1.20) unless
# a kubectl is already on PATH (installing the package would replace it). docs/testing.md.
if ! command -v kubectl >/dev/null; then
  packages+=(kubernetes-client)
fi

echo "install-deps: apt-get update"
apt-get update -qq
echo "install-deps: installing ${#packages[@]} packages"
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: done"
