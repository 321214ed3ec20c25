// The servicebus module on a real bus calling a real HTTP service on 127.0.0.1; the replies are
// caught where edgehub would take them (group "hub").

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <future>
#include <vector>

#include "cloudsim/pki.h"
#include "core/test_util.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/bus.h"
#include "edgecore/core/clock.h"
#include "edgecore/core/config.h"
#include "edgecore/core/logging.h"
#include "edgecore/servicebus/module.h"
#include "servicebus/local_http_server.h"
#include "util/descriptors.h"
#include "util/process.h"

namespace edgecore::servicebus {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using namespace std::chrono_literals;
using edgecore::testing::DescriptorExhaustion;
using edgecore::testing::listeningDescriptor;
using edgecore::testing::runUntil;
using testing::LocalHttpServer;

class ServiceBusModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Stands in for edgehub: records what goes to the cloud and answers synchronous requests
    // the way the cloud router does (a response with the target's body as a string).
    ASSERT_TRUE(bus_.subscribe("websocket", "hub", asio::make_strand(ioc_),
                               [this](core::Message m) {
                                 if (m.header.sync) {
                                   (void)bus_.reply(m, m.makeResponse(cloud_answer_));
                                 }
                                 to_cloud_.push_back(std::move(m));
                               })
                    .ok());
    cfg_.modules.service_bus.server = "127.0.0.1";
    cfg_.modules.service_bus.timeout = std::chrono::seconds(5);
    cfg_.database.data_source = dir_.path() + "/edgecore.db";
    start({});
  }
  void TearDown() override {
    if (module_) {
      module_->stop();
    }
    blocking_.join();
  }
  void start(ServiceBusOptions opts) {
    if (module_) {
      module_->stop();
    }
    core::ModuleContext ctx{strand_, bus_, cfg_, loggers_.make("servicebus"), clock_, blocking_};
    ctx.report_failure = [this](core::Status why) { failures_.push_back(std::move(why)); };
    opts.port_override = 0;
    auto m = createServiceBus(ctx, opts);
    ASSERT_TRUE(m.ok());
    module_ = std::move(m).value();
    ASSERT_TRUE(module_->start().ok());
  }
  // Sends a rule request as edgehub delivers it and waits for the one reply.
  core::Message roundTrip(std::string resource, json content) {
    core::Message req =
        core::Message::create("router_servicebus", "user", "POST", resource, std::move(content));
    last_id_ = req.header.id;
    size_t before = to_cloud_.size();
    EXPECT_TRUE(bus_.send("servicebus", std::move(req)).ok());
    EXPECT_TRUE(runUntil(
        ioc_, [&] { return to_cloud_.size() > before; }, 15s));
    return to_cloud_.empty() ? core::Message{} : to_cloud_.back();
  }
  static json content(const core::Message& m) {
    return core::decodeMessage(core::encodeMessage(m))->content;
  }
  static std::string body(const core::Message& m) {
    return core::base64Decode(content(m)["body"].get<std::string>()).value_or("<bad base64>");
  }

  edgecore::testing::TempDir dir_;
  std::string cloud_answer_ = "cloud says hi";
  std::vector<core::Status> failures_;  // what the module reported through report_failure
  // Declared before the io_context: calls still pending there when the test ends hold the
  // module's state, whose strand lives on this pool, so the pool must be destroyed last.
  asio::thread_pool blocking_{1};
  asio::io_context ioc_;
  core::Bus bus_{ioc_};
  core::Strand strand_ = asio::make_strand(ioc_);
  core::SystemClock clock_;
  core::LoggerFactory loggers_{spdlog::level::warn};
  core::EdgeCoreConfig cfg_;
  std::unique_ptr<ServiceBusModule> module_;
  std::vector<core::Message> to_cloud_;
  std::string last_id_;
};

json httpRequest(std::string method, std::string body) {
  return json{{"header", {{"X-From", {"cloud"}}}},
              {"body", core::base64Encode(body)},
              {"method", std::move(method)},
              {"url", ""}};
}

TEST_F(ServiceBusModuleTest, CallsTheLocalServiceAndRepliesWithItsAnswer) {
  LocalHttpServer local;
  core::Message reply =
      roundTrip(std::to_string(local.port()) + ":/api/items", httpRequest("PUT", "hello"));
  auto seen = local.lastRequest();
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/api/items");
  EXPECT_EQ(seen.body, "hello");
  EXPECT_EQ(seen.headers.find("X-From")->second, "cloud");
  EXPECT_EQ(seen.headers.find("Accept")->second, "*/*");

  EXPECT_EQ(reply.header.parent_id, last_id_);
  EXPECT_EQ(reply.route.source, "servicebus");
  EXPECT_EQ(reply.route.group, "user");
  EXPECT_EQ(reply.route.operation, "upload");
  json c = content(reply);
  EXPECT_EQ(c["status_code"], 200);
  EXPECT_EQ(c["header"]["X-Echo-Method"], json::array({"PUT"}));
  EXPECT_EQ(body(reply), "echo:hello");
  EXPECT_EQ(module_->stats().answered, 1u);
}

TEST_F(ServiceBusModuleTest, UnreachableServiceIs404) {
  uint16_t closed_port;
  {
    asio::ip::tcp::acceptor a(ioc_, {asio::ip::address_v4::loopback(), 0});
    closed_port = a.local_endpoint().port();
  }
  core::Message reply = roundTrip(std::to_string(closed_port) + ":/x", httpRequest("GET", ""));
  EXPECT_EQ(reply.header.parent_id, last_id_);
  EXPECT_EQ(reply.route.operation, "");
  EXPECT_EQ(content(reply)["status_code"], 404);
  EXPECT_EQ(content(reply)["header"]["Server"], json::array({"kubeedge-edgecore"}));
  EXPECT_EQ(body(reply), "error to call service");
  EXPECT_EQ(module_->stats().errors, 1u);
}

TEST_F(ServiceBusModuleTest, MalformedContentIs400AndTheModuleKeepsServing) {
  core::Message bad = roundTrip("80:/x", json{{"body", "%%%"}});
  EXPECT_EQ(content(bad)["status_code"], 400);
  EXPECT_EQ(body(bad), "error to parse http request");
  core::Message bad_resource = roundTrip("nocolon", httpRequest("GET", ""));
  EXPECT_EQ(content(bad_resource)["status_code"], 400);
  EXPECT_EQ(body(bad_resource), "the format of resource nocolon is incorrect");

  LocalHttpServer local;
  core::Message good = roundTrip(std::to_string(local.port()) + ":/ok", httpRequest("GET", ""));
  EXPECT_EQ(content(good)["status_code"], 200);
}

TEST_F(ServiceBusModuleTest, OversizedRequestBodyIsRefusedWithoutCalling) {
  LocalHttpServer local;
  core::Message reply = roundTrip(std::to_string(local.port()) + ":/x",
                                  httpRequest("POST", std::string(kMaxBodyBytes + 1, 'a')));
  EXPECT_EQ(content(reply)["status_code"], 400);
  EXPECT_EQ(local.requestCount(), 0u);
}

TEST_F(ServiceBusModuleTest, OversizedResponseBodyIs500) {
  LocalHttpServer local(kMaxBodyBytes + 1);
  core::Message reply = roundTrip(std::to_string(local.port()) + ":/big", httpRequest("GET", ""));
  EXPECT_EQ(content(reply)["status_code"], 500);
  EXPECT_NE(body(reply).find("response body too large"), std::string::npos) << body(reply);
}

TEST_F(ServiceBusModuleTest, ResponseBodyAtTheBoundIsKept) {
  LocalHttpServer local(kMaxBodyBytes);
  core::Message reply = roundTrip(std::to_string(local.port()) + ":/big", httpRequest("GET", ""));
  EXPECT_EQ(content(reply)["status_code"], 200);
  EXPECT_EQ(body(reply).size(), kMaxBodyBytes);
}

TEST_F(ServiceBusModuleTest, SilentServiceTimesOutAs404) {
  ServiceBusOptions quick;
  quick.call_timeout = std::chrono::milliseconds(300);
  start(quick);
  LocalHttpServer local;
  auto t0 = std::chrono::steady_clock::now();
  core::Message reply = roundTrip(std::to_string(local.port()) + ":/hang", httpRequest("GET", ""));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(content(reply)["status_code"], 404);
  EXPECT_EQ(body(reply), "error to call service");
}

TEST_F(ServiceBusModuleTest, CallsOverTheInFlightBoundAreRefusedAtOnce) {
  ServiceBusOptions slow;
  slow.call_timeout = 3s;
  start(slow);
  LocalHttpServer local;
  const std::string resource = std::to_string(local.port()) + ":/hang";
  for (size_t i = 0; i < kMaxCallsInFlight; ++i) {
    ASSERT_TRUE(bus_.send("servicebus", core::Message::create("router_servicebus", "user", "GET",
                                                              resource, httpRequest("GET", "")))
                    .ok());
  }
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return local.requestCount() == kMaxCallsInFlight; }, 10s));
  core::Message refused = roundTrip(resource, httpRequest("GET", ""));
  EXPECT_EQ(content(refused)["status_code"], 500);
  EXPECT_EQ(body(refused), "error to call service: too many calls in flight");
  EXPECT_EQ(local.requestCount(), kMaxCallsInFlight);
  // The held calls end with their timeout, each with its own 404 reply.
  EXPECT_TRUE(runUntil(
      ioc_, [&] { return to_cloud_.size() == kMaxCallsInFlight + 1; }, 10s));
}

TEST_F(ServiceBusModuleTest, OtherSourcesAreIgnored) {
  ASSERT_TRUE(
      bus_.send("servicebus", core::Message::create("edged", "user", "GET", "80:/x", nullptr))
          .ok());
  ASSERT_TRUE(
      bus_.send("servicebus", core::Message::create("edged", "user", "start", "svc/url", nullptr))
          .ok());
  EXPECT_TRUE(runUntil(
      ioc_, [&] { return module_->stats().ignored == 2; }, 5s));
  EXPECT_TRUE(to_cloud_.empty());
  EXPECT_EQ(module_->stats().target_urls, 0u);
}

// ---- local app -> servicebus -> cloud (docs/node-tasks.md 7.4)

class ServiceBusServerTest : public ServiceBusModuleTest {
 protected:
  void rule(const std::string& op, const std::string& url) {
    ASSERT_TRUE(bus_.send("servicebus",
                          core::Message::create("router_servicebus", "user", op, url, nullptr))
                    .ok());
  }
  uint16_t waitForServer(bool running) {
    EXPECT_TRUE(runUntil(
        ioc_, [&] { return (module_->serverPortForTest() != 0) == running; }, 5s));
    return module_->serverPortForTest();
  }
  // A local app's request, made from another thread while this one runs the io_context.
  json post(uint16_t port, std::string body) {
    auto answer = std::async(std::launch::async, [port, body] {
      asio::io_context io;
      beast::tcp_stream s(io);
      s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
      http::request<http::string_body> req{http::verb::post, "/anything", 11};
      req.set(http::field::host, "127.0.0.1");
      req.body() = body;
      req.prepare_payload();
      boost::system::error_code ec;
      http::write(s, req, ec);  // an oversized body may be cut short by the answer
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(s, buf, res, ec);
      return std::make_pair(res.result_int(), res.body());
    });
    EXPECT_TRUE(runUntil(
        ioc_, [&] { return answer.wait_for(0s) == std::future_status::ready; }, 15s));
    auto [status, text] = answer.get();
    EXPECT_EQ(status, 200u) << text;  // always 200, the outcome is in "code"
    json j = json::parse(text, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "answer: " << text;
    return j.is_object() ? j : json::object();
  }
};

TEST_F(ServiceBusServerTest, RuleUrlStartsTheServerAndAllowedRequestsReachTheCloud) {
  EXPECT_EQ(module_->serverPortForTest(), 0);  // no rule yet: no server
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  ASSERT_NE(port, 0);
  const std::string body = R"({"method":"POST","targetURL":"ruleurl/a","payload":{"k":"v"}})";
  json answer = post(port, body);
  EXPECT_EQ(answer, json({{"code", 200},
                          {"msg", "receive response from cloud successfully"},
                          {"body", "cloud says hi"}}));
  const core::Message& up = to_cloud_.back();
  EXPECT_EQ(up.route.source, "servicebus");
  EXPECT_EQ(up.route.group, "user");
  EXPECT_EQ(up.route.operation, "upload");
  EXPECT_EQ(up.route.resource, "ruleurl/a");
  // The raw bytes as a Go []byte: a base64 string on the wire.
  EXPECT_EQ(core::base64Decode(up.content.get<std::string>()).value(), body);
}

// Out of descriptors, accept() fails with EMFILE while a connection waits in the backlog: the
// server pauses between attempts instead of spinning, then serves again once descriptors free up.
TEST_F(ServiceBusServerTest, OutOfDescriptorsTheServerWaitsInsteadOfSpinning) {
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  ASSERT_NE(port, 0);
  asio::io_context io;
  asio::ip::tcp::socket waiting(io);
  waiting.open(asio::ip::tcp::v4());  // its descriptor exists before the table fills up
  auto cpuSeconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  // The accept loop's pause is a timer on ioc_: one wait before the table fills (see
  // util/descriptors.h on UBSan).
  bool waited = false;
  asio::steady_timer warm(ioc_, 1ms);
  warm.async_wait([&](const boost::system::error_code&) { waited = true; });
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return waited; }, 5s));
  double cpu_used = 0;
  {
    DescriptorExhaustion full(/*spare=*/0);
    ASSERT_TRUE(full.ok());
    waiting.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    const double before = cpuSeconds();
    runUntil(
        ioc_, [] { return false; }, 500ms);  // the server's accept loop runs here
    cpu_used = cpuSeconds() - before;
  }
  EXPECT_LT(cpu_used, 0.15) << "CPU seconds used while out of descriptors";
  waiting.close();
  json answer = post(port, R"({"method":"POST","targetURL":"ruleurl/a","payload":{}})");
  EXPECT_EQ(answer["code"], 200) << answer.dump();
}

// A listening socket that fails for good (shut down under the server: accept() answers EINVAL)
// is the module's failure, reported once through report_failure for moduleRestart.
TEST_F(ServiceBusServerTest, AListenerThatFailsForGoodIsReportedAsTheModulesFailure) {
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  int fd = listeningDescriptor(port);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::shutdown(fd, SHUT_RDWR), 0);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return !failures_.empty(); }, 5s));
  runUntil(
      ioc_, [] { return false; }, 200ms);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_NE(failures_[0].message().find("servicebus server listener failed"), std::string::npos)
      << failures_[0].toString();
}

TEST_F(ServiceBusServerTest, RefusesUnknownUrlsAndBadBodies) {
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  json answer = post(port, R"({"targetURL":"other"})");
  EXPECT_EQ(answer["code"], 400);
  EXPECT_EQ(answer["msg"],
            "url other is not allowed and please make a rule for this url in the cloud");
  answer = post(port, "not json");
  EXPECT_EQ(answer["code"], 400);
  EXPECT_EQ(answer["msg"], "invalid params");
  answer = post(port, R"({"targetURL":5})");
  EXPECT_EQ(answer["msg"], "invalid params");
  answer = post(port, std::string(kMaxBodyBytes + 1, ' '));
  EXPECT_EQ(answer["code"], 400);
  EXPECT_EQ(answer["msg"], "can't read data from body of the http's request");
  EXPECT_EQ(to_cloud_.size(), 0u);  // nothing of it went to the cloud
}

TEST_F(ServiceBusServerTest, LastStopClosesTheServerAndTheTableSurvivesARestart) {
  rule("start", "ruleurl/a");
  rule("start", "ruleurl/b");
  waitForServer(true);
  rule("stop", "ruleurl/a");
  EXPECT_TRUE(runUntil(
      ioc_, [&] { return module_->stats().target_urls == 1; }, 5s));
  EXPECT_NE(module_->serverPortForTest(), 0);  // b still has a rule
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return module_->stats().table_writes == 3; }, 5s));

  start({});  // a new module on the same database: b is loaded, the server starts
  uint16_t port = waitForServer(true);
  EXPECT_EQ(module_->stats().target_urls, 1u);
  EXPECT_EQ(post(port, R"({"targetURL":"ruleurl/b"})")["code"], 200);

  rule("stop", "ruleurl/b");
  waitForServer(false);
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return module_->stats().table_writes == 1; }, 5s));
  start({});
  EXPECT_FALSE(runUntil(
      ioc_, [&] { return module_->serverPortForTest() != 0; }, 300ms));
}

// ---- KubeEdge master's TLS keys

// A TLS client: the answer's JSON, or null when the handshake or the exchange failed.
json postTls(uint16_t port, const std::string& ca_pem, const std::string& body) {
  try {
    asio::io_context io;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.add_certificate_authority(asio::buffer(ca_pem));
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> s(io, ctx);
    beast::get_lowest_layer(s).expires_after(10s);
    beast::get_lowest_layer(s).connect(
        asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    s.handshake(asio::ssl::stream_base::client);
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = body;
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return json::parse(res.body(), nullptr, false);
  } catch (const std::exception&) {
    return nullptr;
  }
}

class ServiceBusTlsTest : public ServiceBusServerTest {
 protected:
  void useTls(const std::string& cert_pem, const std::string& key_pem) {
    dir_.write("sb.crt", cert_pem);
    dir_.write("sb.key", key_pem);
    cfg_.modules.service_bus.tls_cert_file = dir_.file("sb.crt");
    cfg_.modules.service_bus.tls_private_key_file = dir_.file("sb.key");
  }
  json postTlsRunning(uint16_t port, const std::string& ca, const std::string& body) {
    auto answer = std::async(std::launch::async, [&] { return postTls(port, ca, body); });
    EXPECT_TRUE(runUntil(
        ioc_, [&] { return answer.wait_for(0s) == std::future_status::ready; }, 15s));
    return answer.get();
  }
};

TEST_F(ServiceBusTlsTest, ServesHttpsOnlyWithAServerCertificate) {
  auto pki = cloudsim::generatePki("127.0.0.1");  // server.crt has serverAuth and 127.0.0.1
  ASSERT_TRUE(pki.ok());
  useTls(pki->server_cert_pem, pki->server_key_pem);
  start({});
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  ASSERT_NE(port, 0);
  json answer = postTlsRunning(port, pki->ca_cert_pem, R"({"targetURL":"ruleurl/a"})");
  EXPECT_EQ(answer["code"], 200) << answer.dump();
  EXPECT_EQ(answer["body"], "cloud says hi");
  // Plain HTTP gets no answer from the TLS server.
  auto plain = std::async(std::launch::async, [port] {
    try {
      asio::io_context io;
      beast::tcp_stream s(io);
      s.expires_after(5s);
      s.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
      http::request<http::string_body> req{http::verb::post, "/", 11};
      req.body() = R"({"targetURL":"ruleurl/a"})";
      req.prepare_payload();
      http::write(s, req);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(s, buf, res);
      return std::string("answered: ") + res.body();
    } catch (const std::exception&) {
      return std::string("refused");
    }
  });
  EXPECT_TRUE(runUntil(
      ioc_, [&] { return plain.wait_for(0s) == std::future_status::ready; }, 15s));
  EXPECT_EQ(plain.get(), "refused");
}

TEST_F(ServiceBusTlsTest, RenewedCertificateIsUsedWithoutRestart) {
  auto first = cloudsim::generatePki("127.0.0.1");
  auto second = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(first.ok() && second.ok());
  useTls(first->server_cert_pem, first->server_key_pem);
  start({});
  rule("start", "ruleurl/a");
  uint16_t port = waitForServer(true);
  EXPECT_EQ(postTlsRunning(port, first->ca_cert_pem, R"({"targetURL":"ruleurl/a"})")["code"], 200);
  useTls(second->server_cert_pem, second->server_key_pem);  // same paths, new pair
  EXPECT_EQ(postTlsRunning(port, second->ca_cert_pem, R"({"targetURL":"ruleurl/a"})")["code"], 200);
  EXPECT_TRUE(postTlsRunning(port, first->ca_cert_pem, "{}").is_null());
}

TEST_F(ServiceBusTlsTest, IncompleteOrClientOnlyPairKeepsTheServerDown) {
  auto pki = cloudsim::generatePki("127.0.0.1");
  ASSERT_TRUE(pki.ok());
  useTls(pki->server_cert_pem, pki->server_key_pem);
  cfg_.modules.service_bus.tls_private_key_file = "";  // a certificate without its key
  start({});
  rule("start", "ruleurl/a");
  EXPECT_FALSE(runUntil(
      ioc_, [&] { return module_->serverPortForTest() != 0; }, 300ms));

  // A client certificate (clientAuth only, as edgehub's) is refused too.
  auto csr = cloudsim::makeCsrForTest({"system:node:edge", {"system:nodes"}});
  ASSERT_TRUE(csr.ok());
  auto der = cloudsim::signCsr(*pki, csr->csr_der, {2}, std::chrono::hours(1));
  ASSERT_TRUE(der.ok());
  useTls(cloudsim::certDerToPem(*der), csr->key_pem);
  start({});
  rule("start", "ruleurl/a");
  EXPECT_FALSE(runUntil(
      ioc_, [&] { return module_->serverPortForTest() != 0; }, 300ms));
}

}  // namespace
}  // namespace edgecore::servicebus
