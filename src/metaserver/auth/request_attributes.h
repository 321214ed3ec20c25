#pragma once

// What a request asks to do, in the terms RBAC rules speak (Kubernetes authorizer.Attributes):
// derived from parseRequestInfo, plus the few places where MetaServer's node-local routes need
// Kubernetes' reading spelled out.

#include <string>
#include <string_view>

#include "edgecore/core/status.h"

namespace edgecore::metaserver::auth {

struct RequestAttributes {
  bool is_resource = false;
  std::string verb;  // get list watch create update patch delete deletecollection; lowercase
                     // HTTP method for non-resource paths (get, post, ...)
  std::string api_group;
  std::string api_version;
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string name;
  std::string path;  // non-resource requests
};

// InvalidArgument when the target is not a request MetaServer could serve (same rules as
// parseRequestInfo). Mapping of the node-local routes (spec 4.7-4.10):
//   logs            GET  .../pods/<p>/log            -> get pods/log <p>
//   exec            POST or GET .../pods/<p>/exec    -> create pods/exec <p> (also for the GET of a
//                   websocket upgrade: the verb Kubernetes >= 1.35 checks, stricter than "get")
//   restart         POST .../namespaces/<ns>/pods/restart -> create pods, name "restart"
//   confirm-upgrade POST /api/v1/taskupgrade/confirm-upgrade -> create taskupgrade (core group,
//                   cluster scope), name "confirm-upgrade"
//   device edit     PUT  .../devices/<d>            -> update devices.kubeedge.io devices <d>
core::Result<RequestAttributes> requestAttributes(std::string_view method, std::string_view target);

}  // namespace edgecore::metaserver::auth
