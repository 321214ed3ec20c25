#include "connect_request.h"

#include <nlohmann/json.hpp>

#include "edgecore/core/message.h"

namespace edgecore::edgestream {

namespace {

using nlohmann::json;

bool isTokenChar(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

// A header value may hold any visible byte, spaces and tabs, but no CR, LF or NUL.
bool isFieldValue(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\r' || u == '\n' || u == 0) return false;
  }
  return true;
}

// Request-target bytes: visible ASCII, no spaces, no controls.
bool isTargetSafe(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

std::string stringField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string escapePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    bool keep = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
    if (!keep) {
      switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':
        case '*':
        case '+':
        case ',':
        case ';':
        case '=':
        case ':':
        case '@':
        case '/':
          keep = true;
          break;
        default:
          break;
      }
    }
    if (keep) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

core::Result<ConnectRequest> parseConnectRequest(std::string_view json_text) {
  json j = core::parseJsonBounded(json_text);
  if (j.is_discarded() || !j.is_object()) {
    return core::invalidArgument("connect message is not a JSON object");
  }
  ConnectRequest req;
  if (auto it = j.find("MessID"); it != j.end() && it->is_number_unsigned()) {
    req.mess_id = it->get<uint64_t>();
  }
  auto url = j.find("url");
  if (url == j.end() || !url->is_object()) {
    return core::invalidArgument("connect message has no url object");
  }
  req.host = stringField(*url, "Host");
  std::string raw_path = stringField(*url, "RawPath");
  std::string path = raw_path.empty() ? escapePath(stringField(*url, "Path")) : raw_path;
  if (path.empty() || path.front() != '/') {
    return core::invalidArgument("connect url path must start with '/'");
  }
  std::string raw_query = stringField(*url, "RawQuery");
  bool force_query = false;
  if (auto it = url->find("ForceQuery"); it != url->end() && it->is_boolean()) {
    force_query = it->get<bool>();
  }
  req.target = path;
  if (!raw_query.empty() || force_query) {
    req.target += "?" + raw_query;
  }
  if (!isTargetSafe(req.target)) {
    return core::invalidArgument("connect url holds bytes not allowed in a request target");
  }
  req.method = stringField(j, "method");
  if (req.method.empty()) {
    req.method = "GET";
  }
  if (!isToken(req.method)) {
    return core::invalidArgument("connect method is not an HTTP token");
  }
  if (auto h = j.find("header"); h != j.end() && h->is_object()) {
    for (const auto& [name, values] : h->items()) {
      if (!isToken(name) || !values.is_array()) {
        continue;
      }
      for (const auto& v : values) {
        if (v.is_string() && isFieldValue(v.get_ref<const std::string&>())) {
          req.headers.emplace_back(name, v.get<std::string>());
        }
      }
    }
  }
  return req;
}

std::string buildRequestHead(const ConnectRequest& req, std::string_view authority,
                             bool force_identity) {
  std::string out;
  out.reserve(256);
  out += req.method;
  out += ' ';
  out += req.target;
  out += " HTTP/1.1\r\nHost: ";
  out += authority;
  out += "\r\n";
  bool has_agent = false;
  for (const auto& [name, value] : req.headers) {
    if (equalsIgnoreCase(name, "Host")) {
      continue;
    }
    if (force_identity && equalsIgnoreCase(name, "Accept-Encoding")) {
      continue;
    }
    if (equalsIgnoreCase(name, "User-Agent")) {
      has_agent = true;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (force_identity) {
    out += "Accept-Encoding: identity\r\n";
  }
  if (!has_agent) {
    out += "User-Agent: edgecore-cpp\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace edgecore::edgestream
