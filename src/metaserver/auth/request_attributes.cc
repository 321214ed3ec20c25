#include "auth/request_attributes.h"

#include <cctype>

#include "request_info.h"

namespace edgecore::metaserver::auth {

core::Result<RequestAttributes> requestAttributes(std::string_view method,
                                                  std::string_view target) {
  EC_ASSIGN_OR_RETURN(RequestInfo info, parseRequestInfo(method, target));
  RequestAttributes a;
  a.is_resource = info.is_resource;
  a.verb = info.verb;
  if (!info.is_resource) {
    // Kubernetes lowercases the method for non-resource requests ("get", "post").
    for (char& c : a.verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    a.path = info.path;
    return a;
  }
  a.api_group = info.gvr.group;
  a.api_version = info.gvr.version;
  a.resource = info.gvr.resource;
  a.subresource = info.subresource;
  a.ns = info.ns;
  a.name = info.name;
  // GET /api/v1/namespaces/<n> is about namespace <n> (Kubernetes' RequestInfoFactory).
  if (a.resource == "namespaces" && a.ns.empty() && !a.name.empty()) a.ns = a.name;
  if (a.api_group.empty() && a.resource == "pods" && a.subresource == "exec") a.verb = "create";
  return a;
}

}  // namespace edgecore::metaserver::auth
