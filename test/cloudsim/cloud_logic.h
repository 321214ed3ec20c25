#pragma once

// What the simulated CloudCore decides, apart from the sockets: the object store behind query
// answers, which downstream messages need an ACK, and the answer to each upstream request.
// Facts mirrored from KubeEdge v1.20 (spec/cloud-protocol.md sections 1.5, 2.9, 4, 5):
// cloud/pkg/cloudhub/dispatcher/message_dispatcher.go (noAckRequired, k8s/ca.crt),
// cloud/pkg/cloudhub/common/helper.go (TrimMessage),
// cloud/pkg/edgecontroller/controller/upstream.go (answer shapes).
//
// Not thread-safe: CloudSim calls it under its own mutex. Never throws.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgecore/core/message.h"
#include "edgecore/core/status.h"
#include "sa_token_issuer.h"

namespace edgecore::cloudsim {

// A Kubernetes manifest given as JSON or YAML (first document), as JSON.
core::Result<nlohmann::json> parseManifest(std::string_view text);

// "ConfigMap" -> "configmap": the resource-type token of spec 1.5.
std::string resourceTypeOfKind(std::string_view kind);
bool isClusterScoped(std::string_view type);

// CloudHub's TrimMessage: "node/<id>/<rest>" with at least 3 tokens -> "<rest>".
std::string trimResource(std::string_view resource);
// Token 1 of a trimmed "<ns>/<type>/<name>" resource ("" when there is none).
std::string resourceTypeOf(std::string_view trimmed_resource);

// CloudHub's rule for reliable delivery: not noAckRequired(msg), and a resourceversion (deletes
// excepted). `content_is_error` says the content stands for a Go error value (a StatusError).
bool ackRequired(const core::Message& msg, bool content_is_error);

// The Go JSON of a *apierrors.StatusError (`{"ErrStatus":{...}}`).
nlohmann::json statusError(int code, std::string_view reason, std::string_view message,
                           std::string_view name = "", std::string_view kind = "",
                           std::string_view group = "");
nlohmann::json notFoundError(std::string_view type, std::string_view name);

// RFC 7386 merge patch, plus strategic-merge's "merge list items by `type`" for `conditions`
// and removal of "$..." directives: close enough to the API server's status patches for
// node/pod status (containerStatuses and other lists are replaced whole, as in SMP).
nlohmann::json applyStatusPatch(nlohmann::json target, const nlohmann::json& patch);

class ObjectStore {
 public:
  // Stores `obj` (needs kind and metadata.name; metadata.namespace defaults to "default" for
  // namespaced kinds) with a fresh metadata.resourceVersion. Returns the stored object.
  core::Result<nlohmann::json> put(nlohmann::json obj);
  // Same with the resource type given (for objects without `kind`, such as edge node inserts).
  core::Result<nlohmann::json> putAs(std::string_view type, nlohmann::json obj);
  std::optional<nlohmann::json> get(std::string_view type, std::string_view ns,
                                    std::string_view name) const;
  bool erase(std::string_view type, std::string_view ns, std::string_view name);
  std::string nextResourceVersion();
  nlohmann::json dump() const;  // {"<type>/<ns>/<name>": obj, ...}

 private:
  static std::string key(std::string_view type, std::string_view ns, std::string_view name);
  std::map<std::string, nlohmann::json> objects_;
  uint64_t rv_ = 1000;
};

struct AnswerOptions {
  std::string ca_pem;  // the k8s/ca.crt answer
  // Signs an approved kubelet-serving CSR (PEM request -> PEM certificate), as
  // kube-controller-manager's signer does with the cluster CA; null: CSRs stay pending.
  std::function<core::Result<std::string>(std::string_view csr_pem)> sign_serving_csr;
  bool pod_update_after_patch = true;        // emulate the API watch after a podpatch (README 9.9)
  bool pod_delete_after_edge_delete = true;  // send the final pod delete after the edge's delete
  TokenIssuerOptions tokens;                 // serviceaccounttoken answers (sa_token_issuer.h)
};

struct Reply {
  core::Message msg;
  bool content_is_error = false;
};

struct Answer {
  std::vector<Reply> replies;  // in order
  bool handled = false;        // false: the cloud has no handler for this (recorded, dropped)
};

// The simulated cloud's reaction to one upstream message other than keepalive/response/error.
// `node` is the session's node_id header.
Answer answerUpstream(const core::Message& req, std::string_view node, ObjectStore& store,
                      const AnswerOptions& opts);

// A downstream message for a manifest: source edgecontroller, group resource, resource
// "<ns>/<type>/<name>", resourceversion = the stored RV. insert/update store the object, delete
// removes it (content = the object as last stored, or the manifest).
core::Result<core::Message> manifestMessage(const nlohmann::json& manifest, std::string_view op,
                                            ObjectStore& store);

// Spec checks on an upstream message that decoded fine; each string is one violation.
std::vector<std::string> upstreamViolations(const core::Message& msg);

}  // namespace edgecore::cloudsim
