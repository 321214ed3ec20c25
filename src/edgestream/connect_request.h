#pragma once

// The JSON body of LOGS/EXEC/METRIC/ATTACH_CONNECT frames (spec 6.2): Go's EdgedLogsConnection
// and friends, marshalled with their Go field names (`MessID`, `url` as a net/url.URL field by
// field, `header` as http.Header, `method` for exec/attach). Parsed leniently (unknown keys
// ignored, missing ones defaulted) and turned into the HTTP request edgestream sends to the local
// edged server. Pure; no I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgecore/core/status.h"

namespace edgecore::edgestream {

struct ConnectRequest {
  uint64_t mess_id = 0;
  std::string method;  // "GET" when absent (logs, metrics)
  std::string host;    // the URL's Host as the cloud sent it (informational: see docs)
  std::string target;  // escaped path plus "?RawQuery": what goes on the request line
  std::vector<std::pair<std::string, std::string>> headers;  // one entry per value
};

// InvalidArgument when the text is not a JSON object, `url` is missing or not an object, the
// path does not start with "/", or the method/path/header values hold bytes that cannot go on an
// HTTP/1.1 request line or header (CR, LF, NUL, spaces in the method...). Headers with unusable
// names or values are dropped, not fatal.
core::Result<ConnectRequest> parseConnectRequest(std::string_view json_text);

// Escapes a decoded URL path the way Go's url.URL.EscapedPath does for the characters that
// matter (everything outside unreserved, sub-delims, ':', '@', '/' becomes %XX).
std::string escapePath(std::string_view path);

// The request head written to the local server: "<METHOD> <target> HTTP/1.1", Host: `authority`,
// the cloud's headers (minus Host, and minus Accept-Encoding, replaced by identity when
// `force_identity`), a User-Agent when absent, then CRLF CRLF.
std::string buildRequestHead(const ConnectRequest& req, std::string_view authority,
                             bool force_identity);

}  // namespace edgecore::edgestream
