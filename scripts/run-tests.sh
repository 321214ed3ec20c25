#!/usr/bin/env bash
# The whole test suite on a Debian 12 machine: installs dependencies, builds, starts the services
# the tests talk to, runs ctest, stops the services. Exit status is ctest's.
#   sudo scripts/run-tests.sh            (extra args go to ctest, e.g. -L unit or -R Bus)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/test-services.sh start
trap 'scripts/test-services.sh stop' EXIT
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
