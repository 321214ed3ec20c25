#pragma once

// Shared scenery for the requireAuthorization tests: RSA keys made with OpenSSL, ServiceAccount
// token claims as kube-apiserver writes them (bound to a pod), and the objects the store must
// hold for such a token to be live (the ServiceAccount and the Pod) plus RBAC objects.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "metaserver/test_objects.h"
#include "util/jwt_signer.h"

namespace edgecore::testing {

inline const metamanager::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
inline const metamanager::Gvr kRoles{"rbac.authorization.k8s.io", "v1", "roles"};
inline const metamanager::Gvr kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
inline const metamanager::Gvr kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
inline const metamanager::Gvr kClusterRoleBindings{"rbac.authorization.k8s.io", "v1",
                                                   "clusterrolebindings"};
inline const metamanager::Gvr kServiceAccountAccesses{"policy.kubeedge.io", "v1alpha1",
                                                      "serviceaccountaccesses"};

inline constexpr const char* kIssuer = "https://kubernetes.default.svc.cluster.local";
inline constexpr const char* kSaUid = "5a1e2f3c-0000-4000-8000-00000000a11c";

struct RsaKeyPair {
  std::string private_pem;
  std::string public_pem;
};

inline RsaKeyPair makeRsaKey(int bits = 2048) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(bits), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_RSA_gen failed");
  auto toPem = [&](bool priv) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    int ok =
        priv ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
             : PEM_write_bio_PUBKEY(bio.get(), key.get());
    if (ok != 1) throw std::runtime_error("PEM write failed");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(len));
  };
  return {toPem(true), toPem(false)};
}

inline int64_t unixNow(std::chrono::seconds offset = std::chrono::seconds(0)) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             (std::chrono::system_clock::now() + offset).time_since_epoch())
      .count();
}

// The pod every token below is bound to: default/web-0 with test_objects' uid for rv 100.
inline PodSpec boundPod() {
  PodSpec p;
  p.name = "web-0";
  p.rv = 100;
  return p;
}
inline std::string boundPodUid() {
  return "6f1c2b9e-1d2a-4c5b-9e8f-" + std::to_string(100000000100);
}

// Claims of a bound token for default/app (pod default/web-0), valid for an hour.
inline nlohmann::json saClaims(const std::string& sa = "app", const std::string& ns = "default") {
  int64_t now = unixNow();
  return {{"iss", kIssuer},
          {"aud", nlohmann::json::array({kIssuer})},
          {"sub", "system:serviceaccount:" + ns + ":" + sa},
          {"iat", now},
          {"nbf", now},
          {"exp", now + 3600},
          {"kubernetes.io",
           {{"namespace", ns},
            {"serviceaccount", {{"name", sa}, {"uid", kSaUid}}},
            {"pod", {{"name", boundPod().name}, {"uid", boundPodUid()}}}}}};
}

inline std::string makeServiceAccount(const std::string& ns, const std::string& name,
                                      const std::string& uid = kSaUid) {
  return nlohmann::json(
             {{"apiVersion", "v1"},
              {"kind", "ServiceAccount"},
              {"metadata",
               {{"name", name}, {"namespace", ns}, {"uid", uid}, {"resourceVersion", "30"}}}})
      .dump();
}

inline std::string makeRole(const std::string& ns, const std::string& name,
                            const nlohmann::json& rules) {
  return nlohmann::json(
             {{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", "Role"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", "31"}}},
              {"rules", rules}})
      .dump();
}

inline std::string makeRoleBinding(const std::string& ns, const std::string& name,
                                   const std::string& role_kind, const std::string& role,
                                   const nlohmann::json& subjects) {
  return nlohmann::json(
             {{"apiVersion", "rbac.authorization.k8s.io/v1"},
              {"kind", "RoleBinding"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", "32"}}},
              {"roleRef",
               {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", role_kind}, {"name", role}}},
              {"subjects", subjects}})
      .dump();
}

inline nlohmann::json saSubject(const std::string& name, const std::string& ns = "default") {
  return {{"kind", "ServiceAccount"}, {"name", name}, {"namespace", ns}};
}

// The status code and body of a whole HTTP/1.1 response (code 0 when there is none).
inline std::pair<int, std::string> splitResponse(const std::string& resp) {
  int code = resp.size() > 12 ? std::atoi(resp.substr(9, 3).c_str()) : 0;
  size_t body = resp.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : resp.substr(body + 4)};
}

// One plain-HTTP GET on 127.0.0.1:`port` with an optional bearer token: the status code and the
// body (code 0 when nothing answered).
inline std::pair<int, std::string> httpGet(uint16_t port, const std::string& target,
                                           const std::string& token = "") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {0, ""};
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "\r\n";
  boost::asio::write(s, boost::asio::buffer(req), ec);
  std::string resp;
  boost::asio::read(s, boost::asio::dynamic_buffer(resp), ec);
  return splitResponse(resp);
}

// The same over HTTPS (MetaServer's requireAuthorization transport), the server certificate
// verified against `ca_pem`, no client certificate (code 0 when the handshake did not complete).
inline std::pair<int, std::string> httpsGet(uint16_t port, const std::string& ca_pem,
                                            const std::string& target,
                                            const std::string& token = "") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.add_certificate_authority(asio::buffer(ca_pem), ec);
  if (ec) return {0, ""};
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> s(io, ctx);
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {0, ""};
  s.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return {0, ""};
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += "\r\n";
  asio::write(s, asio::buffer(req), ec);
  std::string resp;
  asio::read(s, asio::dynamic_buffer(resp), ec);  // ends with the close (stream truncated)
  return splitResponse(resp);
}

}  // namespace edgecore::testing
