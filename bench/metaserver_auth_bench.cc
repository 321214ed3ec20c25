// What requireAuthorization costs a MetaServer GET: the same 1000 pods in the real SQLite store,
// served by two MetaServers on 127.0.0.1:0 (two I/O threads each), one without an authorizer
// (gate off) and one with the authorization chain (RS256 ServiceAccount token verified against a
// key, bound to a stored pod and service account, RBAC from a stored Role + RoleBinding), measured
// by keep-alive Beast clients sending the token:
//   GET one pod (one client)       median / p99, no auth vs token+RBAC
//   GET throughput, 8 clients      requests per second, no auth vs token+RBAC
//   check() alone                  the chain's own cost per request, no HTTP
// Run from a RelWithDebInfo or Release build: build/bench/metaserver_auth_bench

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

#include "auth/authorization_chain.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/auth_fixtures.h"
#include "util/sqlite_test_store.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

class Client {
 public:
  Client(uint16_t port, std::string token) : stream_(ioc_), token_(std::move(token)) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.socket().set_option(tcp::no_delay(true));
  }
  void get(const std::string& target) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, "application/json");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    if (res.result_int() != 200) {
      std::fprintf(stderr, "unexpected status %u for %s: %s\n", res.result_int(), target.c_str(),
                   res.body().c_str());
      std::exit(1);
    }
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string token_;
};

struct Stats {
  double median_ms;
  double p99_ms;
};
Stats timeGets(uint16_t port, const std::string& token, const std::vector<std::string>& targets) {
  Client c(port, token);
  for (int i = 0; i < 1000; ++i) c.get(targets[static_cast<size_t>(i) % targets.size()]);
  std::vector<double> ms;
  for (int i = 0; i < 20000; ++i) {
    auto t0 = Clock::now();
    c.get(targets[static_cast<size_t>(i) % targets.size()]);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 99 / 100]};
}

double throughput(uint16_t port, const std::string& token,
                  const std::vector<std::string>& targets) {
  const int kClients = 8;
  std::atomic<uint64_t> done{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      Client cl(port, token);
      while (!go) std::this_thread::yield();
      auto end = Clock::now() + std::chrono::seconds(3);
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
  return static_cast<double>(done.load()) /
         std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main() {
  using namespace edgecore;
  using nlohmann::json;
  testing::SqliteTestStore store;
  std::vector<std::string> pods;
  std::vector<std::string> targets;
  for (int i = 0; i < 1000; ++i) {
    testing::PodSpec p = i == 0 ? testing::boundPod() : testing::PodSpec{};
    if (i != 0) {
      p.name = "pod-" + std::to_string(i);
      p.rv = static_cast<uint64_t>(1000 + i);
    }
    pods.push_back(testing::makePod(p));
    targets.push_back("/api/v1/namespaces/default/pods/" + p.name);
  }
  store.putMany(testing::kPods, pods);
  store.put(testing::kServiceAccounts, testing::makeServiceAccount("default", "app"));
  store.put(testing::kRoles,
            testing::makeRole(
                "default", "pod-reader",
                json::array(
                    {{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get", "list"}}}})));
  store.put(testing::kRoleBindings,
            testing::makeRoleBinding("default", "rb", "Role", "pod-reader",
                                     json::array({testing::saSubject("app")})));
  auto key = testing::makeRsaKey();
  const std::string token = testing::signJwtRs256(testing::saClaims(), key.private_pem);

  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  metaserver::NullCloudForwarder offline;
  core::SystemClock clock;
  metaserver::auth::AuthorizationChainOptions auth_options;
  auth_options.tokens.issuers = {testing::kIssuer};
  auth_options.tokens.keys = *metaserver::auth::parsePublicKeysPem(key.public_pem);
  auto chain =
      std::make_shared<metaserver::auth::AuthorizationChain>(auth_options, *store, clock, nullptr);

  metaserver::MetaServerOptions plain_options;
  plain_options.port = 0;
  metaserver::MetaServerOptions auth_server_options = plain_options;
  auth_server_options.authorizer = chain;
  auto plain = metaserver::createMetaServer(ioc.get_executor(), plain_options, *store, offline,
                                            clock, nullptr);
  auto authed = metaserver::createMetaServer(ioc.get_executor(), auth_server_options, *store,
                                             offline, clock, nullptr);
  if (!plain->start().ok() || !authed->start().ok()) return 1;
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });

  auto none = timeGets(plain->port(), "", targets);
  auto with = timeGets(authed->port(), token, targets);
  std::printf("GET one pod, no auth:        median %.3f ms   p99 %.3f ms\n", none.median_ms,
              none.p99_ms);
  std::printf("GET one pod, token + RBAC:   median %.3f ms   p99 %.3f ms\n", with.median_ms,
              with.p99_ms);
  std::printf("GET throughput, 8 clients, no auth:      %.0f requests/s\n",
              throughput(plain->port(), "", targets));
  std::printf("GET throughput, 8 clients, token + RBAC: %.0f requests/s\n",
              throughput(authed->port(), token, targets));
  // The same token header sent to the server without auth: what the bigger request alone costs.
  std::printf("GET throughput, 8 clients, no auth, token header sent: %.0f requests/s\n",
              throughput(plain->port(), token, targets));

  // The chain alone, no HTTP: a token seen within 10 s (cached authentication + RBAC), and
  // first-seen tokens (signature verify + store binding + RBAC).
  auto perCheck = [&](const std::vector<std::string>& headers, int rounds) {
    metaserver::AuthRequest r;
    r.method = "GET";
    r.target = targets[0];
    auto t0 = Clock::now();
    for (int i = 0; i < rounds; ++i) {
      r.authorization = headers[static_cast<size_t>(i) % headers.size()];
      if (!chain->check(r).allowed) std::exit(1);
    }
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / rounds;
  };
  std::printf("check() alone, token seen before (cached):  %.1f us per request\n",
              perCheck({"Bearer " + token}, 20000));
  std::vector<std::string> fresh;
  for (int i = 0; i < 500; ++i) {
    json claims = testing::saClaims();
    claims["jti"] = "bench-" + std::to_string(i);
    fresh.push_back("Bearer " + testing::signJwtRs256(claims, key.private_pem));
  }
  std::printf("check() alone, first-seen token (RS256-2048 verify): %.1f us per request\n",
              perCheck(fresh, static_cast<int>(fresh.size())));

  plain->stop();
  authed->stop();
  work.reset();
  for (auto& t : io) t.join();
  return 0;
}
