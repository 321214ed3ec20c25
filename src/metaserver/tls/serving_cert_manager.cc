#include "tls/serving_cert_manager.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "edgecore/core/async/spawn.h"
#include "edgecore/core/base64.h"
#include "edgecore/core/file.h"
#include "tls/private_files.h"
#include "tls/x509_util.h"

// g++ 12 reports asio's awaitable frame operator delete as mismatched when a coroutine frame is
// inlined into its caller (a false positive, GCC bug 109224), as in metamanager.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace edgecore::metaserver::tls {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::system_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// KubeEdge routes these as edged's messages (metamanager/client); the cloud answers by parent id.
constexpr const char* kSource = "edged";
constexpr const char* kGroup = "meta";

std::string randomName() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // apimachinery's generateName
  std::string s = "csr-";
  for (int i = 0; i < 5; ++i) s += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return s;
}

// The error text of a cloud answer that is not what we asked for, or "" if it is fine.
std::string errorOf(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_object() && content.contains("ErrStatus")) {
    return content["ErrStatus"].value("message", std::string("error from the cloud"));
  }
  return {};
}

// A CSR from a query answer: the object from the cloud, or the cached rows ["<json>"] metamanager
// answers with while offline (client.handleCertificateSigningRequestFromMetaDB).
core::Result<json> csrFromAnswer(const json& content) {
  if (auto err = errorOf(content); !err.empty()) return core::unavailable(err);
  if (content.is_array()) {
    if (content.size() != 1 || !content[0].is_string()) {
      return core::notFound("certificate signing request not in the local store");
    }
    json parsed = json::parse(content[0].get<std::string>(), nullptr, false);
    if (parsed.is_discarded()) return core::internalError("stored CSR does not parse");
    return parsed;
  }
  if (!content.is_object()) return core::internalError("CSR answer is not an object");
  return content;
}

}  // namespace

json makeCsrObject(const std::string& name, const std::string& csr_pem) {
  return json{{"kind", "CertificateSigningRequest"},
              {"apiVersion", "certificates.k8s.io/v1"},
              {"metadata", {{"name", name}, {"creationTimestamp", nullptr}}},
              {"spec",
               {{"request", core::base64Encode(csr_pem)},
                {"signerName", "kubernetes.io/kubelet-serving"},
                {"usages", {"digital signature", "key encipherment", "server auth"}}}},
              {"status", json::object()}};
}

ServingCertManager::ServingCertManager(asio::any_io_executor strand, CloudCall call,
                                       ServingCertOptions options,
                                       std::shared_ptr<spdlog::logger> log)
    : strand_(std::move(strand)),
      call_(std::move(call)),
      options_(std::move(options)),
      log_(std::move(log)),
      timer_(strand_) {}

core::Status ServingCertManager::loadStored() {
  EC_RETURN_IF_ERROR(ensurePrivateDir(options_.dir));
  auto ca = readPrivateFile(options_.dir + "/" + kCaFile);
  if (ca.ok()) {
    std::lock_guard lock(mu_);
    ca_pem_ = std::move(*ca);
  }
  auto pair = readPrivateFile(options_.dir + "/" + kCurrentPairFile);
  if (!pair.ok()) return {};
  // One file, certificate block(s) then the key block, as client-go's FileStore keeps it.
  const std::string& text = *pair;
  auto key_at = text.find("-----BEGIN EC PRIVATE KEY-----");
  if (key_at == std::string::npos) key_at = text.find("-----BEGIN PRIVATE KEY-----");
  if (key_at == std::string::npos) {
    log_->warn("stored serving certificate has no key, requesting a new one file={}/{}",
               options_.dir, kCurrentPairFile);
    return {};
  }
  std::string cert = text.substr(0, key_at);
  std::string key = text.substr(key_at);
  core::Status st = checkPair(cert, key, caPem());
  if (!st.ok()) {
    log_->info("stored serving certificate not reused, requesting a new one reason=\"{}\"",
               st.message());
    return {};
  }
  install(std::move(cert), std::move(key));
  log_->info(
      "serving certificate loaded dir={} renew_in_s={}", options_.dir,
      std::chrono::duration_cast<std::chrono::seconds>(renewAt() - system_clock::now()).count());
  return {};
}

core::Status ServingCertManager::checkPair(const std::string& cert_pem, const std::string& key_pem,
                                           const std::string& ca_pem) const {
  auto facts = certificateFacts(cert_pem);
  if (!facts.ok()) return facts.status();
  if (facts->not_after <= system_clock::now()) return core::failedPrecondition("expired");
  if (!keyMatchesCertificate(cert_pem, key_pem)) {
    return core::failedPrecondition("the key does not match the certificate");
  }
  for (const auto& ip : options_.ips) {
    if (std::find(facts->ip_sans.begin(), facts->ip_sans.end(), ip) == facts->ip_sans.end()) {
      return core::failedPrecondition("the certificate does not name " + ip);
    }
  }
  if (!ca_pem.empty() && !verifiesAgainst(cert_pem, ca_pem)) {
    return core::failedPrecondition("the certificate does not chain to " + options_.dir + "/" +
                                    kCaFile);
  }
  return {};
}

void ServingCertManager::install(std::string cert_pem, std::string key_pem) {
  auto facts = certificateFacts(cert_pem);
  auto pair = std::make_shared<ServingCertificate>();
  pair->cert_chain_pem = std::move(cert_pem);
  pair->key_pem = std::move(key_pem);
  if (!options_.client_ca_file.empty()) {
    auto ca = core::readFile(options_.client_ca_file);  // may be a symlink; it is public
    if (ca.ok()) {
      pair->client_ca_pem = std::move(*ca);
    } else {
      log_->warn(
          "metaserver client CA unreadable, client certificates are not asked for file={} err={}",
          options_.client_ca_file, ca.status().message());
    }
  }
  system_clock::time_point renew = system_clock::time_point::max();
  if (facts.ok()) {
    // client-go certificate_manager.go nextRotationDeadline: 70-90 % of the lifetime.
    static thread_local std::mt19937_64 rng(std::random_device{}());
    double share = std::uniform_real_distribution<double>(0.7, 0.9)(rng);
    auto total = facts->not_after - facts->not_before;
    renew = facts->not_before + std::chrono::duration_cast<system_clock::duration>(total * share);
  }
  std::lock_guard lock(mu_);
  current_ = std::move(pair);
  renew_at_ = renew;
}

void ServingCertManager::start() {
  core::spawnLogged(strand_, run(shared_from_this()), log_, "metaserver serving certificate");
}

void ServingCertManager::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->timer_.cancel();
  });
}

ServingCertificateSharedPtr ServingCertManager::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string ServingCertManager::caPem() const {
  std::lock_guard lock(mu_);
  return ca_pem_;
}

system_clock::time_point ServingCertManager::renewAt() const {
  std::lock_guard lock(mu_);
  return renew_at_;
}

asio::awaitable<void> ServingCertManager::sleep(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  co_await timer_.async_wait(kTuple);
}

asio::awaitable<void> ServingCertManager::run(std::shared_ptr<ServingCertManager> self) {
  std::chrono::milliseconds backoff{1000};
  std::mt19937_64 rng(std::random_device{}());
  auto fail = [&](const core::Status& st, const char* what) -> std::chrono::milliseconds {
    auto wait = backoff + std::chrono::milliseconds(rng() % (backoff.count() / 2 + 1));
    log_->warn("{} failed retry_ms={} err=\"{}\"", what, wait.count(), st.message());
    backoff = std::min(backoff * 2, options_.max_backoff);
    return wait;
  };
  while (!stopped_) {
    if (caPem().empty()) {
      core::Status st = co_await fetchCa();
      if (!st.ok()) {
        co_await sleep(fail(st, "metaserver CA query"));
        continue;
      }
    }
    auto renew = renewAt();
    if (current() && system_clock::now() < renew) {
      auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(renew - system_clock::now());
      co_await sleep(std::min(wait, std::chrono::milliseconds(std::chrono::hours(24))));
      continue;
    }
    core::Status st = co_await requestCertificate();
    if (!st.ok()) {
      co_await sleep(fail(st, "metaserver serving certificate request"));
      continue;
    }
    backoff = std::chrono::milliseconds(1000);
  }
  (void)self;
}

asio::awaitable<core::Status> ServingCertManager::fetchCa() {
  core::Message msg = core::Message::create("metamanager", kGroup, "query", "k8s/ca.crt");
  auto answer = co_await call_(std::move(msg));
  if (!answer.ok()) co_return answer.status();
  const json& content = answer->content;
  std::string pem;
  if (content.is_string()) pem = content.get<std::string>();
  // Offline, metamanager answers from its cache: the rows as a list of strings.
  if (content.is_array() && content.size() == 1 && content[0].is_string()) {
    pem = content[0].get<std::string>();
    json maybe_quoted = json::parse(pem, nullptr, false);
    if (maybe_quoted.is_string()) pem = maybe_quoted.get<std::string>();
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    co_return core::unavailable("no cluster CA in the answer to k8s/ca.crt" +
                                (pem.empty() ? std::string() : ": " + pem.substr(0, 200)));
  }
  if (core::Status st = writePrivateFile(options_.dir, kCaFile, pem); !st.ok()) co_return st;
  {
    std::lock_guard lock(mu_);
    ca_pem_ = pem;
  }
  log_->info("metaserver CA stored file={}/{}", options_.dir, kCaFile);
  co_return core::Status{};
}

asio::awaitable<core::Status> ServingCertManager::requestCertificate() {
  auto key = generateEcKeyPem();
  if (!key.ok()) co_return key.status();
  auto csr = makeCsrPem(*key, "system:node:" + options_.node_name, {"system:nodes"}, options_.ips);
  if (!csr.ok()) co_return csr.status();
  std::string name = randomName();
  core::Message create =
      core::Message::create(kSource, kGroup, "insert", "default/certificatesigningrequest/" + name,
                            makeCsrObject(name, *csr));
  auto created = co_await call_(std::move(create));
  if (!created.ok()) co_return created.status();
  const json& resp = created->content;
  if (auto err = errorOf(resp); !err.empty()) {
    co_return core::unavailable("creating the CSR: " + err);
  }
  if (!resp.is_object() || !resp.contains("Object")) {
    co_return core::internalError("creating the CSR: the answer is not an ObjectResp");
  }
  if (resp.contains("Err") && resp["Err"].is_object() && resp["Err"].contains("ErrStatus")) {
    co_return core::unavailable("creating the CSR: " +
                                resp["Err"]["ErrStatus"].value("message", std::string("error")));
  }
  if (resp["Object"].is_object() && resp["Object"].contains("metadata")) {
    name = resp["Object"]["metadata"].value("name", name);
  }
  log_->info("metaserver CSR created name={} node={}", name, options_.node_name);

  auto deadline = std::chrono::steady_clock::now() + options_.wait_timeout;
  while (!stopped_ && std::chrono::steady_clock::now() < deadline) {
    co_await sleep(options_.poll_interval);
    if (stopped_) break;
    core::Message query = core::Message::create(kSource, kGroup, "query",
                                                "default/certificatesigningrequest/" + name);
    auto answer = co_await call_(std::move(query));
    if (!answer.ok()) continue;  // offline for a moment: ask again
    auto obj = csrFromAnswer(answer->content);
    if (!obj.ok()) continue;
    const json& status = obj->value("status", json::object());
    if (status.is_object() && status.contains("conditions") && status["conditions"].is_array()) {
      for (const auto& c : status["conditions"]) {
        std::string type = c.value("type", "");
        if (type == "Denied" || type == "Failed") {
          co_return core::failedPrecondition("CSR " + name + " " + type + ": " +
                                             c.value("reason", "") + " " + c.value("message", ""));
        }
      }
    }
    if (!status.is_object() || !status.contains("certificate") ||
        !status["certificate"].is_string() || status["certificate"].get<std::string>().empty()) {
      continue;
    }
    auto pem = core::base64Decode(status["certificate"].get<std::string>());
    if (!pem) co_return core::internalError("CSR " + name + ": certificate is not base64");
    core::Status ok = checkPair(*pem, *key, caPem());
    if (!ok.ok()) co_return core::failedPrecondition("CSR " + name + ": " + ok.message());
    core::Status stored = writePrivateFile(options_.dir, kCurrentPairFile, *pem + *key);
    if (!stored.ok()) co_return stored;
    install(*pem, *key);
    log_->info(
        "metaserver serving certificate issued csr={} renew_in_s={}", name,
        std::chrono::duration_cast<std::chrono::seconds>(renewAt() - system_clock::now()).count());
    co_return core::Status{};
  }
  co_return core::deadlineExceeded("CSR " + name + " not issued in time");
}

}  // namespace edgecore::metaserver::tls
