#include "request_info.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <vector>

namespace edgecore::metaserver {
namespace {

using core::invalidArgument;
using core::Result;
using core::Status;

// A path segment usable as a group, version, namespace, resource or name.
Status checkSegment(std::string_view s) {
  if (s.empty() || s == "." || s == "..") {
    return invalidArgument("invalid path segment \"" + std::string(s) + "\"");
  }
  for (unsigned char c : s) {
    if (c == '/' || c == '%' || c < 0x20 || c == 0x7f) {
      return invalidArgument("path segment may not contain '/', '%' or control characters");
    }
  }
  return {};
}

Result<uint64_t> parseUint(std::string_view name, std::string_view v) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
    return invalidArgument("invalid " + std::string(name) + " \"" + std::string(v) + "\"");
  }
  return out;
}

Result<bool> parseBool(std::string_view name, std::string_view v) {
  // Go's strconv.ParseBool set; an empty value (e.g. "?watch") counts as true like k8s does not,
  // but clients never send it.
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False" ||
      v.empty()) {
    return false;
  }
  return invalidArgument("invalid " + std::string(name) + " \"" + std::string(v) + "\"");
}

// Decoded path segments, without the empty ones a trailing slash leaves ("/api/"): Go trims
// slashes too.
std::vector<std::string> pathSegments(const boost::urls::url_view& url) {
  std::vector<std::string> parts;
  for (auto seg : url.segments()) {  // decoded segments
    parts.push_back(std::string(seg));
  }
  while (!parts.empty() && parts.back().empty()) {
    parts.pop_back();
  }
  return parts;
}

std::string joinPath(const std::vector<std::string>& parts) {
  std::string path = "/";
  for (size_t i = 0; i < parts.size(); ++i) {
    path += (i ? "/" : "") + parts[i];
  }
  return path;
}

// The list/watch parameters into `q`; `watch` from ?watch=.
Status parseQuery(const boost::urls::url_view& url, ListQuery& q, bool& watch) {
  for (auto param : url.params()) {  // decoded
    std::string_view k = param.key;
    std::string_view v = param.has_value ? std::string_view(param.value) : std::string_view();
    if (k == "watch") {
      EC_ASSIGN_OR_RETURN(watch, parseBool(k, v));
    } else if (k == "labelSelector") {
      q.label_selector = v;
    } else if (k == "fieldSelector") {
      q.field_selector = v;
    } else if (k == "resourceVersion") {
      if (!v.empty()) {
        EC_ASSIGN_OR_RETURN(q.resource_version, parseUint(k, v));
      }
    } else if (k == "timeoutSeconds") {
      if (!v.empty()) {
        EC_ASSIGN_OR_RETURN(uint64_t t, parseUint(k, v));
        q.timeout_seconds = static_cast<int64_t>(std::min<uint64_t>(t, 1u << 30));
      }
    } else if (k == "allowWatchBookmarks") {
      EC_ASSIGN_OR_RETURN(q.allow_bookmarks, parseBool(k, v));
    } else if (k == "limit") {
      if (!v.empty()) {
        EC_ASSIGN_OR_RETURN(uint64_t l, parseUint(k, v));
        q.limit = static_cast<int64_t>(std::min<uint64_t>(l, 1u << 30));
      }
    } else if (k == "continue") {
      q.continue_token = v;
    } else if (k == "includeObject") {
      if (v != "" && v != "None" && v != "Metadata" && v != "Object") {
        return invalidArgument("invalid includeObject \"" + std::string(v) + "\"");
      }
      q.include_object = v;
    }
    // Others (pretty, resourceVersionMatch, timeout, sendInitialEvents...) are accepted, ignored.
  }
  return {};
}

// Non-resource requests (including discovery documents) are all "get" when they read.
std::string nonResourceVerb(std::string_view method) {
  return (method == "GET" || method == "HEAD") ? "get" : std::string(method);
}

// The prefix, group (apis only) and version of an API path; returns the index of the first
// segment after them.
size_t parseGroupVersion(const std::vector<std::string>& parts, RequestInfo& info) {
  info.api_prefix = parts[0];
  size_t i = 1;
  if (info.api_prefix == "apis") {
    if (i < parts.size()) info.gvr.group = parts[i++];
  }
  if (i < parts.size()) info.gvr.version = parts[i++];
  return i;
}

// [watch/][namespaces/<ns>/]<resource>[/<name>[/<sub>]]
Status parseResourcePath(std::vector<std::string> rest, bool& watch, RequestInfo& info) {
  if (!rest.empty() && rest[0] == "watch") {
    watch = true;
    rest.erase(rest.begin());
  }
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    // namespaces/<ns>/<resource>[/<name>[/<sub>]]
    info.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  } else if (!rest.empty() && rest[0] == "namespaces" && rest.size() == 2) {
    // namespaces/<name>: the Namespace object itself (cluster-scoped).
  }
  if (rest.empty()) {
    return invalidArgument("missing resource in path");
  }
  if (rest.size() > 3) {
    return invalidArgument("too many path segments");
  }
  info.gvr.resource = rest[0];
  if (rest.size() > 1) info.name = rest[1];
  if (rest.size() > 2) info.subresource = rest[2];
  return {};
}

std::string resourceVerb(std::string_view method, bool watch, bool named) {
  if (watch) {
    return "watch";
  } else if (method == "GET" || method == "HEAD") {
    return named ? "get" : "list";
  } else if (method == "POST") {
    return "create";
  } else if (method == "PUT") {
    return "update";
  } else if (method == "PATCH") {
    return "patch";
  } else if (method == "DELETE") {
    return named ? "delete" : "deletecollection";
  }
  return std::string(method);
}

}  // namespace

Result<RequestInfo> parseRequestInfo(std::string_view method, std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return invalidArgument("request target must be an absolute path");
  }
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) {
    return invalidArgument("malformed request target");
  }
  boost::urls::url_view url = *parsed;

  RequestInfo info;
  std::vector<std::string> parts = pathSegments(url);
  info.path = joinPath(parts);

  // Query first: it decides list vs watch.
  bool watch = false;
  EC_RETURN_IF_ERROR(parseQuery(url, info.query, watch));

  if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) {
    info.is_resource = false;
    info.verb = nonResourceVerb(method);
    return info;
  }

  // Validate every segment of an API path before interpreting it.
  for (const auto& p : parts) {
    EC_RETURN_IF_ERROR(checkSegment(p));
  }
  size_t i = parseGroupVersion(parts, info);
  if (info.gvr.version.empty() || i >= parts.size()) {
    // Discovery document (/api, /api/v1, /apis, /apis/g, /apis/g/v).
    info.is_resource = false;
    info.verb = nonResourceVerb(method);
    return info;
  }
  info.is_resource = true;
  std::vector<std::string> rest(parts.begin() + static_cast<std::ptrdiff_t>(i), parts.end());
  EC_RETURN_IF_ERROR(parseResourcePath(std::move(rest), watch, info));
  info.verb = resourceVerb(method, watch, !info.name.empty());
  return info;
}

bool isDiscoveryPath(const RequestInfo& info) {
  return !info.is_resource && !info.api_prefix.empty();
}

}  // namespace edgecore::metaserver
