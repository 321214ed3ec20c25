#pragma once

// Signature keys for ServiceAccount tokens (serviceAccountKeyFiles) and JWS signature checks with
// OpenSSL. Algorithms: RS256/RS384/RS512, PS256, ES256/ES384 (what kube-apiserver signs with for
// RSA and EC keys). A key only verifies the algorithm family of its type, so an RSA key can never
// be used as an HMAC secret or the like.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace edgecore::metaserver::auth {

using PublicKeySharedPtr = std::shared_ptr<EVP_PKEY>;

// Every public key in PEM text: PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE (its key), and private
// keys (PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY: their public half), as kube-apiserver's
// --service-account-key-file accepts. Other blocks are skipped. InvalidArgument if no key found
// or a recognised block does not parse; only RSA and EC keys are kept.
core::Result<std::vector<PublicKeySharedPtr>> parsePublicKeysPem(std::string_view pem);
// The same from a file (blocks: reads the file). NotFound / InvalidArgument name the file.
core::Result<std::vector<PublicKeySharedPtr>> loadPublicKeysFile(const std::string& path);

// Does `signature` over `signing_input` verify with one of `keys` for `alg`? False for an
// unsupported algorithm (including "none" and HMAC), a malformed signature or no matching key.
bool verifyJwsSignature(std::string_view alg, std::string_view signing_input,
                        std::string_view signature, const std::vector<PublicKeySharedPtr>& keys);

bool isSupportedJwsAlgorithm(std::string_view alg);

}  // namespace edgecore::metaserver::auth
