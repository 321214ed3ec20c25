// Encode/decode cost of a realistic downstream frame: the pod insert the cloud sent in the
// recordings (test/data/message/cloud_pod_insert.json), about 1.2 kB.

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "edgecore/core/message.h"

namespace {

std::string podInsertFrame() {
  std::ifstream in(EDGECORE_BENCH_DATA_DIR "/message/cloud_pod_insert.json", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_DecodePodInsert(benchmark::State& state) {
  const std::string frame = podInsertFrame();
  for (auto _ : state) {
    auto msg = edgecore::core::decodeMessage(frame);
    benchmark::DoNotOptimize(msg);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DecodePodInsert);

void BM_EncodePodInsert(benchmark::State& state) {
  const std::string frame = podInsertFrame();
  const auto msg = edgecore::core::decodeMessage(frame);
  if (!msg.ok()) {
    state.SkipWithError("golden frame did not decode");
    return;
  }
  for (auto _ : state) {
    std::string out = edgecore::core::encodeMessage(*msg);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_EncodePodInsert);

void BM_NewUuidV4(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(edgecore::core::newUuidV4());
  }
}
BENCHMARK(BM_NewUuidV4);

}  // namespace

BENCHMARK_MAIN();
