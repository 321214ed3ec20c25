#include "auth/jws.h"

#include "edgecore/core/base64.h"

namespace edgecore::metaserver::auth {

namespace {

using core::invalidArgument;

core::Result<nlohmann::json> decodeJsonPart(std::string_view part, const char* what) {
  auto bytes = core::base64UrlDecode(part);
  if (!bytes) {
    return invalidArgument(std::string("token ") + what + " is not base64url");
  }
  nlohmann::json doc = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return invalidArgument(std::string("token ") + what + " is not a JSON object");
  }
  return doc;
}

std::string stringMember(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

core::Result<Jws> parseJws(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return invalidArgument("token is empty or too large");
  }
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return invalidArgument("token is not a compact JWS");
  }
  std::string_view header_part = token.substr(0, first);
  std::string_view payload_part = token.substr(first + 1, second - first - 1);
  std::string_view signature_part = token.substr(second + 1);
  if (header_part.empty() || payload_part.empty() || signature_part.empty()) {
    return invalidArgument("token has an empty part");
  }
  Jws jws;
  EC_ASSIGN_OR_RETURN(nlohmann::json header, decodeJsonPart(header_part, "header"));
  jws.alg = stringMember(header, "alg");
  jws.kid = stringMember(header, "kid");
  if (jws.alg.empty()) {
    return invalidArgument("token header has no alg");
  }
  // A "crit" header names extensions we would have to understand; we understand none.
  if (header.contains("crit")) {
    return invalidArgument("token header has unsupported crit");
  }
  EC_ASSIGN_OR_RETURN(jws.claims, decodeJsonPart(payload_part, "payload"));
  auto signature = core::base64UrlDecode(signature_part);
  if (!signature || signature->empty()) {
    return invalidArgument("token signature is not base64url");
  }
  jws.signature = std::move(*signature);
  jws.signing_input = std::string(token.substr(0, second));
  return jws;
}

}  // namespace edgecore::metaserver::auth
