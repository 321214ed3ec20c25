#include "pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "edgecore/core/base64.h"
#include "edgecore/core/file.h"

namespace edgecore::cloudsim {
namespace {

using core::Result;
using core::Status;

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
void freeExtStack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<STACK_OF(X509_EXTENSION), freeExtStack>>;

std::string bioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

Status sslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char buf[256] = {0};
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
  }
  ERR_clear_error();
  return core::internalError(std::string(what) + (e != 0 ? std::string(": ") + buf : ""));
}

KeyPtr newP256Key() { return KeyPtr(EVP_EC_gen("P-256")); }

std::string keyToSec1Der(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int len = i2d_PrivateKey(key, &out);
  if (len <= 0) {
    return {};
  }
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return der;
}

std::string keyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bioContents(bio.get());
}

std::string certToDer(X509* cert) {
  unsigned char* out = nullptr;
  int len = i2d_X509(cert, &out);
  if (len <= 0) {
    return {};
  }
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  return der;
}

std::string certToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bioContents(bio.get());
}

X509Ptr parseCertDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

KeyPtr parseKeyPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

bool addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return false;
  }
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A random positive serial below 2^63, like Go's rand.Int(MaxInt64).
bool setRandomSerial(X509* cert) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return false;
  }
  bytes[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  return serial != nullptr;
}

void setValidity(X509* cert, std::chrono::seconds validity) {
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(validity.count()));
}

NamePtr makeName(const Subject& subject) {
  NamePtr name(X509_NAME_new());
  for (const auto& o : subject.organizations) {
    X509_NAME_add_entry_by_NID(name.get(), NID_organizationName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  }
  if (!subject.common_name.empty()) {
    X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(subject.common_name.c_str()),
                               -1, -1, 0);
  }
  return name;
}

Subject subjectOf(const X509_NAME* name) {
  Subject s;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                      static_cast<size_t>(ASN1_STRING_length(data)));
    if (nid == NID_commonName) {
      s.common_name = value;
    } else if (nid == NID_organizationName) {
      s.organizations.push_back(value);
    }
  }
  return s;
}

bool isIpAddress(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// Keys and the token are 0600 from their first byte (core::writeFileAtomic), certificates 0644.
Status writeFile(const std::string& path, std::string_view data, unsigned mode) {
  return core::writeFileAtomic(path, data, mode);
}

std::string extKeyUsageNames(const std::vector<int>& usages) {
  std::string out;
  for (int u : usages) {
    const char* name = nullptr;
    switch (u) {  // Go's x509.ExtKeyUsage numbering
      case 0:
        name = "anyExtendedKeyUsage";
        break;
      case 1:
        name = "serverAuth";
        break;
      case 2:
        name = "clientAuth";
        break;
      case 3:
        name = "codeSigning";
        break;
      case 4:
        name = "emailProtection";
        break;
      case 8:
        name = "timeStamping";
        break;
      case 9:
        name = "OCSPSigning";
        break;
      default:
        break;
    }
    if (name != nullptr) {
      out += out.empty() ? "" : ",";
      out += name;
    }
  }
  return out;
}

}  // namespace

std::string base64UrlEncode(std::string_view bytes) { return core::base64UrlEncode(bytes); }

Result<std::string> base64UrlDecode(std::string_view text) {
  // JWT parts are unpadded: padding or the standard alphabet's + and / make the token malformed.
  if (text.find_first_of("+/=") != std::string_view::npos) {
    return core::invalidArgument("not base64url");
  }
  auto out = core::base64UrlDecode(text);
  if (!out) {
    return core::invalidArgument("not base64url");
  }
  return std::move(*out);
}

Result<Pki> generatePki(std::string_view host) {
  KeyPtr ca_key = newP256Key();
  KeyPtr server_key = newP256Key();
  if (!ca_key || !server_key) {
    return sslError("ec key generation");
  }
  X509Ptr ca(X509_new());
  X509_set_version(ca.get(), 2);
  setRandomSerial(ca.get());
  setValidity(ca.get(), std::chrono::hours(24 * 365 * 100));  // CloudCore's CA: 100 years
  NamePtr ca_name = makeName({"KubeEdge", {}});
  X509_set_subject_name(ca.get(), ca_name.get());
  X509_set_issuer_name(ca.get(), ca_name.get());
  X509_set_pubkey(ca.get(), ca_key.get());
  if (!addExt(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !addExt(ca.get(), ca.get(), NID_key_usage,
              "critical,digitalSignature,keyEncipherment,keyCertSign") ||
      !addExt(ca.get(), ca.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(ca.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return sslError("ca certificate");
  }

  X509Ptr server(X509_new());
  X509_set_version(server.get(), 2);
  setRandomSerial(server.get());
  setValidity(server.get(), std::chrono::hours(24 * 365 * 10));
  NamePtr server_name = makeName({"KubeEdge", {"KubeEdge"}});
  X509_set_subject_name(server.get(), server_name.get());
  X509_set_issuer_name(server.get(), ca_name.get());
  X509_set_pubkey(server.get(), server_key.get());
  std::string san = isIpAddress(host) ? "IP:" + std::string(host) : "DNS:" + std::string(host);
  if (host != "127.0.0.1") {
    san += ",IP:127.0.0.1";
  }
  if (host != "localhost") {
    san += ",DNS:localhost";
  }
  if (!addExt(server.get(), ca.get(), NID_subject_alt_name, san) ||
      !addExt(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !addExt(server.get(), ca.get(), NID_ext_key_usage, "serverAuth") ||
      !addExt(server.get(), ca.get(), NID_authority_key_identifier, "keyid") ||
      X509_sign(server.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return sslError("server certificate");
  }

  Pki pki;
  pki.ca_cert_pem = certToPem(ca.get());
  pki.ca_cert_der = certToDer(ca.get());
  pki.ca_key_pem = keyToPem(ca_key.get());
  pki.ca_key_der = keyToSec1Der(ca_key.get());
  pki.server_cert_pem = certToPem(server.get());
  pki.server_key_pem = keyToPem(server_key.get());
  return pki;
}

Result<Pki> initPki(const std::string& dir, std::string_view node_name, std::string_view host,
                    std::chrono::seconds token_ttl) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return core::internalError("cannot create " + dir + ": " + ec.message());
  }
  EC_ASSIGN_OR_RETURN(Pki pki, generatePki(host));
  EC_RETURN_IF_ERROR(writeFile(dir + "/ca.crt", pki.ca_cert_pem, 0644));
  EC_RETURN_IF_ERROR(writeFile(dir + "/ca.key", pki.ca_key_pem, 0600));
  EC_RETURN_IF_ERROR(writeFile(dir + "/server.crt", pki.server_cert_pem, 0644));
  EC_RETURN_IF_ERROR(writeFile(dir + "/server.key", pki.server_key_pem, 0600));
  EC_RETURN_IF_ERROR(writeFile(dir + "/token", makeToken(pki, token_ttl) + "\n", 0600));
  EC_RETURN_IF_ERROR(writeFile(dir + "/node", std::string(node_name) + "\n", 0644));
  return pki;
}

Result<Pki> loadPki(const std::string& dir) {
  Pki pki;
  EC_ASSIGN_OR_RETURN(pki.ca_cert_pem, core::readFile(dir + "/ca.crt"));
  EC_ASSIGN_OR_RETURN(pki.ca_key_pem, core::readFile(dir + "/ca.key"));
  EC_ASSIGN_OR_RETURN(pki.server_cert_pem, core::readFile(dir + "/server.crt"));
  EC_ASSIGN_OR_RETURN(pki.server_key_pem, core::readFile(dir + "/server.key"));
  EC_ASSIGN_OR_RETURN(pki.ca_cert_der, certPemToDer(pki.ca_cert_pem));
  KeyPtr key = parseKeyPem(pki.ca_key_pem);
  if (!key) {
    return core::invalidArgument(dir + "/ca.key is not a PEM private key");
  }
  pki.ca_key_der = keyToSec1Der(key.get());
  return pki;
}

core::Result<std::string> generateRsaKeyPem(int bits) {
  KeyPtr key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!key) {
    return sslError("generate RSA key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return sslError("write RSA key");
  }
  return bioContents(bio.get());
}

core::Result<std::string> publicKeyPemOf(std::string_view private_key_pem) {
  KeyPtr key = parseKeyPem(private_key_pem);
  if (!key) {
    return sslError("read private key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return sslError("write public key");
  }
  return bioContents(bio.get());
}

std::string makeJwt(std::string_view key, int64_t exp_unix) {
  // golang-jwt v3 marshals the header map with sorted keys and StandardClaims with only exp set.
  std::string signing_input = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              base64UrlEncode("{\"exp\":" + std::to_string(exp_unix) + "}");
  return signing_input + "." + base64UrlEncode(hmacSha256(key, signing_input));
}

std::string makeToken(const Pki& pki, std::chrono::seconds ttl) {
  int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch() + ttl)
                    .count();
  return sha256Hex(pki.ca_cert_der) + "." + makeJwt(pki.ca_key_der, exp);
}

Status verifyJwt(std::string_view jwt, std::string_view key, int64_t now_unix) {
  auto unauth = [](std::string m) {
    return Status(core::StatusCode::Unauthenticated, std::move(m));
  };
  size_t d1 = jwt.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : jwt.find('.', d1 + 1);
  if (d2 == std::string_view::npos || jwt.find('.', d2 + 1) != std::string_view::npos) {
    return unauth("token contains an invalid number of segments");
  }
  auto header_json = base64UrlDecode(jwt.substr(0, d1));
  auto claims_json = base64UrlDecode(jwt.substr(d1 + 1, d2 - d1 - 1));
  auto signature = base64UrlDecode(jwt.substr(d2 + 1));
  if (!header_json.ok() || !claims_json.ok() || !signature.ok()) {
    return unauth("token is malformed: bad base64url");
  }
  auto header = nlohmann::json::parse(*header_json, nullptr, false);
  auto claims = nlohmann::json::parse(*claims_json, nullptr, false);
  if (!header.is_object() || !claims.is_object()) {
    return unauth("token is malformed: not JSON objects");
  }
  if (header.value("alg", "") != "HS256") {
    return unauth("invalid token method type, want HS256");
  }
  std::string expected = hmacSha256(key, jwt.substr(0, d2));
  if (expected.size() != signature->size() ||
      CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) != 0) {
    return unauth("signature is invalid");
  }
  if (claims.contains("exp")) {
    if (!claims["exp"].is_number()) {
      return unauth("exp is not a number");
    }
    if (now_unix > claims["exp"].get<int64_t>()) {
      return unauth("token is expired");
    }
  }
  return {};
}

Result<Subject> csrSubject(std::string_view csr_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(csr_der.data());
  ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der.size())));
  if (!req) {
    ERR_clear_error();
    return core::invalidArgument("body is not a DER certificate request");
  }
  return subjectOf(X509_REQ_get_subject_name(req.get()));
}

Result<Subject> certSubject(std::string_view cert_der) {
  X509Ptr cert = parseCertDer(cert_der);
  if (!cert) {
    ERR_clear_error();
    return core::invalidArgument("not a DER certificate");
  }
  return subjectOf(X509_get_subject_name(cert.get()));
}

Result<std::string> signCsr(const Pki& pki, std::string_view csr_der,
                            const std::vector<int>& ext_key_usages, std::chrono::seconds validity) {
  const auto* p = reinterpret_cast<const unsigned char*>(csr_der.data());
  ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der.size())));
  if (!req) {
    ERR_clear_error();
    return core::invalidArgument("body is not a DER certificate request");
  }
  EVP_PKEY* req_key = X509_REQ_get0_pubkey(req.get());
  if (req_key == nullptr || X509_REQ_verify(req.get(), req_key) != 1) {
    ERR_clear_error();
    return core::invalidArgument("certificate request signature does not verify");
  }
  Subject subject = subjectOf(X509_REQ_get_subject_name(req.get()));
  if (subject.common_name.empty()) {
    return core::invalidArgument("must specify a CommonName");
  }
  std::string usages = extKeyUsageNames(ext_key_usages);
  if (usages.empty()) {
    return core::invalidArgument("must specify at least one ExtKeyUsage");
  }
  X509Ptr ca = parseCertDer(pki.ca_cert_der);
  KeyPtr ca_key = parseKeyPem(pki.ca_key_pem);
  if (!ca || !ca_key) {
    return sslError("loading the CA");
  }
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  setRandomSerial(cert.get());
  setValidity(cert.get(), validity);
  NamePtr name = makeName(subject);
  X509_set_subject_name(cert.get(), name.get());
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(cert.get(), req_key);
  if (!addExt(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !addExt(cert.get(), ca.get(), NID_ext_key_usage, usages) ||
      !addExt(cert.get(), ca.get(), NID_authority_key_identifier, "keyid")) {
    return sslError("certificate extensions");
  }
  ExtStackPtr exts(X509_REQ_get_extensions(req.get()));
  if (exts) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
        X509_add_ext(cert.get(), ext, -1);
      }
    }
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return sslError("signing");
  }
  return certToDer(cert.get());
}

Result<std::string> certPemToDer(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return core::invalidArgument("not a PEM certificate");
  }
  return certToDer(cert.get());
}

Result<std::string> csrPemToDer(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    ERR_clear_error();
    return core::invalidArgument("not a PEM certificate request");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return core::invalidArgument("certificate request does not encode");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string certDerToPem(std::string_view der) {
  X509Ptr cert = parseCertDer(der);
  return cert ? certToPem(cert.get()) : std::string();
}

Result<KeyAndCsr> makeCsrForTest(const Subject& subject) {
  KeyPtr key = newP256Key();
  ReqPtr req(X509_REQ_new());
  NamePtr name = makeName(subject);
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return sslError("csr signing");
  }
  unsigned char* out = nullptr;
  int len = i2d_X509_REQ(req.get(), &out);
  KeyAndCsr r{keyToPem(key.get()),
              std::string(reinterpret_cast<char*>(out), static_cast<size_t>(len))};
  OPENSSL_free(out);
  return r;
}

}  // namespace edgecore::cloudsim
