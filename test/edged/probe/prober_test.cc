#include "probe/prober.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <mutex>

#include "core/test_util.h"

namespace edgecore::edged {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A real HTTP listener on 127.0.0.1:0 answering per path: status code, or -1 = never answer.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(asio::io_context& ioc)
      : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  void setStatus(const std::string& path, int code) { status_[path] = code; }
  int hits(const std::string& path) { return hits_[path]; }
  std::string lastRequest() const { return last_; }
  int connections() const { return connections_; }
  void close() { acceptor_.close(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++connections_;
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      auto buf = std::make_shared<asio::streambuf>();
      asio::async_read_until(
          *sock, *buf, "\r\n\r\n", [this, sock, buf](boost::system::error_code ec2, size_t n) {
            if (ec2) return;
            std::string req(asio::buffers_begin(buf->data()), asio::buffers_begin(buf->data()) + n);
            last_ = req;
            std::string path = req.substr(4, req.find(' ', 4) - 4);
            ++hits_[path];
            int code = status_.count(path) ? status_[path] : 404;
            if (code < 0) {
              held_.push_back(sock);
              return;
            }
            auto resp = std::make_shared<std::string>(
                "HTTP/1.1 " + std::to_string(code) +
                " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            asio::async_write(*sock, asio::buffer(*resp),
                              [sock, resp](boost::system::error_code, size_t) {});
          });
      accept();
    });
  }
  tcp::acceptor acceptor_;
  std::map<std::string, int> status_;
  std::map<std::string, int> hits_;
  std::vector<std::shared_ptr<tcp::socket>> held_;
  std::string last_;
  int connections_ = 0;
};

class ProberTest : public ::testing::Test {
 protected:
  ProbeOutcome runAction(const Action& a, std::chrono::milliseconds timeout = 1s,
                         ExecProbeFn exec = nullptr) {
    std::optional<ProbeOutcome> out;
    runProbeAction(strand, a, "127.0.0.1", timeout, exec, [&](ProbeOutcome o) { out = o; });
    EXPECT_TRUE(testing::runUntil(
        ioc, [&] { return out.has_value(); }, 5s));
    return out.value_or(ProbeOutcome{});
  }
  Action http(const std::string& path) {
    Action a;
    a.kind = Action::Kind::HttpGet;
    a.port = server.port();
    a.path = path;
    return a;
  }

  asio::io_context ioc;
  asio::any_io_executor strand = asio::make_strand(ioc);
  TinyHttpServer server{ioc};
};

TEST_F(ProberTest, HttpGetStatusCodes) {
  server.setStatus("/ok", 200);
  server.setStatus("/redirect", 302);
  server.setStatus("/fail", 500);
  server.setStatus("/hang", -1);
  Action a = http("/ok");
  a.http_headers = {{"X-Custom", "1"}, {"X-Tabbed", "a\tb"}};
  EXPECT_EQ(runAction(a).result, ProbeResult::Success);
  EXPECT_NE(server.lastRequest().find("User-Agent: kube-probe/1.30\r\n"), std::string::npos);
  EXPECT_NE(server.lastRequest().find("X-Custom: 1\r\n"), std::string::npos);
  EXPECT_NE(server.lastRequest().find("X-Tabbed: a\tb\r\n"), std::string::npos);
  EXPECT_EQ(runAction(http("/redirect")).result, ProbeResult::Success);
  ProbeOutcome f = runAction(http("/fail"));
  EXPECT_EQ(f.result, ProbeResult::Failure);
  EXPECT_EQ(f.output, "HTTP probe failed with statuscode: 500");
  auto t0 = std::chrono::steady_clock::now();
  ProbeOutcome h = runAction(http("/hang"), 200ms);
  EXPECT_EQ(h.result, ProbeResult::Failure);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 190ms);
  a = http("/ok");
  a.scheme = "HTTPS";
  EXPECT_EQ(runAction(a).result, ProbeResult::Failure);
}

// Header injection through the pod spec (issue #17 item 4): a CR/LF or another control byte in
// the path, host, scheme or a header never reaches the server; the probe fails and says why.
TEST_F(ProberTest, HttpGetControlBytesNeverReachTheServer) {
  server.setStatus("/x", 200);
  ASSERT_EQ(runAction(http("/x")).result, ProbeResult::Success);  // the server does answer
  const int before = server.connections();
  struct Case {
    Action action;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({http("/x\r\nX-Evil: 1"), "invalid httpGet path"});
  cases.push_back({http(std::string("/x\0y", 4)), "invalid httpGet path"});
  cases.push_back({http("/x\x7f"), "invalid httpGet path"});
  Action header_value = http("/x");
  header_value.http_headers = {{"X-Ok", "1\r\nX-Evil: 1"}};
  cases.push_back({header_value, "invalid httpGet header value for \"X-Ok\""});
  Action header_name = http("/x");
  header_name.http_headers = {{"X-Evil: 1\r\nX-Ok", "1"}};
  cases.push_back({header_name, "invalid httpGet header name"});
  Action host = http("/x");
  host.host = "127.0.0.1\r\nX-Evil: 1";
  cases.push_back({host, "invalid httpGet host"});
  Action scheme = http("/x");
  scheme.scheme = "HTTP\n";
  cases.push_back({scheme, "invalid httpGet scheme"});
  for (const auto& c : cases) {
    ProbeOutcome out = runAction(c.action);
    EXPECT_EQ(out.result, ProbeResult::Failure) << c.message;
    EXPECT_NE(out.output.find(c.message), std::string::npos) << out.output;
    EXPECT_NE(out.output.find("not allowed"), std::string::npos) << out.output;
  }
  // Let anything that was sent arrive before counting.
  testing::runUntil(
      ioc, [] { return false; }, 200ms);
  EXPECT_EQ(server.connections(), before);
  EXPECT_EQ(server.lastRequest().find("X-Evil"), std::string::npos);
}

TEST_F(ProberTest, TcpSocket) {
  Action a;
  a.kind = Action::Kind::TcpSocket;
  a.port = server.port();
  EXPECT_EQ(runAction(a).result, ProbeResult::Success);
  server.close();
  EXPECT_EQ(runAction(a).result, ProbeResult::Failure);
}

TEST_F(ProberTest, ExecThroughTheCallback) {
  std::vector<std::string> seen;
  ExecProbeFn exec = [&](const std::vector<std::string>& cmd, std::chrono::seconds,
                         std::function<void(ProbeOutcome)> done) {
    seen = cmd;
    if (cmd.back() == "never") return;  // the runtime never answers: the timeout decides
    // Answer from another thread, as a CRI call on the blocking pool would.
    std::thread([done, ok = cmd.back() == "ok"] {
      done(ProbeOutcome{ok ? ProbeResult::Success : ProbeResult::Failure, "out"});
    }).detach();
  };
  Action a;
  a.kind = Action::Kind::Exec;
  a.command = {"check", "ok"};
  EXPECT_EQ(runAction(a, 1s, exec).result, ProbeResult::Success);
  EXPECT_EQ(seen, a.command);
  a.command = {"check", "bad"};
  EXPECT_EQ(runAction(a, 1s, exec).result, ProbeResult::Failure);
  a.command = {"check", "never"};
  ProbeOutcome t = runAction(a, 100ms, exec);
  EXPECT_EQ(t.result, ProbeResult::Failure);
  EXPECT_EQ(t.output, "command timed out");
}

ProbeSpec spec(const Action& a, int period, int success, int failure, int delay = 0) {
  ProbeSpec s;
  s.action = a;
  s.period_seconds = period;
  s.success_threshold = success;
  s.failure_threshold = failure;
  s.initial_delay_seconds = delay;
  s.timeout_seconds = 50;  // 1 s with second = 20 ms: a loaded machine must not time out
  return s;
}

TEST_F(ProberTest, ReadinessFollowsThresholds) {
  server.setStatus("/ready", 500);
  std::vector<std::pair<ProbeType, ProbeResult>> events;
  ContainerProber::Options o;
  o.readiness = spec(http("/ready"), 1, 2, 2);
  o.second = 20ms;
  o.on_result = [&](ProbeType t, ProbeResult r, const std::string&) { events.emplace_back(t, r); };
  auto p = ContainerProber::create(strand, o);
  p->start();
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return server.hits("/ready") >= 3; }));
  EXPECT_FALSE(p->ready());  // initial Failure, still failing: no change reported
  EXPECT_TRUE(events.empty());
  server.setStatus("/ready", 200);
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return p->ready(); }));
  const int hits_at_ready = server.hits("/ready");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], std::make_pair(ProbeType::Readiness, ProbeResult::Success));
  server.setStatus("/ready", 503);
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return !p->ready(); }));
  EXPECT_GE(server.hits("/ready") - hits_at_ready, 2);  // failureThreshold 2
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], std::make_pair(ProbeType::Readiness, ProbeResult::Failure));
  p->stop();
  const int hits = server.hits("/ready");
  testing::runUntil(
      ioc, [] { return false; }, 150ms);
  EXPECT_LE(server.hits("/ready"), hits + 1);  // at most one in flight when stopped
}

TEST_F(ProberTest, LivenessFailureReportedOnceThenHolds) {
  server.setStatus("/live", 200);
  std::vector<std::pair<ProbeType, ProbeResult>> events;
  ContainerProber::Options o;
  o.liveness = spec(http("/live"), 1, 1, 3);
  o.second = 20ms;
  o.on_result = [&](ProbeType t, ProbeResult r, const std::string&) { events.emplace_back(t, r); };
  auto p = ContainerProber::create(strand, o);
  p->start();
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return server.hits("/live") >= 2; }));
  EXPECT_TRUE(events.empty());  // initial Success stays Success
  server.setStatus("/live", 500);
  const int before = server.hits("/live");
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return !events.empty(); }));
  EXPECT_EQ(events[0], std::make_pair(ProbeType::Liveness, ProbeResult::Failure));
  EXPECT_EQ(server.hits("/live") - before, 3);  // failureThreshold consecutive failures
  const int held = server.hits("/live");
  testing::runUntil(
      ioc, [] { return false; }, 200ms);
  EXPECT_EQ(server.hits("/live"), held);  // on hold until the container restarts
  EXPECT_EQ(events.size(), 1u);
  p->stop();
}

TEST_F(ProberTest, StartupGatesLivenessAndReadinessAndInitialDelay) {
  server.setStatus("/startup", 500);
  server.setStatus("/live", 200);
  server.setStatus("/ready", 200);
  ContainerProber::Options o;
  o.startup = spec(http("/startup"), 1, 1, 1000);
  o.liveness = spec(http("/live"), 1, 1, 3);
  o.readiness = spec(http("/ready"), 1, 1, 3, /*delay=*/10);
  o.second = 20ms;
  std::vector<std::pair<ProbeType, ProbeResult>> events;
  o.on_result = [&](ProbeType t, ProbeResult r, const std::string&) { events.emplace_back(t, r); };
  auto p = ContainerProber::create(strand, o);
  p->start();
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return server.hits("/startup") >= 4; }));
  EXPECT_EQ(server.hits("/live"), 0);
  EXPECT_EQ(server.hits("/ready"), 0);
  EXPECT_FALSE(p->started());
  EXPECT_FALSE(p->ready());
  server.setStatus("/startup", 200);
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return p->started(); }));
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return server.hits("/live") >= 1; }));
  ASSERT_TRUE(testing::runUntil(ioc, [&] { return p->ready(); }));
  EXPECT_EQ(events.front(), std::make_pair(ProbeType::Startup, ProbeResult::Success));
  EXPECT_EQ(events.back(), std::make_pair(ProbeType::Readiness, ProbeResult::Success));
  p->stop();
  testing::runUntil(
      ioc, [] { return false; }, 50ms);
}

}  // namespace
}  // namespace edgecore::edged
