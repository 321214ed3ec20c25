// metamanager ingest: cloud pod inserts through the bus -> metamanager -> SQLite (WAL,
// synchronous=FULL, meta + meta_v2) -> ACK to a stand-in edgehub. Reports ACKed messages per
// second with at most `window` messages unacknowledged, as a cloud resending after 5 s would see.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "edgecore/core/bus.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/core/message.h"
#include "edgecore/metamanager/meta_store.h"
#include "edgecore/metamanager/module.h"

namespace edgecore::metamanager {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using nlohmann::json;

// About 2.5 KiB, shaped like a pod from the cloud.
json podJson(int i) {
  json env = json::array();
  for (int e = 0; e < 12; ++e) {
    env.push_back({{"name", "SETTING_" + std::to_string(e)}, {"value", "v" + std::to_string(e)}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", "pod-" + std::to_string(i)},
            {"namespace", "default"},
            {"uid", "0f6c1a2e-9b1d-4c47-8f0e-" + std::to_string(100000000000 + i)},
            {"resourceVersion", std::to_string(1000 + i)},
            {"labels", {{"app", "sensor-gateway"}, {"tier", "edge"}}},
            {"annotations", {{"note", std::string(1200, 'a')}}}}},
          {"spec",
           {{"nodeName", "edge-1"},
            {"containers",
             json::array({{{"name", "main"}, {"image", "busybox:local"}, {"env", env}}})}}},
          {"status", {{"phase", "Pending"}}}};
}

void BM_PodInsertToAck(benchmark::State& state) {
  const int total = static_cast<int>(state.range(0));
  const int window = static_cast<int>(state.range(1));
  fs::path dir = fs::temp_directory_path() / ("mm_bench_" + std::to_string(::getpid()));
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    fs::create_directories(dir);
    SqliteStoreOptions opts;
    opts.path = (dir / "edgecore.db").string();
    if (const char* wait_us = std::getenv("MM_BENCH_GROUP_COMMIT_US")) {  // A/B of group commit
      opts.group_commit_wait = std::chrono::microseconds(std::atoi(wait_us));
    }
    auto store = openSqliteMetaStore(opts);
    if (!store.ok()) {
      state.SkipWithError(store.status().toString().c_str());
      return;
    }
    asio::io_context ioc;
    asio::thread_pool blocking(2);
    core::SystemClock clock;
    core::LoggerFactory loggers(spdlog::level::err);
    core::EdgeCoreConfig config;
    config.modules.meta_manager.context_send_module = "websocket";
    {
      core::Bus bus(ioc);
      core::ModuleContext ctx{asio::make_strand(ioc),      bus,   config,
                              loggers.make("metamanager"), clock, blocking};
      auto mm = createMetaManager(ctx, **store);
      if (!mm.ok() || !(*mm)->start().ok()) {
        state.SkipWithError("metamanager did not start");
        return;
      }
      int acked = 0;
      (void)bus.subscribe("websocket", "hub", asio::make_strand(ioc), [&](core::Message m) {
        if (m.route.operation == "response") {
          ++acked;
        }
      });
      (void)bus.subscribe("edged", "edged", asio::make_strand(ioc), [](core::Message) {});
      std::vector<core::Message> msgs;
      msgs.reserve(total);
      for (int i = 0; i < total; ++i) {
        core::Message m = core::Message::create("edgecontroller", "resource", "insert",
                                                "default/pod/pod-" + std::to_string(i), podJson(i));
        m.header.resource_version = std::to_string(1000 + i);
        msgs.push_back(std::move(m));
      }
      state.ResumeTiming();
      int sent = 0;
      while (acked < total) {
        while (sent < total && sent - acked < window) {
          // Moved, as edgehub hands its freshly decoded message to the bus. The window stays
          // below the mailbox bound (1024), so a send cannot fail for a full mailbox.
          if (!bus.send("metamanager", std::move(msgs[sent])).ok()) {
            state.SkipWithError("bus refused a message");
            return;
          }
          ++sent;
        }
        if (ioc.run_one_for(std::chrono::milliseconds(1)) == 0) {
          std::this_thread::yield();
        }
        if (ioc.stopped()) {
          ioc.restart();
        }
      }
      state.PauseTiming();
      state.counters["batches"] = static_cast<double>((*store)->stats().transactions);
      (*mm)->stop();
      bus.unsubscribe("websocket");
      bus.unsubscribe("edged");
    }
    blocking.join();
    store->reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * total);
}
BENCHMARK(BM_PodInsertToAck)
    ->Args({500, 1})
    ->Args({5000, 64})
    ->Args({5000, 512})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace edgecore::metamanager

BENCHMARK_MAIN();
