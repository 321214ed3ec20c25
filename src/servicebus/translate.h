#pragma once

// The pure half of servicebus's cloud -> local service flow (docs/node-tasks.md 7.3): the rule
// request message from the cloud router becomes a LocalCall, and what the local service answered
// (or why it could not) becomes the response message for the cloud. No I/O; any thread.
// Mirrors edge/pkg/servicebus/servicebus.go processMessage / buildErrorResponse @ v1.20.0 and
// the JSON shapes of common/types/http.go (HTTPRequest, HTTPResponse).

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edgecore/core/message.h"

namespace edgecore::servicebus {

// Go's http.Header as a flat list, in the order the values are to be written.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One HTTP call to a service on this node: http://127.0.0.1:<port><path>.
struct LocalCall {
  std::string port;
  std::string path;
  std::string method;
  HeaderList headers;  // with Accept: */* added when the cloud sent none
  std::string body;
};

// What the local service answered.
struct LocalAnswer {
  int status = 0;
  HeaderList headers;
  std::string body;
};

// A failed translation or call: the HTTP code and text of the error reply.
struct CallError {
  int code = 400;
  std::string text;
};

// Parses a rule request (source router_servicebus, op = an HTTP method, resource
// "<port>:<path>", content HTTPRequest). `max_body` bounds the decoded request body. Either the
// call or the error to send back (400 for a bad resource, content or body). Never throws.
struct ParsedCall {
  bool ok = false;
  LocalCall call;
  CallError error;
};
ParsedCall parseRuleRequest(const core::Message& request, size_t max_body);

// Whether `method` is an HTTP token (RFC 9110), as Go's http.NewRequest requires.
bool validMethod(std::string_view method);
// Whether `path` may go on a request line: starts with '/', no spaces or control characters.
bool validPath(std::string_view path);
// Whether `port` is a decimal TCP port 1..65535.
bool validPort(std::string_view port);

// Go's textproto.CanonicalMIMEHeaderKey for ASCII names: "content-type" -> "Content-Type".
// Names with a space or other non-token byte are returned unchanged, as Go does.
std::string canonicalHeaderKey(std::string_view name);

// The reply for the cloud: parent_id = request id, source "servicebus", group "user", resource
// "", operation "upload", content HTTPResponse {header, status_code, body (base64)}.
core::Message buildResponse(const core::Message& request, const LocalAnswer& answer);
// The error reply: same parent, source and group, no resource and no operation, content
// HTTPResponse with header Server: kubeedge-edgecore, the code, and `text` as the body.
core::Message buildErrorResponse(const core::Message& request, const CallError& error);

// The local server's answer body (docs/node-tasks.md 7.4): {"code":N,"msg":...,"body":...},
// Go struct order and escaping.
std::string serverAnswer(int code, std::string_view msg, std::string_view body);

// A local app's request body {"method":string,"targetURL":string,"payload":any}: the targetURL,
// or nullopt when the text is not such JSON (Go's json.Unmarshal into the struct failing).
std::optional<std::string> parseServerRequest(std::string_view body);

}  // namespace edgecore::servicebus
