#include "cloud_logic.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <regex>

#include "edgecore/core/base64.h"

namespace edgecore::cloudsim {
namespace {

using core::Message;
using nlohmann::json;

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
    if (pos == std::string_view::npos) {
      return out;
    }
    start = pos + 1;
  }
}

json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) {
        obj[kv.first.as<std::string>()] = yamlToJson(kv.second);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) {
        arr.push_back(yamlToJson(item));
      }
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() == "!") {  // quoted: always a string
        return s;
      }
      if (s == "true" || s == "True" || s == "TRUE") {
        return true;
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        return false;
      }
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") {
        return nullptr;
      }
      static const std::regex kInt("[-+]?[0-9]+");
      static const std::regex kFloat("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?");
      if (std::regex_match(s, kInt)) {
        return std::strtoll(s.c_str(), nullptr, 10);
      }
      if (std::regex_match(s, kFloat)) {
        return std::strtod(s.c_str(), nullptr);
      }
      return s;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

std::string apiVersionOfType(std::string_view type) {
  if (type == "lease") {
    return "coordination.k8s.io/v1";
  }
  if (type == "volumeattachment") {
    return "storage.k8s.io/v1";
  }
  if (type == "serviceaccounttoken") {
    return "authentication.k8s.io/v1";
  }
  return "v1";
}

std::string kindOfType(std::string_view type) {
  static const std::map<std::string, std::string, std::less<>> kKinds = {
      {"configmap", "ConfigMap"},
      {"secret", "Secret"},
      {"node", "Node"},
      {"pod", "Pod"},
      {"lease", "Lease"},
      {"persistentvolume", "PersistentVolume"},
      {"persistentvolumeclaim", "PersistentVolumeClaim"},
      {"volumeattachment", "VolumeAttachment"},
      {"serviceaccounttoken", "TokenRequest"},
  };
  auto it = kKinds.find(type);
  return it == kKinds.end() ? std::string(type) : it->second;
}

std::string groupOfType(std::string_view type) {
  if (type == "lease") {
    return "coordination.k8s.io";
  }
  if (type == "volumeattachment") {
    return "storage.k8s.io";
  }
  return "";
}

Message response(const Message& req, json content) {
  Message m = req.makeResponse(std::move(content));
  m.route.source = "edgecontroller";
  m.route.group = "resource";
  m.route.resource = req.route.resource;
  return m;
}

json objectResp(json object, json err) {
  return json{{"Object", std::move(object)}, {"Err", std::move(err)}};
}

json withoutTypeMeta(json obj) {
  obj.erase("apiVersion");
  obj.erase("kind");
  return obj;
}

json withTypeMeta(json obj, std::string_view type) {
  if (!obj.contains("apiVersion")) {
    obj["apiVersion"] = apiVersionOfType(type);
  }
  if (!obj.contains("kind")) {
    obj["kind"] = kindOfType(type);
  }
  return obj;
}

std::string rvOf(const json& obj) {
  const json* md = obj.is_object() && obj.contains("metadata") ? &obj["metadata"] : nullptr;
  if (md != nullptr && md->is_object() && md->contains("resourceVersion") &&
      (*md)["resourceVersion"].is_string()) {
    return (*md)["resourceVersion"].get<std::string>();
  }
  return "";
}

// The JSON document a content value carries: objects as they are, strings parsed as JSON text.
std::optional<json> contentDocument(const json& content) {
  if (content.is_object()) {
    return content;
  }
  if (content.is_string()) {
    json doc = json::parse(content.get<std::string>(), nullptr, false);
    if (!doc.is_discarded()) {
      return doc;
    }
  }
  return std::nullopt;
}

json mergeConditions(const json& target, const json& patch) {
  json out = target.is_array() ? target : json::array();
  for (const auto& item : patch) {
    if (!item.is_object() || !item.contains("type")) {
      return patch;  // not mergeable by key: replace, as a merge patch would
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const json& e) {
      return e.is_object() && e.value("type", json()) == item["type"];
    });
    if (it == out.end()) {
      out.push_back(item);
    } else {
      *it = applyStatusPatch(*it, item);
    }
  }
  return out;
}

}  // namespace

core::Result<json> parseManifest(std::string_view text) {
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_discarded()) {
    if (!parsed.is_object()) {
      return core::invalidArgument("manifest is not a JSON object");
    }
    return parsed;
  }
  try {
    YAML::Node doc = YAML::Load(std::string(text));
    json obj = yamlToJson(doc);
    if (!obj.is_object()) {
      return core::invalidArgument("manifest is not a JSON or YAML mapping");
    }
    return obj;
  } catch (const std::exception& e) {
    return core::invalidArgument(std::string("manifest is neither JSON nor YAML: ") + e.what());
  }
}

std::string resourceTypeOfKind(std::string_view kind) {
  std::string out(kind);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool isClusterScoped(std::string_view type) {
  return type == "node" || type == "persistentvolume" || type == "volumeattachment" ||
         type == "certificatesigningrequest";
}

std::string trimResource(std::string_view resource) {
  auto tokens = split(resource, '/');
  if (tokens.size() >= 3 && tokens[0] == "node") {
    size_t second = resource.find('/', 5);
    return std::string(resource.substr(second + 1));
  }
  return std::string(resource);
}

std::string resourceTypeOf(std::string_view trimmed_resource) {
  auto tokens = split(trimmed_resource, '/');
  return tokens.size() >= 2 ? tokens[1] : "";
}

bool ackRequired(const Message& msg, bool content_is_error) {
  const std::string& res = msg.route.resource;
  const std::string& op = msg.route.operation;
  auto has = [&](std::string_view s) { return res.find(s) != std::string::npos; };
  if (has("podlist") || has("membership") || has("twin/cloud_updated") ||
      has("serviceaccounttoken") || has("k8s/ca.crt")) {
    return false;
  }
  if (op == "createvolume" || op == "deletevolume" || op == "controllerpublishvolume" ||
      op == "controllerunpublishvolume" || op == "applicationResponse") {
    return false;
  }
  if (msg.route.group == "user" || msg.route.source == "taskmanager" ||
      msg.route.source == "nodeupgradejobcontroller") {
    return false;
  }
  if (op == "response" && ((msg.content.is_string() && msg.content == "OK") || content_is_error)) {
    return false;
  }
  if (msg.route.source == "edgecontroller") {
    std::string type = resourceTypeOf(res);
    if (type == "node" || type == "lease" || type == "nodepatch" || type == "podpatch" ||
        type == "podstatus" || type == "certificatesigningrequest" ||
        (type == "pod" && op == "response")) {
      return false;
    }
  }
  return !msg.header.resource_version.empty() || op == "delete";
}

json statusError(int code, std::string_view reason, std::string_view message, std::string_view name,
                 std::string_view kind, std::string_view group) {
  json status = {{"metadata", json::object()},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", reason},
                 {"code", code}};
  if (!name.empty() || !kind.empty()) {
    json details = json::object();
    if (!name.empty()) {
      details["name"] = name;
    }
    if (!group.empty()) {
      details["group"] = group;
    }
    if (!kind.empty()) {
      details["kind"] = kind;
    }
    status["details"] = details;
  }
  return json{{"ErrStatus", status}};
}

json notFoundError(std::string_view type, std::string_view name) {
  std::string plural = std::string(type) + "s";
  std::string group = groupOfType(type);
  std::string qualified = group.empty() ? plural : plural + "." + group;
  return statusError(404, "NotFound", qualified + " \"" + std::string(name) + "\" not found", name,
                     plural, group);
}

json applyStatusPatch(json target, const json& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  if (!target.is_object()) {
    target = json::object();
  }
  for (const auto& [k, v] : patch.items()) {
    if (!k.empty() && k[0] == '$') {
      continue;  // strategic-merge directives ($setElementOrder/..., $patch)
    }
    if (v.is_null()) {
      target.erase(k);
    } else if (k == "conditions" && v.is_array()) {
      target[k] = mergeConditions(target.contains(k) ? target[k] : json(), v);
    } else {
      target[k] = applyStatusPatch(target.contains(k) ? target[k] : json(), v);
    }
  }
  return target;
}

std::string ObjectStore::key(std::string_view type, std::string_view ns, std::string_view name) {
  return std::string(type) + "/" + (isClusterScoped(type) ? "" : std::string(ns)) + "/" +
         std::string(name);
}

std::string ObjectStore::nextResourceVersion() { return std::to_string(++rv_); }

core::Result<json> ObjectStore::put(json obj) {
  if (!obj.is_object() || !obj.contains("kind") || !obj["kind"].is_string()) {
    return core::invalidArgument("object has no kind");
  }
  // Read the kind before moving obj: argument evaluation order is unspecified (g++ moves first).
  std::string type = resourceTypeOfKind(obj["kind"].get<std::string>());
  return putAs(type, std::move(obj));
}

core::Result<json> ObjectStore::putAs(std::string_view type, json obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object() ||
      !obj["metadata"].contains("name") || !obj["metadata"]["name"].is_string()) {
    return core::invalidArgument("object has no metadata.name");
  }
  json& md = obj["metadata"];
  if (!isClusterScoped(type) && (!md.contains("namespace") || !md["namespace"].is_string())) {
    md["namespace"] = "default";
  }
  md["resourceVersion"] = nextResourceVersion();
  std::string ns = isClusterScoped(type) ? "" : md["namespace"].get<std::string>();
  objects_[key(type, ns, md["name"].get<std::string>())] = obj;
  return obj;
}

std::optional<json> ObjectStore::get(std::string_view type, std::string_view ns,
                                     std::string_view name) const {
  auto it = objects_.find(key(type, ns, name));
  if (it == objects_.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool ObjectStore::erase(std::string_view type, std::string_view ns, std::string_view name) {
  return objects_.erase(key(type, ns, name)) > 0;
}

json ObjectStore::dump() const {
  json out = json::object();
  for (const auto& [k, v] : objects_) {
    out[k] = v;
  }
  return out;
}

namespace {

// "Pod" -> "pods", "Endpoints" -> "endpoints", "NetworkPolicy" -> "networkpolicies": the
// plural the API server uses for a kind (client-go's UnsafeGuessKindToResource rules).
std::string pluralOfKind(std::string_view kind) {
  std::string lower = resourceTypeOfKind(kind);
  if (lower.empty() || lower == "endpoints") {
    return lower;
  }
  if (lower.back() == 's') {
    return lower + "es";
  }
  if (lower.back() == 'y') {
    return lower.substr(0, lower.size() - 1) + "ies";
  }
  return lower + "s";
}

// MetaServer's Applications (spec local-apis 4.6), as the dynamiccontroller answers them
// (cloud/pkg/dynamiccontroller/application/application.go Center.Process/Response @ v1.20.0):
// get and list served from the object store; other verbs Rejected with 405, since the simulator
// has no API server to apply them to. The answer: a new message whose parent is the request,
// source dynamiccontroller, group resource, resource node/<node>/ignore/Application/ignore
// (CloudHub trims the node prefix), operation applicationResponse, content the Application with
// Status and RespBody (base64 of the object's JSON, as Go marshals []byte).
Answer answerApplication(const Message& req, std::string_view node, const ObjectStore& store) {
  Answer answer;
  json app = req.content;
  if (app.is_string()) {
    app = json::parse(app.get<std::string>(), nullptr, false);
  }
  if (!app.is_object() || !app.contains("Key") || !app["Key"].is_string() ||
      !app.contains("Verb") || !app["Verb"].is_string()) {
    return answer;  // not an Application: recorded as unhandled
  }
  const std::string key = app["Key"].get<std::string>();
  const std::string verb = app["Verb"].get<std::string>();
  // /<group or core>/<version>/<resource>/<ns or null>/<name or null>
  auto parts = split(key, '/');
  json body;
  json error = nullptr;
  if (parts.size() != 6 || !parts[0].empty()) {
    error = statusError(400, "BadRequest", "cloudsim: cannot parse application key " + key);
  } else if (verb == "get" || verb == "list") {
    const std::string& resource = parts[3];
    const std::string ns = parts[4] == "null" ? "" : parts[4];
    const std::string name = parts[5] == "null" ? "" : parts[5];
    json items = json::array();
    std::string list_kind;
    std::string api_version = parts[1] == "core" ? parts[2] : parts[1] + "/" + parts[2];
    const json all = store.dump();
    for (auto it = all.begin(); it != all.end(); ++it) {
      const json& obj = *it;
      if (!obj.is_object() || !obj.contains("kind") || !obj["kind"].is_string() ||
          pluralOfKind(obj["kind"].get<std::string>()) != resource) {
        continue;
      }
      const json& md = obj["metadata"];
      std::string obj_ns = md.value("namespace", "");
      if (!ns.empty() && obj_ns != ns) {
        continue;
      }
      if (!name.empty() && md.value("name", "") != name) {
        continue;
      }
      list_kind = obj["kind"].get<std::string>() + "List";
      items.push_back(obj);
    }
    if (verb == "get") {
      if (items.empty()) {
        error =
            statusError(404, "NotFound", resource + " \"" + name + "\" not found", name, resource);
      } else {
        body = items[0];
      }
    } else {
      if (list_kind.empty()) {
        list_kind = "List";
      }
      body = {{"apiVersion", api_version},
              {"kind", list_kind},
              {"metadata", {{"resourceVersion", ""}}},
              {"items", std::move(items)}};
    }
  } else {
    error = statusError(405, "MethodNotAllowed",
                        "cloudsim: verb " + verb + " is not simulated (only get and list)");
  }
  if (error.is_null()) {
    app["Status"] = "Approved";
    app["RespBody"] = core::base64Encode(body.dump());
  } else {
    app["Status"] = "Rejected";
    app["Error"] = error;
    app["RespBody"] = nullptr;
  }
  Message m =
      Message::create("dynamiccontroller", "resource", "applicationResponse",
                      "node/" + std::string(node) + "/ignore/Application/ignore", std::move(app));
  m.header.parent_id = req.header.id;
  answer.replies.push_back({std::move(m), !error.is_null()});
  answer.handled = true;
  return answer;
}

// certificates.k8s.io CSRs from the edge (MetaServer's serving certificate with
// requireAuthorization). What the real cloud does, in one place: edgecontroller upstream.go
// processCSR creates the object through the API (insert -> ObjectResp of the created object) and
// queryInner answers queries with the object (apiVersion/kind set, resourceversion header);
// cloudcore's csrapprovercontroller approves kubelet-serving CSRs that pass
// IsKubeletServingCSR (CN system:node:*, O [system:nodes], IP/DNS SANs only, usages within
// digital signature / key encipherment / server auth), and kube-controller-manager's signer
// issues the certificate with the cluster CA. Here approval and signing happen at creation.
bool isKubeletServingCsr(const json& csr) {
  const json& spec = csr.value("spec", json::object());
  if (!spec.is_object() || spec.value("signerName", "") != "kubernetes.io/kubelet-serving") {
    return false;
  }
  bool server_auth = false;
  for (const auto& u : spec.value("usages", json::array())) {
    std::string usage = u.is_string() ? u.get<std::string>() : "";
    if (usage == "server auth") {
      server_auth = true;
    } else if (usage != "digital signature" && usage != "key encipherment") {
      return false;
    }
  }
  return server_auth;
}

void answerCsr(const Message& req, const std::string& name, ObjectStore& store,
               const AnswerOptions& opts, Answer& answer) {
  const std::string& op = req.route.operation;
  auto reply = [&](json content, bool is_error, std::string rv = "") {
    Message m = response(req, std::move(content));
    m.header.resource_version = std::move(rv);
    answer.replies.push_back({std::move(m), is_error});
    answer.handled = true;
  };
  if (op == "query") {
    auto obj = store.get("certificatesigningrequest", "", name);
    if (!obj) {
      reply(statusError(404, "NotFound",
                        "certificatesigningrequests.certificates.k8s.io \"" + name + "\" not found",
                        name, "certificatesigningrequests", "certificates.k8s.io"),
            true);
    } else {
      reply(withTypeMeta(*obj, "certificatesigningrequest"), false, rvOf(*obj));
    }
    return;
  }
  if (op != "insert") return;
  json csr = req.content.is_object() ? req.content : json::object();
  if (!csr.contains("metadata") || !csr["metadata"].is_object()) csr["metadata"] = json::object();
  std::string csr_name = csr["metadata"].value("name", "");
  if (csr_name.empty()) {
    csr_name = csr["metadata"].value("generateName", "csr-") + core::newUuidV4().substr(0, 5);
  }
  if (store.get("certificatesigningrequest", "", csr_name)) {
    reply(objectResp(nullptr,
                     statusError(409, "AlreadyExists",
                                 "certificatesigningrequests.certificates.k8s.io \"" + csr_name +
                                     "\" already exists",
                                 csr_name, "certificatesigningrequests", "certificates.k8s.io")),
          false);
    return;
  }
  csr["metadata"]["name"] = csr_name;
  csr["metadata"].erase("namespace");
  csr["metadata"]["uid"] = core::newUuidV4();
  csr["status"] = json::object();
  std::string request_pem;
  if (csr.contains("spec") && csr["spec"].is_object() && csr["spec"]["request"].is_string()) {
    request_pem = core::base64Decode(csr["spec"]["request"].get<std::string>()).value_or("");
  }
  if (request_pem.empty()) {
    reply(objectResp(nullptr,
                     statusError(422, "Invalid",
                                 "CertificateSigningRequest.certificates.k8s.io \"" + csr_name +
                                     "\" is invalid: spec.request: Invalid "
                                     "value: []byte{}: PEM block type must "
                                     "be CERTIFICATE REQUEST",
                                 csr_name, "certificatesigningrequests", "certificates.k8s.io")),
          false);
    return;
  }
  if (opts.sign_serving_csr && isKubeletServingCsr(csr)) {
    auto cert = opts.sign_serving_csr(request_pem);
    if (cert.ok()) {
      csr["status"]["conditions"] =
          json::array({{{"type", "Approved"},
                        {"status", "True"},
                        {"reason", "AutoApproved"},
                        {"message", "Auto approving MetaServer serving certificate."}},
                       {{"type", "Issued"}, {"status", "True"}}});
      csr["status"]["certificate"] = core::base64Encode(*cert);
    } else {
      csr["status"]["conditions"] = json::array({{{"type", "Failed"},
                                                  {"status", "True"},
                                                  {"reason", "SignerValidationFailure"},
                                                  {"message", cert.status().message()}}});
    }
  }
  // The created object as the API returns it (without the status the controllers add later).
  json created = withoutTypeMeta(csr);
  created["status"] = json::object();
  (void)store.putAs("certificatesigningrequest", std::move(csr));
  reply(objectResp(std::move(created), nullptr), false);
}

Answer answerUpstreamImpl(const Message& req, std::string_view node, ObjectStore& store,
                          const AnswerOptions& opts) {
  Answer answer;
  const std::string& op = req.route.operation;
  if (req.route.source == "metaserver" && req.route.group == "dynamiccontroller") {
    return answerApplication(req, node, store);
  }
  if (req.route.resource == "k8s/ca.crt") {
    // message_dispatcher.go: answered by CloudHub itself, source cloudhub.
    Message m = req.makeResponse(opts.ca_pem);
    m.route.source = "cloudhub";
    m.route.group = "resource";
    answer.replies.push_back({std::move(m), false});
    answer.handled = true;
    return answer;
  }
  auto tokens = split(req.route.resource, '/');
  if (tokens.size() < 3) {
    return answer;  // membership/detail, rules, tasks...: no handler here
  }
  const std::string& ns = tokens[0];
  const std::string& type = tokens[1];
  const std::string& name = tokens[2];
  auto reply = [&](json content, bool is_error, std::string rv = "") {
    Message m = response(req, std::move(content));
    m.header.resource_version = std::move(rv);
    answer.replies.push_back({std::move(m), is_error});
    answer.handled = true;
  };

  if (type == "certificatesigningrequest") {
    answerCsr(req, name, store, opts, answer);
  } else if (op == "query" &&
             (type == "configmap" || type == "secret" || type == "persistentvolume" ||
              type == "persistentvolumeclaim" || type == "volumeattachment")) {
    auto obj = store.get(type, ns, name);
    if (!obj) {
      reply(notFoundError(type, name), true);
    } else {
      reply(withTypeMeta(*obj, type), false, rvOf(*obj));
    }
  } else if (op == "query" && type == "serviceaccounttoken") {
    // CloudCore's queryInner over CreateToken: the TokenRequest with a signed JWT, or the
    // API server's error (a StatusError) when it refuses.
    std::string sa_uid;
    if (auto sa = store.get("serviceaccount", ns, name)) {
      const json& uid = (*sa)["metadata"]["uid"];
      sa_uid = uid.is_string() ? uid.get<std::string>() : "";
    }
    auto issued = issueServiceAccountToken(ns, name, sa_uid, req.content, opts.tokens,
                                           static_cast<int64_t>(std::time(nullptr)));
    if (issued.ok()) {
      reply(std::move(*issued), false);
    } else {
      reply(
          statusError(issued.status().code() == core::StatusCode::InvalidArgument ? 422 : 500,
                      issued.status().code() == core::StatusCode::InvalidArgument ? "Invalid"
                                                                                  : "InternalError",
                      "TokenRequest.authentication.k8s.io \"" + name +
                          "\" is invalid: " + issued.status().message(),
                      name, "token", "authentication.k8s.io"),
          true);
    }
  } else if (type == "node") {
    auto obj = store.get("node", ns, name);
    if (op == "query") {
      if (!obj) {
        reply(notFoundError("node", name), true);
      } else {
        reply(withoutTypeMeta(*obj), false, rvOf(*obj));
      }
    } else if (op == "insert") {
      if (obj) {
        reply(objectResp(nullptr,
                         statusError(409, "AlreadyExists", "nodes \"" + name + "\" already exists",
                                     name, "nodes")),
              false);
      } else {
        json n = req.content.is_object() ? req.content : json::object();
        auto stored = store.putAs("node", std::move(n));
        if (stored.ok()) {
          reply(objectResp(withoutTypeMeta(*stored), nullptr), false);
        } else {
          reply(objectResp(nullptr, statusError(400, "BadRequest", stored.status().message())),
                false);
        }
      }
    } else if (op == "update") {
      if (obj && req.content.is_object()) {
        json merged = *obj;
        for (const char* field : {"labels", "annotations"}) {
          if (req.content.contains("metadata") && req.content["metadata"].is_object() &&
              req.content["metadata"].contains(field) &&
              req.content["metadata"][field].is_object()) {
            merged["metadata"][field].update(req.content["metadata"][field]);
          }
        }
        (void)store.putAs("node", std::move(merged));
        reply("OK", false);
      } else {
        reply(notFoundError("node", name), true);
      }
    }
  } else if (type == "nodepatch" && op == "patch") {
    auto obj = store.get("node", ns, name);
    auto patch = contentDocument(req.content);
    if (!obj) {
      reply(objectResp(nullptr, notFoundError("node", name)), false);
    } else if (!patch) {
      reply(objectResp(nullptr, statusError(400, "BadRequest", "patch is not JSON")), false);
    } else {
      auto stored = store.putAs("node", applyStatusPatch(*obj, *patch));
      reply(objectResp(withoutTypeMeta(*stored), nullptr), false, rvOf(*stored));
    }
  } else if (type == "podpatch" && op == "patch") {
    auto obj = store.get("pod", ns, name);
    auto patch = contentDocument(req.content);
    if (!obj) {
      reply(objectResp(nullptr, notFoundError("pod", name)), false);
    } else if (!patch) {
      reply(objectResp(nullptr, statusError(400, "BadRequest", "patch is not JSON")), false);
    } else {
      auto stored = store.putAs("pod", applyStatusPatch(*obj, *patch));
      reply(objectResp(withoutTypeMeta(*stored), nullptr), false, rvOf(*stored));
      if (opts.pod_update_after_patch) {
        // What the API watch would bring: the patched pod as a reliable update.
        Message upd = Message::create("edgecontroller", "resource", "update", ns + "/pod/" + name,
                                      withTypeMeta(*stored, "pod"));
        upd.header.resource_version = rvOf(*stored);
        answer.replies.push_back({std::move(upd), false});
      }
    }
  } else if (type == "podstatus" && op == "update") {
    reply("OK", false);
  } else if (type == "pod" && op == "delete") {
    auto obj = store.get("pod", ns, name);
    store.erase("pod", ns, name);
    reply("OK", false);
    if (obj && opts.pod_delete_after_edge_delete) {
      Message del = Message::create("edgecontroller", "resource", "delete", ns + "/pod/" + name,
                                    withTypeMeta(*obj, "pod"));
      del.header.resource_version = store.nextResourceVersion();
      answer.replies.push_back({std::move(del), false});
    }
  } else if (type == "pod" && op == "insert") {
    auto stored = store.putAs("pod", req.content.is_object() ? req.content : json::object());
    if (stored.ok()) {
      reply(objectResp(withoutTypeMeta(*stored), nullptr), false);
    } else {
      reply(objectResp(nullptr, statusError(400, "BadRequest", stored.status().message())), false);
    }
  } else if (type == "lease") {
    auto obj = store.get("lease", ns, name);
    if (op == "query") {
      reply(obj ? objectResp(withoutTypeMeta(*obj), nullptr)
                : objectResp(nullptr, notFoundError("lease", name)),
            false);
    } else if (op == "insert" || op == "update") {
      json lease = req.content.is_object() ? req.content : json::object();
      const std::string sent_rv = lease.contains("metadata") && lease["metadata"].is_object()
                                      ? lease["metadata"].value("resourceVersion", "")
                                      : "";
      if (op == "insert" && obj) {
        reply(objectResp(nullptr,
                         statusError(409, "AlreadyExists",
                                     "leases.coordination.k8s.io \"" + name + "\" already exists",
                                     name, "leases", "coordination.k8s.io")),
              false);
      } else if (op == "update" && !obj) {
        reply(objectResp(nullptr, notFoundError("lease", name)), false);
      } else if (op == "update" && sent_rv.empty()) {
        // kube-apiserver's validation of an update without the version it handed out.
        reply(objectResp(nullptr, statusError(422, "Invalid",
                                              "leases.coordination.k8s.io \"" + name +
                                                  "\" is invalid: metadata.resourceVersion: "
                                                  "Invalid value: 0x0: must be specified for an "
                                                  "update",
                                              name, "leases", "coordination.k8s.io")),
              false);
      } else if (op == "update" && sent_rv != (*obj)["metadata"].value("resourceVersion", "")) {
        reply(objectResp(nullptr, statusError(409, "Conflict",
                                              "Operation cannot be fulfilled on "
                                              "leases.coordination.k8s.io \"" +
                                                  name +
                                                  "\": the object has been modified; please "
                                                  "apply your changes to the latest version and "
                                                  "try again",
                                              name, "leases", "coordination.k8s.io")),
              false);
      } else {
        auto stored = store.putAs("lease", std::move(lease));
        reply(stored.ok()
                  ? objectResp(withoutTypeMeta(*stored), nullptr)
                  : objectResp(nullptr, statusError(400, "BadRequest", stored.status().message())),
              false);
      }
    }
  } else if (type == "event") {
    answer.handled = true;  // fire-and-forget
  }
  (void)node;
  return answer;
}

}  // namespace

Answer answerUpstream(const Message& req, std::string_view node, ObjectStore& store,
                      const AnswerOptions& opts) {
  try {
    return answerUpstreamImpl(req, node, store, opts);
  } catch (const std::exception&) {
    return Answer{};  // a malformed request object: recorded as unhandled by the caller
  }
}

namespace {
core::Result<Message> manifestMessageImpl(const json& manifest, std::string_view op,
                                          ObjectStore& store) {
  if (!manifest.is_object() || !manifest.contains("kind") || !manifest["kind"].is_string()) {
    return core::invalidArgument("manifest has no kind");
  }
  if (op != "insert" && op != "update" && op != "delete") {
    return core::invalidArgument("operation must be insert, update or delete");
  }
  std::string type = resourceTypeOfKind(manifest["kind"].get<std::string>());
  json obj = manifest;
  std::string rv;
  if (op == "delete") {
    if (!obj.contains("metadata") || !obj["metadata"].is_object() ||
        !obj["metadata"].contains("name")) {
      return core::invalidArgument("manifest has no metadata.name");
    }
    std::string ns = obj["metadata"].value("namespace", "default");
    std::string name = obj["metadata"]["name"].get<std::string>();
    if (auto stored = store.get(type, ns, name)) {
      obj = *stored;
    }
    store.erase(type, ns, name);
    rv = store.nextResourceVersion();
    if (!obj["metadata"].contains("namespace") && !isClusterScoped(type)) {
      obj["metadata"]["namespace"] = ns;
    }
  } else {
    EC_ASSIGN_OR_RETURN(obj, store.put(std::move(obj)));
    rv = rvOf(obj);
  }
  std::string ns = isClusterScoped(type) ? "" : obj["metadata"]["namespace"].get<std::string>();
  Message m =
      Message::create("edgecontroller", "resource", op,
                      ns + "/" + type + "/" + obj["metadata"]["name"].get<std::string>(), obj);
  m.header.resource_version = rv;
  return m;
}

}  // namespace

core::Result<Message> manifestMessage(const json& manifest, std::string_view op,
                                      ObjectStore& store) {
  try {
    return manifestMessageImpl(manifest, op, store);
  } catch (const std::exception& e) {
    return core::invalidArgument(std::string("manifest: ") + e.what());
  }
}

std::vector<std::string> upstreamViolations(const Message& msg) {
  std::vector<std::string> v;
  static const std::regex kUuid(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  if (msg.header.id.empty()) {
    v.push_back("header.msg_id is empty");
  } else if (!std::regex_match(msg.header.id, kUuid)) {
    v.push_back("header.msg_id is not a canonical UUIDv4: " + msg.header.id);
  }
  if (msg.header.timestamp_ms < 1'000'000'000'000 || msg.header.timestamp_ms > 9'999'999'999'999) {
    v.push_back("header.timestamp is not 13-digit epoch milliseconds: " +
                std::to_string(msg.header.timestamp_ms));
  }
  if (msg.header.sync) {
    v.push_back("header.sync is true on the wire");
  }
  // servicebus's error replies carry no operation in KubeEdge too (docs/node-tasks.md 7.3).
  const bool servicebus_error = msg.route.source == "servicebus" && !msg.header.parent_id.empty();
  if (msg.route.operation.empty() && !servicebus_error) {
    v.push_back("route.operation is empty");
  }
  if (msg.route.source.empty()) {
    v.push_back("route.source is empty");
  }
  if (msg.route.resource.rfind("node/", 0) == 0 && msg.route.operation != "keepalive") {
    v.push_back("route.resource carries the node/<id>/ prefix: " + msg.route.resource);
  }
  if (msg.route.operation == "keepalive" &&
      !(msg.content.is_string() && msg.content.get<std::string>() == "ping")) {
    v.push_back("keepalive content is not \"ping\"");
  }
  if (msg.route.operation == "response" && msg.header.parent_id.empty()) {
    v.push_back("response without parent_msg_id");
  }
  return v;
}

}  // namespace edgecore::cloudsim
