// Twin updates through the whole edge path: a client publishes `$hw/.../twin/update` to the
// mosquitto broker on 127.0.0.1:1883 (scripts/test-services.sh), eventbus receives it, devicetwin
// applies it, commits the row to SQLite (WAL, synchronous=FULL) and publishes the result, which
// the client receives. Prints updates/s (closed loop with a window of outstanding updates) and
// the publish -> result latency (one at a time).
//   ./build/bench/twin_mqtt_bench [updates=20000] [window=256] [latency_samples=1000]
#include <mosquitto.h>
#include <spdlog/sinks/null_sink.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/devicetwin/module.h"
#include "edgecore/eventbus/module.h"
#include "edgecore/metamanager/meta_store.h"
#include "util/wait.h"

namespace asio = boost::asio;
using namespace edgecore;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using edgecore::testing::waitFor;

namespace {

std::atomic<uint64_t> g_results{0};
std::atomic<int> g_subacks{0};
// The publishing thread blocks on this instead of polling: on a 2-core machine a thread waking
// every few microseconds takes CPU from the path being measured.
std::mutex g_mu;
std::condition_variable g_cv;

void onResult() {
  {
    std::lock_guard lock(g_mu);
    g_results.fetch_add(1);
  }
  g_cv.notify_one();
}

// Waits until at least `n` results arrived; false on timeout.
bool waitResults(uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(g_mu);
  return g_cv.wait_for(lock, timeout, [&] { return g_results.load() >= n; });
}

template <typename F>
void onStrand(core::Strand& s, F f) {
  std::promise<void> done;
  asio::post(s, [&] {
    f();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t updates = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  uint64_t window = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256;
  int samples = argc > 3 ? std::atoi(argv[3]) : 1000;

  char tmpl[] = "/tmp/twin-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string node = "bench-node-" + std::to_string(getpid());
  std::string id = "default/bench-dev-" + std::to_string(getpid());

  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  core::Bus bus(ioc, 4096);
  asio::thread_pool blocking(2);
  core::SystemClock clock;
  core::LoggerFactory loggers(spdlog::level::warn);
  core::Strand twin_strand = asio::make_strand(ioc);
  core::Strand bus_strand = asio::make_strand(ioc);
  core::EdgeCoreConfig cfg = core::defaultConfig(core::HostInfo{node, "127.0.0.1"});
  cfg.modules.event_bus.mqtt_sub_client_id = "twin-bench-" + std::to_string(getpid());
  metamanager::SqliteStoreOptions so;
  so.path = dir + "/edgecore.db";
  auto store = metamanager::openSqliteMetaStore(so);
  if (!store.ok()) {
    std::fprintf(stderr, "store: %s\n", store.status().toString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] { ioc.run(); });
  }
  core::ModuleContext tctx{twin_strand, bus, cfg, loggers.make("twin"), clock, blocking};
  devicetwin::DeviceTwinOptions twin_opts;
  twin_opts.dmi_sock_path = "-";
  auto twin = devicetwin::createDeviceTwin(tctx, **store, twin_opts);
  core::ModuleContext bctx{bus_strand, bus, cfg, loggers.make("eventbus"), clock, blocking};
  auto eb = eventbus::createEventBus(bctx, store->get());
  onStrand(twin_strand, [&] { (void)(*twin)->start(); });
  onStrand(bus_strand, [&] { (void)(*eb)->start(); });
  if (!waitFor([&] { return (*eb)->stats().connected; }, 10s)) {
    std::fprintf(stderr, "eventbus did not connect to 127.0.0.1:1883\n");
    return 1;
  }
  nlohmann::json content = {
      {"event_id", "m"},
      {"timestamp", 0},
      {"added_devices", nlohmann::json::array({{{"id", id}, {"name", "bench"}}})},
      {"removed_devices", nlohmann::json::array()}};
  (void)bus.send(
      "twin", core::Message::create("devicecontroller", "twin", "update", "membership", content));

  mosquitto_lib_init();
  mosquitto* m =
      mosquitto_new(("twin-bench-client-" + std::to_string(getpid())).c_str(), true, nullptr);
  std::vector<double> latencies_ms;
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_message_callback_set(m,
                                 [](mosquitto*, void*, const mosquitto_message*) { onResult(); });
  mosquitto_subscribe_callback_set(m, [](mosquitto*, void*, int, int, const int*) { ++g_subacks; });
  if (mosquitto_connect(m, "127.0.0.1", 1883, 30) != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "client connect failed\n");
    return 1;
  }
  mosquitto_loop_start(m);
  std::string prefix = "$hw/events/device/" + id;
  mosquitto_subscribe(m, nullptr, (prefix + "/twin/update/result").c_str(), 0);
  waitFor([&] { return g_subacks > 0; }, 5s);
  auto publish = [&](uint64_t i) {
    std::string payload = R"({"event_id":"e)" + std::to_string(i) +
                          R"(","timestamp":0,"twin":{"temperature":{"actual":{"value":")" +
                          std::to_string(i % 1000) + R"("}}}})";
    mosquitto_publish(m, nullptr, (prefix + "/twin/update").c_str(),
                      static_cast<int>(payload.size()), payload.data(), 0, false);
  };
  // Warm-up (also creates the twin row).
  publish(0);
  if (!waitResults(1, 10s)) {
    std::fprintf(stderr, "no result for the warm-up update\n");
    return 1;
  }

  // Latency: one at a time.
  for (int i = 0; i < samples; ++i) {
    uint64_t before = g_results.load();
    auto t0 = Clock::now();
    publish(1 + i);
    if (!waitResults(before + 1, 5s)) {
      std::fprintf(stderr, "lost a result during the latency run\n");
      return 1;
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());

  // Throughput: closed loop, at most `window` updates outstanding.
  uint64_t base = g_results.load();
  auto t0 = Clock::now();
  for (uint64_t i = 0; i < updates; ++i) {
    if (i >= window && !waitResults(base + i - window + 1, 10s)) {
      break;
    }
    publish(100000 + i);
  }
  bool all = waitResults(base + updates, 60s);
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  uint64_t got = g_results.load() - base;

  auto pct = [&](double p) {
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  std::printf("twin updates through MQTT -> eventbus -> devicetwin -> SQLite -> MQTT result\n");
  std::printf("throughput: %llu updates in %.3f s = %.0f updates/s (window %llu)%s\n",
              static_cast<unsigned long long>(got), secs, static_cast<double>(got) / secs,
              static_cast<unsigned long long>(window), all ? "" : " [some results missing]");
  std::printf("latency publish->result (n=%d): median %.3f ms, p90 %.3f ms, p99 %.3f ms\n", samples,
              pct(0.5), pct(0.9), pct(0.99));
  auto st = (*store)->stats();
  std::printf("store: %llu transactions, %llu ops, max %llu ops per transaction\n",
              static_cast<unsigned long long>(st.transactions),
              static_cast<unsigned long long>(st.ops),
              static_cast<unsigned long long>(st.max_batch_ops));

  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, true);
  mosquitto_destroy(m);
  onStrand(bus_strand, [&] { (*eb)->stop(); });
  onStrand(twin_strand, [&] { (*twin)->stop(); });
  work.reset();
  ioc.stop();
  for (auto& t : threads) {
    t.join();
  }
  blocking.join();
  store->reset();
  std::filesystem::remove_all(dir);
  return all ? 0 : 1;
}
