#include "translate.h"

#include <cctype>
#include <map>

#include "edgecore/core/base64.h"

namespace edgecore::servicebus {

namespace {

using json = nlohmann::json;

constexpr std::string_view kServerHeader = "kubeedge-edgecore";

bool tokenChar(unsigned char c) {
  if (std::isalnum(c) != 0) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Header values may hold visible ASCII, spaces, tabs and obs-text; never CR, LF or NUL (Go's
// httpguts.ValidHeaderFieldValue).
bool validHeaderValue(std::string_view v) {
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

// Headers Go's request writer sets itself and never copies from Request.Header.
bool writerOwned(std::string_view canonical) {
  return canonical == "Host" || canonical == "Content-Length" || canonical == "Transfer-Encoding" ||
         canonical == "Trailer" || canonical == "Connection";
}

ParsedCall fail(int code, std::string text) {
  ParsedCall p;
  p.error = {code, std::move(text)};
  return p;
}

// http.Header as Go marshals it: keys sorted (a Go map), each with its list of values.
json headerJson(const HeaderList& headers) {
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& [k, v] : headers) {
    by_key[k].push_back(v);
  }
  json out = json::object();
  for (auto& [k, values] : by_key) {
    out[k] = values;
  }
  return out;
}

core::Message replyShell(const core::Message& request) {
  core::Message m =
      core::Message::create(core::names::kServiceBusModule, core::names::kUserGroup, "", "");
  m.header.parent_id = request.header.id;
  return m;
}

json httpResponseContent(const HeaderList& headers, int status, std::string_view body) {
  nlohmann::ordered_json c;
  c["header"] = headerJson(headers);
  c["status_code"] = status;
  c["body"] = core::base64Encode(body);
  return core::rawJsonContent(core::encodeOrderedJsonValue(c));
}

}  // namespace

// A header name has the syntax of a method: an RFC 9110 token.
bool validMethod(std::string_view method) {
  if (method.empty()) {
    return false;
  }
  for (unsigned char c : method) {
    if (!tokenChar(c)) {
      return false;
    }
  }
  return true;
}

bool validPath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

bool validPort(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return false;
  }
  int n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
    n = n * 10 + (c - '0');
  }
  return n >= 1 && n <= 65535;
}

std::string canonicalHeaderKey(std::string_view name) {
  for (unsigned char c : name) {
    if (!tokenChar(c)) {
      return std::string(name);
    }
  }
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    c = upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
              : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

ParsedCall parseRuleRequest(const core::Message& request, size_t max_body) {
  const std::string& resource = request.route.resource;
  // Go: strings.Split(resource, ":") must give exactly two parts.
  const size_t colon = resource.find(':');
  if (colon == std::string::npos || resource.find(':', colon + 1) != std::string::npos) {
    return fail(400, "the format of resource " + resource + " is incorrect");
  }
  if (request.content.is_null()) {
    return fail(400, "error to marshal request msg content");
  }
  json content = core::parseJsonBounded(request.contentData());
  if (content.is_discarded() || !content.is_object()) {
    return fail(400, "error to parse http request");
  }
  ParsedCall p;
  LocalCall& call = p.call;
  call.port = resource.substr(0, colon);
  call.path = resource.substr(colon + 1);
  if (auto it = content.find("method"); it != content.end() && !it->is_null()) {
    if (!it->is_string()) {
      return fail(400, "error to parse http request");
    }
    call.method = it->get<std::string>();
  }
  if (auto it = content.find("body"); it != content.end() && !it->is_null()) {
    if (!it->is_string()) {
      return fail(400, "error to parse http request");
    }
    const std::string& text = it->get_ref<const std::string&>();
    // Checked before decoding: base64 grows 4/3, so the text bounds the bytes it yields.
    if (text.size() / 4 * 3 > max_body + 2) {
      return fail(400,
                  "error to parse http request: body over " + std::to_string(max_body) + " bytes");
    }
    auto bytes = core::base64Decode(text);
    if (!bytes) {
      return fail(400, "error to parse http request");
    }
    if (bytes->size() > max_body) {
      return fail(400,
                  "error to parse http request: body over " + std::to_string(max_body) + " bytes");
    }
    call.body = std::move(*bytes);
  }
  bool has_accept = false;
  if (auto it = content.find("header"); it != content.end() && !it->is_null()) {
    if (!it->is_object()) {
      return fail(400, "error to parse http request");
    }
    for (const auto& [key, values] : it->items()) {
      if (values.is_null()) {
        continue;
      }
      if (!values.is_array()) {
        return fail(400, "error to parse http request");
      }
      for (const auto& v : values) {
        if (!v.is_string()) {
          return fail(400, "error to parse http request");
        }
      }
      // Go looks up "Accept" exactly in the map the cloud sent.
      if (key == "Accept") {
        has_accept = true;
      }
      const std::string name = canonicalHeaderKey(key);
      if (writerOwned(name)) {
        continue;
      }
      for (const auto& v : values) {
        const std::string& value = v.get_ref<const std::string&>();
        // Go's transport refuses such headers: the call fails before it is made.
        if (!validMethod(name) || !validHeaderValue(value)) {
          return fail(404, "error to call service");
        }
        call.headers.emplace_back(name, value);
      }
    }
  }
  if (!has_accept) {
    call.headers.emplace_back("Accept", "*/*");
  }
  // Go's http.NewRequest takes "" as GET and refuses a method that is not a token; a bad port
  // or path makes the URL unparsable. Both fail inside HTTPDo, hence 404 there.
  if (call.method.empty()) {
    call.method = "GET";
  }
  if (call.path.empty()) {  // "http://127.0.0.1:<port>" asks for "/"
    call.path = "/";
  }
  if (!validMethod(call.method) || !validPort(call.port) || !validPath(call.path)) {
    return fail(404, "error to call service");
  }
  p.ok = true;
  return p;
}

core::Message buildResponse(const core::Message& request, const LocalAnswer& answer) {
  core::Message m = replyShell(request);
  m.route.operation = std::string(core::op::kUpload);
  m.content = httpResponseContent(answer.headers, answer.status, answer.body);
  return m;
}

core::Message buildErrorResponse(const core::Message& request, const CallError& error) {
  core::Message m = replyShell(request);
  m.content = httpResponseContent({{"Server", std::string(kServerHeader)}}, error.code, error.text);
  return m;
}

std::string serverAnswer(int code, std::string_view msg, std::string_view body) {
  nlohmann::ordered_json j;
  j["code"] = code;
  j["msg"] = msg;
  j["body"] = body;
  return core::encodeOrderedJsonValue(j);
}

std::optional<std::string> parseServerRequest(std::string_view body) {
  json j = core::parseJsonBounded(body);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  if (j.is_null()) {  // Go: unmarshalling null into a struct is a no-op
    return std::string();
  }
  if (!j.is_object()) {
    return std::nullopt;
  }
  for (const char* key : {"method", "targetURL"}) {
    if (auto it = j.find(key); it != j.end() && !it->is_null() && !it->is_string()) {
      return std::nullopt;
    }
  }
  auto it = j.find("targetURL");
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}

}  // namespace edgecore::servicebus
