#!/usr/bin/env bash
# Starts/stops the real services the integration tests use. None are needed by the landed
# modules yet; containerd (edged) and mosquitto (eventbus) join here with their modules.
#   scripts/test-services.sh start|stop
set -euo pipefail
case "${1:-}" in
  start) echo "test-services: no services needed yet" ;;
  stop) ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
