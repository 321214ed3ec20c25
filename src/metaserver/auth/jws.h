#pragma once

// Compact JWS (RFC 7515) as ServiceAccount tokens use it: three base64url parts, a JSON header
// naming the algorithm, a JSON claims payload and a signature over "<header>.<payload>". Parsing
// is bounded and never trusts the payload: the signature is checked separately (jws_verify.h).

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::auth {

// Larger bearer tokens are refused before any decoding (Kubernetes tokens are ~1 KiB).
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

struct Jws {
  std::string alg;            // header "alg", e.g. "RS256"
  std::string kid;            // header "kid", may be empty
  nlohmann::json claims;      // the payload, an object
  std::string signing_input;  // "<header b64>.<payload b64>", the bytes the signature covers
  std::string signature;      // decoded signature bytes
};

// InvalidArgument for anything that is not a well-formed compact JWS with object header and
// payload and a non-empty signature (this refuses "alg":"none" tokens, which carry none).
core::Result<Jws> parseJws(std::string_view token);

}  // namespace edgecore::metaserver::auth
