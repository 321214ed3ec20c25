#include "cert_manager.h"

#include <openssl/x509.h>

#include <boost/asio/use_awaitable.hpp>

#include "cert_client.h"
#include "config_edit.h"
#include "edgecore/core/file.h"
#include "edgecore/core/time.h"
#include "tls.h"

namespace edgecore::edgehub {

namespace asio = boost::asio;

namespace {

constexpr unsigned kSecretFileMode = 0600;
constexpr unsigned kPublicFileMode = 0644;

std::string shortBody(std::string_view body) {
  std::string out(body.substr(0, 200));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
    out.pop_back();
  }
  return out.empty() ? "(empty body)" : out;
}

core::Result<std::string> derCertToPem(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) {
    return core::invalidArgument("the server's answer is not a DER certificate");
  }
  X509_free(cert);
  return pemEncode(der, "CERTIFICATE");
}

}  // namespace

CertManager::CertManager(const core::EdgeHubConfig& config, std::string node_name,
                         std::string config_path, std::shared_ptr<spdlog::logger> log,
                         core::Clock& clock)
    : config_(config),
      node_(std::move(node_name)),
      config_path_(std::move(config_path)),
      log_(std::move(log)),
      clock_(clock) {}

core::Result<CertInfo> CertManager::loadCurrent() const {
  EC_ASSIGN_OR_RETURN(std::string cert, core::readFile(config_.tls_cert_file));
  EC_ASSIGN_OR_RETURN(std::string key, core::readFile(config_.tls_private_key_file));
  auto info = checkKeyPair(cert, key);
  if (!info.ok()) {
    return info.status().withContext(config_.tls_cert_file);
  }
  return info;
}

// Long on purpose: the bootstrap of spec 3.2 as one sequence of steps (existing certificate,
// token, CA fetch and pin check, CSR, issue, atomic write), each a few lines with its own error.
asio::awaitable<core::Status> CertManager::ensure(asio::any_io_executor ex) {
  auto current = loadCurrent();
  if (current.ok()) {
    if (current->common_name != "system:node:" + node_) {
      log_->warn("client certificate names another node cn={} node={}", current->common_name,
                 node_);
    }
    co_return core::Status();
  }
  if (config_.token.empty()) {
    co_return core::failedPrecondition("no usable client certificate (" +
                                       current.status().message() +
                                       ") and no bootstrap token in modules.edgeHub.token");
  }
  auto token = parseBootstrapToken(config_.token);
  if (!token.ok()) {
    co_return token.status();
  }
  auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch()).count();
  if (token->expires_unix && *token->expires_unix < now_s) {
    co_return core::Status(
        core::StatusCode::Unauthenticated,
        "bootstrap token expired at " +
            core::formatRfc3339(core::WallTime(std::chrono::seconds(*token->expires_unix))) +
            "; get a new one from the cloud (keadm gettoken) and put it in "
            "modules.edgeHub.token");
  }
  auto server = parseEndpoint(config_.http_server);
  if (!server.ok()) {
    co_return server.status().withContext("modules.edgeHub.httpServer");
  }
  log_->info("certificate bootstrap started server={} node={}", server->authority, node_);

  // Step 1-2: fetch the CA without trusting anything, then pin it with the token's hash.
  auto insecure = makeClientTlsContext(ClientTlsConfig{false, "", "", ""});
  if (!insecure.ok()) {
    co_return insecure.status();
  }
  HttpsRequest get_ca;
  get_ca.server = *server;
  get_ca.tls = *insecure;
  get_ca.verify_peer = false;
  get_ca.target = "/ca.crt";
  auto ca_op = httpsExchange(ex, std::move(get_ca));
  auto ca_reply = co_await std::move(ca_op);
  if (!ca_reply.ok()) {
    co_return ca_reply.status().withContext("fetching the cloud CA");
  }
  if (ca_reply->status != 200) {
    co_return core::unavailable("fetching the cloud CA: GET /ca.crt answered HTTP " +
                                std::to_string(ca_reply->status) + ": " +
                                shortBody(ca_reply->body));
  }
  std::string got_hash = sha256Hex(ca_reply->body);
  if (got_hash != token->ca_hash) {
    co_return core::Status(
        core::StatusCode::PermissionDenied,
        "CA hash mismatch: the token pins sha256 " + token->ca_hash + " but " + server->authority +
            " served a CA with sha256 " + got_hash +
            "; not trusting it (wrong cloud address, or a token from another cluster)");
  }
  auto ca_pem = derCertToPem(ca_reply->body);
  if (!ca_pem.ok()) {
    co_return ca_pem.status().withContext("GET /ca.crt");
  }
  core::Status st = writeFileAtomic(config_.tls_ca_file, *ca_pem, kPublicFileMode);
  if (!st.ok()) {
    co_return st;
  }
  auto req_op = requestCertificate(ex, *ca_pem, token->jwt, false);
  st = co_await std::move(req_op);
  if (!st.ok()) {
    co_return st;
  }
  if (!config_path_.empty()) {
    core::Status blank = blankTokenInConfigFile(config_path_);
    if (!blank.ok()) {
      log_->warn("cannot blank the bootstrap token in the config path={} err={}", config_path_,
                 blank.message());
    }
  }
  config_.token.clear();
  log_->info("certificate bootstrap done cert={} key={} ca={}", config_.tls_cert_file,
             config_.tls_private_key_file, config_.tls_ca_file);
  co_return core::Status();
}

asio::awaitable<core::Status> CertManager::rotate(asio::any_io_executor ex) {
  auto ca_pem = core::readFile(config_.tls_ca_file);
  if (!ca_pem.ok()) {
    co_return ca_pem.status();
  }
  auto op = requestCertificate(ex, *ca_pem, "", true);
  auto st = co_await std::move(op);
  co_return st;
}

asio::awaitable<core::Status> CertManager::requestCertificate(asio::any_io_executor ex,
                                                              std::string ca_pem,
                                                              std::string bearer,
                                                              bool present_current) {
  auto server = parseEndpoint(config_.http_server);
  if (!server.ok()) {
    co_return server.status().withContext("modules.edgeHub.httpServer");
  }
  ClientTlsConfig tls_config{true, ca_pem, "", ""};
  if (present_current) {
    auto cert = core::readFile(config_.tls_cert_file);
    auto key = core::readFile(config_.tls_private_key_file);
    if (!cert.ok() || !key.ok()) {
      co_return core::failedPrecondition("rotation needs the current certificate and key");
    }
    tls_config.cert_pem = *cert;
    tls_config.key_pem = *key;
  }
  auto tls = makeClientTlsContext(tls_config);
  if (!tls.ok()) {
    co_return tls.status();
  }
  auto csr = makeNodeKeyAndCsr(node_);
  if (!csr.ok()) {
    co_return csr.status();
  }
  HttpsRequest req;
  req.server = *server;
  req.tls = *tls;
  req.target = "/edge.crt";
  req.headers.emplace_back("NodeName", node_);
  if (!bearer.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + bearer);
  }
  req.body = csr->csr_der;
  auto op = httpsExchange(ex, std::move(req));
  auto reply = co_await std::move(op);
  if (!reply.ok()) {
    co_return reply.status().withContext("requesting the node certificate");
  }
  if (reply->status == 401) {
    co_return core::Status(core::StatusCode::Unauthenticated,
                           std::string("certificate request rejected (HTTP 401): ") +
                               (bearer.empty() ? "current certificate not accepted"
                                               : "bootstrap token invalid or expired") +
                               ": " + shortBody(reply->body));
  }
  if (reply->status != 200) {
    co_return core::Status(core::StatusCode::PermissionDenied,
                           "certificate request refused (HTTP " + std::to_string(reply->status) +
                               "): " + shortBody(reply->body));
  }
  auto cert_pem = derCertToPem(reply->body);
  if (!cert_pem.ok()) {
    co_return cert_pem.status().withContext("GET /edge.crt");
  }
  auto info = checkKeyPair(*cert_pem, csr->key_pem);
  if (!info.ok()) {
    co_return info.status().withContext("issued certificate");
  }
  // Key first: a crash between the renames leaves a new key with the old certificate, which
  // loadCurrent() rejects, so the next start asks again (or reports it) instead of using a
  // mismatched pair.
  core::Status st = writeFileAtomic(config_.tls_private_key_file, csr->key_pem, kSecretFileMode);
  if (st.ok()) {
    st = writeFileAtomic(config_.tls_cert_file, *cert_pem, kSecretFileMode);
  }
  if (!st.ok()) {
    co_return st;
  }
  log_->info("node certificate issued cn={} not_after={}", info->common_name,
             core::formatRfc3339(info->not_after));
  co_return core::Status();
}

}  // namespace edgecore::edgehub
