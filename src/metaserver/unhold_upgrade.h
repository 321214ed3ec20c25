#pragma once

// The hold-upgrade release endpoints (KubeEdge v1.22, docs/node-tasks.md section 5):
// `POST /api/v1/pods/unhold-upgrade` with the text body "<namespace>/<name>" and
// `POST /api/v1/nodes/unhold-upgrade` with the node name. The pod (or the node and its pods) is
// read from the store; each pod annotated edge.kubeedge.io/hold-upgrade: "true" whose stored
// phase is Pending gets an `unhold-upgrade` message to edged, which then applies what it held.
// Plain C++ (no sockets): pod_ops_handler.cc writes the answer.

#include <string>
#include <string_view>

namespace edgecore::core {
class Bus;
}
namespace edgecore::metamanager {
class MetaStore;
}

namespace edgecore::metaserver {

// An answer: the status code and a text/plain body (Go's http.Error text, empty on success).
struct UnholdReply {
  int code = 200;
  std::string body;
};

// `resource` is the request's resource ("pods", "nodes"; anything else is 400). `store` null:
// 500; `bus` null: 503 (nothing can reach edged).
UnholdReply unholdUpgrade(std::string_view resource, std::string_view body,
                          const metamanager::MetaStore* store, core::Bus* bus);

}  // namespace edgecore::metaserver
