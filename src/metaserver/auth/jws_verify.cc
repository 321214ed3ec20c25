#include "auth/jws_verify.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

#include "edgecore/core/file.h"

namespace edgecore::metaserver::auth {

namespace {

struct Algorithm {
  std::string_view name;
  int key_type;  // EVP_PKEY_RSA or EVP_PKEY_EC
  const EVP_MD* (*digest)();
  bool pss;
  size_t ec_coordinate_bytes;  // ES*: the size of r and s in the JOSE signature
};

const Algorithm* findAlgorithm(std::string_view alg) {
  static const Algorithm kAlgorithms[] = {
      {"RS256", EVP_PKEY_RSA, &EVP_sha256, false, 0},
      {"RS384", EVP_PKEY_RSA, &EVP_sha384, false, 0},
      {"RS512", EVP_PKEY_RSA, &EVP_sha512, false, 0},
      {"PS256", EVP_PKEY_RSA, &EVP_sha256, true, 0},
      {"ES256", EVP_PKEY_EC, &EVP_sha256, false, 32},
      {"ES384", EVP_PKEY_EC, &EVP_sha384, false, 48},
  };
  for (const auto& a : kAlgorithms) {
    if (a.name == alg) return &a;
  }
  return nullptr;
}

PublicKeySharedPtr own(EVP_PKEY* key) { return PublicKeySharedPtr(key, &EVP_PKEY_free); }

// JOSE carries an ECDSA signature as r||s of fixed width; OpenSSL verifies DER.
std::string joseToDerEcdsa(std::string_view sig, size_t coordinate_bytes) {
  if (sig.size() != 2 * coordinate_bytes) return {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  if (ecdsa == nullptr) return {};
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(coordinate_bytes), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + coordinate_bytes, static_cast<int>(coordinate_bytes), nullptr);
  std::string der;
  if (r != nullptr && s != nullptr && ECDSA_SIG_set0(ecdsa, r, s) == 1) {
    r = s = nullptr;  // owned by ecdsa now
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(ecdsa, &out);
    if (len > 0) der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(ecdsa);
  return der;
}

bool verifyWithKey(const Algorithm& a, EVP_PKEY* key, std::string_view input,
                   std::string_view sig) {
  if (EVP_PKEY_base_id(key) != a.key_type) return false;
  std::string der;
  if (a.key_type == EVP_PKEY_EC) {
    // The curve must match the algorithm (P-256 for ES256, P-384 for ES384).
    if (static_cast<size_t>((EVP_PKEY_bits(key) + 7) / 8) != a.ec_coordinate_bytes) return false;
    der = joseToDerEcdsa(sig, a.ec_coordinate_bytes);
    if (der.empty()) return false;
    sig = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, &pctx, a.digest(), nullptr, key) == 1;
  if (ok && a.pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
  }
  ok = ok &&
       EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// One PEM block to a public key; null with *recognised=false for block types we skip.
EVP_PKEY* keyFromBlock(const std::string& type, const unsigned char* data, long len,
                       bool* recognised) {
  *recognised = true;
  const unsigned char* p = data;
  if (type == "PUBLIC KEY") return d2i_PUBKEY(nullptr, &p, len);
  if (type == "RSA PUBLIC KEY") {
    return d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
  }
  if (type == "CERTIFICATE") {
    X509* cert = d2i_X509(nullptr, &p, len);
    if (cert == nullptr) return nullptr;
    EVP_PKEY* key = X509_get_pubkey(cert);
    X509_free(cert);
    return key;
  }
  if (type == "PRIVATE KEY") return d2i_AutoPrivateKey(nullptr, &p, len);
  if (type == "RSA PRIVATE KEY") return d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, len);
  if (type == "EC PRIVATE KEY") return d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, len);
  *recognised = false;
  return nullptr;
}

}  // namespace

bool isSupportedJwsAlgorithm(std::string_view alg) { return findAlgorithm(alg) != nullptr; }

core::Result<std::vector<PublicKeySharedPtr>> parsePublicKeysPem(std::string_view pem) {
  std::vector<PublicKeySharedPtr> keys;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return core::internalError("cannot allocate a BIO");
  core::Status error;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) break;
    bool recognised = false;
    EVP_PKEY* key = keyFromBlock(name, data, len, &recognised);
    if (recognised && key == nullptr) {
      error = core::invalidArgument(std::string("cannot parse PEM block ") + name);
    } else if (key != nullptr) {
      int type = EVP_PKEY_base_id(key);
      if (type == EVP_PKEY_RSA || type == EVP_PKEY_EC) {
        // Keep the public half only (a private key block still verifies the same).
        unsigned char* der = nullptr;
        int der_len = i2d_PUBKEY(key, &der);
        const unsigned char* p = der;
        EVP_PKEY* pub = der_len > 0 ? d2i_PUBKEY(nullptr, &p, der_len) : nullptr;
        OPENSSL_free(der);
        if (pub != nullptr) keys.push_back(own(pub));
      }
      EVP_PKEY_free(key);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!error.ok()) break;
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!error.ok()) return error;
  if (keys.empty()) return core::invalidArgument("no RSA or EC public key found");
  return keys;
}

core::Result<std::vector<PublicKeySharedPtr>> loadPublicKeysFile(const std::string& path) {
  auto text = core::readFile(path);
  if (!text.ok()) return text.status();
  auto keys = parsePublicKeysPem(*text);
  if (!keys.ok()) return keys.status().withContext(path);
  return keys;
}

bool verifyJwsSignature(std::string_view alg, std::string_view signing_input,
                        std::string_view signature, const std::vector<PublicKeySharedPtr>& keys) {
  const Algorithm* a = findAlgorithm(alg);
  if (a == nullptr) return false;
  for (const auto& key : keys) {
    if (verifyWithKey(*a, key.get(), signing_input, signature)) return true;
  }
  ERR_clear_error();
  return false;
}

}  // namespace edgecore::metaserver::auth
