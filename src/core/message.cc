#include "edgecore/core/message.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <vector>

#include "edgecore/core/base64.h"

namespace edgecore::core {

namespace {

using json = nlohmann::json;

constexpr char kHexDigits[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence at p[0..n), or 0 when it is not one. Same acceptance
// as Go's utf8.DecodeRune: no overlongs, no surrogates, nothing above U+10FFFF, no truncation.
size_t utf8SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) {
    return 1;
  }
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) {
    return cont(1) ? 2 : 0;
  }
  if (c == 0xE0) {
    return cont(1, 0xA0) && cont(2) ? 3 : 0;
  }
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (c == 0xED) {  // U+D000..U+D7FF only; ED A0.. would be a surrogate
    return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  }
  if (c == 0xF0) {
    return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  }
  if (c >= 0xF1 && c <= 0xF3) {
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  if (c == 0xF4) {
    return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Encoding: our own writer, because nlohmann's dump neither escapes the way Go does ("<" ">" "&",
// U+2028/9, \b \f) nor formats floats like Go, and it throws on invalid UTF-8.

void appendEscapedString(std::string& out, std::string_view s) {
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t start = 0;  // first byte not yet copied
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = utf8SequenceLength(p + i, n - i);
      const bool line_sep = len == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] & 0xFE) == 0xA8;
      if (len != 0 && !line_sep) {
        i += len;
        continue;
      }
      out.append(s.data() + start, i - start);
      if (len == 0) {
        out.append("\\ufffd");  // Go: one replacement per invalid byte
        i += 1;
      } else {
        out.append(p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
        i += 3;
      }
      start = i;
      continue;
    }
    const bool plain = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
    if (plain) {
      ++i;
      continue;
    }
    out.append(s.data() + start, i - start);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':  // Go >= 1.22; older Go wrote \u0008 and \u000c
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:  // other control characters and < > &
        out.append("\\u00");
        out.push_back(kHexDigits[c >> 4]);
        out.push_back(kHexDigits[c & 0xF]);
        break;
    }
    ++i;
    start = i;
  }
  out.append(s.data() + start, n - start);
  out.push_back('"');
}

// Go's encoding/json float64 format: shortest round-trip digits; plain notation for
// 1e-6 <= |f| < 1e21, else exponent notation with a two-digit minimum exponent cut to one digit
// for negative exponents ("1e-07" -> "1e-7"). NaN and infinities cannot come from JSON text; Go
// refuses to encode them, we write null so encoding never fails.
void appendGoFloat(std::string& out, double f) {
  if (!std::isfinite(f)) {
    out.append("null");
    return;
  }
  const double abs = std::fabs(f);
  const bool exponent = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  std::array<char, 64> buf;
  const auto res =
      std::to_chars(buf.data(), buf.data() + buf.size(), f,
                    exponent ? std::chars_format::scientific : std::chars_format::fixed);
  size_t len = static_cast<size_t>(res.ptr - buf.data());
  if (exponent && len >= 4 && buf[len - 4] == 'e' && buf[len - 3] == '-' && buf[len - 2] == '0') {
    buf[len - 2] = buf[len - 1];
    --len;
  }
  out.append(buf.data(), len);
}

void appendBase64(std::string& out, const std::vector<std::uint8_t>& bytes) {
  out.push_back('"');
  out += base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  out.push_back('"');
}

template <typename Int>
void appendInt(std::string& out, Int v) {
  std::array<char, 24> buf;
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), res.ptr);
}

// Recursive; values built by decodeMessage are at most kMaxJsonDepth deep. `Json` is json
// (std::map: byte order, as Go sorts map keys) or ordered_json (insertion order, as Go writes a
// struct's fields).
template <typename Json>
void appendValue(std::string& out, const Json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        appendEscapedString(out, key);
        out.push_back(':');
        appendValue(out, item);
      }
      out.push_back('}');
      break;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        appendValue(out, item);
      }
      out.push_back(']');
      break;
    }
    case json::value_t::string:
      appendEscapedString(out, v.template get_ref<const std::string&>());
      break;
    case json::value_t::boolean:
      out.append(v.template get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
      appendInt(out, v.template get<std::int64_t>());
      break;
    case json::value_t::number_unsigned:
      appendInt(out, v.template get<std::uint64_t>());
      break;
    case json::value_t::number_float:
      appendGoFloat(out, v.template get<double>());
      break;
    case json::value_t::binary: {
      const auto& bin = v.get_binary();
      if (bin.has_subtype() && bin.subtype() == kRawJsonSubtype) {  // rawJsonContent
        out.append(bin.begin(), bin.end());
      } else {  // Go marshals []byte as a base64 string
        appendBase64(out, bin);
      }
      break;
    }
    case json::value_t::null:
    case json::value_t::discarded:
    default:
      out.append("null");
      break;
  }
}

void appendStringField(std::string& out, bool& first, std::string_view key, std::string_view value,
                       bool omit_empty) {
  if (omit_empty && value.empty()) {
    return;
  }
  if (!first) {
    out.push_back(',');
  }
  first = false;
  out.push_back('"');
  out.append(key);
  out.append("\":");
  appendEscapedString(out, value);
}

// ---------------------------------------------------------------------------------------------
// Decoding.

int hexValue(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// The code unit of a "\uXXXX" escape starting at p[i] (the backslash), or -1.
int escapedUnit(const unsigned char* p, size_t n, size_t i) {
  if (i + 6 > n || p[i] != '\\' || p[i + 1] != 'u') {
    return -1;
  }
  int v = 0;
  for (size_t k = 2; k < 6; ++k) {
    const int h = hexValue(p[i + k]);
    if (h < 0) {
      return -1;
    }
    v = v * 16 + h;
  }
  return v;
}

// One pass over the raw text before nlohmann sees it. Enforces kMaxJsonDepth (nlohmann builds
// the tree without recursion, but our writer, copies and callers' walks recurse) and rewrites
// what Go's decoder tolerates but nlohmann rejects: invalid UTF-8 bytes and "\u" escapes of lone
// surrogates both become U+FFFD, as in Go. `fixed` is filled only when a rewrite was needed.
Status prescan(std::string_view text, std::string& fixed, bool& needs_fix) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  needs_fix = false;
  int depth = 0;
  bool in_string = false;
  size_t copied = 0;  // bytes of text already appended to fixed
  auto replace = [&](size_t from, size_t len, std::string_view with) {
    if (!needs_fix) {
      needs_fix = true;
      fixed.reserve(n + 16);
    }
    fixed.append(text.data() + copied, from - copied);
    fixed.append(with);
    copied = from + len;
  };
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        replace(i, 1, "\xEF\xBF\xBD");
        ++i;
      } else {
        i += len;
      }
      continue;
    }
    if (!in_string) {
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (++depth > kMaxJsonDepth) {
          return invalidArgument("message JSON nested deeper than " +
                                 std::to_string(kMaxJsonDepth) + " levels");
        }
      } else if (c == '}' || c == ']') {
        --depth;
      }
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = false;
      ++i;
      continue;
    }
    if (c != '\\') {
      ++i;
      continue;
    }
    const int unit = escapedUnit(p, n, i);
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int low = escapedUnit(p, n, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 12;  // a proper pair
      } else {
        replace(i, 6, "\\ufffd");
        i += 6;
      }
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      replace(i, 6, "\\ufffd");
      i += 6;
    } else {
      i += 2;  // any other escape; its remaining characters are plain ASCII
    }
  }
  if (needs_fix) {
    fixed.append(text.data() + copied, n - copied);
  }
  return {};
}

bool asciiEqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<unsigned char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<unsigned char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

// Go matches struct field names exactly first, then case-insensitively. (Go lets the last of
// several matching keys in document order win; nlohmann keeps keys sorted, so among several
// case-variants we take the exact one, else the first in byte order.)
json* findField(json& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it != obj.end()) {
    return &*it;
  }
  for (auto& [key, value] : obj.items()) {
    if (asciiEqualFold(key, name)) {
      return &value;
    }
  }
  return nullptr;
}

std::string_view typeName(const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "bool";
    case json::value_t::number_float:
      return "non-integer number";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "number";
    default:
      return "null";
  }
}

Status wrongType(std::string_view key, std::string_view want, const json& got) {
  return invalidArgument("message key \"" + std::string(key) + "\": want " + std::string(want) +
                         ", got " + std::string(typeName(got)));
}

Status readString(json& obj, std::string_view name, std::string_view path, std::string& out) {
  json* v = findField(obj, name);
  if (v == nullptr || v->is_null()) {
    return {};
  }
  if (!v->is_string()) {
    return wrongType(path, "string", *v);
  }
  out = std::move(v->get_ref<std::string&>());
  return {};
}

Status decodeHeader(json& h, MessageHeader& out) {
  EC_RETURN_IF_ERROR(readString(h, "msg_id", "header.msg_id", out.id));
  EC_RETURN_IF_ERROR(readString(h, "parent_msg_id", "header.parent_msg_id", out.parent_id));
  EC_RETURN_IF_ERROR(
      readString(h, "resourceversion", "header.resourceversion", out.resource_version));
  EC_RETURN_IF_ERROR(readString(h, "type", "header.type", out.type));
  if (json* ts = findField(h, "timestamp"); ts != nullptr && !ts->is_null()) {
    // Go parses the literal with ParseInt: no fraction, no exponent, must fit int64.
    if (ts->is_number_integer() && !ts->is_number_unsigned()) {
      out.timestamp_ms = ts->get<std::int64_t>();
    } else if (ts->is_number_unsigned() &&
               ts->get<std::uint64_t>() <=
                   static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      out.timestamp_ms = static_cast<std::int64_t>(ts->get<std::uint64_t>());
    } else {
      return wrongType("header.timestamp", "int64", *ts);
    }
  }
  if (json* sync = findField(h, "sync"); sync != nullptr && !sync->is_null()) {
    if (!sync->is_boolean()) {
      return wrongType("header.sync", "bool", *sync);
    }
    out.sync = sync->get<bool>();
  }
  return {};
}

Status decodeRoute(json& r, MessageRoute& out) {
  EC_RETURN_IF_ERROR(readString(r, "source", "route.source", out.source));
  EC_RETURN_IF_ERROR(readString(r, "destination", "route.destination", out.destination));
  EC_RETURN_IF_ERROR(readString(r, "group", "route.group", out.group));
  EC_RETURN_IF_ERROR(readString(r, "operation", "route.operation", out.operation));
  EC_RETURN_IF_ERROR(readString(r, "resource", "route.resource", out.resource));
  return {};
}

Result<Message> decodeParsed(json& root) {
  if (!root.is_object()) {
    return invalidArgument("message JSON is a " + std::string(typeName(root)) + ", want an object");
  }
  Message msg;
  if (json* h = findField(root, "header"); h != nullptr && !h->is_null()) {
    if (!h->is_object()) {
      return wrongType("header", "object", *h);
    }
    EC_RETURN_IF_ERROR(decodeHeader(*h, msg.header));
  }
  if (json* r = findField(root, "route"); r != nullptr && !r->is_null()) {
    if (!r->is_object()) {
      return wrongType("route", "object", *r);
    }
    EC_RETURN_IF_ERROR(decodeRoute(*r, msg.route));
  }
  if (json* c = findField(root, "content"); c != nullptr) {
    msg.content = std::move(*c);
  }
  return msg;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Message Message::create(std::string_view source, std::string_view group, std::string_view operation,
                        std::string_view resource, nlohmann::json content) {
  Message msg;
  msg.header.id = newUuidV4();
  msg.header.timestamp_ms = nowUnixMillis();
  msg.route.source = source;
  msg.route.group = group;
  msg.route.operation = operation;
  msg.route.resource = resource;
  msg.content = std::move(content);
  return msg;
}

Message Message::makeResponse(nlohmann::json content) const {
  Message resp =
      create(route.source, route.group, op::kResponse, route.resource, std::move(content));
  resp.header.parent_id = header.id;
  resp.header.type = header.type;
  return resp;
}

Message Message::makeError(std::string_view error_text) const {
  Message err = create("", "", op::kError, route.resource, std::string(error_text));
  err.header.parent_id = header.id;
  return err;
}

std::string Message::contentData() const {
  if (content.is_string()) {
    return content.get_ref<const std::string&>();
  }
  if (content.is_binary()) {  // Go hands back a []byte as it stands
    const auto& bytes = content.get_binary();
    return std::string(bytes.begin(), bytes.end());
  }
  return encodeJsonValue(content);
}

bool jsonNestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return false;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

nlohmann::json parseJsonBounded(std::string_view text, int max_depth) {
  if (!jsonNestingWithin(text, max_depth)) {
    return json(json::value_t::discarded);
  }
  try {
    return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {  // bad_alloc
    return json(json::value_t::discarded);
  }
}

std::string encodeJsonValue(const nlohmann::json& value) {
  std::string out;
  appendValue(out, value);
  return out;
}

std::string encodeOrderedJsonValue(const nlohmann::ordered_json& value) {
  std::string out;
  out.reserve(128);
  appendValue(out, value);
  return out;
}

nlohmann::json rawJsonContent(std::string_view json_text) {
  return json::binary(std::vector<std::uint8_t>(json_text.begin(), json_text.end()),
                      kRawJsonSubtype);
}

std::string encodeMessage(const Message& msg) {
  std::string out;
  out.reserve(256);
  out.append("{\"header\":{\"msg_id\":");
  appendEscapedString(out, msg.header.id);
  bool first = false;
  appendStringField(out, first, "parent_msg_id", msg.header.parent_id, true);
  out.append(",\"timestamp\":");
  appendInt(out, msg.header.timestamp_ms);
  appendStringField(out, first, "resourceversion", msg.header.resource_version, true);
  if (msg.header.sync) {
    out.append(",\"sync\":true");
  }
  appendStringField(out, first, "type", msg.header.type, true);
  out.append("},\"route\":{");
  first = true;
  appendStringField(out, first, "source", msg.route.source, true);
  appendStringField(out, first, "destination", msg.route.destination, true);
  appendStringField(out, first, "group", msg.route.group, true);
  appendStringField(out, first, "operation", msg.route.operation, true);
  appendStringField(out, first, "resource", msg.route.resource, true);
  out.append("},\"content\":");
  appendValue(out, msg.content);
  out.push_back('}');
  return out;
}

Result<Message> decodeMessage(std::string_view json_text) {
  try {
    std::string fixed;
    bool needs_fix = false;
    EC_RETURN_IF_ERROR(prescan(json_text, fixed, needs_fix));
    const std::string_view text = needs_fix ? std::string_view(fixed) : json_text;
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      return invalidArgument(std::string("message is not valid JSON: ") + e.what());
    }
    return decodeParsed(root);
  } catch (const std::bad_alloc&) {
    return resourceExhausted("out of memory decoding message");
  } catch (const std::exception& e) {
    return invalidArgument(std::string("message decode failed: ") + e.what());
  }
}

std::string newUuidV4() {
  // RAND_bytes costs about a microsecond per call (locking, DRBG reseed checks), which showed at
  // 8% of the CPU of the twin update path (four ids per update): take the bytes from a
  // per-thread pool refilled 64 ids at a time. The pool is dropped in a forked child, whose
  // copy would otherwise repeat the parent's ids.
  struct Pool {
    std::array<unsigned char, 16 * 64> bytes;
    size_t used = 16 * 64;
    pid_t pid = 0;
  };
  thread_local Pool pool;
  if (pool.used == pool.bytes.size() || pool.pid != ::getpid()) {
    EC_CHECK(RAND_bytes(pool.bytes.data(), static_cast<int>(pool.bytes.size())) == 1,
             "RAND_bytes failed");
    pool.used = 0;
    pool.pid = ::getpid();
  }
  std::array<unsigned char, 16> b;
  std::memcpy(b.data(), pool.bytes.data() + pool.used, b.size());
  std::memset(pool.bytes.data() + pool.used, 0, b.size());
  pool.used += b.size();
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out.push_back('-');
    }
    out.push_back(kHexDigits[b[i] >> 4]);
    out.push_back(kHexDigits[b[i] & 0xF]);
  }
  return out;
}

int64_t nowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace edgecore::core
