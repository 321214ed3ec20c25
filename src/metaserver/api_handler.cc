#include "api_handler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "edgecore/core/base64.h"
#include "edgecore/core/message.h"
#include "edgecore/kubeprint/kubeprint.h"
#include "protobuf/envelope.h"
#include "protobuf/media_type.h"

namespace edgecore::metaserver {
namespace {

using metamanager::Gvr;
using metamanager::StoredObjectPtr;
using nlohmann::json;

constexpr std::string_view kConnectionLost = "connection lost between EdgeCore and CloudCore";

// json::dump that never throws: request paths, selectors and names are percent-decoded bytes and
// may be invalid UTF-8 (nlohmann's plain dump() throws type_error 316 on them); such bytes are
// written as U+FFFD.
std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The kinds every edge node knows, so discovery and list kinds work before anything is cached.
struct KnownResource {
  std::string_view group;
  std::string_view version;
  std::string_view resource;
  std::string_view kind;
  bool namespaced;
  std::string_view short_name;
};
constexpr std::array<KnownResource, 11> kKnown = {{
    {"", "v1", "pods", "Pod", true, "po"},
    {"", "v1", "nodes", "Node", false, "no"},
    {"", "v1", "configmaps", "ConfigMap", true, "cm"},
    {"", "v1", "secrets", "Secret", true, ""},
    {"", "v1", "services", "Service", true, "svc"},
    {"", "v1", "endpoints", "Endpoints", true, "ep"},
    {"", "v1", "events", "Event", true, "ev"},
    {"", "v1", "namespaces", "Namespace", false, "ns"},
    {"coordination.k8s.io", "v1", "leases", "Lease", true, ""},
    {"devices.kubeedge.io", "v1beta1", "devices", "Device", true, ""},
    {"devices.kubeedge.io", "v1beta1", "devicemodels", "DeviceModel", true, ""},
}};

const KnownResource* findKnown(const Gvr& gvr) {
  for (const auto& k : kKnown) {
    if (k.group == gvr.group && k.version == gvr.version && k.resource == gvr.resource) return &k;
  }
  return nullptr;
}

std::string groupVersion(const Gvr& gvr) {
  return gvr.group.empty() ? gvr.version : gvr.group + "/" + gvr.version;
}

// Built-in kinds whose name is not the resource's singular with a capital first letter, so the
// guess below would name their (empty) lists wrongly ("PersistentvolumeList") and client-go
// informers, e.g. kube-scheduler's, could not decode them.
constexpr std::pair<std::string_view, std::string_view> kCamelCaseKinds[] = {
    {"persistentvolumes", "PersistentVolume"},
    {"persistentvolumeclaims", "PersistentVolumeClaim"},
    {"replicationcontrollers", "ReplicationController"},
    {"serviceaccounts", "ServiceAccount"},
    {"resourcequotas", "ResourceQuota"},
    {"limitranges", "LimitRange"},
    {"podtemplates", "PodTemplate"},
    {"replicasets", "ReplicaSet"},
    {"statefulsets", "StatefulSet"},
    {"daemonsets", "DaemonSet"},
    {"controllerrevisions", "ControllerRevision"},
    {"poddisruptionbudgets", "PodDisruptionBudget"},
    {"storageclasses", "StorageClass"},
    {"csidrivers", "CSIDriver"},
    {"csinodes", "CSINode"},
    {"csistoragecapacities", "CSIStorageCapacity"},
    {"volumeattachments", "VolumeAttachment"},
    {"endpointslices", "EndpointSlice"},
    {"networkpolicies", "NetworkPolicy"},
    {"ingressclasses", "IngressClass"},
    {"runtimeclasses", "RuntimeClass"},
    {"priorityclasses", "PriorityClass"},
    {"cronjobs", "CronJob"},
};

// The object kind of `gvr`: known table, else a stored object's "kind", else a guess.
std::string kindOf(const Gvr& gvr, const std::vector<StoredObjectPtr>& sample) {
  if (const auto* k = findKnown(gvr)) return std::string(k->kind);
  if (sample.empty()) {
    for (const auto& [resource, kind] : kCamelCaseKinds) {
      if (resource == gvr.resource) return std::string(kind);
    }
  }
  if (!sample.empty()) {
    json j = core::parseJsonBounded(sample.front()->json);
    if (j.is_object() && j.contains("kind") && j["kind"].is_string()) {
      return j["kind"].get<std::string>();
    }
  }
  return metamanager::resourceToKind(gvr.resource);  // "widgets" -> "Widget"
}

// The Application key of a request: meta_v2's storage key, "null" for a list's missing name.
std::string storageKey(const Gvr& gvr, std::string_view ns, std::string_view name) {
  metamanager::ObjectKey key;
  key.gvr = gvr;
  key.ns = std::string(ns);
  key.name = name.empty() ? "null" : std::string(name);
  return key.storageKey();
}

std::string versionInfo(std::string_view git_version) {
  // "v1.30.7-..." -> major "1", minor "30".
  std::string major;
  std::string minor;
  std::string_view v = git_version;
  if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
  size_t dot = v.find('.');
  if (dot != std::string_view::npos) {
    major = std::string(v.substr(0, dot));
    std::string_view rest = v.substr(dot + 1);
    size_t end = 0;
    while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end]))) ++end;
    minor = std::string(rest.substr(0, end));
  }
  json j = {{"major", major},  {"minor", minor},          {"gitVersion", git_version},
            {"gitCommit", ""}, {"gitTreeState", "clean"}, {"buildDate", ""},
            {"goVersion", ""}, {"compiler", "gcc"},       {"platform", "linux/amd64"}};
  return dumpJson(j);
}

json resourceEntry(std::string_view name, std::string_view kind, bool namespaced,
                   std::string_view short_name) {
  json r = {{"name", name},
            {"singularName", lower(kind)},
            {"namespaced", namespaced},
            {"kind", kind},
            {"verbs", json::array({"get", "list", "watch"})}};
  if (!short_name.empty()) r["shortNames"] = json::array({short_name});
  return r;
}

}  // namespace

std::optional<Negotiated> negotiate(std::string_view accept, bool protobuf) {
  if (trim(accept).empty()) return Negotiated{};
  for (const auto& range : protobuf::parseAccept(accept)) {
    std::string_view as = range.param("as");
    std::string_view g = range.param("g");
    std::string_view v = range.param("v");
    if (range.matches("application", "json")) {
      if (as.empty()) return Negotiated{};
      if (as == "Table" && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1")) {
        return Negotiated{OutputFormat::Table, "meta.k8s.io/" + std::string(v)};
      }
      continue;  // PartialObjectMetadata, aggregated discovery...: try the next range
    }
    if (range.matches("application", "yaml") && as.empty()) {
      return Negotiated{OutputFormat::Yaml, {}};
    }
    // After JSON and YAML, as kube-apiserver lists its serializers: "*/*" means JSON.
    if (protobuf && as.empty() && range.type == "application" &&
        range.subtype == "vnd.kubernetes.protobuf") {
      return Negotiated{OutputFormat::Protobuf, {}};
    }
  }
  return std::nullopt;
}

HttpResponse encodeResponse(HttpResponse response, const Negotiated& format) {
  if (format.format != OutputFormat::Protobuf || response.content_type != "application/json") {
    return response;
  }
  json j = core::parseJsonBounded(response.body);
  auto encoded = protobuf::encodeObject(j);
  if (encoded.ok()) {
    response.content_type = std::string(protobuf::kMediaType);
    response.body = std::move(*encoded);
    return response;
  }
  if (encoded.status().code() == core::StatusCode::NotFound) return response;  // JSON fallback
  return statusResponse(500, "InternalError",
                        "unable to encode the object as protobuf: " + encoded.status().message());
}

std::string statusBody(int code, std::string_view reason, std::string_view message,
                       std::string_view details_name, std::string_view details_kind) {
  json j = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (!details_name.empty() || !details_kind.empty()) {
    json d = json::object();
    if (!details_name.empty()) d["name"] = details_name;
    if (!details_kind.empty()) d["kind"] = details_kind;
    j["details"] = std::move(d);
  }
  j["code"] = code;
  return dumpJson(j);
}

HttpResponse statusResponse(int code, std::string_view reason, std::string_view message,
                            std::string_view details_name, std::string_view details_kind) {
  return HttpResponse{code, "application/json",
                      statusBody(code, reason, message, details_name, details_kind)};
}

core::Result<std::string> jsonToYaml(std::string_view text) {
  json j = core::parseJsonBounded(text);  // the YAML emitter recurses once per level
  if (j.is_discarded()) {
    return core::internalError("object is not valid JSON or nests deeper than " +
                               std::to_string(core::kMaxJsonDepth) + " levels");
  }
  return kubeprint::toYaml(j);
}

std::string encodeContinue(uint64_t rv, std::string_view ns, std::string_view name) {
  json j = {{"rv", rv}, {"start", std::string(ns) + "/" + std::string(name)}};
  return core::base64UrlEncode(dumpJson(j));
}

core::Status decodeContinue(std::string_view token, uint64_t* rv, std::string* ns,
                            std::string* name) {
  std::string raw;
  core::Status bad = core::invalidArgument("continue key is not valid");
  if (token.size() > 4096) return bad;
  if (auto decoded = core::base64UrlDecode(token)) {
    raw = std::move(*decoded);
  } else {
    return bad;
  }
  json j = core::parseJsonBounded(raw);
  if (!j.is_object() || !j.contains("rv") || !j["rv"].is_number_unsigned() ||
      !j.contains("start") || !j["start"].is_string()) {
    return bad;
  }
  std::string start = j["start"].get<std::string>();
  size_t slash = start.find('/');
  if (slash == std::string::npos) return bad;
  *rv = j["rv"].get<uint64_t>();
  *ns = start.substr(0, slash);
  *name = start.substr(slash + 1);
  return {};
}

ApiHandler::ApiHandler(const MetaServerOptions& options, metamanager::MetaStore& store,
                       CloudForwarder& forwarder, core::Clock& clock)
    : options_(options), store_(store), forwarder_(forwarder), clock_(clock) {}

// Long on purpose: one decision table from request to route (non-resource paths, parse,
// negotiate, then one branch per verb: local, forwarded to the cloud, or refused), kept in one
// place so the order of the checks is visible.
Routed ApiHandler::route(const HttpRequest& req, bool ready) {
  Routed out = decide(req, ready);
  if (out.kind == Routed::Kind::Respond) {
    out.response = encodeResponse(std::move(out.response), out.format);
  }
  return out;
}

Routed ApiHandler::decide(const HttpRequest& req, bool ready) {
  Routed out;
  auto parsed = parseRequestInfo(req.method, req.target);
  if (!parsed.ok()) {
    out.response = statusResponse(400, "BadRequest", parsed.status().message());
    return out;
  }
  RequestInfo& info = *parsed;
  if (!info.is_resource) {
    out.response = isDiscoveryPath(info) ? discovery(info) : nonResource(info, ready);
    if (req.method != "GET" && req.method != "HEAD" && out.response.code == 200) {
      out.response = statusResponse(405, "MethodNotAllowed",
                                    "the server does not allow this method on the requested "
                                    "resource");
    }
    return out;
  }
  auto format = negotiate(req.accept, protobuf::groupHasProtobuf(info.gvr.group));
  if (!format) {
    out.response = statusResponse(
        406, "NotAcceptable",
        "the server was unable to respond with a content type that the client supports");
    // A Status has protobuf: a protobuf-only client of a CRD gets it that way (as from
    // kube-apiserver).
    if (auto status_format = negotiate(req.accept, true)) out.format = *status_format;
    return out;
  }
  out.format = *format;  // errors from here on are Status objects in this format
  const std::string& verb = info.verb;
  if (!info.subresource.empty() && (verb == "get" || verb == "list" || verb == "watch")) {
    // pods/log, pods/exec... are not served here (spec 4.7 endpoints are separate work).
    out.response = statusResponse(
        404, "NotFound", "the server could not find the requested resource", "", info.gvr.resource);
    return out;
  }
  if (verb == "get" || verb == "list") {
    if (forwarder_.isConnected() && format->format != OutputFormat::Table) {
      out.kind = Routed::Kind::Forward;
      out.info = info;
      out.format = *format;
      out.application.key = storageKey(info.gvr, info.ns, info.name);
      out.application.verb = verb;
      if (verb == "list") {
        json opts = json::object();
        if (!info.query.label_selector.empty()) opts["labelSelector"] = info.query.label_selector;
        if (!info.query.field_selector.empty()) opts["fieldSelector"] = info.query.field_selector;
        if (info.query.limit > 0) opts["limit"] = info.query.limit;
        if (!info.query.continue_token.empty()) opts["continue"] = info.query.continue_token;
        out.application.option_json = dumpJson(opts);
      } else {
        out.application.option_json = "{}";
      }
      return out;
    }
    out.response = verb == "get" ? get(info, *format) : list(info, *format);
    return out;
  }
  if (verb == "watch") {
    auto selectors = parseSelectors(info.query.label_selector, info.query.field_selector);
    if (!selectors.ok()) {
      out.response = statusResponse(400, "BadRequest", selectors.status().message());
      return out;
    }
    out.kind = Routed::Kind::Watch;
    WatchPlan& plan = out.watch;
    plan.selectors = std::move(*selectors);
    plan.format = *format;
    if (info.query.include_object == "None") plan.include = IncludeObject::None;
    if (info.query.include_object == "Object") plan.include = IncludeObject::Object;
    if (info.query.timeout_seconds) {
      plan.timeout = std::chrono::seconds(*info.query.timeout_seconds);
    }
    plan.info = std::move(info);
    return out;
  }
  if (verb == "create" || verb == "update" || verb == "patch" || verb == "delete") {
    if (!forwarder_.isConnected()) {
      out.response = statusResponse(500, "InternalError", kConnectionLost);
      return out;
    }
    out.kind = Routed::Kind::Forward;
    out.info = info;
    out.format = *format;
    out.application.key = storageKey(info.gvr, info.ns, info.name);
    out.application.verb =
        (verb == "update" && info.subresource == "status") ? "updatestatus" : verb;
    out.application.subresource = info.subresource;
    out.application.req_body = req.body;
    if (req.content_type.starts_with(protobuf::kMediaType)) {
      // Forwarded as JSON: the cloud side speaks JSON. Patches have no protobuf form.
      auto decoded = verb == "patch" ? core::Result<json>(core::invalidArgument(""))
                                     : protobuf::decodeObject(req.body);
      if (!decoded.ok()) {
        out.kind = Routed::Kind::Respond;
        out.response = statusResponse(
            415, "UnsupportedMediaType",
            // kube-apiserver's words for a patch in a media type it cannot patch with.
            verb == "patch" ? std::string("415: Unsupported Media Type")
                            : "the body of the request is not a valid Kubernetes protobuf "
                              "object: " +
                                  decoded.status().message());
        return out;
      }
      out.application.req_body = dumpJson(*decoded);
    }
    out.application.option_json = "{}";
    if (verb == "patch") out.application.patch_type = req.content_type;
    return out;
  }
  out.response = statusResponse(405, "MethodNotAllowed",
                                "the server does not allow this method on the requested resource");
  return out;
}

HttpResponse ApiHandler::finishForward(const Routed& routed, const ApplicationResult& result) {
  return encodeResponse(finishForwardJson(routed, result), routed.format);
}

HttpResponse ApiHandler::finishForwardJson(const Routed& routed, const ApplicationResult& result) {
  const RequestInfo& info = routed.info;
  bool read = info.verb == "get" || info.verb == "list";
  if (result.status.ok()) {
    if (info.verb == "get") {
      // Cache the fresh object (spec 4.3); the answer does not wait for the write.
      metamanager::WriteOp op;
      op.kind = metamanager::WriteOp::Kind::UpsertObject;
      op.value = result.body;
      op.object_key = metamanager::ObjectKey{info.gvr, info.ns, info.name};
      (void)store_.submit({std::move(op)}, nullptr);
    }
    return render(result.body, routed.format);
  }
  if (result.status.code() == core::StatusCode::FailedPrecondition) {
    return HttpResponse{result.http_code, "application/json", result.body};
  }
  if (read) {
    return info.verb == "get" ? get(info, routed.format) : list(info, routed.format);
  }
  return statusResponse(500, "InternalError", result.status.message());
}

HttpResponse ApiHandler::render(std::string body, const Negotiated& format) {
  if (format.format == OutputFormat::Yaml) {
    auto yaml = jsonToYaml(body);
    if (!yaml.ok()) return statusResponse(500, "InternalError", yaml.status().message());
    return HttpResponse{200, "application/yaml", std::move(*yaml)};
  }
  return HttpResponse{200, "application/json", std::move(body)};
}

HttpResponse ApiHandler::get(const RequestInfo& info, const Negotiated& format) {
  auto obj = store_.getObject(metamanager::ObjectKey{info.gvr, info.ns, info.name});
  if (!obj) {
    return statusResponse(404, "NotFound", info.gvr.resource + " \"" + info.name + "\" not found",
                          info.name, info.gvr.resource);
  }
  if (format.format == OutputFormat::Table) {
    IncludeObject include = IncludeObject::Metadata;
    if (info.query.include_object == "None") include = IncludeObject::None;
    if (info.query.include_object == "Object") include = IncludeObject::Object;
    TablePrinter printer(info.gvr.resource, clock_.wallNow(), include);
    json t = printer.table({obj}, obj->resource_version, "", 0);
    t["apiVersion"] = format.table_api_version;
    t["metadata"].erase("resourceVersion");
    return HttpResponse{200, "application/json", dumpJson(t)};
  }
  return render(obj->json, format);
}

HttpResponse ApiHandler::list(const RequestInfo& info, const Negotiated& format) {
  auto selectors = parseSelectors(info.query.label_selector, info.query.field_selector);
  if (!selectors.ok()) return statusResponse(400, "BadRequest", selectors.status().message());
  std::string after_ns;
  std::string after_name;
  bool paged_in = false;
  if (!info.query.continue_token.empty()) {
    uint64_t rv = 0;
    auto st = decodeContinue(info.query.continue_token, &rv, &after_ns, &after_name);
    if (!st.ok()) return statusResponse(400, "BadRequest", st.message());
    paged_in = true;
  }
  uint64_t revision = 0;
  auto all = store_.listObjects(info.gvr, info.ns, &revision);
  // Cheap filter pass on pre-extracted fields; items stay in namespace/name order.
  std::vector<StoredObjectPtr> items;
  items.reserve(all.size());
  int64_t limit = info.query.limit;
  int64_t remaining = 0;
  std::string continue_token;
  for (const auto& o : all) {
    if (paged_in && std::tie(o->key.ns, o->key.name) <= std::tie(after_ns, after_name)) continue;
    if (!selectors->matches(*o)) continue;
    if (limit > 0 && static_cast<int64_t>(items.size()) == limit) {
      ++remaining;
      continue;
    }
    items.push_back(o);
  }
  if (remaining > 0 && !items.empty()) {
    continue_token = encodeContinue(revision, items.back()->key.ns, items.back()->key.name);
  }

  if (format.format == OutputFormat::Table) {
    IncludeObject include = IncludeObject::Metadata;
    if (info.query.include_object == "None") include = IncludeObject::None;
    if (info.query.include_object == "Object") include = IncludeObject::Object;
    TablePrinter printer(info.gvr.resource, clock_.wallNow(), include);
    json t = printer.table(items, revision, continue_token, remaining);
    t["apiVersion"] = format.table_api_version;
    return HttpResponse{200, "application/json", dumpJson(t)};
  }

  // Envelope built by concatenating stored bytes: no re-serialization of items.
  std::string kind = kindOf(info.gvr, all) + "List";
  size_t total = 160 + continue_token.size();
  for (const auto& o : items) total += o->json.size() + 1;
  std::string body;
  body.reserve(total);
  // Group, version and resource come from the request path: escaped (quotes, invalid UTF-8).
  body += "{\"apiVersion\":";
  body += core::encodeJsonValue(json(groupVersion(info.gvr)));
  body += ",\"kind\":";
  body += core::encodeJsonValue(json(kind));
  body += ",\"metadata\":{\"resourceVersion\":\"";
  body += std::to_string(revision);
  body += '"';
  if (!continue_token.empty()) {
    body += ",\"continue\":\"";
    body += continue_token;
    body += "\",\"remainingItemCount\":";
    body += std::to_string(remaining);
  }
  body += "},\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) body += ',';
    body += items[i]->json;
  }
  body += "]}";
  return render(std::move(body), format);
}

HttpResponse ApiHandler::nonResource(const RequestInfo& info, bool ready) {
  const std::string& p = info.path;
  if (p == "/healthz" || p == "/livez") return HttpResponse{200, "text/plain", "ok"};
  if (p == "/readyz") {
    if (ready) return HttpResponse{200, "text/plain", "ok"};
    return HttpResponse{503, "text/plain", "readyz check failed: store not open"};
  }
  if (p == "/version") {
    if (auto cached = store_.getRawV2("/version")) {
      return HttpResponse{200, "application/json", *cached};
    }
    return HttpResponse{200, "application/json", versionInfo(options_.kube_git_version)};
  }
  return statusResponse(404, "NotFound", "the server could not find the requested resource");
}

HttpResponse ApiHandler::discovery(const RequestInfo& info) {
  // Everything we can serve: the known kinds plus whatever the store holds.
  struct Entry {
    Gvr gvr;
    std::string kind;
    bool namespaced;
    std::string short_name;
  };
  std::vector<Entry> entries;
  for (const auto& k : kKnown) {
    entries.push_back({Gvr{std::string(k.group), std::string(k.version), std::string(k.resource)},
                       std::string(k.kind), k.namespaced, std::string(k.short_name)});
  }
  for (const auto& gvr : store_.listGvrs()) {
    if (findKnown(gvr)) continue;
    auto sample = store_.listObjects(gvr, "");
    bool namespaced = !sample.empty() && !sample.front()->key.ns.empty();
    entries.push_back({gvr, kindOf(gvr, sample), namespaced, ""});
  }

  const std::string& prefix = info.api_prefix;
  const Gvr& want = info.gvr;
  if (prefix == "api" && want.version.empty()) {
    json j = {{"kind", "APIVersions"},
              {"versions", json::array({"v1"})},
              {"serverAddressByClientCIDRs",
               json::array(
                   {{{"clientCIDR", "0.0.0.0/0"},
                     {"serverAddress", options_.address + ":" + std::to_string(options_.port)}}})}};
    return HttpResponse{200, "application/json", dumpJson(j)};
  }
  if (prefix == "api" || !want.version.empty()) {
    std::string gv = groupVersion(want);
    json resources = json::array();
    for (const auto& e : entries) {
      if (e.gvr.group == want.group && e.gvr.version == want.version) {
        resources.push_back(resourceEntry(e.gvr.resource, e.kind, e.namespaced, e.short_name));
      }
    }
    if (resources.empty()) {
      return statusResponse(404, "NotFound", "the server could not find the requested resource");
    }
    json j = {{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", gv},
              {"resources", std::move(resources)}};
    return HttpResponse{200, "application/json", dumpJson(j)};
  }
  // /apis or /apis/<group>
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& e : entries) {
    if (e.gvr.group.empty()) continue;
    auto& versions = groups[e.gvr.group];
    if (std::find(versions.begin(), versions.end(), e.gvr.version) == versions.end()) {
      versions.push_back(e.gvr.version);
    }
  }
  auto groupJson = [](const std::string& name, const std::vector<std::string>& versions) {
    json vs = json::array();
    for (const auto& v : versions) {
      vs.push_back({{"groupVersion", name + "/" + v}, {"version", v}});
    }
    return json{{"name", name}, {"versions", vs}, {"preferredVersion", vs.front()}};
  };
  if (!want.group.empty()) {
    auto it = groups.find(want.group);
    if (it == groups.end()) {
      return statusResponse(404, "NotFound", "the server could not find the requested resource");
    }
    json j = groupJson(it->first, it->second);
    j["kind"] = "APIGroup";
    j["apiVersion"] = "v1";
    return HttpResponse{200, "application/json", dumpJson(j)};
  }
  json list = json::array();
  for (const auto& [name, versions] : groups) list.push_back(groupJson(name, versions));
  json j = {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(list)}};
  return HttpResponse{200, "application/json", dumpJson(j)};
}

// ---------------------------------------------------------------------------------------------
// WatchSession

WatchSession::WatchSession(WatchPlan plan, metamanager::MetaStore& store, WatchHub& hub,
                           core::Clock& clock, size_t queue_limit)
    : plan_(std::move(plan)), store_(store), hub_(hub), clock_(clock), queue_limit_(queue_limit) {}

WatchSession::~WatchSession() { hub_.unsubscribe(sub_); }

bool WatchSession::inScope(const metamanager::StoredObject& obj) const {
  const RequestInfo& info = plan_.info;
  if (!info.ns.empty() && obj.key.ns != info.ns) return false;
  if (!info.name.empty() && obj.key.name != info.name) return false;
  return true;
}

std::string_view WatchSession::contentType() const {
  return plan_.format.format == OutputFormat::Protobuf ? protobuf::kWatchMediaType
                                                       : std::string_view("application/json");
}

std::string WatchSession::frame(std::string_view type, const json& object) const {
  if (plan_.format.format == OutputFormat::Protobuf) {
    auto envelope = protobuf::encodeObject(object);
    if (envelope.ok()) return protobuf::watchFrame(type, *envelope);
    // A kind without a protobuf type (or that does not fit it): the stream stays decodable
    // with a Status saying so.
    auto error = protobuf::encodeObject(json::parse(
        statusBody(500, "InternalError",
                   "unable to encode the object as protobuf: " + envelope.status().message())));
    return error.ok() ? protobuf::watchFrame("ERROR", *error) : std::string();
  }
  json ev = {{"type", type}, {"object", object}};
  return dumpJson(ev) + "\n";
}

std::string WatchSession::encode(std::string_view type, const metamanager::StoredObject& obj) {
  std::string line;
  if (plan_.format.format == OutputFormat::Protobuf) {
    json parsed = core::parseJsonBounded(obj.json);
    if (parsed.is_discarded()) return {};
    // Stored objects may lack their type (list items); the watch knows it.
    if (!parsed.contains("kind")) parsed["kind"] = kindOf(plan_.info.gvr, {});
    if (!parsed.contains("apiVersion")) parsed["apiVersion"] = groupVersion(plan_.info.gvr);
    return frame(type, parsed);
  }
  if (plan_.format.format == OutputFormat::Table) {
    TablePrinter printer(plan_.info.gvr.resource, clock_.wallNow(), plan_.include);
    json parsed = core::parseJsonBounded(obj.json);
    if (parsed.is_discarded()) return {};
    json t = {{"kind", "Table"},
              {"apiVersion", plan_.format.table_api_version},
              {"metadata", {{"resourceVersion", std::to_string(obj.resource_version)}}},
              {"columnDefinitions", printer.columns()},
              {"rows", json::array({printer.row(parsed)})}};
    json ev = {{"type", type}, {"object", std::move(t)}};
    line = dumpJson(ev);
  } else {
    line.reserve(obj.json.size() + 32);
    line += "{\"type\":\"";
    line += type;
    line += "\",\"object\":";
    line += obj.json;
    line += '}';
  }
  line += '\n';
  return line;
}

std::string WatchSession::start(std::function<void()> notify) {
  std::string out;
  const auto& rv = plan_.info.query.resource_version;
  if (rv && *rv != 0) {
    auto sub = hub_.subscribe(plan_.info.gvr, *rv, queue_limit_, std::move(notify));
    if (!sub.ok()) {
      done_ = true;
      std::string msg =
          "too old resource version: " + std::to_string(*rv) + " (" + sub.status().message() + ")";
      return frame("ERROR", json::parse(statusBody(410, "Expired", msg)));
    }
    sub_ = std::move(*sub);
    last_revision_ = *rv;
    return drain();
  }
  // No resourceVersion: the current state as ADDED events, then everything after that snapshot.
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint64_t revision = 0;
    auto objects = store_.listObjects(plan_.info.gvr, plan_.info.ns, &revision);
    auto sub = hub_.subscribe(plan_.info.gvr, revision, queue_limit_, notify);
    if (!sub.ok()) continue;  // the window moved past the snapshot already: take a new one
    sub_ = std::move(*sub);
    last_revision_ = revision;
    for (const auto& o : objects) {
      if (matches(*o)) out += encode("ADDED", *o);
    }
    out += drain();
    return out;
  }
  done_ = true;
  return frame("ERROR", json::parse(statusBody(500, "InternalError",
                                               "too many changes to start the watch")));
}

std::string WatchSession::drain() {
  std::string out;
  if (!sub_ || done_) return out;
  std::vector<WatchEventPtr> events;
  if (!sub_->pop(events)) {
    done_ = true;
    return out;
  }
  for (const auto& ev : events) {
    last_revision_ = std::max(last_revision_, ev->revision);
    const auto& obj = *ev->object;
    if (!inScope(obj)) continue;
    bool now = plan_.selectors.matches(obj);
    switch (ev->type) {
      case metamanager::ChangeType::Added:
        if (now) out += encode("ADDED", obj);
        break;
      case metamanager::ChangeType::Deleted:
        if (now) out += encode("DELETED", obj);
        break;
      case metamanager::ChangeType::Modified: {
        if (plan_.selectors.empty()) {
          out += encode("MODIFIED", obj);
          break;
        }
        // Unknown previous state: assume it matched iff it matches now.
        bool before = ev->prev ? plan_.selectors.matches(*ev->prev) : now;
        if (before && now) {
          out += encode("MODIFIED", obj);
        } else if (!before && now) {
          out += encode("ADDED", obj);
        } else if (before && !now) {
          out += encode("DELETED", obj);
        }
        break;
      }
    }
  }
  return out;
}

std::string WatchSession::bookmark() {
  // Read the hub revision before draining: every event up to it is already queued for us, so
  // after the drain the bookmark never claims a revision whose events were not sent.
  uint64_t hub_rev = hub_.revision();
  std::string out = drain();
  if (done_) return out;
  const Gvr& gvr = plan_.info.gvr;
  std::vector<StoredObjectPtr> none;
  uint64_t rev = std::max(last_revision_, hub_rev);
  json object = {
      {"kind", kindOf(gvr, none)},
      {"apiVersion", groupVersion(gvr)},
      {"metadata", {{"resourceVersion", std::to_string(rev)}, {"creationTimestamp", nullptr}}}};
  out += frame("BOOKMARK", object);
  return out;
}

}  // namespace edgecore::metaserver
