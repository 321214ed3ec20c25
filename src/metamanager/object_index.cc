#include "object_index.h"

#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "edgecore/core/message.h"
#include "index_fields.h"

namespace edgecore::metamanager {
namespace {

using nlohmann::json;

std::string stringAt(const json& obj, std::string_view field) {
  if (!obj.is_object()) {
    return {};
  }
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t parseResourceVersion(std::string_view rv) {
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), out);
  return ec == std::errc() && end == rv.data() + rv.size() ? out : 0;
}

// Fills the selector fields of `out` from the parsed object. False if metadata.name is missing.
bool extractFields(const json& doc, StoredObject* out) {
  if (!doc.is_object()) {
    return false;
  }
  auto meta_it = doc.find("metadata");
  if (meta_it == doc.end() || !meta_it->is_object()) {
    return false;
  }
  const json& meta = *meta_it;
  if (stringAt(meta, "name").empty()) {
    return false;
  }
  out->uid = stringAt(meta, "uid");
  out->creation_timestamp = stringAt(meta, "creationTimestamp");
  if (auto labels = meta.find("labels"); labels != meta.end() && labels->is_object()) {
    for (const auto& [k, v] : labels->items()) {  // nlohmann keeps keys sorted
      if (v.is_string()) {
        out->labels.emplace_back(k, v.get<std::string>());
      }
    }
  }
  if (auto spec = doc.find("spec"); spec != doc.end()) {
    out->node_name = stringAt(*spec, "nodeName");
  }
  if (auto status = doc.find("status"); status != doc.end()) {
    out->phase = stringAt(*status, "phase");
  }
  return true;
}

}  // namespace

Result<StoredObject> parseObject(std::string_view text, const Gvr& gvr) {
  json doc = core::parseJsonBounded(text);
  if (doc.is_discarded()) {
    return core::invalidArgument("object is not valid JSON or nests deeper than " +
                                 std::to_string(core::kMaxJsonDepth) + " levels");
  }
  return parseObjectDoc(doc, gvr);
}

Result<StoredObject> parseObjectDoc(const json& doc, const Gvr& gvr, std::string encoded) {
  if (!doc.is_object()) {
    return core::invalidArgument("object is not a JSON object");
  }
  StoredObject out;
  if (!extractFields(doc, &out)) {
    return core::invalidArgument("object has no metadata.name");
  }
  std::string api_version = stringAt(doc, "apiVersion");
  std::string kind = stringAt(doc, "kind");
  if (api_version.empty() || kind.empty()) {
    return core::invalidArgument("object " + stringAt(doc.at("metadata"), "name") +
                                 " has no apiVersion or kind");
  }
  const json& meta = doc.at("metadata");
  out.key.ns = stringAt(meta, "namespace");
  out.key.name = stringAt(meta, "name");
  out.resource_version = parseResourceVersion(stringAt(meta, "resourceVersion"));
  out.key.gvr = gvr;
  if (gvr.resource.empty()) {
    // Like pkg/metaserver/key.go KeyFuncObj: group/version from apiVersion, resource from kind.
    size_t slash = api_version.find('/');
    out.key.gvr.group = slash == std::string::npos ? std::string() : api_version.substr(0, slash);
    out.key.gvr.version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    out.key.gvr.resource = kindToResource(kind);
  }
  // Go's encoding/json output, as the original's imitator stores it.
  out.json = encoded.empty() ? core::encodeJsonValue(doc) : std::move(encoded);
  return out;
}

Result<StoredObject> loadObject(const ObjectKey& key, uint64_t resource_version,
                                std::string_view value) {
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\r' ||
                            value.back() == '\t')) {
    value.remove_suffix(1);
  }
  StoredObject out;
  out.key = key;
  out.resource_version = resource_version;
  out.json = std::string(value);
  if (scanIndexFields(value, &out) == ScanResult::Scanned) {
    return out;  // the usual case: no DOM built, a few microseconds per object
  }
  json doc = core::parseJsonBounded(value);
  if (doc.is_discarded() || !extractFields(doc, &out)) {
    return core::invalidArgument("stored object " + key.storageKey() +
                                 " is not a Kubernetes object");
  }
  return out;
}

StoredObjectPtr ObjectIndex::findLocked(const ObjectKey& key) const {
  auto g = objects_.find(key.gvr);
  if (g == objects_.end()) {
    return nullptr;
  }
  auto n = g->second.find(key.ns);
  if (n == g->second.end()) {
    return nullptr;
  }
  auto o = n->second.find(key.name);
  return o == n->second.end() ? nullptr : o->second;
}

StoredObjectPtr ObjectIndex::get(const ObjectKey& key) const {
  std::shared_lock lock(mu_);
  return findLocked(key);
}

std::vector<StoredObjectPtr> ObjectIndex::list(const Gvr& gvr, std::string_view ns,
                                               uint64_t* revision) const {
  std::vector<StoredObjectPtr> out;
  std::shared_lock lock(mu_);
  if (revision != nullptr) {
    *revision = revision_;
  }
  auto g = objects_.find(gvr);
  if (g == objects_.end()) {
    return out;
  }
  auto add = [&out](const NameMap& names) {
    for (const auto& [name, obj] : names) {
      out.push_back(obj);
    }
  };
  if (ns.empty()) {
    for (const auto& [name, names] : g->second) {
      add(names);
    }
  } else if (auto n = g->second.find(ns); n != g->second.end()) {
    add(n->second);
  }
  return out;
}

std::vector<Gvr> ObjectIndex::gvrs() const {
  std::shared_lock lock(mu_);
  std::vector<Gvr> out;
  out.reserve(objects_.size());
  for (const auto& [gvr, namespaces] : objects_) {
    out.push_back(gvr);
  }
  return out;
}

std::optional<std::string> ObjectIndex::getRaw(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = raw_.find(key);
  if (it == raw_.end()) {
    return std::nullopt;
  }
  return it->second;
}

uint64_t ObjectIndex::revision() const {
  std::shared_lock lock(mu_);
  return revision_;
}

size_t ObjectIndex::size() const {
  std::shared_lock lock(mu_);
  return size_;
}

void ObjectIndex::loadObject(StoredObjectPtr object) {
  std::unique_lock lock(mu_);
  auto& slot = objects_[object->key.gvr][object->key.ns][object->key.name];
  size_ += slot == nullptr ? 1 : 0;
  slot = std::move(object);
}

void ObjectIndex::loadRaw(std::string key, std::string value) {
  std::unique_lock lock(mu_);
  raw_[std::move(key)] = std::move(value);
}

void ObjectIndex::setRevision(uint64_t revision) {
  std::unique_lock lock(mu_);
  revision_ = revision;
}

void ObjectIndex::apply(const std::vector<Mutation>& objects,
                        const std::vector<std::pair<std::string, std::optional<std::string>>>& raws,
                        std::vector<ObjectChange>* changes) {
  std::unique_lock lock(mu_);
  for (const Mutation& m : objects) {
    StoredObjectPtr previous = findLocked(m.key);
    if (m.object == nullptr) {
      if (previous == nullptr) {
        continue;  // deleting what is not there changes nothing
      }
      auto g = objects_.find(m.key.gvr);
      auto n = g->second.find(m.key.ns);
      n->second.erase(m.key.name);
      if (n->second.empty()) {
        g->second.erase(n);
      }
      if (g->second.empty()) {
        objects_.erase(g);
      }
      --size_;
      revision_ += 1;
      changes->push_back({ChangeType::Deleted, revision_, std::move(previous)});
      continue;
    }
    objects_[m.key.gvr][m.key.ns][m.key.name] = m.object;
    size_ += previous == nullptr ? 1 : 0;
    revision_ = std::max(revision_ + 1, m.object->resource_version);
    changes->push_back(
        {previous == nullptr ? ChangeType::Added : ChangeType::Modified, revision_, m.object});
  }
  for (const auto& [key, value] : raws) {
    if (value.has_value()) {
      raw_[key] = *value;
    } else {
      raw_.erase(key);
    }
  }
}

}  // namespace edgecore::metamanager
