#include "server/edged_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "util/descriptors.h"
#include "util/process.h"
#include "util/wait.h"

namespace edgecore::edged {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
  return edgecore::testing::waitFor(pred, timeout);
}

struct Response {
  int status = 0;
  std::string headers;
  std::string body;
};

// De-chunks a body if needed.
std::string dechunk(const std::string& s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t eol = s.find("\r\n", pos);
    if (eol == std::string::npos) break;
    size_t n = std::stoul(s.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) break;
    out += s.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  return out;
}

Response parse(const std::string& raw) {
  Response r;
  size_t end = raw.find("\r\n\r\n");
  r.headers = raw.substr(0, end);
  if (raw.size() > 12) r.status = std::atoi(raw.substr(9, 3).c_str());
  r.body = end == std::string::npos ? "" : raw.substr(end + 4);
  if (r.headers.find("Transfer-Encoding: chunked") != std::string::npos) r.body = dechunk(r.body);
  return r;
}

Response get(uint16_t port, const std::string& target) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string raw;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(raw), ec);
  return parse(raw);
}

void writeFile(const std::string& path, const std::string& content, bool append = false) {
  std::ofstream f(path, append ? std::ios::app : std::ios::trunc);
  f << content;
}

class EdgedServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writeFile(dir.file("0.log"),
              "2025-01-01T00:00:01Z stdout F hello\n2025-01-01T00:00:02Z stderr P "
              "wor\n2025-01-01T00:00:03Z stderr F ld\n");
    writeFile(dir.file("prev.log"), "2025-01-01T00:00:00Z stdout F from the previous instance\n");
    EdgedServerCallbacks cb;
    cb.pods = [] {
      return std::string(
          R"({"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"web"}}]})");
    };
    cb.log_location = [this](const std::string& ns, const std::string& pod, const std::string& c,
                             bool previous) -> Result<LogLocation> {
      if (ns != "demo" || pod != "web") return core::notFound("pod \"" + pod + "\" not found");
      if (c != "main") return core::notFound("container \"" + c + "\" not found in pod \"web\"");
      LogLocation l;
      l.path = previous ? dir.file("prev.log") : dir.file("0.log");
      l.running = [this] { return running.load(); };
      return l;
    };
    cb.stream_url = [this](const StreamRequest& r, std::function<void(Result<std::string>)> done) {
      {
        std::lock_guard lock(mu);
        last_stream = r;
      }
      if (r.pod != "web") return done(core::notFound("pod \"" + r.pod + "\" not found"));
      std::thread([done, port = upstream_port] {
        done("http://127.0.0.1:" + std::to_string(port) + "/exec/token123?x=1");
      }).detach();
    };
    EdgedServerOptions o;
    o.port = 0;
    o.follow_poll = 20ms;
    server = makeEdgedServer(ioc, o, cb);
    ASSERT_TRUE(server->start().ok());
    port = server->port();
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ioc.run(); });
  }
  void TearDown() override {
    server->stop();
    waitFor([&] { return server->activeConnectionsForTest() == 0; });
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    server.reset();
  }

  testing::TempDir dir;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      ioc.get_executor()};
  std::vector<std::thread> threads;
  std::unique_ptr<EdgedServer> server;
  uint16_t port = 0;
  std::atomic<bool> running{true};
  std::mutex mu;
  StreamRequest last_stream;
  uint16_t upstream_port = 0;
};

TEST_F(EdgedServerTest, HealthzAndPods) {
  Response r = get(port, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  r = get(port, "/pods");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("application/json"), std::string::npos);
  EXPECT_NE(r.body.find("\"web\""), std::string::npos);
  EXPECT_EQ(get(port, "/nothing").status, 404);
}

// Out of descriptors, accept() fails with EMFILE while the connection waits in the backlog; the
// server pauses between attempts instead of spinning the I/O threads, and serves the connection
// once descriptors are free again.
TEST_F(EdgedServerTest, OutOfDescriptorsTheServerWaitsInsteadOfSpinning) {
  asio::io_context io;
  tcp::socket client(io);
  auto cpuSeconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  // The accept loop's pause is a timer on `ioc`: one wait before the table fills (see
  // util/descriptors.h on UBSan).
  std::promise<void> waited;
  asio::steady_timer warm(ioc, 1ms);
  warm.async_wait([&](const boost::system::error_code&) { waited.set_value(); });
  waited.get_future().wait();
  double cpu_used = 0;
  {
    testing::DescriptorExhaustion full(/*spare=*/1);
    ASSERT_TRUE(full.ok());
    client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));  // the last one
    const double before = cpuSeconds();
    std::this_thread::sleep_for(500ms);
    cpu_used = cpuSeconds() - before;
  }
  // Spinning would burn most of the 0.5 s on each of the two I/O threads.
  EXPECT_LT(cpu_used, 0.15) << "CPU seconds used while out of descriptors";
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(client, asio::buffer(req));
  std::string raw;
  boost::system::error_code ec;
  asio::read(client, asio::dynamic_buffer(raw), ec);
  EXPECT_EQ(parse(raw).status, 200) << raw;
}

TEST_F(EdgedServerTest, ContainerLogs) {
  Response r = get(port, "/containerLogs/demo/web/main");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello\nworld\n");
  EXPECT_EQ(get(port, "//containerLogs/demo/web/main").body, "hello\nworld\n");  // leading //
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?tailLines=1").body, "world\n");
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?timestamps=true").body,
            "2025-01-01T00:00:01Z hello\n2025-01-01T00:00:02Z world\n");
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?limitBytes=3").body, "hel");
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?sinceTime=2025-01-01T00:00:02Z").body,
            "world\n");
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?previous=true").body,
            "from the previous instance\n");
  r = get(port, "/containerLogs/demo/nope/main");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "pod \"nope\" not found");
  r = get(port, "/containerLogs/demo/web/other");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "container \"other\" not found in pod \"web\"");
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?tailLines=-1").status, 400);
  EXPECT_EQ(get(port, "/containerLogs/demo/web/main?sinceSeconds=abc").status, 400);
}

TEST_F(EdgedServerTest, FollowStreamsNewLinesUntilTheContainerStops) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string req = "GET /containerLogs/demo/web/main?follow=true HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string raw;
  auto readUntilHas = [&](const std::string& needle) {
    boost::system::error_code ec;
    while (dechunk(raw.substr(std::min(raw.size(), raw.find("\r\n\r\n") + 4))).find(needle) ==
           std::string::npos) {
      char b[4096];
      size_t n = s.read_some(asio::buffer(b), ec);
      if (ec) return false;
      raw.append(b, n);
    }
    return true;
  };
  ASSERT_TRUE(readUntilHas("hello\nworld\n"));
  // The runtime appends a partial (P) line, itself written in two steps, then its end (F).
  writeFile(dir.file("0.log"), "2025-01-01T00:00:04Z stdout P new ", true);
  writeFile(dir.file("0.log"), "line \n2025-01-01T00:00:05Z stdout F ", true);
  writeFile(dir.file("0.log"), "joined\n", true);
  ASSERT_TRUE(readUntilHas("new line joined\n")) << raw << "\nfile:\n"
                                                 << testing::readFile(dir.file("0.log"));
  writeFile(dir.file("0.log"), "2025-01-01T00:00:06Z stdout F tail\n", true);
  ASSERT_TRUE(readUntilHas("tail\n"));
  EXPECT_NE(raw.find("Transfer-Encoding: chunked"), std::string::npos);
  // The container stops: the stream ends with the last chunk and the server closes.
  running = false;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(raw), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(raw.substr(raw.size() - 5), "0\r\n\r\n");
  EXPECT_EQ(parse(raw).body, "hello\nworld\nnew line joined\ntail\n");
}

TEST_F(EdgedServerTest, FollowEndsWhenTheClientGoesAway) {
  {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string req = "GET /containerLogs/demo/web/main?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(s, asio::buffer(req));
    std::string raw;
    asio::read_until(s, asio::dynamic_buffer(raw), "world");
    ASSERT_EQ(server->activeConnectionsForTest(), 1u);
  }  // client closes
  EXPECT_TRUE(waitFor([&] { return server->activeConnectionsForTest() == 0; }));
}

// A stand-in for containerd's streaming server: accepts one upgrade, answers 101, then echoes
// upper-cased bytes until the client half-closes.
class UpgradeServer {
 public:
  UpgradeServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~UpgradeServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string requestHead() {
    std::lock_guard lock(mu_);
    return head_;
  }

 private:
  void run() {
    boost::system::error_code ec;
    tcp::socket s(io_);
    acceptor_.accept(s, ec);
    if (ec) return;
    std::string buf;
    size_t n = asio::read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", ec);
    if (ec) return;
    {
      std::lock_guard lock(mu_);
      head_ = buf.substr(0, n);
    }
    buf.erase(0, n);
    asio::write(s,
                asio::buffer(std::string("HTTP/1.1 101 Switching Protocols\r\nConnection: "
                                         "Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")),
                ec);
    auto echo = [&](std::string data) {
      for (auto& c : data) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      asio::write(s, asio::buffer(data), ec);
    };
    if (!buf.empty()) echo(buf);
    char b[1024];
    for (;;) {
      size_t m = s.read_some(asio::buffer(b), ec);
      if (ec) break;
      echo(std::string(b, m));
    }
    s.shutdown(tcp::socket::shutdown_send, ec);
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::string head_;
};

TEST_F(EdgedServerTest, ExecIsProxiedByteForByte) {
  UpgradeServer upstream;
  upstream_port = upstream.port();
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string req =
      "POST /exec/demo/web/main?command=sh&command=-c&command=echo%20hi&input=1&output=1&tty=1 "
      "HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
      "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\nearly bytes;";
  asio::write(s, asio::buffer(req));
  std::string raw;
  asio::read_until(s, asio::dynamic_buffer(raw), "\r\n\r\n");
  EXPECT_EQ(raw.substr(0, 12), "HTTP/1.1 101");
  asio::write(s, asio::buffer(std::string("hello")));
  s.shutdown(tcp::socket::shutdown_send);
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(raw), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(raw.substr(raw.find("\r\n\r\n") + 4), "EARLY BYTES;HELLO");
  const std::string head = upstream.requestHead();
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "POST /exec/token123?x=1 HTTP/1.1");
  EXPECT_NE(head.find("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"), std::string::npos);
  EXPECT_NE(head.find("Upgrade: SPDY/3.1\r\n"), std::string::npos);
  std::lock_guard lock(mu);
  EXPECT_EQ(last_stream.kind, StreamRequest::Kind::Exec);
  EXPECT_EQ(last_stream.command, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_TRUE(last_stream.stdin_);
  EXPECT_TRUE(last_stream.tty);
  EXPECT_EQ(last_stream.container, "main");
}

TEST_F(EdgedServerTest, StreamErrorsAndBadInput) {
  EXPECT_EQ(get(port, "/exec/demo/nope/main?command=ls").status, 404);
  EXPECT_EQ(get(port, "/exec/demo/web/main").status, 400);  // no command
  // Garbage does not hurt the server.
  {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(s, asio::buffer(std::string("\x01\x02 not http at all\r\n\r\n")));
    std::string raw;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(raw), ec);
  }
  {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string huge = "GET /healthz HTTP/1.1\r\nX: " + std::string(100000, 'a') + "\r\n\r\n";
    boost::system::error_code ec;
    asio::write(s, asio::buffer(huge), ec);
    std::string raw;
    asio::read(s, asio::dynamic_buffer(raw), ec);
    if (!raw.empty()) {
      EXPECT_EQ(parse(raw).status, 400);
    }
  }
  EXPECT_EQ(get(port, "/healthz").body, "ok");
}

}  // namespace
}  // namespace edgecore::edged
