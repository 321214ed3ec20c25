// The ServiceAccount token cache key and validity (see service_account_token.h).

#include "service_account_token.h"

#include <cstdint>

namespace edgecore::metamanager {

using nlohmann::json;

namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendHex(std::string& out, uint32_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out += kHex[(v >> (4 * i)) & 0xf];
  }
}

// One UTF-8 sequence at the front of `s` as Go's utf8.DecodeRuneInString reads it: the code
// point and its length, or width 1 with ok = false for anything invalid (overlong, surrogate,
// above U+10FFFF, truncated).
struct Rune {
  uint32_t cp = 0;
  size_t width = 1;
  bool ok = false;
};

Rune decodeRune(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  Rune r;
  uint8_t c0 = b(0);
  if (c0 < 0x80) {
    return {c0, 1, true};
  }
  if (c0 >= 0xc2 && c0 <= 0xdf && cont(1)) {
    return {static_cast<uint32_t>((c0 & 0x1f) << 6 | (b(1) & 0x3f)), 2, true};
  }
  if (c0 >= 0xe0 && c0 <= 0xef && cont(1) && cont(2)) {
    uint32_t cp = (c0 & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f);
    if (cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) {
      return {cp, 3, true};
    }
    return r;
  }
  if (c0 >= 0xf0 && c0 <= 0xf4 && cont(1) && cont(2) && cont(3)) {
    uint32_t cp = (c0 & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f);
    if (cp >= 0x10000 && cp <= 0x10ffff) {
      return {cp, 4, true};
    }
  }
  return r;
}

// Go's unicode.IsPrint for code points above ASCII, approximated by the ranges that are not
// graphic and that a name, namespace, UID or audience could plausibly carry (see the header).
bool isPrintNonAscii(uint32_t cp) {
  struct Range {
    uint32_t lo, hi;
  };
  static constexpr Range kNotPrint[] = {
      {0x80, 0xa0},     {0xad, 0xad},     {0x600, 0x605},     {0x61c, 0x61c},      {0x6dd, 0x6dd},
      {0x70f, 0x70f},   {0x1680, 0x1680}, {0x180e, 0x180e},   {0x2000, 0x200f},    {0x2028, 0x202f},
      {0x205f, 0x2064}, {0x2066, 0x206f}, {0x3000, 0x3000},   {0xd800, 0xf8ff},    {0xfeff, 0xfeff},
      {0xfff9, 0xfffb}, {0xfffe, 0xffff}, {0xe0001, 0xe007f}, {0xf0000, 0x10ffff},
  };
  for (const Range& r : kNotPrint) {
    if (cp >= r.lo && cp <= r.hi) {
      return false;
    }
  }
  return true;
}

core::Status wrongType(const char* field, const char* want) {
  return core::invalidArgument(std::string("TokenRequest ") + field + " is not " + want);
}

}  // namespace

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  while (!s.empty()) {
    Rune r = decodeRune(s);
    if (!r.ok) {
      out += "\\x";
      appendHex(out, static_cast<uint8_t>(s[0]), 2);
      s.remove_prefix(1);
      continue;
    }
    const uint32_t cp = r.cp;
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp >= 0x20 && cp < 0x7f) {
      out += static_cast<char>(cp);
    } else if (cp >= 0x80 && isPrintNonAscii(cp)) {
      out.append(s.substr(0, r.width));
    } else {
      switch (cp) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (cp < 0x20 || cp == 0x7f) {
            out += "\\x";
            appendHex(out, cp, 2);
          } else if (cp < 0x10000) {
            out += "\\u";
            appendHex(out, cp, 4);
          } else {
            out += "\\U";
            appendHex(out, cp, 8);
          }
      }
    }
    s.remove_prefix(r.width);
  }
  out += '"';
  return out;
}

core::Result<std::string> serviceAccountTokenKey(std::string_view name, std::string_view ns,
                                                 const json& token_request) {
  if (!token_request.is_object()) {
    return core::invalidArgument("TokenRequest is not a JSON object");
  }
  static const json kNull;
  auto it = token_request.find("spec");
  const json& spec = it == token_request.end() ? kNull : *it;
  if (!spec.is_null() && !spec.is_object()) {
    return wrongType("spec", "an object");
  }
  auto field = [&](const char* key) -> const json& {
    if (!spec.is_object()) {
      return kNull;
    }
    auto f = spec.find(key);
    return f == spec.end() ? kNull : *f;
  };
  // []string(nil) for an absent or null list (Go's json leaves the slice nil), []string{} for
  // an empty one.
  std::string audiences;
  const json& auds = field("audiences");
  if (auds.is_null()) {
    audiences = "[]string(nil)";
  } else if (auds.is_array()) {
    audiences = "[]string{";
    for (size_t i = 0; i < auds.size(); ++i) {
      if (!auds[i].is_string()) {
        return wrongType("spec.audiences", "a list of strings");
      }
      audiences += (i == 0 ? "" : ", ") + goQuote(auds[i].get_ref<const std::string&>());
    }
    audiences += "}";
  } else {
    return wrongType("spec.audiences", "a list");
  }
  int64_t expiration = 0;
  const json& exp = field("expirationSeconds");
  if (exp.is_number_integer()) {
    expiration = exp.get<int64_t>();
  } else if (!exp.is_null()) {
    return wrongType("spec.expirationSeconds", "an integer");
  }
  const json& ref = field("boundObjectRef");
  if (!ref.is_null() && !ref.is_object()) {
    return wrongType("spec.boundObjectRef", "an object");
  }
  auto refField = [&](const char* key) -> core::Result<std::string> {
    if (!ref.is_object()) {
      return goQuote("");
    }
    auto f = ref.find(key);
    if (f == ref.end() || f->is_null()) {
      return goQuote("");
    }
    if (!f->is_string()) {
      return wrongType("spec.boundObjectRef field", "a string");
    }
    return goQuote(f->get_ref<const std::string&>());
  };
  EC_ASSIGN_OR_RETURN(std::string kind, refField("kind"));
  EC_ASSIGN_OR_RETURN(std::string api_version, refField("apiVersion"));
  EC_ASSIGN_OR_RETURN(std::string ref_name, refField("name"));
  EC_ASSIGN_OR_RETURN(std::string uid, refField("uid"));
  std::string key = goQuote(name);
  key += "/";
  key += goQuote(ns);
  key += "/";
  key += audiences;
  key += "/";
  key += std::to_string(expiration);
  key += "/v1.BoundObjectReference{Kind:" + kind + ", APIVersion:" + api_version +
         ", Name:" + ref_name + ", UID:" + uid + "}";
  return key;
}

core::Result<std::string> serviceAccountTokenKeyOf(std::string_view resource,
                                                   const json& token_request) {
  size_t first = resource.find('/');
  size_t second = first == std::string_view::npos ? first : resource.find('/', first + 1);
  if (second == std::string_view::npos ||
      resource.find('/', second + 1) != std::string_view::npos) {
    return core::invalidArgument("want <namespace>/serviceaccounttoken/<name>");
  }
  return serviceAccountTokenKey(resource.substr(second + 1), resource.substr(0, first),
                                token_request);
}

core::Result<core::WallTime> tokenExpiry(const json& token_request) {
  if (!token_request.is_object()) {
    return core::invalidArgument("TokenRequest is not a JSON object");
  }
  auto status = token_request.find("status");
  if (status == token_request.end() || !status->is_object()) {
    return core::invalidArgument("TokenRequest has no status");
  }
  auto token = status->find("token");
  if (token == status->end() || !token->is_string() ||
      token->get_ref<const std::string&>().empty()) {
    return core::invalidArgument("TokenRequest has no status.token");
  }
  auto exp = status->find("expirationTimestamp");
  if (exp == status->end() || !exp->is_string()) {
    return core::invalidArgument("TokenRequest has no status.expirationTimestamp");
  }
  return core::parseRfc3339(exp->get_ref<const std::string&>());
}

}  // namespace edgecore::metamanager
