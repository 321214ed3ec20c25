#include "tls/x509_util.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace edgecore::metaserver::tls {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

Bio readBio(const std::string& s) {
  return Bio(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

Pkey loadKey(const std::string& pem) {
  Bio bio = readBio(pem);
  return Pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

Cert loadCert(const std::string& pem) {
  Bio bio = readBio(pem);
  return Cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

core::Result<std::string> generateEcKeyPem() {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return core::internalError("cannot generate a P-256 key");
  Bio out(BIO_new(BIO_s_mem()));
  // Traditional SEC1 "EC PRIVATE KEY", as client-go's keyutil writes it.
  if (!out || PEM_write_bio_PrivateKey_traditional(out.get(), key.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) != 1) {
    return core::internalError("cannot encode the P-256 key");
  }
  return drain(out.get());
}

core::Result<std::string> makeCsrPem(const std::string& key_pem, const std::string& common_name,
                                     const std::vector<std::string>& organizations,
                                     const std::vector<std::string>& ips) {
  Pkey key = loadKey(key_pem);
  if (!key) return core::invalidArgument("CSR: the private key does not parse");
  Req req(X509_REQ_new());
  if (!req) return core::internalError("CSR: out of memory");
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& o : organizations) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  if (!ips.empty()) {
    Names sans(GENERAL_NAMES_new());
    for (const auto& ip : ips) {
      unsigned char raw[16];
      int len = 0;
      if (::inet_pton(AF_INET, ip.c_str(), raw) == 1) {
        len = 4;
      } else if (::inet_pton(AF_INET6, ip.c_str(), raw) == 1) {
        len = 16;
      } else {
        return core::invalidArgument("CSR: " + ip + " is not an IP address");
      }
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(os, raw, len);
      GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
      sk_GENERAL_NAME_push(sans.get(), gn);
    }
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans.get());
    sk_X509_EXTENSION_push(exts, ext);
    int ok = X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (ok != 1) return core::internalError("CSR: cannot add the IP SANs");
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return core::internalError("CSR: cannot sign the request");
  }
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) {
    return core::internalError("CSR: cannot encode the request");
  }
  return drain(out.get());
}

core::Result<CertificateFacts> certificateFacts(const std::string& cert_pem) {
  Cert cert = loadCert(cert_pem);
  if (!cert) return core::invalidArgument("the certificate does not parse");
  CertificateFacts f;
  f.not_before = toTimePoint(X509_get0_notBefore(cert.get()));
  f.not_after = toTimePoint(X509_get0_notAfter(cert.get()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    f.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
  }
  Names sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type != GEN_IPADD) continue;
    const ASN1_OCTET_STRING* os = gn->d.iPAddress;
    char text[INET6_ADDRSTRLEN] = {};
    int len = ASN1_STRING_length(os);
    if (len == 4) {
      ::inet_ntop(AF_INET, ASN1_STRING_get0_data(os), text, sizeof text);
    } else if (len == 16) {
      ::inet_ntop(AF_INET6, ASN1_STRING_get0_data(os), text, sizeof text);
    }
    if (text[0]) f.ip_sans.emplace_back(text);
  }
  return f;
}

bool keyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem) {
  Cert cert = loadCert(cert_pem);
  Pkey key = loadKey(key_pem);
  return cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
}

bool verifiesAgainst(const std::string& cert_pem, const std::string& ca_pem) {
  Cert cert = loadCert(cert_pem);
  if (!cert) return false;
  std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
  Bio bio = readBio(ca_pem);
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    added += X509_STORE_add_cert(store.get(), ca) == 1;
    X509_free(ca);
  }
  if (added == 0) return false;
  std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) return false;
  return X509_verify_cert(ctx.get()) == 1;
}

}  // namespace edgecore::metaserver::tls
