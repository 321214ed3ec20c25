// EdgeStream tunnel frame codec (src/edgestream/frame.h): decode and encode throughput for the
// frame sizes the tunnel carries (256-byte DATA as the original sends, 32 KiB as we send, 1 MiB
// at the limit). Run: build/bench/stream_frame_bench

#include <benchmark/benchmark.h>

#include <string>

#include "frame.h"

namespace {

using edgecore::edgestream::decodeFrame;
using edgecore::edgestream::encodeFrame;
using edgecore::edgestream::MessageType;

void BM_DecodeData(benchmark::State& state) {
  std::string wire =
      encodeFrame(123456, MessageType::Data, std::string(static_cast<size_t>(state.range(0)), 'x'));
  for (auto _ : state) {
    auto r = decodeFrame(wire);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(wire.size()));
}
BENCHMARK(BM_DecodeData)->Arg(256)->Arg(32 << 10)->Arg(1 << 20);

void BM_EncodeData(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    std::string wire = encodeFrame(123456, MessageType::Data, data);
    benchmark::DoNotOptimize(wire);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_EncodeData)->Arg(256)->Arg(32 << 10)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
