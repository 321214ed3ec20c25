#pragma once

// The meta_v2 side of metamanager: turns a bus message into store writes for the
// Kubernetes-object view MetaServer serves. Our counterpart of KubeEdge's imitator
// (edge/pkg/metamanager/metaserver/kubernetes/storage/sqlite/imitator/imitator.go Event/Inject
// @ v1.20.0). Pure: no I/O.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/metamanager/meta_store.h"

namespace edgecore::metamanager {

struct ImitatorOps {
  std::vector<WriteOp> ops;
  // Objects the message carried that cannot live in meta_v2 (no name, no kind we can tell, not
  // an object); the meta row is still written.
  int skipped = 0;
  std::string skip_reason;  // the first reason, for the log
};

// The meta_v2 writes for `msg`: insert/update -> UpsertObject per object, delete -> DeleteObject.
// Nothing for other operations, for resource types containing "status", for `lease` from edged,
// for `serviceaccounttoken` (tokens are secrets) or for content that is not a JSON object. A
// `...List` object is split into its items (items inherit apiVersion and the item kind from the
// list). An object without apiVersion/kind gets them from the resource type token (pod -> v1 Pod,
// lease -> coordination.k8s.io/v1 Lease, device -> devices.kubeedge.io/v1beta1 Device, ...) and the
// stored JSON carries them, as meta_v2 values must; Go's imitator drops such objects instead.
ImitatorOps imitatorOps(const core::Message& msg, std::string_view operation,
                        std::string_view res_type);
// The same without copying: an object that is the whole content and already has apiVersion and
// kind reaches the store as a pointer into `msg` (which the op then keeps alive), with
// `content_text` (may be null; the Go encoding of msg->content, made for the meta row) as its
// encoding, so the store does not encode it a second time. Lists and objects that need type
// fields filled in are copied as above.
ImitatorOps imitatorOps(const std::shared_ptr<const core::Message>& msg,
                        const std::string* content_text, std::string_view operation,
                        std::string_view res_type);

// apiVersion and kind for a resource type token; false for a token we do not know.
bool typeMetaForResourceType(std::string_view res_type, std::string* api_version,
                             std::string* kind);

}  // namespace edgecore::metamanager
