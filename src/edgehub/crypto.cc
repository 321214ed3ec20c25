#include "crypto.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "edgecore/core/base64.h"
#include "edgecore/core/file.h"

namespace edgecore::edgehub {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

bool isHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::chrono::system_clock::time_point asn1ToTime(const ASN1_TIME* t) {
  struct tm tm {};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

core::Result<X509Ptr> loadCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return core::invalidArgument("no PEM certificate found");
  }
  return cert;
}

}  // namespace

core::Result<BootstrapToken> parseBootstrapToken(std::string_view token) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  if (parts.size() != 4) {
    return core::invalidArgument(
        "bootstrap token must be <caHash>.<jwt> (4 dot-separated parts), got " +
        std::to_string(parts.size()) + " parts");
  }
  if (parts[0].size() != 64 || !isHex(parts[0])) {
    return core::invalidArgument("bootstrap token: the CA hash (first part) is not 64 hex digits");
  }
  BootstrapToken out;
  out.ca_hash = std::string(parts[0]);
  for (char& c : out.ca_hash) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  out.jwt = std::string(token.substr(parts[0].size() + 1));
  if (auto payload = core::base64UrlDecode(parts[2])) {
    auto claims = nlohmann::json::parse(*payload, nullptr, false);
    if (claims.is_object() && claims.contains("exp") && claims["exp"].is_number()) {
      out.expires_unix = claims["exp"].get<int64_t>();
    }
  }
  return out;
}

std::string pemEncode(std::string_view der, std::string_view label) {
  std::string b64 = core::base64Encode(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out += b64.substr(i, 64);
    out += '\n';
  }
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

// Long on purpose: OpenSSL's key + CSR construction is a fixed sequence of calls, each checked.
core::Result<NodeKeyAndCsr> makeNodeKeyAndCsr(std::string_view node_name) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return core::internalError("cannot generate an ECDSA P-256 key");
  }
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  const std::string cn = "system:node:" + std::string(node_name);
  // Go's pkix.Name order: C, O, L, ST, CN.
  const std::pair<const char*, std::string> fields[] = {
      {"C", "CN"}, {"O", "system:nodes"}, {"L", "Hangzhou"}, {"ST", "Zhejiang"}, {"CN", cn}};
  for (const auto& [field, value] : fields) {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      return core::internalError(std::string("cannot set CSR subject field ") + field);
    }
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return core::internalError("cannot sign the certificate request");
  }
  NodeKeyAndCsr out;
  int csr_len = i2d_X509_REQ(req.get(), nullptr);
  out.csr_der.resize(static_cast<size_t>(csr_len));
  auto* p = reinterpret_cast<unsigned char*>(out.csr_der.data());
  i2d_X509_REQ(req.get(), &p);
  // i2d_PrivateKey writes an EC key in its type-specific (SEC1) form.
  int key_len = i2d_PrivateKey(key.get(), nullptr);
  std::string key_der(static_cast<size_t>(key_len), '\0');
  auto* kp = reinterpret_cast<unsigned char*>(key_der.data());
  i2d_PrivateKey(key.get(), &kp);
  out.key_pem = pemEncode(key_der, "EC PRIVATE KEY");
  OPENSSL_cleanse(key_der.data(), key_der.size());
  return out;
}

core::Result<CertInfo> parseCertificatePem(std::string_view pem) {
  EC_ASSIGN_OR_RETURN(X509Ptr cert, loadCert(pem));
  CertInfo info;
  info.not_before = asn1ToTime(X509_get0_notBefore(cert.get()));
  info.not_after = asn1ToTime(X509_get0_notAfter(cert.get()));
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  info.common_name = cn;
  return info;
}

core::Result<CertInfo> checkKeyPair(std::string_view cert_pem, std::string_view key_pem) {
  EC_ASSIGN_OR_RETURN(X509Ptr cert, loadCert(cert_pem));
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return core::invalidArgument("no PEM private key found");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return core::invalidArgument("the private key does not match the certificate");
  }
  return parseCertificatePem(cert_pem);
}

std::chrono::system_clock::time_point rotationDeadline(const CertInfo& cert, std::mt19937_64& rng) {
  auto total = cert.not_after - cert.not_before;
  std::uniform_real_distribution<double> frac(0.7, 0.9);
  auto offset = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double, std::chrono::system_clock::period>(
          static_cast<double>(total.count()) * frac(rng)));
  return cert.not_before + offset;
}

core::Status writeFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    EC_ASSIGN_OR_RETURN(bool created, core::createDirectories(p.parent_path().string(), 0700));
    (void)created;
  }
  // Keys and certificates: no predictable temporary name, nothing planted there is followed.
  return core::writeFileAtomic(path, data, mode);
}

}  // namespace edgecore::edgehub
