#include "edgecore/core/resource.h"

#include <exception>
#include <vector>

namespace edgecore::core {

// How a resource string is classified. The string is split on '/' into tokens t0..t(n-1); the
// first rule that matches wins.
//
//  0. Bounds: empty, longer than kMaxResourceBytes, or with an empty token -> InvalidArgument.
//  1. Cloud-internal prefix. CloudHub's TrimMessage (cloud/pkg/cloudhub/common/helper.go
//     @ v1.20.0) drops the first two tokens of a resource that starts with "node" and has at
//     least 3 tokens. We strip only when t0 is exactly "node" (Go tests the text prefix, which
//     would also eat a namespace such as "node-system"; inside CloudCore every such string does
//     start with the token "node"). An edge-side string can start with the token "node" too, when
//     a namespace is called "node": "node/pod/x". So with exactly 3 tokens and t1 a known
//     resource type token we keep the string as Namespaced; otherwise t1 is taken as the node id,
//     stored in node_id, and t2.. is classified by the rules below (Go trims once, so do we).
//     A node whose id equals a type token ("node/pod/twin") therefore reads as namespace "node".
//  2. Whole-string literals: "node" Keepalive, "twin" Twin, "membership" and "membership/detail"
//     Membership, "k8s/ca.crt" CaCert, "node/connection" NodeConnection.
//  3. n == 2 and t0 is "rule" or "ruleendpoint" -> Rule (rules are never node-prefixed). A
//     namespace named "rule" listing a type is given up for this.
//  4. t0 == "device" and n >= 4 -> DeviceTwin. With n == 4 and t2 "twin" or "state" it is the
//     v1.15 form device/<id>/<t2>/<t3> (ns empty); otherwise device/<ns>/<name>/<rest...>. So a
//     v1.20 device called "twin" or "state" needs a tail of 2+ tokens to be read right, which
//     every tail the edge uses ("twin/edge_updated", "state/update") has.
//  5. n == 6 and t4 == "node" -> NodeJob (v1.23 <group>/<version>/<type>/<job>/node/<node>).
//  6. n == 4 and t2 == "node" -> Task (<taskType>/<taskName>/node/<node>, also the upstream
//     report task/<taskID>/node/<node>). Nothing namespaced has 4 tokens, so this is safe.
//  7. n == 2 or 3 -> Namespaced <ns>/<type>[/<name>], whatever the type token (placeholder
//     namespaces "default", "namespace", "null" are ordinary namespaces here).
//  8. Anything else -> Other.

namespace {

// Type tokens of spec 1.5 (beehive model/message.go, common/constants), used only by rule 1.
constexpr std::string_view kKnownTypes[] = {
    restype::kPod,
    restype::kPodList,
    restype::kPodStatus,
    restype::kPodPatch,
    restype::kNode,
    restype::kNodeStatus,
    restype::kNodePatch,
    restype::kConfigMap,
    restype::kSecret,
    restype::kServiceAccountToken,
    restype::kEvent,
    restype::kLease,
    restype::kRule,
    restype::kRuleEndpoint,
    "rulestatus",
    "serviceaccountaccess",
    restype::kCsr,
    restype::kService,
    restype::kEndpoints,
    restype::kPersistentVolume,
    restype::kPersistentVolumeClaim,
    restype::kVolumeAttachment,
    "volume",
    restype::kDevice,
    restype::kDeviceModel,
};

bool isKnownType(std::string_view t) {
  for (std::string_view k : kKnownTypes) {
    if (k == t) {
      return true;
    }
  }
  return false;
}

std::string joinTokens(const std::vector<std::string_view>& tokens, size_t from) {
  std::string out;
  for (size_t i = from; i < tokens.size(); ++i) {
    if (i > from) {
      out.push_back('/');
    }
    out.append(tokens[i]);
  }
  return out;
}

// Rules 2-8 on tokens[from..].
void classify(const std::vector<std::string_view>& all, size_t from, ResourceKey& key) {
  const std::vector<std::string_view> t(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
  const size_t n = t.size();
  const std::string whole = joinTokens(t, 0);

  if (whole == restype::kNode) {
    key.shape = ResourceShape::Keepalive;
    key.type = restype::kNode;
    return;
  }
  if (whole == restype::kTwin) {
    key.shape = ResourceShape::Twin;
    key.type = restype::kTwin;
    return;
  }
  if (whole == "membership" || whole == "membership/detail") {
    key.shape = ResourceShape::Membership;
    key.type = restype::kMembership;
    key.sub = n == 2 ? std::string(t[1]) : std::string();
    return;
  }
  if (whole == "k8s/ca.crt") {
    key.shape = ResourceShape::CaCert;
    key.type = whole;
    return;
  }
  if (whole == "node/connection") {
    key.shape = ResourceShape::NodeConnection;
    key.type = restype::kNode;
    key.name = "connection";
    return;
  }
  if (n == 2 && (t[0] == restype::kRule || t[0] == restype::kRuleEndpoint)) {
    key.shape = ResourceShape::Rule;
    key.type = t[0];
    key.name = t[1];
    return;
  }
  if (t[0] == restype::kDevice && n >= 4) {
    key.shape = ResourceShape::DeviceTwin;
    key.type = restype::kDevice;
    if (n == 4 && (t[2] == "twin" || t[2] == "state")) {
      key.name = t[1];
      key.sub = joinTokens(t, 2);
    } else {
      key.ns = t[1];
      key.name = t[2];
      key.sub = joinTokens(t, 3);
    }
    return;
  }
  if (n == 6 && t[4] == "node") {
    key.shape = ResourceShape::NodeJob;
    key.group_version = std::string(t[0]) + "/" + std::string(t[1]);
    key.type = t[2];
    key.name = t[3];
    key.sub = t[5];
    return;
  }
  if (n == 4 && t[2] == "node") {
    key.shape = ResourceShape::Task;
    key.type = t[0];
    key.name = t[1];
    key.sub = t[3];
    return;
  }
  if (n == 2 || n == 3) {
    key.shape = ResourceShape::Namespaced;
    key.ns = t[0];
    key.type = t[1];
    key.name = n == 3 ? std::string(t[2]) : std::string();
    return;
  }
  key.shape = ResourceShape::Other;
}

}  // namespace

Result<ResourceKey> parseResource(std::string_view resource) {
  if (resource.empty()) {
    return invalidArgument("empty resource");
  }
  if (resource.size() > kMaxResourceBytes) {
    return invalidArgument("resource longer than " + std::to_string(kMaxResourceBytes) + " bytes");
  }
  try {
    std::vector<std::string_view> tokens;
    size_t start = 0;
    while (true) {
      const size_t slash = resource.find('/', start);
      const std::string_view tok = resource.substr(start, slash - start);
      if (tok.empty()) {
        return invalidArgument("resource has an empty path segment");
      }
      tokens.push_back(tok);
      if (slash == std::string_view::npos) {
        break;
      }
      start = slash + 1;
    }

    ResourceKey key;
    key.raw = resource;
    size_t from = 0;
    if (tokens.size() >= 3 && tokens[0] == restype::kNode &&
        !(tokens.size() == 3 && isKnownType(tokens[1]))) {
      key.node_id = tokens[1];
      from = 2;
    }
    classify(tokens, from, key);
    return key;
  } catch (const std::exception& e) {  // only bad_alloc is possible
    return resourceExhausted(std::string("parsing resource: ") + e.what());
  }
}

std::string ResourceKey::toString() const {
  auto join = [](std::initializer_list<std::string_view> parts) {
    std::string out;
    for (std::string_view p : parts) {
      if (p.empty()) {
        continue;
      }
      if (!out.empty()) {
        out.push_back('/');
      }
      out.append(p);
    }
    return out;
  };
  switch (shape) {
    case ResourceShape::Namespaced:
      return buildResource(ns, type, name);
    case ResourceShape::Rule:
      return join({type, name});
    case ResourceShape::DeviceTwin:
      return join({restype::kDevice, ns, name, sub});
    case ResourceShape::Membership:
      return join({restype::kMembership, sub});
    case ResourceShape::Twin:
      return std::string(restype::kTwin);
    case ResourceShape::Task:
      return join({type, name, restype::kNode, sub});
    case ResourceShape::NodeJob:
      return join({group_version, type, name, restype::kNode, sub});
    case ResourceShape::CaCert:
      return "k8s/ca.crt";
    case ResourceShape::NodeConnection:
      return "node/connection";
    case ResourceShape::Keepalive:
      return std::string(restype::kNode);
    case ResourceShape::Other:
    default:
      if (!node_id.empty()) {
        // raw is "node/<node_id>/<rest>"; hand back <rest>.
        const size_t prefix = restype::kNode.size() + 1 + node_id.size() + 1;
        return prefix < raw.size() ? raw.substr(prefix) : std::string();
      }
      return raw;
  }
}

std::string buildResource(std::string_view ns, std::string_view type, std::string_view name) {
  std::string out;
  out.reserve(ns.size() + type.size() + name.size() + 2);
  out.append(ns);
  out.push_back('/');
  out.append(type);
  if (!name.empty()) {
    out.push_back('/');
    out.append(name);
  }
  return out;
}

}  // namespace edgecore::core
