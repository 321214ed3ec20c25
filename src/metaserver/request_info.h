#pragma once

// What a request asks for, derived from method + target the way Kubernetes' RequestInfoFactory
// does (prefixes "api" for the legacy group and "apis" for named groups), plus the list/watch query
// parameters MetaServer understands. Pure: no I/O, safe on hostile input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgecore/core/status.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metaserver {

struct ListQuery {
  std::string label_selector;
  std::string field_selector;
  std::optional<uint64_t> resource_version;  // absent or "" -> nullopt
  std::optional<int64_t> timeout_seconds;
  bool allow_bookmarks = false;
  int64_t limit = 0;  // 0 = no paging
  std::string continue_token;
  std::string include_object;  // "", "None", "Metadata", "Object" (Table only)
};

struct RequestInfo {
  bool is_resource = false;
  std::string path;        // decoded path, for non-resource requests
  std::string verb;        // get list watch create update patch delete deletecollection
  std::string api_prefix;  // "api" or "apis"
  metamanager::Gvr gvr;    // group "" for core; resource may be empty (discovery paths)
  std::string ns;
  std::string name;
  std::string subresource;
  ListQuery query;
};

// Parses an origin-form target ("/api/v1/namespaces/default/pods?watch=1"). InvalidArgument for a
// malformed target, a bad query value, or a path segment that is empty, ".", "..", or contains
// '/', '%' or control characters after decoding (e.g. %2F, %2e%2e).
core::Result<RequestInfo> parseRequestInfo(std::string_view method, std::string_view target);

// Is this a discovery path (/api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>)?
bool isDiscoveryPath(const RequestInfo& info);

}  // namespace edgecore::metaserver
