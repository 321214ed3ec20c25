#!/usr/bin/env bash
# Runs every benchmark in build/bench once and writes each one's output to $OUT (default
# /tmp/edgecore-bench-<commit>), for before/after comparisons on one machine:
#   bench/run_all.sh [bench-dir] [out-dir]
# Google Benchmark binaries run with --benchmark_min_time=$MIN_TIME (default 0.5 s) and print a
# table; the drivers (edged_bench, metaserver_bench, twin_mqtt_bench) print their own figures.
# edged_bench needs root and containerd, twin_mqtt_bench a mosquitto on 127.0.0.1:1883
# (scripts/test-services.sh start); a bench that cannot run says so and the rest go on.
set -uo pipefail
cd "$(dirname "$0")/.."
bench_dir=${1:-build/bench}
out=${2:-${OUT:-/tmp/edgecore-bench-$(git rev-parse --short HEAD 2>/dev/null || echo tree)}}
min_time=${MIN_TIME:-0.5}
mkdir -p "$out"
failed=0
for bin in "$bench_dir"/*_bench; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  start=$(date +%s)
  case $name in
    edged_bench | metaserver_bench | twin_mqtt_bench) "$bin" >"$out/$name.txt" 2>&1 ;;
    *) "$bin" --benchmark_min_time="$min_time" >"$out/$name.txt" 2>&1 ;;
  esac
  rc=$?
  echo "$name: exit $rc in $(($(date +%s) - start)) s -> $out/$name.txt"
  [ $rc -eq 0 ] || failed=$((failed + 1))
done
echo "figures in $out ($failed bench(es) failed)"
exit $((failed > 0))
