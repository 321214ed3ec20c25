#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/, EDGECORE_FUZZ=ON, clang-14) in build-fuzz/ and runs
# each for SECONDS (default 60) starting from its committed seed corpus. Fails on the first
# crash, sanitizer report, leak, timeout or allocation over the limits; the input that did it is
# left in build-fuzz/fuzz-out/<target>/ (add it to test/fuzz/corpus/<target>/ as a regression
# seed once fixed). New inputs found are kept in build-fuzz/fuzz-out/<target>/corpus/, never in
# the repository.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 20 message_decode
# Environment: BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
build_dir=${BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-2}
# Bounded allocation: no single allocation over 256 MiB (our largest bound, the 32 MiB frame, is
# far below), and the whole process under 2 GiB.
rss_limit_mb=2048
malloc_limit_mb=256

if [ ! -f "$build_dir/build.ninja" ]; then
  CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S . -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGECORE_FUZZ=ON \
    -DEDGECORE_BUILD_TESTS=OFF -DEDGECORE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build_dir" --target fuzzers -j "$jobs"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in test/fuzz/*_fuzzer.cc; do
    name=$(basename "$src" .cc)
    targets+=("${name%_fuzzer}")
  done
fi

out_root="$build_dir/fuzz-out"
summary=()
failed=0
for t in "${targets[@]}"; do
  bin="$build_dir/test/fuzz/${t}_fuzzer"
  seeds="test/fuzz/corpus/$t"
  out="$out_root/$t"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "fuzz.sh: no binary $bin or no seed corpus $seeds" >&2
    exit 2
  fi
  mkdir -p "$out/corpus"
  log="$out/run.log"
  echo "=== fuzz $t for ${seconds}s (seeds: $(ls "$seeds" | wc -l))"
  set +e
  # The first corpus directory receives new inputs; the seeds are only read.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=25 -max_len=65536 \
    -rss_limit_mb="$rss_limit_mb" -malloc_limit_mb="$malloc_limit_mb" \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ $rc -ne 0 ]; then
    failed=1
    echo "fuzz.sh: $t FAILED (exit $rc); last lines of $log:" >&2
    tail -40 "$log" >&2
    ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-* 2>/dev/null >&2 || true
    summary+=("$t: FAILED exit=$rc")
  else
    summary+=("$t: ok execs=${execs:-?} exec_per_s=${rate:-?} cov=${cov:-?} peak_rss_mb=${rss:-?}")
  fi
  [ $failed -eq 0 ] || break
done

echo
echo "=== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
passed=0
for line in "${summary[@]}"; do
  case $line in *": ok "*) passed=$((passed + 1)) ;; esac
done
echo "fuzz: $passed passed, $(( ${#summary[@]} - passed )) failed"
exit $failed
