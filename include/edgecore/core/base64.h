#pragma once

// Base64 as Go's encoding/base64 writes it: StdEncoding (RFC 4648 section 4, padded; how Go's
// encoding/json marshals a []byte) and RawURLEncoding (section 5, unpadded; JWT parts and
// Kubernetes continue tokens). Pure functions, any thread, never throw.

#include <optional>
#include <string>
#include <string_view>

namespace edgecore::core {

std::string base64Encode(std::string_view bytes);
// nullopt for text that is not padded standard base64 (wrong length, a character outside the
// alphabet, misplaced padding). '\r' and '\n' are skipped, as Go's decoder skips them.
std::optional<std::string> base64Decode(std::string_view text);

std::string base64UrlEncode(std::string_view bytes);
// Accepts unpadded URL-alphabet text (padding tolerated); nullopt otherwise.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace edgecore::core
