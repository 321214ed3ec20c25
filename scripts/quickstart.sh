#!/usr/bin/env bash
# Installs the dependencies, builds edgecore and runs it on its defaults in the foreground.
#   sudo scripts/quickstart.sh            (Ctrl-C stops it)
# Uses /etc/kubeedge/config/edgecore.yaml, writing `edgecore --defaultconfig` there first if the
# file does not exist yet (an existing file is never overwritten).
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
echo "quickstart: starting edgecore --config $config (Ctrl-C to stop)"
exec ./build/edgecore --config "$config"
