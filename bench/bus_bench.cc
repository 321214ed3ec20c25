// Bus throughput (send -> handler) and request/reply latency.

#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <exception>
#include <thread>
#include <vector>

#include "edgecore/core/bus.h"

namespace edgecore::core {
namespace {

using namespace std::chrono_literals;

Message benchMessage(int64_t seq) {
  Message m;
  m.header.id = "bench";
  m.header.timestamp_ms = seq;
  m.route.source = "bench";
  m.route.group = "meta";
  m.route.operation = "query";
  m.route.resource = "default/pod/nginx";
  return m;
}

void rethrow(std::exception_ptr e) {
  if (e) {
    std::rethrow_exception(e);
  }
}

// One thread sends a batch, then runs the io_context until the handler saw it all: the cost of
// the bus itself without cross-thread wake-ups.
void BM_SendDrainSameThread(benchmark::State& state) {
  const int64_t batch = state.range(0);
  asio::io_context ioc;
  Bus bus(ioc, static_cast<size_t>(batch));
  int64_t handled = 0;
  (void)bus.subscribe("metamanager", "meta", asio::make_strand(ioc), [&](Message m) {
    benchmark::DoNotOptimize(m);
    ++handled;
  });
  for (auto _ : state) {
    for (int64_t i = 0; i < batch; ++i) {
      if (!bus.send("metamanager", benchMessage(i)).ok()) {
        state.SkipWithError("send failed");
        return;
      }
    }
    ioc.restart();
    ioc.run();
  }
  state.SetItemsProcessed(handled);
}
BENCHMARK(BM_SendDrainSameThread)->Arg(64)->Arg(1024);

// The benchmark thread sends; `range(0)` I/O threads run the handler's strand. Back-pressure by
// retrying on Unavailable.
void BM_SendCrossThread(benchmark::State& state) {
  asio::io_context ioc;
  Bus bus(ioc);
  std::atomic<int64_t> handled{0};
  (void)bus.subscribe("metamanager", "meta", asio::make_strand(ioc), [&](Message m) {
    benchmark::DoNotOptimize(m);
    handled.fetch_add(1, std::memory_order_release);
  });
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> io;
  for (int64_t t = 0; t < state.range(0); ++t) {
    io.emplace_back([&] { ioc.run(); });
  }
  int64_t sent = 0;
  int64_t full = 0;
  for (auto _ : state) {
    while (!bus.send("metamanager", benchMessage(sent)).ok()) {
      ++full;
      std::this_thread::yield();
    }
    ++sent;
  }
  while (handled.load(std::memory_order_acquire) < sent) {
    std::this_thread::yield();
  }
  guard.reset();
  for (auto& t : io) {
    t.join();
  }
  state.SetItemsProcessed(sent);
  state.counters["full_retries"] = static_cast<double>(full);
}
BENCHMARK(BM_SendCrossThread)->Arg(1)->Arg(2)->UseRealTime();

// A coroutine awaits request() in a loop against a module that replies from its strand; one
// iteration is one round trip. range(0) I/O threads.
void BM_RequestReply(benchmark::State& state) {
  asio::io_context ioc;
  Bus bus(ioc);
  (void)bus.subscribe("metamanager", "meta", asio::make_strand(ioc), [&](Message m) {
    Message resp;
    resp.header.id = "resp";
    resp.route.operation = "response";
    (void)bus.reply(m, std::move(resp));
  });
  bool failed = false;
  asio::co_spawn(
      asio::make_strand(ioc),
      [&]() -> asio::awaitable<void> {
        int64_t n = 0;
        for (auto _ : state) {
          // One request at a time, so reusing the id is fine; the waiter is gone on return.
          Message req = benchMessage(n++);
          auto op = bus.request("metamanager", std::move(req), 5s);
          Result<Message> r = co_await std::move(op);
          if (!r.ok()) {
            failed = true;
            break;
          }
        }
      },
      rethrow);
  std::vector<std::thread> io;
  for (int64_t t = 1; t < state.range(0); ++t) {
    io.emplace_back([&] { ioc.run(); });
  }
  ioc.run();
  for (auto& t : io) {
    t.join();
  }
  if (failed) {
    state.SkipWithError("request failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestReply)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace edgecore::core

BENCHMARK_MAIN();
