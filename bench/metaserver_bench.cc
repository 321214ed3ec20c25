// MetaServer over real HTTP: 1000 realistic pods (~3 KiB each) in the real SQLite store (a temp
// file, written the way metamanager writes them), the server on 127.0.0.1:0 with two I/O
// threads, measured by keep-alive Beast clients.
//   LIST all pods (one client)       median / p99
//   GET one pod (one client)         median / p99
//   GET throughput, 8 clients        requests per second
//   LIST all pods as protobuf        median / p99 (Accept: application/vnd.kubernetes.protobuf),
//                                    and the JSON -> protobuf conversion alone
// Run from a RelWithDebInfo or Release build: build/bench/metaserver_bench

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/protobuf/envelope.h"
#include "metaserver/test_objects.h"
#include "util/sqlite_test_store.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

class Client {
 public:
  explicit Client(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  // One request on the kept-alive connection; returns the body size.
  size_t get(const std::string& target, const char* accept = "application/json") {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, accept);
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    if (res.result_int() != 200) {
      std::fprintf(stderr, "unexpected status %u for %s\n", res.result_int(), target.c_str());
      std::exit(1);
    }
    return res.body().size();
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct Stats {
  double median_ms;
  double p99_ms;
};
Stats summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

template <typename F>
std::vector<double> timeEach(int n, F&& f) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    f(i);
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return out;
}

}  // namespace

int main() {
  using namespace edgecore;
  testing::SqliteTestStore store;
  size_t total_bytes = 0;
  const int kPods = 1000;
  std::vector<std::string> pods;
  for (int i = 0; i < kPods; ++i) {
    testing::PodSpec p;
    p.ns = "ns-" + std::to_string(i % 10);
    p.name = "pod-" + std::to_string(i);
    p.app = "app-" + std::to_string(i % 7);
    p.rv = static_cast<uint64_t>(1000 + i);
    std::string json = testing::makePod(p);
    total_bytes += json.size();
    pods.push_back(std::move(json));
  }
  store.putMany(testing::kPods, pods);

  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  metaserver::NullCloudForwarder offline;
  core::SystemClock clock;
  metaserver::MetaServerOptions options;
  options.port = 0;
  auto server =
      metaserver::createMetaServer(ioc.get_executor(), options, *store, offline, clock, nullptr);
  if (!server->start().ok()) return 1;
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });
  uint16_t port = server->port();

  std::printf("pods: %d, average object %zu bytes\n", kPods, total_bytes / kPods);
  Client c(port);
  size_t list_bytes = c.get("/api/v1/pods");
  for (int i = 0; i < 20; ++i) c.get("/api/v1/pods");  // warm-up
  auto list = summarize(timeEach(300, [&](int) { c.get("/api/v1/pods"); }));
  std::printf("LIST all pods (%zu KiB):    median %.3f ms   p99 %.3f ms\n", list_bytes / 1024,
              list.median_ms, list.p99_ms);

  {
    // Server-side share of a LIST (handler + write into the socket), from its own histogram.
    std::string m = server->metrics().render();
    auto value = [&](const std::string& key) {
      auto at = m.find(key);
      return at == std::string::npos ? 0.0 : std::atof(m.c_str() + at + key.size());
    };
    double sum = value("metaserver_request_duration_seconds_sum{verb=\"list\"} ");
    double count = value("metaserver_request_duration_seconds_count{verb=\"list\"} ");
    if (count > 0) std::printf("  (server side of LIST: mean %.3f ms)\n", 1000 * sum / count);
  }

  {
    // The same LIST as Kubernetes protobuf: the JSON is parsed and converted per request.
    const char* kPb = "application/vnd.kubernetes.protobuf";
    size_t pb_bytes = c.get("/api/v1/pods", kPb);
    for (int i = 0; i < 5; ++i) c.get("/api/v1/pods", kPb);  // warm-up (builds the pool)
    auto pb = summarize(timeEach(100, [&](int) { c.get("/api/v1/pods", kPb); }));
    std::printf("LIST all pods, protobuf (%zu KiB): median %.3f ms   p99 %.3f ms\n",
                pb_bytes / 1024, pb.median_ms, pb.p99_ms);
    // The conversion alone, on the list body the JSON LIST sends.
    std::string list_json =
        "{\"apiVersion\":\"v1\",\"kind\":\"PodList\",\"metadata\":{},"
        "\"items\":[";
    for (size_t i = 0; i < pods.size(); ++i) list_json += (i ? "," : "") + pods[i];
    list_json += "]}";
    auto convert = summarize(timeEach(50, [&](int) {
      auto j = core::parseJsonBounded(list_json);
      if (!metaserver::protobuf::encodeObject(j).ok()) std::exit(1);
    }));
    auto parse_only =
        summarize(timeEach(50, [&](int) { (void)core::parseJsonBounded(list_json); }));
    std::printf("  JSON -> protobuf of the list: median %.3f ms (of which JSON parse %.3f ms)\n",
                convert.median_ms, parse_only.median_ms);
  }

  std::vector<std::string> targets;
  for (int i = 0; i < kPods; ++i) {
    targets.push_back("/api/v1/namespaces/ns-" + std::to_string(i % 10) + "/pods/pod-" +
                      std::to_string(i));
  }
  for (int i = 0; i < 1000; ++i) c.get(targets[static_cast<size_t>(i)]);  // warm-up
  auto get =
      summarize(timeEach(20000, [&](int i) { c.get(targets[static_cast<size_t>(i % kPods)]); }));
  std::printf("GET one pod:                median %.3f ms   p99 %.3f ms\n", get.median_ms,
              get.p99_ms);

  auto label =
      summarize(timeEach(300, [&](int) { c.get("/api/v1/pods?labelSelector=app%3Dapp-3"); }));
  std::printf("LIST app=app-3 (1/7):       median %.3f ms   p99 %.3f ms\n", label.median_ms,
              label.p99_ms);

  const int kClients = 8;
  const auto kDuration = std::chrono::seconds(3);
  std::atomic<uint64_t> done{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      Client cl(port);
      while (!go) std::this_thread::yield();
      auto end = Clock::now() + kDuration;
      uint64_t n = 0;
      size_t i = static_cast<size_t>(t) * 97;
      while (Clock::now() < end) {
        cl.get(targets[i++ % targets.size()]);
        ++n;
      }
      done += n;
    });
  }
  auto t0 = Clock::now();
  go = true;
  for (auto& t : clients) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("GET throughput, %d clients: %.0f requests/s\n", kClients,
              static_cast<double>(done.load()) / secs);

  server->stop();
  work.reset();
  for (auto& t : io) t.join();
  return 0;
}
