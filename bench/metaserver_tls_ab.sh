#!/usr/bin/env bash
# kubectl get pods -A over 1000 pods: MetaServer plain HTTP vs HTTPS (requireAuthorization's
# transport). Builds the bench and prints both medians and their ratio (issue 17: within 2x).
# Usage: bench/metaserver_tls_ab.sh [runs]   (from the repo root, after `cmake -S . -B build`)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target metaserver_tls_bench -j2 >/dev/null
exec build/bench/metaserver_tls_bench "${1:-21}"
