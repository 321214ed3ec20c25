#include "edgecore/metaserver/meta_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "metaserver/test_objects.h"
#include "util/descriptors.h"
#include "util/sqlite_test_store.h"
#include "util/wait.h"

namespace edgecore::metaserver {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using edgecore::testing::kPods;
using edgecore::testing::makePod;
using edgecore::testing::PodSpec;
using edgecore::testing::SqliteTestStore;

// A raw HTTP/1.1 client over a blocking socket with a receive timeout: tests see exactly the
// bytes the server wrote.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{0, 200 * 1000};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Reads until `needle` is in what was received (or the deadline / EOF). Returns all so far.
  std::string readUntil(const std::string& needle,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline && !eof_) {
      char buf[65536];
      ssize_t n = ::recv(socket_.native_handle(), buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        eof_ = true;
      }
    }
    return received_;
  }
  bool waitEof(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    readUntil("\x01never\x02", timeout);
    return eof_;
  }
  void clear() { received_.clear(); }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  std::string received_;
  bool eof_ = false;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n" + extra + "\r\n";
}

// Scripted cloud: answers every apply() with the next canned result.
class ScriptedForwarder final : public CloudForwarder {
 public:
  std::atomic<bool> connected{true};
  std::mutex mu;
  std::vector<ApplicationResult> answers;
  bool isConnected() const override { return connected; }
  void apply(Application, ApplyCallback done) override {
    ApplicationResult r;
    {
      std::lock_guard lock(mu);
      r = answers.front();
      answers.erase(answers.begin());
    }
    std::thread([done, r] { done(r); }).detach();  // answers from another thread, like the bus
  }
};

class MetaServerTest : public ::testing::Test {
 protected:
  void startServer(CloudForwarder& forwarder, MetaServerOptions options = {}) {
    options.port = 0;
    server_ = createMetaServer(ioc_.get_executor(), options, *store_, forwarder, clock_, nullptr);
    ASSERT_TRUE(server_->start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      store_.put(kPods, makePod(edgecore::testing::podNamed("pod-" + std::to_string(i),
                                                            static_cast<uint64_t>(10 + i))));
    }
  }
  void TearDown() override {
    // stop() closes everything; the threads return once the last coroutine has unwound.
    if (server_) server_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
    server_.reset();
  }

  SqliteTestStore store_;  // outlives the server and the io_context
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  NullCloudForwarder offline_;
  core::SystemClock clock_;
  MetaServerPtr server_;
};

TEST_F(MetaServerTest, KeepAliveGetAndList) {
  startServer(offline_);
  RawClient c(server_->port());
  c.send(get("/api/v1/namespaces/default/pods/pod-1"));
  std::string r1 = c.readUntil("}}");
  EXPECT_EQ(r1.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r1;
  EXPECT_NE(r1.find(store_->getObject({kPods, "default", "pod-1"})->json), std::string::npos);
  c.clear();
  c.send(get("/api/v1/pods"));
  std::string r2 = c.readUntil("]}");
  EXPECT_NE(r2.find("\"kind\":\"PodList\""), std::string::npos);
  EXPECT_EQ(server_->connectionCount(), 1u);
}

TEST_F(MetaServerTest, ErrorsAreStatusObjects) {
  startServer(offline_);
  RawClient c(server_->port());
  c.send(get("/api/v1/namespaces/default/pods/%2e%2e"));
  std::string r = c.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 Bad Request", 0), 0u) << r;
  EXPECT_NE(r.find("\"kind\":\"Status\""), std::string::npos);
  c.clear();
  c.send(get("/api/v1/namespaces/default/pods/nope"));
  r = c.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 404 Not Found", 0), 0u) << r;
  EXPECT_NE(r.find(R"(pods \"nope\" not found)"), std::string::npos);
}

TEST_F(MetaServerTest, BodyLimitIs413) {
  MetaServerOptions o;
  o.max_body_bytes = 1024;
  startServer(offline_, o);
  RawClient c(server_->port());
  c.send(
      "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
      "\r\n" +
      std::string(5000, 'x'));
  std::string r = c.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_NE(r.find("RequestEntityTooLarge"), std::string::npos);
  // Chunked bodies are limited while reading.
  RawClient d(server_->port());
  std::string chunk(800, 'y');
  d.send(
      "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n320\r\n" +
      chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  r = d.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
}

TEST_F(MetaServerTest, HugeHeaderIs431AndGarbageIs400) {
  MetaServerOptions o;
  o.max_header_bytes = 4096;
  startServer(offline_, o);
  RawClient c(server_->port());
  c.send("GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
  std::string r = c.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r.substr(0, 100);
  RawClient d(server_->port());
  d.send("\x16\x03\x01 not http at all\r\n\r\n");
  r = d.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_TRUE(d.waitEof());
}

TEST_F(MetaServerTest, ReadyzAndMetrics) {
  startServer(offline_);
  server_->metrics().addGauge("edgecore_uptime_seconds", "Seconds since start.",
                              [] { return 42.0; });
  RawClient c(server_->port());
  c.send(get("/readyz"));
  EXPECT_EQ(c.readUntil("\r\n").rfind("HTTP/1.1 503", 0), 0u);
  server_->setReady(true);
  c.clear();
  c.send(get("/readyz"));
  EXPECT_EQ(c.readUntil("ok").rfind("HTTP/1.1 200", 0), 0u);
  c.clear();
  c.send(get("/api/v1/pods/x"));  // a namespace-less GET of a namespaced kind: 404
  c.readUntil("}");
  c.clear();
  c.send(get("/metrics"));
  std::string m = c.readUntil("edgecore_uptime_seconds 42\n");
  EXPECT_NE(m.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(m.find("# TYPE edgecore_uptime_seconds gauge\nedgecore_uptime_seconds 42\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("metaserver_requests_total{verb=\"get\",code=\"404\"} 1"), std::string::npos)
      << m;
  EXPECT_NE(m.find("metaserver_request_duration_seconds_count{verb=\"get\"} 3"), std::string::npos)
      << m;
  EXPECT_NE(m.find("metaserver_watchers 0"), std::string::npos);
}

TEST_F(MetaServerTest, WatchStreamsChunkedLinesAndStopClosesIt) {
  startServer(offline_);
  RawClient c(server_->port());
  c.send(get("/api/v1/namespaces/default/pods?watch=true&resourceVersion=" +
             std::to_string(store_->revision())));
  std::string head = c.readUntil("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  (void)edgecore::testing::waitFor([&] { return server_->watcherCount() != 0; },
                                   std::chrono::seconds(1));
  EXPECT_EQ(server_->watcherCount(), 1u);
  store_.put(kPods, makePod(edgecore::testing::podNamed("late", 99)));
  std::string body = c.readUntil("\"name\":\"late\"");
  EXPECT_NE(body.find("{\"type\":\"ADDED\",\"object\":{"), std::string::npos) << body;
  server_->stop();
  EXPECT_TRUE(c.waitEof());
}

TEST_F(MetaServerTest, WatchTimeoutAndBookmarks) {
  MetaServerOptions o;
  o.bookmark_interval = std::chrono::milliseconds(100);
  startServer(offline_, o);
  RawClient c(server_->port());
  c.send(get("/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" +
             std::to_string(store_->revision())));
  std::string all = c.readUntil("0\r\n\r\n", std::chrono::seconds(5));
  EXPECT_NE(all.find("\"type\":\"BOOKMARK\""), std::string::npos) << all;
  EXPECT_TRUE(all.ends_with("0\r\n\r\n")) << all;  // ended by the timeout with the last chunk
}

TEST_F(MetaServerTest, OnlineGetGoesThroughTheCloudAndIsCached) {
  ScriptedForwarder cloud;
  cloud.answers.push_back(
      {core::Status(), 200, makePod(edgecore::testing::podNamed("cloudpod", 700))});
  cloud.answers.push_back({core::Status(), 200, R"({"kind":"PodList","items":[]})"});
  startServer(cloud);
  RawClient c(server_->port());
  c.send(get("/api/v1/namespaces/default/pods/cloudpod"));
  EXPECT_NE(c.readUntil("}}").find("\"name\":\"cloudpod\""), std::string::npos);
  store_.flush();  // the cache write was submitted before the answer went out
  EXPECT_NE(store_->getObject({kPods, "default", "cloudpod"}), nullptr);
  c.clear();
  c.send(get("/api/v1/pods"));
  EXPECT_NE(c.readUntil("[]}").find(R"({"kind":"PodList","items":[]})"), std::string::npos);
  cloud.connected = false;
  c.clear();
  c.send("DELETE /api/v1/namespaces/default/pods/pod-0 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.readUntil("}");
  EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0u);
  EXPECT_NE(r.find("connection lost between EdgeCore and CloudCore"), std::string::npos);
}

// A listening socket that fails for good (shut down under the server: accept() answers EINVAL)
// reaches the module through on_listener_failure, once; EMFILE-like errors do not.
TEST_F(MetaServerTest, AListenerThatFailsForGoodIsReported) {
  std::mutex mu;
  std::vector<core::Status> failures;
  MetaServerOptions options;
  options.on_listener_failure = [&](core::Status why) {
    std::lock_guard lock(mu);
    failures.push_back(std::move(why));
  };
  startServer(offline_, options);
  int fd = edgecore::testing::listeningDescriptor(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::shutdown(fd, SHUT_RDWR), 0);
  ASSERT_TRUE(edgecore::testing::waitFor(
      [&] {
        std::lock_guard lock(mu);
        return !failures.empty();
      },
      std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::lock_guard lock(mu);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].message().find("metaserver listener failed"), std::string::npos)
      << failures[0].toString();
}

}  // namespace
}  // namespace edgecore::metaserver
