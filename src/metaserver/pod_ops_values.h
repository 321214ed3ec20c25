#pragma once

// Checks on the values of a keadm/kubectl request that MetaServer copies into the request it
// sends on to edged (pod logs: GET /containerLogs/<ns>/<pod>/<container>?<params>). They arrive
// percent-decoded, so "a%0d%0aX-Injected:%20y" is a CR LF and a header line of the attacker's
// choosing once spliced into the target. Every such value is refused when it holds a control
// byte; a path segment also when it holds '/', '?', '#' or '%' or is "." or "..", which would
// change the path edged routes on. The caller answers 400 with a Kubernetes Status. Pure.

#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::metaserver {

// InvalidArgument naming `what` (e.g. "query parameter sinceTime") when `value` has a byte below
// 0x20 or 0x7f (CR, LF, NUL, TAB and the rest). The value itself is not echoed.
core::Status checkNoControlBytes(std::string_view what, std::string_view value);

// checkNoControlBytes, plus: not empty, not "." or "..", and none of '/', '?', '#', '%'.
core::Status checkPathSegment(std::string_view what, std::string_view value);

// RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percentEncode(std::string_view value);

}  // namespace edgecore::metaserver
